import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type DocumentNode, GraphQLError, getOperationAST, type ExecutionArgs, type execute, type subscribe } from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import { WebSocket, WebSocketServer } from 'ws';
import { resolveCaller } from '../credentials/resolve-caller.js';
import { webSocketCredentialSources } from '../credentials/websocket-credentials.js';
import { createClientAddressResolver } from '../http/client-address.js';
import type { Gateway } from '../server.js';
import type { Services } from '../services.js';
import { confirmCredential } from './confirm-credential.js';
import type { EndReason, LiveConnection } from './live-connections.js';
import type { WebSocketSession } from './websocket-session.js';
import { serveGraphqlWs, type WebSocketExtra, type WebSocketTransportOptions } from './websocket-transport.js';

/** Messages larger than this close the connection (1009, message too big). */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024;
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 50;
/** Close code for a user at the connection limit (4429 is graphql-ws's "too many" family). */
export const TOO_MANY_CONNECTIONS = 4429;

const END_MESSAGES: Record<EndReason, string> = {
  TOKEN_EXPIRED: 'Token expired',
  SESSION_REVOKED: 'Credential revoked',
  USER_NOT_FOUND: 'Account deleted',
};

export interface WebSocketEndpoint {
  /** Stops accepting upgrades, closes every connection and waits until each is cleaned up. */
  close(): Promise<void>;
}

export type WebSocketEndpointOptions = Omit<WebSocketTransportOptions, 'logger'>;

/**
 * Serves GraphQL over WebSocket (graphql-transport-ws) on the gateway's HTTP server and path,
 * executing through Yoga's envelop as Yoga documents it, so that the schema, plugins and
 * context are the same as over HTTP. The credential is checked once, at connection_init;
 * expiry and revocation later end the connection with 4401 through LiveConnections.
 */
export function attachWebSocketEndpoint(server: Server, gateway: Gateway, services: Services, options: WebSocketEndpointOptions = {}): WebSocketEndpoint {
  const { config, live, logger } = services;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES, handleProtocols });
  const sessions = new WeakMap<object, WebSocketSession>();
  // Refused personal access tokens count against the client's IP here too, as over HTTP.
  const clientAddress = createClientAddressResolver(config.trustedProxies);

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node leaves an upgraded socket without an error listener; a reset must not crash us.
    socket.on('error', () => socket.destroy());
    if (upgradeUrl(request)?.pathname !== config.graphqlPath) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) => sockets.emit('connection', ws, request));
  };
  server.on('upgrade', onUpgrade);

  const protocol = makeServer<Record<string, unknown>, WebSocketExtra>({
    onConnect: async (ctx) => {
      const { request, socket } = ctx.extra;
      try {
        const sources = webSocketCredentialSources(request, ctx.connectionParams ?? {}, config.allowedOrigins);
        const caller = await resolveCaller(services.authenticator, sources, clientAddress(request));
        // Refused: 4403. So is a socket that closed while its credential was being checked.
        if (caller === null || socket.readyState !== WebSocket.OPEN) return false;
        const connection: LiveConnection = { caller, end: (reason) => socket.close(CloseCode.Unauthorized, END_MESSAGES[reason]) };
        if (!live.add(connection)) {
          socket.close(TOO_MANY_CONNECTIONS, 'Too many connections for this account');
          return false;
        }
        // Registered before confirming, so that onClose releases the slot whatever happens next.
        sessions.set(ctx, { caller, connection, fetchRequest: toFetchRequest(request) });
        await confirmCredential(services.authenticator, sources, caller);
        return true;
      } catch (error) {
        if (!(error instanceof GraphQLError)) logger.error({ err: error }, 'websocket authentication failed');
        const session = sessions.get(ctx);
        if (session) live.remove(session.connection);
        return false;
      }
    },
    onClose: (ctx) => {
      const session = sessions.get(ctx);
      if (session) live.remove(session.connection);
    },
    onSubscribe: async (ctx, _id, payload) => {
      const session = sessions.get(ctx);
      // graphql-ws refuses subscriptions before the acknowledgement (4401); this is the type guard.
      if (!session) return [new GraphQLError('Not acknowledged')];
      // graphql-ws has already recorded this one.
      if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        return [refusal(`At most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection`, { limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' })];
      }
      const { schema, execute, subscribe, contextFactory, parse, validate } = gateway.getEnveloped({
        request: session.fetchRequest,
        req: ctx.extra.request,
        websocket: session,
        params: payload,
      });
      let document: DocumentNode;
      try {
        document = parse(payload.query);
      } catch (error) {
        return [error instanceof GraphQLError ? error : new GraphQLError('Syntax error')];
      }
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      // Credential mutations keep to HTTP, where cookies, CSRF prevention and rate limits apply.
      if (getOperationAST(document, payload.operationName)?.operation === 'mutation') {
        return [refusal('Mutations are served over HTTP only')];
      }
      const args: ExecutionArgs = {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
      return args;
    },
    execute: (args) => (args.rootValue as { execute: typeof execute }).execute(args),
    subscribe: (args) => (args.rootValue as { subscribe: typeof subscribe }).subscribe(args),
  });

  const transport = serveGraphqlWs(protocol, sockets, { clock: services.clock, ...options, logger });

  return {
    async close() {
      server.off('upgrade', onUpgrade);
      await transport.close();
    },
  };
}

/** An operation refused before it runs, coded like the query limits' refusals. */
function refusal(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...extensions } });
}

/**
 * The upgrade request's URL, or null when its target does not parse (the client's problem, to
 * be answered, never thrown from the upgrade listener). The host is a placeholder: only the
 * path and the query are the client's.
 */
function upgradeUrl(request: IncomingMessage): URL | null {
  try {
    return new URL(request.url ?? '/', 'http://gateway');
  } catch {
    return null;
  }
}

/** A fetch Request mirroring the upgrade request, for the parts of the stack that read one. */
function toFetchRequest(request: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = upgradeUrl(request) ?? new URL('http://gateway/');
  // The credential was read at connection_init; nothing downstream gets to see or log it.
  url.searchParams.delete('token');
  // POST: operations on an open socket are not link-followable GETs; the WebSocket endpoint
  // applies its own rule to mutations (HTTP only).
  return new Request(url, { method: 'POST', headers });
}
