import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';

export interface LiveSupergraphOptions {
  /** The supergraph read at start, served first. */
  readonly initial: string;
  /** Reads the supergraph anew (composes SUBGRAPHS, or reads SUPERGRAPH); throws an error whose message says why it cannot. */
  readonly load: (signal: AbortSignal) => Promise<string>;
  /** Between the end of one read and the start of the next; 0: never read again. */
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Where the supergraph comes from, for the log: `SUBGRAPHS` or `SUPERGRAPH`. */
  readonly source: string;
}

/**
 * The supergraph the gateway serves, kept current: every intervalMs it is read anew and, when it
 * changed, handed to the runtime (Hive Gateway's `supergraph` function and
 * invalidateUnifiedGraph). A read that fails (a subgraph down, SDL that does not parse, a
 * conflict, a missing file) or a supergraph the runtime cannot load leaves the last good one
 * served; each distinct failure is logged once, as is the recovery.
 *
 * Polling is ours rather than the runtime's `pollingInterval`, which re-reads only when a request
 * comes after the interval and logs every failed read as an error: here a read happens on time,
 * a failing subgraph costs one warning, and `served` says what the runtime serves.
 */
export class LiveSupergraph {
  readonly #options: LiveSupergraphOptions;
  /** What the runtime reads next: the served supergraph, or the new one while it is handed over. */
  #offered: string;
  #served: string;
  /** The last failure logged, until a read succeeds. */
  #failure: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #reload: (() => Promise<unknown>) | undefined;
  readonly #closed = new AbortController();

  constructor(options: LiveSupergraphOptions) {
    this.#options = Object.freeze({ ...options });
    this.#offered = options.initial;
    this.#served = options.initial;
  }

  /** The supergraph SDL the runtime serves now. */
  get served(): string {
    return this.#served;
  }

  /** For the runtime's `supergraph` option: the SDL it loads when it (re)loads. */
  readonly read = (): string => this.#offered;

  /**
   * A runtime plugin: the runtime replaces its schema only once it has built what it read, so
   * a schema change means the offered supergraph is the one served.
   */
  plugin(): Plugin {
    return {
      onSchemaChange: () => {
        this.#served = this.#offered;
      },
    };
  }

  /** Starts polling; `reload` makes the runtime read the supergraph now (invalidateUnifiedGraph). */
  start(reload: () => Promise<unknown>): void {
    this.#reload = reload;
    this.#schedule();
  }

  /** One round now: read, and serve what was read if it changed. Rounds never overlap. */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  /** Stops polling; an SDL read in flight is cut short, a hand-over in flight is awaited. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed.abort();
    clearTimeout(this.#timer);
    await this.#polling;
  }

  async #poll(): Promise<void> {
    const { load, logger, source } = this.#options;
    let candidate: string;
    try {
      candidate = await load(this.#closed.signal);
    } catch (error) {
      if (!this.#closed.signal.aborted) this.#failed((error as Error).message);
      return;
    }
    if (this.#closed.signal.aborted) return;
    if (candidate !== this.#served) {
      this.#offered = candidate;
      try {
        // The runtime logs why it could not load it, and keeps serving the schema it has.
        await this.#reload?.();
      } catch {
        // As above: `served` tells.
      } finally {
        this.#offered = this.#served;
      }
      if (this.#served !== candidate) return this.#failed('the gateway runtime could not load the new supergraph');
      logger.info({ source }, 'serving a new supergraph');
    }
    if (this.#failure !== undefined) {
      this.#failure = undefined;
      logger.info({ source }, 'the supergraph reads again');
    }
  }

  #failed(reason: string): void {
    if (reason === this.#failure) return;
    this.#failure = reason;
    this.#options.logger.warn({ source: this.#options.source, reason }, 'the supergraph could not be read anew; serving the last good one');
  }

  #schedule(): void {
    if (this.#options.intervalMs === 0 || this.#closed.signal.aborted) return;
    this.#timer = setTimeout(() => void this.poll().finally(() => this.#schedule()), this.#options.intervalMs);
    // Polling never keeps the process alive: close() stops it, and an exit does not wait for it.
    this.#timer.unref();
  }
}
