import { inspect } from 'node:util';
import type { CookieJar } from 'tough-cookie';
import { loadConfig } from '../src/config.js';
import { SSO_BINDING_COOKIE } from '../src/sso/browser-binding.js';
import { configError } from './helpers/config-error.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient, type GraphQLResponse } from './helpers/graphql-client.js';
import { type Relay, startRelay, startTestOidcProvider, type TestOidcAccount, type TestOidcClient, type TestOidcProvider } from './helpers/oidc-provider.js';
import type { TestGateway } from './helpers/test-gateway.js';

// Single sign-on against a real OpenID Provider (oidc-provider) on a loopback port, driven by a
// scripted login. The gateway is told its public URL is GATEWAY (where the provider sends
// browsers back) and the test delivers those redirects to the gateway's real port, as DNS
// would; the application's origin is APP.

const GATEWAY = 'http://gateway.test';
const APP = 'http://app.test';
const SPA_CALLBACK = `${APP}/sso/callback`;
const CLIENT_SECRET = 'gateway-client-secret-do-not-log-0123456789';
const GATEWAY_CLIENT: TestOidcClient = {
  clientId: 'gateway',
  clientSecret: CLIENT_SECRET,
  redirectUris: [SPA_CALLBACK, ...['op', 'mixup', 'other'].map((name) => `${GATEWAY}/auth/sso/${name}/callback`)],
};
/** Another application at the same provider. */
const OTHER_CLIENT: TestOidcClient = { clientId: 'other-app', clientSecret: 'other-app-secret-0123456789', redirectUris: GATEWAY_CLIENT.redirectUris };

const ALICE: TestOidcAccount = { sub: 'alice-sub', preferred_username: 'alice', email: 'alice@example.com', email_verified: true, name: 'Alice Liddell' };
const BOB: TestOidcAccount = { sub: 'bob-sub', email: 'bob.builder@example.com', email_verified: true, name: 'Bob' };
const ZOE: TestOidcAccount = { sub: 'zoe-sub', name: 'Zoë Ünicode' };
const ACCOUNTS = [ALICE, BOB, ZOE];

const START_SSO = `mutation Start($provider: String!, $redirectUri: String!, $intent: SsoIntent) {
  startSso(provider: $provider, redirectUri: $redirectUri, intent: $intent)
}`;
const COMPLETE_SSO = `mutation Complete($provider: String!, $code: String!, $state: String!, $iss: String, $delivery: TokenDelivery) {
  completeSso(provider: $provider, code: $code, state: $state, iss: $iss, refreshTokenDelivery: $delivery) {
    accessToken refreshToken user { id username identities { provider subject email linkedAt } } session { id }
  }
}`;
const LINK_SSO = `mutation Link($provider: String!, $code: String!, $state: String!, $iss: String) {
  linkSsoIdentity(provider: $provider, code: $code, state: $state, iss: $iss) { provider subject email linkedAt }
}`;
const UNLINK_SSO = 'mutation Unlink($provider: String!) { unlinkSsoIdentity(provider: $provider) }';
const ME = '{ me { id username identities { provider subject email linkedAt } } }';

interface CompletedSso {
  completeSso: {
    accessToken: string;
    refreshToken: string | null;
    user: { id: string; username: string; identities: { provider: string; subject: string; email: string | null; linkedAt: string }[] };
    session: { id: string };
  };
}

/** The gateway's environment for providers at these issuers, client `gateway`. */
function ssoEnv(providers: Record<string, string>, more: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    SSO_PROVIDERS: Object.keys(providers).join(','),
    SSO_RETURN_TO_ORIGINS: APP,
    SSO_CALLBACK_BASE_URL: GATEWAY,
    RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000',
    RATE_LIMIT_CREDENTIALS_BURST: '1000',
  };
  for (const [name, issuer] of Object.entries(providers)) {
    const prefix = `SSO_${name.toUpperCase()}_`;
    Object.assign(env, { [`${prefix}ISSUER`]: issuer, [`${prefix}CLIENT_ID`]: 'gateway', [`${prefix}CLIENT_SECRET`]: CLIENT_SECRET });
  }
  return { ...env, ...more };
}

const it = test.extend<{ op: TestOidcProvider; relays: (() => Promise<Relay>) & { readonly started: Relay[] }; sso: TestGateway }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern.
  op: async ({}, use) => {
    const op = await startTestOidcProvider({ clients: [GATEWAY_CLIENT], accounts: ACCOUNTS });
    try {
      await use(op);
    } finally {
      await op.close();
    }
  },
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern.
  relays: async ({}, use) => {
    const started: Relay[] = [];
    const start = async () => {
      const relay = await startRelay();
      started.push(relay);
      return relay;
    };
    try {
      await use(Object.assign(start, { started }));
    } finally {
      await Promise.all(started.map((relay) => relay.close()));
    }
  },
  sso: async ({ op, startGateway }, use) => {
    await use(await startGateway({ env: ssoEnv({ op: op.issuer }) }));
  },
});

