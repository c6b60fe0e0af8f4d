import { sql } from 'kysely';
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
});
