import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type DocumentNode, GraphQLError, getOperationAST, type ExecutionArgs, type execute, type subscribe } from 'graphql';
import { handleProtocols, makeServer } from 'graphql-ws';
import { WebSocket, WebSocketServer } from 'ws';
import { looksLikePersonalAccessToken } from '../auth/personal-access-tokens/token-format.js';
import { type CredentialSources, presentedCredential } from '../credentials/credential-sources.js';
import { resolveCaller } from '../credentials/resolve-caller.js';
import { webSocketCredentialSources } from '../credentials/websocket-credentials.js';
import { createClientAddressResolver } from '../http/client-address.js';
import type { Gateway } from '../server.js';
import type { Services } from '../services.js';
import { UnauthenticatedError } from '../errors.js';
import {
  AUTHENTICATION_REQUIRED_CLOSE,
  closeForEnd,
  closeForRefusal,
  TOO_MANY_CONNECTIONS_CLOSE,
  TRY_AGAIN_LATER_CLOSE,
  type WebSocketClose,
} from './close-codes.js';
import { confirmCredential } from './confirm-credential.js';
import type { LiveConnection } from './live-connections.js';
import { withoutInternals, withoutInternalsInErrors } from './without-internals.js';
import type { WebSocketSession } from './websocket-session.js';
import { serveGraphqlWs, type WebSocketExtra, type WebSocketTransportOptions } from './websocket-transport.js';

/** Messages larger than this close the connection (1009, message too big). */
export const MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024;
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 50;

export interface WebSocketEndpoint {
  /** Stops accepting upgrades, closes every connection and waits until each is cleaned up. */
  close(): Promise<void>;
}

export type WebSocketEndpointOptions = Omit<WebSocketTransportOptions, 'logger'>;

/**
 * Serves GraphQL over WebSocket (graphql-transport-ws) on the gateway's HTTP server and path,
 * executing through Yoga's envelop as Yoga documents it, so that the schema, plugins and
 * context are the same as over HTTP. The credential is checked once, at connection_init;
 * expiry and revocation later end the connection through LiveConnections, with the codes of
 * close-codes.ts: an expired session token is retried by graphql-ws, the rest is final.
 */
export function attachWebSocketEndpoint(server: Server, gateway: Gateway, services: Services, options: WebSocketEndpointOptions = {}): WebSocketEndpoint {
  const { config, live, logger } = services;
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES, handleProtocols });
  const sessions = new WeakMap<object, WebSocketSession>();
  /** Connections refused at connection_init: their refusal was logged, their close is not. */
  const refused = new WeakSet<object>();
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
      // Closing before returning false: graphql-ws's own close (4403 Forbidden) then finds the
      // socket closing and changes nothing, so the client sees the code chosen here.
      const refuse = (close: WebSocketClose) => {
        refused.add(ctx);
        logger.info({ code: close.code, reason: close.reason }, 'websocket refused');
        socket.close(close.code, close.reason);
        return false;
      };
      let sources: CredentialSources = {};
      try {
        sources = webSocketCredentialSources(request, ctx.connectionParams ?? {}, config.allowedOrigins);
        const caller = await resolveCaller(services.authenticator, sources, clientAddress(request));
        if (caller === null) return refuse(AUTHENTICATION_REQUIRED_CLOSE);
        // A socket that closed while its credential was being checked: nothing to answer.
        if (socket.readyState !== WebSocket.OPEN) return false;
        const connection: LiveConnection = {
          caller,
          end: (reason) => {
            const close = closeForEnd(reason, caller);
            socket.close(close.code, close.reason);
          },
        };
        if (!live.add(connection)) return refuse(TOO_MANY_CONNECTIONS_CLOSE);
        // Registered before confirming, so that onClose releases the slot whatever happens next.
        sessions.set(ctx, { caller, connection, fetchRequest: toFetchRequest(request) });
        await confirmCredential(services.authenticator, sources, caller);
        logger.info({ userId: caller.userId, credential: caller.kind }, 'websocket connected');
        return true;
      } catch (error) {
        const session = sessions.get(ctx);
        if (session) live.remove(session.connection);
        if (error instanceof UnauthenticatedError) return refuse(closeForRefusal(error.reason, presentsPersonalAccessToken(sources)));
        if (!(error instanceof GraphQLError)) logger.error({ err: error }, 'websocket authentication failed');
        // RATE_LIMITED (refused personal access tokens from this address) or a failing store.
        return refuse(TRY_AGAIN_LATER_CLOSE);
      }
    },
    onClose: (ctx, code, reason) => {
      const session = sessions.get(ctx);
      if (session) live.remove(session.connection);
      if (!refused.has(ctx)) logger.info({ userId: ctx.acknowledged ? session?.caller.userId : undefined, code, reason }, 'websocket closed');
    },
    // What HTTP and SSE leave out of a result (Yoga's omitInternalsFromResultErrors), left out here too.
    onNext: (_ctx, _id, _payload, _args, result) => withoutInternals(result),
    onError: (_ctx, _id, _payload, errors) => withoutInternalsInErrors(errors),
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

/** True when the credential a connection presented is a personal access token (by its prefix). */
function presentsPersonalAccessToken(sources: CredentialSources): boolean {
  try {
    const credential = presentedCredential(sources);
    return credential !== undefined && looksLikePersonalAccessToken(credential);
  } catch {
    return false;
  }
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
