import { createRemoteJwksSigningKeyProvider, extractFromHeader, type JWTExtendContextFields, useJWT } from '@graphql-yoga/plugin-jwt';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** All a subgraph knows of the gateway: the issuer, where its public keys are, and its own audience. */
export interface GatewayTrust {
  /** The gateway's JWT_ISSUER. */
  readonly issuer: string;
  /** The gateway's JWKS: `<gateway>/.well-known/jwks.json`. */
  readonly jwksUri: string;
  /** This subgraph's name in SUBGRAPHS (or its SUBGRAPH_AUDIENCES entry). */
  readonly audience: string;
}

/** What a subgraph's resolvers see: the verified identity token, when the request carried one. */
export interface IdentityContext {
  readonly jwt?: JWTExtendContextFields;
}

/** The claims of an identity token that these subgraphs read (the README's *Put subgraphs behind the gateway* lists them all). */
export interface IdentityClaims {
  /** The user's id. */
  readonly sub: string;
  /** How the caller signed in to the gateway. */
  readonly kind: 'session' | 'pat';
  /** Space-separated; a session holds every scope. */
  readonly scope: string;
}

/**
 * Verifies the identity token the gateway sends with every subgraph request
 * (`Authorization: Bearer`), against the gateway's JWKS, issuer and this subgraph's audience.
 * An invalid token is refused with 401 before any resolver runs; a request without one passes,
 * because the gateway reads the subgraph's SDL without a token at start. Resolvers ask for the
 * token with claimsOf.
 */
export function useGatewayIdentity({ issuer, jwksUri, audience }: GatewayTrust): Plugin<IdentityContext> {
  return useJWT({
    signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri })],
    tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
    // ES256: the gateway's default signing algorithm, and one plugin-jwt verifies (it has no EdDSA).
    tokenVerification: { issuer, audience, algorithms: ['ES256'] },
    reject: { missingToken: false, invalidToken: true },
  });
}

/** The verified identity of the caller, or UNAUTHENTICATED for a request that came without an identity token. */
export function claimsOf(context: IdentityContext): IdentityClaims {
  const payload = context.jwt?.payload;
  // The gateway's access tokens are signed with the same keys: only an identity token says `type: identity`
  // (the audience already tells them apart unless SUBGRAPH_AUDIENCES names the gateway's own).
  if (payload?.type !== 'identity' || typeof payload.sub !== 'string') {
    throw new GraphQLError('identity token required', { extensions: { code: 'UNAUTHENTICATED' } });
  }
  return { sub: payload.sub, kind: payload.kind, scope: typeof payload.scope === 'string' ? payload.scope : '' };
}
