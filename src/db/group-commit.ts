import { type Kysely, SqliteAdapter, sql, type Transaction } from 'kysely';
import type { Database } from './tables.js';

/** Runs a unit of work in a transaction and answers once that work is committed. */
export type TransactionRunner = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

/** The most units one transaction holds; beyond it the next transaction takes the rest. */
export const DEFAULT_GROUP_COMMIT_MAX_UNITS = 32;

interface Unit {
  readonly work: (trx: Transaction<Database>) => Promise<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * A transaction per unit of work: on PostgreSQL as it is (units run side by side there), on
 * SQLite grouped. SQLite has one writer, so units queue anyway; what each separate transaction
 * costs is its commit, which writes the WAL frames of every page it touched, the pages the
 * units share (index roots, the newest leaf) once per unit: about 80 µs of a refresh's 550 on
 * the bench machine. Grouped, the units that arrive in the same turn of the event loop run in
 * one transaction, each inside its own savepoint, so that a unit that throws is rolled back
 * alone and rejects alone, as its own transaction would have. Every unit settles only after
 * the one COMMIT: none is answered before its writes are durable, and a failed COMMIT rejects
 * them all, having written nothing.
 */
export function transactionRunner(db: Kysely<Database>, { maxUnits = DEFAULT_GROUP_COMMIT_MAX_UNITS } = {}): TransactionRunner {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return (work) => db.transaction().execute(work);
  let queued: Unit[] = [];
  let scheduled = false;
  const flush = async (): Promise<void> => {
    scheduled = false;
    const units = queued;
    queued = [];
    for (let start = 0; start < units.length; start += maxUnits) await commitTogether(db, units.slice(start, start + maxUnits));
  };
  return <T>(work: (trx: Transaction<Database>) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queued.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (scheduled) return;
      scheduled = true;
      // After this turn's other I/O callbacks, whose units join this transaction.
      setImmediate(() => void flush());
    });
}

async function commitTogether(db: Kysely<Database>, units: readonly Unit[]): Promise<void> {
  const outcomes: Outcome[] = [];
  try {
    await db.transaction().execute(async (trx) => {
      for (const unit of units) {
        await sql`savepoint unit`.execute(trx);
        try {
          const value = await unit.work(trx);
          await sql`release unit`.execute(trx);
          outcomes.push({ ok: true, value });
        } catch (error) {
          await sql`rollback to unit`.execute(trx);
          await sql`release unit`.execute(trx);
          outcomes.push({ ok: false, error });
        }
      }
    });
  } catch (error) {
    for (const unit of units) unit.reject(error);
    return;
  }
  units.forEach((unit, index) => {
    const outcome = outcomes[index]!;
    if (outcome.ok) unit.resolve(outcome.value);
    else unit.reject(outcome.error);
  });
}
