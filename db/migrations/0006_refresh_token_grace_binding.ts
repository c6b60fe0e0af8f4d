import type { Kysely } from 'kysely';

// A rotated refresh token may be presented again within the reuse grace window only by the
// client that rotated it, and only a few times (src/sessions/session-store.ts): who rotated it
// (a SHA-256 of its user agent and IP family, src/sessions/client-fingerprint.ts) and how often
// it has been replayed are kept with it. Tokens rotated before this migration have no rotator
// and so no grace; that lasts one window.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').addColumn('rotated_by', 'varchar(64)').execute();
  await db.schema
    .alterTable('refresh_tokens')
    .addColumn('replay_count', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').dropColumn('replay_count').execute();
  await db.schema.alterTable('refresh_tokens').dropColumn('rotated_by').execute();
}
