import { GraphQLError } from 'graphql';
import type { YogaLogger } from 'graphql-yoga';
import { pino, type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino censors wherever they appear in a log object: credentials in headers, bodies and
 * variables. The `token` query parameter is removed from URLs before they are logged at all.
 */
export const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'password',
  'token',
  'refreshToken',
  'accessToken',
  '*.authorization',
  '*.Authorization',
  '*.cookie',
  '*.Cookie',
  '*["set-cookie"]',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.refreshToken',
  '*.accessToken',
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'variables.input.password',
];

/** The gateway's structured logger; tests pass their own destination to read what it wrote. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: undefined }, destination);
}

/**
 * Yoga's logger, writing to the gateway's. Yoga logs at error level every error that masking
 * changed (src/plugins/mask-error.ts): an unexpected one, which the mask has logged already
 * with its context, or a client's malformed request (a body that is not JSON), from which the
 * mask drops the echoed body. A client's mistake is not the server's error, and any client could
 * fill the error log with it: it goes to debug, and the request log has its 400 anyway.
 */
export function yogaLogging(logger: Logger): YogaLogger {
  const line = (args: unknown[]) => args.map(String).join(' ');
  return {
    debug: (...args) => logger.debug(line(args)),
    info: (...args) => logger.info(line(args)),
    warn: (...args) => logger.warn(line(args)),
    error: (...args) => (args.every(isClientError) ? logger.debug(line(args)) : logger.error(line(args))),
  };
}

function isClientError(value: unknown): boolean {
  return value instanceof GraphQLError && isClientErrorExtensions(value.extensions);
}

/** Whether a GraphQL error's extensions carry an HTTP 4xx status: the client's mistake, not the server's. */
export function isClientErrorExtensions(extensions: Readonly<Record<string, unknown>> | undefined): boolean {
  const status = (extensions?.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Query parameters that carry credentials: `token` (an access token on an SSE URL), and the
 * authorization `code` and `state` a provider sends to the single sign-on callback.
 */
const SECRET_QUERY_PARAMETERS = ['token', 'code', 'state'];

/** A URL's path and query with the values of credential parameters removed, safe to log. */
export function redactUrl(url: URL): string {
  if (!SECRET_QUERY_PARAMETERS.some((name) => url.searchParams.has(name))) return url.pathname + url.search;
  const safe = new URL(url);
  for (const name of SECRET_QUERY_PARAMETERS) if (safe.searchParams.has(name)) safe.searchParams.set(name, '[redacted]');
  return safe.pathname + safe.search;
}
