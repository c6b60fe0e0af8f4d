import type { IncomingMessage } from 'node:http';
import { parse as parseCookies } from 'cookie';
import { GraphQLError } from 'graphql';
import type { ClientInfo } from './accounts/accounts.js';
import type { Caller } from './auth/caller.js';
import { UnauthenticatedError } from './errors.js';
import { createClientAddressResolver } from './http/client-address.js';
import type { LiveConnection } from './realtime/live-connections.js';
import { ACCESS_TOKEN_COOKIE } from './sessions/auth-cookies.js';
import { responseCookiesOf } from './plugins/use-response-cookies.js';
import type { Services } from './services.js';

/** A WebSocket connection's state, authenticated once at connection_init. */
export interface WebSocketSession {
  readonly caller: Caller;
  readonly connection: LiveConnection;
  /** The upgrade request as a fetch Request. */
  readonly fetchRequest: Request;
}

/** What Node's HTTP server (or the WebSocket endpoint) hands Yoga with every operation. */
export interface NodeServerContext {
  readonly req?: IncomingMessage;
  /** Present for operations over WebSocket. */
  readonly websocket?: WebSocketSession;
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
  /** The WebSocket connection an operation arrived on; undefined over HTTP (and SSE). */
  readonly websocket: WebSocketSession | undefined;
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
 * else the `token` query parameter (of SSE requests and WebSocket upgrades only). The first
 * source present decides; a malformed one is an error, never a reason to try the next.
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

/** The credential sources of an HTTP request (and of an SSE stream). */
export function credentialSourcesOf(request: Request): CredentialSources {
  return {
    authorization: request.headers.get('authorization'),
    cookieHeader: request.headers.get('cookie'),
    queryToken: queryTokenOf(request),
  };
}

/**
 * `?token=`, honoured on SSE requests only: it exists for EventSource, which cannot set headers
 * (a WebSocket upgrade's is read in websocket-credentials.ts). URLs end up in logs, proxies and
 * Referer headers (RFC 6750 §2.3), so any other request carrying it is refused (400,
 * BAD_USER_INPUT on field `token`) and never authenticated by it.
 */
function queryTokenOf(request: Request): string | null {
  // Parsing a URL costs more than the rest of this context; most requests carry no query.
  if (!request.url.includes('?')) return null;
  const token = new URL(request.url).searchParams.get('token');
  if (token === null || isEventStreamRequest(request)) return token;
  throw new GraphQLError('The token query parameter is accepted on SSE requests only; send the credential in the Authorization header', {
    extensions: { code: 'BAD_USER_INPUT', field: 'token', http: { status: 400 } },
  });
}

/** A request asking for Server-Sent Events, as EventSource and SSE clients do. */
function isEventStreamRequest(request: Request): boolean {
  return request.headers.get('accept')?.includes('text/event-stream') ?? false;
}

/**
 * Resolves the caller of an HTTP request. Throws UNAUTHENTICATED for a refused credential.
 * `clientIp`, when given, is the client refused personal access tokens count against.
 */
export async function resolveCaller(services: Services, sources: CredentialSources, clientIp?: string | null): Promise<Caller | null> {
  const credential = presentedCredential(sources);
  if (credential === undefined) return null;
  return services.authenticator.authenticate(credential, clientIp);
}

/** Yoga's context factory. */
export function createContextFactory(services: Services) {
  // The client IP recorded on sessions and keying the rate limits: X-Forwarded-For counts only
  // from TRUSTED_PROXIES.
  const clientAddress = createClientAddressResolver(services.config.trustedProxies);
  return async ({ request, req, websocket }: { request: Request } & NodeServerContext): Promise<GatewayContext> => {
    const client = { ip: clientAddress(req), userAgent: request.headers.get('user-agent') };
    if (websocket) return { services, request, caller: websocket.caller, client, responseCookies: [], websocket };
    const sources = credentialSourcesOf(request);
    const responseCookies = responseCookiesOf(request);
    let caller: Caller | null;
    try {
      caller = await resolveCaller(services, sources, client.ip);
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
      client,
      responseCookies,
      websocket: undefined,
    };
  };
}
