import {
  ChangePasswordDocument,
  DeleteAccountDocument,
  LoginDocument,
  MeDocument,
  RegisterDocument,
  UpdateUsernameDocument,
} from '../client/src/operations.js';
import { describe, expect, PASSWORD, test } from './helpers/fixtures.js';
import { errorCode, GraphQLClient } from './helpers/graphql-client.js';
import type { TestGateway } from './helpers/test-gateway.js';

// The answers themselves are under test (codes, fields, statuses, headers), refusals included:
// these send the operations and return what came back, where accounts.ts's helpers would throw.
function register(gateway: TestGateway, username: string, pw = PASSWORD) {
  return new GraphQLClient(gateway.url).request(RegisterDocument, { input: { username, password: pw, refreshTokenDelivery: 'BODY' } });
}

function login(gateway: TestGateway, username: string, pw = PASSWORD) {
  return new GraphQLClient(gateway.url).request(LoginDocument, { input: { username, password: pw, refreshTokenDelivery: 'BODY' } });
}

describe('registration rules', () => {
  test.for<[string, string]>([
    ['ab', 'username'],
    ['a'.repeat(33), 'username'],
    ['has space', 'username'],
    ['emoji🙂', 'username'],
    ['semi;colon', 'username'],
  ])('refuses the username %j', async ([username, field], { gateway }) => {
    const response = await register(gateway, username);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.extensions!.field).toBe(field);
  });

  test.for<[string, string]>([
    ['seven77', 'password'],
    ['x'.repeat(257), 'password'],
    ['x'.repeat(5000), 'password'],
  ])('refuses a password of %#', async ([pw, field], { gateway }) => {
    const response = await register(gateway, 'valid_name', pw);
    expect(errorCode(response)).toBe('BAD_USER_INPUT');
    expect(response.errors![0]!.extensions!.field).toBe(field);
    expect(await gateway.handle.db.selectFrom('users').selectAll().execute()).toEqual([]);
  });

  test('accepts 8 and 256 characters, counting characters rather than bytes', async ({ gateway }) => {
    expect((await register(gateway, 'eight', '12345678')).errors).toBeUndefined();
    expect((await register(gateway, 'long_one', 'é'.repeat(256))).errors).toBeUndefined();
  });

  test('accepts usernames of 3 and 32 characters from the whole allowed set', async ({ gateway }) => {
    for (const username of ['abc', 'a'.repeat(32), 'Az09_.-x']) {
      const response = await register(gateway, username);
      expect(response.errors).toBeUndefined();
      expect(response.data!.register.user.username).toBe(username);
    }
  });

  test('normalises with NFKC before counting: a ligature counts as its two letters, a combining accent joins its letter', async ({ gateway }) => {
    // 130 ligatures are 260 letters once normalised: too long, although 130 were typed.
    const ligatures = await register(gateway, 'ligatures', '\uFB01'.repeat(130));
    expect(errorCode(ligatures)).toBe('BAD_USER_INPUT');
    expect(ligatures.errors![0]!.extensions!.field).toBe('password');
    // 260 code points typed, 130 once composed: accepted, and the composed form signs in.
    expect((await register(gateway, 'combining', 'e\u0301'.repeat(130))).errors).toBeUndefined();
    expect((await login(gateway, 'combining', '\u00E9'.repeat(130))).errors).toBeUndefined();
  });

  test('refuses a password over 256 characters before hashing it', async ({ gateway }) => {
    const { passwords } = gateway.services;
    let hashes = 0;
    const hash = passwords.hash.bind(passwords);
    passwords.hash = async (pw) => {
      hashes++;
      return hash(pw);
    };
    expect(errorCode(await register(gateway, 'too_long', 'x'.repeat(257)))).toBe('BAD_USER_INPUT');
    expect(hashes).toBe(0);
    expect((await register(gateway, 'just_right', 'x'.repeat(256))).errors).toBeUndefined();
    expect(hashes).toBe(1);
  });

  test('never truncates: every character of a long password counts', async ({ gateway }) => {
    const long = `${'p'.repeat(100)}the end`;
    await register(gateway, 'truncation', long);
    // bcrypt would stop at 72 bytes; Argon2 must not, nor must anything before it.
    expect(errorCode(await login(gateway, 'truncation', long.slice(0, 72)))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await login(gateway, 'truncation', long.slice(0, -1)))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await login(gateway, 'truncation', `${long.slice(0, -1)}D`))).toBe('INVALID_CREDENTIALS');
    expect((await login(gateway, 'truncation', long)).errors).toBeUndefined();
  });

  test('treats usernames case-insensitively unique', async ({ gateway }) => {
    expect((await register(gateway, 'Mixed.Case-1')).errors).toBeUndefined();
    expect(errorCode(await register(gateway, 'mixed.case-1'))).toBe('USERNAME_TAKEN');
    expect((await login(gateway, 'MIXED.CASE-1')).data?.login.user.username).toBe('Mixed.Case-1');
  });
});

