import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { PersonalAccessTokenAttempts } from '../auth/personal-access-tokens/token-verifier.js';
import { clientKey } from './client-key.js';
import { consumeOrRefuse } from './rate-limiter-store.js';

/**
 * Refused personal access tokens per client in a fixed window. A well-formed token the gateway
 * has not cached costs database reads to refuse; without a limit, random tokens with a valid
 * checksum would turn any client into a free amplifier against the database.
 *
 * A look-up reserves a point first, atomically in the store, so concurrent presentations
 * cannot slip past the count, and a client over the limit is refused before the database is
 * reached; a token that turns out good gives its point back. Refusals that needed no look-up
 * (malformed, or answered from the cache) are counted too, without being refused for it.
 */
export class FailedTokenPresentations implements PersonalAccessTokenAttempts {
  readonly #failures: RateLimiterAbstract;

  constructor(failures: RateLimiterAbstract) {
    this.#failures = failures;
  }

  begin(clientIp: string | null): Promise<void> {
    return consumeOrRefuse(this.#failures, clientKey(clientIp));
  }

  async succeeded(clientIp: string | null): Promise<void> {
    await this.#failures.reward(clientKey(clientIp));
  }

  async failed(clientIp: string | null): Promise<void> {
    await this.#failures.penalty(clientKey(clientIp));
  }
}
