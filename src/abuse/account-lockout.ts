import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { PasswordAttempt, PasswordAttempts } from '../accounts/accounts.js';
import { usernameKey } from '../accounts/username.js';
import { consumeOrRefuse } from './rate-limiter-store.js';

/**
 * Longer names cannot belong to an account (usernames have at most 32 characters); cutting the
 * key keeps junk input from filling the store, and collisions between such names lock nobody.
 */
const MAX_KEY_LENGTH = 64;

/**
 * Locks an account after too many failed password checks within a window, whatever IPs they
 * came from. Every check reserves a point before the password is verified, atomically in the
 * store, so parallel guesses cannot slip past the count and a locked account never costs an
 * Argon2 verification; a correct password gives the account its points back. Known and unknown
 * usernames are counted alike, so the lock tells nothing about which accounts exist.
 */
export class AccountLockout implements PasswordAttempts {
  readonly #failures: RateLimiterAbstract;

  constructor(failures: RateLimiterAbstract) {
    this.#failures = failures;
  }

  async begin(username: string): Promise<PasswordAttempt> {
    // Read off the consumption itself, which is atomic in the store: of parallel guesses
    // exactly one takes the last point, so a lock is reported once.
    let remainingPoints = Number.POSITIVE_INFINITY;
    const failures = this.#failures;
    await consumeOrRefuse(
      {
        async consume(key) {
          const result = await failures.consume(key);
          remainingPoints = result.remainingPoints;
          return result;
        },
      },
      lockoutKey(username),
    );
    return { lastBeforeLock: remainingPoints === 0 };
  }

  async succeeded(username: string): Promise<void> {
    await this.#failures.delete(lockoutKey(username));
  }
}

function lockoutKey(username: string): string {
  return usernameKey(username).slice(0, MAX_KEY_LENGTH);
}
