/**
 * A rate with a burst: `burst` takes at once from a full bucket, which refills at
 * `ratePerSecond`, so that no interval of t seconds ever sees more than burst + rate × t takes.
 */
export interface TokenBucketSpec {
  /** Separates this bucket's keys from the others' in a shared store. */
  readonly keyPrefix: string;
  readonly ratePerSecond: number;
  readonly burst: number;
}

/** One bucket per key. */
export interface TokenBucket {
  /**
   * Takes a token from the key's bucket. Resolves to 0 when one was taken, otherwise to the
   * milliseconds until one will be there (nothing is taken then). Rejects only when the store fails.
   */
  take(key: string): Promise<number>;
}

/**
 * Where buckets keep their state: this process's memory for one instance, Redis for several
 * (see memory-token-bucket.ts, redis-token-bucket.ts).
 *
 * rate-limiter-flexible, which counts the gateway's other limits, only has fixed windows. Its
 * BurstyRateLimiter (a per-second window plus a slower window to borrow from) lets up to
 * 2 × rate + burst through around a window edge and sustains more than the rate, so the per-IP
 * "rate with a burst" is a real token bucket instead.
 */
export type TokenBucketStore = (spec: TokenBucketSpec) => TokenBucket;

/**
 * The bucket as GCRA (the generic cell rate algorithm) sees it: one timestamp per key, the
 * theoretical arrival time (TAT) of the next take if takes came at exactly the rate. A take at
 * `now` is allowed when TAT - now <= tolerance, and then moves TAT one interval further (from
 * now, if TAT was in the past: a full bucket does not save up). Whole milliseconds throughout,
 * so that the memory and the Redis implementation compute the same.
 */
export interface GcraTiming {
  /** Milliseconds per token: 1000 / rate. */
  readonly intervalMs: number;
  /** How far TAT may run ahead of now: (burst - 1) intervals. */
  readonly toleranceMs: number;
}

export function gcraTiming({ ratePerSecond, burst }: TokenBucketSpec): GcraTiming {
  if (!(ratePerSecond > 0) || !Number.isInteger(burst) || burst < 1) {
    throw new TypeError('a token bucket needs a positive rate and a burst of at least 1');
  }
  const intervalMs = Math.max(1, Math.round(1000 / ratePerSecond));
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs };
}

/** GCRA's decision for one take: the new TAT when allowed, else the wait until a token is back. */
export function gcraTake(storedTat: number | undefined, now: number, { intervalMs, toleranceMs }: GcraTiming): { tat: number } | { waitMs: number } {
  const tat = Math.max(storedTat ?? now, now);
  const waitMs = tat - now - toleranceMs;
  return waitMs > 0 ? { waitMs } : { tat: tat + intervalMs };
}
