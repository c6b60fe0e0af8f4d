import type { Plugin } from 'graphql-yoga';

/**
 * `Cache-Control: no-store` on every answer that does not set its own: GraphQL over GET, POST
 * and SSE alike, which may hold a caller's data or fresh tokens (a GET would otherwise be
 * cacheable by browsers and shared caches). SSE streams come from Yoga with `no-cache`, which
 * still lets a cache store them, so theirs is replaced. The JWKS and discovery documents keep
 * the public caching they set.
 */
export function useCacheControl(): Plugin {
  return {
    onResponse({ response }) {
      const { headers } = response;
      if (!headers.has('cache-control') || headers.get('content-type')?.startsWith('text/event-stream')) {
        // Deleted first: Yoga's Headers ponyfill, built from `{ 'Cache-Control': … }`, would
        // otherwise keep that key beside a lower-case one and send both values.
        headers.delete('cache-control');
        headers.set('cache-control', 'no-store');
      }
    },
  };
}
