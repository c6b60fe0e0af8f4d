import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker copies the WAL's new pages into the database file. */
export const CHECKPOINT_INTERVAL_MS = 100;

/**
 * The WAL size, in pages, at which the gateway's own connection checkpoints after a commit, as
 * SQLite does by default at 1,000. The worker normally keeps the WAL far below it; this only
 * bounds the file (4 KiB pages: 16 MiB) should the worker fall behind or stop.
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 4_000;

/** Runs inside the worker, as CommonJS; its `workerData` is WorkerInput. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const SQLite = require(workerData.driver);
const db = new SQLite(workerData.path, { fileMustExist: true });
// PASSIVE neither takes the writer's lock nor waits for it: the gateway's writes go on meanwhile.
db.pragma('busy_timeout = 0');
// A failure is reported once, not ten times a second, until a checkpoint succeeds again.
let failing = false;
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failing = false;
  } catch (error) {
    if (error.code === 'SQLITE_BUSY') return;
    if (!failing) parentPort.postMessage(String(error.message));
    failing = true;
  }
}, workerData.intervalMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

interface WorkerInput {
  readonly driver: string;
  readonly path: string;
  readonly intervalMs: number;
}

export interface WalCheckpointer {
  /** Stops the worker and closes its connection; resolves once the thread has exited. */
  stop(): Promise<void>;
}

/**
 * Checkpoints an SQLite database in WAL mode from a worker thread with its own connection.
 *
 * By default SQLite checkpoints inside a commit, every 1,000 pages: on the event loop, with an
 * fsync of the database file, so every hundredth or so refresh stalls every request behind it.
 * Measured on a 2-core machine, that was about a quarter of a refresh's storage time. From a
 * worker the same copying runs on another core, and pages written many times between two
 * passes are copied once. Durability is unchanged: a commit is in the WAL either way.
 */
export function startWalCheckpointer(path: string, onError: (error: Error) => void): WalCheckpointer {
  const input: WorkerInput = { driver: createRequire(import.meta.url).resolve('better-sqlite3'), path, intervalMs: CHECKPOINT_INTERVAL_MS };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: input });
  // A connection left open by mistake must not keep the process alive for its checkpoints.
  worker.unref();
  worker.on('message', (message: string) => onError(new Error(`WAL checkpoint failed: ${message}`)));
  worker.on('error', onError);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    stop() {
      // Referenced again while it stops: a process with nothing else to do would otherwise
      // exit in the middle of an awaited close(), skipping whatever followed it.
      worker.ref();
      worker.postMessage('stop');
      return exited;
    },
  };
}
