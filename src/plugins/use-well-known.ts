import type { Plugin } from 'graphql-yoga';
import type { SigningKeys } from '../auth/signing-keys.js';

export const JWKS_PATH = '/.well-known/jwks.json';
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';

export interface WellKnownOptions {
  readonly issuer: string;
  readonly keys: SigningKeys;
}

/**
 * Publishes the public signing keys (JWKS) and the discovery document that points to them, so
 * that subgraphs and other resource servers verify access tokens without calling us per request.
 */
export function useWellKnown({ issuer, keys }: WellKnownOptions): Plugin {
  const discovery = JSON.stringify({
    issuer,
    jwks_uri: new URL(JWKS_PATH, issuer).href,
    id_token_signing_alg_values_supported: keys.algorithms,
  });
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      const body = url.pathname === JWKS_PATH ? keys.jwksJson : url.pathname === OPENID_CONFIGURATION_PATH ? discovery : undefined;
      if (body === undefined) return;
      endResponse(
        new fetchAPI.Response(body, {
          status: 200,
          headers: { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=300' },
        }),
      );
    },
  };
}
