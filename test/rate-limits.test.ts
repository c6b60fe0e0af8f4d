import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, vi } from 'vitest';
import { MemoryTokenBucket } from '../src/abuse/memory-token-bucket.js';
import { RedisTokenBucket } from '../src/abuse/redis-token-bucket.js';
import type { TokenBucketSpec } from '../src/abuse/token-bucket.js';
import { ManualClock } from '../src/clock.js';
import { ChangePasswordDocument, LoginDocument, MeDocument, RefreshDocument, RegisterDocument } from '../client/src/operations.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { expectRateLimited } from './helpers/expect-rate-limited.js';
import type { TestGateway } from './helpers/test-gateway.js';
import { from } from './helpers/client-ip.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Cheaper hashing: these tests register many accounts and count verifications, not their cost. */
const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1' };

// The fixed windows (registrations, failed logins) are rate-limiter-flexible's, whose memory
// store reads Date.now() and cannot take the gateway's clock. Freezing Date makes them
// deterministic: nothing expires unless a test moves the wall clock.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

test.override({ gatewayOptions: { env: FAST_ARGON2 } });

function advanceWallClock(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

/** Redis counts its windows on its own clock, which no test can move: these tests count in memory. */
const IN_MEMORY = { REDIS_URL: '' };

/** A refresh with a token that does not exist: a credential mutation that costs no Argon2. */
function bogusRefresh(client: GraphQLClient, options?: { headers: Record<string, string> }) {
  return client.request(RefreshDocument, { refreshToken: 'not-a-real-refresh-token' }, options);
}

/** Bogus refreshes until one is refused; how many were let through. */
async function allowedNow(client: GraphQLClient): Promise<number> {
  for (let allowed = 0; ; allowed++) {
    const response = await bogusRefresh(client);
    if (response.status === 429) return allowed;
    expect(errorReason(response)).toBe('TOKEN_INVALID');
  }
}

describe('per-IP limit on credential mutations (5/s, burst 10)', () => {
  // The token bucket runs on the gateway's clock; the tests move it by hand.
  test('allows a burst of 10, then answers 429 with Retry-After, and refills one token every 200 ms', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    for (let i = 0; i < 10; i++) expect(errorReason(await bogusRefresh(client))).toBe('TOKEN_INVALID');
    // The next token is 200 ms away: Retry-After rounds up to a whole second, never 0.
    expectRateLimited(await bogusRefresh(client), 1);
    // Every credential mutation shares the limit; other operations do not.
    expectRateLimited(await client.request(LoginDocument, { input: { username: 'alice', password: PASSWORD } }), 1);
    expect((await client.raw('{ __typename }')).status).toBe(200);
    expect(errorCode(await client.request(MeDocument))).toBe('UNAUTHENTICATED');

    gateway.clock.advance(199);
    expectRateLimited(await bogusRefresh(client), 1);
    gateway.clock.advance(1);
    expect(errorReason(await bogusRefresh(client))).toBe('TOKEN_INVALID');
    expectRateLimited(await bogusRefresh(client), 1);

    // A second brings five tokens back.
    gateway.clock.advance(SECOND);
    expect(await allowedNow(client)).toBe(5);
    // Two idle seconds fill the bucket again: a whole burst.
    gateway.clock.advance(2 * SECOND);
    expect(await allowedNow(client)).toBe(10);
  });

  test('never lets more than the burst plus 5 a second through, however the attempts are spread', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    // Attempts as fast as they are allowed, every 100 ms for 5 seconds: 10 + 5 × 5, no more
    // (fixed one-second windows would let up to twice the rate through around each edge).
    let allowed = await allowedNow(client);
    for (let step = 0; step < 50; step++) {
      gateway.clock.advance(100);
      allowed += await allowedNow(client);
    }
    expect(allowed).toBe(10 + 5 * 5);
  });

  test('counts concurrent attempts exactly', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const responses = await Promise.all(Array.from({ length: 25 }, () => bogusRefresh(client)));
    expect(responses.filter((response) => errorReason(response) === 'TOKEN_INVALID')).toHaveLength(10);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(15);
  });

  test('follows the configured rate and burst', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { RATE_LIMIT_CREDENTIALS_PER_SECOND: '2', RATE_LIMIT_CREDENTIALS_BURST: '3' } });
    const client = new GraphQLClient(gateway.url);
    expect(await allowedNow(client)).toBe(3);
    gateway.clock.advance(SECOND);
    expect(await allowedNow(client)).toBe(2);
  });

  test('counts an IPv6 client by its /64, which it can pick any address from', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { TRUSTED_PROXIES: '127.0.0.1/32' } });
    const client = new GraphQLClient(gateway.url);
    for (let i = 1; i <= 10; i++) expect(errorReason(await bogusRefresh(client, from(`2001:db8:1:2::${i.toString(16)}`)))).toBe('TOKEN_INVALID');
    expectRateLimited(await bogusRefresh(client, from('2001:db8:1:2:ffff:ffff:ffff:ffff')), 1);
    // Written otherwise, still the same network.
    expectRateLimited(await bogusRefresh(client, from('2001:0DB8:0001:0002:0:0:0:77')), 1);
    // The next /64 is another client, and so is an IPv4 client.
    expect(errorReason(await bogusRefresh(client, from('2001:db8:1:3::1')))).toBe('TOKEN_INVALID');
    expect(errorReason(await bogusRefresh(client, from('203.0.113.7')))).toBe('TOKEN_INVALID');
  });
});

