import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import type { Argon2Config } from '../config.js';

export interface PasswordCheck {
  readonly valid: boolean;
  /** The stored hash was made with other parameters than the configured ones. */
  readonly needsRehash: boolean;
}

/**
 * Argon2id hashing. argon2 runs on libuv's thread pool, so hashing never blocks the event loop.
 */
export class PasswordHasher {
  readonly #options: argon2.HashOptions & { raw?: false };
  #dummyHash: Promise<string> | undefined;

  constructor(params: Argon2Config) {
    this.#options = {
      type: argon2.argon2id,
      memoryCost: params.memoryKiB,
      timeCost: params.iterations,
      parallelism: params.parallelism,
    };
  }

  /** Hashes a normalised password into a PHC string ($argon2id$...). */
  hash(password: string): Promise<string> {
    return argon2.hash(password, { ...this.#options, raw: false });
  }

  /** Checks a password against a stored hash. */
  async verify(hash: string, password: string): Promise<PasswordCheck> {
    let valid = false;
    try {
      valid = await argon2.verify(hash, password);
    } catch {
      valid = false;
    }
    return { valid, needsRehash: valid && argon2.needsRehash(hash, this.#options) };
  }

  /**
   * Spends one verification on a hash of the configured parameters, so that a login for an
   * unknown user costs the same time as a wrong password for a known one.
   */
  async verifyDummy(password: string): Promise<void> {
    this.#dummyHash ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(await this.#dummyHash, password);
  }

  /** Computes the dummy hash ahead of the first unknown-user login. */
  async warmUp(): Promise<void> {
    this.#dummyHash ??= this.hash(randomBytes(16).toString('hex'));
    await this.#dummyHash;
  }
}
