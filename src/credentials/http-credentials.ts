import { GraphQLError } from 'graphql';
import type { CredentialSources } from './credential-sources.js';

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
  // Parsing a URL costs more than the rest of the context; most requests carry no query.
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
