import type { Kysely } from 'kysely';

// Migrations see the database as it was when they were written, never today's table types.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('personal_access_tokens')
    .addColumn('id', 'varchar(36)', (col) => col.primaryKey())
    .addColumn('user_id', 'varchar(36)', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('token_hash', 'varchar(64)', (col) => col.notNull().unique())
    .addColumn('name', 'varchar(100)', (col) => col.notNull())
    .addColumn('scopes', 'text', (col) => col.notNull())
    .addColumn('prefix', 'varchar(16)', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint')
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute();
  await db.schema.createIndex('personal_access_tokens_user_id_idx').on('personal_access_tokens').columns(['user_id', 'created_at']).execute();
  // Instances that missed revocation broadcasts read the recent ones by this.
  await db.schema.createIndex('personal_access_tokens_revoked_at_idx').on('personal_access_tokens').column('revoked_at').execute();

  // Credentials of deleted accounts. Their rows go with the account (ON DELETE CASCADE), yet a
  // restarted instance must still refuse their access tokens, and a presented token must be told
  // USER_NOT_FOUND rather than TOKEN_INVALID. No credential leads back to the account; the
  // account's own (random) id is kept only for one access-token lifetime, for instances that
  // missed the broadcast.
  await db.schema
    .createTable('deleted_credentials')
    .addColumn('kind', 'varchar(32)', (col) => col.notNull())
    .addColumn('credential_id', 'varchar(64)', (col) => col.notNull())
    .addColumn('deleted_at', 'bigint', (col) => col.notNull())
    .addColumn('forget_at', 'bigint')
    .addPrimaryKeyConstraint('deleted_credentials_pk', ['kind', 'credential_id'])
    .execute();
  await db.schema.createIndex('deleted_credentials_deleted_at_idx').on('deleted_credentials').columns(['kind', 'deleted_at']).execute();
  await db.schema.createIndex('deleted_credentials_forget_at_idx').on('deleted_credentials').column('forget_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('deleted_credentials').execute();
  await db.schema.dropTable('personal_access_tokens').execute();
}
