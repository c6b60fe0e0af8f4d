import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { hashToken } from '../../src/auth/opaque-token.js';
import { connectDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { BenchDatabase } from './bench-database.js';

/** Sessions per seeded user: many users with a few devices each, as in a real table. */
export const SESSIONS_PER_SEEDED_USER = 10;
const SQLITE_ROWS_PER_TRANSACTION = 50_000;
const POSTGRES_ROWS_PER_STATEMENT = 100_000;
/** Seeded password hashes are never verified; no login ever reaches them. */
const PLACEHOLDER_PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c2VlZGVk$bm90LWEtcmVhbC1oYXNo';

export interface SeededSessions {
  readonly count: number;
  readonly seconds: number;
  /**
   * The live refresh token of seeded session `index` (1..count). Raw tokens are derived from a
   * random prefix and the index; only their SHA-256 is stored, as the gateway stores tokens.
   */
  refreshToken(index: number): string;
}

/**
 * Migrates a fresh database and fills it with `count` live sessions (each with its live refresh
 * token) spread over count/10 users, written directly to the tables in large transactions.
 * Runs before the gateway starts, so only setup pays for it.
 */
export async function seedSessions(database: BenchDatabase, count: number, now = Date.now()): Promise<SeededSessions> {
  const handle = connectDatabase(database.url);
  try {
    await migrateToLatest(handle.db);
  } finally {
    await handle.close();
  }
  const prefix = randomBytes(12).toString('base64url');
  const started = performance.now();
  const rows = seedRows(count, now);
  if (database.dialect === 'sqlite') seedSqlite(database.url.slice('sqlite:'.length), rows, prefix);
  else await seedPostgres(database.url, rows, prefix);
  return { count, seconds: (performance.now() - started) / 1000, refreshToken: (index) => seededToken(prefix, index) };
}

interface SeedRows {
  readonly sessions: number;
  readonly users: number;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly absoluteExpiresAt: number;
}

function seedRows(count: number, now: number): SeedRows {
  return {
    sessions: count,
    users: Math.max(1, Math.ceil(count / SESSIONS_PER_SEEDED_USER)),
    createdAt: now - 3600_000,
    expiresAt: now + 7 * 24 * 3600_000,
    absoluteExpiresAt: now + 30 * 24 * 3600_000,
  };
}

function seededToken(prefix: string, index: number): string {
  return `${prefix}.${index}`;
}

function seedSqlite(path: string, rows: SeedRows, prefix: string): void {
  const sqlite = new SQLite(path);
  try {
    // Setup only: the gateway reopens the file with its own (durable) settings.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = OFF');
    const insertUser = sqlite.prepare('INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)');
    const insertSession = sqlite.prepare(
      `INSERT INTO sessions (id, user_id, name, user_agent, ip, created_at, last_used_at, expires_at, absolute_expires_at, revoked_at, revoked_reason)
       VALUES (?, ?, 'Seeded device', NULL, '127.0.0.1', ?, ?, ?, ?, NULL, NULL)`,
    );
    const insertToken = sqlite.prepare(
      'INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at, successor_sealed) VALUES (?, ?, ?, ?, NULL, NULL)',
    );
    const users = sqlite.transaction((from: number, to: number) => {
      for (let i = from; i <= to; i++) insertUser.run(`seed-u-${i}`, `seed${i}`, `seed${i}`, PLACEHOLDER_PASSWORD_HASH, rows.createdAt, rows.createdAt);
    });
    const sessions = sqlite.transaction((from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        const sessionId = `seed-s-${i}`;
        insertSession.run(sessionId, `seed-u-${1 + (i % rows.users)}`, rows.createdAt, rows.createdAt, rows.expiresAt, rows.absoluteExpiresAt);
        insertToken.run(hashToken(seededToken(prefix, i)), sessionId, rows.createdAt, rows.expiresAt);
      }
    });
    for (let from = 1; from <= rows.users; from += SQLITE_ROWS_PER_TRANSACTION) users(from, Math.min(rows.users, from + SQLITE_ROWS_PER_TRANSACTION - 1));
    for (let from = 1; from <= rows.sessions; from += SQLITE_ROWS_PER_TRANSACTION)
      sessions(from, Math.min(rows.sessions, from + SQLITE_ROWS_PER_TRANSACTION - 1));
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    sqlite.close();
  }
}

/**
 * PostgreSQL generates the rows itself (generate_series), in batches within one transaction;
 * sha256() gives the same hex digest as the gateway's hashToken. ANALYZE afterwards stands in
 * for the autovacuum statistics a long-lived table would have.
 */
async function seedPostgres(url: string, rows: SeedRows, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (let from = 1; from <= rows.users; from += POSTGRES_ROWS_PER_STATEMENT) {
      await client.query(
        `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at)
         SELECT 'seed-u-' || i, 'seed' || i, 'seed' || i, $1, $2, $2 FROM generate_series($3::int, $4::int) AS i`,
        [PLACEHOLDER_PASSWORD_HASH, rows.createdAt, from, Math.min(rows.users, from + POSTGRES_ROWS_PER_STATEMENT - 1)],
      );
    }
    for (let from = 1; from <= rows.sessions; from += POSTGRES_ROWS_PER_STATEMENT) {
      const to = Math.min(rows.sessions, from + POSTGRES_ROWS_PER_STATEMENT - 1);
      await client.query(
        `INSERT INTO sessions (id, user_id, name, user_agent, ip, created_at, last_used_at, expires_at, absolute_expires_at, revoked_at, revoked_reason)
         SELECT 'seed-s-' || i, 'seed-u-' || (1 + i % $1::int), 'Seeded device', NULL, '127.0.0.1', $2, $2, $3, $4, NULL, NULL
         FROM generate_series($5::int, $6::int) AS i`,
        [rows.users, rows.createdAt, rows.expiresAt, rows.absoluteExpiresAt, from, to],
      );
      await client.query(
        `INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at, successor_sealed)
         SELECT encode(sha256(convert_to($1 || '.' || i, 'UTF8')), 'hex'), 'seed-s-' || i, $2, $3, NULL, NULL
         FROM generate_series($4::int, $5::int) AS i`,
        [prefix, rows.createdAt, rows.expiresAt, from, to],
      );
    }
    await client.query('COMMIT');
    await client.query('ANALYZE users, sessions, refresh_tokens');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}
