import { UnauthenticatedError } from '../errors.js';
import { authCookiesOf } from './auth-cookie-values.js';

/** The places a credential may arrive through, in the order they are tried. */
export interface CredentialSources {
  readonly authorization?: string | null;
  readonly cookieHeader?: string | null;
  /** `?token=` on the URL, for EventSource and WebSocket clients that cannot set headers. */
  readonly queryToken?: string | null;
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The credential a request presents: the Authorization header, else the accessToken cookie,
 * else the `token` query parameter (of SSE requests and WebSocket upgrades only). The first
 * source present decides; a malformed one is an error, never a reason to try the next.
 */
export function presentedCredential({ authorization, cookieHeader, queryToken }: CredentialSources): string | undefined {
  if (authorization !== null && authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (!match) throw new UnauthenticatedError('TOKEN_INVALID');
    return match[1];
  }
  const cookie = authCookiesOf(cookieHeader).accessToken;
  if (cookie !== undefined) return cookie;
  if (queryToken !== null && queryToken !== undefined) return queryToken;
  return undefined;
}
