import type { Logger } from 'pino';
import type { PersonalAccessTokenCache } from '../auth/personal-access-token-cache.js';
import type { Clock } from '../clock.js';
import type { RevokedSessionReason, RevokedSessions } from './revoked-sessions.js';

/**
 * What one revocation affects. Plain JSON data, so that it can cross instances. The same shape as
 * realtime's RevokedCredentials, so listeners can hand it on as it is.
 */
export interface Revocation {
  readonly userId: string;
  /** Sessions whose access tokens must be refused from now on. */
  readonly sessionIds?: readonly string[];
  /** Personal access tokens (ids) revoked. */
  readonly tokenIds?: readonly string[];
  /** The account is gone: every credential of the user is refused, with USER_NOT_FOUND. */
  readonly userDeleted?: boolean;
}

/**
 * Where a revocation was made: on this instance, or on another one and received over the
 * channel. Listeners that publish to a channel of their own that already spans instances (such
 * as sessionEvents) act on local revocations only, or every instance would publish the same event.
 */
export type RevocationOrigin = 'local' | 'remote';

export type RevocationListener = (revocation: Revocation, origin: RevocationOrigin) => void;

/**
 * How revocations reach the other instances of the gateway. publish() sends to every other
 * instance and never back to the publisher; subscribe() hears the others. A publish that fails
 * must not throw: the revocation stands in the database, and the other instances catch up by
 * Revocations.catchUp() and by the expiry of their cached look-ups.
 */
export interface RevocationChannel {
  publish(revocation: Revocation): Promise<void>;
  /** Listens for revocations from other instances; returns the unsubscribe function. */
  subscribe(listener: (revocation: Revocation) => void): () => void;
  /**
   * Reports outages (false) and recoveries (true) of a channel that can lose messages while it
   * is down; returns the function that stops the reports. A channel without it never loses any.
   */
  onConnectivityChange?(listener: (connected: boolean) => void): () => void;
}

/**
 * A channel between the instances in one process: for a single gateway (a hub of one, where
 * publishing reaches nobody) and for tests that run several gateways side by side.
 */
export class InProcessRevocationHub {
  readonly #members = new Set<(revocation: Revocation) => void>();

  /** A channel for one instance. */
  connect(): RevocationChannel {
    const members = this.#members;
    let own: ((revocation: Revocation) => void) | undefined;
    return {
      async publish(revocation) {
        for (const member of [...members]) if (member !== own) member(structuredClone(revocation));
      },
      subscribe(listener) {
        own = listener;
        members.add(listener);
        return () => members.delete(listener);
      },
    };
  }
}

/** A session revoked in the database, as loaded at start and while catching up. */
export interface StoredRevocation {
  readonly sessionId: string;
  readonly revokedAt: number;
  readonly reason: RevokedSessionReason;
  /** The session's user; unknown for the sessions of deleted accounts. */
  readonly userId?: string;
}

/** A personal access token revoked in the database. */
export interface StoredTokenRevocation {
  readonly tokenId: string;
  readonly userId: string;
  readonly revokedAt: number;
}

/** How often the database is read for revocations while the channel is down. */
export const DEFAULT_REVOCATION_POLL_INTERVAL_MS = 2_000;

/**
 * How far before the previous catch-up the next one reads: covers transactions that committed
 * late and clocks of other instances that run a little behind.
 */
export const CATCH_UP_OVERLAP_MS = 10_000;

export interface RevocationsOptions {
  readonly revokedSessions: RevokedSessions;
  readonly personalAccessTokenCache: PersonalAccessTokenCache;
  readonly channel: RevocationChannel;
  readonly logger: Logger;
  /** Sessions revoked (or deleted with their account) at or after a time, from the database. */
  readonly loadRevokedSince: (since: number) => Promise<readonly StoredRevocation[]>;
  /** Personal access tokens revoked at or after a time, from the database. */
  readonly loadRevokedTokensSince?: (since: number) => Promise<readonly StoredTokenRevocation[]>;
  /** Accounts deleted at or after a time, from the database. */
  readonly loadDeletedUsersSince?: (since: number) => Promise<readonly { userId: string; deletedAt: number }[]>;
  readonly clock: Clock;
  /** How often to read the database while the channel is down; DEFAULT_REVOCATION_POLL_INTERVAL_MS. */
  readonly pollIntervalMs?: number;
}

/**
 * The one place revocations go through. Every path that revokes (logout, revokeDevice,
 * logoutAll, changePassword, refresh-token reuse, revokePersonalAccessToken, deleteAccount)
 * writes the database first and then announces here. Announcing updates this instance's
 * RevokedSessions and PAT cache at once, tells the listeners (realtime ends the affected
 * connections), and broadcasts to the other instances, which do the same on receipt.
 */
export class Revocations {
  readonly #options: RevocationsOptions;
  readonly #listeners = new Set<RevocationListener>();
  readonly #unsubscribe: (() => void)[] = [];
  /** Tokens and deleted accounts already learned by a catch-up, with when they may be forgotten. */
  readonly #learned = new Map<string, number>();
  /** The clock reading of the last catch-up that succeeded. */
  #caughtUpAt: number | undefined;
  #poller: NodeJS.Timeout | undefined;

