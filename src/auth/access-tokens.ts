import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTHeaderParameters } from 'jose';
import type { Clock } from '../clock.js';
import { SIGNING_ALGORITHMS } from '../config.js';
import { UnauthenticatedError } from '../errors.js';
import { type GatewayHooks, RESERVED_ACCESS_TOKEN_CLAIMS } from '../hooks.js';
import type { SigningKeys } from './signing-keys.js';

/** The JWT `typ` header of access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';
const CLOCK_TOLERANCE_SECONDS = 5;
const REQUIRED_CLAIMS = ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp'];

export interface AccessTokenClaims {
  readonly userId: string;
  readonly sessionId: string;
  readonly tokenId: string;
  /** Expiry, epoch milliseconds. */
  readonly expiresAt: number;
  /** `iat`, epoch milliseconds (whole seconds): what per-user revocation markers compare with. */
  readonly issuedAt: number;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly expiresAt: number;
}

export interface AccessTokensOptions {
  readonly keys: SigningKeys;
  readonly clock: Clock;
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  /** How many verified tokens to remember; DEFAULT_VERIFIED_TOKEN_CACHE_SIZE, 0 turns it off. */
  readonly verifiedCacheSize?: number;
  /** Extra claims for every token issued (an embedder's hook); reserved claims are ignored. */
  readonly extraClaims?: GatewayHooks['accessTokenClaims'];
}

/** About 5 MB at the most: a few thousand active clients hit the cache on every request. */
export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;

interface VerifiedToken {
  readonly claims: AccessTokenClaims;
  /** `iat`, epoch milliseconds. */
  readonly issuedAt: number;
  /** The key that signed it: a token is remembered only while its key is accepted. */
  readonly kid: string;
}

/** Issues and verifies the short-lived access JWTs. */
export class AccessTokens {
  readonly #options: AccessTokensOptions;
  /**
   * Tokens whose signature and claims were verified, by their exact text, least recently used
   * first. A client presents the same access token on every request for its whole lifetime, and
   * the signature check is most of what verifying it costs; what can change with time (expiry)
   * and whether its key is still accepted (a revoked key) are checked again on every hit, and
   * the session's revocation is checked by the caller either way. Failed verifications are
   * never remembered.
   */
  readonly #verified = new Map<string, VerifiedToken>();
  readonly #verifiedCacheSize: number;

  constructor(options: AccessTokensOptions) {
    this.#options = Object.freeze({ ...options });
    this.#verifiedCacheSize = options.verifiedCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE;
  }

  /** Signs an access token for a session. */
  async issue(userId: string, sessionId: string): Promise<IssuedAccessToken> {
    const { keys, clock, issuer, audience, ttlSeconds, extraClaims } = this.#options;
    const extra = extraClaims ? withoutReservedClaims(await extraClaims({ userId, sessionId })) : {};
    const key = await keys.signingKey();
    const issuedAt = Math.floor(clock.now() / 1000);
    const expiresAt = issuedAt + ttlSeconds;
    const token = key.sign(ACCESS_TOKEN_TYP, {
      ...extra,
      type: 'access',
      sid: sessionId,
      iss: issuer,
      aud: audience,
      sub: userId,
      jti: randomUUID(),
      iat: issuedAt,
      exp: expiresAt,
    });
    return { token, expiresAt: expiresAt * 1000 };
  }

  /**
   * Verifies an access token: signature by one of our keys with its own algorithm, typ, issuer,
   * audience, expiry and the claims. Throws UNAUTHENTICATED (TOKEN_EXPIRED or TOKEN_INVALID).
   */
  async verify(token: string): Promise<AccessTokenClaims> {
    const cached = this.#verified.get(token);
    if (cached !== undefined) return this.#recheck(token, cached);
    const { keys, clock, issuer, audience, ttlSeconds } = this.#options;
    try {
      const { payload, protectedHeader } = await jwtVerify(
        token,
        async (header: JWTHeaderParameters) => {
          const key = header.kid === undefined ? undefined : await keys.find(header.kid);
          if (!key || key.algorithm !== header.alg) throw new joseErrors.JWSSignatureVerificationFailed();
          return key.key;
        },
        {
          // Every algorithm we sign with, not only those of the keys known here: a key of another
          // algorithm made by another instance must reach the reload on its unknown kid above.
          algorithms: [...SIGNING_ALGORITHMS],
          typ: ACCESS_TOKEN_TYP,
          issuer,
          audience,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(clock.now()),
          requiredClaims: REQUIRED_CLAIMS,
          // Also refuses an iat in the future: no token of ours is issued ahead of the clock.
          maxTokenAge: ttlSeconds,
        },
      );
      if (payload.type !== 'access' || typeof payload.sid !== 'string' || typeof payload.sub !== 'string' || typeof payload.jti !== 'string') {
        throw new UnauthenticatedError('TOKEN_INVALID');
      }
      const claims = { userId: payload.sub, sessionId: payload.sid, tokenId: payload.jti, expiresAt: payload.exp! * 1000, issuedAt: payload.iat! * 1000 };
      this.#remember(token, { claims, issuedAt: claims.issuedAt, kid: protectedHeader.kid! });
      return claims;
    } catch (error) {
      if (error instanceof UnauthenticatedError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new UnauthenticatedError('TOKEN_EXPIRED');
      throw new UnauthenticatedError('TOKEN_INVALID');
    }
  }

  /**
   * Forgets every remembered verification of tokens signed by a key (a revoked one). The
   * check on every hit refuses them anyway; this frees their entries at once.
   */
  forgetKey(kid: string): void {
    for (const [token, verified] of this.#verified) if (verified.kid === kid) this.#verified.delete(token);
  }

  /** The time-dependent checks of jwtVerify, with the same tolerance, and its key's standing, for a remembered token. */
  #recheck(token: string, verified: VerifiedToken): AccessTokenClaims {
    const { claims, issuedAt, kid } = verified;
    if (!this.#options.keys.accepts(kid)) {
      this.#verified.delete(token);
      throw new UnauthenticatedError('TOKEN_INVALID');
    }
    const now = this.#options.clock.now();
    const tolerance = CLOCK_TOLERANCE_SECONDS * 1000;
    if (now >= claims.expiresAt + tolerance || now - issuedAt > this.#options.ttlSeconds * 1000 + tolerance) {
      this.#verified.delete(token);
      throw new UnauthenticatedError('TOKEN_EXPIRED');
    }
    if (issuedAt > now + tolerance) throw new UnauthenticatedError('TOKEN_INVALID');
    // Most recently used last, so that the eviction below takes the least recently used.
    this.#verified.delete(token);
    this.#verified.set(token, verified);
    return claims;
  }

  #remember(token: string, verified: VerifiedToken): void {
    if (this.#verifiedCacheSize === 0) return;
    this.#verified.set(token, verified);
    if (this.#verified.size > this.#verifiedCacheSize) this.#verified.delete(this.#verified.keys().next().value!);
  }
}

/** A hook's claims without those the gateway sets itself. */
function withoutReservedClaims(claims: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => !RESERVED_ACCESS_TOKEN_CLAIMS.includes(name)));
}
