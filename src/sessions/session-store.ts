import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import { generateOpaqueToken, hashToken } from '../auth/opaque-token.js';
import type { SecretBox } from '../auth/secret-box.js';
import type { Clock } from '../clock.js';
import { type TransactionRunner, transactionRunner } from '../db/group-commit.js';
import { prepareQuery } from '../db/prepared-query.js';
import type { Database, SessionsTable } from '../db/tables.js';
import { UnauthenticatedError } from '../errors.js';
import type { SecurityEventClient, SecurityEventRecorder } from '../security-events/security-event.js';
import { clientFingerprint, type PresentingClient } from './client-fingerprint.js';
import type { Revocation } from '../revocation/revocation.js';

export type SessionRow = Selectable<SessionsTable>;

/** Why a session ended; stored with it and shown in revocation events. */
export type RevocationReason = 'LOGOUT' | 'LOGOUT_ALL' | 'REVOKED' | 'PASSWORD_CHANGED' | 'REFRESH_TOKEN_REUSED' | 'SESSION_LIMIT';

export interface SessionStoreOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** Seals a rotated token's successor for the reuse grace window. */
  readonly box: SecretBox;
  readonly refreshTokenTtlSeconds: number;
  readonly sessionMaxLifetimeSeconds: number;
  readonly refreshReuseGraceSeconds: number;
  readonly rotation: boolean;
  /** Live sessions per user; a sign-in beyond it revokes the least recently used (SESSION_LIMIT). */
  readonly maxSessionsPerUser: number;
  /**
   * Told of every revocation, after the database has it, so that the sessions' access tokens
   * are refused at once (Revocations.announce). Every revoking path here goes through it,
   * refresh-token reuse included.
   */
  readonly onRevoked?: (revocation: Revocation) => Promise<void>;
  /** Told of sessions revoked one by one (logout, revokeDevice, refresh-token reuse, SESSION_LIMIT). */
  readonly securityEvents?: SecurityEventRecorder;
}

export interface NewSession {
  readonly userId: string;
  /**
   * users.credential_version as the sign-in read it with the proof it checked (a password, or any
   * other). The session is only created while the account still has it: a sign-in that verified
   * a password just replaced (changePassword) or an account just deleted must not outlive the
   * revocation that came with it. How the user proved who they are is the proof's business.
   */
  readonly credentialVersion: number;
  readonly name: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/** What revokeAllOfUser revoked. */
export interface RevokedSessionIds {
  /** The live (unexpired) sessions revoked: the ones `devices` showed. Expired ones are covered by the marker. */
  readonly sessionIds: string[];
  /** How many there were. */
  readonly liveCount: number;
}

/** A session with the refresh token the client now holds. */
export interface SessionGrant {
  readonly session: SessionRow;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: number;
}

/** How far a grace-window replay may follow a chain of successors. */
const MAX_SUCCESSOR_HOPS = 8;

/**
 * How often one rotated token may be presented again within its grace window. The tabs of a
 * browser waking together all present the same cookie at once; past this many it is not one
 * client racing itself, and the next replay counts as reuse.
 */
export const MAX_GRACE_REPLAYS = 20;

type RotationOutcome =
  | { readonly kind: 'granted'; readonly grant: SessionGrant }
  | { readonly kind: 'refused'; readonly reason: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'SESSION_REVOKED' }
  | { readonly kind: 'reused'; readonly sessionId: string };

/** Carries a rotation that did not grant out of its transaction, rolling the transaction back. */
class RotationRefused extends Error {
  constructor(readonly outcome: Exclude<RotationOutcome, { kind: 'granted' }>) {
    super(outcome.kind);
  }
}

/**
 * Sessions and their refresh tokens. One sign-in is one session is one token family: every
 * refresh rotates the token, and a token presented again after its rotation (outside the grace
 * window) revokes the whole session, since either the client or a thief holds a stolen copy.
 */
export class SessionStore {
  readonly #options: SessionStoreOptions;
  readonly #transactions: TransactionRunner;

