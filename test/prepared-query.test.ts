import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { prepareQuery } from '../src/db/prepared-query.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

const usersNamed = prepareQuery<{ prefix: string; after: number }, { id: string; username: string }>((db, param) =>
  db
    .selectFrom('users')
    .select(['id', 'username'])
    .where('username', 'like', sql<string>`${param('prefix')} || '%'`)
    .where('created_at', '>', param('after'))
    // A constant of the query stays where it is among the parameters.
    .where('credential_version', '>=', 1)
    .orderBy('username'),
);

const rename = prepareQuery<{ id: string; username: string }, never>((db, param) =>
  db
    .updateTable('users')
    .set({ username: param('username'), username_key: param('username') })
    .where('id', '=', param('id')),
);

async function openMigrated(database: TestDatabase): Promise<DatabaseHandle> {
  const handle = connectDatabase(database.url);
  await migrateToLatest(handle.db);
  const rows = ['anna', 'anton', 'bert'].map((username, index) => ({
    id: `user-${username}`,
    username,
    username_key: username,
    password_hash: null,
    credential_version: 1,
    created_at: 1000 + index,
    updated_at: 1000 + index,
  }));
  await handle.db.insertInto('users').values(rows).execute();
  return handle;
}

describe('prepared queries', () => {
  let sqlite: { database: TestDatabase; handle: DatabaseHandle };
  beforeAll(async () => {
    // Always SQLite, whatever TEST_DATABASE_URL says: the second database below is PostgreSQL.
    const saved = process.env.TEST_DATABASE_URL;
    delete process.env.TEST_DATABASE_URL;
    try {
      const database = await createTestDatabase();
      sqlite = { database, handle: await openMigrated(database) };
    } finally {
      if (saved !== undefined) process.env.TEST_DATABASE_URL = saved;
    }
  });
  afterAll(async () => {
    await sqlite.handle.close();
    await sqlite.database.drop();
  });

  it('binds new values on every run, in and out of a transaction', async () => {
    const { db } = sqlite.handle;
    const names = async (prefix: string, after: number) => (await usersNamed.execute(db, { prefix, after })).rows.map((row) => row.username);
    expect(await names('an', 0)).toEqual(['anna', 'anton']);
    expect(await names('b', 0)).toEqual(['bert']);
    expect(await names('an', 1000)).toEqual(['anton']);
    await db.transaction().execute(async (trx) => {
      const result = await rename.execute(trx, { id: 'user-bert', username: 'berta' });
      expect(result.numAffectedRows).toBe(1n);
      expect((await usersNamed.execute(trx, { prefix: 'ber', after: 0 })).rows).toEqual([{ id: 'user-bert', username: 'berta' }]);
    });
    expect(await names('bert', 0)).toEqual(['berta']);
  });

  it('refuses a query that writes a value into its SQL instead of binding it', async () => {
    const inlined = prepareQuery<{ name: string }, { id: string }>((db, param) =>
      db
        .selectFrom('users')
        .select('id')
        .where('username', '=', sql.lit(param('name'))),
    );
    await expect(inlined.execute(sqlite.handle.db, { name: 'anna' })).rejects.toThrow(/inlined/);
  });

  it('refuses a query that does not use a parameter it asked for', async () => {
    const unused = prepareQuery<{ name: string }, { id: string }>((db, param) => {
      param('name');
      return db.selectFrom('users').select('id');
    });
    await expect(unused.execute(sqlite.handle.db, { name: 'anna' })).rejects.toThrow(/name is not bound/);
  });

  const postgresUrl = process.env.TEST_DATABASE_URL;
  if (!postgresUrl) console.warn('prepared-query.test.ts: TEST_DATABASE_URL not set; the SQLite-and-PostgreSQL case is skipped');
  it.skipIf(!postgresUrl)('compiles once per dialect when SQLite and PostgreSQL share a process', async () => {
    const database = await createTestDatabase();
    const postgres = await openMigrated(database);
    try {
      // SQLite compiled it first (the tests above); PostgreSQL needs $1 placeholders of its own.
      expect((await usersNamed.execute(postgres.db, { prefix: 'an', after: 0 })).rows.map((row) => row.username)).toEqual(['anna', 'anton']);
      expect((await usersNamed.execute(sqlite.handle.db, { prefix: 'an', after: 0 })).rows.map((row) => row.username)).toEqual(['anna', 'anton']);
      expect((await rename.execute(postgres.db, { id: 'user-anna', username: 'anne' })).numAffectedRows).toBe(1n);
      expect((await usersNamed.execute(postgres.db, { prefix: 'ann', after: 0 })).rows).toEqual([{ id: 'user-anna', username: 'anne' }]);
    } finally {
      await postgres.close();
      await database.drop();
    }
  });
});
