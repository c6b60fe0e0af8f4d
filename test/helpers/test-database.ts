import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  /** The DATABASE_URL a gateway under test connects to. */
  readonly url: string;
  readonly dialect: 'sqlite' | 'postgres';
  /** Removes the database (file or schema). */
  drop(): Promise<void>;
}

/**
 * A fresh, empty database for one test gateway: a new SQLite file in a temporary folder, or,
 * when TEST_DATABASE_URL names a PostgreSQL server, a new schema there that is dropped after.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (serverUrl) return createPostgresSchema(serverUrl);
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  return {
    url: `sqlite:${join(dir, 'gateway.sqlite')}`,
    dialect: 'sqlite',
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function createPostgresSchema(serverUrl: string): Promise<TestDatabase> {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.href,
    dialect: 'postgres',
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
