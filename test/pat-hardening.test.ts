import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { sql } from 'kysely';
import { afterEach, beforeEach, vi } from 'vitest';
import { generatePersonalAccessToken } from '../src/auth/personal-access-tokens/token-format.js';
import { ManualClock } from '../src/clock.js';
import { PersonalAccessTokenCache } from '../src/auth/personal-access-tokens/token-cache.js';
import { CreatePersonalAccessTokenDocument, DeleteAccountDocument, MeDocument, RevokePersonalAccessTokenDocument } from '../client/src/operations.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient, type GraphQLResponse } from './helpers/graphql-client.js';
import { expectRateLimited } from './helpers/expect-rate-limited.js';
import type { TestGateway } from './helpers/test-gateway.js';
import { nextIp } from './helpers/client-ip.js';

// Items 7 and 8 of issue 11: unknown personal access tokens as a database amplifier, and the
// documented token shape.

const SECOND = 1000;
const README = new URL('../README.md', import.meta.url);

/** The test is the trusted proxy, so that each request can come from the client IP it names. */
const TRUSTED = { TRUSTED_PROXIES: '127.0.0.1/32' };
test.override({ gatewayOptions: { env: TRUSTED } });

// The failed-token window is rate-limiter-flexible's, on Date.now(): frozen, nothing expires
// unless a test moves the wall clock.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** `{ me }` with a bearer token, from a client IP. */
function presentFrom(gateway: TestGateway, token: string, ip: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${token}`, 'x-forwarded-for': ip }).request(MeDocument);
}

async function createToken(owner: GraphQLClient, name = 'script') {
  const response = await owner.request(CreatePersonalAccessTokenDocument, { input: { name } });
  expect(response.errors).toBeUndefined();
  return response.data!.createPersonalAccessToken;
}

/**
 * Makes the database unable to answer a token look-up (the tables it reads are renamed away),
 * so that any answer given meanwhile provably came from memory; undone by the returned function.
 */
async function hideTokenTables(gateway: TestGateway): Promise<() => Promise<void>> {
  const db = gateway.handle.db;
  await sql`alter table personal_access_tokens rename to personal_access_tokens_hidden`.execute(db);
  await sql`alter table deleted_credentials rename to deleted_credentials_hidden`.execute(db);
  return async () => {
    await sql`alter table personal_access_tokens_hidden rename to personal_access_tokens`.execute(db);
    await sql`alter table deleted_credentials_hidden rename to deleted_credentials`.execute(db);
  };
}

function expectRefused(response: GraphQLResponse<unknown>, reason: string): void {
  expect(response.status).toBe(401);
  expect(errorReason(response)).toBe(reason);
}

describe('the documented token shape (README)', () => {
  const readme = readFileSync(README, 'utf8');
  const section = readme.slice(readme.indexOf('## Personal access tokens'), readme.indexOf('## Subscriptions'));
  const documented = /`(gwp_\[0-9A-Za-z\]\{\d+\})`/.exec(section)?.[1];

  /** The checksum as the README describes it: zlib's CRC32 of the random part, 6 base62 digits 0-9A-Za-z, most significant first. */
  function documentedChecksum(random: string): string {
    const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    let value = crc32(random);
    let result = '';
    for (let i = 0; i < 6; i++) {
      result = digits[value % 62] + result;
      value = Math.floor(value / 62);
    }
    return result;
  }

  test('names a scanner pattern that every minted token matches, checksum included', async ({ gateway }) => {
    expect(documented).toBeDefined();
    const pattern = new RegExp(`^${documented}$`);
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const minted = [(await createToken(alice)).token, ...Array.from({ length: 200 }, generatePersonalAccessToken)];
    for (const token of minted) {
      expect(token).toMatch(pattern);
      // The README's "32 random characters and a 6-character checksum".
      expect(token.slice(-6)).toBe(documentedChecksum(token.slice(4, -6)));
      expect(token.slice(4, -6)).toHaveLength(32);
    }
    // And the pattern is no looser than the tokens: one character fewer or more does not match.
    expect(minted[0]!.slice(0, -1)).not.toMatch(pattern);
    expect(`${minted[0]}a`).not.toMatch(pattern);
  });
});

describe('refused tokens are remembered with their reason', () => {
  test('answers an unknown token again without a database read, until the refusal is 30 s old', async ({ gateway }) => {
    const unknown = generatePersonalAccessToken();
    const ip = nextIp();
    expectRefused(await presentFrom(gateway, unknown, ip), 'TOKEN_INVALID');
    const restore = await hideTokenTables(gateway);
    try {
      expectRefused(await presentFrom(gateway, unknown, ip), 'TOKEN_INVALID');
      gateway.clock.advance(30 * SECOND - 1);
      expectRefused(await presentFrom(gateway, unknown, ip), 'TOKEN_INVALID');
      // Forgotten: the look-up goes to the database, which cannot answer.
      gateway.clock.advance(1);
      expect(errorCode(await presentFrom(gateway, unknown, ip))).toBe('INTERNAL');
    } finally {
      await restore();
    }
    expectRefused(await presentFrom(gateway, unknown, ip), 'TOKEN_INVALID');
  });

  test('keeps USER_NOT_FOUND for a deleted account’s token and SESSION_REVOKED for a revoked one', async ({ gateway }) => {
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const revoked = await createToken(alice, 'revoked');
    await alice.request(RevokePersonalAccessTokenDocument, { id: revoked.personalAccessToken.id });
    const { client: bob } = await register(gateway, 'bob', { from: nextIp() });
    const orphan = await createToken(bob, 'orphan');
    expect((await bob.request(DeleteAccountDocument, { password: PASSWORD })).errors).toBeUndefined();

    const ip = nextIp();
    expectRefused(await presentFrom(gateway, revoked.token, ip), 'SESSION_REVOKED');
    expectRefused(await presentFrom(gateway, orphan.token, ip), 'USER_NOT_FOUND');
    const restore = await hideTokenTables(gateway);
    try {
      expectRefused(await presentFrom(gateway, revoked.token, ip), 'SESSION_REVOKED');
      expectRefused(await presentFrom(gateway, orphan.token, ip), 'USER_NOT_FOUND');
    } finally {
      await restore();
    }
  });

  test('turns a remembered SESSION_REVOKED into USER_NOT_FOUND once the account is deleted', async ({ gateway }) => {
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const revoked = await createToken(alice, 'revoked');
    await alice.request(RevokePersonalAccessTokenDocument, { id: revoked.personalAccessToken.id });
    const ip = nextIp();
    expectRefused(await presentFrom(gateway, revoked.token, ip), 'SESSION_REVOKED');
    expect((await alice.request(DeleteAccountDocument, { password: PASSWORD })).errors).toBeUndefined();
    expectRefused(await presentFrom(gateway, revoked.token, ip), 'USER_NOT_FOUND');
  });

  test('keeps refusals apart from live tokens, so that a flood of them pushes no live token out', () => {
    const clock = new ManualClock();
    const cache = new PersonalAccessTokenCache({ clock, maxEntries: 2, maxRefusals: 2 });
    const live = { tokenId: 't', userId: 'u', scopes: [], expiresAt: null, lastUsedAt: null };
    cache.set('live', live, cache.generation);
    for (let i = 0; i < 100; i++) cache.setRefusal(`unknown-${i}`, 'TOKEN_INVALID', undefined, cache.generation);
    expect(cache.get('live')).toBe(live);
    expect(cache.refusalOf('unknown-99')).toBe('TOKEN_INVALID');
    expect(cache.refusalOf('unknown-0')).toBeUndefined();
  });
});

describe('refused tokens per client IP (30 a minute)', () => {
  test('answers RATE_LIMITED after 30 refusals, before any database read; other clients and cached tokens go on', async ({ gateway }) => {
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const cached = (await createToken(alice, 'cached')).token;
    const uncached = (await createToken(alice, 'uncached')).token;
    const attacker = nextIp();
    expect((await presentFrom(gateway, cached, attacker)).errors).toBeUndefined();

    // Refusals of every kind count: unknown, malformed, from the cache of refusals.
    const remembered = generatePersonalAccessToken();
    for (let i = 0; i < 10; i++) expectRefused(await presentFrom(gateway, generatePersonalAccessToken(), attacker), 'TOKEN_INVALID');
    for (let i = 0; i < 10; i++) expectRefused(await presentFrom(gateway, `gwp_not-even-well-formed-${i}`, attacker), 'TOKEN_INVALID');
    for (let i = 0; i < 10; i++) expectRefused(await presentFrom(gateway, remembered, attacker), 'TOKEN_INVALID');
    expectRateLimited(await presentFrom(gateway, generatePersonalAccessToken(), attacker), { min: 1, max: 60 });

    const restore = await hideTokenTables(gateway);
    try {
      // Refused without a look-up: the database could not have answered.
      expectRateLimited(await presentFrom(gateway, generatePersonalAccessToken(), attacker), { min: 1, max: 60 });
      // A good token this instance does not hold needs a look-up too, and waits like the rest.
      expectRateLimited(await presentFrom(gateway, uncached, attacker), { min: 1, max: 60 });
      // One it holds costs nothing and is served.
      expect((await presentFrom(gateway, cached, attacker)).data?.me.username).toBe('alice');
    } finally {
      await restore();
    }
    // Another client is not held back.
    const bystander = nextIp();
    expectRefused(await presentFrom(gateway, generatePersonalAccessToken(), bystander), 'TOKEN_INVALID');
    expect((await presentFrom(gateway, uncached, bystander)).data?.me.username).toBe('alice');
  });

  test('counts tokens refused at a WebSocket connect against the same client IP', async ({ startGateway, realtime }) => {
    const gateway = await startGateway({ env: { RATE_LIMIT_FAILED_TOKENS_PER_MINUTE: '3' } });
    const client = nextIp();
    for (let i = 0; i < 3; i++) {
      const ws = realtime.ws(gateway.wsUrl, {
        connectionParams: { authorization: `Bearer ${generatePersonalAccessToken()}` },
        headers: { 'x-forwarded-for': client },
      });
      expect(await ws.closed).toEqual({ code: 4401, reason: 'Invalid credential' });
    }
    expectRateLimited(await presentFrom(gateway, generatePersonalAccessToken(), client), { min: 1, max: 60 });
  });

  test('does not count good tokens, even those that needed a database look-up', async ({ gateway }) => {
    const { client: alice } = await register(gateway, 'alice', { from: nextIp() });
    const tokens = [];
    for (let i = 0; i < 5; i++) tokens.push((await createToken(alice, `token ${i}`)).token);
    const client = nextIp();
    for (let i = 0; i < 29; i++) expectRefused(await presentFrom(gateway, generatePersonalAccessToken(), client), 'TOKEN_INVALID');
    for (const token of tokens) expect((await presentFrom(gateway, token, client)).errors).toBeUndefined();
    // The 30th refusal is still let through to the database, the 31st not.
    expectRefused(await presentFrom(gateway, generatePersonalAccessToken(), client), 'TOKEN_INVALID');
    expectRateLimited(await presentFrom(gateway, generatePersonalAccessToken(), client), { min: 1, max: 60 });
  });

  test('counts concurrent presentations exactly: 30 look-ups of 45, round after round', async ({ gateway }) => {
    for (let round = 0; round < 20; round++) {
      const client = nextIp();
      const answers = await Promise.all(Array.from({ length: 45 }, () => presentFrom(gateway, generatePersonalAccessToken(), client)));
      expect(answers.filter((answer) => errorReason(answer) === 'TOKEN_INVALID')).toHaveLength(30);
      expect(answers.filter((answer) => answer.status === 429)).toHaveLength(15);
    }
  });

  test('lets the client try again when the minute has passed, and follows RATE_LIMIT_FAILED_TOKENS_PER_MINUTE', async ({ startGateway }) => {
    // Redis counts its window on its own clock, which no test can move: in memory here.
    const gateway = await startGateway({ env: { RATE_LIMIT_FAILED_TOKENS_PER_MINUTE: '3', REDIS_URL: '' } });
    const client = nextIp();
    for (let i = 0; i < 3; i++) expectRefused(await presentFrom(gateway, generatePersonalAccessToken(), client), 'TOKEN_INVALID');
    expectRateLimited(await presentFrom(gateway, generatePersonalAccessToken(), client), { min: 1, max: 60 });
    vi.setSystemTime(Date.now() + 60 * SECOND);
    expectRefused(await presentFrom(gateway, generatePersonalAccessToken(), client), 'TOKEN_INVALID');
  });
});
