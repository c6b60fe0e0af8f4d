import { type Kysely, sql } from 'kysely';

// Accounts may have an email address, and one-time codes are sent to it (issue 16).
//
// An address is unique among verified addresses only, compared lower-cased (email_key): an
// unverified address is a claim, which anyone may make for any address without learning whether
// another account holds it (no "address taken" answer to enumerate with) and without keeping its
// owner from claiming it (pre-hijacking). Only the mailbox's owner can verify, so at most one
// account ever holds an address verified, and code sign-in and password reset use only those.
//
// email_codes holds at most one code per purpose and address, so that a new request replaces
// the previous code; only an HMAC of the code is stored. user_id is the account the code was
// issued for (null when no account has the address: the request did the same work).
// Migrations see the database as it was when they were written, never today's table types.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('email', 'varchar(254)').execute();
  await db.schema.alterTable('users').addColumn('email_key', 'varchar(254)').execute();
  await db.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute();
  await db.schema
    .createIndex('users_verified_email_key_idx')
    .on('users')
    .column('email_key')
    .unique()
    .where(sql.ref('email_verified_at'), 'is not', null)
    .execute();
  await db.schema
    .createTable('email_codes')
    .addColumn('purpose', 'varchar(16)', (col) => col.notNull())
    .addColumn('email_key', 'varchar(254)', (col) => col.notNull())
    .addColumn('user_id', 'varchar(36)', (col) => col.references('users.id').onDelete('cascade'))
    .addColumn('code_hash', 'varchar(64)', (col) => col.notNull())
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('email_codes_pkey', ['purpose', 'email_key'])
    .execute();
  // The expired codes are deleted with every new request (src/accounts/email-codes/email-code-store.ts).
  await db.schema.createIndex('email_codes_expires_at_idx').on('email_codes').column('expires_at').execute();
  // Account deletion cascades here by user_id.
  await db.schema.createIndex('email_codes_user_id_idx').on('email_codes').column('user_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('email_codes').execute();
  await db.schema.dropIndex('users_verified_email_key_idx').execute();
  await db.schema.alterTable('users').dropColumn('email_verified_at').execute();
  await db.schema.alterTable('users').dropColumn('email_key').execute();
  await db.schema.alterTable('users').dropColumn('email').execute();
}
