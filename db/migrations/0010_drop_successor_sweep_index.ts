import { type Kysely, sql } from 'kysely';

// 0003's index served the sweep of sealed successors that every rotation ran by session. The
// retention purge does that now (src/db/retention.ts, through 0008's index), and nothing reads
// by (session_id, used_at) any more; every refresh still paid for keeping it up to date: one
// more page written per commit.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('refresh_tokens_sealed_successor_idx').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('refresh_tokens_sealed_successor_idx')
    .on('refresh_tokens')
    .columns(['session_id', 'used_at'])
    .where(sql.ref('successor_sealed'), 'is not', null)
    .execute();
}