/** startSso over GraphQL: the authorization URL. */
async function startSso(client: GraphQLClient, provider = 'op', intent?: 'SIGN_IN' | 'LINK'): Promise<string> {
  const response = await client.raw<{ startSso: string }>(START_SSO, { provider, redirectUri: SPA_CALLBACK, intent });
  expect(response.errors).toBeUndefined();
  return response.data!.startSso;
}

/** What the provider sent the browser back with. */
function answerOf(callback: URL): { code: string; state: string; iss: string | null } {
  return { code: callback.searchParams.get('code')!, state: callback.searchParams.get('state')!, iss: callback.searchParams.get('iss') };
}

function completeSso(
  client: GraphQLClient,
  answer: { code: string; state: string; iss?: string | null },
  provider = 'op',
  delivery: 'BODY' | 'COOKIE' = 'BODY',
): Promise<GraphQLResponse<CompletedSso>> {
  return client.raw<CompletedSso>(COMPLETE_SSO, { provider, ...answer, delivery });
}

/** A whole sign-in of an application over GraphQL, as `sub` at the provider. */
async function signInWithSso(gateway: TestGateway, op: TestOidcProvider, sub: string, provider = 'op'): Promise<CompletedSso['completeSso']> {
  const client = new GraphQLClient(gateway.url);
  const callback = await op.signIn(await startSso(client, provider), sub);
  const response = await completeSso(client, answerOf(callback), provider);
  expect(response.errors).toBeUndefined();
  return response.data!.completeSso;
}

/** A GET as a browser with this cookie jar makes it: redirects not followed, cookies kept. */
async function browserGet(jar: CookieJar, url: string): Promise<Response> {
  const cookie = await jar.getCookieString(url);
  const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  for (const setCookie of response.headers.getSetCookie()) await jar.setCookie(setCookie, url);
  return response;
}

/** Where the provider sent the browser, delivered to the gateway's real address. */
function atGateway(gateway: TestGateway, callback: URL): string {
  expect(callback.origin).toBe(GATEWAY);
  return `${gateway.origin}${callback.pathname}${callback.search}`;
}

/** The browser flow up to the provider's answer: the callback URL at the gateway, and the browser that holds the binding cookie. */
async function browserToCallback(gateway: TestGateway, op: TestOidcProvider, sub: string, returnTo = `${APP}/home`) {
  const browser = new GraphQLClient(gateway.url);
  const start = await browserGet(browser.jar, `${gateway.origin}/auth/sso/op?returnTo=${encodeURIComponent(returnTo)}`);
  expect(start.status).toBe(302);
  const callback = await op.signIn(start.headers.get('location')!, sub);
  return { browser, callbackUrl: atGateway(gateway, callback) };
}

function rows(gateway: TestGateway) {
  const { db } = gateway.handle;
  return {
    users: () => db.selectFrom('users').selectAll().execute(),
    sessions: () => db.selectFrom('sessions').selectAll().execute(),
    identities: () => db.selectFrom('sso_identities').selectAll().orderBy('created_at').execute(),
    pending: () => db.selectFrom('sso_pending_logins').selectAll().execute(),
  };
}

/** The security events of sign-ins and accounts (not those of the signing key created at start). */
function securityEvents(gateway: TestGateway): Record<string, unknown>[] {
  return gateway.logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.log === 'security' && !String(entry.event).startsWith('key.'));
}

/** The gateway's warnings about sign-ins the provider did not confirm, by what openid-client said. */
function rejections(gateway: TestGateway): string[] {
  return gateway.logs
    .map((line) => JSON.parse(line) as { msg?: string; err?: { message?: string } })
    .filter((entry) => entry.msg === 'sso: sign-in not confirmed by the provider')
    .map((entry) => entry.err?.message ?? '');
}

