import type { Clock } from '../clock.js';
import type { RateLimitConfig } from '../config.js';
import { RateLimitedError } from '../errors.js';
import { AccountLockout } from './account-lockout.js';
import { clientKey } from './client-key.js';
import { FailedTokenPresentations } from './failed-token-presentations.js';
import type { AccountLimit, ClientLimit, MutationLimits } from './limited-mutations.js';
import { memoryTokenBuckets } from './memory-token-bucket.js';
import { consumeOrRefuse, memoryRateLimiterStore, type RateLimiterStore } from './rate-limiter-store.js';
import type { TokenBucket, TokenBucketStore } from './token-bucket.js';

const HOUR_SECONDS = 3600;

export interface RateLimitsOptions {
  readonly config: RateLimitConfig;
  /** The clock of the per-IP token bucket (rate-limiter-flexible's windows read the wall clock). */
  readonly clock: Clock;
  /** Where the fixed-window counts live; this process's memory by default. */
  readonly store?: RateLimiterStore;
  /** Where the token buckets live; this process's memory by default. */
  readonly tokenBuckets?: TokenBucketStore;
}

/** Who a limited mutation is counted for. */
export interface MutationCaller {
  readonly clientIp: string | null;
  /** The signed-in caller's user id; undefined for an anonymous one. */
  readonly userId: string | undefined;
}

/**
 * The gateway's limits on the mutations of LIMITED_MUTATIONS (limited-mutations.ts): a rate
 * with a burst per client, registrations per client per hour and username changes per account;
 * per account on failed password checks (the lockout, which Accounts consults before verifying
 * a password); and per client on refused personal access tokens (which the PAT verifier
 * consults before a database look-up). A client is its IP address, or its /64 for IPv6.
 */
export class RateLimits {
  readonly #perClient: Readonly<Record<ClientLimit, (key: string) => Promise<void>>>;
  readonly #perAccount: Readonly<Record<AccountLimit, (key: string) => Promise<void>>>;
  /** The per-account lock on failed password checks. */
  readonly accountLockout: AccountLockout;
  /** The per-client limit on refused personal access tokens. */
  readonly failedTokenPresentations: FailedTokenPresentations;

  constructor({ config, clock, store = memoryRateLimiterStore, tokenBuckets = memoryTokenBuckets(clock) }: RateLimitsOptions) {
    const credentials = tokenBuckets({
      // Not rl:credentials, the key of the fixed-window limiter this bucket replaced: instances
      // of both versions sharing a Redis during a rolling deploy would misread each other's values.
      keyPrefix: 'rl:credential-bucket',
      ratePerSecond: config.credentialsPerSecond,
      burst: config.credentialsBurst,
    });
    const registrations = store({ keyPrefix: 'rl:register', points: config.registrationsPerHour, durationSeconds: HOUR_SECONDS });
    // A bucket rather than an hourly window: a whole hour's changes at once, then one more every
    // hour / N, so that no hour ever sees more than twice the setting.
    const usernameChanges = tokenBuckets({
      keyPrefix: 'rl:username-changes',
      ratePerSecond: config.usernameChangesPerHour / HOUR_SECONDS,
      burst: config.usernameChangesPerHour,
    });
    this.#perClient = Object.freeze({
      credentials: (key: string) => takeOrRefuse(credentials, key),
      registrations: (key: string) => consumeOrRefuse(registrations, key),
    });
    this.#perAccount = Object.freeze({
      usernameChanges: (key: string) => takeOrRefuse(usernameChanges, key),
    });
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
  async limitedMutation(limits: MutationLimits, { clientIp, userId }: MutationCaller): Promise<void> {
    for (const limit of limits.perClient) await this.#perClient[limit](clientKey(clientIp));
    if (userId === undefined) return;
    for (const limit of limits.perAccount) await this.#perAccount[limit](userId);
  }
}

async function takeOrRefuse(bucket: TokenBucket, key: string): Promise<void> {
  const waitMs = await bucket.take(key);
  if (waitMs > 0) throw new RateLimitedError(waitMs / 1000);
}