describe('credential mutations are counted per field', () => {
  test('refuses 100 aliased logins whole without checking a password', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    await register(gateway, 'alice');
    const verify = vi.spyOn(gateway.services.passwords, 'verify');

    const aliases = Array.from({ length: 100 }, (_, i) => `a${i}: login(input: { username: "alice", password: "guess-${i}-xxxxxx" }) { accessToken }`);
    const hundred = await client.raw(`mutation { ${aliases.join(' ')} }`);
    expect(hundred.status).toBe(400);
    expect(hundred.data ?? null).toBeNull();
    expect(verify).not.toHaveBeenCalled();
    // Within the alias limit, the credential rule refuses it.
    const fifteen = await client.raw(`mutation { ${aliases.slice(0, 15).join(' ')} }`);
    expect(fifteen.status).toBe(400);
    expect(errorCode(fifteen)).toBe('BAD_USER_INPUT');
    expect(verify).not.toHaveBeenCalled();
    expect(await sessionCount(gateway)).toBe(1);
  });

  test.for<[string, string]>([
    ['two aliases', `mutation($i: LoginInput!) { a: login(input: $i) { accessToken } b: login(input: $i) { accessToken } }`],
    ['a repeated field', `mutation($i: LoginInput!) { login(input: $i) { accessToken } login(input: $i) { accessToken } }`],
    ['a fragment spread twice', `mutation($i: LoginInput!) { ...L ...L } fragment L on Mutation { login(input: $i) { accessToken } }`],
    ['an inline fragment', `mutation($i: LoginInput!) { login(input: $i) { accessToken } ... on Mutation { again: login(input: $i) { accessToken } } }`],
    [
      'nested fragments',
      `mutation($i: LoginInput!) { ...A } fragment A on Mutation { ...B x: login(input: $i) { accessToken } } fragment B on Mutation { y: login(input: $i) { accessToken } }`,
    ],
    ['login and refresh', `mutation($i: LoginInput!) { login(input: $i) { accessToken } refresh(refreshToken: "x") { accessToken } }`],
    ['a skipped second login', `mutation($i: LoginInput!) { login(input: $i) { accessToken } b: login(input: $i) @skip(if: true) { accessToken } }`],
  ])('refuses %s before any of it runs', async ([, query], { gateway }) => {
    const client = new GraphQLClient(gateway.url);
    await register(gateway, 'alice');
    const verify = vi.spyOn(gateway.services.passwords, 'verify');
    const response = await client.raw(query, { i: { username: 'alice', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.data ?? null).toBeNull();
    expect(verify).not.toHaveBeenCalled();
    expect(await sessionCount(gateway)).toBe(1);
  });

  test('serves one aliased credential mutation', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    await register(gateway, 'alice');
    const verify = vi.spyOn(gateway.services.passwords, 'verify');
    const response = await client.raw<{ signIn: { user: { username: string } } }>(
      `mutation { signIn: login(input: { username: "alice", password: ${JSON.stringify(PASSWORD)} }) { user { username } } me: __typename }`,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data!.signIn.user.username).toBe('alice');
    expect(verify).toHaveBeenCalledTimes(1);
  });

  test('counts every operation of a batch', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { GRAPHQL_MAX_BATCH_SIZE: '10' } });
    const client = new GraphQLClient(gateway.url);
    const refresh = { query: 'mutation { refresh(refreshToken: "not-a-real-refresh-token") { accessToken } }' };
    const first = (await (await client.post(Array.from({ length: 8 }, () => refresh))).json()) as { errors: { extensions: Record<string, unknown> }[] }[];
    expect(first.map((result) => result.errors[0]!.extensions.reason)).toEqual(Array(8).fill('TOKEN_INVALID'));

    // Two points left: the third and fourth operations of the next batch are refused.
    const second = (await (await client.post(Array.from({ length: 4 }, () => refresh))).json()) as { errors: { extensions: Record<string, unknown> }[] }[];
    const outcomes = second.map((result) => result.errors[0]!.extensions.code);
    expect(outcomes.filter((code) => code === 'UNAUTHENTICATED')).toHaveLength(2);
    expect(outcomes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(2);

    // Operations with several credential fields are refused one by one, each whole.
    const doubled = { query: 'mutation { a: refresh(refreshToken: "x") { accessToken } b: refresh(refreshToken: "y") { accessToken } }' };
    const refused = (await (await client.post([doubled, doubled])).json()) as { errors: { extensions: Record<string, unknown> }[] }[];
    expect(refused.map((result) => result.errors[0]!.extensions.code)).toEqual(['BAD_USER_INPUT', 'BAD_USER_INPUT']);
  });
});

