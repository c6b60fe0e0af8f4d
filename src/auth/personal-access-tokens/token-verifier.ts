import type { Logger } from 'pino';
import type { AccountDeletions } from '../../accounts/account-deletions.js';
import type { Clock } from '../../clock.js';
import { UnauthenticatedError } from '../../errors.js';
import type { PersonalAccessTokenCaller } from '../caller.js';
import type { CachedPersonalAccessToken, PersonalAccessTokenCache, PersonalAccessTokenRefusal } from './token-cache.js';
import { isWellFormedPersonalAccessToken } from './token-format.js';
import type { PersonalAccessTokenStore } from './token-store.js';
import { hashToken } from '../opaque-token.js';

/** last_used_at is written at most this often per token. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;

/**
 * The per-client limit on refused tokens (src/abuse/failed-token-presentations.ts). A client
 * is an IP address, or null when its address is unknown.
 */
export interface PersonalAccessTokenAttempts {
  /** Reserves a point before a database look-up; RATE_LIMITED when the client is over the limit. */
  begin(clientIp: string | null): Promise<void>;
  /** Gives the point back: the look-up found a live token, or failed for another reason than the token. */
  succeeded(clientIp: string | null): Promise<void>;
  /** Counts a refusal that needed no look-up. */
  failed(clientIp: string | null): Promise<void>;
}

export interface PersonalAccessTokenVerifierOptions {
  readonly store: PersonalAccessTokenStore;
  readonly cache: PersonalAccessTokenCache;
  readonly deletions: AccountDeletions;
  readonly attempts: PersonalAccessTokenAttempts;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Turns a presented personal access token into a caller: the format and checksum first (a
 * malformed token never reaches the database), then the cache of live tokens and recent
 * refusals, then, within the client's limit on refused tokens, the database by hash.
 */
export class PersonalAccessTokenVerifier {
  readonly #options: PersonalAccessTokenVerifierOptions;

  constructor(options: PersonalAccessTokenVerifierOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Throws UNAUTHENTICATED: TOKEN_INVALID (malformed or unknown), TOKEN_EXPIRED,
   * SESSION_REVOKED (revoked) or USER_NOT_FOUND (its account was deleted); RATE_LIMITED when
   * the token would need a database look-up and its client has had too many tokens refused.
   * `clientIp` is the client refusals count against (null: its address is unknown); without
   * it nothing is counted or limited, for a credential checked again after it was counted.
   */
  async verify(presented: string, clientIp?: string | null): Promise<PersonalAccessTokenCaller> {
    if (!isWellFormedPersonalAccessToken(presented)) return this.#refuse('TOKEN_INVALID', clientIp);
    const tokenHash = hashToken(presented);
    let token = this.#options.cache.get(tokenHash);
    if (!token) {
      const refusal = this.#options.cache.refusalOf(tokenHash);
      if (refusal !== undefined) return this.#refuse(refusal, clientIp);
      token = await this.#lookUp(tokenHash, clientIp);
    }
    const now = this.#options.clock.now();
    if (token.expiresAt !== null && token.expiresAt <= now) return this.#refuse('TOKEN_EXPIRED', clientIp);
    this.#recordUse(token, now);
    return { kind: 'pat', userId: token.userId, tokenId: token.tokenId, scopes: token.scopes, expiresAt: token.expiresAt };
  }

  /** The database look-up, within the client's limit: a refusal keeps the point it reserved. */
  async #lookUp(tokenHash: string, clientIp: string | null | undefined): Promise<CachedPersonalAccessToken> {
    if (clientIp === undefined) return this.#load(tokenHash);
    const { attempts } = this.#options;
    await attempts.begin(clientIp);
    try {
      const token = await this.#load(tokenHash);
      await this.#count(() => attempts.succeeded(clientIp));
      return token;
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) await this.#count(() => attempts.succeeded(clientIp));
      throw error;
    }
  }

  /** Counts a refusal that needed no look-up against the client, then throws it. */
  async #refuse(reason: 'TOKEN_INVALID' | 'TOKEN_EXPIRED' | PersonalAccessTokenRefusal, clientIp: string | null | undefined): Promise<never> {
    if (clientIp !== undefined) await this.#count(() => this.#options.attempts.failed(clientIp));
    throw new UnauthenticatedError(reason);
  }

  /** A failing limiter store must not turn the answer into INTERNAL: the count is lost, and logged. */
  async #count(update: () => Promise<void>): Promise<void> {
    try {
      await update();
    } catch (error) {
      this.#options.logger.error({ err: error }, 'counting a personal access token attempt failed');
    }
  }

  async #load(tokenHash: string): Promise<CachedPersonalAccessToken> {
    const { store, cache, deletions } = this.#options;
    const generation = cache.generation;
    const refuse = (reason: PersonalAccessTokenRefusal, userId?: string) => {
      cache.setRefusal(tokenHash, reason, userId, generation);
      return new UnauthenticatedError(reason);
    };
    const row = await store.findByHash(tokenHash);
    if (!row) throw refuse(await deletions.refusalOfUnknown('personal_access_token', tokenHash));
    if (row.revoked_at !== null) throw refuse('SESSION_REVOKED', row.user_id);
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
