import { type Kysely, Migrator, type MigrationResultSet, PostgresAdapter, sql } from 'kysely';
import { migrations } from '../../db/migrations/index.js';

/** Brings the database to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema: await ownSchema(db) });
  const result = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed`, { cause: result.error });
  }
  return result;
}

/**
 * The PostgreSQL schema the connection works in (the first of its search_path). Without it,
 * kysely's Migrator takes a kysely_migration table in any other schema of the database for its
 * own, and then fails to use it: a gateway sharing a database with another kysely application,
 * or with another gateway in its own schema, could never migrate. SQLite has one namespace.
 */
async function ownSchema(db: Kysely<any>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema ?? undefined;
}
