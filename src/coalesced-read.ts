/**
 * A database read that callers share. A call while the read runs gets a second read that starts
 * after it, shared by every call made meanwhile: whatever committed before a call is seen by
 * the read it waits for, and a slow database never piles reads up.
 */
export class CoalescedRead {
  readonly #read: () => Promise<void>;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  constructor(read: () => Promise<void>) {
    this.#read = read;
  }

  /** Reads now, or after the read in progress. */
  run(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#read().finally(() => (this.#running = undefined));
      return this.#running;
    }
    this.#queued ??= this.#running
      .catch(() => {})
      .then(() => {
        this.#queued = undefined;
        return this.run();
      });
    return this.#queued;
  }

  /** Whether a read is in progress (a periodic caller skips its turn then). */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /** Resolves once the reads in progress or queued are over, whatever their outcome. */
  async settled(): Promise<void> {
    await Promise.allSettled([this.#running, this.#queued]);
  }
}