describe('single sign-on: browser flow', () => {
  it('redirects to the provider, completes at the callback with the auth cookies, and lands on returnTo', async ({ op, sso: gateway }) => {
    const returnTo = `${APP}/landing?tab=1`;
    const browser = new GraphQLClient(gateway.url);
    const start = await browserGet(browser.jar, `${gateway.origin}/auth/sso/op?returnTo=${encodeURIComponent(returnTo)}`);
    expect(start.status).toBe(302);
    const authorization = new URL(start.headers.get('location')!);
    expect(authorization.origin).toBe(op.origin);
    expect(Object.fromEntries(authorization.searchParams)).toMatchObject({
      client_id: 'gateway',
      response_type: 'code',
      redirect_uri: `${GATEWAY}/auth/sso/op/callback`,
      scope: 'openid profile email',
      code_challenge_method: 'S256',
    });
    for (const parameter of ['state', 'nonce', 'code_challenge']) expect(authorization.searchParams.get(parameter)).toMatch(/^[\w-]{43}$/);
    expect(start.headers.getSetCookie().join()).toContain(`${SSO_BINDING_COOKIE}=`);

    const callback = await op.signIn(authorization, ALICE.sub);
    const done = await browserGet(browser.jar, atGateway(gateway, callback));
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe(returnTo);
    expect(done.headers.get('referrer-policy')).toBe('no-referrer');
    const setCookies = done.headers.getSetCookie();
    // The cookies of a COOKIE-delivery login, and the binding cookie removed.
    expect(setCookies.find((c) => c.startsWith('refreshToken='))).toMatch(/HttpOnly.*SameSite=Strict|SameSite=Strict.*HttpOnly/);
    expect(setCookies.find((c) => c.startsWith('refreshToken='))).toContain('Path=/graphql');
    expect(setCookies.find((c) => c.startsWith('accessToken='))).toBeDefined();
    expect(setCookies.find((c) => c.startsWith(`${SSO_BINDING_COOKIE}=`))).toContain('Max-Age=0');

    // The page at returnTo is signed in through the cookies.
    const me = await browser.raw<{ me: { id: string; username: string; identities: { provider: string; subject: string; email: string }[] } }>(ME);
    expect(me.errors).toBeUndefined();
    expect(me.data!.me).toMatchObject({ username: 'alice', identities: [{ provider: 'op', subject: ALICE.sub, email: ALICE.email }] });
    const [user] = await rows(gateway).users();
    expect(user).toMatchObject({ id: me.data!.me.id, username: 'alice', password_hash: null });
    expect(await rows(gateway).sessions()).toHaveLength(1);
    expect(await rows(gateway).pending()).toEqual([]);
    expect(securityEvents(gateway).map((e) => [e.event, e.reason])).toEqual([['account.sso_registered', 'op']]);
    // Neither the code nor the state reaches the log (the request log redacts them).
    const logs = gateway.logs.join('\n');
    for (const secret of [callback.searchParams.get('code')!, callback.searchParams.get('state')!, CLIENT_SECRET]) expect(logs).not.toContain(secret);
  });

  it('refuses the callback without the binding cookie of the browser that started it (login CSRF), back to returnTo', async ({ op, sso: gateway }) => {
    const { callbackUrl } = await browserToCallback(gateway, op, ALICE.sub);
    // The attacker's completed sign-in, opened in the victim's browser.
    const victim = new GraphQLClient(gateway.url);
    const response = await browserGet(victim.jar, callbackUrl);
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`${APP}/home?sso_error=STATE_INVALID`);
    expect(response.headers.getSetCookie().some((c) => c.startsWith('refreshToken='))).toBe(false);
    expect(await rows(gateway).sessions()).toEqual([]);
    expect(await rows(gateway).users()).toEqual([]);
  });

  it('sends the browser back to returnTo with the reason when the user cancels at the provider', async ({ op, sso: gateway }) => {
    const browser = new GraphQLClient(gateway.url);
    const start = await browserGet(browser.jar, `${gateway.origin}/auth/sso/op?returnTo=${encodeURIComponent(`${APP}/home`)}`);
    const callback = await op.cancel(start.headers.get('location')!);
    expect(callback.searchParams.get('error')).toBe('access_denied');
    const response = await browserGet(browser.jar, atGateway(gateway, callback));
    expect([response.status, response.headers.get('location')]).toEqual([302, `${APP}/home?sso_error=REJECTED`]);
    expect(response.headers.getSetCookie().some((c) => c.startsWith('refreshToken='))).toBe(false);
    expect(await rows(gateway).users()).toEqual([]);
    expect(await rows(gateway).pending()).toEqual([]);
  });

  it('refuses a replayed callback and a tampered state: no session, no redirect', async ({ op, sso: gateway }) => {
    const { browser, callbackUrl } = await browserToCallback(gateway, op, ALICE.sub);
    const tampered = new URL(callbackUrl);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    const refused = await browserGet(browser.jar, tampered.href);
    expect(refused.status).toBe(400);
    expect(refused.headers.get('location')).toBeNull();
    expect(await refused.json()).toMatchObject({ error: { code: 'SSO_FAILED', reason: 'STATE_INVALID' } });

    // The genuine state is untouched by the tampered one, and completes once.
    expect((await browserGet(browser.jar, callbackUrl)).status).toBe(302);
    const replayed = await browserGet(browser.jar, callbackUrl);
    expect(replayed.status).toBe(400);
    expect(await replayed.json()).toMatchObject({ error: { code: 'SSO_FAILED', reason: 'STATE_INVALID' } });
    expect(replayed.headers.getSetCookie().some((c) => c.startsWith('refreshToken='))).toBe(false);
    expect(await rows(gateway).sessions()).toHaveLength(1);
    expect(securityEvents(gateway).map((e) => [e.event, e.reason])).toEqual([
      ['auth.sso.failed', 'op:STATE_INVALID'],
      ['account.sso_registered', 'op'],
      ['auth.sso.failed', 'op:STATE_INVALID'],
    ]);
  });

  it('refuses every returnTo outside SSO_RETURN_TO_ORIGINS before anything is stored (no open redirect)', async ({ sso: gateway }) => {
    const refused = [
      'https://evil.example/',
      '//evil.example/landing',
      '/landing',
      'javascript:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      `${APP}@evil.example/`,
      'http://evil.example\\@app.test/',
      'http://evil.example#@app.test/',
      'http://app.test.evil.example/',
      'http://user:pass@app.test/',
      'https://app.test/',
      'http://app.test:8080/',
      ' http://app.test/',
      'http://app.test/\r\nLocation: https://evil.example/',
      'http:\\\\evil.example',
      '',
    ];
    for (const returnTo of refused) {
      const response = await fetch(`${gateway.origin}/auth/sso/op?returnTo=${encodeURIComponent(returnTo)}`, { redirect: 'manual' });
      expect({ returnTo, status: response.status, location: response.headers.get('location') }).toEqual({ returnTo, status: 400, location: null });
      expect(await response.json()).toMatchObject({ error: { code: 'BAD_USER_INPUT', field: 'returnTo' } });
    }
    const missing = await fetch(`${gateway.origin}/auth/sso/op`, { redirect: 'manual' });
    expect(missing.status).toBe(400);
    // The same rule for the redirect URI of startSso.
    const client = new GraphQLClient(gateway.url);
    for (const redirectUri of refused) {
      const response = await client.raw(START_SSO, { provider: 'op', redirectUri });
      expect({ redirectUri, code: errorCode(response), field: response.errors?.[0]?.extensions?.field }).toEqual({
        redirectUri,
        code: 'BAD_USER_INPUT',
        field: 'redirectUri',
      });
    }
    // A redirect URI with a query: the token request could not repeat it.
    const withQuery = await client.raw(START_SSO, { provider: 'op', redirectUri: `${SPA_CALLBACK}?next=1` });
    expect([errorCode(withQuery), withQuery.errors?.[0]?.extensions?.field]).toEqual(['BAD_USER_INPUT', 'redirectUri']);
    expect(await rows(gateway).pending()).toEqual([]);
    const unknown = await fetch(`${gateway.origin}/auth/sso/nobody?returnTo=${encodeURIComponent(`${APP}/`)}`, { redirect: 'manual' });
    expect(unknown.status).toBe(404);
  });

  it('counts its routes against the limits of startSso and completeSso', async ({ op, startGateway }) => {
    const gateway = await startGateway({ env: ssoEnv({ op: op.issuer }, { RATE_LIMIT_CREDENTIALS_PER_SECOND: '1', RATE_LIMIT_CREDENTIALS_BURST: '2' }) });
    const url = `${gateway.origin}/auth/sso/op?returnTo=${encodeURIComponent(`${APP}/`)}`;
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(302);
    expect((await fetch(url, { redirect: 'manual' })).status).toBe(302);
    const limited = await fetch(url, { redirect: 'manual' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ error: { code: 'RATE_LIMITED', retryAfter: 1 } });
    expect(await rows(gateway).pending()).toHaveLength(2);
  });
});

