import { type Kysely, sql } from 'kysely';

// Two reads of the last few seconds, kept off full scans. The revocation catch-up reads the users
// changed since its previous read (by updated_at), so that an instance that missed a rename's
// broadcast forgets its cached row (src/accounts/user-cache.ts). The retention purge erases the
// sealed successors of rotated tokens once their grace window is over (src/db/retention.ts):
// the index holds only the tokens that still keep one, a few seconds' worth of rotations.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('users_updated_at_idx').on('users').column('updated_at').execute();
  await db.schema
    .createIndex('refresh_tokens_sealed_used_at_idx')
    .on('refresh_tokens')
    .column('used_at')
    .where(sql.ref('successor_sealed'), 'is not', null)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('refresh_tokens_sealed_used_at_idx').execute();
  await db.schema.dropIndex('users_updated_at_idx').execute();
}
