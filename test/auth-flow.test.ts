import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RegisterDocument } from '../src/client/operations.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const password = 'correct horse battery staple';

describe('sign-in flow over HTTP with a cookie jar', () => {
  let gateway: TestGateway;
  beforeEach(async () => {
    gateway = await startTestGateway();
  });
  afterEach(() => gateway.close());

  it('registers, reads me, refreshes by cookie and by body, logs out, and refuses refresh after', async () => {
    const browser = new GraphQLClient(gateway.url, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0' });
    const registered = await browser.request(RegisterDocument, { input: { username: 'Alice', password } });
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
    const login = await cli.request(LoginDocument, { input: { username: 'alice', password, refreshTokenDelivery: 'BODY', deviceName: 'laptop CLI' } });
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

  it('answers refresh without any token with TOKEN_MISSING and a bare Bearer challenge', async () => {
    const response = await new GraphQLClient(gateway.url).request(RefreshDocument, {});
    expect(response.status).toBe(401);
    expect(errorReason(response)).toBe('TOKEN_MISSING');
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });
});
