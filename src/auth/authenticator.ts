import { UnauthenticatedError } from '../errors.js';
import type { RevokedSessions } from '../sessions/revoked-sessions.js';
import type { AccessTokens } from './access-tokens.js';
import type { Caller } from './caller.js';
import { looksLikePersonalAccessToken } from './personal-access-token-format.js';
import type { PersonalAccessTokenVerifier } from './personal-access-token-verifier.js';

export interface AuthenticatorOptions {
  readonly accessTokens: AccessTokens;
  readonly revokedSessions: RevokedSessions;
  readonly personalAccessTokens: PersonalAccessTokenVerifier;
}

/** Turns a presented credential into a Caller, or refuses it with UNAUTHENTICATED. */
export class Authenticator {
  readonly #options: AuthenticatorOptions;

  constructor(options: AuthenticatorOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * A `gwp_` credential is a personal access token (format and checksum, cache, database);
   * anything else must be an access JWT, verified and then checked against the in-memory set
   * of recently revoked sessions, so that no database read sits on that path. Opaque refresh
   * tokens are neither and fail as TOKEN_INVALID.
   */
  async authenticate(credential: string): Promise<Caller> {
    if (credential === '') throw new UnauthenticatedError('TOKEN_INVALID');
    if (looksLikePersonalAccessToken(credential)) return this.#options.personalAccessTokens.verify(credential);
    const claims = await this.#options.accessTokens.verify(credential);
    const revoked = this.#options.revokedSessions.reasonFor(claims.sessionId);
    if (revoked !== undefined) throw new UnauthenticatedError(revoked);
    return { kind: 'session', userId: claims.userId, sessionId: claims.sessionId, expiresAt: claims.expiresAt };
  }
}
