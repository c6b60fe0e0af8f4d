import type { Kysely } from 'kysely';

// logoutAll and changePassword revoke "every session of the user that existed at a time, but
// one" (src/sessions/revoked-users.ts): one row per user, the latest, however many sessions the
// user had. Instances that missed the broadcast, and instances starting, read the recent ones
// by revoked_before; the row goes with the account.
// Migrations see the database as it was when they were written, never today's table types.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('user_session_revocations')
    .addColumn('user_id', 'varchar(36)', (col) => col.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('revoked_before', 'bigint', (col) => col.notNull())
    .addColumn('except_session_id', 'varchar(36)')
    .addColumn('reason', 'varchar(32)', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('user_session_revocations_revoked_before_idx').on('user_session_revocations').column('revoked_before').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('user_session_revocations').execute();
}
