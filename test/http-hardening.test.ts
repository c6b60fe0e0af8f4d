import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll } from 'vitest';
import { RefreshDocument, RegisterDocument } from '../client/src/operations.js';
import { DEFAULT_QUERY_LIMITS } from '../src/plugins/use-query-limits.js';
import { describe, expect, PASSWORD, test } from './helpers/fixtures.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { eventStreamResults, within } from './helpers/realtime-clients.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const APP = 'https://app.example';
const EVIL = 'https://evil.example';
const PRODUCTION = { NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki' };

interface ErrorBody {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

// One gateway for the file, not the fixture's one per test: the tests below go on from each
// other's state (the browser's rotated cookies, the log the last test reads).
let gateway: TestGateway;
/** A browser signed in with cookies, and the Cookie header it sends. */
let browser: GraphQLClient;
let cookie: string;
let accessToken: string;
let userId: string;

beforeAll(async () => {
  gateway = await startTestGateway({ env: { ALLOWED_ORIGINS: APP } });
  browser = new GraphQLClient(gateway.url);
  const registered = await browser.request(RegisterDocument, { input: { username: 'hardened', password: PASSWORD } });
  expect(registered.errors).toBeUndefined();
  cookie = await browser.jar.getCookieString(gateway.url);
  accessToken = (await browser.cookie('accessToken'))!;
  userId = registered.data!.register.user.id;
});
afterAll(() => gateway.close());

function postJson(body: string, headers: Record<string, string> = {}, url = gateway.url): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

async function revokedSessions(): Promise<number> {
  const rows = await gateway.handle.db.selectFrom('sessions').select('revoked_at').execute();
  return rows.filter((row) => row.revoked_at !== null).length;
}

describe('a body that is not JSON', () => {
  test.for<[string, Record<string, string>]>([
    ['test', {}],
    ['development', { NODE_ENV: 'development' }],
    ['production', PRODUCTION],
  ])('is refused with 400 BAD_REQUEST without echoing the body (%s)', async ([, env], { startGateway }) => {
    const own = await startGateway({ env });
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const response = await postJson('{"query": "{ me { id } }", "password": "hunter2-echoed', { accept }, own.url);
      expect(response.status).toBe(400);
      const text = await response.text();
      expect(text).not.toContain('hunter2-echoed');
      const { errors } = JSON.parse(text) as ErrorBody;
      expect(errors).toHaveLength(1);
      expect(errors![0]!.extensions).toEqual({ code: 'BAD_REQUEST' });
    }
    // A client's mistake: in the request log with its 400, never at error level, where any
    // client could fill the log that operators are paged from.
    const lines = own.logs.map((line) => JSON.parse(line) as { level: number; msg?: string; status?: number });
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(lines.filter((line) => line.status === 400)).toHaveLength(2);
    expect(own.logs.join('')).not.toContain('hunter2-echoed');
  });
});

describe('query limit refusals and the media type', () => {
  // __type > fields > type > 8 × ofType > name: depth 12, over the limit of 10.
  const tooDeep = `{ __type(name: "User") { fields { type { ${'ofType { '.repeat(8)}name${' }'.repeat(8)} } } } }`;

  test.each([
    ['application/graphql-response+json', 400],
    ['application/json', 200],
  ])('answers a client accepting %s with HTTP %i and the limit code', async (accept, status) => {
    const response = await postJson(JSON.stringify({ query: tooDeep }), { accept });
    expect(response.status).toBe(status);
    const body = (await response.json()) as ErrorBody;
    expect(body.data).toBeUndefined();
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_DEPTH' });
  });
});

describe('depth through fragments', () => {
  const client = () => new GraphQLClient(gateway.url);

  test('counts fields, not fragment spreads or inline fragments', async () => {
    // Depth 2 (__type > name), reached through five named fragments, each through an inline one.
    const names = ['A', 'B', 'C', 'D', 'E'];
    const fragments = names.map((name, i) => `fragment ${name} on __Type { ... on __Type { ${i + 1 < names.length ? `...${names[i + 1]}` : 'name'} } }`);
    const honest = await client().raw(`{ __type(name: "User") { ...A } } ${fragments.join(' ')}`);
    expect(honest.errors).toBeUndefined();
    expect(honest.data).toEqual({ __type: { name: 'User' } });
  });

  test.each([
    [DEFAULT_QUERY_LIMITS.maxDepth, true],
    [DEFAULT_QUERY_LIMITS.maxDepth + 1, false],
  ])('serves field depth %i through nested fragments: %s', async (depth, served) => {
    // __type > fields > type, then ofType levels split across fragments, then name.
    const ofTypes = depth - 4;
    const query = `{ __type(name: "User") { ...Fields } }
      fragment Fields on __Type { fields { ...Type } }
      fragment Type on __Field { type { ...Chain } }
      fragment Chain on __Type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} }`;
    const response = await client().raw(query);
    if (served) {
      expect(response.errors).toBeUndefined();
    } else {
      expect(response.status).toBe(400);
      expect(response.errors![0]!.extensions).toMatchObject({ code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_DEPTH' });
    }
  });

  test('still serves the standard introspection query', async () => {
    const response = await client().raw(getIntrospectionQuery());
    expect(response.errors).toBeUndefined();
    expect(response.status).toBe(200);
  });
});

describe('Cache-Control', () => {
  test('is no-store on an authenticated GET, POST and SSE answer', async () => {
    const query = encodeURIComponent('{ me { id } }');
    const get = await fetch(`${gateway.url}?query=${query}`, { headers: { authorization: `Bearer ${accessToken}` } });
    const post = await postJson(JSON.stringify({ query: '{ me { id } }' }), { authorization: `Bearer ${accessToken}` });
    const sse = await fetch(`${gateway.url}?query=${query}`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'text/event-stream' } });
    for (const response of [get, post, sse]) {
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-store');
    }
    expect(eventStreamResults(await sse.text())).toEqual([{ data: { me: { id: userId } } }]);
    expect(await get.json()).toEqual({ data: { me: { id: userId } } });
  });

  test('is no-store on a subscription over SSE and on refusals', async () => {
    const controller = new AbortController();
    const stream = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', cookie },
      body: JSON.stringify({ query: 'subscription { sessionEvents { kind } }' }),
      signal: controller.signal,
    });
    controller.abort();
    const refused = await postJson(JSON.stringify({ query: '{ me { id } }' }), { authorization: 'Bearer forged' });
    for (const response of [stream, refused]) expect(response.headers.get('cache-control')).toBe('no-store');
  });

  test('leaves the public key documents cacheable', async () => {
    const jwks = await fetch(`${gateway.origin}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
  });
});

describe('the token query parameter', () => {
  test.each([
    ['a JSON POST', () => postJson(JSON.stringify({ query: '{ me { id } }' }), {}, `${gateway.url}?token=${accessToken}`)],
    ['a GET', () => fetch(`${gateway.url}?query=${encodeURIComponent('{ me { id } }')}&token=${accessToken}`)],
    [
      'a POST that also carries a valid Authorization header',
      () => postJson(JSON.stringify({ query: '{ me { id } }' }), { authorization: `Bearer ${accessToken}` }, `${gateway.url}?token=${accessToken}`),
    ],
  ])('is refused on %s with 400 BAD_USER_INPUT on field token, and authenticates nothing', async (_name, send) => {
    const response = await send();
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.data ?? null).toBeNull();
    expect(body.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'token' });
  });

  test('authenticates an SSE request, over GET as EventSource sends it and over POST', async () => {
    const query = '{ me { id } }';
    const overGet = await fetch(`${gateway.url}?query=${encodeURIComponent(query)}&token=${accessToken}`, { headers: { accept: 'text/event-stream' } });
    const overPost = await postJson(JSON.stringify({ query }), { accept: 'text/event-stream' }, `${gateway.url}?token=${accessToken}`);
    for (const response of [overGet, overPost]) {
      expect(response.status).toBe(200);
      expect(eventStreamResults(await response.text())).toEqual([{ data: { me: { id: userId } } }]);
    }
  });

  test('authenticates a WebSocket upgrade', async ({ realtime }) => {
    const socket = realtime.ws(`${gateway.wsUrl}?token=${accessToken}`);
    await within(socket.connected, 5000, 'connection ack');
  });

  test('stays out of the logs, as do the password and the refresh token, at debug level', async () => {
    expect(gateway.services.logger.level).toBe('debug');
    const logs = gateway.logs.join('');
    expect(logs).toContain('token=%5Bredacted%5D');
    expect(logs).not.toContain(accessToken);
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain((await browser.cookie('refreshToken'))!);
  });
});

describe('Fetch Metadata', () => {
  const logoutAll = JSON.stringify({ query: 'mutation { logoutAll }' });

  test('refuses a cross-site request riding the accessToken cookie with 403 FORBIDDEN, before it runs', async () => {
    for (const origin of [EVIL, null]) {
      const response = await postJson(logoutAll, { cookie, 'sec-fetch-site': 'cross-site', ...(origin ? { origin } : {}) });
      expect(response.status).toBe(403);
      const body = (await response.json()) as ErrorBody;
      expect(body.errors![0]!.extensions).toEqual({ code: 'FORBIDDEN', reason: 'CROSS_SITE_REQUEST' });
    }
    const sse = await fetch(`${gateway.url}?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { cookie, accept: 'text/event-stream', 'sec-fetch-site': 'cross-site', origin: EVIL },
    });
    expect(sse.status).toBe(403);
    expect(await revokedSessions()).toBe(0);
  });

  test('refuses a cross-site refresh riding the refreshToken cookie, and leaves the token unused', async () => {
    const refreshCookie = `refreshToken=${(await browser.cookie('refreshToken'))!}`;
    const refused = await postJson(JSON.stringify({ query: 'mutation { refresh { accessTokenExpiresAt } }' }), {
      cookie: refreshCookie,
      'sec-fetch-site': 'cross-site',
      origin: EVIL,
    });
    expect(refused.status).toBe(403);
    // The refresh token was not rotated: the browser's own refresh is no reuse.
    const refreshed = await browser.request(RefreshDocument, {});
    expect(refreshed.errors).toBeUndefined();
    cookie = await browser.jar.getCookieString(gateway.url);
  });

  test.each([
    ['a cross-site request from an allowed origin', { 'sec-fetch-site': 'cross-site', origin: APP }],
    ['a same-origin request', { 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1:4000' }],
    ['a same-site request', { 'sec-fetch-site': 'same-site', origin: 'https://other.example' }],
    ['a request the user started', { 'sec-fetch-site': 'none' }],
    ['a request without Fetch Metadata', {}],
  ])('serves %s', async (_name, headers: Record<string, string>) => {
    const response = await postJson(JSON.stringify({ query: '{ me { id } }' }), { cookie, ...headers });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { me: { id: userId } } });
  });

  test('serves a cross-site request without the auth cookies', async () => {
    const response = await postJson(JSON.stringify({ query: '{ __typename }' }), { 'sec-fetch-site': 'cross-site', origin: EVIL, cookie: 'theme=dark' });
    expect(response.status).toBe(200);
  });

  test('still refuses a cookie-authenticated WebSocket upgrade from another origin', async ({ realtime }) => {
    const socket = realtime.ws(gateway.wsUrl, { headers: { cookie, origin: EVIL, 'sec-fetch-site': 'cross-site' } });
    expect((await within(socket.closed, 5000, 'close')).code).toBe(4403);
  });
});
