import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from '../db/tables.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { UsernameTakenError } from '../errors.js';
import { usernameKey } from './username.js';

export type UserRow = Selectable<UsersTable>;

/** The users table. */
export class UserStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Inserts a user; USERNAME_TAKEN when the name is in use in any letter case. */
  async create(username: string, passwordHash: string, now: number): Promise<UserRow> {
    const row: UserRow = {
      id: randomUUID(),
      username,
      username_key: usernameKey(username),
      password_hash: passwordHash,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#db.insertInto('users').values(row).execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new UsernameTakenError();
      throw error;
    }
    return row;
  }

  findById(id: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByUsername(username: string): Promise<UserRow | undefined> {
    return this.#db.selectFrom('users').selectAll().where('username_key', '=', usernameKey(username)).executeTakeFirst();
  }

  /** Renames a user; USERNAME_TAKEN when another account holds the name. */
  async rename(id: string, username: string, now: number): Promise<void> {
    try {
      await this.#db
        .updateTable('users')
        .set({ username, username_key: usernameKey(username), updated_at: now })
        .where('id', '=', id)
        .execute();
    } catch (error) {
      if (isUniqueViolation(error)) throw new UsernameTakenError();
      throw error;
    }
  }

  /** Stores a new password hash; `executor` is the transaction it belongs to, if any. */
  async setPasswordHash(id: string, passwordHash: string, now: number, executor: Kysely<Database> = this.#db): Promise<void> {
    await executor.updateTable('users').set({ password_hash: passwordHash, updated_at: now }).where('id', '=', id).execute();
  }

  /**
   * Replaces a hash only while the stored hash is still the one that was verified: a re-hash
   * must never undo a password change that landed meanwhile, and of two password changes that
   * verified the same current password only the first may land. False when it did not apply.
   * `executor` is the transaction it belongs to, if any.
   */
  async replacePasswordHash(id: string, verifiedHash: string, replacement: string, now: number, executor: Kysely<Database> = this.#db): Promise<boolean> {
    const result = await executor
      .updateTable('users')
      .set({ password_hash: replacement, updated_at: now })
      .where('id', '=', id)
      .where('password_hash', '=', verifiedHash)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Deletes a user; sessions and tokens go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
