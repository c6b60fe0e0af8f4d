import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import httpTransport from '@graphql-mesh/transport-http';
import type { Plugin, YogaServerOptions } from 'graphql-yoga';
import type { Logger as PinoLogger } from 'pino';
import { GATEWAY_SCOPES } from '../auth/personal-access-tokens/token-scopes.js';
import { type FederationConfig, GATEWAY_SUBGRAPH_NAME } from '../config.js';
import type { GatewayContext, NodeServerContext } from '../context.js';
import { gatewaySubgraphSchema, gatewaySubgraphSdl } from '../schema/subgraph.js';
import { createGateway, type Gateway } from '../server.js';
import type { Services } from '../services.js';
import { composeSupergraph } from './compose-supergraph.js';
import { edgeAuthorization } from './edge-authorization.js';
import { IdentityTokens } from './identity-tokens.js';
import { LiveSupergraph } from './live-supergraph.js';
import { LOCAL_TRANSPORT_KIND, localTransport } from './local-transport.js';
import { readSupergraphFile } from './read-supergraph-file.js';
import { scopesRequiredIn } from './required-scopes.js';
import { useSubgraphRequests } from './use-subgraph-requests.js';
import { useSubgraphErrors } from './use-subgraph-errors.js';
import { useRemoteStreamEnds } from './use-remote-stream-ends.js';
import { hiveLogger } from './hive-logger.js';
import { upstreamTimeout } from './upstream-timeout.js';

/** The federated gateway and what it routes. */
export interface FederatedGateway {
  readonly gateway: Gateway;
  /** The supergraph SDL served now: it changes when a re-read one is served (SUBGRAPH_POLL_INTERVAL_MS). */
  readonly supergraph: string;
  readonly identityTokens: IdentityTokens;
  /** Stops reading the supergraph anew; the gateway itself is disposed as before. */
  close(): Promise<void>;
}

/**
 * The gateway in front of subgraphs: the same Yoga options and plugins as createGateway, served by
 * Hive Gateway's runtime over a supergraph composed from SUBGRAPHS with the gateway's own schema
 * (or read from SUPERGRAPH), read anew every SUBGRAPH_POLL_INTERVAL_MS. The gateway's schema runs
 * in-process; every other subgraph is called over HTTP with an identity token for the caller.
 * Throws when the supergraph cannot be read, composed or loaded at start.
 */
export async function createFederatedGateway(services: Services, federation: FederationConfig): Promise<FederatedGateway> {
  const { config, signingKeys, clock, logger } = services;
  const { supergraphPath } = federation;
  const gatewaySdl = await gatewaySubgraphSdl();
  const load = (signal?: AbortSignal) =>
    supergraphPath !== undefined
      ? readSupergraphFile(supergraphPath)
      : composeSupergraph({
          gateway: { name: GATEWAY_SUBGRAPH_NAME, sdl: gatewaySdl },
          subgraphs: federation.subgraphs,
          timeoutMs: federation.timeoutMs,
          signal,
        });
  const supergraph = new LiveSupergraph({
    initial: await load(),
    load,
    intervalMs: federation.pollIntervalMs,
    logger,
    source: supergraphPath !== undefined ? 'SUPERGRAPH' : 'SUBGRAPHS',
  });
  const identityTokens = new IdentityTokens({
    keys: signingKeys,
    clock,
    issuer: config.issuer,
    ttlSeconds: federation.identityTokenTtlSeconds,
    sessionScopes: sessionScopesOf(() => supergraph.served),
  });
  const audiences = new Map(Object.entries(federation.audiences));
  let runtime: Runtime | undefined;
  const gateway = createGateway(services, (options) => {
    runtime = serveSupergraph(options, {
      supergraph,
      logger,
      timeoutMs: federation.timeoutMs,
      plugins: [
        useSubgraphRequests({ identityTokens, audiences, propagateHeaders: federation.propagateHeaders, localSubgraph: GATEWAY_SUBGRAPH_NAME }),
        useSubgraphErrors({ logger, localSubgraph: GATEWAY_SUBGRAPH_NAME }),
        useRemoteStreamEnds({ live: services.live, localFields: new Set(Object.keys(gatewaySubgraphSchema().getSubscriptionType()?.getFields() ?? {})) }),
      ],
    });
    return runtime as unknown as Gateway;
  });
  const reload = () => Promise.resolve(runtime!.invalidateUnifiedGraph());
  try {
    // Loaded now rather than on the first request: a supergraph the runtime cannot load stops the start.
    await reload();
  } catch (error) {
    await gateway.dispose();
    throw error;
  }
  supergraph.start(reload);
  return {
    gateway,
    get supergraph() {
      return supergraph.served;
    },
    identityTokens,
    close: () => supergraph.close(),
  };
}

