import { type Kysely, sql } from 'kysely';

// Every sign-in revokes the user's live sessions beyond MAX_SESSIONS_PER_USER, and `devices`
// lists them. Through sessions_user_id_idx both walked every session of the user that retention
// has not erased yet (an account a script signs in to each minute keeps tens of thousands of
// revoked ones), and SQLite ran the sign-in's UPDATE through sessions_revoked_at_idx, that is
// over the live sessions of every user. This index holds the live sessions only, in the order
// `devices` shows them; a refresh writes neither of its columns.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('sessions_live_user_id_idx').on('sessions').columns(['user_id', 'created_at']).where(sql.ref('revoked_at'), 'is', null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('sessions_live_user_id_idx').execute();
}
