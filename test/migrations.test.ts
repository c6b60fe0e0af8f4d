import { randomBytes } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../db/migrations/index.js';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

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
        await setTimeout(5);
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
