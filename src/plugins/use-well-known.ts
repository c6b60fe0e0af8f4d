import type { Plugin } from 'graphql-yoga';
import type { SigningKeys } from '../auth/signing-keys.js';
import { ifNoneMatchNames, strongEntityTag } from '../http/entity-tag.js';

export const JWKS_PATH = '/.well-known/jwks.json';
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';
/**
 * How long caches and verifiers may reuse either document without asking again: a small
 * fraction of the time a new key is published before it signs, so every verifier has seen a
 * key well before the first token signed with it arrives.
 */
export const WELL_KNOWN_CACHE_CONTROL = 'public, max-age=300';

export interface WellKnownOptions {
  readonly issuer: string;
  readonly keys: SigningKeys;
}

/** A document as served: its exact bytes and the entity-tag naming them. */
interface Representation {
  readonly body: string;
  readonly etag: string;
}

/**
 * Publishes the public signing keys (JWKS) and the discovery document that points to them, so
 * that subgraphs and other resource servers verify access tokens without calling us per request.
 * Both carry a strong ETag and answer a matching `If-None-Match` with 304, so verifiers that
 * poll for new keys mostly get an empty answer.
 */
export function useWellKnown({ issuer, keys }: WellKnownOptions): Plugin {
  const jwksUri = new URL(JWKS_PATH, issuer).href;
  // Both documents follow the key set, which the keys reload from the database while running;
  // they are rebuilt and hashed only when its serialisation changes, not per request.
  let jwks: Representation | undefined;
  let discovery: Representation | undefined;
  const current = (): { jwks: Representation; discovery: Representation } => {
    const body = keys.jwksJson;
    if (jwks?.body !== body || !discovery) {
      jwks = represent(body);
      discovery = represent(JSON.stringify({ issuer, jwks_uri: jwksUri, id_token_signing_alg_values_supported: keys.algorithms }));
    }
    return { jwks, discovery };
  };
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname !== JWKS_PATH && url.pathname !== OPENID_CONFIGURATION_PATH) return;
      const documents = current();
      const { body, etag } = url.pathname === JWKS_PATH ? documents.jwks : documents.discovery;
      const headers = { ETag: etag, 'Cache-Control': WELL_KNOWN_CACHE_CONTROL };
      // A 304 repeats the validator and caching headers (RFC 9110 §15.4.5), and the cache
      // keeps the body it has.
      if (ifNoneMatchNames(request.headers.get('if-none-match'), etag)) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      endResponse(new fetchAPI.Response(body, { status: 200, headers: { ...headers, 'Content-Type': 'application/json' } }));
    },
  };
}

function represent(body: string): Representation {
  return { body, etag: strongEntityTag(body) };
}
