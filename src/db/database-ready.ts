import { type Kysely, sql } from 'kysely';

/** How long a readiness probe waits for the database before calling it unreachable. */
export const DATABASE_PROBE_TIMEOUT_MS = 2_000;

/** True when the database answers a trivial query within the probe timeout. */
// biome-ignore lint/suspicious/noExplicitAny: runs on every database shape; Kysely<Database> is not assignable to Kysely<unknown>
export async function isDatabaseReady(db: Kysely<any>, timeoutMs = DATABASE_PROBE_TIMEOUT_MS): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([sql`select 1`.execute(db).then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
