import type { Generated } from 'kysely';

/**
 * Row types of the gateway's tables, as kysely sees them. The migrations in db/migrations are
 * the source of truth for the tables; these types follow them. Times are epoch milliseconds in
 * BIGINT columns, the one representation SQLite and PostgreSQL share without conversion.
 */

export interface UsersTable {
  id: string;
  username: string;
  /** Lower-cased username: the unique key that makes names case-insensitively unique. */
  username_key: string;
  /** Null for an account that signs in without a password; password sign-in refuses it. */
  password_hash: string | null;
  /**
   * Bumped by every change that must end the sign-ins in flight (a new password): a session is
   * created only while the version its sign-in read is still current (SessionStore.create). A
   * re-hash of the same password leaves it alone.
   */
  credential_version: Generated<number>;
  created_at: number;
  updated_at: number;
  /** The address as the user typed it; null for an account without one. */
  email: string | null;
  /**
   * The address lower-cased. Unique among verified addresses only: an unverified address is a
   * claim, made without learning whether another account holds it (db/migrations/0011).
   */
  email_key: string | null;
  /** When the address was verified by a code sent to it; null while it is not. Code sign-in and reset need it. */
  email_verified_at: number | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  name: string;
  user_agent: string | null;
  ip: string | null;
  created_at: number;
  last_used_at: number;
  /** When the current refresh token expires (sliding). */
  expires_at: number;
  /** When the session ends whatever its refreshes. */
  absolute_expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
}

export interface RefreshTokensTable {
  token_hash: string;
  session_id: string;
  created_at: number;
  expires_at: number;
  /** When the token was rotated; null while it is the live token of its session. */
  used_at: number | null;
  /** The successor token, encrypted, kept only through the reuse grace window. */
  successor_sealed: string | null;
  /** Who rotated the token (src/sessions/client-fingerprint.ts): the one client its grace window serves. */
  rotated_by: string | null;
  /** How often the rotated token was presented again within its grace window. */
  replay_count: Generated<number>;
}

/**
 * A signing key and its place in the lifecycle (src/auth/signing-key-schedule.ts). What is
 * stored is what transitions decide; when a key retires and is removed follows from the rows
 * and the clock, so that every instance reads the same answer from the same rows.
 */
export interface SigningKeysTable {
  /** Random, never reused. */
  kid: string;
  /**
   * The key's slot in the sequence of keys, unique: of instances that race to create the same
   * key (the first one, the next one), the one whose insert takes the slot wins.
   */
  generation: number;
  algorithm: string;
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: number;
  /** When it starts signing: the key with the latest activates_at not in the future signs. */
  activates_at: number;
  /**
   * When it is removed whatever its successors (a pending key withdrawn, a key the migration
   * found beside the one it made current); null: removed one retention after it retires.
   */
  expires_at: number | null;
  /** Revoked keys are neither published nor accepted, from then on. */
  revoked_at: number | null;
  /**
   * Read by releases before 0009 (a key with it set is neither published nor accepted); written
   * still, on revocation and withdrawal, so that such instances still running during an upgrade
   * refuse those keys too.
   */
  retired_at: number | null;
}

export interface PersonalAccessTokensTable {
  id: string;
  user_id: string;
  /** SHA-256 of the secret, hex; the secret itself is never stored. */
  token_hash: string;
  name: string;
  /** JSON array of scope strings. */
  scopes: string;
  /** The secret's first characters, for display. */
  prefix: string;
  created_at: number;
  expires_at: number | null;
  /** Written at most once a minute per token and instance. */
  last_used_at: number | null;
  revoked_at: number | null;
}

/** What a deleted credential was: a session id, or the hash of a refresh or personal access token. */
/**
 * 'user' records the account itself, only for one access-token lifetime: so that an instance
 * that missed the revocation broadcast can still end the account's open channels and drop its
 * cached tokens (src/revocation/revocations.ts).
 */
export type DeletedCredentialKind = 'session' | 'refresh_token' | 'personal_access_token' | 'user';

export interface DeletedCredentialsTable {
  kind: DeletedCredentialKind;
  credential_id: string;
  deleted_at: number;
  /** When the record is no longer needed (the credential would have expired); null: never. */
  forget_at: number | null;
}

/** What a one-time code sent by email is for. */
export type EmailCodePurpose = 'SIGN_IN' | 'VERIFY_EMAIL' | 'RESET_PASSWORD';

/** The live one-time code of a purpose and an address, at most one (a new request replaces it). */
export interface EmailCodesTable {
  purpose: EmailCodePurpose;
  email_key: string;
  /** The account it was issued for; null when no account has the address (nothing was sent). */
  user_id: string | null;
  /** HMAC-SHA256 of the code, keyed from GATEWAY_ENCRYPTION_SECRET, hex; never the code. */
  code_hash: string;
  created_at: number;
  expires_at: number;
  /** Checks of this code so far, right or wrong; at the limit the code is void. */
  attempts: Generated<number>;
}

/** An identity at an OpenID Connect provider, linked to one account (src/sso/). */
export interface SsoIdentitiesTable {
  /** The provider's name in SSO_PROVIDERS. */
  provider: string;
  /** The ID token's `sub`: with the provider, what the identity is. */
  subject: string;
  user_id: string;
  /** The `email` claim at the last sign-in, for display only: never used to find or link an account. */
  email: string | null;
  /** When it was linked (or its account created). */
  created_at: number;
}

/** Why a single sign-on was started: what its completion may do. */
export type SsoPurpose = 'BROWSER_SIGN_IN' | 'SIGN_IN' | 'LINK';

/** A single sign-on between its start and the provider's answer; used once, within minutes. */
export interface SsoPendingLoginsTable {
  /** SHA-256 of the `state` parameter, hex. */
  state_hash: string;
  provider: string;
  purpose: SsoPurpose;
  /** The signed-in account a LINK is for; null otherwise. */
  user_id: string | null;
  /** The PKCE code verifier, sealed with the state hash as associated data. */
  code_verifier_sealed: string;
  nonce: string;
  /** Where the provider sends the browser back: the token request repeats it. */
  redirect_uri: string;
  /** BROWSER_SIGN_IN: where the browser goes once signed in. */
  return_to: string | null;
  /** BROWSER_SIGN_IN: SHA-256 of the cookie that ties the sign-in to the browser that started it. */
  browser_binding_hash: string | null;
  created_at: number;
  expires_at: number;
}

/** The latest "every session of this user that existed before revoked_before, but one, is revoked" (logoutAll, changePassword). */
export interface UserSessionRevocationsTable {
  user_id: string;
  revoked_before: number;
  except_session_id: string | null;
  reason: string;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  personal_access_tokens: PersonalAccessTokensTable;
  deleted_credentials: DeletedCredentialsTable;
  user_session_revocations: UserSessionRevocationsTable;
  email_codes: EmailCodesTable;
  sso_identities: SsoIdentitiesTable;
  sso_pending_logins: SsoPendingLoginsTable;
}
