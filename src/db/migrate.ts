import { setTimeout } from 'node:timers/promises';
import { type Kysely, Migrator, type MigrationResultSet, PostgresAdapter, sql } from 'kysely';
import { migrations } from '../../db/migrations/index.js';

/** How often a migration run is tried when another schema vanished under its catalog read. */
const MAX_MIGRATION_ATTEMPTS = 10;

/** Brings the database to the latest migration; throws with the failing migration's name. */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
export async function migrateToLatest(db: Kysely<any>): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations }, migrationTableSchema: await ownSchema(db) });
  for (let attempt = 1; ; attempt++) {
    const result = await migrator.migrateToLatest();
    if (!result.error) return result;
    // kysely finds its migration table by reading the catalog of every schema of the database,
    // with has_schema_privilege() per schema: a schema dropped by someone else during that read
    // fails it with invalid_schema_name (3F000), although ours is untouched. Nothing ran then
    // (the table check comes before any migration), so the run is simply tried again.
    if (attempt < MAX_MIGRATION_ATTEMPTS && isInvalidSchemaName(result.error) && (await ownSchemaExists(db))) {
      await setTimeout(25 * attempt);
      continue;
    }
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed`, { cause: result.error });
  }
}

function isInvalidSchemaName(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '3F000';
}

/** True on SQLite; on PostgreSQL, whether the connection's own schema (still) exists. */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
async function ownSchemaExists(db: Kysely<any>): Promise<boolean> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return true;
  return (await ownSchema(db)) !== undefined;
}

/**
 * The PostgreSQL schema the connection works in (the first of its search_path). Without it,
 * kysely's Migrator takes a kysely_migration table in any other schema of the database for its
 * own, and then fails to use it: a gateway sharing a database with another kysely application,
 * or with another gateway in its own schema, could never migrate. SQLite has one namespace.
 */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
async function ownSchema(db: Kysely<any>): Promise<string | undefined> {
  if (!(db.getExecutor().adapter instanceof PostgresAdapter)) return undefined;
  const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return rows[0]?.schema ?? undefined;
}
