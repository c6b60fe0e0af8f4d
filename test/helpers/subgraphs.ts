import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import DirectivePlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import { createRemoteJwksSigningKeyProvider, extractFromHeader, type JWTExtendContextFields, useJWT } from '@graphql-yoga/plugin-jwt';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';

/** One request a subgraph received, as it arrived. */
export interface ReceivedRequest {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** What a subgraph verifies identity tokens against: the gateway's issuer and JWKS, its own audience. */
export interface Trust {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience: string;
}

export interface TestSubgraph {
  readonly name: string;
  /** Its GraphQL endpoint. */
  readonly url: string;
  /** Every request received, the SDL reads included. */
  readonly requests: ReceivedRequest[];
  /** Requests that carried an operation other than the SDL read. */
  operations(): ReceivedRequest[];
  /** From now on, verify identity tokens (@graphql-yoga/plugin-jwt) against the gateway. */
  trust(trust: Trust): void;
  /** From now on, serve `schema` instead (its SDL read included): a new version of the subgraph deployed. */
  serve(schema: GraphQLSchema): void;
  /** Answers each request only after this long (0: at once). */
  delayMs: number;
  /** Sends this Set-Cookie with every answer, to show it never reaches the client. */
  setCookie: string | undefined;
  /** `SUBGRAPHS` entry: `name=url`. */
  readonly entry: string;
  close(): Promise<void>;
}

/** The context a test subgraph's resolvers see once it trusts the gateway. */
export interface SubgraphContext {
  readonly jwt?: JWTExtendContextFields;
}

/** The verified claims, or the error a subgraph answers without a token. */
export function claimsOf(context: SubgraphContext): Record<string, unknown> {
  const payload = context.jwt?.payload;
  if (!payload) throw new GraphQLError('identity token required', { extensions: { code: 'UNAUTHENTICATED' } });
  return payload as Record<string, unknown>;
}

/** Starts a subgraph on a loopback port serving `schema` (before trust(): without token verification). */
export async function startSubgraph(name: string, schema: GraphQLSchema): Promise<TestSubgraph> {
  const requests: ReceivedRequest[] = [];
  let served = { schema, plugins: [] as Plugin[] };
  const serve = (plugins: Plugin[]) => {
    served = { ...served, plugins };
    return createYoga<SubgraphContext>({ schema: served.schema, plugins, maskedErrors: false, logging: false, landingPage: false, graphiql: false });
  };
  let yoga = serve([]);
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({ url: req.url ?? '', headers: req.headers, body });
    if (subgraph.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, subgraph.delayMs));
    if (res.destroyed) return;
    const response = await yoga.fetch(`http://${req.headers.host}${req.url}`, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: req.method === 'GET' ? undefined : body,
    });
    const headers = Object.fromEntries(response.headers);
    if (subgraph.setCookie) headers['set-cookie'] = subgraph.setCookie;
    res.writeHead(response.status, headers);
    // Streamed, so that an SSE subscription flows event by event; a closed client ends it.
    if (!response.body) return void res.end();
    const reader = response.body.getReader();
    res.on('close', () => void reader.cancel().catch(() => {}));
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) res.write(chunk.value);
    } catch {
      // The stream was cancelled (the gateway went away).
    }
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const subgraph: TestSubgraph = {
    name,
    url,
    requests,
    operations: () => requests.filter((request) => !request.body.includes('_service')),
    trust({ issuer, jwksUri, audience }) {
      yoga = serve([
        useJWT({
          signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri })],
          tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
          tokenVerification: { issuer, audience, algorithms: ['ES256'] },
          // The SDL read carries no token; the resolvers ask for one (claimsOf).
          reject: { missingToken: false, invalidToken: true },
        }),
      ]);
    },
    serve(next) {
      served = { ...served, schema: next };
      yoga = serve(served.plugins);
    },
    delayMs: 0,
    setCookie: undefined,
    entry: `${name}=${url}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return subgraph;
}

/** A version of the orders subgraph: what it adds to the first one (test/federation-recomposition.test.ts). */
export interface OrdersVersion {
  /** Adds Query.orderTotal, which needs the orders:write scope. */
  readonly total?: boolean;
  /** Adds Query.orderCurrency. */
  readonly currency?: boolean;
  /** Declares User.username as an Int: a conflict with the gateway's String. */
  readonly clash?: boolean;
}

/** A Pothos federation subgraph that extends the gateway's User with `orders`, for the caller only. */
export function ordersSchema({ total = false, currency = false, clash = false }: OrdersVersion = {}): GraphQLSchema {
  const builder = new SchemaBuilder<{ Context: SubgraphContext; DefaultFieldNullability: false }>({
    plugins: [DirectivePlugin, FederationPlugin],
    defaultFieldNullability: false,
    // Required by the types once the gateway's builder loads the scope-auth plugin; unused here.
    scopeAuth: { authScopes: () => ({}) },
  });
  const Order = builder.objectRef<{ id: string }>('Order').implement({ fields: (t) => ({ id: t.exposeID('id') }) });
  builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
    externalFields: (t) => ({ id: t.id() }),
    fields: (t) => ({
      // Nullable, so that a failing orders subgraph leaves the rest of `me` standing.
      orders: t.field({
        type: [Order],
        nullable: true,
        resolve: (user, _args, context) => {
          if (claimsOf(context).sub !== user.id) throw new GraphQLError("not the caller's orders", { extensions: { code: 'FORBIDDEN' } });
          return [{ id: `${user.id}-order-1` }];
        },
      }),
      ...(clash ? { username: t.int({ resolve: () => 1 }) } : {}),
    }),
  });
  builder.queryType({
    fields: (t) => ({
      orderCount: t.int({ resolve: () => 1 }),
      ...(total ? { orderTotal: t.int({ requiresScopes: [['orders:write']], resolve: () => 42 }) } : {}),
      ...(currency ? { orderCurrency: t.string({ nullable: true, resolve: () => 'EUR' }) } : {}),
    }),
  });
  return builder.toSubGraphSchema({});
}

/** The SDL a plain Yoga subgraph declares to composition. */
const IDENTITY_SUBGRAPH_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@requiresScopes"])

  type Identity {
    sub: String!
    aud: String!
    kind: String!
    scope: String!
    sid: String
    patId: String
    type: String!
  }

  type Query {
    "The identity token this subgraph verified for the request."
    identity: Identity!
    "Needs the orders:read scope, enforced by the gateway."
    invoices: [String!]! @requiresScopes(scopes: [["orders:read"]])
  }

  type Subscription {
    "The caller's id, every 50 ms, until the client (or the gateway) ends the stream."
    ticks: String!
  }
`;

