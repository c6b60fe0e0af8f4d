import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MeDocument, RegisterDocument } from '../src/client/operations.js';
import { errorCode, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

let gateway: TestGateway;
beforeEach(async () => {
  gateway = await startTestGateway();
});
afterEach(() => gateway.close());

describe('HTTP endpoints and error masking', () => {
  it('answers GET /health', async () => {
    const response = await fetch(`${gateway.origin}/health`);
    expect(response.status).toBe(200);
  });

  it('masks an unexpected error as INTERNAL with no message, stack or internals, and logs it', async () => {
    const registered = await new GraphQLClient(gateway.url).request(RegisterDocument, {
      input: { username: 'masked', password: 'correct horse battery staple', refreshTokenDelivery: 'BODY' },
    });
    const token = registered.data!.register.accessToken;
    // The database goes away under the running gateway.
    await gateway.handle.db.destroy();

    const response = await new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` }).request(MeDocument);
    expect(errorCode(response)).toBe('INTERNAL');
    expect(response.errors).toHaveLength(1);
    const [error] = response.errors!;
    expect(error!.message).toBe('Internal server error');
    expect(Object.keys(error!.extensions ?? {})).toEqual(['code']);
    expect(JSON.stringify(response.errors)).not.toMatch(/destroyed|driver|kysely|sqlite|stack/i);
    expect(gateway.logs.some((line) => line.includes('"msg":"unexpected error"'))).toBe(true);
  });

  it('answers an unknown path with 404 and no GraphQL', async () => {
    expect((await fetch(`${gateway.origin}/nope`)).status).toBe(404);
  });
});
