import { readFile } from 'node:fs/promises';
import { createGatewayRuntime, Logger, type LogLevel } from '@graphql-hive/gateway-runtime';
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
import { LOCAL_TRANSPORT_KIND, localTransport } from './local-transport.js';
import { scopesRequiredIn } from './required-scopes.js';
import { useSubgraphRequests } from './use-subgraph-requests.js';
import { useSubgraphErrors } from './use-subgraph-errors.js';
import { useRemoteStreamEnds } from './use-remote-stream-ends.js';

/** The federated gateway and what it routes. */
export interface FederatedGateway {
  readonly gateway: Gateway;
  /** The supergraph SDL served. */
  readonly supergraph: string;
  readonly identityTokens: IdentityTokens;
}

/**
 * The gateway in front of subgraphs: the same Yoga options and plugins as createGateway, served by
 * Hive Gateway's runtime over a supergraph composed from SUBGRAPHS with the gateway's own schema
 * (or read from SUPERGRAPH). The gateway's schema runs in-process; every other subgraph is
 * called over HTTP with an identity token for the caller.
 */
export async function createFederatedGateway(services: Services, federation: FederationConfig): Promise<FederatedGateway> {
  const supergraph =
    federation.supergraphPath !== undefined
      ? await readFile(federation.supergraphPath, 'utf8')
      : await composeSupergraph({
          gateway: { name: GATEWAY_SUBGRAPH_NAME, sdl: await gatewaySubgraphSdl() },
          subgraphs: federation.subgraphs,
          timeoutMs: federation.timeoutMs,
        });
  const { config, signingKeys, clock, logger } = services;
  // A session holds every scope: its tokens name each one the gateway or a subgraph checks.
  const sessionScopes = Object.freeze([...new Set([...Object.keys(GATEWAY_SCOPES), ...scopesRequiredIn(supergraph)])]);
  const identityTokens = new IdentityTokens({
    keys: signingKeys,
    clock,
    issuer: config.issuer,
    ttlSeconds: federation.identityTokenTtlSeconds,
    sessionScopes: () => sessionScopes,
  });
  const audiences = new Map(federation.subgraphs.map((subgraph) => [subgraph.name, subgraph.audience]));
  const gateway = createGateway(services, (options) =>
    serveSupergraph(options, {
      supergraph,
      logger,
      timeoutMs: federation.timeoutMs,
      plugins: [
        useSubgraphRequests({ identityTokens, audiences, propagateHeaders: federation.propagateHeaders, localSubgraph: GATEWAY_SUBGRAPH_NAME }),
        useSubgraphErrors({ logger, localSubgraph: GATEWAY_SUBGRAPH_NAME }),
        useRemoteStreamEnds({ live: services.live, localFields: new Set(Object.keys(gatewaySubgraphSchema().getSubscriptionType()?.getFields() ?? {})) }),
      ],
    }),
  );
  return { gateway, supergraph, identityTokens };
}

interface SupergraphServing {
  readonly supergraph: string;
  readonly logger: PinoLogger;
  readonly timeoutMs: number;
  /** The federation plugins, after the gateway's own. */
  readonly plugins: readonly unknown[];
}

/** createGatewayRuntime with what createGateway would have given createYoga. */
function serveSupergraph(options: YogaServerOptions<NodeServerContext, GatewayContext>, serving: SupergraphServing): Gateway {
  const contextFactory = options.context as unknown as (initial: Record<string, unknown>) => Promise<GatewayContext>;
  const runtime = createGatewayRuntime<GatewayContext>({
    supergraph: serving.supergraph,
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
    upstreamTimeout: serving.timeoutMs,
    genericAuth: edgeAuthorization(),
    transports: { http: httpTransport, [LOCAL_TRANSPORT_KIND]: localTransport(gatewaySubgraphSchema) },
    transportEntries: { [GATEWAY_SUBGRAPH_NAME]: { kind: LOCAL_TRANSPORT_KIND } },
    plugins: () =>
      [
        // First: every plugin of the gateway's reads the caller, resolved here once per operation.
        useGatewayContext(contextFactory),
        ...((options.plugins ?? []) as Plugin[]),
        ...serving.plugins,
      ] as never,
  });
  return runtime as unknown as Gateway;
}

/** The gateway's context (src/context.ts) on top of the runtime's, as Yoga's `context` option would add it. */
function useGatewayContext(factory: (initial: Record<string, unknown>) => Promise<GatewayContext>): Plugin {
  return {
    onContextBuilding({ context, extendContext }) {
      return factory(context as Record<string, unknown>).then((extension) => extendContext(extension as never));
    },
  };
}

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/** Hive's logger writing to the gateway's pino logger. */
function hiveLogger(logger: PinoLogger): Logger {
  const level = LEVELS.includes(logger.level as LogLevel) ? (logger.level as LogLevel) : logger.level === 'silent' ? false : 'error';
  return new Logger({
    level,
    writers: [
      {
        write(level, attrs, msg) {
          logger[level]({ ...attrs, component: 'hive-gateway' }, msg ?? '');
        },
      },
    ],
  });
}