  constructor(options: SessionStoreOptions) {
    this.#options = Object.freeze({ ...options });
    // A rotation's transaction: grouped with the rotations of the same turn on SQLite (group-commit.ts).
    this.#transactions = transactionRunner(options.db);
  }

  /**
   * Starts a session and issues its first refresh token; undefined when the account is gone or
   * its credential version is no longer `input.credentialVersion`. `alongside` is a write that
   * stands or falls with the session, in the same transaction: a one-time proof (an email code)
   * is consumed only by the session it starts, and a throw from it leaves neither.
   */
  async create(input: NewSession, alongside?: (trx: Transaction<Database>) => Promise<void>): Promise<SessionGrant | undefined> {
    const { db, clock, refreshTokenTtlSeconds, sessionMaxLifetimeSeconds } = this.#options;
    const now = clock.now();
    const absoluteExpiresAt = now + sessionMaxLifetimeSeconds * 1000;
    const expiresAt = Math.min(now + refreshTokenTtlSeconds * 1000, absoluteExpiresAt);
    const session: SessionRow = {
      id: randomUUID(),
      user_id: input.userId,
      name: input.name,
      user_agent: input.userAgent,
      ip: input.ip,
      created_at: now,
      last_used_at: now,
      expires_at: expiresAt,
      absolute_expires_at: absoluteExpiresAt,
      revoked_at: null,
      revoked_reason: null,
    };
    const refreshToken = generateOpaqueToken();
    const evicted = await db.transaction().execute(async (trx) => {
      // A write to the user's row, conditioned on the credential version read, locks that row
      // until commit. changePassword and deleteAccount write the row too, so on PostgreSQL they
      // either wait for this session (and then revoke it) or make this condition fail; SQLite has
      // one writer at a time anyway.
      const locked = await lockUserAtCredentialVersion.execute(trx, { userId: input.userId, credentialVersion: input.credentialVersion });
      if (locked.numAffectedRows !== 1n) return undefined;
      await alongside?.(trx);
      // Under that lock, so that concurrent sign-ins to one account count each other.
      const evictedIds = await this.#evictBeyondLimit(trx, input.userId, now);
      await insertSession.execute(trx, session);
      await insertToken.execute(trx, { tokenHash: hashToken(refreshToken), sessionId: session.id, now, expiresAt });
      return evictedIds;
    });
    if (evicted === undefined) return undefined;
    for (const id of evicted) this.#recordRevoked(input.userId, id, 'SESSION_LIMIT', input);
    if (evicted.length > 0) await this.#options.onRevoked?.({ userId: input.userId, sessionIds: evicted });
    return { session, refreshToken, refreshTokenExpiresAt: expiresAt };
  }

  /**
   * Makes room for one more session: revokes the user's live sessions beyond the newest
   * maxSessionsPerUser - 1, least recently used first, and returns their ids. One statement.
   */
  async #evictBeyondLimit(trx: Transaction<Database>, userId: string, now: number): Promise<string[]> {
    const { rows } = await evictSessionsBeyond.execute(trx, { userId, now, keep: this.#options.maxSessionsPerUser - 1 });
    return rows.map((row) => row.id);
  }

  /**
   * Exchanges a refresh token for its successor. Throws UNAUTHENTICATED: TOKEN_INVALID,
   * TOKEN_EXPIRED, SESSION_REVOKED, or REFRESH_TOKEN_REUSED after revoking the session. Expiry
   * is checked before reuse, so a rotated token is never needed past its expires_at; the
   * retention purge (src/db/retention.ts) then deletes it, and a token it has deleted is
   * TOKEN_INVALID, like one never issued. `client` is who presents it (null: unknown): the
   * grace window serves only the client that rotated the token.
   */
  async rotate(refreshToken: string, client: PresentingClient | null): Promise<SessionGrant> {
    let outcome: RotationOutcome;
    try {
      outcome = await this.#transactions(async (trx) => {
        const result = await this.#rotate(trx, hashToken(refreshToken), refreshToken, client);
        // Rolled back, so that a refused attempt leaves nothing behind (a touched session, a count).
        if (result.kind !== 'granted') throw new RotationRefused(result);
        return result;
      });
    } catch (error) {
      if (!(error instanceof RotationRefused)) throw error;
      outcome = error.outcome;
    }
    switch (outcome.kind) {
      case 'granted':
        return outcome.grant;
      case 'refused':
        throw new UnauthenticatedError(outcome.reason);
      case 'reused':
        // Outside the rotation's transaction, so the revocation stands whatever happened there.
        await this.revoke(outcome.sessionId, 'REFRESH_TOKEN_REUSED', client ?? undefined);
        throw new UnauthenticatedError('REFRESH_TOKEN_REUSED');
    }
  }

