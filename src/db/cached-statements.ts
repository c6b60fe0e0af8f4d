import type { Database as SQLiteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/** Enough for every query text the gateway builds, with room for the variable-length IN lists. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 500;

/**
 * A better-sqlite3 database whose prepare() reuses statements by their SQL text. Kysely's SQLite
 * driver prepares every query anew, and on the hot paths (`me`, a refresh) compiling the SQL
 * costs more than running it. Sharing a statement is safe here: better-sqlite3 runs each one to
 * completion synchronously, and the gateway never streams (iterates) results.
 */
export function withCachedStatements(sqlite: SQLiteDatabase, maxStatements = DEFAULT_STATEMENT_CACHE_SIZE): SqliteDatabase {
  const statements = new Map<string, Statement>();
  return {
    prepare(sql) {
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = sqlite.prepare(sql);
        if (statements.size >= maxStatements) statements.delete(statements.keys().next().value!);
      } else {
        statements.delete(sql);
      }
      // Most recently used last, so that the least recently used is the first out.
      statements.set(sql, statement);
      return statement;
    },
    close() {
      statements.clear();
      sqlite.close();
    },
  };
}
