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

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: number;
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
}
