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
