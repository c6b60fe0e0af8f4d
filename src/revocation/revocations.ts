import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DEFAULT_REVOCATION_POLL_INTERVAL_MS } from '../config.js';
import type { Revocation, RevocationListener, RevocationOrigin, SigningKeyRevocationListener } from './revocation.js';
import type { RevocationChannel } from './revocation-channel.js';
import type { StoredRevocation, StoredTokenRevocation } from './revocation-log.js';
import type { RevokedSessionReason, RevokedSessions } from './revoked-sessions.js';
import type { RevokedUsers, UserRevocationMarker } from './revoked-users.js';
import { CoalescedRead } from '../coalesced-read.js';

/**
 * How far before the previous catch-up the next one reads: covers transactions that committed
 * late and clocks of other instances that run a little behind.
 */
export const CATCH_UP_OVERLAP_MS = 10_000;

export interface RevocationsOptions {
  readonly revokedSessions: RevokedSessions;
  /** Per-user markers (logoutAll, changePassword); without them such revocations are not understood. */
  readonly revokedUsers?: RevokedUsers;
  readonly channel: RevocationChannel;
  readonly logger: Logger;
  /** Sessions revoked (or deleted with their account) at or after a time, from the database. */
  readonly loadRevokedSince: (since: number) => Promise<readonly StoredRevocation[]>;
  /** Personal access tokens revoked at or after a time, from the database. */
  readonly loadRevokedTokensSince?: (since: number) => Promise<readonly StoredTokenRevocation[]>;
  /** Accounts deleted at or after a time, from the database. */
  readonly loadDeletedUsersSince?: (since: number) => Promise<readonly { userId: string; deletedAt: number }[]>;
  /** Per-user markers written at or after a time, from the database. */
  readonly loadUserRevocationsSince?: (since: number) => Promise<readonly UserRevocationMarker[]>;
  /** Users whose row changed (users.updated_at) at or after a time, from the database: announced as userChanged. */
  readonly loadUsersChangedSince?: (since: number) => Promise<readonly { userId: string; updatedAt: number }[]>;
  /** Signing keys revoked at or after a time, from the database: announced to onSigningKeyRevoked. */
  readonly loadSigningKeysRevokedSince?: (since: number) => Promise<readonly { kid: string; revokedAt: number }[]>;
  readonly clock: Clock;
  /**
   * How often to read the database, always, whatever the channel says; DEFAULT_REVOCATION_POLL_INTERVAL_MS.
   * The bound on how late a revocation whose broadcast was lost is seen here.
   */
  readonly pollIntervalMs?: number;
}

/**
 * The one place revocations go through. Every path that revokes (logout, revokeDevice,
 * logoutAll, changePassword, refresh-token reuse, revokePersonalAccessToken, deleteAccount)
 * writes the database first and then announces here. Announcing updates this instance's
 * RevokedSessions and RevokedUsers at once, tells the listeners (the PAT cache forgets the
 * tokens, realtime ends the affected connections), and broadcasts to the other instances, which
 * do the same on receipt.
 *
 * The broadcast is the fast path, not the guarantee: a publish can fail, a subscriber can be
 * cut off or stalled, an instance can start before its subscription is in place. So every
 * instance also reads what was revoked since its previous read from the database, every poll
 * interval, whether or not the channel looks healthy (indexed reads of the last few seconds,
 * see catchUp); no revocation is seen later than that on any instance. Signing keys revoked
 * travel the same way, beside the revocations (announceSigningKeyRevocation): a key belongs to
 * no user.
 */
export class Revocations {
  readonly #options: RevocationsOptions;
  readonly #listeners = new Set<RevocationListener>();
  readonly #keyListeners = new Set<SigningKeyRevocationListener>();
  readonly #unsubscribe: (() => void)[] = [];
  /** Tokens and deleted accounts already learned by a catch-up, with when they may be forgotten. */
  readonly #learned = new Map<string, number>();
  /** The clock reading of the last catch-up that succeeded. */
  #caughtUpAt: number | undefined;
  #poller: NodeJS.Timeout | undefined;
  readonly #catchUpRead = new CoalescedRead(() => this.#catchUp());
  #channelConnected = true;