describe('per-account limit on failed logins (5 per 15 minutes)', () => {
  // Each attempt from another client IP (the test is the trusted proxy), so that only the
  // account limit can stop them.
  const TRUSTED = { TRUSTED_PROXIES: '127.0.0.1/32' };
  test.override({ gatewayOptions: { env: { ...FAST_ARGON2, ...TRUSTED } } });
  let ipCounter = 0;
  const nextIp = () => `198.51.100.${++ipCounter}`;

  function login(gateway: TestGateway, username: string, pw: string, ip = nextIp()) {
    return new GraphQLClient(gateway.url).request(LoginDocument, { input: { username, password: pw, refreshTokenDelivery: 'BODY' } }, from(ip));
  }

  test('locks the username from every IP after 5 failures, without verifying the password, until the window passes', async ({ startGateway }) => {
    const gateway = await startGateway({ env: IN_MEMORY });
    for (const username of ['alice', 'bob']) await register(gateway, username, { from: nextIp() });
    const verify = vi.spyOn(gateway.services.passwords, 'verify');
    for (let i = 0; i < 5; i++) expect(errorCode(await login(gateway, 'alice', `wrong password ${i}`))).toBe('INVALID_CREDENTIALS');
    expect(verify).toHaveBeenCalledTimes(5);

    const locked = await login(gateway, 'alice', PASSWORD);
    expectRateLimited(locked, 15 * 60);
    // Whatever the letter case, and without spending a verification.
    expectRateLimited(await login(gateway, 'ALICE', PASSWORD), 15 * 60);
    expect(verify).toHaveBeenCalledTimes(5);

    // Other accounts are unaffected.
    expect((await login(gateway, 'bob', PASSWORD)).errors).toBeUndefined();

    advanceWallClock(14 * MINUTE);
    expectRateLimited(await login(gateway, 'alice', PASSWORD), 60);
    advanceWallClock(MINUTE);
    const after = await login(gateway, 'alice', PASSWORD);
    expect(after.errors).toBeUndefined();
    expect(after.data!.login.user.username).toBe('alice');
  });

  test('forgets the failures after a successful login', async ({ gateway }) => {
    await register(gateway, 'alice', { from: nextIp() });
    for (let i = 0; i < 4; i++) expect(errorCode(await login(gateway, 'alice', 'wrong password'))).toBe('INVALID_CREDENTIALS');
    expect((await login(gateway, 'alice', PASSWORD)).errors).toBeUndefined();
    for (let i = 0; i < 5; i++) expect(errorCode(await login(gateway, 'alice', 'wrong password'))).toBe('INVALID_CREDENTIALS');
    expectRateLimited(await login(gateway, 'alice', PASSWORD), 15 * 60);
  });

  test('locks unknown usernames alike, each failure costing one verification, so neither reveals which accounts exist', async ({ gateway }) => {
    await register(gateway, 'alice', { from: nextIp() });
    const verify = vi.spyOn(gateway.services.passwords, 'verify');
    const answers: Record<string, unknown[]> = {};
    for (const username of ['alice', 'nobody']) {
      // Letter case does not make another key, for unknown names either.
      for (const spelling of [username, username.toUpperCase(), username, username.toUpperCase(), username]) {
        expect(errorCode(await login(gateway, spelling, 'wrong password'))).toBe('INVALID_CREDENTIALS');
      }
      expect(verify).toHaveBeenCalledTimes(username === 'alice' ? 5 : 10);
      const locked = await login(gateway, username, 'wrong password');
      expectRateLimited(locked, 15 * 60);
      answers[username] = [locked.status, locked.headers.get('retry-after'), locked.errors];
    }
    expect(verify).toHaveBeenCalledTimes(10);
    expect(answers.nobody).toEqual(answers.alice);
  });

  test('counts wrong current passwords given to changePassword', async ({ gateway }) => {
    const { client: session } = await register(gateway, 'alice');
    for (let i = 0; i < 5; i++) {
      const response = await session.request(ChangePasswordDocument, { currentPassword: 'wrong password', newPassword: 'a new long password' }, from(nextIp()));
      expect(errorCode(response)).toBe('INVALID_CREDENTIALS');
    }
    const verify = vi.spyOn(gateway.services.passwords, 'verify');
    expectRateLimited(
      await session.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'a new long password' }, from(nextIp())),
      15 * 60,
    );
    expectRateLimited(await login(gateway, 'alice', PASSWORD), 15 * 60);
    expect(verify).not.toHaveBeenCalled();
  });
});

