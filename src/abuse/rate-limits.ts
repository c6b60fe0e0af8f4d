import type { Clock } from '../clock.js';
import type { RateLimitConfig } from '../config.js';
import { RateLimitedError } from '../errors.js';
import { AccountLockout } from './account-lockout.js';
import { clientKey } from './client-key.js';
import { FailedTokenPresentations } from './failed-token-presentations.js';
import { limitKeyFor, limitKeyName, type MutationCaller } from './limit-key.js';
import { type DeclaredLimit, type LimitedMutations, limitedMutations, type MutationLimit } from './limited-mutations.js';
import { memoryTokenBuckets } from './memory-token-bucket.js';
import { consumeOrRefuse, memoryRateLimiterStore, type RateLimiterStore } from './rate-limiter-store.js';
import type { TokenBucket, TokenBucketStore } from './token-bucket.js';

export interface RateLimitsOptions {
  readonly config: RateLimitConfig;
  /** The clock of the per-IP token bucket (rate-limiter-flexible's windows read the wall clock). */
  readonly clock: Clock;
  /** Where the fixed-window counts live; this process's memory by default. */
  readonly store?: RateLimiterStore;
  /** Where the token buckets live; this process's memory by default. */
  readonly tokenBuckets?: TokenBucketStore;
  /** The limited mutations and their limits; limitedMutations(config) unless given (embedding code and tests add rows). */
  readonly mutations?: LimitedMutations;
}

export type { MutationCaller } from './limit-key.js';

/** One limit of a mutation, ready to count: the key it counts under and the counter. */
interface BuiltLimit {
  readonly declared: MutationLimit;
  /** RATE_LIMITED when the key is over the limit. */
  readonly count: (key: string) => Promise<void>;
}

/**
 * The gateway's limits on the mutations of its table (limited-mutations.ts): the rate with a
 * burst every credential mutation of a client shares, and each mutation's own declared limits,
 * one limiter per declaration, built here from the store; per account on failed password
 * checks (the lockout, which Accounts consults before verifying a password); and per client on
 * refused personal access tokens (which the PAT verifier consults before a database look-up).
 * A client is its IP address, or its /64 for IPv6.
 */
export class RateLimits {
  readonly #limits: ReadonlyMap<string, readonly BuiltLimit[]>;
  /** The limited mutations: an operation may hold at most one of them. */
  readonly mutations: ReadonlySet<string>;
  /** The per-account lock on failed password checks. */
  readonly accountLockout: AccountLockout;
  /** The per-client limit on refused personal access tokens. */
  readonly failedTokenPresentations: FailedTokenPresentations;

  constructor({
    config,
    clock,
    store = memoryRateLimiterStore,
    tokenBuckets = memoryTokenBuckets(clock),
    mutations = limitedMutations(config),
  }: RateLimitsOptions) {
    const credentials = tokenBuckets({
      // Not rl:credentials, the key of the fixed-window limiter this bucket replaced: instances
      // of both versions sharing a Redis during a rolling deploy would misread each other's values.
      keyPrefix: 'rl:credential-bucket',
      ratePerSecond: config.credentialsPerSecond,
      burst: config.credentialsBurst,
    });
    const countCredentials = (key: string) => takeOrRefuse(credentials, key);
    const prefixes = new Set<string>();
    const limits = new Map<string, readonly BuiltLimit[]>();
    for (const [mutation, declared] of Object.entries(mutations)) {
      limits.set(
        mutation,
        declared.map((limit) => {
          if ('limit' in limit) return { declared: limit, count: countCredentials };
          const keyPrefix = declaredLimitPrefix(mutation, limit);
          // Two declarations sharing a prefix would share their counts in the store.
          if (prefixes.has(keyPrefix)) throw new TypeError(`${mutation} declares two limits counted as ${keyPrefix}`);
          prefixes.add(keyPrefix);
          return { declared: limit, count: declaredLimitCounter(limit, keyPrefix, store, tokenBuckets) };
        }),
      );
    }
    this.#limits = limits;
    this.mutations = new Set(limits.keys());
    this.accountLockout = new AccountLockout(
      store({ keyPrefix: 'rl:failed-logins', points: config.failedLoginsPerAccount, durationSeconds: config.failedLoginWindowSeconds }),
    );
    this.failedTokenPresentations = new FailedTokenPresentations(
      store({ keyPrefix: 'rl:failed-tokens', points: config.failedTokensPerMinute, durationSeconds: 60 }),
    );
  }

  /**
   * Counts one occurrence of a limited mutation against each of its limits, in order;
   * RATE_LIMITED (with the wait) at the first that is exhausted, which leaves the later ones untouched.
   */
  async limitedMutation(mutation: string, caller: MutationCaller): Promise<void> {
    for (const { declared, count } of this.#limits.get(mutation) ?? []) {
      const key = 'limit' in declared ? clientKey(caller.clientIp) : limitKeyFor(declared.key, caller);
      if (key !== undefined) await count(key);
    }
  }
}

/**
 * Where a declared limit counts in the store: named by the mutation, the key, the shape and the
 * period, so that no two limits share counts (Redis keys of a window and of a bucket differ in type).
 */
function declaredLimitPrefix(mutation: string, { key, perSeconds, shape = 'window' }: DeclaredLimit): string {
  return `rl:mutation:${mutation}:${limitKeyName(key)}:${shape}:${perSeconds}s`;
}

function declaredLimitCounter(
  limit: DeclaredLimit,
  keyPrefix: string,
  store: RateLimiterStore,
  tokenBuckets: TokenBucketStore,
): (key: string) => Promise<void> {
  if (limit.shape === 'bucket') {
    const bucket = tokenBuckets({ keyPrefix, ratePerSecond: limit.points / limit.perSeconds, burst: limit.points });
    return (key) => takeOrRefuse(bucket, key);
  }
  const window = store({ keyPrefix, points: limit.points, durationSeconds: limit.perSeconds });
  return (key) => consumeOrRefuse(window, key);
}

async function takeOrRefuse(bucket: TokenBucket, key: string): Promise<void> {
  const waitMs = await bucket.take(key);
  if (waitMs > 0) throw new RateLimitedError(waitMs / 1000);
}
