import { CookieJar } from 'tough-cookie';
import { type AuthClient, type AuthClientOptions, createAuthClient, DevicesDocument, MeDocument, type SignedOutReason } from '../src/index.js';
import { channelName, cookieJarFetch, InMemoryLocks, ManualScheduler, tokenCounter } from './helpers/sdk.js';
import { describe, expect, PASSWORD, test } from '../../test/helpers/fixtures.js';
import type { TestGateway } from '../../test/helpers/test-gateway.js';
import { until } from '../../test/helpers/until.js';

/**
 * Two tabs of one browser, as Node can have them: two clients sharing a BroadcastChannel (Node
 * has one) and a lock with the Web Locks API's request() (Node has no navigator.locks), each
 * with its own memory storage and timers. In cookie mode they share a cookie jar too.
 */
interface Tabs {
  readonly gateway: TestGateway;
  readonly a: AuthClient;
  readonly b: AuthClient;
  readonly schedulers: readonly [ManualScheduler, ManualScheduler];
  readonly locks: InMemoryLocks;
  readonly refreshes: () => number;
  readonly signedOut: Record<'a' | 'b', SignedOutReason[]>;
}

const tabsTest = test.extend<{ openTabs: (options?: Partial<AuthClientOptions>) => Promise<Tabs> }>({
  openTabs: async ({ startGateway }, use) => {
    const opened: AuthClient[] = [];
    await use(async (options = {}) => {
      const counter = tokenCounter();
      const gateway = await startGateway({ hooks: counter.hooks });
      const locks = new InMemoryLocks();
      const broadcastChannel = channelName();
      const schedulers = [new ManualScheduler(), new ManualScheduler()] as const;
      const signedOut: Tabs['signedOut'] = { a: [], b: [] };
      const fetch = options.delivery === 'cookie' ? cookieJarFetch(new CookieJar()) : undefined;
      const [a, b] = (['a', 'b'] as const).map((tab, i) =>
        createAuthClient({
          url: gateway.url,
          delivery: 'body',
          now: () => gateway.clock.now(),
          schedule: schedulers[i]!.schedule,
          locks,
          broadcastChannel,
          fetch,
          onSignedOut: (reason) => signedOut[tab].push(reason),
          ...options,
        }),
      ) as [AuthClient, AuthClient];
      opened.push(a, b);
      return { gateway, a, b, schedulers, locks, refreshes: () => counter.count() - 1, signedOut };
    });
    for (const client of opened) client.dispose();
  },
});

describe.each(['body', 'cookie'] as const)('two tabs in %s mode', (delivery) => {
  tabsTest('hand a sign-in to each other', async ({ openTabs }) => {
    const { a, b } = await openTabs({ delivery });
    await a.register({ username: 'alice', password: PASSWORD });
    await until(() => b.user?.username === 'alice', 'the session in tab b');
    expect((await b.request(MeDocument)).me.username).toBe('alice');
  });

  tabsTest('refreshing at the same moment: one refresh reaches the gateway, both tabs use it, the session lives', async ({ openTabs }) => {
    const { gateway, a, b, locks, refreshes } = await openTabs({ delivery });
    await a.register({ username: 'alice', password: PASSWORD });
    await until(() => b.user !== null, 'the session in tab b');

    await Promise.all([a.refresh(), b.refresh()]);
    expect(refreshes()).toBe(1);
    expect(locks.granted).toBe(2);
    expect((await a.request(MeDocument)).me.username).toBe('alice');
    expect((await b.request(MeDocument)).me.username).toBe('alice');
    // No reuse detected: the one session is still there, unrevoked.
    expect((await a.request(DevicesDocument)).devices).toHaveLength(1);
    expect(gateway.logs.join('')).not.toContain('REFRESH_TOKEN_REUSED');
  });

  tabsTest('reschedule their own timer when the other tab refreshed', async ({ openTabs }) => {
    const { gateway, a, b, schedulers, refreshes } = await openTabs({ delivery });
    await a.register({ username: 'alice', password: PASSWORD });
    await until(() => b.user !== null, 'the session in tab b');
    const lifetime = 15 * 60 * 1000;
    expect(schedulers[1].pending.map((timer) => timer.delayMs)).toEqual([0.8 * lifetime]);

    gateway.clock.advance(0.8 * lifetime);
    schedulers[0].fire();
    await until(() => refreshes() === 1, 'tab a’s background refresh');
    // Tab b's timer now counts from the new token.
    await until(() => schedulers[1].pending[0]?.delayMs === 0.8 * lifetime && schedulers[1].timers.length === 2, 'tab b rescheduled');
  });

  tabsTest('sign out together, with the reason', async ({ openTabs }) => {
    const { a, b, signedOut } = await openTabs({ delivery });
    await a.register({ username: 'alice', password: PASSWORD });
    await until(() => b.user !== null, 'the session in tab b');
    await b.signOut();
    await until(() => a.user === null, 'tab a signed out');
    expect(signedOut).toEqual({ a: ['SIGNED_OUT'], b: ['SIGNED_OUT'] });
  });
});
