import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { withCachedStatements } from './cached-statements.js';
import { FALLBACK_AUTOCHECKPOINT_PAGES, startWalCheckpointer } from './wal-checkpointer.js';
import { DEFAULT_SQLITE_SYNCHRONOUS, type SqliteSynchronous } from '../config.js';
import type { Database } from './tables.js';

export type DatabaseDialect = 'sqlite' | 'postgres';

export interface ConnectOptions {
  /** SQLite's synchronous pragma; DEFAULT_SQLITE_SYNCHRONOUS. */
  readonly sqliteSynchronous?: SqliteSynchronous;
  /**
   * Told when a PostgreSQL connection breaks (the server restarted, the network dropped). The
   * query that was using it fails on its own and the pool opens a new connection for the next
   * one; this is for the log.
   */
  readonly onConnectionError?: (error: Error) => void;
  /** Told when the background WAL checkpoint of an SQLite file fails (see wal-checkpointer.ts). */
  readonly onCheckpointError?: (error: Error) => void;
}

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly dialect: DatabaseDialect;
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * Opens the database a URL names: `postgres://` or `postgresql://` selects PostgreSQL through a
 * pg pool; `sqlite:PATH` (or `sqlite::memory:`) selects an embedded SQLite file.
 */
export function connectDatabase(url: string, options: ConnectOptions = {}): DatabaseHandle {
  if (/^postgres(ql)?:\/\//.test(url)) return connectPostgres(url, options);
  if (url.startsWith('sqlite:')) return connectSqlite(url.slice('sqlite:'.length), options);
  throw new Error('DATABASE_URL: must start with sqlite: or postgres://');
}

function connectSqlite(path: string, { sqliteSynchronous = DEFAULT_SQLITE_SYNCHRONOUS, onCheckpointError = () => {} }: ConnectOptions): DatabaseHandle {
  if (path === '') throw new Error('DATABASE_URL: sqlite: needs a file path or :memory:');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SQLite(path);
  // WAL lets readers run beside the writer. In WAL mode NORMAL keeps every committed
  // transaction across a crash of the process (the commit is in the WAL file the OS holds) and
  // syncs at checkpoints only; FULL also syncs every commit, for power loss (see SqliteSynchronous).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${sqliteSynchronous}`);
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withCachedStatements(sqlite) }) });
  if (path === ':memory:') return { db, dialect: 'sqlite', close: () => db.destroy() };
  // Checkpoints off the event loop; this connection only checkpoints should the worker fall behind.
  sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  const checkpointer = startWalCheckpointer(path, onCheckpointError);
  return {
    db,
    dialect: 'sqlite',
    async close() {
      await checkpointer.stop();
      await db.destroy();
    },
  };
}

function connectPostgres(url: string, { onConnectionError = () => {} }: ConnectOptions): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 5000,
    // Times are BIGINT epoch milliseconds, well inside Number's safe range; read them as numbers.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // A client that loses its server emits 'error'; unheard, that crashes the process. The pool
  // listens on idle clients only, so listen on every client for the time it is checked out too
  // (between the queries of a transaction, or while one is in flight). The failed query rejects
  // by itself, and the pool drops the broken client when it is released.
  pool.on('connect', (client) => client.on('error', onConnectionError));
  // The pool re-emits an idle client's error, which the listener above has already reported.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}
