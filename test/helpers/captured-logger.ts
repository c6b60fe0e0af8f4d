import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger.js';

/** The gateway's logger (redaction included), writing its lines into `lines` for a test to read. */
export function capturedLogger(level: string, lines: string[] = []): { logger: Logger; lines: string[] } {
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { logger: createLogger(level, destination), lines };
}