describe('login', () => {
  test('gives one error for an unknown user and a wrong password', async ({ gateway }) => {
    await register(gateway, 'known');
    const wrongPassword = await login(gateway, 'known', 'not the password');
    const unknownUser = await login(gateway, 'unknown', PASSWORD);
    const tooLong = await login(gateway, 'known', 'x'.repeat(300));
    const unknownTooLong = await login(gateway, 'unknown', 'x'.repeat(300));
    expect(errorCode(wrongPassword)).toBe('INVALID_CREDENTIALS');
    for (const other of [unknownUser, tooLong, unknownTooLong]) {
      expect(other.errors).toEqual(wrongPassword.errors);
      expect(other.status).toBe(wrongPassword.status);
      expect([...other.headers.keys()].sort()).toEqual([...wrongPassword.headers.keys()].sort());
    }
  });

  test('folds only ASCII case: a look-alike name (the Kelvin sign for K) is an unknown user', async ({ gateway }) => {
    await register(gateway, 'kate');
    expect((await login(gateway, 'KATE')).data?.login.user.username).toBe('kate');
    expect(errorCode(await login(gateway, '\u212Aate'))).toBe('INVALID_CREDENTIALS');
  });

  test('still costs an unknown user one Argon2 verification', async ({ gateway }) => {
    const { passwords } = gateway.services;
    let dummyVerifications = 0;
    const verifyDummy = passwords.verifyDummy.bind(passwords);
    passwords.verifyDummy = async (pw) => {
      dummyVerifications++;
      return verifyDummy(pw);
    };
    expect(errorCode(await login(gateway, 'nobody', PASSWORD))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await login(gateway, 'nobody', 'x'.repeat(300)))).toBe('INVALID_CREDENTIALS');
    expect(dummyVerifications).toBe(2);
  });

  test('matches a password typed in another Unicode normal form (NFKC)', async ({ gateway }) => {
    await register(gateway, 'unicode', 'ｐａｓｓｗｏｒｄ１２');
    expect((await login(gateway, 'unicode', 'password12')).errors).toBeUndefined();
    const composed = 'café au lait';
    await register(gateway, 'accents', composed);
    expect((await login(gateway, 'accents', composed.normalize('NFD'))).errors).toBeUndefined();
  });

  test('re-hashes on login when the Argon2 parameters changed', async ({ gateway: first, startGateway }) => {
    await register(first, 'rehash');
    const before = await first.handle.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
    expect(before.password_hash).toContain('t=2');
    await first.close({ keepDatabase: true });

    const second = await startGateway({ env: { ARGON2_ITERATIONS: '3', ARGON2_MEMORY_KIB: '12288' }, database: first.database });
    expect((await login(second, 'rehash')).errors).toBeUndefined();
    const after = await second.handle.db.selectFrom('users').select('password_hash').executeTakeFirstOrThrow();
    expect(after.password_hash).toMatch(/^\$argon2id\$v=19\$m=12288,p=1,t=3\$/);
    expect((await login(second, 'rehash')).errors).toBeUndefined();
  });

  test('never lets a re-hash undo a password change that landed after the verification', async ({ gateway }) => {
    const userId = (await register(gateway, 'raced')).data!.register.user.id;
    const { users } = gateway.services;
    const verified = (await users.findById(userId))!.password_hash!;
    await users.setPasswordHash(userId, 'changed-meanwhile', gateway.clock.now());
    expect(await users.replacePasswordHash(userId, verified, 'rehash-of-the-old-password', gateway.clock.now())).toBe(false);
    expect((await users.findById(userId))!.password_hash).toBe('changed-meanwhile');
    expect(await users.replacePasswordHash(userId, 'changed-meanwhile', 'rehash', gateway.clock.now())).toBe(true);
    expect((await users.findById(userId))!.password_hash).toBe('rehash');
  });
});

describe('account changes', () => {
  test('renames, refusing a taken or invalid name', async ({ gateway }) => {
    await register(gateway, 'taken');
    const token = (await register(gateway, 'renamer')).data!.register.accessToken;
    const client = new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` });
    expect(errorCode(await client.request(UpdateUsernameDocument, { username: 'TAKEN' }))).toBe('USERNAME_TAKEN');
    expect(errorCode(await client.request(UpdateUsernameDocument, { username: 'x' }))).toBe('BAD_USER_INPUT');
    expect((await client.request(UpdateUsernameDocument, { username: 'Renamed' })).data?.updateUsername.username).toBe('Renamed');
    // Its own name in another letter case is no conflict.
    expect((await client.request(UpdateUsernameDocument, { username: 'RENAMED' })).data?.updateUsername.username).toBe('RENAMED');
    expect((await client.request(UpdateUsernameDocument, { username: 'Renamed' })).data?.updateUsername.username).toBe('Renamed');
    expect((await client.request(MeDocument)).data?.me.username).toBe('Renamed');
    expect((await register(gateway, 'renamer')).errors).toBeUndefined();
  });

  test('changes the password only with the current one and a valid new one', async ({ gateway }) => {
    const token = (await register(gateway, 'changer')).data!.register.accessToken;
    const client = new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` });
    expect(errorCode(await client.request(ChangePasswordDocument, { currentPassword: 'wrong password', newPassword: 'brand new password' }))).toBe(
      'INVALID_CREDENTIALS',
    );
    const short = await client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'short' });
    expect(errorCode(short)).toBe('BAD_USER_INPUT');
    expect(short.errors![0]!.extensions!.field).toBe('newPassword');
    expect((await client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'brand new password' })).data?.changePassword).toBe(true);
    expect(errorCode(await login(gateway, 'changer'))).toBe('INVALID_CREDENTIALS');
    expect((await login(gateway, 'changer', 'brand new password')).errors).toBeUndefined();
  });

  test('deletes the account only with its password', async ({ gateway }) => {
    const token = (await register(gateway, 'leaver')).data!.register.accessToken;
    const client = new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` });
    expect(errorCode(await client.request(DeleteAccountDocument, { password: 'wrong password' }))).toBe('INVALID_CREDENTIALS');
    expect((await client.request(DeleteAccountDocument, { password: PASSWORD })).data?.deleteAccount).toBe(true);
    expect(await gateway.handle.db.selectFrom('users').selectAll().execute()).toEqual([]);
    expect(await gateway.handle.db.selectFrom('sessions').selectAll().execute()).toEqual([]);
    expect(await gateway.handle.db.selectFrom('refresh_tokens').selectAll().execute()).toEqual([]);
  });
});
