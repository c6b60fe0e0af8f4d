import { afterEach, beforeEach, vi } from 'vitest';
import { limitKeyFor } from '../src/abuse/limit-key.js';
import { withLimits } from '../src/abuse/limited-mutations.js';
import { RateLimits } from '../src/abuse/rate-limits.js';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { RegisterDocument, UpdateUsernameDocument } from '../client/src/operations.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { errorCode, GraphQLClient } from './helpers/graphql-client.js';
import { expectRateLimited } from './helpers/expect-rate-limited.js';
import { from, nextIp } from './helpers/client-ip.js';

// Item 5 of issue 12: a mutation's limits are rows of a table, and a limit keyed by an argument
// is one more entry.

const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1' };
/** The test is the trusted proxy, so that each request can come from the client IP it names. */
const TRUSTED = { TRUSTED_PROXIES: '127.0.0.1/32' };
/** Only the declared limit under test may refuse: the default per-client and per-account ones are raised. */
const ROOMY = { RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000', RATE_LIMIT_CREDENTIALS_BURST: '1000', RATE_LIMIT_USERNAME_CHANGES_PER_HOUR: '1000' };

test.override({ gatewayOptions: { env: { ...FAST_ARGON2, ...TRUSTED, ...ROOMY } } });

// Fixed windows are rate-limiter-flexible's, on Date.now(): frozen, nothing expires.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * 429 with the wait until the window ends. In Redis the window runs on Redis's clock, not the
 * frozen Date: a slow machine may have spent a few of its seconds by then.
 */

describe('a limit declared by argument, in one entry', () => {
  test('counts updateUsername per requested username, 2 an hour, letter case and spaces aside, across accounts and IPs', async ({ startGateway }) => {
    const gateway = await startGateway({
      // The one line.
      limitedMutations: (table) =>
        withLimits(table, { updateUsername: [{ points: 2, perSeconds: 3600, key: { argument: 'username', normalize: 'lowercase' } }] }),
    });
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const { client: bob } = await register(gateway, 'bob', { from: nextIp() });
    const { client: carol } = await register(gateway, 'carol', { from: nextIp() });
    const rename = (client: GraphQLClient, username: string) => client.request(UpdateUsernameDocument, { username }, from(nextIp()));

    expect(errorCode(await rename(alice, 'Target'))).toBeUndefined();
    expect(errorCode(await rename(bob, 'TARGET'))).toBe('USERNAME_TAKEN');
    // The third try at that name, in another spelling, by another account from another IP.
    expectRateLimited(await rename(carol, ' target '), { min: 3600 - 59, max: 3600 });
    expectRateLimited(await rename(carol, 'target'), { min: 3600 - 59, max: 3600 });
    // Another value has a count of its own.
    expect(errorCode(await rename(carol, 'elsewhere'))).toBeUndefined();
    expect(errorCode(await rename(bob, 'ELSEWHERE'))).toBe('USERNAME_TAKEN');
    expectRateLimited(await rename(bob, 'elsewhere'), { min: 3600 - 59, max: 3600 });
  });

  test('reads the value from a literal argument as well as a variable, and counts nothing for variables that do not coerce', async ({ startGateway }) => {
    const gateway = await startGateway({
      limitedMutations: (table) =>
        withLimits(table, { updateUsername: [{ points: 2, perSeconds: 3600, key: { argument: 'username', normalize: 'lowercase' } }] }),
    });
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const literal = (username: string) => alice.raw(`mutation { updateUsername(username: ${JSON.stringify(username)}) { id } }`, undefined, from(nextIp()));
    // Refused before execution as malformed: no point taken, however often.
    for (let i = 0; i < 3; i++) {
      const malformed = await alice.raw('mutation ($u: String!) { updateUsername(username: $u) { id } }', { u: 42 }, from(nextIp()));
      expect(errorCode(malformed)).not.toBe('RATE_LIMITED');
    }
    expect(errorCode(await literal('Renamed'))).toBeUndefined();
    expect(errorCode(await alice.request(UpdateUsernameDocument, { username: 'RENAMED' }, from(nextIp())))).toBeUndefined();
    expectRateLimited(await literal('renamed'), { min: 3600 - 59, max: 3600 });
  });

  test('reaches into an input object: register limited per requested username', async ({ startGateway }) => {
    const gateway = await startGateway({
      limitedMutations: (table) =>
        withLimits(table, { register: [{ points: 1, perSeconds: 3600, key: { argument: 'input.username', normalize: 'lowercase' } }] }),
    });
    const register = (username: string) =>
      new GraphQLClient(gateway.url).request(RegisterDocument, { input: { username, password: PASSWORD, refreshTokenDelivery: 'BODY' } }, from(nextIp()));
    expect(errorCode(await register('Dave'))).toBeUndefined();
    // Not USERNAME_TAKEN: the name's one try an hour is spent.
    expectRateLimited(await register('dave'), { min: 3600 - 59, max: 3600 });
    expect(errorCode(await register('erin'))).toBeUndefined();
  });
});

describe('limit keys', () => {
  const caller = { clientIp: '2001:db8::1', userId: 'user-1', arguments: { email: '  Ann@Example.COM ', input: { username: 'Ann' } } };

  test('keys by client network, account, or the normalised and hashed argument value', () => {
    expect(limitKeyFor('client', caller)).toBe('2001:db8::/64');
    expect(limitKeyFor('account', caller)).toBe('user-1');
    expect(limitKeyFor('account', { ...caller, userId: undefined })).toBeUndefined();
    const email = limitKeyFor({ argument: 'email', normalize: 'lowercase' }, caller);
    expect(email).toBe(limitKeyFor({ argument: 'email', normalize: 'lowercase' }, { ...caller, arguments: { email: 'ann@example.com' } }));
    expect(email).not.toContain('example');
    // Without lower-casing, letter case tells values apart; spaces around never do.
    expect(limitKeyFor({ argument: 'email' }, caller)).toBe(limitKeyFor({ argument: 'email' }, { ...caller, arguments: { email: 'Ann@Example.COM' } }));
    expect(limitKeyFor({ argument: 'email' }, caller)).not.toBe(email);
    expect(limitKeyFor({ argument: 'input.username' }, caller)).not.toBe(
      limitKeyFor({ argument: 'input.username' }, { ...caller, arguments: { input: { username: 'Bob' } } }),
    );
  });

  test('counts a missing value under one fixed key instead of skipping the limit', () => {
    const missing = limitKeyFor({ argument: 'input.email' }, caller);
    expect(missing).toBeDefined();
    expect(limitKeyFor({ argument: 'input.email' }, { ...caller, arguments: { input: { email: null } } })).toBe(missing);
    expect(limitKeyFor({ argument: 'input.email' }, { ...caller, arguments: {} })).toBe(missing);
  });

  test('refuses two declarations that would share their counts', () => {
    const config = loadConfig({ NODE_ENV: 'test' }).rateLimits;
    const twice = { points: 2, perSeconds: 60, key: 'client' } as const;
    expect(() => new RateLimits({ config, clock: new ManualClock(new Date()), mutations: { login: [twice, { ...twice, points: 3 }] } })).toThrow(TypeError);
  });
});
