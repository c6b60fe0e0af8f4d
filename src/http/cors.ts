import type { CORSOptions, Plugin } from 'graphql-yoga';
import { CSRF_HEADERS } from '../plugins/use-csrf-prevention.js';

/** How long browsers may cache a preflight answer. */
export const CORS_MAX_AGE_SECONDS = 600;

/**
 * The CORS answer for a request: cross-origin access with credentials for the origins in
 * ALLOWED_ORIGINS, echoed one at a time; nothing at all for any other origin (not even
 * `Access-Control-Allow-Origin: null`, which sandboxed frames would match), so with an empty list
 * no cross-origin page can read a response. Yoga's default would allow every origin.
 */
export function corsPolicy(allowedOrigins: readonly string[]): (request: Request) => CORSOptions {
  const allowed = new Set(allowedOrigins);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !allowed.has(origin)) return false;
    return {
      origin,
      credentials: true,
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'authorization', ...CSRF_HEADERS],
      // Clients act on these: when to retry, and why a credential was refused.
      exposedHeaders: ['retry-after', 'www-authenticate'],
      maxAge: CORS_MAX_AGE_SECONDS,
    };
  };
}

/**
 * `Vary: Origin` on every response, since the CORS headers depend on the Origin header (and
 * corsPolicy answers with the caller's own origin, for which Yoga adds no Vary): without it a
 * cache could hand one origin the answer meant for another, or a same-origin answer (without
 * CORS headers) to an allowed cross-origin page.
 */
export function useVaryOnOrigin(): Plugin {
  return {
    onResponse({ response }) {
      const vary = response.headers.get('vary');
      if (vary === null) response.headers.set('vary', 'Origin');
      else if (!/(^|,)\s*(origin|\*)\s*(,|$)/i.test(vary)) response.headers.set('vary', `${vary}, Origin`);
    },
  };
}
