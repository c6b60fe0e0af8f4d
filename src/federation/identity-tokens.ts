import { randomUUID } from 'node:crypto';
import type { Caller } from '../auth/caller.js';
import type { SigningKeys } from '../auth/signing-keys.js';
import type { Clock } from '../clock.js';

/**
 * The JWT `typ` of identity tokens. Distinct from access tokens' `at+jwt`, which is all that
 * AccessTokens.verify accepts: an identity token presented to the gateway is refused whatever
 * its audience (token confusion, RFC 8725 §3.11).
 */
export const IDENTITY_TOKEN_TYP = 'identity+jwt';
/** A minted token is reused while less than this share of its lifetime has passed. */
export const DEFAULT_IDENTITY_TOKEN_REUSE_FRACTION = 0.5;
/** Identities × subgraphs remembered; a few thousand active callers fit, each entry well under 1 KB. */
export const DEFAULT_IDENTITY_TOKEN_CACHE_SIZE = 10_000;

export interface IdentityTokensOptions {
  readonly keys: SigningKeys;
  readonly clock: Clock;
  readonly issuer: string;
  /** At most MAX_IDENTITY_TOKEN_TTL_SECONDS (config.ts). */
  readonly ttlSeconds: number;
  /**
   * The `scope` of a session's tokens: a session holds every scope, so it lists every scope
   * known. The same array until the scopes change: a new array re-mints the cached tokens.
   */
  readonly sessionScopes: () => readonly string[];
  readonly reuseFraction?: number;
  readonly cacheSize?: number;
}

interface MintedToken {
  readonly token: string;
  readonly kid: string;
  /** Epoch milliseconds after which a new token is minted instead. */
  readonly renewAt: number;
  /**
   * A session's token: the session scopes it names, compared by identity (sessionScopes returns
   * the same array until the supergraph changes; then it is minted anew). Undefined for a PAT's.
   */
  readonly sessionScopes: readonly string[] | undefined;
}

/**
 * Mints the short-lived JWTs that carry a caller's identity to a subgraph: signed by the
 * gateway's current key, for one audience (the subgraph), never outliving the credential the
 * caller presented. Tokens are cached per identity and audience, so that signing is not paid
 * on every subgraph request.
 */
export class IdentityTokens {
  readonly #options: IdentityTokensOptions;
  readonly #minted = new Map<string, MintedToken>();
  readonly #reuseFraction: number;
  readonly #cacheSize: number;

  constructor(options: IdentityTokensOptions) {
    if (options.ttlSeconds <= 0) throw new TypeError('ttlSeconds must be positive');
    this.#options = Object.freeze({ ...options });
    this.#reuseFraction = options.reuseFraction ?? DEFAULT_IDENTITY_TOKEN_REUSE_FRACTION;
    this.#cacheSize = options.cacheSize ?? DEFAULT_IDENTITY_TOKEN_CACHE_SIZE;
  }

  /** An identity token for the caller, for a subgraph's audience; a cached one while it is fresh and its key still signs. */
  async tokenFor(caller: Caller, audience: string): Promise<string> {
    const key = `${caller.kind === 'session' ? `s:${caller.sessionId}` : `p:${caller.tokenId}`}\n${audience}`;
    const now = this.#options.clock.now();
    const sessionScopes = caller.kind === 'session' ? this.#options.sessionScopes() : undefined;
    const cached = this.#minted.get(key);
    if (cached !== undefined && now < cached.renewAt && this.#options.keys.current.kid === cached.kid && cached.sessionScopes === sessionScopes) {
      return cached.token;
    }
    const minted = await this.#mint(caller, audience, now, sessionScopes);
    this.#minted.delete(key);
    this.#minted.set(key, minted);
    if (this.#minted.size > this.#cacheSize) this.#minted.delete(this.#minted.keys().next().value!);
    return minted.token;
  }

  async #mint(caller: Caller, audience: string, now: number, sessionScopes: readonly string[] | undefined): Promise<MintedToken> {
    const { keys, issuer, ttlSeconds } = this.#options;
    const signingKey = await keys.signingKey();
    const issuedAt = Math.floor(now / 1000);
    // Never beyond the presented credential: a subgraph must not accept a caller the gateway would refuse.
    const credentialExpiry = caller.expiresAt === null ? Number.POSITIVE_INFINITY : Math.floor(caller.expiresAt / 1000);
    const expiresAt = Math.min(issuedAt + ttlSeconds, credentialExpiry);
    const credential = caller.kind === 'session' ? { kind: 'session', sid: caller.sessionId } : { kind: 'pat', pat_id: caller.tokenId };
    // tokenFor reads a session's scopes once, for the cache check and for this token.
    const scopes = caller.kind === 'session' ? sessionScopes! : caller.scopes;
    const token = signingKey.sign(IDENTITY_TOKEN_TYP, {
      type: 'identity',
      ...credential,
      scope: scopes.join(' '),
      iss: issuer,
      sub: caller.userId,
      aud: audience,
      iat: issuedAt,
      exp: expiresAt,
      jti: randomUUID(),
    });
    const lifetimeMs = (expiresAt - issuedAt) * 1000;
    return { token, kid: signingKey.kid, renewAt: issuedAt * 1000 + lifetimeMs * this.#reuseFraction, sessionScopes };
  }
}
