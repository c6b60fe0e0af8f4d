import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CookieJar } from 'tough-cookie';
import {
  type AuthClient,
  type AuthClientOptions,
  createAuthClient,
  DevicesDocument,
  GraphQLRequestError,
  MeDocument,
  RefreshDocument,
  RevokeDeviceDocument,
  type SignedOutReason,
  type StoredSession,
  type TokenStorage,
} from '../src/index.js';
import { cookieJarFetch, ManualScheduler, tokenCounter } from './helpers/sdk.js';
import { describe, expect, PASSWORD, signIn, test } from '../../test/helpers/fixtures.js';
import { GraphQLClient } from '../../test/helpers/graphql-client.js';
import type { TestGateway, TestGatewayOptions } from '../../test/helpers/test-gateway.js';
import { until } from '../../test/helpers/until.js';

const TTL_SECONDS = 100;
const LIFETIME_MS = TTL_SECONDS * 1000;

interface Started {
  readonly gateway: TestGateway;
  /** Access tokens the gateway signed after the first sign-in: its refreshes. */
  readonly refreshes: () => number;
}

/** A gateway with 100 s access tokens, counting the tokens it signs. */
async function startCounting(startGateway: (options?: TestGatewayOptions) => Promise<TestGateway>): Promise<Started> {
  const counter = tokenCounter();
  const gateway = await startGateway({ env: { ACCESS_TOKEN_TTL_SECONDS: String(TTL_SECONDS) }, hooks: counter.hooks });
  return { gateway, refreshes: () => counter.count() - 1 };
}

/** An SDK client on the gateway's clock, with timers that fire only when told, disposed after the test. */
function sdk(gateway: TestGateway, options: Partial<AuthClientOptions> = {}, clients: AuthClient[] = []): { auth: AuthClient; scheduler: ManualScheduler } {
  const scheduler = new ManualScheduler();
  const auth = createAuthClient({
    url: gateway.url,
    delivery: 'body',
    now: () => gateway.clock.now(),
    schedule: scheduler.schedule,
    locks: null,
    broadcastChannel: null,
    ...options,
  });
  clients.push(auth);
  return { auth, scheduler };
}

const sdkTest = test.extend<{ clients: AuthClient[] }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern.
  clients: async ({}, use) => {
    const clients: AuthClient[] = [];
    await use(clients);
    for (const client of clients) client.dispose();
  },
});