  constructor(options: RevocationsOptions) {
    this.#options = Object.freeze({ ...options });
    const { channel } = options;
    this.#unsubscribe.push(channel.subscribe((revocation) => this.#apply(revocation, 'remote')));
    const keys = channel.subscribeSigningKeyRevocations?.((kid) => this.#applySigningKeyRevocation(kid, 'remote'));
    if (keys) this.#unsubscribe.push(keys);
    const watch = channel.onConnectivityChange?.((connected) => (connected ? this.#channelRestored() : this.#channelLost()));
    if (watch) this.#unsubscribe.push(watch);
    // A poll that finds the previous read still running skips its turn.
    this.#poller = setInterval(() => {
      if (!this.#catchUpRead.running) void this.#catchUpLogged();
    }, options.pollIntervalMs ?? DEFAULT_REVOCATION_POLL_INTERVAL_MS);
    this.#poller.unref();
  }

  /** False while the channel reports itself down (or stalled); the database polling goes on either way. */
  get channelConnected(): boolean {
    return this.#channelConnected;
  }

  /** Applies a revocation that was just written to the database, here and on every instance. */
  async announce(revocation: Revocation): Promise<void> {
    this.#apply(revocation, 'local');
    // A marker stands for its sessions: one small message however many sessions the user had.
    const { sessionIds, ...marker } = revocation;
    try {
      await this.#options.channel.publish(revocation.revokedBefore === undefined ? revocation : marker);
    } catch (error) {
      this.#options.logger.warn({ err: errorSummary(error) }, 'revocation broadcast failed; other instances catch up from the database');
    }
  }

  /**
   * Tells this instance's listeners, then every instance, that a signing key was revoked (its
   * row already says so): each refuses its tokens, cached verifications included. The same
   * bound as a session's revocation: the broadcast, else the catch-up.
   */
  async announceSigningKeyRevocation(kid: string): Promise<void> {
    this.#applySigningKeyRevocation(kid, 'local');
    try {
      await this.#options.channel.publishSigningKeyRevocation?.(kid);
    } catch (error) {
      this.#options.logger.warn({ err: errorSummary(error) }, 'signing key revocation broadcast failed; other instances catch up from the database');
    }
  }

  /** Calls a listener for every signing key revoked, here or on another instance. Returns the function that removes it. */
  onSigningKeyRevoked(listener: SigningKeyRevocationListener): () => void {
    this.#keyListeners.add(listener);
    return () => this.#keyListeners.delete(listener);
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
   * ones as if they had been broadcast: at start (the last access-token lifetime), and then every
   * poll interval (since the previous catch-up, less an overlap for late commits). A call while
   * a read is in progress reads again after it (calls meanwhile share that one second read), so
   * that what committed before the call is seen, and a slow database never piles reads up.
   */
  catchUp(): Promise<void> {
    return this.#catchUpRead.run();
  }

  async #catchUp(): Promise<void> {
    const {
      revokedSessions,
      revokedUsers,
      clock,
      loadRevokedSince,
      loadRevokedTokensSince,
      loadDeletedUsersSince,
      loadUserRevocationsSince,
      loadUsersChangedSince,
      loadSigningKeysRevokedSince,
    } = this.#options;
    const now = clock.now();
    const since = this.#caughtUpAt === undefined ? now - revokedSessions.windowMs : this.#caughtUpAt - CATCH_UP_OVERLAP_MS;
    const [sessions, tokens, deletedUsers, markers, changedUsers, revokedKeys] = await Promise.all([
      loadRevokedSince(since),
      loadRevokedTokensSince?.(since) ?? [],
      loadDeletedUsersSince?.(since) ?? [],
      loadUserRevocationsSince?.(since) ?? [],
      loadUsersChangedSince?.(since) ?? [],
      loadSigningKeysRevokedSince?.(since) ?? [],
    ]);
    const learned = new Map<string, LearnedRevocations>();
    const learnedOf = (userId: string) => {
      const known = learned.get(userId);
      if (known) return known;
      const entry: LearnedRevocations = { sessionIds: [], tokenIds: [], userDeleted: false, userChanged: false };
      learned.set(userId, entry);
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
    // Keyed by the change's time too, so that a second change within the overlap is learned again.
    for (const { userId, updatedAt } of changedUsers) {
      if (firstTime(`changed:${userId}:${updatedAt}`, updatedAt)) learnedOf(userId).userChanged = true;
    }
    for (const marker of markers) {
      const held = revokedUsers?.markerOf(marker.userId);
      if (held === undefined || held.revokedBefore < marker.revokedBefore) learnedOf(marker.userId).marker = marker;
    }
    const keysLearned = revokedKeys.filter(({ kid, revokedAt }) => firstTime(`key:${kid}`, revokedAt)).map(({ kid }) => kid);
    this.#caughtUpAt = now;
    for (const kid of keysLearned) this.#applySigningKeyRevocation(kid, 'remote');
    for (const [userId, { sessionIds, tokenIds, userDeleted, userChanged, marker }] of learned) {
      this.#apply(
        {
          userId,
          sessionIds,
          tokenIds,
          ...(userDeleted ? { userDeleted } : {}),
          ...(userChanged ? { userChanged } : {}),
          ...(marker
            ? { revokedBefore: marker.revokedBefore, ...(marker.exceptSessionId !== undefined ? { exceptSessionId: marker.exceptSessionId } : {}) }
            : {}),
        },
        'remote',
      );
    }
  }

  /** Stops hearing other instances and stops polling. */
  close(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    if (this.#poller) clearInterval(this.#poller);
    this.#poller = undefined;
  }

  #channelLost(): void {
    this.#channelConnected = false;
    this.#options.logger.warn('revocation channel down; revocations from other instances arrive by database polling until it is back');
  }

  #channelRestored(): void {
    this.#channelConnected = true;
    this.#options.logger.info('revocation channel back');
    // What was published while the channel was down never arrives: read it now rather than at the next poll.
    void this.#catchUpLogged();
  }

  async #catchUpLogged(): Promise<void> {
    try {
      await this.catchUp();
    } catch (error) {
      this.#options.logger.warn({ err: errorSummary(error) }, 'reading revocations from the database failed; retrying at the next poll');
    }
  }

  #applySigningKeyRevocation(kid: string, origin: RevocationOrigin): void {
    for (const listener of this.#keyListeners) {
      try {
        listener(kid, origin);
      } catch (error) {
        this.#options.logger.error({ err: error }, 'signing key revocation listener failed');
      }
    }
  }

  #apply(revocation: Revocation, origin: RevocationOrigin): void {
    const { revokedSessions, revokedUsers, logger } = this.#options;
    const reason: RevokedSessionReason = revocation.userDeleted ? 'USER_NOT_FOUND' : 'SESSION_REVOKED';
    revokedSessions.add(revocation.sessionIds ?? [], reason);
    if (revocation.revokedBefore !== undefined) {
      revokedUsers?.add({ userId: revocation.userId, revokedBefore: revocation.revokedBefore, exceptSessionId: revocation.exceptSessionId });
    }
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

/** What one catch-up learned of one user. */
interface LearnedRevocations {
  sessionIds: string[];
  tokenIds: string[];
  userDeleted: boolean;
  userChanged: boolean;
  marker?: UserRevocationMarker;
}
