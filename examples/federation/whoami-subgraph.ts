import { buildSubgraphSchema } from '@apollo/subgraph';
import { type GraphQLSchema, parse } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { claimsOf, type GatewayTrust, type IdentityContext, useGatewayIdentity } from './gateway-identity.js';

/** SDL first: the schema as composition reads it (`{ _service { sdl } }`, answered by @apollo/subgraph). */
const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@authenticated"])

  "The caller as a subgraph sees it: the claims of the identity token the gateway sent."
  type Whoami {
    "The user's id (sub)."
    sub: ID!
    "session or pat (kind)."
    kind: String!
    "The scopes the credential holds (scope)."
    scopes: [String!]!
  }

  type Query {
    "Refused by the gateway without a credential (@authenticated), before this subgraph is called."
    whoami: Whoami! @authenticated
  }
`);

const resolvers = {
  Query: {
    whoami: (_root: unknown, _args: unknown, context: IdentityContext) => {
      const { sub, kind, scope } = claimsOf(context);
      return { sub, kind, scopes: scope.split(' ').filter(Boolean) };
    },
  },
};

/** A plain graphql-yoga subgraph, no Pothos: SDL and resolvers through @apollo/subgraph's buildSubgraphSchema. */
export function whoamiSchema(): GraphQLSchema {
  return buildSubgraphSchema([{ typeDefs, resolvers }]);
}

/** The whoami subgraph as a request handler: `createServer(createWhoamiSubgraph(trust))`. */
export function createWhoamiSubgraph(trust: GatewayTrust): YogaServerInstance<Record<string, unknown>, IdentityContext> {
  return createYoga<Record<string, unknown>, IdentityContext>({
    schema: whoamiSchema(),
    plugins: [useGatewayIdentity(trust)],
    graphiql: false,
    landingPage: false,
  });
}