  async #rotate(trx: Transaction<Database>, tokenHash: string, presented: string, client: PresentingClient | null): Promise<RotationOutcome> {
    const { clock, box, rotation, refreshTokenTtlSeconds } = this.#options;
    const now = clock.now();
    // The first statement finds the token's session and locks its row, only while the session
    // is unrevoked and within its lifetime. Whatever else writes a session's tokens (a
    // concurrent refresh, account deletion) locks that row first too, so on PostgreSQL they
    // queue in one order instead of deadlocking, and a logout or a deletion that committed
    // before is seen rather than granted past. It slides the session as if the token were
    // live, saving a read on the common path; when it is not, rotate() rolls this back.
    const session = await touchSessionOfToken(trx, tokenHash, now, now + refreshTokenTtlSeconds * 1000, client?.ip ?? null);
    if (!session) return refusal(await findToken(trx, tokenHash), now) ?? { kind: 'refused', reason: 'TOKEN_INVALID' };
    const expiresAt = session.expires_at;
    if (!rotation) {
      const extended = await trx
        .updateTable('refresh_tokens')
        .set({ expires_at: expiresAt })
        .where('token_hash', '=', tokenHash)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(extended.numUpdatedRows) === 1) return granted(session, presented, expiresAt);
      return refusal(await findToken(trx, tokenHash), now) ?? { kind: 'refused', reason: 'TOKEN_INVALID' };
    }
    const successor = generateOpaqueToken();
    // The "used_at is null" condition makes the rotation a compare-and-set: of concurrent
    // refreshes of one token exactly one wins, on SQLite and PostgreSQL alike.
    const claimed = await claimToken.execute(trx, { tokenHash, now, successorSealed: box.seal(successor, tokenHash), rotatedBy: clientFingerprint(client) });
    if (claimed.numAffectedRows === 1n) {
      await insertToken.execute(trx, { tokenHash: hashToken(successor), sessionId: session.id, now, expiresAt });
      // The sealed successors of earlier rotations are erased by the retention purge once their
      // grace window is over (src/db/retention.ts), not here: #replay never opens one past it.
      return granted(session, successor, expiresAt);
    }
    // Expired, or rotated before (perhaps by a concurrent refresh that held the session first).
    // Expiry is checked before reuse: a rotated token is never needed past its expires_at.
    const token = await findToken(trx, tokenHash);
    return refusal(token, now) ?? this.#replay(trx, token!, now, client);
  }

  /**
   * A rotated token presented again. Inside the grace window, by the client that rotated it
   * (tabs of one browser refreshing at once), at most MAX_GRACE_REPLAYS times: it gets the live
   * successor, so the chain stays single. Anything else is reuse: a copy is in other hands.
   */
  async #replay(trx: Transaction<Database>, presented: TokenWithSession, now: number, client: PresentingClient | null): Promise<RotationOutcome> {
    const graceMs = this.#options.refreshReuseGraceSeconds * 1000;
    const fingerprint = clientFingerprint(client);
    let token: TokenWithSession | undefined = presented;
    for (let hop = 0; hop < MAX_SUCCESSOR_HOPS && token; hop++) {
      if (token.used_at === null) return this.#grantReplay(trx, presented, token, now, client);
      // Past the grace window a sealed successor is never opened, though the retention purge
      // may not have erased it yet.
      if (graceMs === 0 || now - token.used_at > graceMs || token.successor_sealed === null) break;
      // Every link was rotated by this same client, or a thief who rotated first is served.
      if (token.rotated_by !== fingerprint) break;
      const successorRaw = this.#options.box.open(token.successor_sealed, token.token_hash);
      const next = await findToken(trx, hashToken(successorRaw));
      token = next ? { ...next, successorRaw } : undefined;
    }
    return { kind: 'reused', sessionId: presented.session_id };
  }

  /** Hands a replayed token's live successor over, counting the replay against its limit. */
  async #grantReplay(
    trx: Transaction<Database>,
    presented: TokenWithSession,
    live: TokenWithSession,
    now: number,
    client: PresentingClient | null,
  ): Promise<RotationOutcome> {
    if (live.expires_at <= now) return { kind: 'refused', reason: 'TOKEN_EXPIRED' };
    // The session, locked since the rotation's first statement, follows its live token again.
    const session = await touchSession(trx, live.session_id, now, live.expires_at, client?.ip ?? null);
    if (!session) return { kind: 'refused', reason: 'SESSION_REVOKED' };
    const counted = await trx
      .updateTable('refresh_tokens')
      .set((eb) => ({ replay_count: eb('replay_count', '+', 1) }))
      .where('token_hash', '=', presented.token_hash)
      .where('replay_count', '<', MAX_GRACE_REPLAYS)
      .executeTakeFirst();
    if (Number(counted.numUpdatedRows) === 0) return { kind: 'reused', sessionId: presented.session_id };
    return granted(session, live.successorRaw!, live.expires_at);
  }

  /** A user's live sessions, newest first. */
  async listActive(userId: string): Promise<SessionRow[]> {
    return liveSessionsOf(this.#options.db, userId, this.#options.clock.now()).selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
  }

  /** Revokes one session; false when it was already revoked or does not exist. */
  async revoke(sessionId: string, reason: RevocationReason, client?: SecurityEventClient): Promise<boolean> {
    return this.#revokeOne(sessionId, undefined, reason, client);
  }

  /**
   * Revokes one of a user's own sessions; false when the user has no such unrevoked session,
   * whether the id is unknown, already revoked or another user's. One conditional write, so
   * the answer cannot change between a check and the revocation.
   */
  async revokeOwn(userId: string, sessionId: string, reason: RevocationReason, client?: SecurityEventClient): Promise<boolean> {
    return this.#revokeOne(sessionId, userId, reason, client);
  }

  async #revokeOne(sessionId: string, ownerId: string | undefined, reason: RevocationReason, client?: SecurityEventClient): Promise<boolean> {
    let query = this.#options.db
      .updateTable('sessions')
      .set({ revoked_at: this.#options.clock.now(), revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null);
    if (ownerId !== undefined) query = query.where('user_id', '=', ownerId);
    const revoked = await query.returning('user_id').executeTakeFirst();
    if (!revoked) return false;
    this.#recordRevoked(revoked.user_id, sessionId, reason, client);
    await this.#options.onRevoked?.({ userId: revoked.user_id, sessionIds: [sessionId] });
    return true;
  }

  /**
   * A session revoked on its own, as a security event; a refresh-token reuse is recorded with
   * the revocation it causes, so once however many copies of the token race in.
   */
  #recordRevoked(userId: string, sessionId: string, reason: RevocationReason, client: SecurityEventClient | undefined): void {
    const events = this.#options.securityEvents;
    if (reason === 'REFRESH_TOKEN_REUSED') events?.record({ event: 'session.refresh_reuse_detected', userId, sessionId, reason, client });
    events?.record({ event: 'session.revoked', userId, sessionId, reason, client });
  }

  /**
   * Revokes every session of a user, optionally sparing one, with one per-user marker ("every
   * session that existed before now, but this one": src/revocation/revoked-users.ts) rather than
   * a list, so that the announcement is one small message however many sessions there were.
   * Only the unexpired sessions get revoked_at written (an expired one cannot be refreshed);
   * the marker still refuses the access tokens that outlive their expired sessions.
   * `alongside` is a write that stands or falls with the revocation, in the same transaction
   * and before it: a new password must never be stored while the sessions it ends stay live.
   */
  async revokeAllOfUser(
    userId: string,
    reason: RevocationReason,
    exceptSessionId?: string,
    alongside?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<RevokedSessionIds> {
    const { db, clock, onRevoked } = this.#options;
    const now = clock.now();
    const rows = await db.transaction().execute(async (trx) => {
      await alongside?.(trx);
      // A marker older than the one held is never written over it (two logoutAll racing).
      const marker = { user_id: userId, revoked_before: now, except_session_id: exceptSessionId ?? null, reason };
      await trx
        .insertInto('user_session_revocations')
        .values(marker)
        .onConflict((oc) =>
          oc
            .column('user_id')
            .doUpdateSet({ revoked_before: now, except_session_id: marker.except_session_id, reason })
            .where('user_session_revocations.revoked_before', '<=', now),
        )
        .execute();
      let query = trx
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .where('absolute_expires_at', '>', now);
      if (exceptSessionId !== undefined) query = query.where('id', '!=', exceptSessionId);
      return query.returning('id').execute();
    });
    const sessionIds = rows.map((row) => row.id);
    await onRevoked?.({ userId, sessionIds, revokedBefore: now, ...(exceptSessionId !== undefined ? { exceptSessionId } : {}) });
    return { sessionIds, liveCount: sessionIds.length };
  }
}

interface TokenWithSession {
  token_hash: string;
  session_id: string;
  expires_at: number;
  used_at: number | null;
  successor_sealed: string | null;
  rotated_by: string | null;
  revoked_at: number | null;
  absolute_expires_at: number;
  /** The raw token, known when reached through a predecessor's sealed successor. */
  successorRaw?: string;
}

function findToken(trx: Transaction<Database>, tokenHash: string): Promise<TokenWithSession | undefined> {
  return trx
    .selectFrom('refresh_tokens')
    .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
    .select([
      'refresh_tokens.token_hash',
      'refresh_tokens.session_id',
      'refresh_tokens.expires_at',
      'refresh_tokens.used_at',
      'refresh_tokens.successor_sealed',
      'refresh_tokens.rotated_by',
      'sessions.revoked_at',
      'sessions.absolute_expires_at',
    ])
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Records a refresh on a session that is still unrevoked; undefined when it has been revoked or deleted. */
function touchSession(trx: Transaction<Database>, sessionId: string, now: number, expiresAt: number, ip: string | null): Promise<SessionRow | undefined> {
  // RETURNING (SQLite 3.35+, PostgreSQL): the updated row without a second statement.
  return trx
    .updateTable('sessions')
    .set({ last_used_at: now, expires_at: expiresAt, ...(ip !== null ? { ip } : {}) })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Slides the session a refresh token belongs to, never past its absolute lifetime, and records
 * the refresh, locking the session's row until commit; undefined when there is no such token or
 * its session is revoked, deleted with its account, or past its absolute lifetime.
 */
async function touchSessionOfToken(
  trx: Transaction<Database>,
  tokenHash: string,
  now: number,
  slideTo: number,
  ip: string | null,
): Promise<SessionRow | undefined> {
  const { rows } = await touchSessionOfTokenQuery.execute(trx, { tokenHash, now, slideTo, ip });
  return rows[0];
}

// The three statements of every refresh, compiled once (src/db/prepared-query.ts).

const touchSessionOfTokenQuery = prepareQuery<{ tokenHash: string; now: number; slideTo: number; ip: string | null }, SessionRow>((db, param) =>
  db
    .updateTable('sessions')
    .set({
      last_used_at: param('now'),
      expires_at: sql<number>`case when absolute_expires_at < ${param('slideTo')} then absolute_expires_at else ${param('slideTo')} end`,
      // An unknown address (null) keeps the one recorded.
      ip: sql<string | null>`coalesce(${param('ip')}, ip)`,
    })
    .where('id', '=', (eb) => eb.selectFrom('refresh_tokens').select('session_id').where('token_hash', '=', param('tokenHash')))
    .where('revoked_at', 'is', null)
    .where('absolute_expires_at', '>', param('now'))
    .returningAll(),
);

const claimToken = prepareQuery<{ tokenHash: string; now: number; successorSealed: string; rotatedBy: string | null }, never>((db, param) =>
  db
    .updateTable('refresh_tokens')
    .set({ used_at: param('now'), successor_sealed: param('successorSealed'), rotated_by: param('rotatedBy') })
    .where('token_hash', '=', param('tokenHash'))
    .where('used_at', 'is', null)
    .where('expires_at', '>', param('now')),
);

// The statements of a sign-in (create), compiled once like the refresh's: kysely rebuilds a
// query on every call.
const lockUserAtCredentialVersion = prepareQuery<{ userId: string; credentialVersion: number }, never>((db, param) =>
  db
    .updateTable('users')
    .set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', param('userId'))
    .where('credential_version', '=', param('credentialVersion')),
);

const evictSessionsBeyond = prepareQuery<{ userId: string; now: number; keep: number }, { id: string }>((db, param) =>
  db
    .updateTable('sessions')
    .set({ revoked_at: param('now'), revoked_reason: 'SESSION_LIMIT' })
    // The user and the condition of the subquery again, so that both databases read only the
    // user's live sessions (db/migrations/0013) instead of the live sessions of every user.
    .where('user_id', '=', param('userId'))
    .where('revoked_at', 'is', null)
    .where(
      'id',
      'in',
      liveSessionsOf(db, param('userId'), param('now'))
        .select('id')
        .orderBy('last_used_at', 'desc')
        .orderBy('id', 'desc')
        // SQLite has no OFFSET without a LIMIT.
        .limit(Number.MAX_SAFE_INTEGER)
        .offset(param('keep')),
    )
    .returning('id'),
);

const insertSession = prepareQuery<SessionRow, never>((db, param) =>
  db.insertInto('sessions').values({
    id: param('id'),
    user_id: param('user_id'),
    name: param('name'),
    user_agent: param('user_agent'),
    ip: param('ip'),
    created_at: param('created_at'),
    last_used_at: param('last_used_at'),
    expires_at: param('expires_at'),
    absolute_expires_at: param('absolute_expires_at'),
    revoked_at: param('revoked_at'),
    revoked_reason: param('revoked_reason'),
  }),
);

const insertToken = prepareQuery<{ tokenHash: string; sessionId: string; now: number; expiresAt: number }, never>((db, param) =>
  db.insertInto('refresh_tokens').values({
    token_hash: param('tokenHash'),
    session_id: param('sessionId'),
    created_at: param('now'),
    expires_at: param('expiresAt'),
    used_at: null,
    successor_sealed: null,
  }),
);

/**
 * Why a token cannot be rotated, as its row and its session's tell (unknown: deleted with its
 * account, purged, or never issued); undefined when they allow it.
 */
function refusal(token: TokenWithSession | undefined, now: number): RotationOutcome | undefined {
  if (!token) return { kind: 'refused', reason: 'TOKEN_INVALID' };
  if (token.revoked_at !== null) return { kind: 'refused', reason: 'SESSION_REVOKED' };
  if (token.expires_at <= now || token.absolute_expires_at <= now) return { kind: 'refused', reason: 'TOKEN_EXPIRED' };
  return undefined;
}

function granted(session: SessionRow, refreshToken: string, refreshTokenExpiresAt: number): RotationOutcome {
  return { kind: 'granted', grant: { session, refreshToken, refreshTokenExpiresAt } };
}

/** A user's live sessions: unrevoked, and within both their sliding and their absolute lifetime. */
function liveSessionsOf(executor: Kysely<Database>, userId: string, now: number) {
  return executor
    .selectFrom('sessions')
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', now)
    .where('absolute_expires_at', '>', now);
}