describe('single sign-on: GraphQL flow', () => {
  it('lists the providers, and signs in with startSso and completeSso; the first sign-in creates the account', async ({ op, sso: gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const providers = await client.raw('{ ssoProviders { name displayName } }');
    expect(providers.data).toEqual({ ssoProviders: [{ name: 'op', displayName: 'Op' }] });

    const first = await signInWithSso(gateway, op, ALICE.sub);
    expect(first.refreshToken).toEqual(expect.any(String));
    expect(first.user).toMatchObject({ username: 'alice', identities: [{ provider: 'op', subject: ALICE.sub, email: ALICE.email }] });
    const me = await new GraphQLClient(gateway.url, { authorization: `Bearer ${first.accessToken}` }).raw<{ me: { id: string } }>(ME);
    expect(me.data!.me.id).toBe(first.user.id);

    // Again: the same account, a new session.
    const second = await signInWithSso(gateway, op, ALICE.sub);
    expect(second.user.id).toBe(first.user.id);
    expect(second.session.id).not.toBe(first.session.id);
    expect(await rows(gateway).users()).toHaveLength(1);
    expect(securityEvents(gateway).map((e) => [e.event, e.userId, e.reason])).toEqual([
      ['account.sso_registered', first.user.id, 'op'],
      ['auth.sso.succeeded', first.user.id, 'op'],
    ]);
    for (const secret of [CLIENT_SECRET, first.refreshToken!, first.accessToken]) expect(gateway.logs.join('\n')).not.toContain(secret);
  });

  it('delivers the refresh token as a cookie by default, as login does', async ({ op, sso: gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const callback = await op.signIn(await startSso(client), ALICE.sub);
    const response = await client.raw<CompletedSso>(COMPLETE_SSO, { provider: 'op', ...answerOf(callback) });
    expect(response.errors).toBeUndefined();
    expect(response.data!.completeSso.refreshToken).toBeNull();
    expect(await client.cookie('refreshToken')).toEqual(expect.any(String));
  });

  it('derives a username from the claims, within the username rules, unique with a suffix', async ({ op, sso: gateway }) => {
    await register(gateway, 'alice');
    const alice = await signInWithSso(gateway, op, ALICE.sub);
    expect(alice.user.username).toMatch(/^alice_\d{4}$/);
    // No preferred_username: the email's local part.
    expect((await signInWithSso(gateway, op, BOB.sub)).user.username).toBe('bob.builder');
    // Only a name: accents dropped, spaces as "_".
    expect((await signInWithSso(gateway, op, ZOE.sub)).user.username).toBe('Zoe_Unicode');
  });

  it('never links to an existing account because the email matches: a new account is created', async ({ op, sso: gateway }) => {
    const existing = await register(gateway, 'alice_pw');
    // The existing account holds the same address, verified.
    await gateway.handle.db
      .updateTable('users')
      .set({ email: ALICE.email, email_key: ALICE.email, email_verified_at: gateway.clock.now() })
      .where('id', '=', existing.user.id)
      .execute();
    const signedIn = await signInWithSso(gateway, op, ALICE.sub);
    expect(signedIn.user.id).not.toBe(existing.user.id);
    const identities = await rows(gateway).identities();
    expect(identities.map((i) => i.user_id)).toEqual([signedIn.user.id]);
    const me = await existing.client.raw<{ me: { identities: unknown[] } }>(ME);
    expect(me.data!.me.identities).toEqual([]);
  });

  it('refuses a tampered state and a replayed completion', async ({ op, sso: gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const answer = answerOf(await op.signIn(await startSso(client), ALICE.sub));
    const tampered = await completeSso(client, { ...answer, state: `${answer.state.slice(0, -1)}${answer.state.endsWith('A') ? 'B' : 'A'}` });
    expect([errorCode(tampered), errorReason(tampered)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);
    expect((await completeSso(client, answer)).errors).toBeUndefined();
    const replayed = await completeSso(client, answer);
    expect([errorCode(replayed), errorReason(replayed)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);
    expect(await rows(gateway).sessions()).toHaveLength(1);
  });

  it('refuses a state started for another provider or purpose', async ({ op, sso: gateway }) => {
    const client = new GraphQLClient(gateway.url);
    // A browser flow's state, completed over GraphQL.
    const browser = new GraphQLClient(gateway.url);
    const start = await browserGet(browser.jar, `${gateway.origin}/auth/sso/op?returnTo=${encodeURIComponent(`${APP}/`)}`);
    const browserAnswer = answerOf(await op.signIn(start.headers.get('location')!, ALICE.sub));
    const refused = await completeSso(client, browserAnswer);
    expect([errorCode(refused), errorReason(refused)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);
    // A sign-in's state, at an unknown provider name.
    const answer = answerOf(await op.signIn(await startSso(client), ALICE.sub));
    const unknown = await completeSso(client, answer, 'nobody');
    expect([errorCode(unknown), unknown.errors?.[0]?.extensions?.field]).toEqual(['BAD_USER_INPUT', 'provider']);
    expect(await rows(gateway).sessions()).toEqual([]);
  });

  it('refuses an ID token whose nonce is not the one sent (the stored nonce tampered)', async ({ op, sso: gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const answer = answerOf(await op.signIn(await startSso(client), ALICE.sub));
    await gateway.handle.db.updateTable('sso_pending_logins').set({ nonce: 'not-the-nonce-the-provider-saw' }).execute();
    const response = await completeSso(client, answer);
    expect([errorCode(response), errorReason(response)]).toEqual(['SSO_FAILED', 'REJECTED']);
    expect(rejections(gateway)).toEqual([expect.stringContaining('"nonce"')]);
    expect(await rows(gateway).users()).toEqual([]);
    expect(await rows(gateway).sessions()).toEqual([]);
    expect(securityEvents(gateway).map((e) => [e.event, e.reason])).toEqual([['auth.sso.failed', 'op:REJECTED']]);
  });

  it('refuses a pending sign-in once 10 minutes have passed', async ({ op, sso: gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const inTime = answerOf(await op.signIn(await startSso(client), ALICE.sub));
    const late = answerOf(await op.signIn(await startSso(client), ALICE.sub));
    gateway.clock.advance(10 * 60_000 - 1);
    expect((await completeSso(client, inTime)).errors).toBeUndefined();
    gateway.clock.advance(1);
    const expired = await completeSso(client, late);
    expect([errorCode(expired), errorReason(expired)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);
    expect(await rows(gateway).sessions()).toHaveLength(1);
    // Expired rows go at the next start.
    await startSso(client);
    expect(await rows(gateway).pending()).toHaveLength(1);
  });

  it('refuses an ID token from another issuer: provider metadata naming another issuer than the tokens (mix-up)', async ({ op, relays, startGateway }) => {
    // A proxy presents the provider as its own: its metadata names it the issuer, while the
    // tokens (and the `iss` parameter) come from the provider behind it.
    const relay = await relays();
    relay.forwardTo(op.origin);
    const gateway = await startGateway({ env: ssoEnv({ mixup: relay.origin }) });
    const client = new GraphQLClient(gateway.url);

    // With the provider's own `iss` parameter: refused before the code is even exchanged.
    const withIss = answerOf(await op.signIn(await startSso(client, 'mixup'), ALICE.sub));
    expect(withIss.iss).toBe(op.issuer);
    const refusedEarly = await completeSso(client, withIss, 'mixup');
    expect([errorCode(refusedEarly), errorReason(refusedEarly)]).toEqual(['SSO_FAILED', 'REJECTED']);
    // Without it: the code is exchanged, and the ID token's `iss` refused.
    const withoutIss = answerOf(await op.signIn(await startSso(client, 'mixup'), ALICE.sub));
    const refused = await completeSso(client, { ...withoutIss, iss: null }, 'mixup');
    expect([errorCode(refused), errorReason(refused)]).toEqual(['SSO_FAILED', 'REJECTED']);
    expect(rejections(gateway)).toEqual([expect.stringContaining('"iss" (issuer) response parameter'), expect.stringContaining('"iss" (issuer) claim')]);
    expect(await rows(gateway).users()).toEqual([]);
    expect(await rows(gateway).sessions()).toEqual([]);
  });

  it('refuses an ID token issued to another client (another audience)', async ({ relays, startGateway }) => {
    // A provider behind a relay that exchanges the gateway's client for another application's,
    // in the authorization request and at the token endpoint: the ID token is that application's.
    const relay = await relays();
    const provider = await startTestOidcProvider({ issuer: relay.origin, clients: [GATEWAY_CLIENT, OTHER_CLIENT], accounts: ACCOUNTS });
    try {
      relay.forwardTo(provider.origin, { swapClient: { from: 'gateway', to: OTHER_CLIENT } });
      const gateway = await startGateway({ env: ssoEnv({ other: relay.origin }) });
      const client = new GraphQLClient(gateway.url);
      const answer = answerOf(await provider.signIn(await startSso(client, 'other'), ALICE.sub));
      const refused = await completeSso(client, answer, 'other');
      expect([errorCode(refused), errorReason(refused)]).toEqual(['SSO_FAILED', 'REJECTED']);
      expect(rejections(gateway)).toEqual([expect.stringContaining('"aud" (audience) claim')]);
      expect(await rows(gateway).sessions()).toEqual([]);
    } finally {
      await provider.close();
    }
  });

  it('answers PROVIDER_UNAVAILABLE (503) when the provider is down, at the start or at the completion, and starts no session', async ({ op, startGateway }) => {
    const down = await startTestOidcProvider({ clients: [GATEWAY_CLIENT], accounts: ACCOUNTS });
    await down.close();
    const gateway = await startGateway({ env: ssoEnv({ op: op.issuer, down: down.issuer }) });
    const client = new GraphQLClient(gateway.url);
    // Discovery fails: the start is refused, clearly, and the gateway itself keeps running.
    const start = await client.raw(START_SSO, { provider: 'down', redirectUri: SPA_CALLBACK });
    expect([start.status, errorCode(start), errorReason(start)]).toEqual([503, 'SSO_FAILED', 'PROVIDER_UNAVAILABLE']);
    const browserStart = await fetch(`${gateway.origin}/auth/sso/down?returnTo=${encodeURIComponent(`${APP}/`)}`, { redirect: 'manual' });
    expect(browserStart.status).toBe(503);
    expect(await browserStart.json()).toMatchObject({ error: { code: 'SSO_FAILED', reason: 'PROVIDER_UNAVAILABLE' } });

    // The provider goes down between the start and the completion: the code cannot be exchanged.
    const answer = answerOf(await op.signIn(await startSso(client), ALICE.sub));
    await op.close();
    const completion = await completeSso(client, answer);
    expect([completion.status, errorCode(completion), errorReason(completion)]).toEqual([503, 'SSO_FAILED', 'PROVIDER_UNAVAILABLE']);
    expect(await rows(gateway).users()).toEqual([]);
    expect(await rows(gateway).sessions()).toEqual([]);
    expect(await rows(gateway).pending()).toEqual([]);
  });
});

describe('single sign-on: linking', () => {
  it("links an identity to the signed-in user's account only, after which it signs in there", async ({ op, sso: gateway }) => {
    const bob = await register(gateway, 'bob');
    const anonymous = new GraphQLClient(gateway.url);
    const anonymousLink = await anonymous.raw(START_SSO, { provider: 'op', redirectUri: SPA_CALLBACK, intent: 'LINK' });
    expect(errorCode(anonymousLink)).toBe('UNAUTHENTICATED');

    const answer = answerOf(await op.signIn(await startSso(bob.client, 'op', 'LINK'), BOB.sub));
    const linked = await bob.client.raw<{ linkSsoIdentity: { provider: string; subject: string; email: string } }>(LINK_SSO, { provider: 'op', ...answer });
    expect(linked.errors).toBeUndefined();
    expect(linked.data!.linkSsoIdentity).toMatchObject({ provider: 'op', subject: BOB.sub, email: BOB.email });
    const me = await bob.client.raw<{ me: { identities: { subject: string }[] } }>(ME);
    expect(me.data!.me.identities).toEqual([expect.objectContaining({ provider: 'op', subject: BOB.sub })]);

    const signedIn = await signInWithSso(gateway, op, BOB.sub);
    expect(signedIn.user.id).toBe(bob.user.id);
    expect(await rows(gateway).users()).toHaveLength(1);
    expect(securityEvents(gateway).map((e) => e.event)).toEqual(['account.registered', 'account.sso_linked', 'auth.sso.succeeded']);
  });

  it("refuses a link state at completeSso, a sign-in state at linkSsoIdentity, and another user's link state", async ({ op, sso: gateway }) => {
    const bob = await register(gateway, 'bob');
    const carol = await register(gateway, 'carol');
    const linkAnswer = answerOf(await op.signIn(await startSso(bob.client, 'op', 'LINK'), BOB.sub));
    const asSignIn = await completeSso(new GraphQLClient(gateway.url), linkAnswer);
    expect([errorCode(asSignIn), errorReason(asSignIn)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);

    const signInAnswer = answerOf(await op.signIn(await startSso(bob.client), BOB.sub));
    const asLink = await bob.client.raw(LINK_SSO, { provider: 'op', ...signInAnswer });
    expect([errorCode(asLink), errorReason(asLink)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);

    const bobsLink = answerOf(await op.signIn(await startSso(bob.client, 'op', 'LINK'), BOB.sub));
    const byCarol = await carol.client.raw(LINK_SSO, { provider: 'op', ...bobsLink });
    expect([errorCode(byCarol), errorReason(byCarol)]).toEqual(['SSO_FAILED', 'STATE_INVALID']);
    expect(await rows(gateway).identities()).toEqual([]);
  });

  it('refuses to link an identity that belongs to another account, or a second identity at one provider', async ({ op, sso: gateway }) => {
    const owner = await signInWithSso(gateway, op, ALICE.sub);
    const bob = await register(gateway, 'bob');
    const taken = await bob.client.raw(LINK_SSO, { provider: 'op', ...answerOf(await op.signIn(await startSso(bob.client, 'op', 'LINK'), ALICE.sub)) });
    expect([errorCode(taken), errorReason(taken)]).toEqual(['SSO_FAILED', 'IDENTITY_TAKEN']);
    const ownerClient = new GraphQLClient(gateway.url, { authorization: `Bearer ${owner.accessToken}` });
    const second = await ownerClient.raw(LINK_SSO, { provider: 'op', ...answerOf(await op.signIn(await startSso(ownerClient, 'op', 'LINK'), BOB.sub)) });
    expect([errorCode(second), errorReason(second)]).toEqual(['SSO_FAILED', 'ALREADY_LINKED']);
    expect((await rows(gateway).identities()).map((i) => [i.subject, i.user_id])).toEqual([[ALICE.sub, owner.user.id]]);
  });

  it('refuses to unlink the last way to sign in; unlinks when a password or a verified email remains', async ({ op, sso: gateway }) => {
    const ssoOnly = await signInWithSso(gateway, op, ALICE.sub);
    const client = new GraphQLClient(gateway.url, { authorization: `Bearer ${ssoOnly.accessToken}` });
    const refused = await client.raw(UNLINK_SSO, { provider: 'op' });
    expect([errorCode(refused), errorReason(refused)]).toEqual(['BAD_USER_INPUT', 'LAST_SIGN_IN_METHOD']);
    expect(await rows(gateway).identities()).toHaveLength(1);
    const missing = await client.raw(UNLINK_SSO, { provider: 'nobody' });
    expect(errorCode(missing)).toBe('NOT_FOUND');

    // A verified address signs in with email codes: it is a way in.
    await gateway.handle.db
      .updateTable('users')
      .set({ email: ALICE.email, email_key: ALICE.email, email_verified_at: gateway.clock.now() })
      .where('id', '=', ssoOnly.user.id)
      .execute();
    expect((await client.raw(UNLINK_SSO, { provider: 'op' })).data).toEqual({ unlinkSsoIdentity: true });

    const bob = await register(gateway, 'bob');
    await bob.client.raw(LINK_SSO, { provider: 'op', ...answerOf(await op.signIn(await startSso(bob.client, 'op', 'LINK'), BOB.sub)) });
    expect((await bob.client.raw(UNLINK_SSO, { provider: 'op' })).data).toEqual({ unlinkSsoIdentity: true });
    expect(await rows(gateway).identities()).toEqual([]);
    // Unlinked, the identity signs in to a new account of its own.
    expect((await signInWithSso(gateway, op, BOB.sub)).user.id).not.toBe(bob.user.id);
    expect(
      securityEvents(gateway)
        .filter((e) => e.event === 'account.sso_unlinked')
        .map((e) => [e.userId, e.reason]),
    ).toEqual([
      [ssoOnly.user.id, 'op'],
      [bob.user.id, 'op'],
    ]);
  });

  it('deletes the identities and links in progress with the account', async ({ op, sso: gateway }) => {
    const bob = await register(gateway, 'bob');
    const answer = answerOf(await op.signIn(await startSso(bob.client, 'op', 'LINK'), BOB.sub));
    await bob.client.raw(LINK_SSO, { provider: 'op', ...answer });
    await startSso(bob.client, 'op', 'LINK');
    expect(await rows(gateway).identities()).toHaveLength(1);
    expect(await rows(gateway).pending()).toHaveLength(1);
    const deleted = await bob.client.raw('mutation($p: String!) { deleteAccount(password: $p) }', { p: PASSWORD });
    expect(deleted.errors).toBeUndefined();
    expect(await rows(gateway).identities()).toEqual([]);
    expect(await rows(gateway).pending()).toEqual([]);
  });
});

describe('single sign-on: configuration', () => {
  const base = {
    SSO_PROVIDERS: 'keycloak',
    SSO_KEYCLOAK_ISSUER: 'https://sso.example/realms/main',
    SSO_KEYCLOAK_CLIENT_ID: 'gateway',
    SSO_KEYCLOAK_CLIENT_SECRET: CLIENT_SECRET,
  };

  test('reads each provider, with documented defaults, and never shows the client secret', () => {
    const config = loadConfig({ ...base, ALLOWED_ORIGINS: 'https://app.example', JWT_ISSUER: 'https://auth.example/' });
    expect(config.sso).toMatchObject({
      providers: [{ name: 'keycloak', displayName: 'Keycloak', issuer: base.SSO_KEYCLOAK_ISSUER, clientId: 'gateway', scopes: ['openid', 'profile', 'email'] }],
      // SSO_RETURN_TO_ORIGINS defaults to ALLOWED_ORIGINS, the callback base to JWT_ISSUER; the
      // gateway's own origin (its /account page) is always among the return origins.
      returnToOrigins: ['https://app.example', 'https://auth.example'],
      callbackBaseUrl: 'https://auth.example',
    });
    expect(config.sso.providers[0]!.clientSecret.reveal()).toBe(CLIENT_SECRET);
    for (const shown of [
      JSON.stringify(config),
      inspect(config, { depth: null }),
      String(config.sso.providers[0]!.clientSecret),
      `${config.sso.providers[0]!.clientSecret}`,
    ]) {
      expect(shown).not.toContain(CLIENT_SECRET);
    }
    expect(loadConfig({}).sso.providers).toEqual([]);
  });

  test.for([
    [{ SSO_KEYCLOAK_ISSUER: '' }, 'SSO_KEYCLOAK_ISSUER'],
    [{ SSO_KEYCLOAK_ISSUER: 'not a url' }, 'SSO_KEYCLOAK_ISSUER'],
    [{ SSO_KEYCLOAK_CLIENT_ID: '' }, 'SSO_KEYCLOAK_CLIENT_ID'],
    [{ SSO_KEYCLOAK_CLIENT_SECRET: '' }, 'SSO_KEYCLOAK_CLIENT_SECRET'],
    [{ SSO_KEYCLOAK_SCOPES: 'profile email' }, 'SSO_KEYCLOAK_SCOPES'],
    [{ SSO_PROVIDERS: 'keycloak,keycloak' }, 'SSO_PROVIDERS'],
    [{ SSO_PROVIDERS: 'key-cloak' }, 'SSO_PROVIDERS'],
    [{ SSO_RETURN_TO_ORIGINS: 'https://app.example/path' }, 'SSO_RETURN_TO_ORIGINS'],
    [{ SSO_CALLBACK_BASE_URL: 'https://auth.example/?x=1' }, 'SSO_CALLBACK_BASE_URL'],
    [
      { NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: 'k3Jx9f0Q2mZp7Lw4Vt8Rb1Nc6Yh5Ds0Ge2Ua9Ki', SSO_KEYCLOAK_ISSUER: 'http://sso.example' },
      'SSO_KEYCLOAK_ISSUER',
    ],
  ] as const)('refuses %o, naming %s, without quoting the secret', ([change, variable]) => {
    const error = configError({ ...base, ...change });
    expect(error.variable).toBe(variable);
    expect(error.message).not.toContain(CLIENT_SECRET);
  });
});
