import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, beforeEach, it } from 'vitest';
import { CreatePersonalAccessTokenDocument, MeDocument } from '../client/src/operations.js';
import { BadUserInputError, UnauthenticatedError } from '../src/errors.js';
import { useUnauthenticatedStatus } from '../src/plugins/use-unauthenticated-status.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { describe, expect, register, test } from './helpers/fixtures.js';
import type { TestGateway } from './helpers/test-gateway.js';

describe('HTTP endpoints', () => {
  test('answers GET /health', async ({ gateway }) => {
    const response = await fetch(`${gateway.origin}/health`);
    expect(response.status).toBe(200);
  });

  test('publishes the discovery document pointing at the JWKS', async ({ gateway }) => {
    const response = await fetch(`${gateway.origin}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const discovery = (await response.json()) as { issuer: string; jwks_uri: string };
    expect(discovery.issuer).toBe(gateway.config.issuer);
    expect(discovery.jwks_uri).toBe('http://gateway.test/.well-known/jwks.json');
    const jwks = await fetch(`${gateway.origin}${new URL(discovery.jwks_uri).pathname}`);
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
  });

  test('answers an unknown path with 404 and no GraphQL', async ({ gateway }) => {
    expect((await fetch(`${gateway.origin}/nope`)).status).toBe(404);
  });
});

describe('HTTP 401', () => {
  const post = (gateway: TestGateway, query: string, headers: Record<string, string> = {}) => new GraphQLClient(gateway.url, headers).raw(query);

  test('answers a missing credential with a bare Bearer challenge', async ({ gateway }) => {
    const response = await post(gateway, '{ me { id } devices { id } }');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(response.errors!.length).toBeGreaterThan(0);
    for (const error of response.errors!) expect(error.extensions).toEqual({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
  });

  test.for([
    ['a field that needs none', '{ __typename }'],
    ['a sign-in', 'mutation { login(input: { username: "someone", password: "correct horse battery staple" }) { accessToken } }'],
    ['a protected field', '{ me { id } }'],
  ])('answers an invalid credential with invalid_token, even for %s', async ([, query], { gateway }) => {
    await register(gateway, 'someone');
    const response = await post(gateway, query!, { authorization: 'Bearer not-a-token' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(errorReason(response)).toBe('TOKEN_INVALID');
    expect(response.data ?? null).toBeNull();
  });

  test('answers an expired credential with invalid_token and TOKEN_EXPIRED', async ({ gateway }) => {
    const { accessToken } = await register(gateway, 'someone');
    gateway.clock.advance(gateway.config.accessTokenTtlSeconds * 1000 + 5_000);
    const response = await post(gateway, '{ me { id } }', { authorization: `Bearer ${accessToken}` });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(errorReason(response)).toBe('TOKEN_EXPIRED');
  });
});

describe('HTTP status of a result that is more than a refusal', () => {
  // The gateway's schema makes every root field non-null, so a refused field nulls the whole
  // result; a schema with nullable fields (as the contract allows to grow) shows the rule.
  const schema = createSchema({
    typeDefs: 'type Query { open: String, guarded: String, invalid: String }',
    resolvers: {
      Query: {
        open: () => 'fine',
        guarded: () => {
          throw new UnauthenticatedError('TOKEN_MISSING');
        },
        invalid: () => {
          throw new BadUserInputError('x', 'bad');
        },
      },
    },
  });
  let url: string;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const server = createServer(createYoga({ schema, plugins: [useUnauthenticatedStatus()], logging: false }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    close = () => new Promise((resolve) => server.close(() => resolve()));
  });
  afterEach(() => close());

  it.each([
    ['nothing but the refusal', '{ guarded }', 401, 'Bearer'],
    ['nothing but refusals, aliased', '{ a: guarded b: guarded }', 401, 'Bearer'],
    ['data beside the refusal', '{ open guarded }', 200, null],
    ['another error beside the refusal', '{ guarded invalid }', 200, null],
  ])('answers %s with %s', async (_label, query, status, challenge) => {
    const response = await new GraphQLClient(url).raw(query);
    expect(response.status).toBe(status);
    expect(response.headers.get('www-authenticate')).toBe(challenge);
    expect(response.errors!.some((e) => e.extensions?.code === 'UNAUTHENTICATED')).toBe(true);
    for (const error of response.errors!) expect(error.extensions).not.toHaveProperty('http');
  });
});

describe('error masking', () => {
  test('masks an unexpected error as INTERNAL with no message, stack or internals, and logs it', async ({ gateway }) => {
    const { accessToken } = await register(gateway, 'masked');
    // The database goes away under the running gateway.
    await gateway.handle.db.destroy();

    const response = await new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` }).request(MeDocument);
    expect(errorCode(response)).toBe('INTERNAL');
    expect(response.errors).toHaveLength(1);
    const [error] = response.errors!;
    expect(error!.message).toBe('Internal server error');
    expect(Object.keys(error!.extensions ?? {})).toEqual(['code']);
    expect(JSON.stringify(response.errors)).not.toMatch(/destroyed|driver|kysely|sqlite|postgres|stack|\.ts:\d/i);
    expect(gateway.logs.some((line) => line.includes('"msg":"unexpected error"'))).toBe(true);
  });

  test('masks an unexpected error while resolving the caller too', async ({ gateway }) => {
    const { accessToken } = await register(gateway, 'pat-owner');
    const created = await new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` }).request(CreatePersonalAccessTokenDocument, {
      input: { name: 'script' },
    });
    const pat = created.data!.createPersonalAccessToken.token;
    // Never used yet, so not cached: verifying it needs the database, which is gone.
    await gateway.handle.db.destroy();

    const response = await new GraphQLClient(gateway.url, { authorization: `Bearer ${pat}` }).request(MeDocument);
    expect(response.errors).toEqual([{ message: 'Internal server error', extensions: { code: 'INTERNAL' } }]);
    expect(response.data ?? null).toBeNull();
  });
});
