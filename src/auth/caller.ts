/** Who a request acts for, once its credential has been verified. */
export type Caller = SessionCaller | PersonalAccessTokenCaller;

/** Signed in through a session's access token: may do everything its account may. */
export interface SessionCaller {
  readonly kind: 'session';
  readonly userId: string;
  readonly sessionId: string;
  /** When the credential stops being valid, epoch milliseconds. */
  readonly expiresAt: number;
  /** When the access token was issued (`iat`), epoch milliseconds; what per-user revocation markers compare with. */
  readonly issuedAt?: number;
}

/** Authenticated by a personal access token: holds its listed scopes, never manages credentials. */
export interface PersonalAccessTokenCaller {
  readonly kind: 'pat';
  readonly userId: string;
  /** The token's id (PersonalAccessToken.id), never its secret. */
  readonly tokenId: string;
  readonly scopes: readonly string[];
  /** When the token expires, epoch milliseconds; null for a token without expiry. */
  readonly expiresAt: number | null;
}

/** True when the caller's credential grants a scope. Sessions hold every scope; tokens their own. */
export function hasScope(caller: Caller | null, scope: string): boolean {
  if (caller === null) return false;
  return caller.kind === 'session' || caller.scopes.includes(scope);
}
