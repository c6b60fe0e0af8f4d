import { setImmediate as nextTurn } from 'node:timers/promises';
import { type DeleteResult, type Kysely, PostgresAdapter, type SelectQueryBuilder, type UpdateResult } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DEFAULT_REFRESH_REUSE_GRACE_SECONDS } from '../config.js';
import { CATCH_UP_OVERLAP_MS } from '../revocation/revocations.js';
import type { Database } from './tables.js';

const DAY_MS = 24 * 3600 * 1000;

/** How often the purge runs. Nothing expired is ever accepted, so this only bounds the backlog. */
export const DEFAULT_RETENTION_INTERVAL_MS = 10 * 60_000;
/** Rows deleted by one statement: short enough that SQLite's single writer is never held for long. */
export const DEFAULT_RETENTION_BATCH_SIZE = 500;
/** Batches per kind of row and run; a larger backlog is left for the next runs. */
export const DEFAULT_RETENTION_MAX_BATCHES_PER_RUN = 200;
/**
 * How long a session is kept after its last refresh token expired. Meanwhile that token is still
 * answered TOKEN_EXPIRED (or SESSION_REVOKED) rather than TOKEN_INVALID, so a client that comes
 * back late is told why; it costs two rows per sign-in.
 */
export const DEFAULT_ENDED_SESSION_RETENTION_MS = 30 * DAY_MS;
/** How long a personal access token is kept, and listed, after it expired or was revoked. */
export const DEFAULT_ENDED_PERSONAL_ACCESS_TOKEN_RETENTION_MS = 30 * DAY_MS;

export interface RetentionOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly logger: Logger;
  /**
   * One access-token lifetime plus the revocation margin (RevokedSessions.windowMs): how long a
   * session's access tokens outlive its last refresh, and how far back revocations are caught up.
   */
  readonly accessTokenWindowMs: number;
  /** DEFAULT_RETENTION_INTERVAL_MS */
  readonly intervalMs?: number;
  /** DEFAULT_RETENTION_BATCH_SIZE */
  readonly batchSize?: number;
  /** DEFAULT_RETENTION_MAX_BATCHES_PER_RUN */
  readonly maxBatchesPerRun?: number;
  /** DEFAULT_ENDED_SESSION_RETENTION_MS */
  readonly endedSessionRetentionMs?: number;
  /** DEFAULT_ENDED_PERSONAL_ACCESS_TOKEN_RETENTION_MS */
  readonly endedPersonalAccessTokenRetentionMs?: number;
  /** REFRESH_REUSE_GRACE_SECONDS in ms: how long a rotated token keeps its successor sealed; by default as configured by default. */
  readonly refreshReuseGraceMs?: number;
}

/** Rows deleted by one purge, by table (rows deleted by ON DELETE CASCADE not counted). */
export interface PurgedRows {
  refreshTokens: number;
  sessions: number;
  personalAccessTokens: number;
  deletedCredentials: number;
  /** logoutAll / changePassword markers (user_session_revocations). */
  userRevocations: number;
  /** Sealed successors erased (the rotated tokens stay, without them): not rows deleted. */
  sealedSuccessors: number;
}

export interface PurgeResult {
  readonly purged: PurgedRows;
  /** False when rows past their time remain: a batch limit was reached, the purge was stopped or failed. */
  readonly complete: boolean;
  /** Why the purge stopped early; what was deleted before stays deleted. */
  readonly error?: unknown;
}

interface Drained {
  readonly deleted: number;
  readonly drained: boolean;
}

