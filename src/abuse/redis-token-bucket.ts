import type { Redis } from 'ioredis';
import type { Clock } from '../clock.js';
import { MemoryTokenBucket } from './memory-token-bucket.js';
import { type GcraTiming, gcraTiming, type TokenBucket, type TokenBucketSpec, type TokenBucketStore } from './token-bucket.js';

/**
 * gcraTake (token-bucket.ts) as one script, so that instances sharing a key cannot interleave
 * between reading and writing its TAT. Returns 0 when a token was taken, else the wait in ms.
 */
const TAKE_SCRIPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait > 0 then return wait end
tat = tat + interval
redis.call('SET', KEYS[1], tat, 'PX', tat - now + tonumber(ARGV[4]))
return 0
`;
const COMMAND = 'gatewayTokenBucketTake';

/**
 * How long a key outlives the moment its bucket is full again. Past that moment the key means
 * the same as no key, so the margin only absorbs clock differences: between instances, which
 * pass their own clock's time, and between Redis's expiry and a test's manual clock.
 */
const EXPIRY_MARGIN_MS = 60_000;

type TakeCommand = (key: string, now: number, intervalMs: number, toleranceMs: number, marginMs: number) => Promise<number>;

/**
 * A token bucket in Redis, shared by every instance. While Redis fails the bucket falls back to
 * one in this process's memory with the same rate and burst (per instance, then, rather than
 * shared), and returns to Redis by itself with the next take that reaches it: an outage neither
 * stops sign-ins nor lifts the limit.
 */
export class RedisTokenBucket implements TokenBucket {
  readonly #take: TakeCommand;
  readonly #keyPrefix: string;
  readonly #clock: Clock;
  readonly #timing: GcraTiming;
  readonly #insurance: MemoryTokenBucket;

  constructor(redis: Redis, keyPrefix: string, spec: TokenBucketSpec, clock: Clock) {
    // defineCommand runs the script by its SHA and loads it again if Redis forgot it (a restart).
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.#take = (redis as unknown as Record<typeof COMMAND, TakeCommand>)[COMMAND].bind(redis);
    this.#keyPrefix = `${keyPrefix}${spec.keyPrefix}:`;
    this.#clock = clock;
    this.#timing = gcraTiming(spec);
    this.#insurance = new MemoryTokenBucket(spec, clock);
  }

  async take(key: string): Promise<number> {
    const { intervalMs, toleranceMs } = this.#timing;
    try {
      return await this.#take(`${this.#keyPrefix}${key}`, Math.floor(this.#clock.now()), intervalMs, toleranceMs, EXPIRY_MARGIN_MS);
    } catch {
      return this.#insurance.take(key);
    }
  }
}

/** Token buckets in Redis under `keyPrefix`, for several instances. */
export function redisTokenBuckets(redis: Redis, keyPrefix: string, clock: Clock): TokenBucketStore {
  return (spec) => new RedisTokenBucket(redis, keyPrefix, spec, clock);
}
