import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDatabase } from '../src/db/connect.js';
import { MeDocument, RefreshDocument, RegisterDocument } from '../client/src/operations.js';
import { PASSWORD } from './helpers/accounts.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { type GatewayProcess, spawnGateway } from './helpers/gateway-process.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

let database: TestDatabase;
const processes: GatewayProcess[] = [];
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill()));
  await database?.drop();
});

async function start(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const gateway = await spawnGateway({ DATABASE_URL: database.url, ...env });
  processes.push(gateway);
  return gateway;
}

describe('crash safety', () => {
  // On PostgreSQL the setting is ignored and the transaction is what makes it durable.
  it.each(['NORMAL (the default)', 'FULL'])(
    'never loses a refresh that answered success, across kill -9 and restart, with SQLite synchronous %s',
    async (setting) => {
      database = await createTestDatabase();
      const env: Record<string, string> = setting === 'FULL' ? { SQLITE_SYNCHRONOUS: 'FULL' } : {};
      const first = await start(env);
      const client = new GraphQLClient(first.url);
      const registered = await client.request(RegisterDocument, {
        input: { username: 'durable', password: PASSWORD, refreshTokenDelivery: 'BODY' },
      });
      let token = registered.data!.register.refreshToken!;
      for (let i = 0; i < 5; i++) {
        const rotated = await client.request(RefreshDocument, { refreshToken: token });
        expect(rotated.errors).toBeUndefined();
        token = rotated.data!.refresh.refreshToken!;
      }
      await first.kill();

      const second = await start(env);
      const after = await new GraphQLClient(second.url).request(RefreshDocument, { refreshToken: token });
      expect(after.errors).toBeUndefined();
      const me = await new GraphQLClient(second.url, { authorization: `Bearer ${after.data!.refresh.accessToken}` }).request(MeDocument);
      expect(me.data?.me.username).toBe('durable');
    },
  );

  it.each([
    ['NORMAL', 1],
    ['FULL', 2],
  ] as const)('opens SQLite with synchronous %s when configured so', async (setting, pragmaValue) => {
    const sqlite = await createSqliteFile();
    const handle = connectDatabase(sqlite.url, { sqliteSynchronous: setting });
    try {
      const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(handle.db);
      expect(rows).toEqual([{ synchronous: pragmaValue }]);
      const journal = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(handle.db);
      expect(journal.rows).toEqual([{ journal_mode: 'wal' }]);
    } finally {
      await handle.close();
      await sqlite.drop();
    }
  });
});

/** A SQLite file whatever TEST_DATABASE_URL says: the pragmas are SQLite's. */
async function createSqliteFile(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-pragma-'));
  return { url: `sqlite:${join(dir, 'gateway.sqlite')}`, dialect: 'sqlite', drop: async () => rmSync(dir, { recursive: true, force: true }) };
}