/**
 * What the gateway keeps, for how long, and the periodic purge that deletes the rest. Each rule
 * keeps a row as long as anything can still need it:
 *
 * - A rotated refresh token, until its own expiry: up to then, presenting it again is reuse
 *   (SessionStore.rotate checks expiry first, so afterwards it could only ever be TOKEN_EXPIRED).
 *   The successors of the grace window expire no earlier than the token they were rotated from.
 *   Its sealed successor, only through the grace window (refreshReuseGraceMs); then it is erased.
 * - A session, with its last refresh token, until all of: that token expired (the session's
 *   expires_at; never later than absolute_expires_at) more than endedSessionRetentionMs ago; its
 *   last access token expired; and, if
 *   revoked, the revocation is older than what instances catch up on (RevocationLog.sessionsRevokedSince).
 *   Live sessions, the ones `devices` lists, are never touched.
 * - A personal access token, for endedPersonalAccessTokenRetentionMs after its expiry or its
 *   revocation, and never before revocation catch-up is done with it.
 * - A deleted account's tombstone (deleted_credentials), until its forget_at.
 * - A user's logoutAll / changePassword marker, until catch-up no longer reads it.
 *
 * Once purged, a token is unknown and answered TOKEN_INVALID, as one never issued. Every delete
 * takes at most batchSize rows, and the event loop gets a turn between batches. On PostgreSQL
 * the rows of a batch are claimed with FOR UPDATE SKIP LOCKED, so instances purging at the same
 * time split the work instead of waiting on (or deadlocking with) each other.
 */
