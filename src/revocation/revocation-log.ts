import type { Kysely } from 'kysely';
import type { Database } from '../db/tables.js';
import type { RevokedSessionReason } from './revoked-sessions.js';
import type { SessionState, UserRevocationMarker } from './revoked-users.js';

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

export interface RevocationLogOptions {
  readonly db: Kysely<Database>;
}

/**
 * What the database says was revoked, read for revocation alone: the recent revocations an
 * instance catches up on (Revocations.catchUp) and the one session row a per-user marker cannot
 * decide without (RevokedUsers). The stores that revoke write these rows and announce; this
 * reads them back. It depends on the database only, never on those stores, so that Revocations
 * can be built before them and handed to them (see src/services.ts).
 */
export class RevocationLog {
  readonly #db: Kysely<Database>;

  constructor({ db }: RevocationLogOptions) {
    this.#db = db;
  }

  /** Sessions revoked, or deleted with their account, at or after a time: what a fresh instance must refuse at once. */
  async sessionsRevokedSince(since: number): Promise<StoredRevocation[]> {
    const [revoked, deleted] = await Promise.all([
      this.#db.selectFrom('sessions').select(['id', 'user_id', 'revoked_at']).where('revoked_at', '>=', since).execute(),
      this.#db
        .selectFrom('deleted_credentials')
        .select(['credential_id', 'deleted_at'])
        .where('kind', '=', 'session')
        .where('deleted_at', '>=', since)
        .execute(),
    ]);
    return [
      ...revoked.map((row): StoredRevocation => ({ sessionId: row.id, userId: row.user_id, revokedAt: row.revoked_at!, reason: 'SESSION_REVOKED' })),
      ...deleted.map((row): StoredRevocation => ({ sessionId: row.credential_id, revokedAt: row.deleted_at, reason: 'USER_NOT_FOUND' })),
    ];
  }

  /** Personal access tokens revoked at or after a time. */
  async tokensRevokedSince(since: number): Promise<StoredTokenRevocation[]> {
    const rows = await this.#db.selectFrom('personal_access_tokens').select(['id', 'user_id', 'revoked_at']).where('revoked_at', '>=', since).execute();
    return rows.map((row) => ({ tokenId: row.id, userId: row.user_id, revokedAt: row.revoked_at! }));
  }

  /** Accounts deleted at or after a time. */
  async usersDeletedSince(since: number): Promise<{ userId: string; deletedAt: number }[]> {
    const rows = await this.#db
      .selectFrom('deleted_credentials')
      .select(['credential_id', 'deleted_at'])
      .where('kind', '=', 'user')
      .where('deleted_at', '>=', since)
      .execute();
    return rows.map((row) => ({ userId: row.credential_id, deletedAt: row.deleted_at }));
  }

  /** Users whose row changed (renamed, password changed) at or after a time (by updated_at, indexed). */
  async usersChangedSince(since: number): Promise<{ userId: string; updatedAt: number }[]> {
    const rows = await this.#db.selectFrom('users').select(['id', 'updated_at']).where('updated_at', '>=', since).execute();
    return rows.map((row) => ({ userId: row.id, updatedAt: row.updated_at }));
  }

  /** Per-user markers (logoutAll, changePassword) written at or after a time (by revoked_before, indexed). */
  async userRevocationsSince(since: number): Promise<UserRevocationMarker[]> {
    const rows = await this.#db
      .selectFrom('user_session_revocations')
      .select(['user_id', 'revoked_before', 'except_session_id'])
      .where('revoked_before', '>=', since)
      .execute();
    return rows.map((row) => ({
      userId: row.user_id,
      revokedBefore: row.revoked_before,
      ...(row.except_session_id !== null ? { exceptSessionId: row.except_session_id } : {}),
    }));
  }

  /** Signing keys revoked at or after a time (a table of a few rows). */
  async signingKeysRevokedSince(since: number): Promise<{ kid: string; revokedAt: number }[]> {
    const rows = await this.#db.selectFrom('signing_keys').select(['kid', 'revoked_at']).where('revoked_at', '>=', since).execute();
    return rows.map((row) => ({ kid: row.kid, revokedAt: Number(row.revoked_at) }));
  }

  /** What decides whether a marker revoked a session (RevokedUsers): one row by primary key. */
  async sessionState(sessionId: string): Promise<SessionState | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .select(['created_at', 'revoked_at', 'expires_at', 'absolute_expires_at'])
      .where('id', '=', sessionId)
      .executeTakeFirst();
    return row && { createdAt: row.created_at, revokedAt: row.revoked_at, expiresAt: row.expires_at, absoluteExpiresAt: row.absolute_expires_at };
  }
}
