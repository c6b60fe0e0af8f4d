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
  password_hash: string;
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
}

export interface SigningKeysTable {
  kid: string;
  algorithm: string;
  public_jwk: string;
  private_jwk_sealed: string;
  created_at: number;
  retired_at: number | null;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
}
