/**
 * The federation reference of case 9: Hive Gateway's runtime (the gateway's version) with nothing
 * on it but Hive's own JWT plugin (`useJWT` of @graphql-mesh/plugin-jwt-auth, as Hive Gateway
 * documents it), on node:http, over a supergraph of the one subgraph BARE_HIVE_SUBGRAPH_URL.
 *
 * The plugin verifies the gateway's access tokens against the gateway's JWKS (jwks-rsa, which
 * caches the keys) with the gateway's issuer, audience and algorithm, and forwards the verified
 * payload to the subgraph in `extensions.jwt` (its default). `Query.me` is an additional
 * resolver returning the token's subject as a `User`; the planner then fetches `orders` from
 * the subgraph with an `_entities` request, as it does behind the gateway, where `me` comes from
 * the gateway's own in-process subgraph. So both gateways answer `me` without a hop and make
 * one subgraph request per operation.
 *
 * Environment: BARE_HIVE_SUBGRAPH_NAME and BARE_HIVE_SUBGRAPH_URL (the subgraph), BARE_HIVE_JWKS_URI,
 * BARE_HIVE_JWT_ISSUER, BARE_HIVE_JWT_AUDIENCE, BARE_HIVE_JWT_ALGORITHM. Prints
 * `{"ready":true,"port":N}` once listening on a loopback port the OS picked.
 */
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createRemoteJwksSigningKeyProvider, extractFromHeader, type JWTAuthContextExtension, useJWT } from '@graphql-mesh/plugin-jwt-auth';
import { composeServices, compositionHasErrors } from '@theguild/federation-composition';
import { GraphQLError, parse } from 'graphql';
import type { Algorithm } from 'jsonwebtoken';
import { serveOnLoopback } from '../lib/serve-on-loopback.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

/** A supergraph of the one subgraph, composed from its SDL as the gateway composes SUBGRAPHS. */
async function composeSupergraph(name: string, url: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = (await response.json()) as { data?: { _service?: { sdl?: string } } };
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`subgraph ${name} answered ${response.status} without { _service { sdl } }`);
  const result = composeServices([{ name, url, typeDefs: parse(sdl) }]);
  if (compositionHasErrors(result)) throw new Error(`the subgraph does not compose: ${result.errors.map((error) => error.message).join('; ')}`);
  return result.supergraphSdl;
}

const gateway = createGatewayRuntime<JWTAuthContextExtension>({
  supergraph: await composeSupergraph(required('BARE_HIVE_SUBGRAPH_NAME'), required('BARE_HIVE_SUBGRAPH_URL')),
  graphiql: false,
  landingPage: false,
  logging: 'warn',
  additionalTypeDefs: /* GraphQL */ 'extend type Query { me: User! }',
  additionalResolvers: {
    Query: {
      me: (_root: unknown, _args: unknown, context: JWTAuthContextExtension) => {
        const subject = context.jwt?.payload.sub;
        if (typeof subject !== 'string') throw new GraphQLError('Unauthenticated', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
        return { id: subject };
      },
    },
  },
  // As Hive Gateway documents it. The cast: the plugin's typings bundle their own copy of the
  // runtime's plugin type, which TypeScript does not match with the installed runtime's.
  plugins: () => [
    useJWT({
      signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri: required('BARE_HIVE_JWKS_URI') })],
      tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
      tokenVerification: {
        issuer: required('BARE_HIVE_JWT_ISSUER'),
        audience: required('BARE_HIVE_JWT_AUDIENCE'),
        algorithms: [required('BARE_HIVE_JWT_ALGORITHM') as Algorithm],
      },
      reject: { missingToken: true, invalidToken: true },
    }) as never,
  ],
});

serveOnLoopback(gateway, () => gateway.dispose());
