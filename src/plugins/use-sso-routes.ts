import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { RateLimits } from '../abuse/rate-limits.js';
import type { Clock } from '../clock.js';
import type { NodeServerContext } from '../context.js';
import { BadUserInputError, type GatewayError, RateLimitedError, SsoError } from '../errors.js';
import { createClientAddressResolver } from '../http/client-address.js';
import type { AuthCookies } from '../sessions/auth-cookies.js';
import { SsoBindingCookie, SSO_ROUTES_PATH } from '../sso/browser-binding.js';
import type { SingleSignOn } from '../sso/single-sign-on.js';

/** `/auth/sso/<provider>` and `/auth/sso/<provider>/callback`. */
const ROUTE = new RegExp(`^${SSO_ROUTES_PATH}/([a-z][a-z0-9_]{0,31})(/callback)?$`);

/** The query parameter the browser is sent back to returnTo with when a sign-in failed: an SsoFailureReason. */
export const SSO_ERROR_PARAMETER = 'sso_error';

export interface SsoRoutesOptions {
  readonly sso: SingleSignOn;
  readonly rateLimits: RateLimits;
  readonly cookies: AuthCookies;
  readonly clock: Clock;
  /** Whose X-Forwarded-For is believed for the client IP (TRUSTED_PROXIES). */
  readonly trustedProxies: readonly string[];
  /** COOKIE_SECURE */
  readonly secureCookies: boolean;
  /** Where an unexpected failure is logged; the browser is only told INTERNAL. */
  readonly logger: Logger;
}

/**
 * The browser flow of single sign-on, for pages that cannot run completeSso themselves:
 * `GET /auth/sso/<provider>?returnTo=<url>` sends the browser to the provider, and
 * `GET /auth/sso/<provider>/callback` completes the sign-in, sets the auth cookies (as a login
 * with COOKIE delivery does) and sends the browser to returnTo, which must be a URL of
 * SSO_RETURN_TO_ORIGINS. A failure after the pending sign-in was found goes back to returnTo
 * with `sso_error=<reason>`; before (an unknown or used state), it is answered 400 here, since
 * nowhere safe to go is known. The two count against the declared limits of startSso and
 * completeSso.
 */
export function useSsoRoutes({
  sso,
  rateLimits,
  cookies,
  clock,
  trustedProxies,
  secureCookies,
  logger,
}: SsoRoutesOptions): Plugin<Record<string, unknown>, NodeServerContext> {
  const clientAddress = createClientAddressResolver(trustedProxies);
  const binding = new SsoBindingCookie({ secure: secureCookies });
  return {
    async onRequest({ url, request, serverContext, endResponse }) {
      const match = ROUTE.exec(url.pathname);
      if (!match) return;
      const provider = match[1]!;
      const callback = match[2] !== undefined;
      if (request.method !== 'GET') {
        endResponse(errorResponse(405, 'METHOD_NOT_ALLOWED', 'Use GET', { Allow: 'GET' }));
        return;
      }
      if (!sso.providers.some((known) => known.name === provider)) {
        endResponse(errorResponse(404, 'NOT_FOUND', 'Unknown sign-in provider'));
        return;
      }
      const client = { ip: clientAddress(serverContext.req), userAgent: request.headers.get('user-agent') };
      try {
        await rateLimits.limitedMutation(callback ? 'completeSso' : 'startSso', { clientIp: client.ip, userId: undefined, arguments: { provider } });
        if (!callback) {
          const { authorizationUrl, binding: value } = await sso.startInBrowser(provider, url.searchParams.get('returnTo') ?? '');
          endResponse(redirect(authorizationUrl, [binding.set(value)]));
          return;
        }
        const completion = await sso.completeInBrowser(provider, url.searchParams, binding.read(request.headers.get('cookie')), client);
        if (completion.ok) {
          const { signedIn } = completion;
          const now = clock.now();
          endResponse(
            redirect(completion.returnTo, [
              cookies.refreshToken(signedIn.refreshToken, signedIn.refreshTokenExpiresAt, now),
              cookies.accessToken(signedIn.accessToken.token, signedIn.accessToken.expiresAt, now),
              binding.clear(),
            ]),
          );
        } else if (completion.returnTo) {
          const back = new URL(completion.returnTo);
          back.searchParams.set(SSO_ERROR_PARAMETER, completion.error.reason);
          endResponse(redirect(back, [binding.clear()]));
        } else {
          throw completion.error;
        }
      } catch (error) {
        if (error instanceof RateLimitedError || error instanceof SsoError || error instanceof BadUserInputError) {
          endResponse(gatewayErrorResponse(error));
          return;
        }
        // As the GraphQL error mask does: logged here, nothing of it shown.
        logger.error({ err: error }, 'unexpected error');
        endResponse(errorResponse(500, 'INTERNAL', 'Internal server error'));
      }
    },
  };
}

/**
 * A 302 that neither a cache keeps nor a Referer repeats: the callback's URL holds the code and
 * state, and the page sent to must not learn them.
 */
function redirect(location: URL, setCookies: readonly string[]): Response {
  const headers = new Headers({ Location: location.href, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
  for (const cookie of setCookies) headers.append('Set-Cookie', cookie);
  return new Response(null, { status: 302, headers });
}

function gatewayErrorResponse(error: GatewayError): Response {
  const { code, reason, field, retryAfter, http } = error.extensions as Record<string, unknown> & {
    http?: { status?: number; headers?: Record<string, string> };
  };
  return errorResponse(http?.status ?? 400, String(code), error.message, http?.headers ?? {}, { reason, field, retryAfter });
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}, details: Record<string, unknown> = {}): Response {
  const body = JSON.stringify({ error: { code, message, ...details } });
  return new Response(body, { status, headers: { ...headers, 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } });
}
