import type { Caller, SessionCaller } from '../auth/caller.js';
import type { Clock } from '../clock.js';
import type { UnauthenticatedReason } from '../errors.js';

/** Why a live connection is being ended. */
export type EndReason = Extract<UnauthenticatedReason, 'TOKEN_EXPIRED' | 'SESSION_REVOKED' | 'USER_NOT_FOUND'>;

/** A long-lived, authenticated channel: a WebSocket connection or an SSE stream. */
export interface LiveConnection {
  readonly caller: Caller;
  /** Ends the channel; called at most once. */
  end(reason: EndReason): void;
}

/** What a revocation affects; any field may be empty. */
export interface RevokedCredentials {
  readonly userId: string;
  readonly sessionIds?: readonly string[];
  readonly tokenIds?: readonly string[];
  /** The whole account is gone: every channel of the user ends. */
  readonly userDeleted?: boolean;
  /** Every session of the user that existed at this time (epoch ms) is revoked, but exceptSessionId. */
  readonly revokedBefore?: number;
  readonly exceptSessionId?: string;
}

/** Whether a per-user marker revoked a channel's session (RevokedUsers.isRevoked for its caller). */
export type MarkerCheck = (caller: SessionCaller) => Promise<boolean>;

export interface LiveConnectionsOptions {
  readonly clock: Clock;
  readonly maxPerUser: number;
  /** How often expiry is checked, in real milliseconds. */
  readonly sweepIntervalMs?: number;
  /**
   * How long a channel of a revoked session may stay open waiting for its own REVOKED event to
   * go out first. The sessionEvents stream ends the channel as soon as that event is sent
   * (endRevoked); this is the bound for a channel that is not listening, or whose event is
   * late. Together with the sweep it keeps every end within a second.
   */
  readonly revocationDelayMs?: number;
}

export const DEFAULT_SWEEP_INTERVAL_MS = 200;
export const DEFAULT_REVOCATION_DELAY_MS = 250;

interface PendingEnd {
  readonly reason: EndReason;
  readonly timer: NodeJS.Timeout;
}

/**
 * Every open authenticated channel, by user, so that expiry and revocation can end them within
 * a second: a sweep compares each credential's expiry with the (injected) clock, and
 * revocations end the matching channels. Also enforces the per-user connection limit.
 */
export class LiveConnections {
  readonly #options: Required<LiveConnectionsOptions>;
  readonly #byUser = new Map<string, Set<LiveConnection>>();
  readonly #pendingEnds = new Map<LiveConnection, PendingEnd>();
  readonly #ended = new WeakSet<LiveConnection>();
  #sweeper: NodeJS.Timeout | undefined;
  #disposed = false;

