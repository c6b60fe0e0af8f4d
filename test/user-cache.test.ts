import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { UserCache, type UserProfile } from '../src/accounts/user-cache.js';
import { ManualClock } from '../src/clock.js';
import { DeleteAccountDocument, MeDocument, RefreshDocument, UpdateUsernameDocument } from '../client/src/operations.js';
import type { Database } from '../src/db/tables.js';
import { InProcessRevocationHub } from '../src/revocation/in-process-revocation-hub.js';
import type { RevocationChannel } from '../src/revocation/revocation-channel.js';
import { PASSWORD } from './helpers/accounts.js';
import { type Device, signIn } from './helpers/devices.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';
import { until } from './helpers/until.js';

// Issue 12, hot paths: `me` (and refresh) read the caller's user from a cache that every
// instance keeps correct within the revocation bound.

const START = new Date('2030-01-01T00:00:00Z');

const gateways: TestGateway[] = [];
afterEach(async () => {
  const closing = gateways.splice(0);
  for (const gateway of closing) await gateway.close({ keepDatabase: true });
  for (const database of new Set(closing.map((gateway) => gateway.database))) await database.drop();
});

/** A channel that hears the others but whose own broadcasts are all lost. */
function losingPublishes(channel: RevocationChannel): RevocationChannel {
  return {
    ...channel,
    publish: async () => {
      throw new Error('broker down');
    },
  };
}

/** Two instances on one database; A's broadcasts are lost when `lossy` is set. */
async function twoInstances({ lossy = false } = {}) {
  const hub = new InProcessRevocationHub();
  const a = await startTestGateway({ now: START, revocationChannel: lossy ? losingPublishes(hub.connect()) : hub.connect() });
  const b = await startTestGateway({ now: START, database: a.database, revocationChannel: hub.connect() });
  gateways.push(a, b);
  return { a, b };
}

