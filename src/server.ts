import { createYoga, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import { isDatabaseReady } from './db/database-ready.js';
import { createContextFactory, type GatewayContext, type NodeServerContext } from './context.js';
import { corsPolicy, useVaryOnOrigin } from './http/cors.js';
import { yogaLogging } from './logger.js';
import { createMaskError } from './plugins/mask-error.js';
import { useAccountPage } from './plugins/use-account-page.js';
import { useCacheControl } from './plugins/use-cache-control.js';
import { useCredentialRateLimits } from './plugins/use-credential-rate-limits.js';
import { useCsrfPrevention } from './plugins/use-csrf-prevention.js';
import { useFetchMetadata } from './plugins/use-fetch-metadata.js';
import { useHiddenSuggestions } from './plugins/use-hidden-suggestions.js';
import { renderLocalGraphiQL, useLocalGraphiQL } from './plugins/use-local-graphiql.js';
import { useNoIntrospection } from './plugins/use-no-introspection.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { useReadyEndpoint } from './plugins/use-ready-endpoint.js';
import { useRequestBodyLimit } from './plugins/use-request-body-limit.js';
import { MAX_REQUEST_BODY_BYTES, useRequestLimits } from './plugins/use-request-limits.js';
import { useRequestLog } from './plugins/use-request-log.js';
import { useResponseCookies } from './plugins/use-response-cookies.js';
import { useStreamCuts } from './plugins/use-stream-cuts.js';
import { useUnauthenticatedStatus } from './plugins/use-unauthenticated-status.js';
import { useSsoRoutes } from './plugins/use-sso-routes.js';
import { useWellKnown } from './plugins/use-well-known.js';
import { schema } from './schema/index.js';
import type { Services } from './services.js';

export type Gateway = YogaServerInstance<NodeServerContext, GatewayContext>;

/** What turns the gateway's Yoga options into its request handler: Yoga itself, or a federation runtime (src/federation/). */
export type ServeGateway = (options: YogaServerOptions<NodeServerContext, GatewayContext>) => Gateway;

/**
 * The gateway's request handler: Yoga with the schema, the context that resolves the caller,
 * and the plugins in the order they must run. It never listens; main.ts and tests do.
 */
export function createGateway(services: Services, serve: ServeGateway = createYoga): Gateway {
  const { config, logger } = services;
  const production = config.nodeEnv === 'production';
  return serve({
    schema,
    graphqlEndpoint: config.graphqlPath,
    context: createContextFactory(services),
    maskedErrors: { maskError: createMaskError(logger) },
    logging: yogaLogging(logger),
    graphiql: !production,
    // Yoga's page with its assets from this gateway (use-local-graphiql.ts), not from a CDN.
    renderGraphiQL: renderLocalGraphiQL,
    landingPage: false,
    // Credentialed cross-origin access for ALLOWED_ORIGINS only (Yoga's default allows any origin).
    cors: corsPolicy(config.allowedOrigins),
    // Ours instead (useRequestBodyLimit): the same 413, without a stream per request.
    maxRequestBodySize: false,
    batching: config.maxBatchSize > 0 ? { limit: config.maxBatchSize } : false,
    plugins: [
      // First, so that its clock starts before any other plugin's work and sees the final status.
      useRequestLog(logger),
      // Answers /.well-known/* before Yoga treats the request as GraphQL.
      useWellKnown({ issuer: config.issuer, keys: services.signingKeys }),
      // The browser flow of single sign-on (/auth/sso/*): navigations that set their own cookies
      // and redirect, answered before anything treats them as GraphQL.
      useSsoRoutes({
        sso: services.sso,
        rateLimits: services.rateLimits,
        cookies: services.cookies,
        clock: services.clock,
        trustedProxies: config.trustedProxies,
        secureCookies: config.cookieSecure,
        logger,
      }),
      // Static pages answer in onRequest too, before anything parses a GraphQL request.
      useAccountPage({ graphqlPath: config.graphqlPath }),
      ...(production ? [] : [useLocalGraphiQL({ graphqlPath: config.graphqlPath })]),
      useResponseCookies(),
      // 401 only for a result that is nothing but UNAUTHENTICATED errors.
      useUnauthenticatedStatus(),
      useVaryOnOrigin(),
      useCacheControl(),
      // Ready means the database answers; Redis being down only degrades (see README).
      useReadyEndpoint({ check: () => isDatabaseReady(services.db) }),
      // The request-level refusals run at onRequestParse: before the body is parsed and before
      // the context verifies any credential.
      useRequestLimits(),
      useRequestBodyLimit(MAX_REQUEST_BODY_BYTES),
      useCsrfPrevention(),
      useFetchMetadata({ allowedOrigins: config.allowedOrigins }),
      // Token limit while parsing, the others as validation rules. Yoga's parse and validation
      // cache sits after every user plugin, so a document served from it passed these once.
      useQueryLimits(),
      // Suggestions would map the schema that disabled introspection hides.
      ...(config.introspection ? [] : [useNoIntrospection(), useHiddenSuggestions()]),
      // After validation, so a refused document costs no points; before execution, so that no
      // resolver has checked a password when an operation is refused. Once per operation of a batch.
      useCredentialRateLimits({ rateLimits: services.rateLimits }),
      // An SSE stream whose session token expired ends as a dropped connection, so that SSE
      // clients reconnect (with a fresh token) instead of ending the subscription.
      useStreamCuts(),
    ],
  });
}
