import type { Kysely, Selectable } from 'kysely';
import { hashToken } from '../auth/opaque-token.js';
import type { SecretBox } from '../auth/secret-box.js';
import type { Clock } from '../clock.js';
import type { Database, SsoPendingLoginsTable, SsoPurpose } from '../db/tables.js';

/** How long a started sign-in may take at the provider; past it, its state is refused. */
export const DEFAULT_PENDING_LOGIN_TTL_MS = 10 * 60_000;

/** What a start stores for its completion. */
export interface NewPendingLogin {
  readonly state: string;
  readonly provider: string;
  readonly purpose: SsoPurpose;
  readonly userId: string | null;
  readonly codeVerifier: string;
  readonly nonce: string;
  readonly redirectUri: string;
  readonly returnTo: string | null;
  /** The browser-binding cookie's value (BROWSER_SIGN_IN); only its hash is stored. */
  readonly browserBinding: string | null;
}

/** A pending sign-in as its completion reads it, the verifier unsealed. */
export interface PendingLogin extends Omit<Selectable<SsoPendingLoginsTable>, 'code_verifier_sealed'> {
  readonly codeVerifier: string;
}

export interface SsoPendingLoginsOptions {
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  /** Seals the PKCE verifiers at rest. */
  readonly box: SecretBox;
  /** DEFAULT_PENDING_LOGIN_TTL_MS */
  readonly ttlMs?: number;
}

/**
 * Started single sign-ons, in the database so that any instance completes what another started.
 * Stored by the SHA-256 of their state, the PKCE verifier sealed: a copy of the table neither
 * completes a sign-in nor finds one by the state seen in a URL.
 */
export class SsoPendingLogins {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #box: SecretBox;
  readonly #ttlMs: number;

  constructor({ db, clock, box, ttlMs = DEFAULT_PENDING_LOGIN_TTL_MS }: SsoPendingLoginsOptions) {
    this.#db = db;
    this.#clock = clock;
    this.#box = box;
    this.#ttlMs = ttlMs;
  }

  /** Stores a started sign-in, and deletes those that have expired (they are refused anyway). */
  async save(login: NewPendingLogin): Promise<void> {
    const now = this.#clock.now();
    const stateHash = hashToken(login.state);
    await this.#db.deleteFrom('sso_pending_logins').where('expires_at', '<=', now).execute();
    await this.#db
      .insertInto('sso_pending_logins')
      .values({
        state_hash: stateHash,
        provider: login.provider,
        purpose: login.purpose,
        user_id: login.userId,
        code_verifier_sealed: this.#box.seal(login.codeVerifier, stateHash),
        nonce: login.nonce,
        redirect_uri: login.redirectUri,
        return_to: login.returnTo,
        browser_binding_hash: login.browserBinding === null ? null : hashToken(login.browserBinding),
        created_at: now,
        expires_at: now + this.#ttlMs,
      })
      .execute();
  }

  /**
   * Takes the sign-in a state names: read and deleted by one statement, so that of two
   * completions presenting the same state (a replayed callback) exactly one gets it. Undefined
   * for an unknown, already used or expired state.
   */
  async take(state: string): Promise<PendingLogin | undefined> {
    const row = await this.#db.deleteFrom('sso_pending_logins').where('state_hash', '=', hashToken(state)).returningAll().executeTakeFirst();
    if (!row || row.expires_at <= this.#clock.now()) return undefined;
    const { code_verifier_sealed: sealed, ...rest } = row;
    return { ...rest, codeVerifier: this.#box.open(sealed, row.state_hash) };
  }
}
