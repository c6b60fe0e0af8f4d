import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { buildAccountPage, DEFAULT_ACCOUNT_PAGE_OUTDIR } from '../account/build.js';
import { MeDocument } from '../client/src/operations.js';
import { ACCOUNT_PAGE_CONTENT_SECURITY_POLICY } from '../src/plugins/use-account-page.js';
import { GRAPHIQL_CONTENT_SECURITY_POLICY } from '../src/plugins/use-local-graphiql.js';
import {
  chromiumInstalled,
  CHROMIUM_PATH,
  launchChromium,
  observeSockets,
  openPage,
  type PageProblems,
  screenshot,
  serveAccountPageElsewhere,
} from './helpers/browser.js';
import { describe, expect, PASSWORD, signIn, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { otherCode, startEmailGateway, verifiedAccount } from './helpers/email-accounts.js';
import type { TestGateway } from './helpers/test-gateway.js';

// The account page and GraphiQL in a real browser: Debian's Chromium driven by playwright-core.
// The page is built (npm run build's step) once for the file, into dist/account where the
// gateway serves it from.

const available = chromiumInstalled();
if (!available) console.warn(`account-page browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);

const NEW_PASSWORD = 'a longer passphrase, changed';

let browser: Browser;

/** Waits for the view whose <h1> is `name`. */
async function view(page: Page, name: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

/** expect.poll with room for a loaded machine: the browser, the gateway and argon2 share two cores in CI. */
function poll<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: 20_000, interval: 50 });
}

async function focusedId(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.activeElement?.id);
}

/** Console errors other than the network log Chrome writes for every 4xx answer (a refused refresh on load is one). */
function unexpected(problems: PageProblems): string[] {
  return problems.errors.filter((error) => !error.startsWith('Failed to load resource'));
}

async function registerOnPage(page: Page, username: string): Promise<void> {
  const form = page.locator('form[name="register"]');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create account' }).click();
  await view(page, 'Profile');
}

/** The live sessions of the account, and those revoked for refresh-token reuse. */
async function sessionsOf(gateway: TestGateway, username: string): Promise<{ live: number; reused: number }> {
  const rows = await gateway.handle.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.revoked_at', 'sessions.revoked_reason'])
    .where('users.username', '=', username)
    .execute();
  return { live: rows.filter((row) => row.revoked_at === null).length, reused: rows.filter((row) => row.revoked_reason === 'REFRESH_TOKEN_REUSED').length };
}

describe.skipIf(!available)('the account page in Chromium', () => {
  const contexts: BrowserContext[] = [];
  const newContext = async (options?: Parameters<Browser['newContext']>[0]): Promise<BrowserContext> => {
    const context = await browser.newContext(options);
    contexts.push(context);
    return context;
  };

  beforeAll(async () => {
    await buildAccountPage();
    browser = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    for (const context of contexts) await context.close();
    await browser?.close();
  });

  test('signs in, shows the profile, devices and tokens, changes the password and signs out, by mouse and keyboard', async ({ startGateway }) => {
    const gateway = await startGateway();
    const context = await newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gateway.origin });
    const { page, problems } = await openPage(context);
    const sockets = observeSockets(page);

    const response = await page.goto(`${gateway.origin}/account`);
    expect(response?.headers()['content-security-policy']).toBe(ACCOUNT_PAGE_CONTENT_SECURITY_POLICY);
    await view(page, 'Sign in or create an account');
    // The first field has the focus, for a keyboard user to type at once.
    await poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('username');
    await screenshot(page, '1-sign-in');

    // A wrong password is said in words, on the field it is about.
    const signInForm = page.locator('form[name="sign-in"]');
    await signInForm.getByLabel('Username').fill('alice');
    await signInForm.getByLabel('Password').fill('not the password');
    await signInForm.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => signInForm.getByRole('alert').textContent()).toBe('Wrong username or password.');
    expect(await signInForm.getByLabel('Password').getAttribute('aria-invalid')).toBe('true');

    await registerOnPage(page, 'alice');
    await poll(() => focusedId(page)).toBe('view-heading');
    expect(await page.locator('#profile-username').textContent()).toBe('alice');
    expect(await page.locator('#signed-in-user').textContent()).toBe('alice');
    await screenshot(page, '2-profile');

    await page.getByLabel('New username').fill('alice-renamed');
    await page.getByRole('button', { name: 'Change username' }).click();
    await poll(() => page.locator('#profile-username').textContent()).toBe('alice-renamed');

    // Devices: this one marked; another device's sign-in arrives live; revoking it ends its session.
    await page.getByRole('link', { name: 'Devices' }).click();
    await view(page, 'Devices');
    expect(await page.getByRole('link', { name: 'Devices' }).getAttribute('aria-current')).toBe('page');
    await poll(() => page.locator('li.device').count()).toBe(1);
    expect(await page.locator('li.device.current .badge').textContent()).toBe('This device');
    await poll(() => page.locator('ol.activity li').count()).toBe(0);
    // The subscription is open before the other device signs in (an event before it would be lost).
    await poll(() => sockets.at(-1)?.subscribed === true && sockets.at(-1)?.acknowledged === true).toBe(true);
    const other = await signIn(gateway, 'alice-renamed', { deviceName: 'Build server', userAgent: 'build-bot/1.0' });
    await poll(() => page.locator('li.device').count()).toBe(2);
    await poll(() => page.locator('ol.activity li').count()).toBe(1);
    await screenshot(page, '3-devices');
    await page.getByRole('button', { name: 'Sign out Build server' }).click();
    await poll(() => page.locator('li.device').count()).toBe(1);
    const refused = await other.client.request(MeDocument);
    expect([errorCode(refused), errorReason(refused)]).toEqual(['UNAUTHENTICATED', 'SESSION_REVOKED']);

    // Tokens: the secret is shown once, copies, works, and is gone from the page after "Done".
    await page.getByRole('link', { name: 'Access tokens' }).click();
    await view(page, 'Access tokens');
    await page.getByLabel('Name', { exact: true }).fill('deploy script');
    await page.getByLabel(/^sessions:read/).check();
    await page.getByLabel('Other scopes').fill('orders:read');
    await page.getByLabel('Expires after').selectOption('7');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByRole('heading', { name: 'Your new token “deploy script”' }).waitFor();
    await poll(() => focusedId(page)).toBe('secret-heading');
    const secret = await page.getByLabel('Token', { exact: true }).inputValue();
    await page.getByRole('button', { name: 'Copy' }).click();
    await poll(() => page.locator('#view').getByText('Copied.').count()).toBe(1);
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: 'deploy script' }) });
    expect(await row.locator('td').first().textContent()).toBe('profile:read, sessions:read, orders:read');
    await screenshot(page, '4-tokens');
    const withToken = new GraphQLClient(gateway.url, { authorization: `Bearer ${secret}` });
    expect((await withToken.request(MeDocument)).data?.me.username).toBe('alice-renamed');
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(secret);
    await page.getByRole('button', { name: 'Revoke deploy script' }).click();
    await page.locator('#view').getByText('You have no access tokens.').waitFor();
    expect(errorCode(await withToken.request(MeDocument))).toBe('UNAUTHENTICATED');

    // Password: a mismatch is caught on the page; a change keeps this device signed in.
    await page.getByRole('link', { name: 'Password' }).click();
    await view(page, 'Password');
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill(`${NEW_PASSWORD}!`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await poll(() => page.getByRole('alert').textContent()).toBe('The two new passwords differ.');
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#view').getByText('Password changed.').waitFor();
    await screenshot(page, '5-password');

    // A reload resumes the session from the cookie.
    await page.reload();
    await view(page, 'Password');

    // Sign out, then back in by keyboard alone: type, Tab, type, Enter.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await view(page, 'Sign in or create an account');
    await page.locator('#view').getByText('You are signed out.').waitFor();
    await poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('username');
    await page.keyboard.type('alice-renamed');
    await page.keyboard.press('Tab');
    await page.keyboard.type(NEW_PASSWORD);
    await page.keyboard.press('Enter');
    await view(page, 'Profile');

    // Sign out everywhere ends every session of the account.
    await signIn(gateway, 'alice-renamed', { password: NEW_PASSWORD, deviceName: 'Laptop' });
    await page.getByRole('link', { name: 'Devices' }).click();
    await view(page, 'Devices');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await view(page, 'Sign in or create an account');
    expect((await sessionsOf(gateway, 'alice-renamed')).live).toBe(0);

    expect(unexpected(problems)).toEqual([]);
  }, 180_000);

  test('two tabs refreshing at the same moment end with one live session and no reuse revocation', async ({ startGateway }) => {
    // Without a reuse grace, a refresh token presented twice revokes its session at once: only
    // the SDK's cross-tab lock keeps the two tabs from doing so.
    const gateway = await startGateway({ env: { REFRESH_REUSE_GRACE_SECONDS: '0', ACCESS_TOKEN_TTL_SECONDS: '60' } });
    const context = await newContext();
    await context.clock.install();
    const first = await openPage(context);
    await first.page.goto(`${gateway.origin}/account`);
    await view(first.page, 'Sign in or create an account');
    await registerOnPage(first.page, 'bob');
    const second = await openPage(context);
    // The second tab resumes the session from the shared cookie (one rotation, handed to the first tab).
    await second.page.goto(`${gateway.origin}/account#profile`);
    await view(second.page, 'Profile');

    // Both tabs' timers are due at 80 % of the token's lifetime: both fire now, each page's
    // clock moved at once (a context's clock moves its pages one after the other, and the first
    // tab's broadcast would reach the second before its timer fired).
    gateway.clock.advance(50_000);
    const refreshes = [first.page, second.page].map((page) =>
      page.waitForResponse((answer) => (answer.request().postData() ?? '').includes('mutation Refresh')),
    );
    await Promise.all([first.page.clock.fastForward(50_000), second.page.clock.fastForward(50_000)]);
    await Promise.any(refreshes);
    // Each tab then uses the session: a request after the refresh, answered with the devices
    // (a tab signed out by reuse detection would show the sign-in form instead).
    const shown = await Promise.all(
      [first.page, second.page].map(async (page) => {
        await page.evaluate(() => {
          window.location.hash = 'devices';
        });
        await page.locator('li.device.current, form[name="sign-in"]').first().waitFor();
        return page.locator('h1').textContent();
      }),
    );
    expect(shown).toEqual(['Devices', 'Devices']);
    expect(await sessionsOf(gateway, 'bob')).toEqual({ live: 1, reused: 0 });
    expect(unexpected(first.problems)).toEqual([]);
    expect(unexpected(second.problems)).toEqual([]);
  }, 120_000);

  test('with 10 s access tokens, stays signed in across several expiries and keeps its subscription delivering', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { ACCESS_TOKEN_TTL_SECONDS: '10' } });
    const context = await newContext();
    await context.clock.install();
    const { page, problems } = await openPage(context);
    const sockets = observeSockets(page);
    await page.goto(`${gateway.origin}/account#devices`);
    await view(page, 'Sign in or create an account');
    await registerOnPage(page, 'carol');
    await page.getByRole('link', { name: 'Devices' }).click();
    await view(page, 'Devices');

    // Four times 8.5 s, on the gateway's clock and the page's: the page refreshes at 8 s each
    // time, and its WebSocket's token expires twice on the way; each time the gateway closes it
    // (4403) and the SDK reconnects with a fresh token.
    for (let cycle = 1; cycle <= 4; cycle += 1) {
      const refreshed = page.waitForResponse((answer) => (answer.request().postData() ?? '').includes('mutation Refresh'));
      gateway.clock.advance(8_500);
      await context.clock.fastForward(8_500);
      await refreshed;
      // The connection that will carry the next event: acknowledged, subscribed, and with a
      // token the gateway has not yet expired (else its sweep may close it under the event).
      await poll(() => {
        const latest = sockets.at(-1);
        return latest !== undefined && !latest.closed && latest.acknowledged && latest.subscribed && (latest.tokenExpiresAt ?? 0) > gateway.clock.now();
      }).toBe(true);
      await signIn(gateway, 'carol', { deviceName: `Phone ${cycle}` });
      await poll(() => page.locator('ol.activity li').count()).toBe(cycle);
    }
    await poll(() => page.locator('li.device').count()).toBe(5);
    expect(await page.locator('h1').textContent()).toBe('Devices');
    // The subscription outlived its connections: the gateway closed the two whose tokens expired
    // (at 17 s and 34 s, or at 17 s and 25.5 s) and the page reconnected each time.
    expect(sockets.length).toBeGreaterThanOrEqual(3);
    expect(sockets.slice(0, -1).every((socket) => socket.closed)).toBe(true);
    expect((await sessionsOf(gateway, 'carol')).live).toBe(5);
    expect(unexpected(problems)).toEqual([]);
  }, 180_000);

  test('works from another origin listed in ALLOWED_ORIGINS on the same site, and says why cookie sign-in fails across sites or origins', async ({
    startGateway,
  }) => {
    const host = await serveAccountPageElsewhere(DEFAULT_ACCOUNT_PAGE_OUTDIR);
    const stranger = await serveAccountPageElsewhere(DEFAULT_ACCOUNT_PAGE_OUTDIR);
    const pagePort = host.port;
    try {
      const gateway = await startGateway({ env: { ALLOWED_ORIGINS: `http://127.0.0.1:${pagePort},http://localhost:${pagePort}` } });
      host.useGateway(gateway.url);
      stranger.useGateway(gateway.url);

      // Same site (127.0.0.1), another origin, listed: everything works, the WebSocket too.
      const allowed = await openPage(await newContext());
      await allowed.page.goto(`http://127.0.0.1:${pagePort}/account`);
      await view(allowed.page, 'Sign in or create an account');
      await registerOnPage(allowed.page, 'dave');
      await allowed.page.getByRole('link', { name: 'Devices' }).click();
      await view(allowed.page, 'Devices');
      await poll(() => allowed.page.locator('li.device.current').count()).toBe(1);
      await signIn(gateway, 'dave', { deviceName: 'Tablet' });
      await poll(() => allowed.page.locator('ol.activity li').count()).toBe(1);
      expect(unexpected(allowed.problems)).toEqual([]);

      // Another site (localhost against 127.0.0.1), listed: CORS lets the answers through, but
      // the SameSite cookies never come back. The page says so instead of failing silently.
      const crossSite = await openPage(await newContext());
      await crossSite.page.goto(`http://localhost:${pagePort}/account`);
      await view(crossSite.page, 'Sign in or create an account');
      const crossSiteForm = crossSite.page.locator('form[name="register"]');
      await crossSiteForm.getByLabel('Username').fill('erin');
      await crossSiteForm.getByLabel('Password').fill(PASSWORD);
      await crossSiteForm.getByRole('button', { name: 'Create account' }).click();
      await crossSite.page.locator('#view').getByText('Cookie sign-in needs this page and the gateway on the same site').waitFor();

      // An origin not listed: the browser refuses the gateway's answers.
      const refused = await openPage(await newContext());
      await refused.page.goto(`http://127.0.0.1:${stranger.port}/account`);
      await view(refused.page, 'Sign in or create an account');
      const form = refused.page.locator('form[name="register"]');
      await form.getByLabel('Username').fill('frank');
      await form.getByLabel('Password').fill(PASSWORD);
      await form.getByRole('button', { name: 'Create account' }).click();
      await poll(() => form.getByRole('alert').textContent()).toBe('Cannot reach the gateway. Check the connection and try again.');
    } finally {
      await host.close();
      await stranger.close();
    }
  }, 180_000);

  test('signs in with a code mailed to a verified address; a wrong code is said in words', async () => {
    const gateway = await startEmailGateway();
    try {
      const email = 'carol@example.com';
      await verifiedAccount(gateway, 'carol', email);
      const { page, problems } = await openPage(await newContext());
      await page.goto(`${gateway.origin}/account`);
      await view(page, 'Sign in or create an account');
      // No provider is configured: no single-sign-on card.
      expect(await page.getByRole('heading', { name: 'Single sign-on' }).isVisible()).toBe(false);

      await page.locator('form[name="email-address"]').getByLabel('Email address').fill(email);
      await page.getByRole('button', { name: 'Send me a code' }).click();
      const codeForm = page.locator('form[name="email-code"]');
      await codeForm.waitFor();
      await poll(() => page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe('code');
      const { code } = await gateway.smtp.mailTo(email);
      await codeForm.getByLabel('Code').fill(otherCode(code!));
      await codeForm.getByRole('button', { name: 'Sign in with the code' }).click();
      await poll(() => codeForm.getByRole('alert').textContent()).toBe('That code is wrong or no longer valid. Ask for a new one.');
      await screenshot(page, '6-email-code');

      await codeForm.getByLabel('Code').fill(code!);
      await codeForm.getByRole('button', { name: 'Sign in with the code' }).click();
      await view(page, 'Profile');
      expect(await page.locator('#profile-username').textContent()).toBe('carol');
      expect(unexpected(problems)).toEqual([]);
    } finally {
      await gateway.close();
    }
  });

  test('offers a link per single-sign-on provider, into the browser flow and back to the page', async ({ startGateway }) => {
    // Discovery happens at the first sign-in, so a provider that is not even running is listed.
    const sso = {
      SSO_PROVIDERS: 'acme',
      SSO_ACME_ISSUER: 'http://127.0.0.1:9/',
      SSO_ACME_CLIENT_ID: 'gateway',
      SSO_ACME_CLIENT_SECRET: 'not-a-real-secret',
      SSO_ACME_DISPLAY_NAME: 'Acme ID',
    };
    const gateway = await startGateway({ env: sso });
    const { page } = await openPage(await newContext());
    await page.goto(`${gateway.origin}/account#devices`);
    await view(page, 'Sign in or create an account');
    const link = page.getByRole('link', { name: 'Sign in with Acme ID' });
    await link.waitFor();
    const href = new URL((await link.getAttribute('href'))!);
    expect(`${href.origin}${href.pathname}`).toBe(`${gateway.origin}/auth/sso/acme`);
    // Back to the page itself, without the view's hash.
    expect(href.searchParams.get('returnTo')).toBe(`${gateway.origin}/account`);

    // A sign-in that failed at the provider's side comes back with the reason, said in words.
    await page.goto(`${gateway.origin}/account?sso_error=PROVIDER_UNAVAILABLE`);
    await view(page, 'Sign in or create an account');
    await poll(() => page.locator('p.notice').textContent()).toContain('the provider could not be reached');
  });

  test('serves GraphiQL with its assets from the gateway, under its Content-Security-Policy', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { NODE_ENV: 'development' } });
    const { page, problems } = await openPage(await newContext());
    const hosts = new Set<string>();
    page.on('request', (request) => hosts.add(new URL(request.url()).host));
    const response = await page.goto(gateway.url);
    expect(response?.headers()['content-security-policy']).toBe(GRAPHIQL_CONTENT_SECURITY_POLICY);
    await page.locator('.graphiql-container').first().waitFor({ timeout: 60_000 });
    await page.locator('.monaco-editor').first().waitFor({ timeout: 60_000 });
    await screenshot(page, '6-graphiql');
    expect([...hosts].filter((host) => !host.startsWith('127.0.0.1:') && host !== '')).toEqual([]);
    expect(unexpected(problems)).toEqual([]);
  }, 120_000);
});