/**
 * The scope of a session's identity tokens: a session holds every scope, so its tokens name each
 * one the gateway or the served supergraph checks; worked out again when the supergraph changes.
 */
function sessionScopesOf(served: () => string): () => readonly string[] {
  let scopes: { readonly of: string; readonly list: readonly string[] } | undefined;
  return () => {
    const supergraph = served();
    if (scopes?.of !== supergraph) {
      scopes = { of: supergraph, list: Object.freeze([...new Set([...Object.keys(GATEWAY_SCOPES), ...scopesRequiredIn(supergraph)])]) };
    }
    return scopes.list;
  };
}

type Runtime = ReturnType<typeof createGatewayRuntime<GatewayContext>>;

interface SupergraphServing {
  readonly supergraph: LiveSupergraph;
  readonly logger: PinoLogger;
  readonly timeoutMs: number;
  /** The federation plugins, after the gateway's own. */
  readonly plugins: readonly unknown[];
}

/** createGatewayRuntime with what createGateway would have given createYoga. */
function serveSupergraph(options: YogaServerOptions<NodeServerContext, GatewayContext>, serving: SupergraphServing): Runtime {
  const contextFactory = options.context as unknown as (initial: Record<string, unknown>) => Promise<GatewayContext>;
  return createGatewayRuntime<GatewayContext>({
    // A function, read on (re)load only: LiveSupergraph decides when, so no `pollingInterval`.
    supergraph: serving.supergraph.read,
    // Operations running when a new supergraph is served finish on the old one, within a subgraph request's time.
    gracefulSchemaReload: { drainTimeout: serving.timeoutMs },
    graphqlEndpoint: options.graphqlEndpoint,
    cors: options.cors as never,
    graphiql: options.graphiql as never,
    renderGraphiQL: options.renderGraphiQL,
    landingPage: false,
    batching: options.batching,
    maskedErrors: options.maskedErrors as never,
    logging: hiveLogger(serving.logger),
    // The client's X-Request-Id, if any, is propagated (SUBGRAPH_PROPAGATE_HEADERS); no id is made up.
    requestId: false,
    upstreamTimeout: upstreamTimeout(serving.timeoutMs, GATEWAY_SUBGRAPH_NAME),
    genericAuth: edgeAuthorization(),
    transports: { http: httpTransport, [LOCAL_TRANSPORT_KIND]: localTransport(gatewaySubgraphSchema) },
    transportEntries: { [GATEWAY_SUBGRAPH_NAME]: { kind: LOCAL_TRANSPORT_KIND } },
    plugins: () =>
      [
        // First: every plugin of the gateway's reads the caller, resolved here once per operation.
        useGatewayContext(contextFactory),
        ...((options.plugins ?? []) as Plugin[]),
        ...serving.plugins,
        serving.supergraph.plugin(),
      ] as never,
  });
}

/** The gateway's context (src/context.ts) on top of the runtime's, as Yoga's `context` option would add it. */
function useGatewayContext(factory: (initial: Record<string, unknown>) => Promise<GatewayContext>): Plugin {
  return {
    onContextBuilding({ context, extendContext }) {
      return factory(context as Record<string, unknown>).then((extension) => extendContext(extension as never));
    },
  };
}
