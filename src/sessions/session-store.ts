import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { generateOpaqueToken, hashToken } from '../auth/opaque-token.js';
import type { SecretBox } from '../auth/secret-box.js';
import type { Clock } from '../clock.js';
import type { Database, SessionsTable } from '../db/tables.js';
import { UnauthenticatedError } from '../errors.js';
import type { Revocation } from './revocations.js';

export type SessionRow = Selectable<SessionsTable>;

/** Why a session ended; stored with it and shown in revocation events. */
export type RevocationReason = 'LOGOUT' | 'LOGOUT_ALL' | 'REVOKED' | 'PASSWORD_CHANGED' | 'REFRESH_TOKEN_REUSED';

export interface SessionStoreOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** Seals a rotated token's successor for the reuse grace window. */
  readonly box: SecretBox;
  readonly refreshTokenTtlSeconds: number;
  readonly sessionMaxLifetimeSeconds: number;
  readonly refreshReuseGraceSeconds: number;
  readonly rotation: boolean;
  /**
   * Told of every revocation, after the database has it, so that the sessions' access tokens
   * are refused at once (Revocations.announce). Every revoking path here goes through it,
   * refresh-token reuse included.
   */
  readonly onRevoked?: (revocation: Revocation) => Promise<void>;
}

export interface NewSession {
  readonly userId: string;
  /**
   * The password hash the sign-in was checked against. The session is only created while the
   * account still has it: a sign-in that verified a password just replaced (changePassword) or
   * an account just deleted must not outlive the revocation that came with it.
   */
  readonly passwordHash: string;
  readonly name: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/** What revokeAllOfUser revoked. */
export interface RevokedSessionIds {
  /** Every session revoked, expired ones included (an access token may outlive its session). */
  readonly sessionIds: string[];
  /** How many of them were live (unexpired): the ones `devices` showed. */
  readonly liveCount: number;
}

/** A session with the refresh token the client now holds. */
export interface SessionGrant {
  readonly session: SessionRow;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: number;
}

/** How far a grace-window reuse may follow a chain of successors. */
const MAX_SUCCESSOR_HOPS = 8;

type RotationOutcome =
  | { readonly kind: 'granted'; readonly grant: SessionGrant }
  | { readonly kind: 'refused'; readonly reason: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | 'SESSION_REVOKED' }
  | { readonly kind: 'reused'; readonly sessionId: string };

/**
 * Sessions and their refresh tokens. One sign-in is one session is one token family: every
 * refresh rotates the token, and a token presented again after its rotation (outside the grace
 * window) revokes the whole session, since either the client or a thief holds a stolen copy.
 */
export class SessionStore {
  readonly #options: SessionStoreOptions;

