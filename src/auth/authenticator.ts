import { UnauthenticatedError } from '../errors.js';
import type { RevokedSessions } from '../revocation/revoked-sessions.js';
import type { RevokedUsers } from '../revocation/revoked-users.js';
import type { AccessTokens } from './access-tokens.js';
import type { Caller } from './caller.js';
import { looksLikePersonalAccessToken } from './personal-access-tokens/token-format.js';
import type { PersonalAccessTokenVerifier } from './personal-access-tokens/token-verifier.js';

export interface AuthenticatorOptions {
  readonly accessTokens: AccessTokens;
  readonly revokedSessions: RevokedSessions;
  /** Per-user markers (logoutAll, changePassword); a database read only for a token issued within seconds of one. */
  readonly revokedUsers?: RevokedUsers;
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
   * of recently revoked sessions and per-user markers, so that no database read sits on that
   * path (but one per session for a token issued within seconds of a marker). Opaque refresh
   * tokens are neither and fail as TOKEN_INVALID. `clientIp` is the client that refused
   * personal access tokens count against (see PersonalAccessTokenVerifier.verify).
   */
  async authenticate(credential: string, clientIp?: string | null): Promise<Caller> {
    if (credential === '') throw new UnauthenticatedError('TOKEN_INVALID');
    if (looksLikePersonalAccessToken(credential)) return this.#options.personalAccessTokens.verify(credential, clientIp);
    const claims = await this.#options.accessTokens.verify(credential);
    const revoked = this.#options.revokedSessions.reasonFor(claims.sessionId);
    if (revoked !== undefined) throw new UnauthenticatedError(revoked);
    if (await this.#options.revokedUsers?.isRevoked(claims.userId, claims.sessionId, claims.issuedAt)) throw new UnauthenticatedError('SESSION_REVOKED');
    return { kind: 'session', userId: claims.userId, sessionId: claims.sessionId, expiresAt: claims.expiresAt, issuedAt: claims.issuedAt };
  }
}