describe('per-IP limit on registrations (20 per hour)', () => {
  test('refuses the 21st registration from one IP for the rest of the hour', async ({ startGateway }) => {
    // The per-second limit is raised so that only the hourly one applies.
    const gateway = await startGateway({ env: { TRUSTED_PROXIES: '127.0.0.1/32', RATE_LIMIT_CREDENTIALS_PER_SECOND: '100', ...IN_MEMORY } });
    const client = new GraphQLClient(gateway.url);
    const register = (username: string, ip: string) =>
      client.request(RegisterDocument, { input: { username, password: PASSWORD, refreshTokenDelivery: 'BODY' } }, from(ip));
    for (let i = 0; i < 20; i++) expect((await register(`user${i}`, '203.0.113.1')).errors).toBeUndefined();
    expectRateLimited(await register('user20', '203.0.113.1'), 3600);
    // Logins from that IP and registrations from others go on.
    expect(
      (await client.request(LoginDocument, { input: { username: 'user0', password: PASSWORD, refreshTokenDelivery: 'BODY' } }, from('203.0.113.1'))).errors,
    ).toBeUndefined();
    expect((await register('user21', '203.0.113.2')).errors).toBeUndefined();

    advanceWallClock(59 * MINUTE);
    expectRateLimited(await register('user22', '203.0.113.1'), 60);
    advanceWallClock(MINUTE);
    expect((await register('user22', '203.0.113.1')).errors).toBeUndefined();
  });
});

