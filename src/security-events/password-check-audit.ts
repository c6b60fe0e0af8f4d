import type { PasswordCheckFailure, SecurityEventClient, SecurityEventRecorder } from './security-event.js';

/** Who a password check is for, as its failure is recorded: a sign-in, or a reauthentication. */
export interface PasswordCheckAudit {
  /** login: auth.login.failed; the current password of changePassword or deleteAccount: auth.reauthentication.failed. */
  readonly event: 'auth.login.failed' | 'auth.reauthentication.failed';
  readonly client?: SecurityEventClient;
  /** The signed-in account asking (reauthentication). */
  readonly userId?: string;
  /** The session asking (reauthentication). */
  readonly sessionId?: string;
}

/** One failed password check. */
export interface FailedPasswordCheck {
  /** As typed; the recorder keeps it only when it has a username's form. */
  readonly username: string;
  readonly reason: PasswordCheckFailure;
  /** The account, when the username matched one. */
  readonly userId?: string;
  /** This failure used up the account's last attempt: it is locked from now on. */
  readonly lockedNow?: boolean;
}

/** Records a failed password check, and the lockout it caused, if any. */
export function recordFailedPasswordCheck(recorder: SecurityEventRecorder | undefined, audit: PasswordCheckAudit, failure: FailedPasswordCheck): void {
  if (!recorder) return;
  const { event, client, sessionId } = audit;
  const userId = failure.userId ?? audit.userId;
  recorder.record({ event, userId, username: failure.username, sessionId, reason: failure.reason, client });
  if (failure.lockedNow) recorder.record({ event: 'auth.lockout', userId, username: failure.username, sessionId, reason: failure.reason, client });
}
