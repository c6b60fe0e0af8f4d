import { afterEach, vi } from 'vitest';
import { LoginDocument, RegisterDocument } from '../client/src/operations.js';
import { loadConfig } from '../src/config.js';
import { MAX_AUTHORIZATION_HEADER_BYTES, MAX_REQUEST_BODY_BYTES } from '../src/plugins/use-request-limits.js';
import { DEFAULT_QUERY_LIMITS } from '../src/plugins/use-query-limits.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { within } from './helpers/realtime-clients.js';
import type { TestGateway } from './helpers/test-gateway.js';

const PRODUCTION = { NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki' };

afterEach(() => {
  vi.restoreAllMocks();
});

/** A valid selection `depth` levels deep: __type > fields > type > ofType… > name. */
function queryOfDepth(depth: number): string {
  let selection = 'name';
  // __type, fields and type take three levels; the leaf one more.
  for (let i = 0; i < depth - 4; i++) selection = `ofType { ${selection} }`;
  return `{ __type(name: "User") { fields { type { ${selection} } } } }`;
}

/** `count` aliased __type fields. */
function aliasedTypes(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `t${i}: __type(name: "User") { name }`).join(' ')} }`;
}

/** `count` fields carrying one directive each (aliases of __typename do not count as aliases). */
function directives(count: number): string {
  return `{ ${Array.from({ length: count }, (_, i) => `d${i}: __typename @skip(if: false)`).join(' ')} }`;
}

/**
 * A document of the given cost, in GraphQL Armor's terms (1 per scalar, 2 per object, and the
 * cost of a selection set multiplied by 1.5 at each level), within the token limit: 28 copies
 * of a chain 7 levels deep with 12 scalars at the bottom (178.25 each, 4991 in all), then as
 * many `__typename` (1 each) as the cost needs. Identical fields merge, so no alias is needed.
 */
function costing(cost: number): string {
  let chain = Array.from({ length: 12 }, () => 'name').join(' ');
  for (let i = 0; i < 3; i++) chain = `ofType { ${chain} }`;
  chain = `__type(name: "User") { fields { type { ${chain} } } }`;
  const chainsCost = 28 * 178.25;
  return `{ ${Array.from({ length: 28 }, () => chain).join(' ')} ${Array.from({ length: cost - chainsCost }, () => '__typename').join(' ')} }`;
}

/** A JSON body of exactly `bytes` bytes: a query padded with an unused variable. */
function bodyOfBytes(bytes: number): string {
  const empty = JSON.stringify({ query: '{ __typename }', variables: { padding: '' } });
  return JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(bytes - empty.length) } });
}

describe('query limits (GraphQL Armor)', () => {
  test.for<[string, (n: number) => string, number, string]>([
    ['depth', (n: number) => queryOfDepth(n), DEFAULT_QUERY_LIMITS.maxDepth, 'MAX_DEPTH'],
    ['aliases', (n: number) => aliasedTypes(n), DEFAULT_QUERY_LIMITS.maxAliases, 'MAX_ALIASES'],
    ['directives', (n: number) => directives(n), DEFAULT_QUERY_LIMITS.maxDirectives, 'MAX_DIRECTIVES'],
  ])('allows %s up to the limit and refuses one more with 400', async ([, build, limit, code], { gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const atLimit = await client.raw(build(limit));
    expect(atLimit.errors).toBeUndefined();
    expect(atLimit.status).toBe(200);

    const over = await client.raw(build(limit + 1));
    expect(over.status).toBe(400);
    expect(over.data).toBeUndefined();
    expect(errorCode(over)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(over.errors![0]!.extensions!.limit).toBe(code);
  });

  test('counts depth through fragments', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const deep = `{ __type(name: "User") { ...F } } fragment F on __Type { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }`;
    const response = await client.raw(deep);
    expect(response.status).toBe(400);
    expect(response.errors![0]!.extensions!.limit).toBe('MAX_DEPTH');
  });

  test('refuses a document over the token limit while parsing', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    // Five tokens per operation (`query Qn { __typename }`): distinct operations keep graphql-js's
    // own budget for comparing repeated fields out of the way.
    const operations = (count: number, extra = '') => Array.from({ length: count }, (_, i) => `query Q${i} { __typename ${i === 0 ? extra : ''}}`).join('\n');
    const atLimit = await client.post({ query: operations(DEFAULT_QUERY_LIMITS.maxTokens / 5), operationName: 'Q0' });
    expect(await atLimit.json()).toEqual({ data: { __typename: 'Query' } });

    // One token more: a repeated field.
    const over = await client.post({ query: operations(DEFAULT_QUERY_LIMITS.maxTokens / 5, '__typename '), operationName: 'Q0' });
    expect(over.status).toBe(400);
    const { errors } = (await over.json()) as { errors: { extensions: Record<string, unknown> }[] };
    expect(errors[0]!.extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(errors[0]!.extensions.limit).toBe('MAX_TOKENS');
  });

  test('allows a document costing the limit and refuses one costing one more', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const atLimit = await client.raw(costing(DEFAULT_QUERY_LIMITS.maxCost));
    expect(atLimit.errors).toBeUndefined();
    expect(atLimit.status).toBe(200);

    const over = await client.raw(costing(DEFAULT_QUERY_LIMITS.maxCost + 1));
    expect(over.status).toBe(400);
    expect(over.data).toBeUndefined();
    expect(over.errors).toHaveLength(1);
    expect(errorCode(over)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(over.errors![0]!.extensions!.limit).toBe('MAX_COST');
  });
});

describe('request size limits', () => {
  test('serves a body of 100 KB and refuses one byte more by its Content-Length with 413', async ({ gateway }) => {
    const register = vi.spyOn(gateway.services.accounts, 'register');
    const post = (body: string) => fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const atLimit = await post(bodyOfBytes(MAX_REQUEST_BODY_BYTES));
    expect(atLimit.status).toBe(200);
    expect(await atLimit.json()).toEqual({ data: { __typename: 'Query' } });

    const over = await post(bodyOfBytes(MAX_REQUEST_BODY_BYTES + 1));
    expect(over.status).toBe(413);
    expect(((await over.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');
    expect(register).not.toHaveBeenCalled();
  });

  test('counts the bytes of a body streamed without Content-Length: 100 KB served, one more refused', async ({ gateway }) => {
    const streamed = (body: string) => {
      const bytes = new TextEncoder().encode(body);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          // In pieces, as a chunked upload arrives.
          for (let offset = 0; offset < bytes.byteLength; offset += 4096) controller.enqueue(bytes.subarray(offset, offset + 4096));
          controller.close();
        },
      });
      return fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    };
    expect((await streamed(bodyOfBytes(MAX_REQUEST_BODY_BYTES))).status).toBe(200);
    expect((await streamed(bodyOfBytes(MAX_REQUEST_BODY_BYTES + 1))).status).toBe(413);
  });

  test('refuses a streamed body without Content-Length once it passes 100 KB', async ({ gateway }) => {
    const chunk = new TextEncoder().encode(`"${'x'.repeat(16 * 1024)}",`);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }","variables":{"padding":['));
      },
      pull(controller) {
        // Far more than the limit, so only a check on the streamed bytes can stop it.
        if (sent > 4 * MAX_REQUEST_BODY_BYTES) {
          controller.enqueue(new TextEncoder().encode('""]}}'));
          controller.close();
          return;
        }
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  test('refuses an Authorization header over 8 KB with 431 before verifying it', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const authenticate = vi.spyOn(gateway.services.authenticator, 'authenticate');
    const ofBytes = (bytes: number) => `Bearer ${'a'.repeat(bytes - 'Bearer '.length)}`;
    const over = await client.raw('{ me { id } }', undefined, { headers: { authorization: ofBytes(MAX_AUTHORIZATION_HEADER_BYTES + 1) } });
    expect(over.status).toBe(431);
    expect(errorCode(over)).toBe('BAD_REQUEST');
    expect(errorReason(over)).toBe('AUTHORIZATION_HEADER_TOO_LARGE');
    expect(authenticate).not.toHaveBeenCalled();

    // At 8 KB exactly the (invalid) token is verified, and refused, as usual.
    const atLimit = await client.raw('{ me { id } }', undefined, { headers: { authorization: ofBytes(MAX_AUTHORIZATION_HEADER_BYTES) } });
    expect(atLimit.status).toBe(401);
    expect(errorReason(atLimit)).toBe('TOKEN_INVALID');
    expect(authenticate).toHaveBeenCalledTimes(1);
  });
});

describe('batching', () => {
  test('is off by default', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const response = await client.post([{ query: '{ __typename }' }, { query: '{ __typename }' }]);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
  });

  test.for([3, 10])('allows up to GRAPHQL_MAX_BATCH_SIZE=%i operations', async (size, { startGateway }) => {
    const client = new GraphQLClient((await startGateway({ env: { GRAPHQL_MAX_BATCH_SIZE: String(size) } })).url);
    const atLimit = await client.post(Array.from({ length: size }, () => ({ query: '{ __typename }' })));
    expect(atLimit.status).toBe(200);
    expect(await atLimit.json()).toEqual(Array.from({ length: size }, () => ({ data: { __typename: 'Query' } })));

    const over = await client.post(Array.from({ length: size + 1 }, () => ({ query: '{ __typename }' })));
    expect(over.status).toBe(413);
  });

  test('never allows more than 10', () => {
    expect(() => loadConfig({ GRAPHQL_MAX_BATCH_SIZE: '11' })).toThrow(expect.objectContaining({ variable: 'GRAPHQL_MAX_BATCH_SIZE' }));
  });
});

describe('schema discovery in production', () => {
  test.for<[string, Record<string, string>]>([
    ['in production', PRODUCTION],
    ['anywhere with GRAPHQL_INTROSPECTION=false', { GRAPHQL_INTROSPECTION: 'false' }],
  ])('turns introspection off and hides suggestions %s', async ([, env], { startGateway }) => {
    const client = new GraphQLClient((await startGateway({ env })).url);
    const introspection = await client.raw('{ __schema { types { name } } }');
    expect(introspection.status).toBe(400);
    expect(errorCode(introspection)).toBe('GRAPHQL_VALIDATION_FAILED');
    const typeQuery = await client.raw('{ __type(name: "User") { name } }');
    expect(errorCode(typeQuery)).toBe('GRAPHQL_VALIDATION_FAILED');

    const typo = await client.raw('{ mee { id } }');
    expect(typo.status).toBe(400);
    expect(typo.errors![0]!.message).not.toMatch(/Did you mean|"me"/);
    expect(typo.errors![0]!.message).toContain('[Suggestion hidden]');

    // An enum value in a literal (validation) and in a variable (coercion at execution).
    const literal = await client.raw('mutation { login(input: { username: "alice", password: "x", refreshTokenDelivery: BODYY }) { accessToken } }');
    expect(literal.errors![0]!.message).not.toMatch(/Did you mean|"BODY"/);
    const variable = await client.raw('mutation($input: LoginInput!) { login(input: $input) { accessToken } }', {
      input: { username: 'alice', password: PASSWORD, refreshTokenDelivery: 'BODYY', deviceNam: 'x' },
    });
    expect(variable.errors!.length).toBeGreaterThan(0);
    for (const error of variable.errors!) expect(error.message).not.toMatch(/Did you mean|"BODY"|"deviceName"/);
  });

  test('applies the same limits to operations over WebSocket', async ({ startGateway, realtime }) => {
    const gateway = await startGateway({ env: PRODUCTION });
    const registered = await register(gateway, 'alice');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${registered.accessToken}` } });
    await within(socket.connected, 5000, 'connection');
    const introspection = socket.subscribe('{ __schema { types { name } } }');
    expect(JSON.stringify(await within(introspection.nth(0), 5000, 'refusal'))).toMatch(/introspection/i);
    const typo = socket.subscribe('subscription { sessionEvent { kind } }');
    const refusal = JSON.stringify(await within(typo.nth(0), 5000, 'refusal'));
    expect(refusal).toContain('Suggestion hidden');
    expect(refusal).not.toContain('Did you mean');
    const deep = socket.subscribe(queryOfDepth(DEFAULT_QUERY_LIMITS.maxDepth + 1));
    expect(JSON.stringify(await within(deep.nth(0), 5000, 'refusal'))).toContain('MAX_DEPTH');
  });

  test('shows suggestions and introspection outside production, and in production when GRAPHQL_INTROSPECTION=true', async ({ startGateway }) => {
    let previous: TestGateway | undefined;
    for (const env of [undefined, { ...PRODUCTION, GRAPHQL_INTROSPECTION: 'true' }]) {
      // One gateway at a time (on PostgreSQL, kysely's migrator is confused by another test schema's tables).
      await previous?.close();
      previous = await startGateway({ env });
      const client = new GraphQLClient(previous.url);
      const introspection = await client.raw<{ __schema: { types: unknown[] } }>('{ __schema { types { name } } }');
      expect(introspection.errors).toBeUndefined();
      expect(introspection.data!.__schema.types.length).toBeGreaterThan(0);
      const typo = await client.raw('{ mee { id } }');
      expect(typo.errors![0]!.message).toContain('Did you mean "me"?');
    }
  });

  test('still serves the typed operations in production', async ({ startGateway }) => {
    const client = new GraphQLClient((await startGateway({ env: PRODUCTION })).url);
    const registered = await client.request(RegisterDocument, { input: { username: 'alice', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    expect(registered.errors).toBeUndefined();
    const login = await client.request(LoginDocument, { input: { username: 'alice', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    expect(login.errors).toBeUndefined();
  });
});
