import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterEach, vi } from 'vitest';
import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  DevicesDocument,
  LogoutAllDocument,
  LogoutDocument,
  MeDocument,
  PersonalAccessTokensDocument,
  RevokeDeviceDocument,
  RevokePersonalAccessTokenDocument,
  UpdateUsernameDocument,
} from '../client/src/operations.js';
import {
  checksumOf,
  generatePersonalAccessToken,
  isWellFormedPersonalAccessToken,
  PERSONAL_ACCESS_TOKEN_PREFIX,
} from '../src/auth/personal-access-tokens/token-format.js';
import { PersonalAccessTokenStore } from '../src/auth/personal-access-tokens/token-store.js';
import { LAST_USED_WRITE_INTERVAL_MS } from '../src/auth/personal-access-tokens/token-verifier.js';
import { describe, expect, PASSWORD, register, signIn, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient, type GraphQLResponse } from './helpers/graphql-client.js';
import { eventStreamResults, within } from './helpers/realtime-clients.js';
import type { TestGateway } from './helpers/test-gateway.js';

const DAY_MS = 24 * 3600 * 1000;
const TOKEN_SHAPE = /^gwp_[0-9A-Za-z]{38}$/;

describe('the token format', () => {
  test('is gwp_, 32 random base62 characters and a 6-character CRC32 checksum', () => {
    const tokens = Array.from({ length: 200 }, generatePersonalAccessToken);
    for (const token of tokens) {
      expect(token).toMatch(TOKEN_SHAPE);
      expect(isWellFormedPersonalAccessToken(token)).toBe(true);
      expect(token.slice(-6)).toBe(checksumOf(token.slice(4, 36)));
    }
    expect(new Set(tokens).size).toBe(tokens.length);
    // Every base62 character turns up: the alphabet is used whole.
    expect(new Set(tokens.join('').replaceAll(PERSONAL_ACCESS_TOKEN_PREFIX, '')).size).toBe(62);
  });

  test('encodes the checksum as zero-padded base62 of the CRC32', () => {
    // zlib's CRC32 of "123456789" is the standard check value 0xCBF43926 = 3421780262.
    let value = 0xcbf43926;
    let expected = '';
    for (let i = 0; i < 6; i++) {
      expected = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[value % 62] + expected;
      value = Math.floor(value / 62);
    }
    expect(checksumOf('123456789')).toBe(expected);
    expect(expected).toHaveLength(6);
  });

  const valid = generatePersonalAccessToken();
  const flipped = (token: string, index: number) => token.slice(0, index) + (token[index] === 'a' ? 'b' : 'a') + token.slice(index + 1);
  test.each([
    ['a changed random character', flipped(valid, 10)],
    ['a changed checksum character', flipped(valid, valid.length - 1)],
    ['a missing character', valid.slice(0, -1)],
    ['an extra character', `${valid}a`],
    ['another prefix', `ghp_${valid.slice(4)}`],
    ['a non-base62 character', `${valid.slice(0, 8)}-${valid.slice(9)}`],
    ['the prefix alone', 'gwp_'],
  ])('refuses %s', (_name, token) => {
    expect(isWellFormedPersonalAccessToken(token)).toBe(false);
  });
});

