import type { IncomingMessage } from 'node:http';
import { UnauthenticatedError } from '../errors.js';
import type { CredentialSources } from './credential-sources.js';

/**
 * Where a WebSocket connection's credential comes from, the first present deciding:
 * connectionParams (`authorization: "Bearer …"`, else `token`), the URL's `?token=`, the
 * accessToken cookie of the upgrade request. A malformed one is refused, never skipped.
 *
 * The cookie counts only when the upgrade comes from an allowed Origin: a browser attaches it
 * to an upgrade that any site starts, and WebSockets have no CORS to stop that site reading
 * the answers (cross-site WebSocket hijacking). A token in connectionParams or the URL is
 * something the page had to hold, so it is accepted from any origin.
 */
export function webSocketCredentialSources(
  request: IncomingMessage,
  connectionParams: Readonly<Record<string, unknown>>,
  allowedOrigins: readonly string[],
): CredentialSources {
  const authorization = connectionParams.authorization ?? connectionParams.Authorization;
  if (authorization !== undefined && authorization !== null) {
    if (typeof authorization !== 'string') throw new UnauthenticatedError('TOKEN_INVALID');
    return { authorization };
  }
  const { token } = connectionParams;
  if (token !== undefined && token !== null) {
    if (typeof token !== 'string') throw new UnauthenticatedError('TOKEN_INVALID');
    return { queryToken: token };
  }
  const queryToken = URL.parse(request.url ?? '/', 'http://gateway')?.searchParams.get('token');
  if (queryToken !== null && queryToken !== undefined) return { queryToken };
  const origin = request.headers.origin;
  if (origin !== undefined && allowedOrigins.includes(origin)) return { cookieHeader: request.headers.cookie ?? null };
  return {};
}
