import type { Insertable, Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { Database, DeletedCredentialKind, DeletedCredentialsTable } from '../db/tables.js';
import type { UnauthenticatedReason } from '../errors.js';
import type { Revocation } from '../revocation/revocation.js';

/** How an unknown credential is refused: its account was deleted, or it never was (or no longer is) one. */
export type UnknownCredentialRefusal = Extract<UnauthenticatedReason, 'USER_NOT_FOUND' | 'TOKEN_INVALID'>;

export interface AccountDeletionsOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** How long access tokens live: a deleted session matters for that long after its last refresh. */
  readonly accessTokenWindowMs: number;
  /** Told of every deletion, after the database has it. */
  readonly onDeleted: (revocation: Revocation) => Promise<void>;
}

/**
 * Deletes accounts. The user's sessions, refresh tokens, personal access tokens, single sign-on
 * identities and links in progress (sso_identities, sso_pending_logins) go with the row (ON
 * DELETE CASCADE). An identity leaves no record: it is no credential anyone presents, and its
 * next sign-in creates a new account (src/sso/). What could still be presented afterwards is
 * remembered in deleted_credentials, without any link to the account, for as long as it could have been
 * valid: so that a restarted instance still refuses the sessions' access tokens, and a deleted
 * account's tokens are answered USER_NOT_FOUND instead of TOKEN_INVALID. The account's id is
 * kept there too, for one access-token lifetime only, for the instances that catch up.
 */
export class AccountDeletions {
  readonly #options: AccountDeletionsOptions;

  constructor(options: AccountDeletionsOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** Deletes a user with everything that belongs to it, then announces the revocation; a no-op for an unknown user. */
  async delete(userId: string): Promise<void> {
    const { db, clock, accessTokenWindowMs, onDeleted } = this.#options;
    const now = clock.now();
    const removed = await db.transaction().execute(async (trx) => {
      // Lock the user's row before reading what belongs to it. A sign-in (SessionStore.create)
      // or a new token (PersonalAccessTokenStore.insertWithinLimit) writes the same row before
      // inserting, so on PostgreSQL it either commits first and is read below, or waits and
      // then finds the account gone; nothing is added unseen between the reads and the delete.
      // The credential version needs no bump: a sign-in's condition on it fails on a missing row.
      const locked = await trx
        .updateTable('users')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('id', '=', userId)
        .executeTakeFirst();
      if (Number(locked.numUpdatedRows) === 0) return undefined;
      // Then the sessions' rows, read as they are once locked (a no-op write locks a row on
      // PostgreSQL and SQLite alike). A refresh locks its session's row before it writes a token
      // (SessionStore.rotate): one in flight commits first and its last_used_at, the start of
      // the access token it hands out, is read here; one that comes later finds the session
      // gone. The same order on both sides, so the cascade below never waits on a refresh that
      // waits on it.
      const sessions = await trx
        .updateTable('sessions')
        .set((eb) => ({ last_used_at: eb.ref('last_used_at') }))
        .where('user_id', '=', userId)
        .returning(['id', 'last_used_at'])
        .execute();
      // Rotated tokens too: presented again they would say REFRESH_TOKEN_REUSED, now USER_NOT_FOUND.
      const refreshTokens = await trx
        .selectFrom('refresh_tokens')
        .innerJoin('sessions', 'sessions.id', 'refresh_tokens.session_id')
        .select(['refresh_tokens.token_hash', 'refresh_tokens.expires_at'])
        .where('sessions.user_id', '=', userId)
        .where('refresh_tokens.expires_at', '>', now)
        .execute();
      const tokens = await trx.selectFrom('personal_access_tokens').select(['id', 'token_hash', 'expires_at']).where('user_id', '=', userId).execute();

      // Every access token of a session was issued at its creation or at a refresh, both of
      // which set last_used_at: one access-token lifetime later none is valid any more.
      const recentSessions = sessions.filter((s) => s.last_used_at + accessTokenWindowMs > now);
      const tombstones: Insertable<DeletedCredentialsTable>[] = [
        tombstone('user', userId, now, now + accessTokenWindowMs),
        ...recentSessions.map((s) => tombstone('session', s.id, now, s.last_used_at + accessTokenWindowMs)),
        ...refreshTokens.map((t) => tombstone('refresh_token', t.token_hash, now, t.expires_at)),
        ...tokens.filter((t) => t.expires_at === null || t.expires_at > now).map((t) => tombstone('personal_access_token', t.token_hash, now, t.expires_at)),
      ];
      for (const batch of chunks(tombstones, 200)) {
        await trx
          .insertInto('deleted_credentials')
          .values(batch)
          .onConflict((oc) => oc.columns(['kind', 'credential_id']).doNothing())
          .execute();
      }
      await trx.deleteFrom('users').where('id', '=', userId).execute();
      return { sessionIds: recentSessions.map((s) => s.id), tokenIds: tokens.map((t) => t.id) };
    });
    // Already deleted (a concurrent request won): that one announced it.
    if (removed) await onDeleted({ userId, ...removed, userDeleted: true });
  }

  /**
   * What a credential the database does not know is answered, for every kind of credential
   * (refresh tokens in Accounts.refresh, personal access tokens in PersonalAccessTokenVerifier):
   * USER_NOT_FOUND when it belonged to an account that has since been deleted and would still be
   * valid, TOKEN_INVALID otherwise. Past forget_at the record is ignored, whether or not the
   * retention purge has deleted it yet, so the answer does not depend on when the purge last ran.
   * (Access tokens are answered from memory: RevocationLog.sessionsRevokedSince and the deletion's broadcast.)
   */
  async refusalOfUnknown(kind: Exclude<DeletedCredentialKind, 'user'>, credentialId: string): Promise<UnknownCredentialRefusal> {
    const row = await this.#options.db
      .selectFrom('deleted_credentials')
      .select('deleted_at')
      .where('kind', '=', kind)
      .where('credential_id', '=', credentialId)
      .where((eb) => eb.or([eb('forget_at', 'is', null), eb('forget_at', '>', this.#options.clock.now())]))
      .executeTakeFirst();
    return row !== undefined ? 'USER_NOT_FOUND' : 'TOKEN_INVALID';
  }
}

function tombstone(kind: DeletedCredentialKind, credentialId: string, now: number, forgetAt: number | null): Insertable<DeletedCredentialsTable> {
  return { kind, credential_id: credentialId, deleted_at: now, forget_at: forgetAt };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