describe('per-IP token buckets in memory', () => {
  test('forget the clients whose bucket is full again, so memory holds only the last seconds', async () => {
    const clock = new ManualClock();
    const bucket = new MemoryTokenBucket({ keyPrefix: 'rl:test', ratePerSecond: 5, burst: 10 }, clock);
    for (let i = 0; i < 1000; i++) expect(await bucket.take(`198.51.100.${i % 250}/${i}`)).toBe(0);
    // A bucket that is not full yet keeps its state, and holds up the clients that came after
    // it, but only until it is full again (two seconds for an emptied one).
    for (let i = 0; i < 10; i++) await bucket.take('203.0.113.7');
    for (let i = 0; i < 5; i++) await bucket.take(`192.0.2.${i}`);
    expect(bucket.trackedKeys).toBe(1006);
    clock.advance(200);
    await bucket.take('203.0.113.8');
    expect(bucket.trackedKeys).toBe(7);
    clock.advance(2 * SECOND);
    expect(await bucket.take('203.0.113.9')).toBe(0);
    expect(bucket.trackedKeys).toBe(1);
  });
});

if (!process.env.TEST_REDIS_URL) console.warn('per-IP token buckets in Redis SKIPPED: set TEST_REDIS_URL to run them');
describe.skipIf(!process.env.TEST_REDIS_URL)('per-IP token buckets in Redis', () => {
  const spec: TokenBucketSpec = { keyPrefix: 'rl:credentials', ratePerSecond: 5, burst: 10 };
  const connections: Redis[] = [];
  afterEach(() => {
    for (const connection of connections.splice(0)) connection.disconnect();
  });

  function connect(url: string): Redis {
    const connection = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
    connection.on('error', () => {});
    connections.push(connection);
    return connection;
  }

  test('is shared by every instance and exact under concurrency', async () => {
    const clock = new ManualClock();
    const prefix = `test-${randomUUID()}:`;
    const redis = [connect(process.env.TEST_REDIS_URL!), connect(process.env.TEST_REDIS_URL!)];
    // Before it is ready a connection fails every command, and the buckets would count in memory.
    await Promise.all(redis.map((connection) => once(connection, 'ready')));
    const instances = redis.map((connection) => new RedisTokenBucket(connection, prefix, spec, clock));
    const waits = await Promise.all(Array.from({ length: 25 }, (_, i) => instances[i % 2]!.take('203.0.113.7')));
    expect(waits.filter((wait) => wait === 0)).toHaveLength(10);
    expect(Math.min(...waits.filter((wait) => wait > 0))).toBe(200);
    // Another key has its own bucket.
    expect(await instances[0]!.take('203.0.113.8')).toBe(0);

    clock.advance(200);
    expect(await instances[1]!.take('203.0.113.7')).toBe(0);
    expect(await instances[0]!.take('203.0.113.7')).toBe(200);
    clock.advance(2 * SECOND);
    const refilled = await Promise.all(Array.from({ length: 11 }, (_, i) => instances[i % 2]!.take('203.0.113.7')));
    expect(refilled.filter((wait) => wait === 0)).toHaveLength(10);
  });

  test('falls back to a bucket in memory while Redis fails, limits intact', async () => {
    const unreachable = connect('redis://127.0.0.1:1');
    const bucket = new RedisTokenBucket(unreachable, 'test:', spec, new ManualClock());
    const waits: number[] = [];
    for (let i = 0; i < 11; i++) waits.push(await bucket.take('203.0.113.7'));
    expect(waits.slice(0, 10)).toEqual(Array(10).fill(0));
    expect(waits[10]).toBe(200);
  });
});

async function sessionCount(gateway: TestGateway): Promise<number> {
  const rows = await gateway.handle.db.selectFrom('sessions').select('id').execute();
  return rows.length;
}
