import { afterEach, beforeEach, vi } from 'vitest';
import { CreatePersonalAccessTokenDocument, RefreshDocument, UpdateUsernameDocument } from '../client/src/operations.js';
import { describe, expect, register, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { expectRateLimited } from './helpers/expect-rate-limited.js';
import type { TestGateway } from './helpers/test-gateway.js';
import { from, nextIp } from './helpers/client-ip.js';

// Items 6 and 9 of issue 11: updateUsername as a username-existence oracle, and
// createPersonalAccessToken repeated through aliases.

const MINUTE = 60 * 1000;
/** Cheaper hashing: these tests register many accounts. */
const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1' };
/** The test is the trusted proxy, so that each request can come from the client IP it names. */
const TRUSTED = { TRUSTED_PROXIES: '127.0.0.1/32' };

test.override({ gatewayOptions: { env: { ...FAST_ARGON2, ...TRUSTED } } });

// The registrations window is rate-limiter-flexible's, on Date.now(): frozen, nothing expires.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function rename(client: GraphQLClient, username: string, ip = nextIp()) {
  return client.request(UpdateUsernameDocument, { username }, from(ip));
}

async function usernameOf(gateway: TestGateway, userId: string): Promise<string> {
  return (await gateway.handle.db.selectFrom('users').select('username').where('id', '=', userId).executeTakeFirstOrThrow()).username;
}

describe('updateUsername per account (5 an hour)', () => {
  test('answers 5 probes, USERNAME_TAKEN counting, then 429 from every IP without renaming; one more every 12 minutes', async ({ gateway }) => {
    // The per-IP bucket cannot interfere: every probe comes from another IP anyway.
    await register(gateway, 'taken_one', { from: nextIp() });
    const mallory = await register(gateway, 'mallory', { from: nextIp() });
    const answers = [];
    for (const probe of ['taken_one', 'free_one', 'TAKEN_ONE', 'x', 'taken_one']) answers.push(errorCode(await rename(mallory.client, probe)));
    // The oracle's answers, and a rename that succeeded: all of them counted.
    expect(answers).toEqual(['USERNAME_TAKEN', undefined, 'USERNAME_TAKEN', 'BAD_USER_INPUT', 'USERNAME_TAKEN']);
    expect(await usernameOf(gateway, mallory.user.id)).toBe('free_one');

    // 720 s until the next: an hour / 5.
    expectRateLimited(await rename(mallory.client, 'free_two'), 720);
    expectRateLimited(await rename(mallory.client, 'taken_one'), 720);
    expect(await usernameOf(gateway, mallory.user.id)).toBe('free_one');

    // Another account has its own count.
    const other = await register(gateway, 'other', { from: nextIp() });
    expect(errorCode(await rename(other.client, 'taken_one'))).toBe('USERNAME_TAKEN');

    gateway.clock.advance(12 * MINUTE - 1000);
    expectRateLimited(await rename(mallory.client, 'free_two'), 1);
    gateway.clock.advance(1000);
    expect((await rename(mallory.client, 'free_two')).data?.updateUsername.username).toBe('free_two');
    expectRateLimited(await rename(mallory.client, 'free_three'), 720);
  });

  test('counts a personal access token with profile:write and the sessions of the account together', async ({ gateway }) => {
    const alice = await register(gateway, 'alice', { from: nextIp() });
    const created = await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'writer', scopes: ['profile:write'] } });
    const pat = new GraphQLClient(gateway.url, { authorization: `Bearer ${created.data!.createPersonalAccessToken.token}` });
    for (let i = 0; i < 3; i++) expect((await rename(alice.client, `alice_${i}`)).errors).toBeUndefined();
    for (let i = 3; i < 5; i++) expect((await rename(pat, `alice_${i}`)).errors).toBeUndefined();
    expectRateLimited(await rename(pat, 'alice_5'), 720);
    expectRateLimited(await rename(alice.client, 'alice_5'), 720);
  });

  test('follows RATE_LIMIT_USERNAME_CHANGES_PER_HOUR', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { RATE_LIMIT_USERNAME_CHANGES_PER_HOUR: '2' } });
    const alice = await register(gateway, 'alice', { from: nextIp() });
    for (let i = 0; i < 2; i++) expect((await rename(alice.client, `alice_${i}`)).errors).toBeUndefined();
    expectRateLimited(await rename(alice.client, 'alice_2'), 30 * 60);
  });

  test('lets exactly 5 of 12 concurrent probes through, round after round', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { RATE_LIMIT_REGISTRATIONS_PER_HOUR: '1000' } });
    await register(gateway, 'taken_one', { from: nextIp() });
    for (let round = 0; round < 20; round++) {
      const prober = await register(gateway, `prober_${round}`, { from: nextIp() });
      const probes = await Promise.all(Array.from({ length: 12 }, () => rename(prober.client, 'taken_one')));
      expect(probes.filter((probe) => errorCode(probe) === 'USERNAME_TAKEN')).toHaveLength(5);
      expect(probes.filter((probe) => probe.status === 429)).toHaveLength(7);
    }
  });
});

