import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { authCookiesOf } from '../credentials/auth-cookie-values.js';

/**
 * Fetch Metadata resource isolation (https://web.dev/articles/fetch-metadata) for the requests
 * the auth cookies ride on: one a browser marks `Sec-Fetch-Site: cross-site` is refused with
 * 403 (FORBIDDEN, reason CROSS_SITE_REQUEST) before any credential is checked, unless its
 * Origin is in ALLOWED_ORIGINS. `same-origin`, `same-site` and `none` (the user typed the URL)
 * pass, and so does a request without the header: older browsers and non-browser clients,
 * which the CSRF headers, CORS and SameSite=Strict cookies still cover.
 *
 * Only requests carrying an auth cookie are checked: without one a cross-site page holds no
 * ambient authority here, and a bearer token is something it had to be given.
 */
export function useFetchMetadata({ allowedOrigins }: { allowedOrigins: readonly string[] }): Plugin {
  const allowed = new Set(allowedOrigins);
  return {
    onRequestParse({ request }) {
      const { headers } = request;
      if (headers.get('sec-fetch-site') !== 'cross-site') return;
      const origin = headers.get('origin');
      if (origin !== null && allowed.has(origin)) return;
      if (!carriesAuthCookie(headers.get('cookie'))) return;
      throw new GraphQLError('Cross-site requests carrying the auth cookies are refused', {
        extensions: { code: 'FORBIDDEN', reason: 'CROSS_SITE_REQUEST', http: { status: 403 } },
      });
    },
  };
}

function carriesAuthCookie(cookieHeader: string | null): boolean {
  const { accessToken, refreshToken } = authCookiesOf(cookieHeader);
  return accessToken !== undefined || refreshToken !== undefined;
}
