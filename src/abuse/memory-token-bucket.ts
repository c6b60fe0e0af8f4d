import type { Clock } from '../clock.js';
import { type GcraTiming, gcraTake, gcraTiming, type TokenBucket, type TokenBucketSpec, type TokenBucketStore } from './token-bucket.js';

/**
 * Token buckets in this process's memory, on the gateway's clock. Each take runs without an
 * await between reading and writing the key's state, so concurrent requests cannot both take
 * the last token.
 */
export class MemoryTokenBucket implements TokenBucket {
  readonly #clock: Clock;
  readonly #timing: GcraTiming;
  /**
   * TAT per key, in the order the keys were last written (a write deletes and re-inserts).
   * A key whose TAT has passed has a full bucket and is the same as no key at all.
   */
  readonly #tats = new Map<string, number>();

  constructor(spec: TokenBucketSpec, clock: Clock) {
    this.#timing = gcraTiming(spec);
    this.#clock = clock;
  }

  /** How many keys the bucket holds state for: those written in the last few seconds. */
  get trackedKeys(): number {
    return this.#tats.size;
  }

  async take(key: string): Promise<number> {
    const now = Math.floor(this.#clock.now());
    this.#forgetFullBuckets(now);
    const answer = gcraTake(this.#tats.get(key), now, this.#timing);
    if ('waitMs' in answer) return answer.waitMs;
    this.#tats.delete(key);
    this.#tats.set(key, answer.tat);
    return 0;
  }

  /**
   * Drops full buckets from the front of the map, stopping at the first that is not full. A
   * write leaves TAT at most `burst` intervals ahead, so whatever is stuck behind a bucket that
   * is not full yet goes within that time, and the map holds only the keys of the last few
   * seconds, at a constant cost per take.
   */
  #forgetFullBuckets(now: number): void {
    for (const [key, tat] of this.#tats) {
      if (tat > now) return;
      this.#tats.delete(key);
    }
  }
}

/** Token buckets in memory, for one instance. */
export function memoryTokenBuckets(clock: Clock): TokenBucketStore {
  return (spec) => new MemoryTokenBucket(spec, clock);
}
