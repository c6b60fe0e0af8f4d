import type { IncomingMessage } from 'node:http';
import { parse as parseCookies } from 'cookie';
import type { ClientInfo } from './accounts/accounts.js';
import type { Caller } from './auth/caller.js';
import { UnauthenticatedError } from './errors.js';
import { socketAddress } from './http/client-address.js';
import { ACCESS_TOKEN_COOKIE } from './sessions/auth-cookies.js';
import { responseCookiesOf } from './plugins/use-response-cookies.js';
import type { Services } from './services.js';

/** What Node's HTTP server hands Yoga with every request. */
export interface NodeServerContext {
  readonly req?: IncomingMessage;
}

/** The per-request context every resolver sees. */
export interface GatewayContext {
  readonly services: Services;
  readonly request: Request;
  /** The verified caller; null when no credential was presented. */
  readonly caller: Caller | null;
  readonly client: ClientInfo;
  /** Set-Cookie headers for the response. */
  readonly responseCookies: string[];
}

/** The places a credential may arrive through, in the order they are tried. */
export interface CredentialSources {
  readonly authorization?: string | null;
  readonly cookieHeader?: string | null;
  /** `?token=` on the URL, for EventSource and WebSocket clients that cannot set headers. */
  readonly queryToken?: string | null;
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * The credential a request presents: the Authorization header, else the accessToken cookie,
 * else the `token` query parameter. The first source present decides; a malformed one is an
 * error, never a reason to try the next.
 */
export function presentedCredential({ authorization, cookieHeader, queryToken }: CredentialSources): string | undefined {
  if (authorization !== null && authorization !== undefined) {
    const match = BEARER.exec(authorization);
    if (!match) throw new UnauthenticatedError('TOKEN_INVALID');
    return match[1];
  }
  if (cookieHeader) {
    const cookie = parseCookies(cookieHeader)[ACCESS_TOKEN_COOKIE];
    if (cookie !== undefined) return cookie;
  }
  if (queryToken !== null && queryToken !== undefined) return queryToken;
  return undefined;
}

/** Resolves the caller of an HTTP request. Throws UNAUTHENTICATED for a refused credential. */
export async function resolveCaller(services: Services, sources: CredentialSources): Promise<Caller | null> {
  const credential = presentedCredential(sources);
  if (credential === undefined) return null;
  return services.authenticator.authenticate(credential);
}

/** Yoga's context factory. */
export function createContextFactory(services: Services) {
  return async ({ request, req }: { request: Request } & NodeServerContext): Promise<GatewayContext> => {
    const url = new URL(request.url);
    const sources: CredentialSources = {
      authorization: request.headers.get('authorization'),
      cookieHeader: request.headers.get('cookie'),
      queryToken: url.searchParams.get('token'),
    };
    const responseCookies = responseCookiesOf(request);
    let caller: Caller | null;
    try {
      caller = await resolveCaller(services, sources);
    } catch (error) {
      // A refused accessToken cookie would otherwise block the browser's next sign-in or
      // refresh on this path until it expires; clear it along with the refusal.
      if (sources.authorization == null && sources.cookieHeader?.includes(`${ACCESS_TOKEN_COOKIE}=`)) {
        responseCookies.push(services.cookies.clearAccessToken());
      }
      throw error;
    }
    return {
      services,
      request,
      caller,
      client: { ip: socketAddress(req), userAgent: request.headers.get('user-agent') },
      responseCookies,
    };
  };
}
