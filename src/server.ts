import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { createContextFactory, type GatewayContext, type NodeServerContext } from './context.js';
import { createMaskError } from './plugins/mask-error.js';
import { useRequestLog } from './plugins/use-request-log.js';
import { useResponseCookies } from './plugins/use-response-cookies.js';
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
    plugins: [
      // First, so that its clock starts before any other plugin's work and sees the final status.
      useRequestLog(logger),
      // Answers /.well-known/* before Yoga treats the request as GraphQL.
      useWellKnown({ issuer: config.issuer, keys: services.signingKeys }),
      useResponseCookies(),
    ],
  });
}
