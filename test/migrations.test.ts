import { randomBytes } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import { type Kysely, Migrator, PostgresAdapter, sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../db/migrations/index.js';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

/** Applies the migrations up to and including `last`, as an older release would have. */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
async function migrateUpTo(db: Kysely<any>, last: string): Promise<void> {
  const names = Object.keys(migrations);
  const older = Object.fromEntries(names.slice(0, names.indexOf(last) + 1).map((name) => [name, migrations[name]!]));
  const migrator = new Migrator({ db, provider: { getMigrations: async () => older }, migrationTableSchema: await ownSchema(db) });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}

/** The PostgreSQL schema of the connection, as src/db/migrate.ts finds it; undefined on SQLite. */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
async function ownSchema(db: Kysely<any>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]!.schema;
}

describe('migrations', () => {
  const opened: { handle: DatabaseHandle; database: TestDatabase }[] = [];
  afterEach(async () => {
    for (const { handle, database } of opened.splice(0)) {
      await handle.close();
      await database.drop();
    }
  });

  async function open() {
    const database = await createTestDatabase();
    const handle = connectDatabase(database.url);
    opened.push({ handle, database });
    return handle;
  }

  it('applies every migration once; a second run finds nothing to do', async () => {
    const handle = await open();
    const first = await migrateToLatest(handle.db);
    expect(first.results?.map((r) => [r.migrationName, r.status])).toEqual(Object.keys(migrations).map((name) => [name, 'Success']));
    const second = await migrateToLatest(handle.db);
    expect(second.results).toEqual([]);
  });

  it('keeps its own migration table beside another migrated database on the same server', async () => {
    // On PostgreSQL each test database is a schema of one database: the second must not take
    // the first one's kysely_migration table for its own. On SQLite they are two files.
    const first = await open();
    await migrateToLatest(first.db);
    const second = await open();
    await migrateToLatest(second.db);
    for (const { db } of [first, second]) {
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
      expect(applied.rows.map((row) => row.name)).toEqual(Object.keys(migrations));
      expect((await db.selectFrom('users').select('id').execute()).length).toBe(0);
    }
  });

  it('0007 keeps every user, session, refresh token and personal access token, and their cascades', async () => {
    const handle = await open();
    const db = handle.db;
    await migrateUpTo(db, '0006_refresh_token_grace_binding');
    const now = 1_700_000_000_000;
    for (const n of [1, 2]) {
      const userId = `user-${n}`;
      await db
        .insertInto('users')
        .values({ id: userId, username: `User${n}`, username_key: `user${n}`, password_hash: `hash-${n}`, created_at: now, updated_at: now + n })
        .execute();
      for (const s of [1, 2]) {
        const sessionId = `session-${n}-${s}`;
        await db
          .insertInto('sessions')
          .values({
            id: sessionId,
            user_id: userId,
            name: 'Device',
            user_agent: null,
            ip: null,
            created_at: now,
            last_used_at: now,
            expires_at: now + 1,
            absolute_expires_at: now + 2,
            revoked_at: null,
            revoked_reason: null,
          })
          .execute();
        await db
          .insertInto('refresh_tokens')
          .values({
            token_hash: `token-${n}-${s}`,
            session_id: sessionId,
            created_at: now,
            expires_at: now + 1,
            used_at: null,
            successor_sealed: null,
            rotated_by: null,
          })
          .execute();
      }
      await db
        .insertInto('personal_access_tokens')
        .values({
          id: `pat-${n}`,
          user_id: userId,
          token_hash: `pat-hash-${n}`,
          name: 'CI',
          scopes: '[]',
          prefix: 'gw_',
          created_at: now,
          expires_at: null,
          last_used_at: null,
          revoked_at: null,
        })
        .execute();
      await db.insertInto('user_session_revocations').values({ user_id: userId, revoked_before: now, except_session_id: null, reason: 'LOGOUT_ALL' }).execute();
    }
    const snapshot = async () => ({
      users: await db.selectFrom('users').select(['id', 'username', 'username_key', 'password_hash', 'created_at', 'updated_at']).orderBy('id').execute(),
      sessions: await db.selectFrom('sessions').selectAll().orderBy('id').execute(),
      refreshTokens: await db.selectFrom('refresh_tokens').selectAll().orderBy('token_hash').execute(),
      tokens: await db.selectFrom('personal_access_tokens').selectAll().orderBy('id').execute(),
      revocations: await db.selectFrom('user_session_revocations').selectAll().orderBy('user_id').execute(),
    });
    const before = await snapshot();
    expect(before.sessions).toHaveLength(4);

    await migrateToLatest(db);
    expect(await snapshot()).toEqual(before);
    expect(await db.selectFrom('users').select('credential_version').execute()).toEqual([{ credential_version: 0 }, { credential_version: 0 }]);
    if (handle.dialect === 'sqlite') expect((await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db)).rows).toEqual([{ foreign_keys: 1 }]);
    // An account without a password may exist now; names stay unique in any letter case.
    await db
      .insertInto('users')
      .values({ id: 'user-3', username: 'User3', username_key: 'user3', password_hash: null, created_at: now, updated_at: now })
      .execute();
    await expect(
      db
        .insertInto('users')
        .values({ id: 'user-4', username: 'USER1', username_key: 'user1', password_hash: null, created_at: now, updated_at: now })
        .execute(),
    ).rejects.toThrow();
    // The rows still reference the users table: deleting a user takes its rows along, and a row of nobody is refused.
    await db.deleteFrom('users').where('id', '=', 'user-1').execute();
    const after = await snapshot();
    expect(after.sessions.map((row) => row.id)).toEqual(['session-2-1', 'session-2-2']);
    expect(after.refreshTokens.map((row) => row.token_hash)).toEqual(['token-2-1', 'token-2-2']);
    expect(after.tokens.map((row) => row.id)).toEqual(['pat-2']);
    expect(after.revocations.map((row) => row.user_id)).toEqual(['user-2']);
    await expect(
      db
        .insertInto('personal_access_tokens')
        .values({
          id: 'pat-x',
          user_id: 'user-1',
          token_hash: 'x',
          name: 'x',
          scopes: '[]',
          prefix: 'gw_',
          created_at: now,
          expires_at: null,
          last_used_at: null,
          revoked_at: null,
        })
        .execute(),
    ).rejects.toThrow();
  });

  it('0007 goes down again without losing a session', async () => {
    const handle = await open();
    const db = handle.db;
    await migrateToLatest(db);
    const now = 1_700_000_000_000;
    await db
      .insertInto('users')
      .values({ id: 'user-1', username: 'User1', username_key: 'user1', password_hash: 'hash', created_at: now, updated_at: now })
      .execute();
    await db
      .insertInto('sessions')
      .values({
        id: 'session-1',
        user_id: 'user-1',
        name: 'Device',
        user_agent: null,
        ip: null,
        created_at: now,
        last_used_at: now,
        expires_at: now + 1,
        absolute_expires_at: now + 2,
        revoked_at: null,
        revoked_reason: null,
      })
      .execute();
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema: await ownSchema(db) });
    // Down through every later migration too (they come back off first), then 0007.
    const { error, results } = await migrator.migrateTo('0006_refresh_token_grace_binding');
    expect(error).toBeUndefined();
    expect(results?.at(-1)?.migrationName).toBe('0007_user_credential_version');
    expect(await db.selectFrom('sessions').select('id').execute()).toEqual([{ id: 'session-1' }]);
    await expect(
      db
        .insertInto('users')
        .values({ id: 'user-2', username: 'User2', username_key: 'user2', password_hash: null, created_at: now, updated_at: now })
        .execute(),
    ).rejects.toThrow();
  });

  it('0010 leaves refresh_tokens only the indexes something reads, and gives 0003 back on the way down', async () => {
    const handle = await open();
    const db = handle.db;
    await migrateToLatest(db);
    // The primary key and the cascade from sessions; the retention purge's two (0004, 0008).
    const expected = ['refresh_tokens_session_id_idx', 'refresh_tokens_used_expires_at_idx', 'refresh_tokens_sealed_used_at_idx'].sort();
    expect(await secondaryIndexesOfRefreshTokens(db)).toEqual(expected);
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema: await ownSchema(db) });
    const { error } = await migrator.migrateTo('0009_signing_key_lifecycle');
    expect(error).toBeUndefined();
    expect(await secondaryIndexesOfRefreshTokens(db)).toEqual([...expected, 'refresh_tokens_sealed_successor_idx'].sort());
  });

  const postgresUrl = process.env.TEST_DATABASE_URL;
  if (!postgresUrl) console.warn('migrations: the concurrent-schema test needs TEST_DATABASE_URL (PostgreSQL); skipped');
  it.runIf(postgresUrl)('migrates while other schemas of the same database come and go', async () => {
    // Other tenants of the database (other gateways, other applications) create and drop schemas
    // at any moment; kysely's catalog-wide look-up of its migration table must not fail with them.
    const admin = new pg.Client({ connectionString: postgresUrl });
    await admin.connect();
    let churning = true;
    const churn = (async () => {
      for (let i = 0; churning; i++) {
        const name = `churn_${randomBytes(4).toString('hex')}_${i}`;
        await admin.query(`create schema ${name}; create table ${name}.t (id int primary key, note text)`);
        await admin.query(`drop schema ${name} cascade`);
        // About as often as the suite's test gateways drop theirs, and more.
        await setTimeout(10);
      }
    })();
    try {
      for (let round = 0; round < 15; round++) {
        const handle = await open();
        const result = await migrateToLatest(handle.db);
        expect(result.results?.every((r) => r.status === 'Success')).toBe(true);
      }
    } finally {
      churning = false;
      await churn;
      await admin.end();
    }
  });
});

/** The indexes of refresh_tokens other than its primary key, by name, sorted. */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
async function secondaryIndexesOfRefreshTokens(db: Kysely<any>): Promise<string[]> {
  const names =
    db.getExecutor().adapter instanceof PostgresAdapter
      ? (await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema() and tablename = 'refresh_tokens'`.execute(db))
          .rows
      : (await sql<{ name: string }>`select name from pragma_index_list('refresh_tokens')`.execute(db)).rows;
  return names
    .map((row) => row.name)
    .filter((name) => !name.startsWith('sqlite_autoindex_') && !name.endsWith('_pkey'))
    .sort();
}
