import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { UserRow } from '../accounts/user-store.js';
import { usernameKey } from '../accounts/username.js';
import type { Database, SsoIdentitiesTable } from '../db/tables.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { withSuffix } from './username-from-claims.js';

export type SsoIdentityRow = Selectable<SsoIdentitiesTable>;

/** An identity as the provider's ID token proved it. */
export interface ProvenIdentity {
  readonly provider: string;
  readonly subject: string;
  readonly email: string | null;
}

/** The outcome of linkIdentity. */
export type LinkOutcome =
  | { readonly kind: 'linked' | 'already_linked'; readonly identity: SsoIdentityRow }
  /** The identity belongs to another account. */
  | { readonly kind: 'taken' }
  /** The account has another identity at that provider. */
  | { readonly kind: 'provider_in_use' };

/** The outcome of unlinkIdentity. */
export type UnlinkOutcome = 'unlinked' | 'not_found' | 'last_sign_in_method';

/** How many names createAccount tries: the proposed one, then with random suffixes. */
const USERNAME_ATTEMPTS = 6;

/** The sso_identities table, and the account creation that goes with a first sign-in. */
export class SsoIdentityStore {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  find(provider: string, subject: string): Promise<SsoIdentityRow | undefined> {
    return this.#db.selectFrom('sso_identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
  }

  /** The identities linked to an account, oldest first. */
  listOfUser(userId: string): Promise<SsoIdentityRow[]> {
    return this.#db.selectFrom('sso_identities').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('provider').execute();
  }

  /** Keeps the email shown for an identity as the provider last said it. */
  async updateEmail(identity: ProvenIdentity): Promise<void> {
    await this.#db
      .updateTable('sso_identities')
      .set({ email: identity.email })
      .where('provider', '=', identity.provider)
      .where('subject', '=', identity.subject)
      .execute();
  }

  /**
   * Creates an account without a password, with the identity linked, in one transaction: no
   * account is left without its identity. The username is `proposed`, or it with a random
   * suffix when taken. When a concurrent first sign-in of the same identity won, its account is
   * returned instead (`created` false).
   */
  async createAccount(identity: ProvenIdentity, proposed: string, now: number): Promise<{ user: UserRow; created: boolean }> {
    let username = proposed;
    for (let attempt = 1; ; attempt++) {
      const user: UserRow = {
        id: randomUUID(),
        username,
        username_key: usernameKey(username),
        password_hash: null,
        credential_version: 0,
        created_at: now,
        updated_at: now,
        email: null,
        email_key: null,
        email_verified_at: null,
      };
      try {
        await this.#db.transaction().execute(async (trx) => {
          await trx.insertInto('users').values(user).execute();
          await trx
            .insertInto('sso_identities')
            .values({ provider: identity.provider, subject: identity.subject, user_id: user.id, email: identity.email, created_at: now })
            .execute();
        });
        return { user, created: true };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Either the identity was linked meanwhile, or the username is taken.
        const existing = await this.find(identity.provider, identity.subject);
        if (existing) {
          const owner = await this.#db.selectFrom('users').selectAll().where('id', '=', existing.user_id).executeTakeFirst();
          if (owner) return { user: owner, created: false };
        }
        if (attempt >= USERNAME_ATTEMPTS) throw error;
        username = withSuffix(proposed);
      }
    }
  }

  /** Links an identity to an existing account (its signed-in owner asked). */
  async linkIdentity(userId: string, identity: ProvenIdentity, now: number): Promise<LinkOutcome> {
    const row: SsoIdentityRow = { provider: identity.provider, subject: identity.subject, user_id: userId, email: identity.email, created_at: now };
    try {
      await this.#db.insertInto('sso_identities').values(row).execute();
      return { kind: 'linked', identity: row };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      const existing = await this.find(identity.provider, identity.subject);
      if (existing?.user_id === userId) return { kind: 'already_linked', identity: existing };
      return existing ? { kind: 'taken' } : { kind: 'provider_in_use' };
    }
  }

  /**
   * Removes the account's identity at a provider, unless the account would be left with no way
   * to sign in: no password, no other identity and (when `emailSignIn`, email codes being on) no
   * verified email address. The account's row is locked first (a no-op write), so that two
   * unlinks of its last two identities cannot each see the other one still there.
   */
  unlinkIdentity(userId: string, provider: string, { emailSignIn }: { emailSignIn: boolean }): Promise<UnlinkOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      const user = await trx
        .updateTable('users')
        .set((eb) => ({ updated_at: eb.ref('updated_at') }))
        .where('id', '=', userId)
        .returning(['password_hash', 'email_verified_at'])
        .executeTakeFirst();
      if (!user) return 'not_found';
      const identities = await trx.selectFrom('sso_identities').select('provider').where('user_id', '=', userId).execute();
      if (!identities.some((identity) => identity.provider === provider)) return 'not_found';
      const otherWayIn = user.password_hash !== null || (emailSignIn && user.email_verified_at !== null) || identities.length > 1;
      if (!otherWayIn) return 'last_sign_in_method';
      await trx.deleteFrom('sso_identities').where('user_id', '=', userId).where('provider', '=', provider).execute();
      return 'unlinked';
    });
  }
}
