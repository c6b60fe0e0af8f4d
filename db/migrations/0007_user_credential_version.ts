import { type Kysely, SqliteAdapter, sql } from 'kysely';

// Sessions no longer know how the user proved who they are (src/sessions/session-store.ts): a
// sign-in of any kind creates its session only while users.credential_version is still the one
// it read, and a password change bumps it. password_hash becomes nullable, for accounts that
// will sign in without a password.
//
// PostgreSQL alters the column in place. SQLite cannot drop a NOT NULL constraint: the table is
// rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter). Dropping `users` with foreign
// keys on would cascade-delete every session, refresh token and personal access token, so they
// are switched off first, outside any transaction (the pragma is a no-op inside one; kysely runs
// SQLite migrations without one), and the rebuild refuses to start unless they really are off.
// Migrations see the database as it was when they were written, never today's table types.
export async function up(db: Kysely<unknown>): Promise<void> {
  if (!isSqlite(db)) {
    await db.schema
      .alterTable('users')
      .addColumn('credential_version', 'integer', (col) => col.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('users')
      .alterColumn('password_hash', (col) => col.dropNotNull())
      .execute();
    return;
  }
  await rebuildSqliteUsers(db, { passwordRequired: false });
}

// Fails on SQLite and PostgreSQL alike while an account without a password exists.
export async function down(db: Kysely<unknown>): Promise<void> {
  if (!isSqlite(db)) {
    await db.schema
      .alterTable('users')
      .alterColumn('password_hash', (col) => col.setNotNull())
      .execute();
    await db.schema.alterTable('users').dropColumn('credential_version').execute();
    return;
  }
  await rebuildSqliteUsers(db, { passwordRequired: true });
}

function isSqlite(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

/**
 * Rebuilds `users` as of this migration (passwordRequired: false, with credential_version) or as
 * before it, keeping every row and every row that references one.
 */
async function rebuildSqliteUsers(db: Kysely<unknown>, { passwordRequired }: { passwordRequired: boolean }): Promise<void> {
  await sql`PRAGMA foreign_keys = OFF`.execute(db);
  try {
    const { rows } = await sql<{ foreign_keys: number }>`PRAGMA foreign_keys`.execute(db);
    if (rows[0]?.foreign_keys !== 0) throw new Error('0007: foreign keys are still on (inside a transaction?); dropping users would delete every session');
    await db.transaction().execute(async (trx) => {
      let table = trx.schema
        .createTable('users_rebuilt')
        .addColumn('id', 'varchar(36)', (col) => col.primaryKey())
        .addColumn('username', 'varchar(32)', (col) => col.notNull())
        .addColumn('username_key', 'varchar(32)', (col) => col.notNull().unique())
        .addColumn('password_hash', 'text', (col) => (passwordRequired ? col.notNull() : col))
        .addColumn('created_at', 'bigint', (col) => col.notNull())
        .addColumn('updated_at', 'bigint', (col) => col.notNull());
      if (!passwordRequired) table = table.addColumn('credential_version', 'integer', (col) => col.notNull().defaultTo(0));
      await table.execute();
      await sql`insert into users_rebuilt (id, username, username_key, password_hash, created_at, updated_at)
        select id, username, username_key, password_hash, created_at, updated_at from users`.execute(trx);
      await trx.schema.dropTable('users').execute();
      await trx.schema.alterTable('users_rebuilt').renameTo('users').execute();
      // sessions, personal_access_tokens and user_session_revocations name `users` by name: they
      // now reference the rebuilt table. Nothing may point nowhere.
      const dangling = await sql`PRAGMA foreign_key_check`.execute(trx);
      if (dangling.rows.length > 0) throw new Error('0007: the rebuilt users table leaves references dangling');
    });
  } finally {
    await sql`PRAGMA foreign_keys = ON`.execute(db);
  }
}
