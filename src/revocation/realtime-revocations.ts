import type { Clock } from '../clock.js';
import type { LiveConnections } from '../realtime/live-connections.js';
import type { SessionEvents } from '../realtime/session-events.js';
import type { Revocations } from './revocations.js';
import type { RevokedUsers } from './revoked-users.js';

export interface RealtimeRevocationsOptions {
  readonly revocations: Revocations;
  readonly live: LiveConnections;
  readonly sessionEvents: SessionEvents;
  readonly clock: Clock;
  /** Decides which channels a per-user marker (logoutAll, changePassword) ends. */
  readonly revokedUsers?: RevokedUsers;
}

/**
 * Makes every revocation visible in realtime: a REVOKED event for each revoked session, then
 * the end of the channels that relied on what was revoked (LiveConnections lets a revoked
 * session's channel send its own REVOKED event first). Returns the function that stops it.
 *
 * Events are published by the instance that made the revocation only: sessionEvents already
 * reaches every instance, and each instance hears the revocation itself to end its own
 * channels.
 */
export function endChannelsOnRevocation({ revocations, live, sessionEvents, clock, revokedUsers }: RealtimeRevocationsOptions): () => void {
  return revocations.onRevoked((revocation, origin) => {
    if (origin === 'local') {
      const at = clock.now();
      for (const sessionId of revocation.sessionIds ?? []) sessionEvents.publish(revocation.userId, { kind: 'REVOKED', sessionId, at });
    }
    // A channel opened with an access token issued before the marker belongs to a session the
    // marker revoked; the revoking instance also lists the live ones it wrote (sessionIds).
    live.revoke(revocation, revokedUsers && ((caller) => revokedUsers.isRevoked(caller.userId, caller.sessionId, caller.issuedAt ?? 0)));
  });
}
