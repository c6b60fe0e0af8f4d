import type { Clock } from '../clock.js';

/**
 * "Every session of this user that existed at revokedBefore is revoked, except one": what
 * logoutAll and changePassword leave, one record whatever the number of sessions.
 */
export interface UserRevocationMarker {
  readonly userId: string;
  /** Epoch milliseconds, read before the revoking transaction. */
  readonly revokedBefore: number;
  /** The session that did it and stays signed in, if any. */
  readonly exceptSessionId?: string;
}

/** What the database says of a session, for the tokens whose issue time cannot decide. */
export interface SessionState {
  readonly createdAt: number;
  readonly revokedAt: number | null;
  readonly expiresAt: number;
  readonly absoluteExpiresAt: number;
}

export interface RevokedUsersOptions {
  readonly clock: Clock;
  /** How long a marker matters: one access-token lifetime and the verifier's margin (RevokedSessions.windowMs). */
  readonly windowMs: number;
  /** One session's row; undefined when it no longer exists. */
  readonly loadSession: (sessionId: string) => Promise<SessionState | undefined>;
}

/**
 * How far around a marker's time an access token's issue time cannot tell whether its session
 * was one the marker revoked. JWT `iat` has whole seconds; instances' clocks differ by a little
 * (the verifier tolerates 5 s); and on PostgreSQL a refresh that held the session's row lock
 * while logoutAll waited for it issues its token just after the marker's time. Inside this
 * window the session's row decides, read once per session and remembered with the marker.
 */
export const MARKER_UNCERTAINTY_MS = 5_000;

interface HeldMarker extends UserRevocationMarker {
  /** When no access token issued before the marker can still be valid. */
  readonly until: number;
  /** Verdicts read from the database for sessions whose tokens fell inside the uncertainty. */
  readonly decided: Map<string, boolean>;
}

/**
 * The users whose sessions were revoked all at once within the last access-token lifetime, in
 * memory, as one marker per user (the latest). An access token is refused when its session is
 * not the spared one and it was issued before the marker: tokens issued before T belong to
 * sessions that existed at T. Sessions that expired before T are covered too (their rows are
 * not written), since their last access tokens may outlive them.
 */
export class RevokedUsers {
  readonly #options: RevokedUsersOptions;
  readonly #markers = new Map<string, HeldMarker>();

  constructor(options: RevokedUsersOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** How many markers are held. */
  get size(): number {
    return this.#markers.size;
  }

  /** Holds a marker unless a later one of the same user is held; true when it is new here. */
  add(marker: UserRevocationMarker): boolean {
    this.#prune();
    const until = marker.revokedBefore + this.#options.windowMs;
    if (until <= this.#options.clock.now()) return false;
    const held = this.#markers.get(marker.userId);
    if (held && held.revokedBefore >= marker.revokedBefore) return false;
    this.#markers.delete(marker.userId);
    this.#markers.set(marker.userId, { ...marker, until, decided: new Map() });
    return true;
  }

  /** True when an access token of the session, issued at `issuedAt` (epoch ms, from `iat`), is refused. */
  async isRevoked(userId: string, sessionId: string, issuedAt: number): Promise<boolean> {
    const marker = this.#markers.get(userId);
    if (!marker) return false;
    if (marker.until <= this.#options.clock.now()) {
      this.#markers.delete(userId);
      return false;
    }
    if (sessionId === marker.exceptSessionId) return false;
    // iat is the issue time rounded down to the second: the token was issued before iat + 1 s.
    if (issuedAt + 1000 <= marker.revokedBefore - MARKER_UNCERTAINTY_MS) return true;
    if (issuedAt > marker.revokedBefore + MARKER_UNCERTAINTY_MS) return false;
    const decided = marker.decided.get(sessionId);
    if (decided !== undefined) return decided;
    const session = await this.#options.loadSession(sessionId);
    // Exactly what the marker stands for: revoked in the database (the unexpired ones), or
    // already expired at the marker's time (left unwritten); a session created after it, or
    // committed after the revocation's update, is neither.
    const revoked =
      session === undefined ||
      session.revokedAt !== null ||
      (session.createdAt < marker.revokedBefore && Math.min(session.expiresAt, session.absoluteExpiresAt) <= marker.revokedBefore);
    marker.decided.set(sessionId, revoked);
    return revoked;
  }

  /** The marker held for a user, if any. */
  markerOf(userId: string): UserRevocationMarker | undefined {
    const marker = this.#markers.get(userId);
    return marker && marker.until > this.#options.clock.now() ? marker : undefined;
  }

  /** Drops expired markers from the front, where the oldest are. */
  #prune(): void {
    const now = this.#options.clock.now();
    for (const [userId, marker] of this.#markers) {
      if (marker.until > now) break;
      this.#markers.delete(userId);
    }
  }
}
