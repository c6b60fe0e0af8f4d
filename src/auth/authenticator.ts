import { UnauthenticatedError } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';
import type { Caller } from './caller.js';

/** Turns a presented credential into a Caller, or refuses it with UNAUTHENTICATED. */
export class Authenticator {
  readonly #accessTokens: AccessTokens;

  constructor(accessTokens: AccessTokens) {
    this.#accessTokens = accessTokens;
  }

  /** Verifies a bearer credential. Opaque refresh tokens are not JWTs and fail as TOKEN_INVALID. */
  async authenticate(credential: string): Promise<Caller> {
    if (credential === '') throw new UnauthenticatedError('TOKEN_INVALID');
    const claims = await this.#accessTokens.verify(credential);
    return { kind: 'session', userId: claims.userId, sessionId: claims.sessionId, expiresAt: claims.expiresAt };
  }
}
