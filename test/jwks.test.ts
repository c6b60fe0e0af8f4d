import { createHash } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { MeDocument } from '../client/src/operations.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { describe, expect, register, test } from './helpers/fixtures.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const DOCUMENTS = [
  ['the JWKS', '/.well-known/jwks.json'],
  ['the discovery document', '/.well-known/openid-configuration'],
] as const;

interface Discovery {
  readonly issuer: string;
  readonly jwks_uri: string;
  readonly id_token_signing_alg_values_supported: string[];
}

const get = (gateway: TestGateway, path: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(`${gateway.origin}${path}`, { method, headers });

const etagOf = async (gateway: TestGateway, path: string) => (await get(gateway, path)).headers.get('etag')!;

const kidsOf = async (gateway: TestGateway) =>
  ((await (await get(gateway, '/.well-known/jwks.json')).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);

describe.each(DOCUMENTS)('%s', (_name, path) => {
  test('is public for five minutes and carries a strong ETag: the quoted SHA-256 of its exact bytes', async ({ gateway }) => {
    const response = await get(gateway, path);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('etag')).toBe(`"${createHash('sha256').update(bytes).digest('base64url')}"`);
  });

  test('keeps its ETag while the keys stay, also across a restart on the same database', async ({ gateway }) => {
    const first = await etagOf(gateway, path);
    expect(await etagOf(gateway, path)).toBe(first);
    await gateway.close({ keepDatabase: true });
    // Every instance serving the same keys must name them alike, or caches behind a load
    // balancer would refetch on every switch of instance.
    const restarted = await startTestGateway({ database: gateway.database, now: new Date(gateway.clock.now()) });
    try {
      expect(await etagOf(restarted, path)).toBe(first);
    } finally {
      await restarted.close();
    }
  });

  test.for<[string, (etag: string) => string]>([
    ['the ETag itself', (etag: string) => etag],
    ['a list holding it', (etag: string) => `"somewhere-else", ${etag},"and-another"`],
    ['its weak form (weak comparison)', (etag: string) => `W/${etag}`],
    ['its weak form in a list', (etag: string) => `W/"x",W/${etag}`],
    ['*', () => '*'],
  ])('answers If-None-Match naming %s with 304, the validator and no body', async ([, ifNoneMatch], { gateway }) => {
    const etag = await etagOf(gateway, path);
    for (const method of ['GET', 'HEAD']) {
      const response = await get(gateway, path, { 'if-none-match': ifNoneMatch(etag) }, method);
      expect(response.status).toBe(304);
      expect(response.headers.get('etag')).toBe(etag);
      expect(response.headers.get('cache-control')).toBe('public, max-age=300');
      expect(await response.text()).toBe('');
    }
  });

  test.for<[string, (etag: string) => string]>([
    ['another ETag', () => '"somewhere-else"'],
    ['another weak ETag', () => 'W/"somewhere-else"'],
    ['its ETag unquoted', (etag: string) => etag.slice(1, -1)],
    ['its ETag with a different case', (etag: string) => etag.toUpperCase()],
  ])('answers If-None-Match naming %s with the full document', async ([, ifNoneMatch], { gateway }) => {
    const etag = await etagOf(gateway, path);
    const response = await get(gateway, path, { 'if-none-match': ifNoneMatch(etag) });
    expect(response.status).toBe(200);
    expect(response.headers.get('etag')).toBe(etag);
    expect(JSON.parse(await response.text())).toBeTypeOf('object');
  });

  test('answers HEAD with the headers of GET and no body', async ({ gateway }) => {
    const full = await get(gateway, path);
    const head = await get(gateway, path, {}, 'HEAD');
    expect(head.status).toBe(200);
    for (const header of ['etag', 'cache-control', 'content-type']) expect(head.headers.get(header)).toBe(full.headers.get(header));
    expect(await head.text()).toBe('');
  });
});

test('tells the key sets of two gateways apart, and names their discovery documents alike while issuer and algorithms agree', async ({ gateway }) => {
  const other = await startTestGateway();
  try {
    expect(await etagOf(other, '/.well-known/jwks.json')).not.toBe(await etagOf(gateway, '/.well-known/jwks.json'));
    expect(await etagOf(other, '/.well-known/openid-configuration')).toBe(await etagOf(gateway, '/.well-known/openid-configuration'));
  } finally {
    await other.close();
  }
});

describe('a running gateway whose key set changes', () => {
  test.override({ gatewayOptions: { env: { JWT_ALGORITHM: 'EdDSA' } } });

  test('serves the new set under a new ETag, and a discovery document listing the new algorithm', async ({ gateway }) => {
    const before = {
      jwks: await etagOf(gateway, '/.well-known/jwks.json'),
      discovery: await etagOf(gateway, '/.well-known/openid-configuration'),
      kids: await kidsOf(gateway),
    };
    // A second instance configured for ES256 adds its key to the shared database. The first
    // reloads its keys on the next kid it does not know (at most once a second by its clock):
    // here a made-up one, in a token of the algorithm it verifies today.
    const es256 = await startTestGateway({ database: gateway.database, env: { JWT_ALGORITHM: 'ES256' }, now: new Date(gateway.clock.now()) });
    try {
      const signedIn = await register(es256, 'bob');
      expect(decodeProtectedHeader(signedIn.accessToken).alg).toBe('ES256');
      gateway.clock.advance(60_000);
      const madeUp = [{ alg: 'EdDSA', kid: 'not-a-key-of-ours', typ: 'at+jwt' }, {}].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'));
      const refused = await new GraphQLClient(gateway.url, { authorization: `Bearer ${madeUp.join('.')}.AAAA` }).request(MeDocument);
      expect(refused.status).toBe(401);

      const jwks = await get(gateway, '/.well-known/jwks.json', { 'if-none-match': before.jwks });
      expect(jwks.status).toBe(200);
      const etag = jwks.headers.get('etag')!;
      expect(etag).not.toBe(before.jwks);
      expect(etag).toBe(
        `"${createHash('sha256')
          .update(Buffer.from(await jwks.arrayBuffer()))
          .digest('base64url')}"`,
      );
      expect(await kidsOf(gateway)).toEqual(expect.arrayContaining([...before.kids, decodeProtectedHeader(signedIn.accessToken).kid]));
      expect((await get(gateway, '/.well-known/jwks.json', { 'if-none-match': etag })).status).toBe(304);

      const discovery = await get(gateway, '/.well-known/openid-configuration', { 'if-none-match': before.discovery });
      expect(discovery.status).toBe(200);
      expect(discovery.headers.get('etag')).not.toBe(before.discovery);
      expect(((await discovery.json()) as Discovery).id_token_signing_alg_values_supported.sort()).toEqual(['ES256', 'EdDSA']);
      const me = await new GraphQLClient(gateway.url, { authorization: `Bearer ${signedIn.accessToken}` }).request(MeDocument);
      expect(me.data?.me.username).toBe('bob');
    } finally {
      await es256.close({ keepDatabase: true });
    }
  });
});