  constructor(options: RevocationsOptions) {
    this.#options = Object.freeze({ ...options });
    const { channel } = options;
    this.#unsubscribe.push(channel.subscribe((revocation) => this.#apply(revocation, 'remote')));
    const watch = channel.onConnectivityChange?.((connected) => (connected ? this.#channelRestored() : this.#channelLost()));
    if (watch) this.#unsubscribe.push(watch);
  }

  /** True while the database is being polled because the channel is down. */
  get polling(): boolean {
    return this.#poller !== undefined;
  }

  /** Applies a revocation that was just written to the database, here and on every instance. */
  async announce(revocation: Revocation): Promise<void> {
    this.#apply(revocation, 'local');
    try {
      await this.#options.channel.publish(revocation);
    } catch (error) {
      this.#options.logger.warn({ err: errorSummary(error) }, 'revocation broadcast failed; other instances catch up later');
    }
  }

  /**
   * Calls a listener for every revocation this instance learns of, its own or another
   * instance's. Returns the function that removes it.
   */
  onRevoked(listener: RevocationListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads the revocations this instance may have missed from the database and applies the new
   * ones as if they had been broadcast: at start (the last access-token lifetime), and while and
   * after the channel is down (since the previous catch-up).
   */
  async catchUp(): Promise<void> {
    const { revokedSessions, clock, loadRevokedSince, loadRevokedTokensSince, loadDeletedUsersSince } = this.#options;
    const now = clock.now();
    const since = this.#caughtUpAt === undefined ? now - revokedSessions.windowMs : this.#caughtUpAt - CATCH_UP_OVERLAP_MS;
    const [sessions, tokens, deletedUsers] = await Promise.all([
      loadRevokedSince(since),
      loadRevokedTokensSince?.(since) ?? [],
      loadDeletedUsersSince?.(since) ?? [],
    ]);
    const learned = new Map<string, { sessionIds: string[]; tokenIds: string[]; userDeleted: boolean }>();
    const learnedOf = (userId: string) => {
      let entry = learned.get(userId);
      if (!entry) learned.set(userId, (entry = { sessionIds: [], tokenIds: [], userDeleted: false }));
      return entry;
    };
    for (const { sessionId, revokedAt, reason, userId } of sessions) {
      const known = revokedSessions.reasonFor(sessionId) !== undefined;
      revokedSessions.add([sessionId], reason, revokedAt);
      // A deleted account's sessions come without their user: their access tokens are refused
      // from here on, and the account's own record below ends its channels.
      if (known || userId === undefined || revokedSessions.reasonFor(sessionId) === undefined) continue;
      learnedOf(userId).sessionIds.push(sessionId);
    }
    for (const [key, forgetAt] of this.#learned) if (forgetAt <= now) this.#learned.delete(key);
    // Read again by the overlap of the next catch-up; remembered that long, so applied once.
    const firstTime = (key: string, at: number): boolean => {
      if (this.#learned.has(key)) return false;
      this.#learned.set(key, Math.max(at, now) + CATCH_UP_OVERLAP_MS * 2);
      return true;
    };
    for (const { tokenId, userId, revokedAt } of tokens) {
      if (firstTime(`token:${tokenId}`, revokedAt)) learnedOf(userId).tokenIds.push(tokenId);
    }
    for (const { userId, deletedAt } of deletedUsers) {
      if (firstTime(`user:${userId}`, deletedAt)) learnedOf(userId).userDeleted = true;
    }
    this.#caughtUpAt = now;
    for (const [userId, { sessionIds, tokenIds, userDeleted }] of learned) {
      this.#apply({ userId, sessionIds, tokenIds, ...(userDeleted ? { userDeleted } : {}) }, 'remote');
    }
  }

  /** Stops hearing other instances and stops polling. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    this.#stopPolling();
  }

  #channelLost(): void {
    this.#options.logger.warn('revocation channel down; reading revocations from the database until it is back');
    if (this.#poller) return;
    const intervalMs = this.#options.pollIntervalMs ?? DEFAULT_REVOCATION_POLL_INTERVAL_MS;
    this.#poller = setInterval(() => void this.#catchUpLogged(), intervalMs);
    this.#poller.unref();
  }

  #channelRestored(): void {
    this.#stopPolling();
    this.#options.logger.info('revocation channel back');
    // What was published while the channel was down never arrives: read it once more.
    void this.#catchUpLogged();
  }

  #stopPolling(): void {
    if (this.#poller) clearInterval(this.#poller);
    this.#poller = undefined;
  }

  async #catchUpLogged(): Promise<void> {
    try {
      await this.catchUp();
    } catch (error) {
      this.#options.logger.warn({ err: errorSummary(error) }, 'reading revocations from the database failed; retrying');
    }
  }

  #apply(revocation: Revocation, origin: RevocationOrigin): void {
    const { revokedSessions, personalAccessTokenCache, logger } = this.#options;
    const reason: RevokedSessionReason = revocation.userDeleted ? 'USER_NOT_FOUND' : 'SESSION_REVOKED';
    revokedSessions.add(revocation.sessionIds ?? [], reason);
    personalAccessTokenCache.invalidate({ userId: revocation.userId, tokenIds: revocation.tokenIds, allOfUser: revocation.userDeleted });
    for (const listener of this.#listeners) {
      try {
        listener(revocation, origin);
      } catch (error) {
        logger.error({ err: error }, 'revocation listener failed');
      }
    }
  }
}

function errorSummary(error: unknown): { message: string } {
  return { message: error instanceof Error ? error.message : String(error) };
}
