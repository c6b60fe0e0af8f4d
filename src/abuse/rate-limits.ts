import type { Clock } from '../clock.js';
import type { RateLimitConfig } from '../config.js';
import { RateLimitedError } from '../errors.js';
import { clientNetwork } from '../http/ip-address.js';
import { AccountLockout } from './account-lockout.js';
import { memoryTokenBuckets } from './memory-token-bucket.js';
import { consumeOrRefuse, memoryRateLimiterStore, type PointConsumer, type RateLimiterStore } from './rate-limiter-store.js';
import type { TokenBucket, TokenBucketStore } from './token-bucket.js';

/** The key for clients whose address is unknown (no socket, e.g. an in-process request). */
const UNKNOWN_CLIENT = 'unknown';

export interface RateLimitsOptions {
  readonly config: RateLimitConfig;
  /** The clock of the per-IP token bucket (rate-limiter-flexible's windows read the wall clock). */
  readonly clock: Clock;
  /** Where the fixed-window counts live; this process's memory by default. */
  readonly store?: RateLimiterStore;
  /** Where the per-IP token buckets live; this process's memory by default. */
  readonly tokenBuckets?: TokenBucketStore;
}

/**
 * The gateway's limits on credential mutations (register, login, refresh, changePassword,
 * deleteAccount): a rate with a burst per client, registrations per client per hour, and per
 * account on failed password checks (the lockout, which Accounts consults before verifying a
 * password). A client is its IP address, or its /64 for IPv6 (see clientNetwork).
 */
export class RateLimits {
  readonly #credentials: TokenBucket;
  readonly #registrations: PointConsumer;
  /** The per-account lock on failed password checks. */
  readonly accountLockout: AccountLockout;

  constructor({ config, clock, store = memoryRateLimiterStore, tokenBuckets = memoryTokenBuckets(clock) }: RateLimitsOptions) {
    this.#credentials = tokenBuckets({
      // Not rl:credentials, the key of the fixed-window limiter this bucket replaced: instances
      // of both versions sharing a Redis during a rolling deploy would misread each other's values.
      keyPrefix: 'rl:credential-bucket',
      ratePerSecond: config.credentialsPerSecond,
      burst: config.credentialsBurst,
    });
    this.#registrations = store({ keyPrefix: 'rl:register', points: config.registrationsPerHour, durationSeconds: 3600 });
    this.accountLockout = new AccountLockout(
      store({ keyPrefix: 'rl:failed-logins', points: config.failedLoginsPerAccount, durationSeconds: config.failedLoginWindowSeconds }),
    );
  }

  /** Counts one credential mutation from a client; RATE_LIMITED over the per-IP rate and burst. */
  async credentialMutation(clientIp: string | null): Promise<void> {
    const waitMs = await this.#credentials.take(clientKey(clientIp));
    if (waitMs > 0) throw new RateLimitedError(waitMs / 1000);
  }

  /** Counts one registration from a client; RATE_LIMITED over the hourly limit. */
  registration(clientIp: string | null): Promise<void> {
    return consumeOrRefuse(this.#registrations, clientKey(clientIp));
  }
}

function clientKey(clientIp: string | null): string {
  return clientIp === null ? UNKNOWN_CLIENT : clientNetwork(clientIp);
}
