import { createYoga, useReadinessCheck, type YogaServerInstance } from 'graphql-yoga';
import { isDatabaseReady } from './db/database-ready.js';
import { createContextFactory, type GatewayContext, type NodeServerContext } from './context.js';
import { corsPolicy, useVaryOnOrigin } from './http/cors.js';
import { createMaskError } from './plugins/mask-error.js';
import { useCacheControl } from './plugins/use-cache-control.js';
import { useCredentialRateLimits } from './plugins/use-credential-rate-limits.js';
import { useCsrfPrevention } from './plugins/use-csrf-prevention.js';
import { useFetchMetadata } from './plugins/use-fetch-metadata.js';
import { useHiddenSuggestions } from './plugins/use-hidden-suggestions.js';
import { useNoIntrospection } from './plugins/use-no-introspection.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { MAX_REQUEST_BODY_BYTES, useRequestLimits } from './plugins/use-request-limits.js';
import { useRequestLog } from './plugins/use-request-log.js';
import { useResponseCookies } from './plugins/use-response-cookies.js';
import { useUnauthenticatedStatus } from './plugins/use-unauthenticated-status.js';
import { useWellKnown } from './plugins/use-well-known.js';
import { schema } from './schema/index.js';
import type { Services } from './services.js';

export type Gateway = YogaServerInstance<NodeServerContext, GatewayContext>;

/**
 * The gateway's request handler: Yoga with the schema, the context that resolves the caller,
 * and the plugins in the order they must run. It never listens; main.ts and tests do.
 */
export function createGateway(services: Services): Gateway {
  const { config, logger } = services;
  const production = config.nodeEnv === 'production';
  return createYoga<NodeServerContext, GatewayContext>({
    schema,
    graphqlEndpoint: config.graphqlPath,
    context: createContextFactory(services),
    maskedErrors: { maskError: createMaskError(logger) },
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error(args.map(String).join(' ')),
    },
    graphiql: !production,
    landingPage: false,
    // Credentialed cross-origin access for ALLOWED_ORIGINS only (Yoga's default allows any origin).
    cors: corsPolicy(config.allowedOrigins),
    // Checked on Content-Length and on the bytes actually streamed (413).
    maxRequestBodySize: MAX_REQUEST_BODY_BYTES,
    batching: config.maxBatchSize > 0 ? { limit: config.maxBatchSize } : false,
    plugins: [
      // First, so that its clock starts before any other plugin's work and sees the final status.
      useRequestLog(logger),
      // Answers /.well-known/* before Yoga treats the request as GraphQL.
      useWellKnown({ issuer: config.issuer, keys: services.signingKeys }),
      useResponseCookies(),
      // 401 only for a result that is nothing but UNAUTHENTICATED errors.
      useUnauthenticatedStatus(),
      useVaryOnOrigin(),
      useCacheControl(),
      // Ready means the database answers; Redis being down only degrades (see README).
      useReadinessCheck({ endpoint: '/ready', check: () => isDatabaseReady(services.db) }),
      // The request-level refusals run at onRequestParse: before the body is parsed and before
      // the context verifies any credential.
      useRequestLimits(),
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
    ],
  });
}