  constructor(options: SessionStoreOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Starts a session and issues its first refresh token; undefined when the account is gone or
   * its password is no longer `input.passwordHash`.
   */
  async create(input: NewSession): Promise<SessionGrant | undefined> {
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
    const created = await db.transaction().execute(async (trx) => {
      // A write to the user's row, conditioned on the password checked, locks that row until
      // commit. changePassword and deleteAccount write the row too, so on PostgreSQL they either
      // wait for this session (and then revoke it) or make this condition fail; SQLite has one
      // writer at a time anyway.
      const locked = await trx
        .updateTable('users')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('id', '=', input.userId)
        .where('password_hash', '=', input.passwordHash)
        .executeTakeFirst();
      if (Number(locked.numUpdatedRows) === 0) return false;
      await trx.insertInto('sessions').values(session).execute();
      await trx
        .insertInto('refresh_tokens')
        .values({ token_hash: hashToken(refreshToken), session_id: session.id, created_at: now, expires_at: expiresAt, used_at: null, successor_sealed: null })
        .execute();
      return true;
    });
    return created ? { session, refreshToken, refreshTokenExpiresAt: expiresAt } : undefined;
  }

  /**
   * Exchanges a refresh token for its successor. Throws UNAUTHENTICATED: TOKEN_INVALID,
   * TOKEN_EXPIRED, SESSION_REVOKED, or REFRESH_TOKEN_REUSED after revoking the session. Expiry
   * is checked before reuse, so a rotated token is never needed past its expires_at; the
   * retention purge (src/db/retention.ts) then deletes it, and a token it has deleted is
   * TOKEN_INVALID, like one never issued.
   */
  async rotate(refreshToken: string, ip: string | null): Promise<SessionGrant> {
    const outcome = await this.#options.db.transaction().execute((trx) => this.#rotate(trx, hashToken(refreshToken), refreshToken, ip));
    switch (outcome.kind) {
      case 'granted':
        return outcome.grant;
      case 'refused':
        throw new UnauthenticatedError(outcome.reason);
      case 'reused':
        // Outside the rotation's transaction, so the revocation stands whatever happened there.
        await this.revoke(outcome.sessionId, 'REFRESH_TOKEN_REUSED');
        throw new UnauthenticatedError('REFRESH_TOKEN_REUSED');
    }
  }

  async #rotate(trx: Transaction<Database>, tokenHash: string, presented: string, ip: string | null): Promise<RotationOutcome> {
    const { clock, box, rotation, refreshTokenTtlSeconds } = this.#options;
    const now = clock.now();
    let token = await findToken(trx, tokenHash);
    if (!token) return { kind: 'refused', reason: 'TOKEN_INVALID' };
    if (token.revoked_at !== null) return { kind: 'refused', reason: 'SESSION_REVOKED' };
    if (token.expires_at <= now || token.absolute_expires_at <= now) return { kind: 'refused', reason: 'TOKEN_EXPIRED' };

    const expiresAt = Math.min(now + refreshTokenTtlSeconds * 1000, token.absolute_expires_at);
    if (token.used_at === null) {
      if (!rotation) {
        await trx.updateTable('refresh_tokens').set({ expires_at: expiresAt }).where('token_hash', '=', tokenHash).execute();
        return { kind: 'granted', grant: await touchSession(trx, token.session_id, now, expiresAt, ip, presented) };
      }
      const successor = generateOpaqueToken();
      // The "used_at is null" condition makes the rotation a compare-and-set: of concurrent
      // refreshes of one token exactly one wins, on SQLite and PostgreSQL alike.
      const claimed = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: now, successor_sealed: box.seal(successor, tokenHash) })
        .where('token_hash', '=', tokenHash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) === 1) {
        await trx
          .insertInto('refresh_tokens')
          .values({ token_hash: hashToken(successor), session_id: token.session_id, created_at: now, expires_at: expiresAt, used_at: null, successor_sealed: null })
          .execute();
        await this.#forgetExpiredSuccessors(trx, token.session_id, now);
        return { kind: 'granted', grant: await touchSession(trx, token.session_id, now, expiresAt, ip, successor) };
      }
      token = await findToken(trx, tokenHash);
      if (!token) return { kind: 'refused', reason: 'TOKEN_INVALID' };
    }
    return this.#reuse(trx, token, now, ip);
  }

  /**
   * A token used again. Inside the grace window this is the same client racing itself (two tabs
   * refreshing at once): it gets the live successor, so the chain stays single. Otherwise reuse.
   */
  async #reuse(trx: Transaction<Database>, first: TokenWithSession, now: number, ip: string | null): Promise<RotationOutcome> {
    const graceMs = this.#options.refreshReuseGraceSeconds * 1000;
    let token: TokenWithSession | undefined = first;
    for (let hop = 0; hop < MAX_SUCCESSOR_HOPS && token; hop++) {
      if (token.used_at === null) {
        if (token.expires_at <= now) return { kind: 'refused', reason: 'TOKEN_EXPIRED' };
        return { kind: 'granted', grant: await touchSession(trx, token.session_id, now, token.expires_at, ip, token.successorRaw!) };
      }
      if (graceMs === 0 || now - token.used_at > graceMs || token.successor_sealed === null) break;
      const successorRaw = this.#options.box.open(token.successor_sealed, token.token_hash);
      const next = await findToken(trx, hashToken(successorRaw));
      token = next ? { ...next, successorRaw } : undefined;
    }
    return { kind: 'reused', sessionId: first.session_id };
  }

  /** Successors are kept sealed only through the grace window; after it they are erased. */
  async #forgetExpiredSuccessors(trx: Transaction<Database>, sessionId: string, now: number): Promise<void> {
    const graceMs = this.#options.refreshReuseGraceSeconds * 1000;
    await trx
      .updateTable('refresh_tokens')
      .set({ successor_sealed: null })
      .where('session_id', '=', sessionId)
      .where('successor_sealed', 'is not', null)
      .where('used_at', '<', now - graceMs)
      .execute();
  }

  /** A user's live sessions, newest first. */
  async listActive(userId: string): Promise<SessionRow[]> {
    const now = this.#options.clock.now();
    return this.#options.db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('absolute_expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  /** Revokes one session; false when it was already revoked or does not exist. */
  async revoke(sessionId: string, reason: RevocationReason): Promise<boolean> {
    return this.#revokeOne(sessionId, undefined, reason);
  }

  /**
   * Revokes one of a user's own sessions; false when the user has no such unrevoked session,
   * whether the id is unknown, already revoked or another user's. One conditional write, so
   * the answer cannot change between a check and the revocation.
   */
  async revokeOwn(userId: string, sessionId: string, reason: RevocationReason): Promise<boolean> {
    return this.#revokeOne(sessionId, userId, reason);
  }

  async #revokeOne(sessionId: string, ownerId: string | undefined, reason: RevocationReason): Promise<boolean> {
    let query = this.#options.db
      .updateTable('sessions')
      .set({ revoked_at: this.#options.clock.now(), revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null);
    if (ownerId !== undefined) query = query.where('user_id', '=', ownerId);
    const revoked = await query.returning('user_id').executeTakeFirst();
    if (!revoked) return false;
    await this.#options.onRevoked?.({ userId: revoked.user_id, sessionIds: [sessionId] });
    return true;
  }

  /**
   * Revokes every unrevoked session of a user, optionally sparing one. Expired sessions are
   * revoked too: an access token issued just before a session's absolute expiry outlives it.
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
      let query = trx.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (exceptSessionId !== undefined) query = query.where('id', '!=', exceptSessionId);
      return query.returning(['id', 'expires_at', 'absolute_expires_at']).execute();
    });
    const sessionIds = rows.map((row) => row.id);
    if (sessionIds.length > 0) await onRevoked?.({ userId, sessionIds });
    return { sessionIds, liveCount: rows.filter((row) => row.expires_at > now && row.absolute_expires_at > now).length };
  }

  /** Sessions revoked at or after a time: what a fresh instance must refuse at once. */
  async revokedSince(since: number): Promise<{ id: string; userId: string; revokedAt: number }[]> {
    const rows = await this.#options.db.selectFrom('sessions').select(['id', 'user_id', 'revoked_at']).where('revoked_at', '>=', since).execute();
    return rows.map((row) => ({ id: row.id, userId: row.user_id, revokedAt: row.revoked_at! }));
  }
}

interface TokenWithSession {
  token_hash: string;
  session_id: string;
  expires_at: number;
  used_at: number | null;
  successor_sealed: string | null;
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
      'sessions.revoked_at',
      'sessions.absolute_expires_at',
    ])
    .where('refresh_tokens.token_hash', '=', tokenHash)
    .executeTakeFirst();
}

/** Records a refresh on the session and returns the grant for the token now in the client's hands. */
async function touchSession(
  trx: Transaction<Database>,
  sessionId: string,
  now: number,
  expiresAt: number,
  ip: string | null,
  refreshToken: string,
): Promise<SessionGrant> {
  // RETURNING (SQLite 3.35+, PostgreSQL): the updated row without a second statement.
  const session = await trx
    .updateTable('sessions')
    .set({ last_used_at: now, expires_at: expiresAt, ...(ip !== null ? { ip } : {}) })
    .where('id', '=', sessionId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { session, refreshToken, refreshTokenExpiresAt: expiresAt };
}
