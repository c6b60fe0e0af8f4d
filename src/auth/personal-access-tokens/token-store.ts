import type { Kysely, Selectable } from 'kysely';
import type { Clock } from '../../clock.js';
import type { Database, PersonalAccessTokensTable } from '../../db/tables.js';
import { UnauthenticatedError } from '../../errors.js';
import type { Revocation } from '../../revocation/revocation.js';

export type PersonalAccessTokenRow = Selectable<PersonalAccessTokensTable>;

export interface PersonalAccessTokenStoreOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** Told of every token revoked, after the database has it. */
  readonly onRevoked: (revocation: Revocation) => Promise<void>;
}

/** The personal_access_tokens table. Tokens are found by the SHA-256 of their secret. */
export class PersonalAccessTokenStore {
  readonly #options: PersonalAccessTokenStoreOptions;

  constructor(options: PersonalAccessTokenStoreOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Inserts a token unless its user already holds `maxLive` live (unrevoked, unexpired) tokens;
   * returns false then. The count and the insert are one transaction that first writes the
   * user's row: that row lock serialises concurrent creations on PostgreSQL (SQLite has one
   * writer anyway), so two requests cannot both take the last free place.
   */
  async insertWithinLimit(row: PersonalAccessTokenRow, maxLive: number): Promise<boolean> {
    return this.#options.db.transaction().execute(async (trx) => {
      const locked = await trx
        .updateTable('users')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('id', '=', row.user_id)
        .executeTakeFirst();
      if (Number(locked.numUpdatedRows) === 0) throw new UnauthenticatedError('USER_NOT_FOUND');
      const { live } = await trx
        .selectFrom('personal_access_tokens')
        .select((eb) => eb.fn.countAll<number | string>().as('live'))
        .where('user_id', '=', row.user_id)
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', row.created_at)]))
        .executeTakeFirstOrThrow();
      if (Number(live) >= maxLive) return false;
      await trx.insertInto('personal_access_tokens').values(row).execute();
      return true;
    });
  }

  findByHash(tokenHash: string): Promise<PersonalAccessTokenRow | undefined> {
    return this.#options.db.selectFrom('personal_access_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  /**
   * A user's unrevoked tokens, newest first. Expired ones are included until the retention purge
   * deletes them (DEFAULT_ENDED_PERSONAL_ACCESS_TOKEN_RETENTION_MS after their expiry).
   */
  listUnrevoked(userId: string): Promise<PersonalAccessTokenRow[]> {
    return this.#options.db
      .selectFrom('personal_access_tokens')
      .selectAll()
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
  }

  /** Revokes one of a user's tokens; false when the user has no such unrevoked token. */
  async revoke(userId: string, tokenId: string): Promise<boolean> {
    const result = await this.#options.db
      .updateTable('personal_access_tokens')
      .set({ revoked_at: this.#options.clock.now() })
      .where('id', '=', tokenId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await this.#options.onRevoked({ userId, tokenIds: [tokenId] });
    return true;
  }

  /**
   * Records a use of the token, unless one was recorded less than `minIntervalMs` before. The
   * condition is in the write itself, so instances that each hold the token in their cache, or
   * concurrent first uses, still write at most once per interval.
   */
  async touch(tokenId: string, at: number, minIntervalMs: number): Promise<void> {
    await this.#options.db
      .updateTable('personal_access_tokens')
      .set({ last_used_at: at })
      .where('id', '=', tokenId)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', at - minIntervalMs)]))
      .execute();
  }
}
