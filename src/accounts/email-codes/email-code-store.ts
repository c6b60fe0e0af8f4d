import type { Kysely, Transaction } from 'kysely';
import { constantTimeEqual } from '../../auth/opaque-token.js';
import type { Database, EmailCodePurpose } from '../../db/tables.js';

/** A code to store: its hash, whom it was issued for, until when it is valid. */
export interface NewEmailCode {
  readonly purpose: EmailCodePurpose;
  readonly emailKey: string;
  readonly userId: string | null;
  readonly codeHash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/** Why a presented code was refused. Internal: the client is only ever told INVALID_CODE. */
export type CodeRefusal =
  /** No code for the purpose and address: never requested, consumed, replaced, or purged after expiry. */
  | 'NO_CODE'
  | 'EXPIRED'
  /** The code's attempts are used up: void, whatever is presented. */
  | 'ATTEMPTS_EXHAUSTED'
  | 'WRONG_CODE'
  /** The code matched, but no account has the address verified (none had when it was requested, or it changed since). */
  | 'NO_ACCOUNT'
  /** The code matched, but was consumed or replaced, or the account changed, before it could be used. */
  | 'SUPERSEDED';

/** What one attempt at a code found. */
export type CodeAttempt =
  | { readonly matched: true; readonly userId: string | null; readonly codeHash: string }
  | { readonly matched: false; readonly reason: CodeRefusal; readonly userId: string | null };

/**
 * The one-time codes sent by email, one per purpose and address. A code is checked in two steps:
 * `attempt` counts the try (committed, whatever the code) and compares; `consume` deletes the
 * matched code in the transaction of what it is used for, so that a code serves once, and a use
 * that fails leaves it in place.
 */
export class EmailCodeStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /** Stores a code, replacing the previous one of its purpose and address (attempts start over). */
  async replace(code: NewEmailCode): Promise<void> {
    const row = {
      purpose: code.purpose,
      email_key: code.emailKey,
      user_id: code.userId,
      code_hash: code.codeHash,
      created_at: code.createdAt,
      expires_at: code.expiresAt,
      attempts: 0,
    };
    await this.#db
      .insertInto('email_codes')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['purpose', 'email_key']).doUpdateSet({
          user_id: code.userId,
          code_hash: code.codeHash,
          created_at: code.createdAt,
          expires_at: code.expiresAt,
          attempts: 0,
        }),
      )
      .execute();
  }

  /**
   * Deletes the codes that have expired, so that the table holds about the live codes only.
   * A statement of its own, after the request's: two requests purging the same rows at once
   * must not hold each other's locks (on PostgreSQL, a deadlock aborts one).
   */
  async purgeExpired(now: number): Promise<number> {
    const deleted = await this.#db.deleteFrom('email_codes').where('expires_at', '<=', now).executeTakeFirst();
    return Number(deleted.numDeletedRows);
  }

  /**
   * Takes one of the code's attempts and compares the presented hash with it. The attempt is
   * taken by one conditional update, so that concurrent guesses cannot share one: at most
   * `maxAttempts` checks ever reach a code, the right one included.
   */
  async attempt(purpose: EmailCodePurpose, emailKey: string, presentedHash: string, now: number, maxAttempts: number): Promise<CodeAttempt> {
    const taken = await this.#db
      .updateTable('email_codes')
      .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('purpose', '=', purpose)
      .where('email_key', '=', emailKey)
      .where('expires_at', '>', now)
      .where('attempts', '<', maxAttempts)
      .returning(['user_id', 'code_hash'])
      .executeTakeFirst();
    if (taken) {
      if (constantTimeEqual(taken.code_hash, presentedHash)) return { matched: true, userId: taken.user_id, codeHash: taken.code_hash };
      return { matched: false, reason: 'WRONG_CODE', userId: taken.user_id };
    }
    // Why there was no attempt to take, for the security event only.
    const row = await this.#db
      .selectFrom('email_codes')
      .select(['user_id', 'expires_at'])
      .where('purpose', '=', purpose)
      .where('email_key', '=', emailKey)
      .executeTakeFirst();
    if (!row) return { matched: false, reason: 'NO_CODE', userId: null };
    return { matched: false, reason: row.expires_at <= now ? 'EXPIRED' : 'ATTEMPTS_EXHAUSTED', userId: row.user_id };
  }

  /**
   * Deletes a matched code, in `trx`, while it is still the one matched and unexpired; false
   * when it is not (consumed by a concurrent use, replaced by a new request, or expired since).
   * On PostgreSQL a concurrent use waits for this transaction and then finds nothing to delete.
   */
  async consume(trx: Transaction<Database>, purpose: EmailCodePurpose, emailKey: string, codeHash: string, now: number): Promise<boolean> {
    const deleted = await trx
      .deleteFrom('email_codes')
      .where('purpose', '=', purpose)
      .where('email_key', '=', emailKey)
      .where('code_hash', '=', codeHash)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(deleted.numDeletedRows) === 1;
  }
}
