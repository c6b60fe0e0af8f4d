import type { Clock } from '../clock.js';
import type { UnauthenticatedReason } from '../errors.js';

/** How an access token of a revoked session is refused. */
export type RevokedSessionReason = Extract<UnauthenticatedReason, 'SESSION_REVOKED' | 'USER_NOT_FOUND'>;

export interface RevokedSessionsOptions {
  readonly clock: Clock;
  readonly accessTokenTtlSeconds: number;
}

/**
 * Beyond one access-token lifetime every token issued before a revocation has expired by itself.
 * The margin covers the verifier's clock tolerance and a refresh that raced the revocation.
 */
export const REVOCATION_MARGIN_MS = 60_000;

interface Entry {
  readonly reason: RevokedSessionReason;
  /** When the entry may go: no access token of the session can still be valid then. */
  readonly until: number;
}

/**
 * The sessions revoked within the last access-token lifetime, in memory, so that their access
 * tokens are refused on the next request without a database read. Entries expire by the
 * (injected) clock; the set stays as small as the recent revocations.
 */
export class RevokedSessions {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #entries = new Map<string, Entry>();

  constructor({ clock, accessTokenTtlSeconds }: RevokedSessionsOptions) {
    this.#clock = clock;
    this.#windowMs = accessTokenTtlSeconds * 1000 + REVOCATION_MARGIN_MS;
  }

  /** How far back revocations still matter, in milliseconds. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** How many entries are held (expired ones included until they are pruned). */
  get size(): number {
    return this.#entries.size;
  }

  /** Records sessions as revoked at a time (now by default). USER_NOT_FOUND is never downgraded. */
  add(sessionIds: Iterable<string>, reason: RevokedSessionReason, revokedAt = this.#clock.now()): void {
    this.#prune();
    const until = revokedAt + this.#windowMs;
    if (until <= this.#clock.now()) return;
    for (const id of sessionIds) {
      const existing = this.#entries.get(id);
      // Delete first so that the entry moves to the end: the map stays roughly ordered by expiry.
      this.#entries.delete(id);
      this.#entries.set(id, {
        reason: existing?.reason === 'USER_NOT_FOUND' ? 'USER_NOT_FOUND' : reason,
        until: Math.max(until, existing?.until ?? 0),
      });
    }
  }

  /** Why a session's access tokens are refused, or undefined when they are not. */
  reasonFor(sessionId: string): RevokedSessionReason | undefined {
    const entry = this.#entries.get(sessionId);
    if (!entry) return undefined;
    if (entry.until <= this.#clock.now()) {
      this.#entries.delete(sessionId);
      return undefined;
    }
    return entry.reason;
  }

  /** Drops expired entries from the front, where the oldest are. */
  #prune(): void {
    const now = this.#clock.now();
    for (const [id, entry] of this.#entries) {
      if (entry.until > now) break;
      this.#entries.delete(id);
    }
  }
}
