/** The session an access token is being issued for. */
export interface AccessTokenSubject {
  readonly userId: string;
  readonly sessionId: string;
}

/**
 * Claims the gateway sets itself on every access token; a hook's value for any of them is
 * ignored, so that an embedder can add to a token but never change whom or what it is for.
 */
export const RESERVED_ACCESS_TOKEN_CLAIMS: readonly string[] = Object.freeze(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'type']);

/**
 * Where code that embeds the gateway (createGatewayApp's `hooks`) takes part in what it does.
 * Every member is optional; a gateway without hooks behaves as main.ts runs it.
 */
export interface GatewayHooks {
  /**
   * Extra claims for an access token, called each time one is signed (sign-in, registration,
   * refresh). Reserved claims (RESERVED_ACCESS_TOKEN_CLAIMS) are ignored. A hook that throws
   * fails the operation that asked for the token: no session is handed out without its claims.
   * Access tokens are signed on every refresh, so keep it fast.
   */
  readonly accessTokenClaims?: (subject: AccessTokenSubject) => Record<string, unknown> | Promise<Record<string, unknown>>;
}
