import { Cookie } from 'tough-cookie';
import { afterEach } from 'vitest';
import { LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RegisterDocument } from '../client/src/operations.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { describe, expect, PASSWORD, test } from './helpers/fixtures.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

describe('sign-in flow over HTTP with a cookie jar', () => {
  test('registers, reads me, refreshes by cookie and by body, logs out, and refuses refresh after', async ({ gateway }) => {
    const browser = new GraphQLClient(gateway.url, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0' });
    const registered = await browser.request(RegisterDocument, { input: { username: 'Alice', password: PASSWORD } });
    expect(registered.errors).toBeUndefined();
    expect(registered.status).toBe(200);
    const payload = registered.data!.register;
    expect(payload.user.username).toBe('Alice');
    expect(payload.refreshToken).toBeNull();
    expect(payload.session.name).toBe('Firefox on Linux');
    expect(payload.session.current).toBe(true);

    const setCookies = registered.headers.getSetCookie();
    const refreshCookie = setCookies.find((c) => c.startsWith('refreshToken='))!;
    const accessCookie = setCookies.find((c) => c.startsWith('accessToken='))!;
    for (const cookie of [refreshCookie, accessCookie]) {
      expect(cookie).toMatch(/; HttpOnly/i);
      expect(cookie).toMatch(/; SameSite=Strict/i);
      expect(cookie).toMatch(/; Path=\/graphql/);
      expect(cookie).toMatch(/; Max-Age=\d+/);
      expect(cookie).not.toMatch(/; Secure/i);
    }
    expect(refreshCookie).toContain(`Max-Age=${7 * 24 * 3600}`);
    expect(accessCookie).toContain(`Max-Age=${15 * 60}`);

    // me through the accessToken cookie alone
    const me = await browser.request(MeDocument);
    expect(me.data?.me).toEqual(payload.user);

    // me through the Authorization header, with no cookies
    const api = new GraphQLClient(gateway.url, { authorization: `Bearer ${payload.accessToken}` });
    expect((await api.request(MeDocument)).data?.me.id).toBe(payload.user.id);

    // refresh through the cookie: a new refresh cookie, no token in the body
    const oldRefreshCookie = await browser.cookie('refreshToken');
    const viaCookie = await browser.request(RefreshDocument, {});
    expect(viaCookie.errors).toBeUndefined();
    expect(viaCookie.data!.refresh.refreshToken).toBeNull();
    expect(viaCookie.data!.refresh.session.id).toBe(payload.session.id);
    const newRefreshCookie = await browser.cookie('refreshToken');
    expect(newRefreshCookie).toBeDefined();
    expect(newRefreshCookie).not.toBe(oldRefreshCookie);

    // a body-delivery login on another device, then refresh through the body
    const cli = new GraphQLClient(gateway.url);
    const login = await cli.request(LoginDocument, {
      input: { username: 'alice', password: PASSWORD, refreshTokenDelivery: 'BODY', deviceName: 'laptop CLI' },
    });
    expect(login.errors).toBeUndefined();
    expect(login.headers.getSetCookie()).toEqual([]);
    const bodyToken = login.data!.login.refreshToken!;
    expect(bodyToken.length).toBeGreaterThanOrEqual(43);
    expect(login.data!.login.session.name).toBe('laptop CLI');
    const viaBody = await cli.request(RefreshDocument, { refreshToken: bodyToken });
    expect(viaBody.errors).toBeUndefined();
    expect(viaBody.headers.getSetCookie()).toEqual([]);
    expect(viaBody.data!.refresh.refreshToken).not.toBe(bodyToken);

    // logout clears both cookies and ends the session
    const logout = await browser.request(LogoutDocument);
    expect(logout.data?.logout).toBe(true);
    const cleared = logout.headers.getSetCookie();
    expect(cleared.some((c) => c.startsWith('refreshToken=;') && /Max-Age=0/.test(c))).toBe(true);
    expect(cleared.some((c) => c.startsWith('accessToken=;') && /Max-Age=0/.test(c))).toBe(true);
    expect(await browser.cookie('refreshToken')).toBeUndefined();

    const afterLogout = await browser.request(RefreshDocument, {}, { headers: { cookie: `refreshToken=${newRefreshCookie}` }, withoutCookies: true });
    expect(afterLogout.status).toBe(401);
    expect(errorCode(afterLogout)).toBe('UNAUTHENTICATED');
    expect(errorReason(afterLogout)).toBe('SESSION_REVOKED');

    const session = await gateway.handle.db.selectFrom('sessions').selectAll().where('id', '=', payload.session.id).executeTakeFirstOrThrow();
    expect(session.revoked_reason).toBe('LOGOUT');
  });

  test('answers refresh without any token with TOKEN_MISSING and a bare Bearer challenge', async ({ gateway }) => {
    const response = await new GraphQLClient(gateway.url).request(RefreshDocument, {});
    expect(response.status).toBe(401);
    expect(errorReason(response)).toBe('TOKEN_MISSING');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('auth cookies', () => {
  const gateways: TestGateway[] = [];
  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((g) => g.close()));
  });
  async function start(env: Record<string, string> = {}) {
    const started = await startTestGateway({ env });
    gateways.push(started);
    return started;
  }

  /** The attributes of a Set-Cookie header, parsed by the same cookie jar a browser-like client uses. */
  function attributes(setCookie: string) {
    const cookie = Cookie.parse(setCookie)!;
    return {
      name: cookie.key,
      value: cookie.value,
      httpOnly: cookie.httpOnly,
      sameSite: cookie.sameSite,
      secure: cookie.secure,
      path: cookie.path,
      maxAge: cookie.maxAge,
    };
  }

  test('are httpOnly, SameSite=Strict, Secure in production, scoped to the GraphQL path, and end with their tokens', async () => {
    const production = await start({
      NODE_ENV: 'production',
      GATEWAY_ENCRYPTION_SECRET: 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki',
      GRAPHQL_PATH: '/api/graphql',
    });
    const client = new GraphQLClient(production.url);
    const registered = await client.request(RegisterDocument, { input: { username: 'secure', password: PASSWORD } });
    expect(registered.errors).toBeUndefined();
    const payload = registered.data!.register;
    const cookies = registered.headers.getSetCookie().map(attributes);
    expect(cookies).toEqual([
      { name: 'refreshToken', value: expect.any(String), httpOnly: true, sameSite: 'strict', secure: true, path: '/api/graphql', maxAge: 7 * 24 * 3600 },
      { name: 'accessToken', value: payload.accessToken, httpOnly: true, sameSite: 'strict', secure: true, path: '/api/graphql', maxAge: 15 * 60 },
    ]);
    expect(Date.parse(payload.refreshTokenExpiresAt) - production.clock.now()).toBe(7 * 24 * 3600 * 1000);

    // A refresh through the cookie sets both cookies again, with the same attributes.
    const refreshed = await client.request(RefreshDocument, {}, { headers: { cookie: `refreshToken=${cookies[0]!.value}` }, withoutCookies: true });
    expect(refreshed.errors).toBeUndefined();
    const again = refreshed.headers.getSetCookie().map(attributes);
    expect(again.map(({ name, value, ...rest }) => ({ name, ...rest }))).toEqual(cookies.map(({ name, value, ...rest }) => ({ name, ...rest })));
    expect(again[0]!.value).not.toBe(cookies[0]!.value);
    expect(again[1]!.value).toBe(refreshed.data!.refresh.accessToken);

    // Logout clears both, on the same path and with the same attributes, or the browser would keep them.
    const logout = await client.request(LogoutDocument, undefined, { headers: { cookie: `accessToken=${again[1]!.value}` }, withoutCookies: true });
    expect(logout.data?.logout).toBe(true);
    expect(logout.headers.getSetCookie().map(attributes)).toEqual([
      { name: 'refreshToken', value: '', httpOnly: true, sameSite: 'strict', secure: true, path: '/api/graphql', maxAge: 0 },
      { name: 'accessToken', value: '', httpOnly: true, sameSite: 'strict', secure: true, path: '/api/graphql', maxAge: 0 },
    ]);
  });

  test('turn Secure off and on with COOKIE_SECURE', async () => {
    for (const [env, secure] of [
      [{}, false],
      [{ COOKIE_SECURE: 'true' }, true],
      [{ NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki', COOKIE_SECURE: 'false' }, false],
    ] as const) {
      const started = await start(env);
      const registered = await new GraphQLClient(started.url).request(RegisterDocument, { input: { username: 'cookie_monster', password: PASSWORD } });
      expect(registered.headers.getSetCookie().map((c) => attributes(c).secure)).toEqual([secure, secure]);
    }
  });

  test('refresh answers through the channel it was called through', async ({ gateway: started }) => {
    const browser = new GraphQLClient(started.url);
    expect((await browser.request(RegisterDocument, { input: { username: 'channels', password: PASSWORD } })).errors).toBeUndefined();
    const cookieToken = (await browser.cookie('refreshToken'))!;
    const cli = (
      await browser.request(LoginDocument, { input: { username: 'channels', password: PASSWORD, refreshTokenDelivery: 'BODY' } }, { withoutCookies: true })
    ).data!.login;

    // With the argument: the body, and no cookie, although the caller also holds the cookie.
    const viaBody = await browser.request(RefreshDocument, { refreshToken: cli.refreshToken });
    expect(viaBody.errors).toBeUndefined();
    expect(viaBody.headers.getSetCookie()).toEqual([]);
    expect(viaBody.data!.refresh.refreshToken).toEqual(expect.any(String));
    expect(viaBody.data!.refresh.session.id).toBe(cli.session.id);
    // The cookie's own session was not touched.
    expect(await browser.cookie('refreshToken')).toBe(cookieToken);

    // Without it: the cookie, and no token in the body.
    const viaCookie = await browser.request(RefreshDocument, {});
    expect(viaCookie.errors).toBeUndefined();
    expect(viaCookie.data!.refresh.refreshToken).toBeNull();
    expect(viaCookie.data!.refresh.session.id).not.toBe(cli.session.id);
    expect(viaCookie.headers.getSetCookie().map((c) => c.split('=')[0])).toEqual(['refreshToken', 'accessToken']);
    expect(await browser.cookie('refreshToken')).not.toBe(cookieToken);
  });
});
