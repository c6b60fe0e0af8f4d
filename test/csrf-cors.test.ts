import { MeDocument, RegisterDocument } from '../client/src/operations.js';
import { describe, expect, PASSWORD, test } from './helpers/fixtures.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import type { TestGateway } from './helpers/test-gateway.js';

const APP = 'https://app.example';
const ADMIN = 'https://admin.example';

/**
 * A browser signed in with cookies, and the cookie header it would attach (accounts.ts signs in
 * as a CLI does, with the refresh token in the body).
 */
async function signedInBrowser(gateway: TestGateway): Promise<{ browser: GraphQLClient; cookie: string }> {
  const browser = new GraphQLClient(gateway.url);
  const registered = await browser.request(RegisterDocument, { input: { username: 'alice', password: PASSWORD } });
  expect(registered.errors).toBeUndefined();
  return { browser, cookie: await browser.jar.getCookieString(gateway.url) };
}

async function revokedSessions(gateway: TestGateway): Promise<number> {
  const rows = await gateway.handle.db.selectFrom('sessions').select('revoked_at').execute();
  return rows.filter((row) => row.revoked_at !== null).length;
}

interface ErrorBody {
  errors: { extensions: Record<string, unknown> }[];
}

describe('CSRF prevention', () => {
  const logoutAll = 'mutation { logoutAll }';

  test.for<[string, () => Record<string, string>, () => BodyInit]>([
    ['text/plain', () => ({ 'content-type': 'text/plain;charset=UTF-8' }), () => JSON.stringify({ query: logoutAll })],
    ['a form', () => ({ 'content-type': 'application/x-www-form-urlencoded' }), () => new URLSearchParams({ query: logoutAll }).toString()],
    ['no declared type', () => ({}), () => new TextEncoder().encode(JSON.stringify({ query: logoutAll }))],
  ])('refuses a cookie-only POST with %s before running it', async ([, headers, body], { gateway }) => {
    const { cookie } = await signedInBrowser(gateway);
    const response = await fetch(gateway.url, { method: 'POST', headers: { ...headers(), cookie }, body: body() });
    expect(response.status).toBe(403);
    const { errors } = (await response.json()) as ErrorBody;
    expect(errors[0]!.extensions.code).toBe('BAD_REQUEST');
    expect(errors[0]!.extensions.reason).toBe('CSRF_HEADER_MISSING');
    expect(await revokedSessions(gateway)).toBe(0);
  });

  test('refuses a cookie-only multipart POST', async ({ gateway }) => {
    const { cookie } = await signedInBrowser(gateway);
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: logoutAll }));
    form.set('map', '{}');
    const response = await fetch(gateway.url, { method: 'POST', headers: { cookie }, body: form });
    expect(response.status).toBe(403);
    expect(await revokedSessions(gateway)).toBe(0);
  });

  test('serves a form POST that carries a CSRF header, which a cross-site page cannot add without a preflight', async ({ gateway }) => {
    const { cookie } = await signedInBrowser(gateway);
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-csrf': '1', cookie },
      body: new URLSearchParams({ query: logoutAll }).toString(),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { logoutAll: 1 } });
    expect(await revokedSessions(gateway)).toBe(1);
  });

  test('serves JSON POSTs with cookies alone, since browsers preflight them', async ({ gateway }) => {
    const { browser } = await signedInBrowser(gateway);
    const me = await browser.request(MeDocument);
    expect(me.errors).toBeUndefined();
    expect(me.data!.me.username).toBe('alice');
  });

  test('refuses mutations over GET and serves queries', async ({ gateway }) => {
    const { cookie } = await signedInBrowser(gateway);
    const mutation = await fetch(`${gateway.url}?query=${encodeURIComponent(logoutAll)}`, {
      headers: { cookie, accept: 'application/graphql-response+json', 'x-graphql-csrf': '1' },
    });
    expect(mutation.status).toBe(405);
    expect(mutation.headers.get('allow')).toBe('POST');
    expect(await revokedSessions(gateway)).toBe(0);

    // GET stays open to queries without extra headers (EventSource cannot set any).
    const query = await fetch(`${gateway.url}?query=${encodeURIComponent('{ me { username } }')}`, { headers: { cookie } });
    expect(query.status).toBe(200);
    expect(await query.json()).toEqual({ data: { me: { username: 'alice' } } });
  });
});

describe('CORS', () => {
  function preflight(gateway: TestGateway, origin: string): Promise<Response> {
    return fetch(gateway.url, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization, x-graphql-csrf' },
    });
  }

  function post(gateway: TestGateway, origin: string): Promise<Response> {
    return fetch(gateway.url, { method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
  }

  test('allows the ALLOWED_ORIGINS with credentials, one origin at a time', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { ALLOWED_ORIGINS: `${APP},${ADMIN}` } });
    for (const origin of [APP, ADMIN]) {
      const answer = await preflight(gateway, origin);
      expect(answer.status).toBe(204);
      expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
      expect(answer.headers.get('access-control-allow-credentials')).toBe('true');
      expect(answer.headers.get('access-control-allow-methods')).toContain('POST');
      const allowedHeaders = answer.headers.get('access-control-allow-headers')!.split(/, */);
      expect(allowedHeaders).toEqual(expect.arrayContaining(['content-type', 'authorization', 'x-graphql-csrf']));

      const response = await post(gateway, origin);
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-credentials')).toBe('true');
      expect(response.headers.get('access-control-expose-headers')).toContain('retry-after');
    }
  });

  test.for<[string, Record<string, string>, string]>([
    ['another origin', { ALLOWED_ORIGINS: APP }, 'https://evil.example'],
    ['the null origin', { ALLOWED_ORIGINS: `${APP},${ADMIN}` }, 'null'],
    ['any origin when ALLOWED_ORIGINS is empty', {}, APP],
  ])('gives no cross-origin access to %s', async ([, env, origin], { startGateway }) => {
    const gateway = await startGateway({ env });
    const answer = await preflight(gateway, origin);
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    const response = await post(gateway, origin);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  test('marks every answer as varying with Origin, so that no cache hands one origin the CORS headers of another', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { ALLOWED_ORIGINS: APP } });
    const sameOrigin = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    for (const response of [await post(gateway, APP), await post(gateway, 'https://evil.example'), await preflight(gateway, APP), sameOrigin]) {
      expect(response.headers.get('vary')?.split(/, */)).toContain('Origin');
    }
  });
});