describe('personal access tokens over HTTP', () => {
  test.override({ gatewayOptions: { now: new Date('2030-01-01T00:00:00Z') } });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  async function createToken(owner: GraphQLClient, input: { name: string; scopes?: string[]; expiresInDays?: number }) {
    const response = await owner.request(CreatePersonalAccessTokenDocument, { input });
    expect(response.errors).toBeUndefined();
    return response.data!.createPersonalAccessToken;
  }

  const bearer = (gateway: TestGateway, token: string) => new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` });

  function expectForbidden(response: GraphQLResponse<unknown>, requiredScopes?: string[]) {
    expect(response.status).toBe(403);
    expect(errorCode(response)).toBe('FORBIDDEN');
    expect(response.errors?.[0]?.extensions?.requiredScopes).toEqual(requiredScopes);
  }

  test('creates a token shown once, stores only its SHA-256, and lists it with its prefix', async ({ gateway, signedIn: alice }) => {
    const created = await createToken(alice.client, { name: '  CI deploys  ' });
    expect(created.token).toMatch(TOKEN_SHAPE);
    const view = created.personalAccessToken;
    expect(view).toMatchObject({ name: 'CI deploys', scopes: ['profile:read'], expiresAt: null, lastUsedAt: null, createdAt: '2030-01-01T00:00:00.000Z' });
    expect(view.prefix).toBe(created.token.slice(0, 8));
    expect(view.prefix.startsWith('gwp_')).toBe(true);

    const rows = await gateway.handle.db.selectFrom('personal_access_tokens').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(createHash('sha256').update(created.token).digest('hex'));
    expect(JSON.stringify(rows)).not.toContain(created.token.slice(8));

    const listed = await alice.client.request(PersonalAccessTokensDocument);
    expect(listed.data?.personalAccessTokens).toEqual([view]);
    expect(JSON.stringify(listed)).not.toContain(created.token);
    expect(gateway.logs.join('')).not.toContain(created.token);
  });

  test('lists the caller’s unrevoked tokens newest first, and only the caller’s', async ({ gateway, signedIn: alice }) => {
    const bob = await register(gateway, 'bob');
    const first = await createToken(alice.client, { name: 'first' });
    gateway.clock.advance(1000);
    const second = await createToken(alice.client, { name: 'second', expiresInDays: 30 });
    gateway.clock.advance(1000);
    const third = await createToken(alice.client, { name: 'third' });
    await createToken(bob.client, { name: 'bob’s' });
    await alice.client.request(RevokePersonalAccessTokenDocument, { id: third.personalAccessToken.id });

    const listed = (await alice.client.request(PersonalAccessTokensDocument)).data!.personalAccessTokens;
    expect(listed.map((t) => t.name)).toEqual(['second', 'first']);
    expect(listed[0]!.expiresAt).toBe(new Date(Date.parse('2030-01-01T00:00:01Z') + 30 * DAY_MS).toISOString());
    expect(listed[1]!.id).toBe(first.personalAccessToken.id);
    expect(second.personalAccessToken.scopes).toEqual(['profile:read']);
  });

  test('authenticates through the Authorization header, the accessToken cookie, ?token= and a WebSocket', async ({ gateway, signedIn: alice, realtime }) => {
    const { token } = await createToken(alice.client, { name: 'everywhere', scopes: ['profile:read', 'sessions:read'] });
    const viaHeader = await bearer(gateway, token).request(MeDocument);
    const viaCookie = await new GraphQLClient(gateway.url).request(MeDocument, {}, { headers: { cookie: `accessToken=${token}` } });
    for (const response of [viaHeader, viaCookie]) {
      expect(response.errors).toBeUndefined();
      expect(response.data?.me.id).toBe(alice.user.id);
    }
    // ?token= counts on SSE requests (and WebSocket upgrades) only.
    const viaQuery = await fetch(`${gateway.url}?token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(eventStreamResults(await viaQuery.text())).toEqual([{ data: { me: { id: alice.user.id } } }]);

    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${token}` } });
    await within(socket.connected, 5000, 'connection ack');
    expect(gateway.services.live.size).toBe(1);
    await socket.dispose();
    expect(gateway.logs.join('')).not.toContain(token);
  });

  test('never manages credentials: every credential mutation answers FORBIDDEN to a token holding every scope', async ({ gateway, signedIn: alice }) => {
    const { token, personalAccessToken } = await createToken(alice.client, {
      name: 'all scopes',
      scopes: ['profile:read', 'profile:write', 'sessions:read', 'tokens:read', 'app:admin'],
    });
    const pat = bearer(gateway, token);
    const attempts = [
      await pat.request(CreatePersonalAccessTokenDocument, { input: { name: 'escalate', scopes: ['profile:write'] } }),
      await pat.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'another long passphrase' }),
      await pat.request(DeleteAccountDocument, { password: PASSWORD }),
      await pat.request(LogoutAllDocument),
      await pat.request(RevokeDeviceDocument, { id: alice.session.id }),
      await pat.request(LogoutDocument),
      await pat.request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id }),
    ];
    for (const response of attempts) expectForbidden(response, undefined);

    // Nothing happened: one token, the session live, the password unchanged, the account there.
    expect(await gateway.handle.db.selectFrom('personal_access_tokens').select('revoked_at').execute()).toEqual([{ revoked_at: null }]);
    expect(await gateway.handle.db.selectFrom('sessions').select('revoked_at').execute()).toEqual([{ revoked_at: null }]);
    expect((await alice.client.request(MeDocument)).data?.me.username).toBe('alice');
    expect((await pat.request(MeDocument)).data?.me.username).toBe('alice');
  });

  test('answers a missing scope with FORBIDDEN naming it in extensions.requiredScopes', async ({ gateway, signedIn: alice }) => {
    const readOnly = bearer(gateway, (await createToken(alice.client, { name: 'read only' })).token);
    expectForbidden(await readOnly.request(DevicesDocument), ['sessions:read']);
    expectForbidden(await readOnly.request(PersonalAccessTokensDocument), ['tokens:read']);
    expectForbidden(await readOnly.request(UpdateUsernameDocument, { username: 'mallory' }), ['profile:write']);
    expect((await readOnly.request(MeDocument)).data?.me.username).toBe('alice');

    const appOnly = bearer(gateway, (await createToken(alice.client, { name: 'app', scopes: ['orders:read'] })).token);
    expectForbidden(await appOnly.request(MeDocument), ['profile:read']);

    const writer = bearer(gateway, (await createToken(alice.client, { name: 'writer', scopes: ['profile:write', 'tokens:read'] })).token);
    const renamed = await writer.request(UpdateUsernameDocument, { username: 'alicia' });
    expect(renamed.data?.updateUsername.username).toBe('alicia');
    expect((await writer.request(PersonalAccessTokensDocument)).data?.personalAccessTokens).toHaveLength(3);
  });

  test('validates scopes: known or application-shaped, non-empty, deduplicated, at most 50', async ({ gateway, signedIn: alice }) => {
    const accepted = await createToken(alice.client, {
      name: 'apps',
      scopes: ['orders:read', 'billing:invoices:*', 'app', 'tokens:read', 'orders:read', 'my-app_2:write-all'],
    });
    expect(accepted.personalAccessToken.scopes).toEqual(['orders:read', 'billing:invoices:*', 'app', 'tokens:read', 'my-app_2:write-all']);

    const refused = [
      [],
      ['profile:admin'],
      ['sessions:write'],
      ['Orders:read'],
      ['orders::read'],
      ['orders:'],
      [':read'],
      ['1app'],
      ['orders read'],
      ['a'.repeat(101)],
    ];
    refused.push(Array.from({ length: 51 }, (_, i) => `app:scope${i}`));
    for (const scopes of refused) {
      const response = await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'bad', scopes } });
      expect(errorCode(response), JSON.stringify(scopes).slice(0, 40)).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.extensions?.field).toBe('scopes');
    }
    expect(await gateway.handle.db.selectFrom('personal_access_tokens').select('id').execute()).toHaveLength(1);
  });

  test('says which scope is wrong and why', async ({ signedIn: alice }) => {
    const messageFor = async (scopes: string[]) =>
      (await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'bad', scopes } })).errors?.[0]?.message ?? '';
    const unknown = await messageFor(['orders:read', 'profile:admin']);
    expect(unknown).toContain('"profile:admin"');
    expect(unknown).toContain('profile:read, profile:write');
    const malformed = await messageFor(['Orders:read']);
    expect(malformed).toContain('"Orders:read"');
    expect(malformed).toContain('^[a-z][a-z0-9_-]*(:[a-z0-9_*-]+)*$');
  });

  test('validates the name and expiresInDays', async ({ gateway, signedIn: alice }) => {
    const cases: [{ name: string; expiresInDays?: number }, string][] = [
      [{ name: '' }, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'x'.repeat(101) }, 'name'],
      [{ name: 'line\nbreak' }, 'name'],
      [{ name: 'deploy\u202Egnp.exe' }, 'name'],
      [{ name: 'ok', expiresInDays: 0 }, 'expiresInDays'],
      [{ name: 'ok', expiresInDays: -1 }, 'expiresInDays'],
      [{ name: 'ok', expiresInDays: 3651 }, 'expiresInDays'],
    ];
    for (const [input, field] of cases) {
      const response = await alice.client.request(CreatePersonalAccessTokenDocument, { input });
      expect(errorCode(response)).toBe('BAD_USER_INPUT');
      expect(response.errors?.[0]?.extensions?.field).toBe(field);
    }
    const longest = await createToken(alice.client, { name: 'x'.repeat(100), expiresInDays: 3650 });
    expect(longest.personalAccessToken.expiresAt).toBe(new Date(gateway.clock.now() + 3650 * DAY_MS).toISOString());
  });

  test('holds at most 50 live tokens per user; revoked and expired ones make room', async ({ gateway, signedIn: alice }) => {
    const bob = await register(gateway, 'bob');
    const created = [];
    for (let i = 0; i < 50; i++) created.push(await createToken(alice.client, { name: `token ${i}`, expiresInDays: i === 0 ? 1 : undefined }));
    const refused = await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'one too many' } });
    expect(errorCode(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors?.[0]?.extensions?.field).toBe('input');
    await createToken(bob.client, { name: 'another user is not affected' });

    await alice.client.request(RevokePersonalAccessTokenDocument, { id: created[1]!.personalAccessToken.id });
    await createToken(alice.client, { name: 'in the revoked one’s place' });
    expect(errorCode(await alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'full again' } }))).toBe('BAD_USER_INPUT');

    gateway.clock.advance(DAY_MS);
    await createToken((await signIn(gateway, 'alice')).client, { name: 'in the expired one’s place' });
  });

  test('takes the last free places once under concurrent creations', async ({ gateway, signedIn: alice }) => {
    for (let i = 0; i < 45; i++) await createToken(alice.client, { name: `token ${i}` });
    const attempts = await Promise.all(
      Array.from({ length: 12 }, (_, i) => alice.client.request(CreatePersonalAccessTokenDocument, { input: { name: `racer ${i}` } })),
    );
    expect(attempts.filter((a) => a.errors === undefined)).toHaveLength(5);
    for (const refused of attempts.filter((a) => a.errors !== undefined)) expect(errorCode(refused)).toBe('BAD_USER_INPUT');
    expect(await gateway.handle.db.selectFrom('personal_access_tokens').select('id').execute()).toHaveLength(50);
  });

  test('refuses an expired token by the clock, cached or not', async ({ gateway, signedIn: alice }) => {
    const { token } = await createToken(alice.client, { name: 'short', expiresInDays: 1 });
    const pat = bearer(gateway, token);
    expect((await pat.request(MeDocument)).errors).toBeUndefined();
    gateway.clock.advance(DAY_MS - 1);
    expect((await pat.request(MeDocument)).errors).toBeUndefined();
    gateway.clock.advance(1);
    const expired = await pat.request(MeDocument);
    expect(expired.status).toBe(401);
    expect(errorReason(expired)).toBe('TOKEN_EXPIRED');

    // The same from a fresh look-up (the cache long expired).
    gateway.clock.advance(DAY_MS);
    expect(errorReason(await pat.request(MeDocument))).toBe('TOKEN_EXPIRED');
    // Still listed, with its expiry, until revoked.
    const listed = (await (await signIn(gateway, 'alice')).client.request(PersonalAccessTokensDocument)).data!.personalAccessTokens;
    expect(listed.map((t) => t.expiresAt)).toEqual(['2030-01-02T00:00:00.000Z']);
  });

  test('refuses a token with a bad checksum without a database look-up', async ({ gateway, signedIn: alice }) => {
    const { token } = await createToken(alice.client, { name: 'real' });
    const lookups = vi.spyOn(PersonalAccessTokenStore.prototype, 'findByHash');
    const typo = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    const forged = `gwp_${'A'.repeat(38)}`;
    for (const bad of [typo, forged, 'gwp_short', `${token}x`]) {
      const response = await bearer(gateway, bad).request(MeDocument);
      expect(response.status).toBe(401);
      expect(errorReason(response)).toBe('TOKEN_INVALID');
    }
    expect(lookups).not.toHaveBeenCalled();

    // Proof by absence: with the table gone, a malformed token is still refused as before,
    // while a well-formed unknown one does reach the database (and fails there).
    await sql`drop table personal_access_tokens`.execute(gateway.handle.db);
    expect(errorReason(await bearer(gateway, typo).request(MeDocument))).toBe('TOKEN_INVALID');
    const wellFormedUnknown = generatePersonalAccessToken();
    expect(errorCode(await bearer(gateway, wellFormedUnknown).request(MeDocument))).toBe('INTERNAL');
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  test('refuses a well-formed token that was never issued with TOKEN_INVALID', async ({ gateway }) => {
    const response = await bearer(gateway, generatePersonalAccessToken()).request(MeDocument);
    expect(response.status).toBe(401);
    expect(errorReason(response)).toBe('TOKEN_INVALID');
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  test('serves a busy token from the cache: one database look-up for many requests', async ({ gateway, signedIn: alice }) => {
    const { token } = await createToken(alice.client, { name: 'busy' });
    const lookups = vi.spyOn(PersonalAccessTokenStore.prototype, 'findByHash');
    for (let i = 0; i < 5; i++) expect((await bearer(gateway, token).request(MeDocument)).errors).toBeUndefined();
    expect(lookups).toHaveBeenCalledTimes(1);
  });

  test('revokes a token at once, even while it is cached, and only the owner can', async ({ gateway, signedIn: alice }) => {
    const bob = await register(gateway, 'bob');
    const { token, personalAccessToken } = await createToken(alice.client, { name: 'soon revoked' });
    const pat = bearer(gateway, token);
    expect((await pat.request(MeDocument)).errors).toBeUndefined(); // now cached

    for (const id of [personalAccessToken.id, '00000000-0000-4000-8000-000000000000']) {
      const response = await bob.client.request(RevokePersonalAccessTokenDocument, { id });
      expect(errorCode(response)).toBe('NOT_FOUND');
    }
    expect((await pat.request(MeDocument)).errors).toBeUndefined();

    const revoked = await alice.client.request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id });
    expect(revoked.data?.revokePersonalAccessToken).toBe(true);
    const refused = await pat.request(MeDocument);
    expect(refused.status).toBe(401);
    expect(errorReason(refused)).toBe('SESSION_REVOKED');
    const row = await gateway.handle.db.selectFrom('personal_access_tokens').select('revoked_at').executeTakeFirstOrThrow();
    expect(row.revoked_at).toBe(gateway.clock.now());

    const again = await alice.client.request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id });
    expect(errorCode(again)).toBe('NOT_FOUND');
    expect((await alice.client.request(PersonalAccessTokensDocument)).data?.personalAccessTokens).toEqual([]);
  });

  test('records lastUsedAt at most once a minute per token', async ({ gateway, signedIn: alice }) => {
    const { token, personalAccessToken } = await createToken(alice.client, { name: 'used', scopes: ['profile:read'] });
    const lastUsed = async () =>
      (await gateway.handle.db.selectFrom('personal_access_tokens').select('last_used_at').where('id', '=', personalAccessToken.id).executeTakeFirstOrThrow())
        .last_used_at;
    const start = gateway.clock.now();

    await bearer(gateway, token).request(MeDocument);
    await expect.poll(lastUsed).toBe(start);

    gateway.clock.advance(LAST_USED_WRITE_INTERVAL_MS - 1000);
    const writes = vi.spyOn(PersonalAccessTokenStore.prototype, 'touch');
    await bearer(gateway, token).request(MeDocument);
    expect(writes).not.toHaveBeenCalled();

    gateway.clock.advance(1000);
    await bearer(gateway, token).request(MeDocument);
    expect(writes).toHaveBeenCalledTimes(1);
    await expect.poll(lastUsed).toBe(start + LAST_USED_WRITE_INTERVAL_MS);
    const listed = (await alice.client.request(PersonalAccessTokensDocument)).data!.personalAccessTokens;
    expect(listed[0]!.lastUsedAt).toBe(new Date(start + LAST_USED_WRITE_INTERVAL_MS).toISOString());
  });

  test('writes lastUsedAt only when the stored one is a minute old, whichever instance or request writes', async ({ gateway, signedIn: alice }) => {
    const { personalAccessToken } = await createToken(alice.client, { name: 'shared' });
    const store = new PersonalAccessTokenStore({ db: gateway.handle.db, clock: gateway.clock, onRevoked: async () => {} });
    const lastUsed = async () =>
      (await gateway.handle.db.selectFrom('personal_access_tokens').select('last_used_at').where('id', '=', personalAccessToken.id).executeTakeFirstOrThrow())
        .last_used_at;
    const start = gateway.clock.now();
    // As if several instances, each with its own idea of the last write, recorded uses at once.
    await Promise.all([start, start + 1000, start + 2000].map((at) => store.touch(personalAccessToken.id, at, LAST_USED_WRITE_INTERVAL_MS)));
    const first = await lastUsed();
    expect([start, start + 1000, start + 2000]).toContain(first);
    await store.touch(personalAccessToken.id, first! + LAST_USED_WRITE_INTERVAL_MS - 1, LAST_USED_WRITE_INTERVAL_MS);
    expect(await lastUsed()).toBe(first);
    await store.touch(personalAccessToken.id, first! + LAST_USED_WRITE_INTERVAL_MS, LAST_USED_WRITE_INTERVAL_MS);
    expect(await lastUsed()).toBe(first! + LAST_USED_WRITE_INTERVAL_MS);
  });

  test('outlives logoutAll and a password change, which end sessions, not tokens', async ({ gateway, signedIn: alice }) => {
    const { token } = await createToken(alice.client, { name: 'survivor' });
    await alice.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'another long passphrase' });
    expect((await bearer(gateway, token).request(MeDocument)).data?.me.username).toBe('alice');
    await alice.client.request(LogoutAllDocument);
    expect((await bearer(gateway, token).request(MeDocument)).data?.me.username).toBe('alice');
  });
});
