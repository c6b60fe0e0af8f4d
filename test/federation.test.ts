import { describe, expect, onTestFinished } from 'vitest';
import { CreatePersonalAccessTokenDocument, RefreshDocument, RevokePersonalAccessTokenDocument } from '../client/src/operations.js';
import { loadConfig } from '../src/config.js';
import { PASSWORD, register, signIn, test } from './helpers/fixtures.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { within } from './helpers/realtime-clients.js';
import { until } from './helpers/until.js';
import type { TestGateway, TestGatewayOptions } from './helpers/test-gateway.js';
import { InProcessRevocationHub } from '../src/revocation/in-process-revocation-hub.js';
import { declaringSchema, identitySchema, openStreams, ordersSchema, startSubgraph, type TestSubgraph } from './helpers/subgraphs.js';

interface Federation {
  readonly gateway: TestGateway;
  readonly orders: TestSubgraph;
  readonly identity: TestSubgraph;
}

/** Two subgraphs on loopback ports and a gateway composing them, each subgraph trusting the gateway's JWKS. */
async function startFederation(
  startGateway: (options?: TestGatewayOptions) => Promise<TestGateway>,
  env: Record<string, string> = {},
  options: TestGatewayOptions = {},
): Promise<Federation> {
  const orders = await startSubgraph('orders', ordersSchema());
  const identity = await startSubgraph('identity', identitySchema());
  onTestFinished(async () => {
    await orders.close();
    await identity.close();
  });
  const gateway = await startGateway({ ...options, env: { SUBGRAPHS: `${orders.entry},${identity.entry}`, ...env } });
  for (const subgraph of [orders, identity]) {
    subgraph.trust({ issuer: gateway.config.issuer, jwksUri: `${gateway.origin}/.well-known/jwks.json`, audience: subgraph.name });
  }
  return { gateway, orders, identity };
}

/** Nothing of the subgraph's address or of the gateway's request to it in an answer. */
function expectNoInternals(body: unknown, subgraph: TestSubgraph): void {
  const text = JSON.stringify(body);
  expect(text).not.toContain(new URL(subgraph.url).port);
  expect(text).not.toContain('127.0.0.1');
  expect(text).not.toContain('_entities');
  expect(text).not.toMatch(/stack|ECONNREFUSED|\bat /);
}

// biome-ignore lint/suspicious/noExplicitAny: answers of many shapes, each read field by field by its test.
type Answer = { data?: any; errors?: any[] };

async function post(url: string, query: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query }) });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Answer };
}

/**
 * alice's `me { username orders { id } }` answered in part: the gateway's fields, and for orders one
 * SUBGRAPH_UNAVAILABLE error with this message and reason, naming nothing internal.
 */
async function expectOrdersUnavailable(gateway: TestGateway, accessToken: string, orders: TestSubgraph, expected: { message: string; reason: string }) {
  const { body, status } = await post(gateway.url, '{ me { username orders { id } } }', { authorization: `Bearer ${accessToken}` });
  expect(status).toBe(200);
  expect(body.data).toEqual({ me: { username: 'alice', orders: null } });
  expect(body.errors).toEqual([
    { message: expected.message, path: ['me', 'orders'], extensions: { code: 'SUBGRAPH_UNAVAILABLE', reason: expected.reason, serviceName: 'orders' } },
  ]);
  expectNoInternals(body, orders);
}

