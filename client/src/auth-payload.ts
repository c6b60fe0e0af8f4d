import type { SessionUser, StoredSession } from './types.js';

/** The fields of the gateway's AuthPayload the client reads. */
export interface AuthPayload {
  readonly accessToken: string;
  /** ISO 8601, on the gateway's clock. */
  readonly accessTokenExpiresAt: string;
  readonly refreshToken: string | null;
  readonly user: SessionUser;
}

/** The selection every sign-in and refresh asks for. */
export const AUTH_PAYLOAD_FIELDS = 'accessToken accessTokenExpiresAt refreshToken user { id username }';

/**
 * The session an AuthPayload starts, timed on the client's clock: the token's lifetime (its
 * `exp` less its `iat`) counted from when it arrived, so that a client whose clock differs from
 * the gateway's still refreshes in time. Without readable claims, the gateway's expiry as given.
 */
export function sessionFromPayload(payload: AuthPayload, now: number): StoredSession {
  const lifetime = lifetimeOf(payload.accessToken);
  const user = { id: payload.user.id, username: payload.user.username };
  if (lifetime === undefined) {
    return { accessToken: payload.accessToken, accessTokenExpiresAt: Date.parse(payload.accessTokenExpiresAt), refreshToken: payload.refreshToken, user };
  }
  return { accessToken: payload.accessToken, accessTokenIssuedAt: now, accessTokenExpiresAt: now + lifetime, refreshToken: payload.refreshToken, user };
}

/** A JWT's `exp` less its `iat`, in milliseconds; undefined when it has not both. */
function lifetimeOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown; iat?: unknown };
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number' || claims.exp <= claims.iat) return undefined;
    return (claims.exp - claims.iat) * 1000;
  } catch {
    return undefined;
  }
}
