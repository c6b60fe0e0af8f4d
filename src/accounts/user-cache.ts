import type { Clock } from '../clock.js';
import type { UserRow } from './user-store.js';

/** What a request shows of its caller's account: never the password hash or the credential version. */
export type UserProfile = Pick<UserRow, 'id' | 'username' | 'created_at' | 'email' | 'email_verified_at'>;

export interface UserCacheOptions {
  /** Reads one user by id from the database. */
  readonly load: (userId: string) => Promise<UserProfile | undefined>;
  readonly clock: Clock;
  readonly maxEntries?: number;
  /**
   * How long a read is trusted: a backstop only. Changes are forgotten at once here and on the
   * other instances by the revocation channel, or within REVOCATION_POLL_INTERVAL_MS by the
   * catch-up when a broadcast is lost (src/accounts/forget-changed-users.ts).
   */
  readonly ttlMs?: number;
}

export const DEFAULT_USER_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_USER_CACHE_TTL_MS = 30_000;

interface Slot {
  readonly user: UserProfile;
  readonly cachedAt: number;
}

/**
 * Recent reads of users by id, so that `me` and refresh cost no database read for a busy
 * account. Bounded, least recently used first out. Only the profile is kept: nothing that a
 * password check or a credential decision reads comes from here.
 */
export class UserCache {
  readonly #load: (userId: string) => Promise<UserProfile | undefined>;
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #slots = new Map<string, Slot>();
  /** Bumped by every forget(): a row read before a change is never cached after it. */
  #generation = 0;

  constructor({ load, clock, maxEntries = DEFAULT_USER_CACHE_MAX_ENTRIES, ttlMs = DEFAULT_USER_CACHE_TTL_MS }: UserCacheOptions) {
    this.#load = load;
    this.#clock = clock;
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The user, from memory when read recently, else from the database; undefined when there is none. */
  async get(userId: string): Promise<UserProfile | undefined> {
    const slot = this.#slots.get(userId);
    if (slot) {
      this.#slots.delete(userId);
      if (this.#clock.now() - slot.cachedAt < this.#ttlMs) {
        this.#slots.set(userId, slot);
        return slot.user;
      }
    }
    const generation = this.#generation;
    const row = await this.#load(userId);
    // Never remember a missing user: the id may be one being created, and deletion is refused
    // earlier anyway (RevokedSessions, USER_NOT_FOUND).
    if (!row || generation !== this.#generation) return row && profileOf(row);
    const user = profileOf(row);
    this.#slots.set(userId, { user, cachedAt: this.#clock.now() });
    if (this.#slots.size > this.#maxEntries) this.#slots.delete(this.#slots.keys().next().value!);
    return user;
  }

  /** Forgets a user whose row changed or was deleted. */
  forget(userId: string): void {
    this.#generation++;
    this.#slots.delete(userId);
  }
}

/** Copies the profile out of a row, so that a full row's hash is not kept alive by the cache. */
function profileOf({ id, username, created_at, email, email_verified_at }: UserProfile): UserProfile {
  return { id, username, created_at, email, email_verified_at };
}