describe('federation', () => {
  test("a query spanning the gateway's User and a subgraph's extension resolves in one request", async ({ startGateway }) => {
    const { gateway, orders } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const { body } = await post(gateway.url, '{ me { id username orders { id } } }', { authorization: `Bearer ${alice.accessToken}` });
    expect(body.errors).toBeUndefined();
    expect(body.data.me).toEqual({ id: alice.user.id, username: 'alice', orders: [{ id: `${alice.user.id}-order-1` }] });
    expect(orders.operations()).toHaveLength(1);
  });

  test('the subgraph verifies an identity token for the caller, and sees neither its credential nor its cookies', async ({ startGateway }) => {
    const { gateway, identity } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    identity.setCookie = 'subgraph=leak; Path=/';
    const { body, headers } = await post(gateway.url, '{ identity { sub aud kind scope sid patId type } }', {
      authorization: `Bearer ${alice.accessToken}`,
      cookie: 'theme=dark',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-request-id': 'request-1',
      'x-internal-secret': 'not for subgraphs',
    });
    expect(body.errors).toBeUndefined();
    expect(body.data.identity).toEqual({
      sub: alice.user.id,
      aud: 'identity',
      kind: 'session',
      scope: expect.stringContaining('orders:read'),
      sid: alice.session.id,
      patId: null,
      type: 'identity',
    });
    expect(body.data.identity.scope.split(' ')).toEqual(expect.arrayContaining(['profile:read', 'sessions:read', 'orders:read']));
    const [received] = identity.operations();
    expect(received!.headers.authorization).toMatch(/^Bearer /);
    expect(received!.headers.authorization).not.toContain(alice.accessToken);
    expect(received!.headers.cookie).toBeUndefined();
    expect(received!.headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(received!.headers['x-request-id']).toBe('request-1');
    expect(received!.headers['x-internal-secret']).toBeUndefined();
    expect(JSON.stringify(identity.requests)).not.toContain(alice.accessToken);
    expect(headers.get('set-cookie')).toBeNull();
    // The token's header names its own type, which the gateway's access-token check refuses.
    const token = received!.headers.authorization!.slice('Bearer '.length);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toMatchObject({ typ: 'identity+jwt', alg: 'ES256' });
  });

  test("a personal access token's identity carries its id and its scopes", async ({ startGateway }) => {
    const { gateway, identity } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const created = await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'ci', scopes: ['profile:read', 'orders:read'] } });
    const { token, personalAccessToken } = created.data!.createPersonalAccessToken;
    const { body } = await post(gateway.url, '{ identity { sub aud kind scope sid patId } }', { authorization: `Bearer ${token}` });
    expect(body.errors).toBeUndefined();
    expect(body.data.identity).toEqual({
      sub: alice.user.id,
      aud: 'identity',
      kind: 'pat',
      scope: 'profile:read orders:read',
      sid: null,
      patId: personalAccessToken.id,
    });
    expect(JSON.stringify(identity.requests)).not.toContain(token);
  });

  test('identity tokens are reused per identity and audience, and differ between subgraphs', async ({ startGateway }) => {
    const { gateway, identity, orders } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    await post(gateway.url, '{ identity { sub } me { orders { id } } }', auth);
    await post(gateway.url, '{ identity { sub } me { orders { id } } }', auth);
    const identityTokens = new Set(identity.operations().map((request) => request.headers.authorization));
    const ordersTokens = new Set(orders.operations().map((request) => request.headers.authorization));
    expect(identityTokens.size).toBe(1);
    expect(ordersTokens.size).toBe(1);
    expect([...identityTokens][0]).not.toBe([...ordersTokens][0]);
  });

  test("the gateway's access token sent straight to a subgraph is refused there", async ({ startGateway }) => {
    const { gateway, identity } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const { body, status } = await post(identity.url, '{ identity { sub } }', { authorization: `Bearer ${alice.accessToken}` });
    // plugin-jwt refuses it (audience graphql-auth-gateway, not identity) before any resolver runs.
    expect(status).toBe(401);
    expect(body.data ?? null).toBeNull();
    expect(identity.operations()).toHaveLength(1);
  });

  test('an identity token presented to the gateway is refused, even one minted for the audience the gateway checks', async ({ startGateway }) => {
    // Configured so that the identity subgraph's audience is the gateway's own: only the token's type tells them apart.
    const { gateway, orders } = await startFederation(startGateway, { SUBGRAPH_AUDIENCES: 'orders=graphql-auth-gateway' });
    const alice = await register(gateway, 'alice');
    await post(gateway.url, '{ me { orders { id } } }', { authorization: `Bearer ${alice.accessToken}` });
    const identityToken = orders.operations()[0]!.headers.authorization!;
    expect(JSON.parse(Buffer.from(identityToken.split('.')[1]!, 'base64url').toString())).toMatchObject({ aud: 'graphql-auth-gateway', sub: alice.user.id });
    const { body, status } = await post(gateway.url, '{ me { id } }', { authorization: identityToken });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_INVALID' });
  });

  test('a subgraph that is down: the local fields resolve, its part is an error naming no address', async ({ startGateway }) => {
    const { gateway, orders } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    await orders.close();
    await expectOrdersUnavailable(gateway, alice.accessToken, orders, { message: 'Subgraph orders is unavailable', reason: 'UNREACHABLE' });
  });

  test('a slow subgraph: the timeout answers', async ({ startGateway }) => {
    const { gateway, orders } = await startFederation(startGateway, { SUBGRAPH_TIMEOUT_MS: '300' });
    const alice = await register(gateway, 'alice');
    orders.delayMs = 3_000;
    await expectOrdersUnavailable(gateway, alice.accessToken, orders, { message: 'Subgraph orders did not answer in time', reason: 'TIMEOUT' });
  });

  test("an error the subgraph answers keeps its code and message, without the gateway's request to it", async ({ startGateway }) => {
    const { gateway, identity } = await startFederation(startGateway);
    // Anonymous: no identity token, so the subgraph's resolver refuses.
    const { body } = await post(gateway.url, '{ identity { sub } }');
    expect(body.data).toBeNull();
    expect(body.errors).toEqual([{ message: 'identity token required', path: ['identity'], extensions: { code: 'UNAUTHENTICATED', serviceName: 'identity' } }]);
    expectNoInternals(body, identity);
    expect(identity.operations()[0]!.headers.authorization).toBeUndefined();
  });

  test("the gateway's own rules apply to the composed endpoint, before any subgraph is called", async ({ startGateway }) => {
    const { gateway, identity, orders } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const anonymous = await post(gateway.url, '{ me { id orders { id } } }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({
      data: null,
      errors: [{ message: 'Authentication required', path: ['me'], extensions: { code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' } }],
    });
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: identity { sub }`).join(' ');
    const tooMany = await post(gateway.url, `{ ${aliases} }`, { authorization: `Bearer ${alice.accessToken}` });
    expect(tooMany.body.errors?.[0]?.extensions).toMatchObject({ limit: 'MAX_ALIASES' });
    const csrf = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ identity { sub } }' }),
    });
    expect(csrf.status).toBe(403);
    await alice.client.raw('mutation { logout }');
    const revoked = await post(gateway.url, '{ identity { sub } }', { authorization: `Bearer ${alice.accessToken}` });
    expect(revoked.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
    expect(identity.operations()).toHaveLength(0);
    expect(orders.operations()).toHaveLength(0);
  });

  test("a client's malformed requests are refused without echoing the body, and stay out of the error log", async ({ startGateway }) => {
    const { gateway, identity, orders } = await startFederation(startGateway);
    const refusals: [body: string, status: number, code: string][] = [
      // A cut login body: JSON.parse's message quotes it, password and all.
      ['{"query": "mutation { login(input: {username: \\"alice\\", password: \\"hunter2-echoed', 400, 'BAD_REQUEST'],
      ['{"query": 3}', 400, 'BAD_REQUEST'],
      ['{"query": "{ me { id "}', 200, 'GRAPHQL_PARSE_FAILED'],
      ['{"query": "{ nope }"}', 200, 'GRAPHQL_VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of refusals) {
      const response = await fetch(gateway.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(response.status, body).toBe(status);
      const text = await response.text();
      expect(text).not.toContain('hunter2-echoed');
      expect((JSON.parse(text) as Answer).errors?.[0]?.extensions?.code).toBe(code);
    }
    expect(gateway.logs.join('')).not.toContain('hunter2-echoed');
    expect(gateway.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)).toEqual([]);
    expect(identity.operations()).toHaveLength(0);
    expect(orders.operations()).toHaveLength(0);
  });

  test('the logs hold no password, token or identity token, even at debug level', async ({ startGateway }) => {
    const { gateway, orders } = await startFederation(startGateway);
    expect(gateway.services.logger.level).toBe('debug');
    const alice = await register(gateway, 'alice');
    const signedIn = await signIn(gateway, 'alice');
    const refreshed = await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: signedIn.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    const pat = await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'logs', scopes: ['profile:read', 'orders:read'] } });
    const patToken = pat.data!.createPersonalAccessToken.token;
    for (const credential of [alice.accessToken, patToken]) {
      const { body } = await post(gateway.url, '{ me { id orders { id } } }', { authorization: `Bearer ${credential}` });
      expect(body.errors).toBeUndefined();
    }
    const identityTokens = orders.operations().map((operation) => operation.headers.authorization!.slice('Bearer '.length));
    expect(identityTokens.length).toBeGreaterThan(0);
    const logs = gateway.logs.join('');
    const secrets = [
      PASSWORD,
      alice.accessToken,
      alice.refreshToken,
      signedIn.accessToken,
      signedIn.refreshToken,
      refreshed.data!.refresh.refreshToken!,
      refreshed.data!.refresh.accessToken,
      patToken,
      ...identityTokens,
    ];
    for (const secret of secrets) expect(logs).not.toContain(secret);
  });

  test('@requiresScopes is enforced by the gateway: a token with the scope reaches the field, one without is FORBIDDEN and the subgraph hears nothing', async ({
    startGateway,
  }) => {
    const { gateway, identity } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const tokenWith = async (scopes: string[]) =>
      (await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: scopes.join(','), scopes } })).data!.createPersonalAccessToken.token;
    const reader = await tokenWith(['orders:read']);
    const other = await tokenWith(['profile:read']);
    const allowed = await post(gateway.url, '{ invoices }', { authorization: `Bearer ${reader}` });
    expect(allowed.body).toEqual({ data: { invoices: ['invoice-1'] } });
    expect(identity.operations()).toHaveLength(1);
    const refused = await post(gateway.url, '{ invoices }', { authorization: `Bearer ${other}` });
    expect(refused.body.data ?? null).toBeNull();
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScopes: ['orders:read'] });
    const anonymous = await post(gateway.url, '{ invoices }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    // A session holds every scope.
    const session = await post(gateway.url, '{ invoices }', { authorization: `Bearer ${alice.accessToken}` });
    expect(session.body).toEqual({ data: { invoices: ['invoice-1'] } });
    expect(identity.operations()).toHaveLength(2);
  });

  test('a supergraph that does not compose stops the start, naming the subgraph and the conflict', async ({ startGateway }) => {
    const clashing = await startSubgraph(
      'profiles',
      declaringSchema(`
        extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
        type User @key(fields: "id") { id: ID! username: Int! }
        type Query { profile: User }
      `),
    );
    onTestFinished(() => clashing.close());
    await expect(startGateway({ env: { SUBGRAPHS: clashing.entry } })).rejects.toThrow(/profiles.*username|username.*profiles/s);
    await clashing.close();
    await expect(startGateway({ env: { SUBGRAPHS: clashing.entry } })).rejects.toThrow(/subgraph profiles .*could not be read/);
  });

  test('key rotation during the test: the subgraph keeps verifying, and new identity tokens carry the new key', async ({ startGateway }) => {
    const { gateway, identity } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    const kidOf = (request: { headers: Record<string, unknown> }) =>
      JSON.parse(Buffer.from(String(request.headers.authorization).slice(7).split('.')[0]!, 'base64url').toString()).kid;
    expect((await post(gateway.url, '{ identity { sub } }', auth)).body.errors).toBeUndefined();
    const { previous, current } = await gateway.services.signingKeys.rotate();
    expect(current.kid).not.toBe(previous?.kid);
    const after = await post(gateway.url, '{ identity { sub } }', auth);
    expect(after.body).toEqual({ data: { identity: { sub: alice.user.id } } });
    expect(identity.operations().map(kidOf)).toEqual([previous!.kid, current.kid]);
  });

  test('a session revoked on one instance: the next request through the other is refused, and the subgraph hears nothing more', async ({ startGateway }) => {
    const hub = new InProcessRevocationHub();
    const { gateway: first, identity } = await startFederation(startGateway, {}, { revocationChannel: hub.connect() });
    const second = await startGateway({
      database: first.database,
      now: new Date(first.clock.now()),
      revocationChannel: hub.connect(),
      env: { SUBGRAPHS: identity.entry },
    });
    const alice = await register(first, 'alice');
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    expect((await post(second.url, '{ identity { sub } }', auth)).body.errors).toBeUndefined();
    expect(identity.operations()).toHaveLength(1);
    await alice.client.raw('mutation { logout }');
    const refused = await post(second.url, '{ identity { sub } }', auth);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
    expect(identity.operations()).toHaveLength(1);
  });

  test('a personal access token revoked on one instance: the next request through the other is refused, and the subgraph hears nothing more', async ({
    startGateway,
  }) => {
    const hub = new InProcessRevocationHub();
    const { gateway: first, identity } = await startFederation(startGateway, {}, { revocationChannel: hub.connect() });
    const second = await startGateway({
      database: first.database,
      now: new Date(first.clock.now()),
      revocationChannel: hub.connect(),
      env: { SUBGRAPHS: identity.entry },
    });
    const alice = await register(first, 'alice');
    const created = await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'ci', scopes: ['profile:read'] } });
    const { token, personalAccessToken } = created.data!.createPersonalAccessToken;
    const auth = { authorization: `Bearer ${token}` };
    // Used through the second instance first, so that it holds the token in its cache.
    expect((await post(second.url, '{ identity { patId } }', auth)).body).toEqual({ data: { identity: { patId: personalAccessToken.id } } });
    expect(identity.operations()).toHaveLength(1);
    const revoked = await alice.client.request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id });
    expect(revoked.data?.revokePersonalAccessToken).toBe(true);
    const refused = await post(second.url, '{ identity { patId } }', auth);
    expect(refused.status).toBe(401);
    expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
    expect(identity.operations()).toHaveLength(1);
  });

  test("over WebSocket: the gateway's own subscription streams, and subgraph fields carry the connection's caller", async ({ startGateway, realtime }) => {
    const { gateway, identity } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${alice.accessToken}` } });
    await within(socket.connected, 5000, 'ack');
    const query = socket.subscribe('{ identity { sub kind } }');
    expect(await within(query.nth(0), 5000, 'the query over WebSocket')).toEqual({ data: { identity: { sub: alice.user.id, kind: 'session' } } });
    const events = socket.subscribe('subscription { sessionEvents { kind } }');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await post(gateway.url, `mutation { login(input: { username: "alice", password: "${PASSWORD}" }) { session { id } } }`);
    expect(await within(events.nth(0), 5000, 'a session event')).toEqual({ data: { sessionEvents: { kind: 'SIGNED_IN' } } });
    expect(JSON.stringify(identity.requests)).not.toContain(alice.accessToken);
  });

  test("a subgraph's subscription streams through the gateway's WebSocket, and ends when the session is revoked", async ({ startGateway, realtime }) => {
    const { gateway } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${alice.accessToken}` } });
    await within(socket.connected, 5000, 'ack');
    const ticks = socket.subscribe('subscription { ticks }');
    expect(await within(ticks.nth(1), 5000, 'two ticks from the subgraph')).toEqual({ data: { ticks: alice.user.id } });
    expect(openStreams.count).toBe(1);
    await alice.client.raw('mutation { logout }');
    const closed = await within(socket.closed, 5000, 'the socket closed on revocation');
    expect(closed.code).toBe(4401);
    await until(() => openStreams.count === 0, 'the subgraph stream to end');
  });

  test("a subgraph's subscription outlives SUBGRAPH_TIMEOUT_MS, over WebSocket and SSE: the timeout bounds requests, not streams", async ({
    startGateway,
    realtime,
  }) => {
    const { gateway } = await startFederation(startGateway, { SUBGRAPH_TIMEOUT_MS: '300' });
    const alice = await register(gateway, 'alice');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${alice.accessToken}` } });
    await within(socket.connected, 5000, 'ack');
    const overWebSocket = socket.subscribe('subscription { ticks }');
    const overSse = await realtime.sse(gateway.url, 'subscription { ticks }', { authorization: `Bearer ${alice.accessToken}` });
    // A tick every 50 ms: the 20th comes well after the 300 ms of the timeout.
    expect(await within(overWebSocket.nth(20), 10_000, 'ticks over WebSocket past the timeout')).toEqual({ data: { ticks: alice.user.id } });
    expect((await within(overSse.nth(20), 10_000, 'ticks over SSE past the timeout')).data).toEqual({ data: { ticks: alice.user.id } });
    expect(openStreams.count).toBe(2);
    await alice.client.raw('mutation { logout }');
    await within(socket.closed, 5000, 'the socket closed on revocation');
    await within(overSse.ended, 5000, 'the SSE stream to end on revocation');
    await until(() => openStreams.count === 0, 'the subgraph streams to end');
  });

  test("the gateway's own subgraph is not bound by SUBGRAPH_TIMEOUT_MS: a slow registration answers, it does not time out and then happen", async ({
    startGateway,
  }) => {
    // Argon2 at 60 passes: the registration takes several times the 150 ms of the timeout.
    const { gateway } = await startFederation(startGateway, { SUBGRAPH_TIMEOUT_MS: '150', ARGON2_ITERATIONS: '60' });
    const started = performance.now();
    const alice = await register(gateway, 'alice');
    expect(performance.now() - started).toBeGreaterThan(150);
    const { body } = await post(gateway.url, '{ me { username } }', { authorization: `Bearer ${alice.accessToken}` });
    expect(body).toEqual({ data: { me: { username: 'alice' } } });
  });

  test("a subgraph's subscription streams over SSE too, and the stream ends when the session is revoked", async ({ startGateway, realtime }) => {
    const { gateway } = await startFederation(startGateway);
    const alice = await register(gateway, 'alice');
    const stream = await realtime.sse(gateway.url, 'subscription { ticks }', { authorization: `Bearer ${alice.accessToken}` });
    expect(stream.status).toBe(200);
    expect((await within(stream.nth(0), 5000, 'a tick over SSE')).data).toEqual({ data: { ticks: alice.user.id } });
    await alice.client.raw('mutation { logout }');
    await within(stream.ended, 5000, 'the SSE stream to end on revocation');
    await until(() => openStreams.count === 0, 'the subgraph stream to end');
  });

  test.for([
    [{ SUBGRAPHS: 'gateway=http://127.0.0.1:4101/graphql' }, /SUBGRAPHS: "gateway" is the gateway's own subgraph/],
    [{ SUBGRAPHS: 'orders=ftp://x' }, /SUBGRAPHS: orders: not an http\(s\) URL/],
    [{ SUBGRAPHS: 'orders=http://a/graphql,orders=http://b/graphql' }, /SUBGRAPHS: names a subgraph twice/],
    [{ SUBGRAPHS: 'orders=http://a/graphql', SUBGRAPH_PROPAGATE_HEADERS: 'traceparent,Authorization' }, /SUBGRAPH_PROPAGATE_HEADERS: authorization carries/],
    [{ SUBGRAPHS: 'orders=http://a/graphql', SUBGRAPH_AUDIENCES: 'billing=x' }, /SUBGRAPH_AUDIENCES: billing is not in SUBGRAPHS/],
    [{ IDENTITY_TOKEN_TTL_SECONDS: '301' }, /IDENTITY_TOKEN_TTL_SECONDS: must be between 10 and 300/],
  ] as const)('refuses the settings %o', ([env, message]) => {
    expect(() => loadConfig({ NODE_ENV: 'test', ...env })).toThrow(message);
  });

  test('without SUBGRAPHS or SUPERGRAPH there is no federation', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).federation).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'test', SUBGRAPHS: 'orders=http://a/graphql' }).federation).toEqual({
      subgraphs: [{ name: 'orders', url: 'http://a/graphql', audience: 'orders' }],
      supergraphPath: undefined,
      timeoutMs: 10_000,
      propagateHeaders: ['traceparent', 'x-request-id'],
      identityTokenTtlSeconds: 300,
      audiences: {},
      pollIntervalMs: 60_000,
    });
  });
});
