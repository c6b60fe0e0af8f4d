import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { generateOpaqueToken, hashToken } from '../auth/opaque-token.js';
import type { SecretBox } from '../auth/secret-box.js';
import type { Clock } from '../clock.js';
import type { Database, SessionsTable } from '../db/tables.js';
import { UnauthenticatedError } from '../errors.js';

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
}

export interface NewSession {
  readonly userId: string;
  readonly name: string;
  readonly userAgent: string | null;
  readonly ip: string | null;
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

  /** Starts a session and issues its first refresh token. */
  async create(input: NewSession): Promise<SessionGrant> {
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
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('sessions').values(session).execute();
      await trx
        .insertInto('refresh_tokens')
        .values({ token_hash: hashToken(refreshToken), session_id: session.id, created_at: now, expires_at: expiresAt, used_at: null, successor_sealed: null })
        .execute();
    });
    return { session, refreshToken, refreshTokenExpiresAt: expiresAt };
  }

  /**
   * Exchanges a refresh token for its successor. Throws UNAUTHENTICATED: TOKEN_INVALID,
   * TOKEN_EXPIRED, SESSION_REVOKED, or REFRESH_TOKEN_REUSED after revoking the session.
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

  /** A live (unrevoked, unexpired) session by id. */
  async findActive(sessionId: string): Promise<SessionRow | undefined> {
    const now = this.#options.clock.now();
    return this.#options.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .where('absolute_expires_at', '>', now)
      .executeTakeFirst();
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
    const result = await this.#options.db
      .updateTable('sessions')
      .set({ revoked_at: this.#options.clock.now(), revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Revokes a user's live sessions, optionally sparing one; returns the ids revoked. */
  async revokeAllOfUser(userId: string, reason: RevocationReason, exceptSessionId?: string): Promise<string[]> {
    const { db, clock } = this.#options;
    return db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('sessions').select('id').where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (exceptSessionId !== undefined) query = query.where('id', '!=', exceptSessionId);
      const ids = (await query.execute()).map((row) => row.id);
      if (ids.length > 0) {
        await trx.updateTable('sessions').set({ revoked_at: clock.now(), revoked_reason: reason }).where('id', 'in', ids).execute();
      }
      return ids;
    });
  }

  /** Ids of sessions revoked at or after a time: what a fresh instance must refuse at once. */
  async revokedSince(since: number): Promise<{ id: string; revokedAt: number }[]> {
    const rows = await this.#options.db.selectFrom('sessions').select(['id', 'revoked_at']).where('revoked_at', '>=', since).execute();
    return rows.map((row) => ({ id: row.id, revokedAt: row.revoked_at! }));
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
  await trx
    .updateTable('sessions')
    .set({ last_used_at: now, expires_at: expiresAt, ...(ip !== null ? { ip } : {}) })
    .where('id', '=', sessionId)
    .execute();
  const session = await trx.selectFrom('sessions').selectAll().where('id', '=', sessionId).executeTakeFirstOrThrow();
  return { session, refreshToken, refreshTokenExpiresAt: expiresAt };
}
