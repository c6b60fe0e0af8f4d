import { type Kysely, sql } from 'kysely';

// The periodic purge (src/db/retention.ts) finds what has expired by these, a batch at a time,
// without reading the rows still in use. The refresh-token index holds rotated tokens only (a
// token enters it when its rotation sets used_at), so the live token of a session never does.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('refresh_tokens_used_expires_at_idx')
    .on('refresh_tokens')
    .column('expires_at')
    .where(sql.ref('used_at'), 'is not', null)
    .execute();
  await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();
  await db.schema
    .createIndex('personal_access_tokens_expires_at_idx')
    .on('personal_access_tokens')
    .column('expires_at')
    .where(sql.ref('expires_at'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('personal_access_tokens_expires_at_idx').execute();
  await db.schema.dropIndex('sessions_expires_at_idx').execute();
  await db.schema.dropIndex('refresh_tokens_used_expires_at_idx').execute();
}
