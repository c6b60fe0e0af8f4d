import SQLite from 'better-sqlite3';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { transactionRunner } from '../src/db/group-commit.js';
import type { Database } from '../src/db/tables.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

// transactionRunner: one transaction per unit of work on PostgreSQL, units of one event-loop
// turn grouped into one transaction (a savepoint each) on SQLite. The semantics a caller
// relies on hold on both; the grouping itself is SQLite's.

const onPostgres = Boolean(process.env.TEST_DATABASE_URL);
const opened: { handle: DatabaseHandle; database: TestDatabase }[] = [];
afterEach(async () => {
  for (const { handle, database } of opened.splice(0)) {
    await handle.close();
    await database.drop();
  }
});

async function probeDatabase(): Promise<{ db: Kysely<Database>; url: string }> {
  const database = await createTestDatabase();
  const handle = connectDatabase(database.url);
  opened.push({ handle, database });
  await sql`create table probe (id varchar(20) primary key, parent varchar(20) references probe (id))`.execute(handle.db);
  return { db: handle.db, url: database.url };
}

const insert =
  (id: string, parent: string | null = null) =>
  (trx: Kysely<Database>) =>
    sql`insert into probe (id, parent) values (${id}, ${parent})`.execute(trx).then(() => id);

async function ids(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`select id from probe order by id`.execute(db);
  return rows.map((row) => row.id);
}

describe('transactionRunner', () => {
  it('runs each unit as its own transaction would: a unit that throws is undone alone and rejects alone', async () => {
    const { db } = await probeDatabase();
    const run = transactionRunner(db);
    const refusal = new Error('refused');
    const outcomes = await Promise.allSettled([
      run(insert('a')),
      run(async (trx) => {
        await insert('b')(trx);
        throw refusal;
      }),
      run(insert('c')),
    ]);
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 'a' },
      { status: 'rejected', reason: refusal },
      { status: 'fulfilled', value: 'c' },
    ]);
    expect(await ids(db)).toEqual(['a', 'c']);
  });

  it('commits more units than one transaction holds, in turn', async () => {
    const { db } = await probeDatabase();
    const run = transactionRunner(db, { maxUnits: 2 });
    const names = ['a', 'b', 'c', 'd', 'e'];
    expect(await Promise.all(names.map((name) => run(insert(name))))).toEqual(names);
    expect(await ids(db)).toEqual(names);
  });
});

describe.skipIf(onPostgres)('transactionRunner on SQLite (group commit)', () => {
  it('groups the units of one turn: none is answered before the one commit of them all', async () => {
    const { db, url } = await probeDatabase();
    const run = transactionRunner(db);
    const reader = new SQLite(url.slice('sqlite:'.length), { readonly: true });
    try {
      const seenByOthers = () => (reader.prepare('select id from probe order by id').all() as { id: string }[]).map((row) => row.id);
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const answered: string[][] = [];
      const first = run(async (trx) => {
        await insert('a')(trx);
        // The group's transaction stays open while this unit waits.
        await held;
        return 'a';
      }).then(() => answered.push(seenByOthers()));
      const second = run(insert('b')).then(() => answered.push(seenByOthers()));
      // Let the group start and reach the wait: nothing is committed, nothing answered.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      expect(seenByOthers()).toEqual([]);
      expect(answered).toEqual([]);
      release();
      await Promise.all([first, second]);
      // Each was answered with both rows already visible to another connection: one commit.
      expect(answered).toEqual([
        ['a', 'b'],
        ['a', 'b'],
      ]);
    } finally {
      reader.close();
    }
  });

  it('rejects every unit of the group, and writes nothing, when the commit fails', async () => {
    const { db } = await probeDatabase();
    const run = transactionRunner(db);
    const outcomes = await Promise.allSettled([
      run(insert('a')),
      run(async (trx) => {
        // A foreign key checked at COMMIT only: the commit of the whole group fails.
        await sql`pragma defer_foreign_keys = on`.execute(trx);
        return insert('b', 'nobody')(trx);
      }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(await ids(db)).toEqual([]);
    // The runner goes on after a failed group.
    expect(await run(insert('c'))).toBe('c');
    expect(await ids(db)).toEqual(['c']);
  });
});
