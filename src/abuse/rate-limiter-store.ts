import type { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError } from '../errors.js';

/** What one limiter counts: at most `points` per key in each fixed window of `durationSeconds`. */
export interface LimiterSpec {
  /** Separates this limiter's keys from the others' in a shared store. */
  readonly keyPrefix: string;
  readonly points: number;
  readonly durationSeconds: number;
}

/**
 * Where limiters keep their counts. The gateway's limiters are built through one of these, so
 * that the store can change (memory for one instance; Redis with an in-memory insurance
 * limiter for several) without the limits changing.
 */
export type RateLimiterStore = (spec: LimiterSpec) => RateLimiterAbstract;

/**
 * Counts in this process's memory. rate-limiter-flexible's memory store reads Date.now(), not
 * the gateway's clock; its windows follow the wall clock.
 */
export const memoryRateLimiterStore: RateLimiterStore = ({ keyPrefix, points, durationSeconds }) =>
  new RateLimiterMemory({ keyPrefix, points, duration: durationSeconds });

/**
 * Counts in Redis, so that every instance sharing it enforces one limit. While Redis is
 * unreachable each limiter falls back to an in-memory insurance limiter with the same limits
 * (per instance, then, rather than shared), and returns to Redis by itself when Redis is back:
 * an outage neither stops sign-ins nor lifts the limits.
 */
export function redisRateLimiterStore(redis: Redis, keyPrefix = ''): RateLimiterStore {
  return (spec) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${keyPrefix}${spec.keyPrefix}`,
      points: spec.points,
      duration: spec.durationSeconds,
      // Not ready means down: go to the insurance at once instead of waiting for a timeout.
      rejectIfRedisNotReady: true,
      insuranceLimiter: memoryRateLimiterStore(spec),
    });
}

/** Something that consumes points: a limiter or a BurstyRateLimiter. */
export interface PointConsumer {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}

/**
 * Consumes one point for a key; RATE_LIMITED (with the time until the next point is free) when
 * the key is over its limit. A failing store (not a refusal) is rethrown.
 */
export async function consumeOrRefuse(limiter: PointConsumer, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) throw new RateLimitedError(rejection.msBeforeNext / 1000);
    throw rejection;
  }
}
