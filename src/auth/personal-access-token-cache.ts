import type { Clock } from '../clock.js';

/** What the authenticator needs to know of a personal access token, without its secret. */
export interface CachedPersonalAccessToken {
  readonly tokenId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number | null;
  /** When this instance last wrote last_used_at (or read it from the row). */
  lastUsedAt: number | null;
}

export interface PersonalAccessTokenCacheOptions {
  readonly clock: Clock;
  readonly maxEntries?: number;
  /** How long a look-up is trusted; bounds how late a revocation missed by this instance is seen. */
  readonly ttlMs?: number;
}

export const DEFAULT_PAT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_PAT_CACHE_TTL_MS = 30_000;

interface Slot {
  readonly token: CachedPersonalAccessToken;
  readonly cachedAt: number;
}

/**
 * Recent personal access token look-ups by token hash, so that a busy token costs one database
 * read per TTL rather than one per request. Bounded, least recently used first out, and
 * invalidated by revocations. Only live (unrevoked) tokens are cached.
 */
export class PersonalAccessTokenCache {
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #slots = new Map<string, Slot>();
  #generation = 0;

  constructor({ clock, maxEntries = DEFAULT_PAT_CACHE_MAX_ENTRIES, ttlMs = DEFAULT_PAT_CACHE_TTL_MS }: PersonalAccessTokenCacheOptions) {
    this.#clock = clock;
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
  }

  /**
   * Bumped by every invalidation. A look-up reads it before going to the database and passes it
   * to set(), so that a row read before a revocation is never cached after it.
   */
  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(tokenHash: string): CachedPersonalAccessToken | undefined {
    const slot = this.#slots.get(tokenHash);
    if (!slot) return undefined;
    this.#slots.delete(tokenHash);
    if (this.#clock.now() - slot.cachedAt >= this.#ttlMs) return undefined;
    this.#slots.set(tokenHash, slot);
    return slot.token;
  }

  /** Remembers a look-up, unless the cache was invalidated since `generation` was read. */
  set(tokenHash: string, token: CachedPersonalAccessToken, generation: number): void {
    if (generation !== this.#generation) return;
    this.#slots.delete(tokenHash);
    this.#slots.set(tokenHash, { token, cachedAt: this.#clock.now() });
    if (this.#slots.size > this.#maxEntries) this.#slots.delete(this.#slots.keys().next().value!);
  }

  /** Forgets the listed tokens, or every token of the user when `allOfUser` is set. */
  invalidate({ userId, tokenIds = [], allOfUser = false }: { userId: string; tokenIds?: readonly string[]; allOfUser?: boolean }): void {
    this.#generation++;
    const ids = new Set(tokenIds);
    for (const [hash, { token }] of this.#slots) {
      if (ids.has(token.tokenId) || (allOfUser && token.userId === userId)) this.#slots.delete(hash);
    }
  }
}
