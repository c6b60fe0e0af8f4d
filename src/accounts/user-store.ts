import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { Database, UsersTable } from '../db/tables.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { EmailTakenError, UsernameTakenError } from '../errors.js';
import type { EmailAddress } from './email-codes/email-address.js';
import { usernameKey } from './username.js';

export type UserRow = Selectable<UsersTable>;

/** The users table. */
export class UserStore {
  readonly #db: Kysely<Database>;
  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Inserts a user; USERNAME_TAKEN when the name is in use in any letter case. A null
   * passwordHash makes an account that no password signs in to. An email address is stored
   * unverified.
   */
  async create(username: string, passwordHash: string | null, now: number, email?: EmailAddress): Promise<UserRow> {
    const row: UserRow = {
      id: randomUUID(),
      username,
      username_key: usernameKey(username),
      password_hash: passwordHash,
      credential_version: 0,
      created_at: now,
      updated_at: now,
      email: email?.email ?? null,
      email_key: email?.key ?? null,
      email_verified_at: null,
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

  /** The account whose verified address has this key (emailKey), if any. */
  findByVerifiedEmail(emailKey: string): Promise<UserRow | undefined> {
    // Both conditions, so that the partial unique index (verified addresses) serves the look-up.
    return this.#db.selectFrom('users').selectAll().where('email_key', '=', emailKey).where('email_verified_at', 'is not', null).executeTakeFirst();
  }

  /**
   * Sets a user's address. The same address in another spelling stays verified if it was; any
   * other is stored unverified. Never refused for an address another account holds: that would
   * tell whether it does (db/migrations/0011).
   */
  async setEmail(id: string, email: EmailAddress, now: number): Promise<void> {
    await this.#db
      .updateTable('users')
      .set((eb) => ({
        email: email.email,
        email_key: email.key,
        // Every right-hand side reads the row as it was before the update.
        email_verified_at: eb.case().when('email_key', '=', email.key).then(eb.ref('email_verified_at')).else(null).end(),
        updated_at: now,
      }))
      .where('id', '=', id)
      .execute();
  }

  /**
   * Marks a user's address verified, while it is still `emailKey` and unverified; false when it
   * is not. EMAIL_TAKEN when another account has verified it meanwhile. `executor` is the
   * transaction it belongs to, if any.
   */
  async markEmailVerified(id: string, emailKey: string, now: number, executor: Kysely<Database> = this.#db): Promise<boolean> {
    try {
      const result = await executor
        .updateTable('users')
        .set({ email_verified_at: now, updated_at: now })
        .where('id', '=', id)
        .where('email_key', '=', emailKey)
        .where('email_verified_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    } catch (error) {
      if (isUniqueViolation(error)) throw new EmailTakenError();
      throw error;
    }
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

  /**
   * Stores a password hash without bumping the credential version: a new hash of the same
   * password, which ends no sign-in. `executor` is the transaction it belongs to, if any.
   */
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

  /**
   * Stores a new password and bumps the credential version, only while the version is still the
   * one whose password was verified: of two changes that verified the same current password only
   * the first lands, and every sign-in that read the old version gets no session
   * (SessionStore.create). A concurrent re-hash of the current password does not stand in the
   * way. False when it did not apply. `executor` is the transaction it belongs to, if any.
   */
  async changePasswordHash(id: string, verifiedVersion: number, replacement: string, now: number, executor: Kysely<Database> = this.#db): Promise<boolean> {
    const result = await executor
      .updateTable('users')
      .set({ password_hash: replacement, credential_version: verifiedVersion + 1, updated_at: now })
      .where('id', '=', id)
      .where('credential_version', '=', verifiedVersion)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Deletes a user; sessions and tokens go with it (ON DELETE CASCADE). */
  async delete(id: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
