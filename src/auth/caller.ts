/** Who a request acts for, once its credential has been verified. */
export type Caller = SessionCaller;

/** Signed in through a session's access token: may do everything its account may. */
export interface SessionCaller {
  readonly kind: 'session';
  readonly userId: string;
  readonly sessionId: string;
  /** When the credential stops being valid, epoch milliseconds. */
  readonly expiresAt: number;
}

/** True when the caller's credential grants a scope. Sessions hold every scope. */
export function hasScope(caller: Caller | null, _scope: string): boolean {
  if (caller === null) return false;
  return caller.kind === 'session';
}
