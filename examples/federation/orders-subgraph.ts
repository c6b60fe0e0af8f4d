import SchemaBuilder from '@pothos/core';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { claimsOf, type GatewayTrust, type IdentityContext, useGatewayIdentity } from './gateway-identity.js';

/** One order; computed from the user's id, so that the example needs no database of its own. */
interface Order {
  readonly id: string;
  readonly item: string;
}

const ITEMS = ['Mechanical keyboard', 'Coffee beans'];

/**
 * A Pothos federation subgraph that adds `orders` to the gateway's entity `User @key(fields: "id")`.
 * `orders` requires the scope `orders:read` (`@requiresScopes`), which the gateway checks before it
 * calls this subgraph; the resolver reads the caller from the verified identity token.
 */
export function ordersSchema(): GraphQLSchema {
  const builder = new SchemaBuilder<{ Context: IdentityContext; DefaultFieldNullability: false }>({
    plugins: [DirectivePlugin, FederationPlugin],
    defaultFieldNullability: false,
    // Only because this file is type-checked with the gateway, whose builder loads the scope-auth
    // plugin and so makes this option required for every builder; a subgraph of its own omits it.
    scopeAuth: { authScopes: () => ({}) },
  });
  const OrderRef = builder.objectRef<Order>('Order').implement({
    fields: (t) => ({ id: t.exposeID('id'), item: t.exposeString('item') }),
  });
  builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
    externalFields: (t) => ({ id: t.id() }),
    fields: (t) => ({
      orders: t.field({
        type: [OrderRef],
        // Nullable, so that if this subgraph is down the rest of `me` still resolves.
        nullable: true,
        requiresScopes: [['orders:read']],
        resolve: (user, _args, context) => {
          // The gateway resolves only the caller's own User; a subgraph still never serves another's.
          if (claimsOf(context).sub !== user.id) throw new GraphQLError("not the caller's orders", { extensions: { code: 'FORBIDDEN' } });
          return ITEMS.map((item, index) => ({ id: `${user.id}-order-${index + 1}`, item }));
        },
      }),
    }),
  });
  builder.queryType({});
  return builder.toSubGraphSchema({ linkUrl: 'https://specs.apollo.dev/federation/v2.6' });
}

/** The orders subgraph as a request handler: `createServer(createOrdersSubgraph(trust))`. */
export function createOrdersSubgraph(trust: GatewayTrust): YogaServerInstance<Record<string, unknown>, IdentityContext> {
  return createYoga<Record<string, unknown>, IdentityContext>({
    schema: ordersSchema(),
    plugins: [useGatewayIdentity(trust)],
    graphiql: false,
    landingPage: false,
  });
}
