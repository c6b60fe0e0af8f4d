import type { IncomingMessage } from 'node:http';
import type { ClientInfo } from './accounts/accounts.js';
import type { Caller } from './auth/caller.js';
import { authCookiesOf } from './credentials/auth-cookie-values.js';
import { credentialSourcesOf } from './credentials/http-credentials.js';
import { resolveCaller } from './credentials/resolve-caller.js';
import { createClientAddressResolver } from './http/client-address.js';
import type { WebSocketSession } from './realtime/websocket-session.js';
import { responseCookiesOf } from './plugins/use-response-cookies.js';
import type { Services } from './services.js';

/** What Node's HTTP server (or the WebSocket endpoint) hands Yoga with every operation. */
export interface NodeServerContext {
  readonly req?: IncomingMessage;
  /** Present for operations over WebSocket. */
  readonly websocket?: WebSocketSession;
}

/**
 * The services a resolver reaches: the domain operations and what the session-event stream
 * needs, not the wiring (database, Redis, rate limits, signing keys, revocation internals).
 */
export type ResolverServices = Pick<
  Services,
  | 'accounts'
  | 'emailCodes'
  | 'sso'
  | 'users'
  | 'sessions'
  | 'personalAccessTokens'
  | 'cookies'
  | 'securityEvents'
  | 'clock'
  | 'live'
  | 'sessionEvents'
  | 'authenticator'
  | 'logger'
>;

/** The per-request context every resolver sees. */
export interface GatewayContext {
  readonly services: ResolverServices;
  readonly request: Request;
  /** The verified caller; null when no credential was presented. */
  readonly caller: Caller | null;
  readonly client: ClientInfo;
  /** Set-Cookie headers for the response. */
  readonly responseCookies: string[];
  /** The WebSocket connection an operation arrived on; undefined over HTTP (and SSE). */
  readonly websocket: WebSocketSession | undefined;
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
      caller = await resolveCaller(services.authenticator, sources, client.ip);
    } catch (error) {
      // A refused accessToken cookie would otherwise block the browser's next sign-in or
      // refresh on this path until it expires; clear it along with the refusal.
      if (sources.authorization == null && authCookiesOf(sources.cookieHeader).accessToken !== undefined) {
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
