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
  /** An email code was asked for (reason: its purpose); userId null when no account has the address, and then nothing was sent. */
  | 'auth.email_code.requested'
  /** A sign-in with an email code; sessionId is the new session. */
  | 'auth.email_code.succeeded'
  /** A refused sign-in code (reason: a CodeRefusal); the client is told INVALID_CODE. */
  | 'auth.email_code.failed'
  /** The account's address was set or changed (unverified unless it is the same address). */
  | 'account.email_changed'
  | 'account.email_verified'
  /** A refused verification code (reason: a CodeRefusal, or EMAIL_TAKEN). */
  | 'account.email_verification.failed'
  /** A password set with a reset code; each session gets a session.revoked (PASSWORD_CHANGED). */
  | 'account.password_reset'
  /** A refused reset code (reason: a CodeRefusal). */
  | 'account.password_reset.failed'
  /** A single sign-on to an existing account (reason: the provider); sessionId is the new session. */
  | 'auth.sso.succeeded'
  /** A refused single sign-on or link (reason: `<provider>:<SsoFailureReason>`); userId is the linking account's. */
  | 'auth.sso.failed'
  /** An account created by the first single sign-on of an identity (reason: the provider), and its first session. */
  | 'account.sso_registered'
  /** An identity linked to the account by its signed-in user (reason: the provider). */
  | 'account.sso_linked'
  | 'account.sso_unlinked'
  /** A rotated refresh token presented again outside the grace window; its session is revoked. */
  | 'session.refresh_reuse_detected'
  | 'session.revoked'
  | 'pat.created'
  | 'pat.revoked'
  | 'key.created'
  /** A key was made the one that signs: now, or from its activation (reason SCHEDULED, MANUAL, ALGORITHM_CHANGED, REVOKED). */
  | 'key.rotated'
  /** A key was revoked: refused by every instance within the revocation bound, no longer published. */
  | 'key.revoked';

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
  'auth.email_code.requested': 'success',
  'auth.email_code.succeeded': 'success',
  'auth.email_code.failed': 'failure',
  'account.email_changed': 'success',
  'account.email_verified': 'success',
  'account.email_verification.failed': 'failure',
  'account.password_reset': 'success',
  'account.password_reset.failed': 'failure',
  'auth.sso.succeeded': 'success',
  'auth.sso.failed': 'failure',
  'account.sso_registered': 'success',
  'account.sso_linked': 'success',
  'account.sso_unlinked': 'success',
  'session.refresh_reuse_detected': 'failure',
  'session.revoked': 'success',
  'pat.created': 'success',
  'pat.revoked': 'success',
  'key.created': 'success',
  'key.rotated': 'success',
  'key.revoked': 'success',
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
  /** Internal detail: a PasswordCheckFailure, a session's revocation reason (LOGOUT, REFRESH_TOKEN_REUSED, ...), a key rotation's. */
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
