import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type BenchDialect = 'sqlite' | 'postgres';

/** A fresh, empty database for one benchmark gateway, removed after. */
export interface BenchDatabase {
  /** The gateway's DATABASE_URL. */
  readonly url: string;
  readonly dialect: BenchDialect;
  drop(): Promise<void>;
}

/**
 * A new SQLite file in a temporary folder, or a new database on the PostgreSQL server, dropped
 * afterwards. A database rather than a schema: kysely's Migrator looks for its migration tables
 * in every schema it can see, so a second schema in one database is taken as already migrated.
 */
export async function createBenchDatabase(dialect: BenchDialect, postgresUrl: string): Promise<BenchDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-bench-'));
    return { url: `sqlite:${join(dir, 'gateway.sqlite')}`, dialect, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `gateway_bench_${randomBytes(6).toString('hex')}`;
  await onPostgres(postgresUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    dialect,
    drop: () => onPostgres(postgresUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

/** Null when the PostgreSQL server answers, else why not. */
export async function postgresUnavailableReason(postgresUrl: string): Promise<string | null> {
  try {
    await onPostgres(postgresUrl, (client) => client.query('select 1'));
    return null;
  } catch (error) {
    return `PostgreSQL not reachable (${(error as Error).message})`;
  }
}

async function onPostgres<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
