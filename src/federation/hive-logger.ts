import { type Attributes, Logger, type LogLevel } from '@graphql-hive/gateway-runtime';
import type { Logger as PinoLogger } from 'pino';
import { isClientErrorExtensions } from '../logger.js';

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * Hive's logger writing to the gateway's pino logger, never with a secret. Hive logs at error
 * level every error of a request with its extensions, and a body that is not JSON comes with
 * `extensions.originalError`: the JSON.parse message, which quotes the body, passwords and
 * refresh tokens included. That member is never written, and a client's mistake (an HTTP 4xx)
 * goes to debug: any client could otherwise fill the log that operators are paged from.
 */
export function hiveLogger(logger: PinoLogger): Logger {
  return new Logger({
    level: hiveLevel(logger.level),
    writers: [
      {
        write(level, attrs, msg) {
          const clientError = level === 'error' && isClientErrorExtensions(extensionsOf(attrs));
          logger[clientError ? 'debug' : level]({ ...withoutOriginalError(attrs), component: 'hive-gateway' }, msg ?? '');
        },
      },
    ],
  });
}

/**
 * The gateway's level, but never below info: Hive's debug lines are the operations themselves
 * (useSubgraphExecuteDebug, useFetchDebug): the variables of a login with its password, the
 * results with their tokens, the subgraph requests with the identity token in their headers.
 */
function hiveLevel(level: string): LogLevel | false {
  if (level === 'silent') return false;
  if (level === 'trace' || level === 'debug') return 'info';
  return LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'error';
}

function extensionsOf(attrs: Attributes | null | undefined): Record<string, unknown> | undefined {
  if (!attrs || Array.isArray(attrs) || typeof attrs.extensions !== 'object' || attrs.extensions === null) return undefined;
  return attrs.extensions as Record<string, unknown>;
}

function withoutOriginalError(attrs: Attributes | null | undefined): Attributes | null | undefined {
  const extensions = extensionsOf(attrs);
  if (!extensions || !('originalError' in extensions)) return attrs;
  const { originalError: _echo, ...rest } = extensions;
  return { ...(attrs as Record<string, unknown>), extensions: rest };
}
