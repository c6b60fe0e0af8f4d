import { type Kysely, sql } from 'kysely';

// Deleting an account cascades to sso_pending_logins (a link started by the signed-in user), and
// without an index on user_id both databases look for those rows by reading the whole table:
// every pending single sign-on of every visitor, which anyone can start.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('sso_pending_logins_user_id_idx').on('sso_pending_logins').column('user_id').where(sql.ref('user_id'), 'is not', null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('sso_pending_logins_user_id_idx').execute();
}