export class Retention {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #accessTokenWindowMs: number;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #maxBatchesPerRun: number;
  readonly #endedSessionRetentionMs: number;
  readonly #endedPersonalAccessTokenRetentionMs: number;
  readonly #refreshReuseGraceMs: number;
  readonly #skipLockedRows: boolean;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor({
    db,
    clock,
    logger,
    accessTokenWindowMs,
    intervalMs = DEFAULT_RETENTION_INTERVAL_MS,
    batchSize = DEFAULT_RETENTION_BATCH_SIZE,
    maxBatchesPerRun = DEFAULT_RETENTION_MAX_BATCHES_PER_RUN,
    endedSessionRetentionMs = DEFAULT_ENDED_SESSION_RETENTION_MS,
    endedPersonalAccessTokenRetentionMs = DEFAULT_ENDED_PERSONAL_ACCESS_TOKEN_RETENTION_MS,
    refreshReuseGraceMs = DEFAULT_REFRESH_REUSE_GRACE_SECONDS * 1000,
  }: RetentionOptions) {
    for (const [name, value] of Object.entries({ intervalMs, batchSize, maxBatchesPerRun })) {
      if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`);
    }
    for (const [name, value] of Object.entries({ accessTokenWindowMs, endedSessionRetentionMs, endedPersonalAccessTokenRetentionMs, refreshReuseGraceMs })) {
      if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a non-negative integer`);
    }
    this.#db = db;
    this.#clock = clock;
    this.#logger = logger;
    this.#accessTokenWindowMs = accessTokenWindowMs;
    this.#intervalMs = intervalMs;
    this.#batchSize = batchSize;
    this.#maxBatchesPerRun = maxBatchesPerRun;
    this.#endedSessionRetentionMs = endedSessionRetentionMs;
    this.#endedPersonalAccessTokenRetentionMs = endedPersonalAccessTokenRetentionMs;
    this.#refreshReuseGraceMs = refreshReuseGraceMs;
    // SQLite has neither row locks nor a use for them: its one writer runs the batches in turn.
    this.#skipLockedRows = db.getExecutor().adapter instanceof PostgresAdapter;
  }

  /** Purges every intervalMs from now on, on a timer that does not keep the process alive. */
  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer, and a purge under way after its current batch; resolves when it has. Final. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** Deletes what is past its time, as of the clock's now, a batch at a time. */
  async purge(): Promise<PurgeResult> {
    const now = this.#clock.now();
    const purged: PurgedRows = { refreshTokens: 0, sessions: 0, personalAccessTokens: 0, deletedCredentials: 0, userRevocations: 0, sealedSuccessors: 0 };
    let complete = true;
    const drain = async (kind: keyof PurgedRows, deleteBatch: (limit: number) => Promise<DeleteResult | UpdateResult>): Promise<boolean> => {
      const { deleted, drained } = await this.#drain(deleteBatch);
      purged[kind] += deleted;
      complete &&= drained;
      return drained;
    };
    try {
      // Sessions only once the rotated tokens are gone: a session then takes one token with it
      // (ON DELETE CASCADE), never a chain of thousands in one statement.
      if (await drain('refreshTokens', (limit) => this.#deleteRotatedRefreshTokens(now, limit))) {
        await drain('sessions', (limit) => this.#deleteEndedSessions(now, limit));
      }
      await drain('sealedSuccessors', (limit) => this.#eraseSealedSuccessors(now, limit));
      await drain('personalAccessTokens', (limit) => this.#deleteRevokedPersonalAccessTokens(now, limit));
      await drain('personalAccessTokens', (limit) => this.#deleteExpiredPersonalAccessTokens(now, limit));
      await drain('deletedCredentials', (limit) => this.#deleteForgottenTombstones(now, limit));
      await drain('userRevocations', (limit) => this.#deleteOldUserRevocations(now, limit));
      return { purged, complete };
    } catch (error) {
      return { purged, complete: false, error };
    }
  }

  #tick(): void {
    // A run that outlasts the interval is not doubled up on.
    if (this.#running) return;
    this.#running = this.purge()
      .then(({ purged, complete, error }) => this.#report(purged, complete, error))
      .finally(() => (this.#running = undefined));
  }

  #report(purged: PurgedRows, complete: boolean, error: unknown): void {
    if (error !== undefined) {
      // The message only: a driver's error can carry the statement's parameters.
      const message = error instanceof Error ? error.message : String(error);
      this.#logger.warn({ purged, err: { message } }, 'retention purge failed; retrying at the next run');
    } else if (Object.values(purged).some((count) => count > 0)) {
      this.#logger.info({ purged, complete }, complete ? 'retention purge' : 'retention purge; more left for the next run');
    }
  }

  async #drain(deleteBatch: (limit: number) => Promise<DeleteResult | UpdateResult>): Promise<Drained> {
    let deleted = 0;
    for (let batch = 0; batch < this.#maxBatchesPerRun; batch++) {
      // Lets requests (and on SQLite, their writes) in between two batches.
      if (batch > 0) await nextTurn();
      if (this.#stopped) return { deleted, drained: false };
      const result = await deleteBatch(this.#batchSize);
      const count = Number('numDeletedRows' in result ? result.numDeletedRows : result.numUpdatedRows);
      deleted += count;
      if (count < this.#batchSize) return { deleted, drained: true };
    }
    return { deleted, drained: false };
  }

  /**
   * The batch's keys, locked on PostgreSQL so that a concurrent purge skips them. FOR UPDATE also
   * checks the conditions again on a row changed since the statement began (a session revoked
   * meanwhile is then left out), and the lock holds the row until the delete; SQLite runs the
   * whole statement under its one writer. Either way the delete needs no conditions of its own,
   * which would only tempt PostgreSQL's planner to scan the whole backlog on every batch.
   */
  #claim<TB extends keyof Database, O>(batch: SelectQueryBuilder<Database, TB, O>): SelectQueryBuilder<Database, TB, O> {
    return this.#skipLockedRows ? batch.forUpdate().skipLocked() : batch;
  }

  #deleteRotatedRefreshTokens(now: number, limit: number): Promise<DeleteResult> {
    const batch = this.#db
      .selectFrom('refresh_tokens')
      .select('token_hash')
      .where('used_at', 'is not', null)
      .where('expires_at', '<=', now)
      .orderBy('expires_at')
      .limit(limit);
    return this.#db.deleteFrom('refresh_tokens').where('token_hash', 'in', this.#claim(batch)).executeTakeFirst();
  }

  /**
   * A rotated token keeps its successor sealed for the grace window only (SessionStore#replay
   * opens none past it, whether erased or not); after it the secret is erased. Done here rather
   * than on every rotation, which saves the refresh a statement.
   */
  #eraseSealedSuccessors(now: number, limit: number): Promise<UpdateResult> {
    const batch = this.#db
      .selectFrom('refresh_tokens')
      .select('token_hash')
      // Spelled out so that both databases match the partial index (0008).
      .where('successor_sealed', 'is not', null)
      .where('used_at', '<', now - this.#refreshReuseGraceMs)
      .orderBy('used_at')
      .limit(limit);
    return this.#db.updateTable('refresh_tokens').set({ successor_sealed: null }).where('token_hash', 'in', this.#claim(batch)).executeTakeFirst();
  }

  #deleteEndedSessions(now: number, limit: number): Promise<DeleteResult> {
    const batch = this.#db
      .selectFrom('sessions')
      .select('id')
      .where('expires_at', '<=', now - this.#endedSessionRetentionMs)
      .where('last_used_at', '<=', now - this.#accessTokenWindowMs)
      .where((eb) => eb.or([eb('revoked_at', 'is', null), eb('revoked_at', '<=', now - this.#catchUpWindowMs)]))
      .orderBy('expires_at')
      .limit(limit);
    return this.#db.deleteFrom('sessions').where('id', 'in', this.#claim(batch)).executeTakeFirst();
  }

  #deleteRevokedPersonalAccessTokens(now: number, limit: number): Promise<DeleteResult> {
    const batch = this.#db
      .selectFrom('personal_access_tokens')
      .select('id')
      .where('revoked_at', '<=', now - Math.max(this.#endedPersonalAccessTokenRetentionMs, this.#catchUpWindowMs))
      .orderBy('revoked_at')
      .limit(limit);
    return this.#db.deleteFrom('personal_access_tokens').where('id', 'in', this.#claim(batch)).executeTakeFirst();
  }

  #deleteExpiredPersonalAccessTokens(now: number, limit: number): Promise<DeleteResult> {
    const batch = this.#db
      .selectFrom('personal_access_tokens')
      .select('id')
      // Implied by the comparison, but spelled out so that both databases match the partial index.
      .where('expires_at', 'is not', null)
      .where('expires_at', '<=', now - this.#endedPersonalAccessTokenRetentionMs)
      .orderBy('expires_at')
      .limit(limit);
    return this.#db.deleteFrom('personal_access_tokens').where('id', 'in', this.#claim(batch)).executeTakeFirst();
  }

  #deleteForgottenTombstones(now: number, limit: number): Promise<DeleteResult> {
    const batch = this.#db
      .selectFrom('deleted_credentials')
      .select(['kind', 'credential_id'])
      // A little past forget_at: an instance whose clock runs behind may still catch up on it.
      .where('forget_at', '<=', now - CATCH_UP_OVERLAP_MS)
      .orderBy('forget_at')
      .limit(limit);
    return this.#db
      .deleteFrom('deleted_credentials')
      .where(({ eb, refTuple }) => eb(refTuple('kind', 'credential_id'), 'in', this.#claim(batch).$asTuple('kind', 'credential_id')))
      .executeTakeFirst();
  }

  /** How long after a revocation instances may still read it (Revocations.catchUp). */
  /**
   * A user's marker stands for sessions whose access tokens were issued before it: one
   * access-token lifetime later none is valid, and once catch-up no longer reads it, it is dead.
   */
  #deleteOldUserRevocations(now: number, limit: number): Promise<DeleteResult> {
    const batch = this.#db
      .selectFrom('user_session_revocations')
      .select('user_id')
      .where('revoked_before', '<=', now - this.#catchUpWindowMs)
      .orderBy('revoked_before')
      .limit(limit);
    return this.#db.deleteFrom('user_session_revocations').where('user_id', 'in', this.#claim(batch)).executeTakeFirst();
  }

  get #catchUpWindowMs(): number {
    return this.#accessTokenWindowMs + CATCH_UP_OVERLAP_MS;
  }
}
