import type { Kysely } from 'kysely';

// Signing keys get a lifecycle (issue #13): `generation` orders the keys and, unique, lets only
// one of several instances racing to create a key win; `activates_at` is when a key starts
// signing (the next key is published before it); `expires_at` removes a key whatever its
// successors; `revoked_at` marks a revoked one. When a key retires and is removed otherwise
// follows from the rows and the clock (src/auth/signing-key-schedule.ts).
//
// Existing rows: a retired key stays gone (`expires_at` = its `retired_at`). Of the keys still
// in use, the newest becomes the current one; the others were accepted until now, and one of
// them may have been signing (the oldest of the configured algorithm did), so each stays
// accepted for the longest access-token lifetime there can be (24 h) and an hour more.
//
// SQLite adds one column per statement, and a NOT NULL column only with a default; the values
// are then written row by row (a handful of keys). Migrations see the database as it was when
// they were written, never today's table types.

/** ACCESS_TOKEN_TTL_SECONDS at its maximum, and the retired keys' hour of margin. */
const LEGACY_KEY_GRACE_MS = 25 * 3600 * 1000;

interface LegacyKey {
  kid: string;
  created_at: number;
  retired_at: number | null;
}

// biome-ignore lint/suspicious/noExplicitAny: migrations see no table types
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('signing_keys')
    .addColumn('generation', 'integer', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('signing_keys')
    .addColumn('activates_at', 'bigint', (col) => col.notNull().defaultTo(0))
    .execute();
  await db.schema.alterTable('signing_keys').addColumn('expires_at', 'bigint').execute();
  await db.schema.alterTable('signing_keys').addColumn('revoked_at', 'bigint').execute();

  const now = Date.now();
  const rows = (await db.selectFrom('signing_keys').select(['kid', 'created_at', 'retired_at']).orderBy('created_at').orderBy('kid').execute()) as LegacyKey[];
  const current = rows.filter((row) => row.retired_at === null).at(-1);
  for (const [index, row] of rows.entries()) {
    const expiresAt = row.retired_at ?? (row === current ? null : now + LEGACY_KEY_GRACE_MS);
    await db
      .updateTable('signing_keys')
      .set({ generation: index + 1, activates_at: row.created_at, expires_at: expiresAt })
      .where('kid', '=', row.kid)
      .execute();
  }
  await db.schema.createIndex('signing_keys_generation_idx').on('signing_keys').column('generation').unique().execute();
}

// A revoked key, or one already removed, goes back to being a retired one of the old releases.
// biome-ignore lint/suspicious/noExplicitAny: migrations see no table types
export async function down(db: Kysely<any>): Promise<void> {
  const now = Date.now();
  await db.updateTable('signing_keys').set({ retired_at: now }).where('retired_at', 'is', null).where('revoked_at', 'is not', null).execute();
  await db.updateTable('signing_keys').set({ retired_at: now }).where('retired_at', 'is', null).where('expires_at', '<=', now).execute();
  await db.schema.dropIndex('signing_keys_generation_idx').execute();
  for (const column of ['revoked_at', 'expires_at', 'activates_at', 'generation']) {
    await db.schema.alterTable('signing_keys').dropColumn(column).execute();
  }
}