describe('keeping the session alive', () => {
  sdkTest('schedules the background refresh at 80 % of the access token lifetime, and again after it', async ({ startGateway, clients }) => {
    const { gateway, refreshes } = await startCounting(startGateway);
    const { auth, scheduler } = sdk(gateway, {}, clients);
    await auth.register({ username: 'alice', password: PASSWORD });
    expect(scheduler.pending.map((timer) => timer.delayMs)).toEqual([0.8 * LIFETIME_MS]);

    gateway.clock.advance(0.8 * LIFETIME_MS);
    scheduler.fire();
    await until(() => refreshes() === 1, 'the background refresh');
    await until(() => scheduler.pending.length === 1, 'the next timer');
    expect(scheduler.pending[0]!.delayMs).toBe(0.8 * LIFETIME_MS);
    expect((await auth.request(MeDocument)).me.username).toBe('alice');
    expect(refreshes()).toBe(1);
  });

  sdkTest('takes the fraction from refreshAt', async ({ startGateway, clients }) => {
    const { gateway } = await startCounting(startGateway);
    const { auth, scheduler } = sdk(gateway, { refreshAt: 0.5 }, clients);
    await auth.register({ username: 'alice', password: PASSWORD });
    expect(scheduler.pending.map((timer) => timer.delayMs)).toEqual([0.5 * LIFETIME_MS]);
  });

  sdkTest('refreshes before a request when the token expires within the margin, not before', async ({ startGateway, clients }) => {
    const { gateway, refreshes } = await startCounting(startGateway);
    const { auth } = sdk(gateway, { expiryMarginMs: 30_000 }, clients);
    await auth.register({ username: 'alice', password: PASSWORD });
    // The margin is at most the 20 % of the lifetime after the refresh point: 20 s here.
    gateway.clock.advance(LIFETIME_MS - 20_001);
    await auth.request(MeDocument);
    expect(refreshes()).toBe(0);
    gateway.clock.advance(1);
    await auth.request(MeDocument);
    expect(refreshes()).toBe(1);
  });

  sdkTest('on TOKEN_EXPIRED refreshes once and retries the request once (request and fetch)', async ({ startGateway, clients }) => {
    const { gateway, refreshes } = await startCounting(startGateway);
    const sent: string[] = [];
    const observingFetch: typeof fetch = async (input, init) => {
      sent.push(JSON.parse(String(init?.body)).query.split(/[ ({]/)[1] ?? '');
      return fetch(input, init);
    };
    // The client's clock stands still: it believes its token fresh while the gateway's has moved past it.
    const signedInAt = gateway.clock.now();
    const { auth } = sdk(gateway, { now: () => signedInAt, fetch: observingFetch }, clients);
    await auth.register({ username: 'alice', password: PASSWORD });

    gateway.clock.advance(LIFETIME_MS + 60_000);
    sent.length = 0;
    expect((await auth.request(MeDocument)).me.username).toBe('alice');
    expect(sent).toEqual(['Me', 'Refresh', 'Me']);
    expect(refreshes()).toBe(1);

    gateway.clock.advance(LIFETIME_MS + 60_000);
    sent.length = 0;
    const response = await auth.fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query Me { me { username } }' }),
    });
    expect(response.status).toBe(200);
    expect(sent).toEqual(['Me', 'Refresh', 'Me']);
    expect(refreshes()).toBe(2);
  });

  sdkTest('sends one refresh for 50 concurrent requests, whether the client or the gateway finds the token expired', async ({ startGateway, clients }) => {
    const { gateway, refreshes } = await startCounting(startGateway);
    let clientNow = gateway.clock.now();
    const { auth } = sdk(gateway, { now: () => clientNow }, clients);
    await auth.register({ username: 'alice', password: PASSWORD });

    // Both clocks past expiry: the requests wait for one refresh before they go.
    gateway.clock.advance(LIFETIME_MS);
    clientNow = gateway.clock.now();
    const first = await Promise.all(Array.from({ length: 50 }, () => auth.request(MeDocument)));
    expect(first.every((result) => result.me.username === 'alice')).toBe(true);
    expect(refreshes()).toBe(1);

    // Only the gateway's: 50 requests go out with the old token and come back TOKEN_EXPIRED.
    gateway.clock.advance(LIFETIME_MS + 60_000);
    const second = await Promise.all(Array.from({ length: 50 }, () => auth.request(MeDocument)));
    expect(second.every((result) => result.me.username === 'alice')).toBe(true);
    expect(refreshes()).toBe(2);
  });
});

describe('signing out', () => {
  sdkTest(
    'fires onSignedOut(REFRESH_TOKEN_REUSED) and clears the session when its refresh token was used by someone else',
    async ({ startGateway, clients }) => {
      const { gateway } = await startCounting(startGateway);
      const storage = recordingStorage();
      const reasons: SignedOutReason[] = [];
      const { auth } = sdk(gateway, { storage, onSignedOut: (reason) => reasons.push(reason) }, clients);
      await auth.register({ username: 'alice', password: PASSWORD });

      // A thief (another client) rotates the stolen token first.
      const stolen = storage.current!.refreshToken!;
      const thief = new GraphQLClient(gateway.url, { 'user-agent': 'Thief/1.0' });
      expect((await thief.request(RefreshDocument, { refreshToken: stolen })).errors).toBeUndefined();

      const refused = await auth.refresh().catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GraphQLRequestError);
      expect((refused as GraphQLRequestError).reason).toBe('REFRESH_TOKEN_REUSED');
      expect(reasons).toEqual(['REFRESH_TOKEN_REUSED']);
      expect(auth.user).toBeNull();
      expect(storage.current).toBeNull();
    },
  );

  sdkTest('fires onSignedOut(SESSION_REVOKED) when another device revokes the session, on its next request or refresh', async ({ startGateway, clients }) => {
    const { gateway } = await startCounting(startGateway);
    for (const next of ['request', 'refresh'] as const) {
      const username = `alice-${next}`;
      const reasons: SignedOutReason[] = [];
      const { auth } = sdk(gateway, {}, clients);
      auth.onSignedOut((reason) => reasons.push(reason));
      await auth.register({ username, password: PASSWORD, deviceName: 'laptop' });
      const phone = await signIn(gateway, username);
      const laptop = (await phone.client.request(DevicesDocument)).data!.devices.find((device) => device.name === 'laptop')!;
      expect((await phone.client.request(RevokeDeviceDocument, { id: laptop.id })).errors).toBeUndefined();

      const failed = await (next === 'request' ? auth.request(MeDocument) : auth.refresh()).catch((error: unknown) => error);
      expect((failed as GraphQLRequestError).reason).toBe('SESSION_REVOKED');
      expect(reasons).toEqual(['SESSION_REVOKED']);
      expect(auth.user).toBeNull();
    }
  });

  sdkTest('signOut ends the session (everywhere: every device) and fires SIGNED_OUT', async ({ startGateway, clients }) => {
    const { gateway } = await startCounting(startGateway);
    const reasons: SignedOutReason[] = [];
    const { auth } = sdk(gateway, { onSignedOut: (reason) => reasons.push(reason) }, clients);
    await auth.register({ username: 'alice', password: PASSWORD });
    const phone = await signIn(gateway, 'alice');
    await auth.signOut({ everywhere: true });
    expect(reasons).toEqual(['SIGNED_OUT']);
    expect(auth.user).toBeNull();
    expect((await phone.client.request(MeDocument)).errors?.[0]?.extensions?.reason).toBe('SESSION_REVOKED');
    // Signed out, requests go out without a credential.
    expect(((await auth.request(MeDocument).catch((error: unknown) => error)) as GraphQLRequestError).reason).toBe('TOKEN_MISSING');
  });
});

