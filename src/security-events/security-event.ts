/**
 * The security events of the gateway (ASVS V7): one flat record per authentication decision
 * and per change to a credential, written as a log line of its own and shaped so that it can be
 * stored as one row later. Never a password, a token, a hash or a cookie.
 */

/** What happened, the `event` field log pipelines filter on. Stable: rename only with a migration of the readers. */
export type SecurityEventName =
  | 'auth.login.succeeded'
  | 'auth.login.failed'
  /** The current password asked by changePassword or deleteAccount was wrong (or the account locked). */
  | 'auth.reauthentication.failed'
  /** The failed password check that locked the account; later attempts fail with reason LOCKED. */
  | 'auth.lockout'
  | 'account.registered'
  | 'account.password_changed'
  | 'account.deleted'
  /** A rotated refresh token presented again outside the grace window; its session is revoked. */
  | 'session.refresh_reuse_detected'
  | 'session.revoked'
  | 'pat.created'
  | 'pat.revoked'
  | 'key.created';

export type SecurityEventOutcome = 'success' | 'failure';

/** The outcome of each event: fixed per event, so that a reader never has to guess it. */
export const SECURITY_EVENT_OUTCOMES: Readonly<Record<SecurityEventName, SecurityEventOutcome>> = Object.freeze({
  'auth.login.succeeded': 'success',
  'auth.login.failed': 'failure',
  'auth.reauthentication.failed': 'failure',
  'auth.lockout': 'failure',
  'account.registered': 'success',
  'account.password_changed': 'success',
  'account.deleted': 'success',
  'session.refresh_reuse_detected': 'failure',
  'session.revoked': 'success',
  'pat.created': 'success',
  'pat.revoked': 'success',
  'key.created': 'success',
});

/**
 * Why a password check failed. Internal: the client is only ever told INVALID_CREDENTIALS (or
 * RATE_LIMITED while locked), whichever of these it was.
 */
export type PasswordCheckFailure =
  | 'UNKNOWN_USER'
  | 'BAD_PASSWORD'
  /** Not a possible password (empty, too long): refused without looking the account up. */
  | 'MALFORMED_PASSWORD'
  /** The account is locked by failed checks; nothing was verified. */
  | 'LOCKED'
  /** The account has no password (it signs in some other way); answered like UNKNOWN_USER. */
  | 'NO_PASSWORD'
  /** The password was right, but changed (or the account was deleted) before the session was made. */
  | 'CREDENTIALS_CHANGED';

/** Where a request came from: the shape of the GraphQL context's `client`. */
export interface SecurityEventClient {
  readonly ip: string | null;
  readonly userAgent: string | null;
}

/**
 * One security event as logged, and as it would be stored: every field is always present, null
 * when it does not apply, so that each line is one row of the same columns.
 */
export interface SecurityEvent {
  readonly event: SecurityEventName;
  readonly outcome: SecurityEventOutcome;
  /** When, in epoch milliseconds of the gateway's clock (the unit of every stored time). */
  readonly at: number;
  /** The account concerned; null for an unknown username, and for key events. */
  readonly userId: string | null;
  /** The attempted username of sign-in events, when it has a username's form (see attemptedUsername). */
  readonly username: string | null;
  /** The session concerned: signed in, revoked, or the one a change was made through. */
  readonly sessionId: string | null;
  /** The personal access token concerned, by id (never its secret or prefix). */
  readonly tokenId: string | null;
  /** The signing key concerned, by kid (never key material). */
  readonly keyId: string | null;
  /** The signing key's algorithm (key events). */
  readonly algorithm: string | null;
  /** The client's IP, as the rate limits see it (X-Forwarded-For only from TRUSTED_PROXIES). */
  readonly ip: string | null;
  /** The client's User-Agent, cut to 512 characters, control characters removed. */
  readonly userAgent: string | null;
  /** Internal detail: a PasswordCheckFailure, or a session's revocation reason (LOGOUT, REFRESH_TOKEN_REUSED, ...). */
  readonly reason: string | null;
}

/** What a call site says; the recorder adds the outcome, the time and the nulls. */
export interface SecurityEventInput {
  readonly event: SecurityEventName;
  readonly userId?: string | null;
  /** The username as the client typed it; the recorder keeps it only when it has a username's form. */
  readonly username?: string | null;
  readonly sessionId?: string | null;
  readonly tokenId?: string | null;
  readonly keyId?: string | null;
  readonly algorithm?: string | null;
  readonly reason?: string | null;
  /** The request's client; absent for what the gateway does by itself (key creation at start). */
  readonly client?: SecurityEventClient | null;
}

/** Where domain modules report security events; SecurityEventLog writes them to the log. */
export interface SecurityEventRecorder {
  /** Records one event. Never throws: a failing record must not fail the request it describes. */
  record(input: SecurityEventInput): void;
}