describe('updateUsername per IP (the credential bucket)', () => {
  test('takes from the bucket the other credential mutations of the client share', async ({ startGateway }) => {
    // Only the per-IP limit applies: the accounts may rename as often as they like.
    const gateway = await startGateway({ env: { RATE_LIMIT_USERNAME_CHANGES_PER_HOUR: '1000' } });
    await register(gateway, 'taken_one', { from: nextIp() });
    const accounts = [await register(gateway, 'mallory', { from: nextIp() }), await register(gateway, 'mallory2', { from: nextIp() })];
    const ip = nextIp();
    for (let i = 0; i < 10; i++) expect(errorCode(await rename(accounts[i % 2]!.client, 'taken_one', ip))).toBe('USERNAME_TAKEN');
    expectRateLimited(await rename(accounts[0]!.client, 'taken_one', ip), 1);
    // The same bucket as refresh, login and register.
    expectRateLimited(await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: 'not-a-real-refresh-token' }, from(ip)), 1);
    // Another IP has a full bucket.
    expect(errorCode(await rename(accounts[0]!.client, 'taken_one'))).toBe('USERNAME_TAKEN');
  });
});

describe('one limited mutation per operation', () => {
  const twoRenames = 'mutation { a: updateUsername(username: "first_name") { id } b: updateUsername(username: "second_name") { id } }';

  test.for<[string, string]>([
    ['two aliased updateUsername', twoRenames],
    [
      'updateUsername and createPersonalAccessToken',
      'mutation { updateUsername(username: "first_name") { id } createPersonalAccessToken(input: { name: "x" }) { token } }',
    ],
  ])('refuses %s whole, before any of it runs', async ([, query], { gateway }) => {
    const alice = await register(gateway, 'alice', { from: nextIp() });
    const response = await alice.client.raw(query, undefined, from(nextIp()));
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.data ?? null).toBeNull();
    expect(await usernameOf(gateway, alice.user.id)).toBe('alice');
    expect(await gateway.handle.db.selectFrom('personal_access_tokens').select('id').execute()).toEqual([]);
  });

  test.for<[string, string]>([
    [
      'three aliases',
      'mutation { a: createPersonalAccessToken(input: { name: "a" }) { token } b: createPersonalAccessToken(input: { name: "b" }) { token } c: createPersonalAccessToken(input: { name: "c" }) { token } }',
    ],
    ['a repeated field', 'mutation { createPersonalAccessToken(input: { name: "a" }) { token } createPersonalAccessToken(input: { name: "a" }) { token } }'],
    ['a fragment spread twice', 'mutation { ...M ...M } fragment M on Mutation { createPersonalAccessToken(input: { name: "a" }) { token } }'],
    [
      'an inline fragment',
      'mutation { createPersonalAccessToken(input: { name: "a" }) { token } ... on Mutation { b: createPersonalAccessToken(input: { name: "b" }) { token } } }',
    ],
  ])('mints nothing for createPersonalAccessToken repeated through %s', async ([, query], { gateway }) => {
    const alice = await register(gateway, 'alice', { from: nextIp() });
    const response = await alice.client.raw(query);
    expect(response.status).toBe(400);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.data ?? null).toBeNull();
    expect(JSON.stringify(response)).not.toContain('gwp_');
    expect(await gateway.handle.db.selectFrom('personal_access_tokens').select('id').execute()).toEqual([]);
  });

  test('mints one token for one aliased createPersonalAccessToken, and one per operation of a batch', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { GRAPHQL_MAX_BATCH_SIZE: '10' } });
    const alice = await register(gateway, 'alice', { from: nextIp() });
    const one = await alice.client.raw<{ mine: { token: string } }>('mutation { mine: createPersonalAccessToken(input: { name: "a" }) { token } }');
    expect(one.errors).toBeUndefined();
    expect(one.data!.mine.token.startsWith('gwp_')).toBe(true);

    const create = { query: 'mutation { createPersonalAccessToken(input: { name: "batched" }) { token } }' };
    const doubled = {
      query: 'mutation { a: createPersonalAccessToken(input: { name: "a" }) { token } b: createPersonalAccessToken(input: { name: "b" }) { token } }',
    };
    const results = (await (await alice.client.post([create, doubled, create])).json()) as {
      data?: unknown;
      errors?: { extensions: Record<string, unknown> }[];
    }[];
    expect(results.map((result) => result.errors?.[0]?.extensions.code)).toEqual([undefined, 'BAD_USER_INPUT', undefined]);
    expect(await gateway.handle.db.selectFrom('personal_access_tokens').select('id').execute()).toHaveLength(3);
  });
});

describe('the other credential mutations keep their limits', () => {
  test('still refuses two refreshes in one operation and still counts refresh per IP', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const doubled = await client.raw('mutation { a: refresh(refreshToken: "x") { accessToken } b: refresh(refreshToken: "y") { accessToken } }');
    expect(errorCode(doubled)).toBe('BAD_USER_INPUT');
    const ip = nextIp();
    for (let i = 0; i < 10; i++) expect(errorReason(await client.request(RefreshDocument, { refreshToken: 'nope' }, from(ip)))).toBe('TOKEN_INVALID');
    expectRateLimited(await client.request(RefreshDocument, { refreshToken: 'nope' }, from(ip)), 1);
  });
});
