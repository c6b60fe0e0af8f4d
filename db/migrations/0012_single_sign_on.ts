import type { Kysely } from 'kysely';

// Single sign-on over OpenID Connect (issue #16).
//
// sso_identities: an identity at a provider (its `sub`) belongs to one account, and an account
// has at most one identity per provider (unlinkSsoIdentity names the provider only). The rows go
// with the account (ON DELETE CASCADE). `email` is the claim as it was at the last sign-in,
// shown to the user only: it never links or finds an account.
//
// sso_pending_logins: a sign-in between its start and the provider's answer, keyed by the
// SHA-256 of its `state`, so that any instance can complete it and it is used once (the row is
// deleted by the statement that reads it). The PKCE verifier is sealed (GATEWAY_ENCRYPTION_SECRET).
// A link started by a signed-in user goes with the account too.
//
// Migrations see the database as it was when they were written, never today's table types.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sso_identities')
    .addColumn('provider', 'varchar(32)', (col) => col.notNull())
    .addColumn('subject', 'varchar(255)', (col) => col.notNull())
    .addColumn('user_id', 'varchar(36)', (col) => col.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'varchar(320)')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('sso_identities_pk', ['provider', 'subject'])
    .execute();
  await db.schema.createIndex('sso_identities_user_provider_idx').on('sso_identities').columns(['user_id', 'provider']).unique().execute();

  await db.schema
    .createTable('sso_pending_logins')
    .addColumn('state_hash', 'varchar(64)', (col) => col.primaryKey())
    .addColumn('provider', 'varchar(32)', (col) => col.notNull())
    .addColumn('purpose', 'varchar(16)', (col) => col.notNull())
    .addColumn('user_id', 'varchar(36)', (col) => col.references('users.id').onDelete('cascade'))
    .addColumn('code_verifier_sealed', 'text', (col) => col.notNull())
    .addColumn('nonce', 'varchar(128)', (col) => col.notNull())
    .addColumn('redirect_uri', 'varchar(2048)', (col) => col.notNull())
    .addColumn('return_to', 'varchar(2048)')
    .addColumn('browser_binding_hash', 'varchar(64)')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('expires_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('sso_pending_logins_expires_at_idx').on('sso_pending_logins').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('sso_pending_logins').execute();
  await db.schema.dropTable('sso_identities').execute();
}
