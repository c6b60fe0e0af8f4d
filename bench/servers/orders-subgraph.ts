/**
 * The subgraph of case 9, served to both gateways by the same process: graphql-yoga (node:http)
 * with a Federation 2 schema that adds `orders` to the gateway's entity `User @key(fields: "id")`.
 * A user's orders are computed from its id (bench/lib/user-orders.ts), with no database, so that
 * the subgraph costs both gateways the same and as little as possible. It verifies no
 * credential: the comparison is about what each gateway does before and around this call.
 * Prints `{"ready":true,"port":N}` once listening on a loopback port the OS picked.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { ORDERS_PER_USER, ordersOf } from '../lib/user-orders.js';
import { serveOnLoopback } from '../lib/serve-on-loopback.js';

const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

  type Order {
    id: ID!
  }

  type User @key(fields: "id") {
    id: ID!
    orders: [Order!]!
  }

  type Query {
    orderCount: Int!
  }
`);

interface UserReference {
  readonly id: string;
}

const resolvers = {
  Query: { orderCount: () => ORDERS_PER_USER },
  User: {
    __resolveReference: (reference: UserReference) => ({ id: reference.id }),
    orders: (user: UserReference) => ordersOf(user.id),
  },
};

const yoga = createYoga({
  schema: buildSubgraphSchema({ typeDefs, resolvers }),
  graphiql: false,
  landingPage: false,
  logging: false,
});
serveOnLoopback(yoga);