  constructor(options: LiveConnectionsOptions) {
    this.#options = Object.freeze({
      sweepIntervalMs: DEFAULT_SWEEP_INTERVAL_MS,
      revocationDelayMs: DEFAULT_REVOCATION_DELAY_MS,
      ...options,
    });
  }

  /** Registers a channel; false (and nothing registered) when its user is at the limit. */
  add(connection: LiveConnection): boolean {
    if (this.#disposed) return false;
    const { userId } = connection.caller;
    const connections = this.#byUser.get(userId) ?? new Set();
    if (connections.size >= this.#options.maxPerUser) return false;
    connections.add(connection);
    this.#byUser.set(userId, connections);
    this.#startSweeping();
    return true;
  }

  /** Forgets a channel that closed, with anything scheduled for it. */
  remove(connection: LiveConnection): void {
    this.#cancelPendingEnd(connection);
    const connections = this.#byUser.get(connection.caller.userId);
    if (!connections?.delete(connection)) return;
    if (connections.size === 0) this.#byUser.delete(connection.caller.userId);
    if (this.#byUser.size === 0) this.#stopSweeping();
  }

  /** How many channels are open. */
  get size(): number {
    let total = 0;
    for (const connections of this.#byUser.values()) total += connections.size;
    return total;
  }

  /**
   * Ends the channels a revocation affects. A channel of a revoked session is about to be sent
   * its REVOKED event, so it gets until endRevoked() or the revocation delay; any other (a
   * personal access token's) ends now. A per-user marker covers the user's other session
   * channels as `revokedByMarker` decides, asynchronously for the rare one it must read.
   */
  revoke(revoked: RevokedCredentials, revokedByMarker?: MarkerCheck): void {
    const connections = this.#byUser.get(revoked.userId);
    if (!connections) return;
    const sessions = new Set(revoked.sessionIds ?? []);
    const tokens = new Set(revoked.tokenIds ?? []);
    const reason: EndReason = revoked.userDeleted ? 'USER_NOT_FOUND' : 'SESSION_REVOKED';
    for (const connection of [...connections]) {
      const { caller } = connection;
      const sessionRevoked = caller.kind === 'session' && sessions.has(caller.sessionId);
      const tokenRevoked = caller.kind === 'pat' && tokens.has(caller.tokenId);
      if (sessionRevoked) {
        this.#endSoon(connection, reason);
      } else if (tokenRevoked || revoked.userDeleted === true) {
        this.end(connection, reason);
      } else if (caller.kind === 'session' && revoked.revokedBefore !== undefined && revokedByMarker && caller.sessionId !== revoked.exceptSessionId) {
        revokedByMarker(caller).then(
          (revokedNow) => revokedNow && !this.#ended.has(connection) && this.#endSoon(connection, reason),
          () => this.#endSoon(connection, reason), // undecidable: ending errs on the safe side, the client reconnects
        );
      }
    }
  }

  /** Schedules the end of a revoked session's channel, leaving its own REVOKED event time to go out. */
  #endSoon(connection: LiveConnection, reason: EndReason): void {
    if (this.#pendingEnds.has(connection) || this.#disposed) return;
    const timer = setTimeout(() => this.end(connection, reason), this.#options.revocationDelayMs);
    timer.unref();
    this.#pendingEnds.set(connection, { reason, timer });
  }

  /**
   * Ends a channel whose own REVOKED event has just been delivered, with the reason of its
   * revocation. The event may outrun the revocation itself when both come from another
   * instance; the event alone proves the session revoked.
   */
  endRevoked(connection: LiveConnection): void {
    this.end(connection, this.#pendingEnds.get(connection)?.reason ?? 'SESSION_REVOKED');
  }

  /** Ends one channel now; later calls for it do nothing. */
  end(connection: LiveConnection, reason: EndReason): void {
    if (this.#ended.has(connection)) return;
    this.#ended.add(connection);
    this.remove(connection);
    connection.end(reason);
  }

  /** Ends every channel whose credential has expired by the clock. */
  sweep(): void {
    const now = this.#options.clock.now();
    for (const connections of [...this.#byUser.values()]) {
      for (const connection of [...connections]) {
        const { expiresAt } = connection.caller;
        if (expiresAt !== null && expiresAt <= now) this.end(connection, 'TOKEN_EXPIRED');
      }
    }
  }

  /**
   * Stops the sweeper and every scheduled end, and registers nothing more. Open channels are
   * their transports' to close (the WebSocket endpoint, the HTTP server).
   */
  dispose(): void {
    this.#disposed = true;
    this.#stopSweeping();
    for (const { timer } of this.#pendingEnds.values()) clearTimeout(timer);
    this.#pendingEnds.clear();
  }

  #cancelPendingEnd(connection: LiveConnection): void {
    const pending = this.#pendingEnds.get(connection);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pendingEnds.delete(connection);
  }

  #startSweeping(): void {
    if (this.#sweeper) return;
    this.#sweeper = setInterval(() => this.sweep(), this.#options.sweepIntervalMs);
    this.#sweeper.unref();
  }

  #stopSweeping(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
