import type { Clock } from '../../clock.js';
import type { UnauthenticatedReason } from '../../errors.js';

/** What the authenticator needs to know of a personal access token, without its secret. */
export interface CachedPersonalAccessToken {
  readonly tokenId: string;
  readonly userId: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number | null;
  /** When this instance last wrote last_used_at (or read it from the row). */
  lastUsedAt: number | null;
}

/** Why a look-up refused a token: unknown, revoked, or its account deleted. */
export type PersonalAccessTokenRefusal = Extract<UnauthenticatedReason, 'TOKEN_INVALID' | 'SESSION_REVOKED' | 'USER_NOT_FOUND'>;

export interface PersonalAccessTokenCacheOptions {
  readonly clock: Clock;
  readonly maxEntries?: number;
  /** How long a look-up is trusted; bounds how late a revocation missed by this instance is seen. */
  readonly ttlMs?: number;
  /** How many refusals are remembered, apart from the live tokens so that they cannot push those out. */
  readonly maxRefusals?: number;
  /** How long a refusal is remembered. */
  readonly refusalTtlMs?: number;
}

export const DEFAULT_PAT_CACHE_MAX_ENTRIES = 10_000;
export const DEFAULT_PAT_CACHE_TTL_MS = 30_000;
export const DEFAULT_PAT_CACHE_MAX_REFUSALS = 10_000;
export const DEFAULT_PAT_CACHE_REFUSAL_TTL_MS = 30_000;

interface Slot {
  readonly token: CachedPersonalAccessToken;
  readonly cachedAt: number;
}

interface RefusalSlot {
  readonly reason: PersonalAccessTokenRefusal;
  /** The owner of a token that was found (revoked), so that deleting the account updates the reason. */
  readonly userId: string | undefined;
  readonly cachedAt: number;
}

/**
 * Recent personal access token look-ups by token hash, so that a busy token costs one database
 * read per TTL rather than one per request. Bounded, least recently used first out, and
 * invalidated by revocations. Live (unrevoked) tokens are kept with what the authenticator
 * needs; refused ones with the reason, in a map of their own.
 *
 * A refusal cannot turn into an acceptance: tokens are random, so one that is unknown now is
 * never issued later, and revocation and deletion are final. Remembering refusals only spares
 * the database a client that presents the same bad token again and again. The one answer
 * that can change is the reason of a revoked token whose account is then deleted
 * (SESSION_REVOKED, then USER_NOT_FOUND): deleting the account forgets it.
 */
export class PersonalAccessTokenCache {
  readonly #clock: Clock;
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #maxRefusals: number;
  readonly #refusalTtlMs: number;
  readonly #slots = new Map<string, Slot>();
  readonly #refusals = new Map<string, RefusalSlot>();
  #generation = 0;

  constructor({
    clock,
    maxEntries = DEFAULT_PAT_CACHE_MAX_ENTRIES,
    ttlMs = DEFAULT_PAT_CACHE_TTL_MS,
    maxRefusals = DEFAULT_PAT_CACHE_MAX_REFUSALS,
    refusalTtlMs = DEFAULT_PAT_CACHE_REFUSAL_TTL_MS,
  }: PersonalAccessTokenCacheOptions) {
    this.#clock = clock;
    this.#maxEntries = maxEntries;
    this.#ttlMs = ttlMs;
    this.#maxRefusals = maxRefusals;
    this.#refusalTtlMs = refusalTtlMs;
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

  /** The remembered refusal of a token, if it is recent. */
  refusalOf(tokenHash: string): PersonalAccessTokenRefusal | undefined {
    const slot = this.#refusals.get(tokenHash);
    if (!slot) return undefined;
    this.#refusals.delete(tokenHash);
    if (this.#clock.now() - slot.cachedAt >= this.#refusalTtlMs) return undefined;
    this.#refusals.set(tokenHash, slot);
    return slot.reason;
  }

  /**
   * Remembers that a look-up refused a token (with its owner, when the row was found), unless
   * the cache was invalidated since `generation` was read.
   */
  setRefusal(tokenHash: string, reason: PersonalAccessTokenRefusal, userId: string | undefined, generation: number): void {
    if (generation !== this.#generation) return;
    this.#refusals.delete(tokenHash);
    this.#refusals.set(tokenHash, { reason, userId, cachedAt: this.#clock.now() });
    if (this.#refusals.size > this.#maxRefusals) this.#refusals.delete(this.#refusals.keys().next().value!);
  }

  /** Forgets the listed tokens, or every token of the user (and its refusals) when `allOfUser` is set. */
  invalidate({ userId, tokenIds = [], allOfUser = false }: { userId: string; tokenIds?: readonly string[]; allOfUser?: boolean }): void {
    this.#generation++;
    const ids = new Set(tokenIds);
    for (const [hash, { token }] of this.#slots) {
      if (ids.has(token.tokenId) || (allOfUser && token.userId === userId)) this.#slots.delete(hash);
    }
    if (!allOfUser) return;
    for (const [hash, refusal] of this.#refusals) {
      if (refusal.userId === userId) this.#refusals.delete(hash);
    }
  }
}
