import type { Logger } from 'pino';
import type { AccountDeletions } from '../accounts/account-deletions.js';
import type { Clock } from '../clock.js';
import { UnauthenticatedError } from '../errors.js';
import type { PersonalAccessTokenCaller } from './caller.js';
import type { CachedPersonalAccessToken, PersonalAccessTokenCache } from './personal-access-token-cache.js';
import { isWellFormedPersonalAccessToken } from './personal-access-token-format.js';
import type { PersonalAccessTokenStore } from './personal-access-token-store.js';
import { hashToken } from './opaque-token.js';

/** last_used_at is written at most this often per token. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

export interface PersonalAccessTokenVerifierOptions {
  readonly store: PersonalAccessTokenStore;
  readonly cache: PersonalAccessTokenCache;
  readonly deletions: AccountDeletions;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Turns a presented personal access token into a caller: the format and checksum first (a
 * malformed token never reaches the database), then the cache, then the database by hash.
 */
export class PersonalAccessTokenVerifier {
  readonly #options: PersonalAccessTokenVerifierOptions;

  constructor(options: PersonalAccessTokenVerifierOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Throws UNAUTHENTICATED: TOKEN_INVALID (malformed or unknown), TOKEN_EXPIRED,
   * SESSION_REVOKED (revoked) or USER_NOT_FOUND (its account was deleted).
   */
  async verify(presented: string): Promise<PersonalAccessTokenCaller> {
    if (!isWellFormedPersonalAccessToken(presented)) throw new UnauthenticatedError('TOKEN_INVALID');
    const tokenHash = hashToken(presented);
    const token = this.#options.cache.get(tokenHash) ?? (await this.#load(tokenHash));
    const now = this.#options.clock.now();
    if (token.expiresAt !== null && token.expiresAt <= now) throw new UnauthenticatedError('TOKEN_EXPIRED');
    this.#recordUse(token, now);
    return { kind: 'pat', userId: token.userId, tokenId: token.tokenId, scopes: token.scopes, expiresAt: token.expiresAt };
  }

  async #load(tokenHash: string): Promise<CachedPersonalAccessToken> {
    const { store, cache, deletions } = this.#options;
    const generation = cache.generation;
    const row = await store.findByHash(tokenHash);
    if (!row) {
      const deleted = await deletions.wasDeleted('personal_access_token', tokenHash);
      throw new UnauthenticatedError(deleted ? 'USER_NOT_FOUND' : 'TOKEN_INVALID');
    }
    if (row.revoked_at !== null) throw new UnauthenticatedError('SESSION_REVOKED');
    const token: CachedPersonalAccessToken = {
      tokenId: row.id,
      userId: row.user_id,
      scopes: Object.freeze(JSON.parse(row.scopes) as string[]),
      expiresAt: row.expires_at,
      lastUsedAt: row.last_used_at,
    };
    cache.set(tokenHash, token, generation);
    return token;
  }

  /** Writes last_used_at when the last write is a minute old; off the response's path. */
  #recordUse(token: CachedPersonalAccessToken, now: number): void {
    if (token.lastUsedAt !== null && now - token.lastUsedAt < LAST_USED_WRITE_INTERVAL_MS) return;
    token.lastUsedAt = now;
    this.#options.store.touch(token.tokenId, now, LAST_USED_WRITE_INTERVAL_MS).catch((error: unknown) => {
      this.#options.logger.error({ err: error, tokenId: token.tokenId }, 'recording a personal access token use failed');
    });
  }
}