describe('body mode with custom storage (Node)', () => {
  sdkTest('keeps the session in a file; a second run resumes from it and stores each rotation', async ({ startGateway, clients }) => {
    const { gateway, refreshes } = await startCounting(startGateway);
    const directory = mkdtempSync(join(tmpdir(), 'gateway-sdk-'));
    try {
      const storage = fileStorage(join(directory, 'session.json'));
      const first = sdk(gateway, { storage }, clients).auth;
      await first.register({ username: 'alice', password: PASSWORD });
      const stored = (await storage.get())!;
      expect(stored).toMatchObject({ refreshToken: expect.any(String), user: { username: 'alice' } });
      first.dispose();

      const second = sdk(gateway, { storage }, clients).auth;
      expect(await second.resume()).toMatchObject({ username: 'alice' });
      expect(refreshes()).toBe(0);
      await second.refresh();
      expect((await storage.get())!.refreshToken).not.toBe(stored.refreshToken);
      expect((await second.request(MeDocument)).me.username).toBe('alice');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('body mode: sessions of one process', () => {
  sdkTest('are each client’s own unless told to share (a server may hold one per user)', async ({ startGateway, clients }) => {
    const { gateway } = await startCounting(startGateway);
    const options = { url: gateway.url, delivery: 'body' as const, schedule: new ManualScheduler().schedule };
    const [alice, bob] = [createAuthClient(options), createAuthClient(options)];
    clients.push(alice, bob);
    await alice.register({ username: 'alice', password: PASSWORD });
    await bob.register({ username: 'bob', password: PASSWORD });
    expect((await alice.request(MeDocument)).me.username).toBe('alice');
    expect((await bob.request(MeDocument)).me.username).toBe('bob');
    expect([alice.user?.username, bob.user?.username]).toEqual(['alice', 'bob']);
  });
});

describe('cookie mode', () => {
  sdkTest('signs in with httpOnly cookies, resumes on a new page from the cookie, and signs out', async ({ startGateway, clients }) => {
    const { gateway, refreshes } = await startCounting(startGateway);
    const browser = cookieJarFetch(new CookieJar());
    const page = sdk(gateway, { delivery: 'cookie', fetch: browser }, clients).auth;
    await page.register({ username: 'alice', password: PASSWORD });
    expect((await page.request(MeDocument)).me.username).toBe('alice');

    const reloaded = sdk(gateway, { delivery: 'cookie', fetch: browser }, clients).auth;
    expect(reloaded.user).toBeNull();
    expect(await reloaded.resume()).toMatchObject({ username: 'alice' });
    expect(refreshes()).toBe(1);
    expect((await reloaded.request(MeDocument)).me.username).toBe('alice');

    await reloaded.signOut();
    const afterSignOut = sdk(gateway, { delivery: 'cookie', fetch: browser }, clients).auth;
    expect(await afterSignOut.resume()).toBeNull();
    // A stranger's browser has no session to resume.
    expect(await sdk(gateway, { delivery: 'cookie', fetch: cookieJarFetch() }, clients).auth.resume()).toBeNull();
  });
});

/** A storage that records what it holds, as a keychain would. */
function recordingStorage(): TokenStorage & { current: StoredSession | null } {
  const storage = {
    current: null as StoredSession | null,
    get: () => storage.current,
    set: (session: StoredSession | null) => {
      storage.current = session;
    },
  };
  return storage;
}

/** A storage in a JSON file, as a command-line tool would keep its session. */
function fileStorage(path: string): TokenStorage {
  return {
    get: async () => {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as StoredSession;
      } catch {
        return null;
      }
    },
    set: async (session) => writeFileSync(path, JSON.stringify(session), { mode: 0o600 }),
  };
}