async function meOf(gateway: TestGateway, token: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` }).request(MeDocument);
}

async function usernameOn(gateway: TestGateway, device: Device): Promise<string | undefined> {
  return (await meOf(gateway, device.accessToken)).data?.me.username;
}

async function rename(device: Device, username: string): Promise<void> {
  const renamed = await device.client.request(UpdateUsernameDocument, { username });
  expect(renamed.errors).toBeUndefined();
}

/**
 * Makes the database unable to answer a user read (the table is renamed away), so that any
 * answer given meanwhile provably came from memory; undone by the returned function.
 */
async function hideUsersTable(db: Kysely<Database>): Promise<() => Promise<void>> {
  await sql`alter table users rename to users_hidden`.execute(db);
  return async () => {
    await sql`alter table users_hidden rename to users`.execute(db);
  };
}

describe('the user cache on one instance', () => {
  it('answers me and refresh for a recent caller without reading the database', async () => {
    const { a } = await twoInstances();
    const alice = await signIn(a.url, 'alice', PASSWORD, { register: true });
    expect(await usernameOn(a, alice)).toBe('alice');
    const restore = await hideUsersTable(a.handle.db);
    try {
      expect(await usernameOn(a, alice)).toBe('alice');
      const refreshed = await new GraphQLClient(a.url).request(RefreshDocument, { refreshToken: alice.refreshToken });
      expect(refreshed.errors).toBeUndefined();
      expect(refreshed.data?.refresh.user.id).toBe(alice.userId);
    } finally {
      await restore();
    }
  });

  it('shows a rename at once on the instance that made it', async () => {
    const { a } = await twoInstances();
    const alice = await signIn(a.url, 'alice', PASSWORD, { register: true });
    expect(await usernameOn(a, alice)).toBe('alice');
    await rename(alice, 'alicia');
    expect(await usernameOn(a, alice)).toBe('alicia');
  });

  it('reads the row again once the TTL is over, whatever it heard', async () => {
    const clock = new ManualClock(START);
    const rows = new Map<string, UserProfile>([['u1', { id: 'u1', username: 'first', created_at: 0, email: null, email_verified_at: null }]]);
    let reads = 0;
    const cache = new UserCache({
      clock,
      ttlMs: 10_000,
      load: async (id) => {
        reads++;
        return rows.get(id);
      },
    });
    expect((await cache.get('u1'))?.username).toBe('first');
    rows.set('u1', { id: 'u1', username: 'second', created_at: 0, email: null, email_verified_at: null });
    clock.advance(9_999);
    expect((await cache.get('u1'))?.username).toBe('first');
    expect(reads).toBe(1);
    clock.advance(1);
    expect((await cache.get('u1'))?.username).toBe('second');
    expect(reads).toBe(2);
  });

  it('keeps at most maxEntries users, the least recently used first out', async () => {
    const clock = new ManualClock(START);
    const reads: string[] = [];
    const cache = new UserCache({
      clock,
      maxEntries: 2,
      load: async (id) => {
        reads.push(id);
        return { id, username: id, created_at: 0, email: null, email_verified_at: null };
      },
    });
    await cache.get('u1');
    await cache.get('u2');
    await cache.get('u1');
    await cache.get('u3'); // pushes out u2, the least recently used
    expect(cache.size).toBe(2);
    await cache.get('u1');
    await cache.get('u2');
    expect(reads).toEqual(['u1', 'u2', 'u3', 'u2']);
  });

  it('never caches a row read before a change was forgotten', async () => {
    const clock = new ManualClock(START);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reads = 0;
    const cache = new UserCache({
      clock,
      load: async (id) => {
        reads++;
        if (reads === 1) await gate; // a read that started before the rename and ends after it
        return { id, username: reads === 1 ? 'old' : 'new', created_at: 0, email: null, email_verified_at: null };
      },
    });
    const slow = cache.get('u1');
    cache.forget('u1');
    release();
    expect((await slow)?.username).toBe('old');
    expect((await cache.get('u1'))?.username).toBe('new');
  });
});

describe('the user cache across instances', () => {
  it('shows a rename on A to me on B at once, by the broadcast', async () => {
    const { a, b } = await twoInstances();
    const alice = await signIn(a.url, 'alice', PASSWORD, { register: true });
    expect(await usernameOn(b, alice)).toBe('alice'); // cached on B
    await rename(alice, 'alicia');
    expect(await usernameOn(b, alice)).toBe('alicia');
  });

  it('shows a rename on A to me on B at B’s next catch-up when the broadcast is lost', async () => {
    const { a, b } = await twoInstances({ lossy: true });
    for (let round = 0; round < 3; round++) {
      const alice = await signIn(a.url, `alice${round}`, PASSWORD, { register: true });
      expect(await usernameOn(b, alice)).toBe(`alice${round}`);
      await rename(alice, `alicia${round}`);
      // B never heard of it: its cached row still answers (which is what the catch-up bounds)...
      expect(await usernameOn(b, alice)).toBe(`alice${round}`);
      // ...until its periodic read of the database, every REVOCATION_POLL_INTERVAL_MS.
      a.clock.advance(1_000);
      b.clock.advance(1_000);
      await b.services.revocations.catchUp();
      expect(await usernameOn(b, alice)).toBe(`alicia${round}`);
    }
  });

  it.each([false, true])('refuses me on B with USER_NOT_FOUND once A deleted the account (broadcast lost: %s)', async (lossy) => {
    const { a, b } = await twoInstances({ lossy });
    const alice = await signIn(a.url, 'alice', PASSWORD, { register: true });
    expect(await usernameOn(b, alice)).toBe('alice');
    const deleted = await alice.client.request(DeleteAccountDocument, { password: PASSWORD });
    expect(deleted.errors).toBeUndefined();
    if (lossy) await b.services.revocations.catchUp();
    const refused = await meOf(b, alice.accessToken);
    expect(errorCode(refused)).toBe('UNAUTHENTICATED');
    expect(errorReason(refused)).toBe('USER_NOT_FOUND');
    // The cached row itself is gone too, not only the session's tokens.
    await expect(b.services.accounts.profile(alice.userId)).rejects.toMatchObject({ reason: 'USER_NOT_FOUND' });
  });
});

const redisUrl = process.env.TEST_REDIS_URL;
describe.runIf(redisUrl)('the user cache across instances over Redis', () => {
  it('shows a rename on A to me on B by the broadcast, and a deletion as USER_NOT_FOUND', async () => {
    // Polling the database slower than the test lasts: only the message through Redis can tell B.
    const env = { REDIS_KEY_PREFIX: `user-cache-${randomUUID()}:`, REVOCATION_POLL_INTERVAL_MS: '300000' };
    const a = await startTestGateway({ now: START, env });
    const b = await startTestGateway({ now: START, env, database: a.database });
    gateways.push(a, b);
    const alice = await signIn(a.url, 'alice', PASSWORD, { register: true });
    expect(await usernameOn(b, alice)).toBe('alice');
    await rename(alice, 'alicia');
    await until(async () => (await usernameOn(b, alice)) === 'alicia', 'the rename on B');
    const deleted = await alice.client.request(DeleteAccountDocument, { password: PASSWORD });
    expect(deleted.errors).toBeUndefined();
    await until(async () => errorReason(await meOf(b, alice.accessToken)) === 'USER_NOT_FOUND', 'the deletion on B');
    await expect(b.services.accounts.profile(alice.userId)).rejects.toMatchObject({ reason: 'USER_NOT_FOUND' });
  });
});