/** How many `ticks` streams the identity subgraphs are serving now. */
export const openStreams = { count: 0 };

/** A plain Yoga subgraph (no federation library): it answers `_service { sdl }` itself and echoes the verified token. */
export function identitySchema(): GraphQLSchema {
  return createSchema<SubgraphContext>({
    typeDefs: [
      IDENTITY_SUBGRAPH_SDL.replace(/extend schema @link\([^)]*\)/, '').replace(/@requiresScopes\([^)]*\]\]\)/g, ''),
      'type _Service { sdl: String! } extend type Query { _service: _Service! }',
    ],
    resolvers: {
      Query: {
        _service: () => ({ sdl: IDENTITY_SUBGRAPH_SDL }),
        identity: (_root, _args, context) => {
          const claims = claimsOf(context);
          return { ...claims, patId: claims.pat_id, aud: String(claims.aud) };
        },
        invoices: (_root, _args, context) => {
          claimsOf(context);
          return ['invoice-1'];
        },
      },
      Subscription: {
        ticks: {
          subscribe: async function* (_root: unknown, _args: unknown, context: SubgraphContext) {
            const { sub } = claimsOf(context);
            openStreams.count++;
            try {
              for (;;) {
                yield { ticks: String(sub) };
                await new Promise((resolve) => setTimeout(resolve, 50));
              }
            } finally {
              openStreams.count--;
            }
          },
        },
      },
    },
  });
}

/** A plain subgraph declaring `sdl` to composition (its operations are never run). */
export function declaringSchema(sdl: string): GraphQLSchema {
  return createSchema({
    typeDefs: 'type Query { _service: _Service! } type _Service { sdl: String! }',
    resolvers: { Query: { _service: () => ({ sdl }) } },
  });
}
