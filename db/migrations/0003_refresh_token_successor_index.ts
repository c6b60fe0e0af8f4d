import { type Kysely, sql } from 'kysely';

// Every rotation erases the sealed successors older than the grace window, by session. A
// session keeps one row per refresh it ever made, and only the last few hold a successor: this
// partial index finds those without reading the rest, so a refresh costs the same on a
// session's thousandth rotation as on its first.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('refresh_tokens_sealed_successor_idx')
    .on('refresh_tokens')
    .columns(['session_id', 'used_at'])
    .where(sql.ref('successor_sealed'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('refresh_tokens_sealed_successor_idx').execute();
}
