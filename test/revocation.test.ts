import { sql } from 'kysely';
import { Accounts, type PasswordAttempts } from '../src/accounts/accounts.js';
import { forgetRevokedPersonalAccessTokens } from '../src/auth/personal-access-tokens/forget-revoked-tokens.js';
import { PersonalAccessTokenCache } from '../src/auth/personal-access-tokens/token-cache.js';
import { ManualClock } from '../src/clock.js';
import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RevokePersonalAccessTokenDocument,
} from '../client/src/operations.js';
import { capturedLogger } from './helpers/captured-logger.js';
import { InProcessRevocationHub } from '../src/revocation/in-process-revocation-hub.js';
import type { Revocation, RevocationOrigin } from '../src/revocation/revocation.js';
import type { RevocationChannel } from '../src/revocation/revocation-channel.js';
import { Revocations } from '../src/revocation/revocations.js';
import { REVOCATION_MARGIN_MS, RevokedSessions } from '../src/revocation/revoked-sessions.js';
import { describe, expect, PASSWORD, register, type SignedIn, signIn, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import type { TestGateway } from './helpers/test-gateway.js';

const newPassword = 'a different long passphrase';
const START = new Date('2030-01-01T00:00:00Z');
const ACCESS_TTL_MS = 15 * 60 * 1000;

test.override({ gatewayOptions: { now: START } });

async function createPat(device: SignedIn, scopes = ['profile:read']) {
  const created = await device.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'pat', scopes } });
  return created.data!.createPersonalAccessToken;
}

async function meOf(gateway: TestGateway, token: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` }).request(MeDocument);
}

describe('changePassword', () => {
  test('refuses every other session’s access and refresh tokens at once and keeps the current one', async ({ gateway, signedIn: laptop }) => {
    const phone = await signIn(gateway, 'alice');
    const tablet = await signIn(gateway, 'alice');

    const changed = await laptop.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword });
    expect(changed.errors).toBeUndefined();
    expect(changed.data?.changePassword).toBe(true);

    for (const device of [phone, tablet]) {
      const refused = await device.client.request(MeDocument);
      expect(refused.status).toBe(401);
      expect(errorReason(refused)).toBe('SESSION_REVOKED');
      expect(errorReason(await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: device.refreshToken }))).toBe('SESSION_REVOKED');
    }
    expect((await laptop.client.request(MeDocument)).data?.me.username).toBe('alice');
    expect((await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: laptop.refreshToken })).errors).toBeUndefined();

    const rows = await gateway.handle.db.selectFrom('sessions').select(['id', 'revoked_reason']).orderBy('created_at').execute();
    expect(Object.fromEntries(rows.map((r) => [r.id, r.revoked_reason]))).toEqual({
      [laptop.session.id]: null,
      [phone.session.id]: 'PASSWORD_CHANGED',
      [tablet.session.id]: 'PASSWORD_CHANGED',
    });
  });

  test('stores no new password when the other sessions cannot be revoked with it', async ({ gateway, signedIn: laptop }) => {
    const phone = await signIn(gateway, 'alice');
    const { db, dialect } = gateway.handle;
    // A real fault inside the database, at the revocation, after the new hash was written.
    if (dialect === 'sqlite') {
      await sql`CREATE TRIGGER refuse_session_updates BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, 'sessions are read-only'); END`.execute(db);
    } else {
      await sql`CREATE FUNCTION refuse_session_updates() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'sessions are read-only'; END $$`.execute(
        db,
      );
      await sql`CREATE TRIGGER refuse_session_updates BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION refuse_session_updates()`.execute(db);
    }

    const response = await laptop.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword });
    expect(errorCode(response)).toBe('INTERNAL');
    expect(JSON.stringify(response.errors)).not.toContain('read-only');
    await sql`DROP TRIGGER refuse_session_updates${sql.raw(dialect === 'sqlite' ? '' : ' ON sessions')}`.execute(db);

    // Nothing changed: the old password still signs in, the new one does not, the phone is live.
    expect((await phone.client.request(MeDocument)).errors).toBeUndefined();
    await expect(signIn(gateway, 'alice')).resolves.toMatchObject({ user: { id: laptop.user.id } });
    const withNew = await new GraphQLClient(gateway.url).request(LoginDocument, { input: { username: 'alice', password: newPassword } });
    expect(errorCode(withNew)).toBe('INVALID_CREDENTIALS');
  });

  test('changes nothing with a wrong current password', async ({ gateway, signedIn: laptop }) => {
    const phone = await signIn(gateway, 'alice');
    const response = await laptop.client.request(ChangePasswordDocument, { currentPassword: 'wrong password here', newPassword });
    expect(errorCode(response)).toBe('INVALID_CREDENTIALS');
    expect((await phone.client.request(MeDocument)).errors).toBeUndefined();
  });
});

describe('deleteAccount', () => {
  test('removes the user, sessions and tokens; every former token is refused; the username is free again', async ({ gateway, signedIn: laptop }) => {
    const phone = await signIn(gateway, 'alice');
    const pat = await createPat(laptop);
    const cachedPat = await createPat(laptop);
    expect((await meOf(gateway, cachedPat.token)).errors).toBeUndefined();
    const bob = await register(gateway, 'bob');
    const db = gateway.handle.db;

    const deleted = await laptop.client.request(DeleteAccountDocument, { password: PASSWORD });
    expect(deleted.errors).toBeUndefined();
    expect(deleted.data?.deleteAccount).toBe(true);
    expect(deleted.headers.getSetCookie().some((c) => c.startsWith('refreshToken=;'))).toBe(true);

    // The rows are gone.
    expect(await db.selectFrom('users').select('username').execute()).toEqual([{ username: 'bob' }]);
    expect(await db.selectFrom('sessions').select('user_id').execute()).toEqual([{ user_id: bob.user.id }]);
    expect(await db.selectFrom('personal_access_tokens').select('id').execute()).toEqual([]);
    const refreshOwners = await db.selectFrom('refresh_tokens').select('session_id').execute();
    expect(refreshOwners).toEqual([{ session_id: bob.session.id }]);
    // What is remembered of the credentials names no account; the account's own id is kept
    // alone, for one access-token lifetime, for instances that missed the broadcast.
    const tombstones = await db.selectFrom('deleted_credentials').selectAll().execute();
    const credentials = tombstones.filter((t) => t.kind !== 'user');
    expect(credentials.length).toBeGreaterThan(0);
    expect(JSON.stringify(credentials)).not.toContain(laptop.user.id);
    const [account, ...others] = tombstones.filter((t) => t.kind === 'user');
    expect(others).toEqual([]);
    expect(account!.credential_id).toBe(laptop.user.id);
    expect(account!.forget_at! - account!.deleted_at).toBe(gateway.config.accessTokenTtlSeconds * 1000 + REVOCATION_MARGIN_MS);

    // Every former token is refused, and says why.
    for (const token of [laptop.accessToken, phone.accessToken, pat.token, cachedPat.token]) {
      const refused = await meOf(gateway, token);
      expect(refused.status).toBe(401);
      expect(errorReason(refused)).toBe('USER_NOT_FOUND');
    }
    for (const refreshToken of [laptop.refreshToken, phone.refreshToken]) {
      const refused = await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken });
      expect(errorCode(refused)).toBe('UNAUTHENTICATED');
      expect(errorReason(refused)).toBe('USER_NOT_FOUND');
    }
    expect((await bob.client.request(MeDocument)).data?.me.username).toBe('bob');

    // The name is free; the new account is a different one, and the old tokens stay refused.
    const again = await register(gateway, 'Alice');
    expect(again.user.id).not.toBe(laptop.user.id);
    expect((await again.client.request(MeDocument)).data?.me.username).toBe('Alice');
    expect(errorReason(await laptop.client.request(MeDocument))).toBe('USER_NOT_FOUND');
  });

  test('answers a rotated refresh token of the deleted account with USER_NOT_FOUND too', async ({ gateway, signedIn: device }) => {
    const anonymous = new GraphQLClient(gateway.url);
    const rotated = await anonymous.request(RefreshDocument, { refreshToken: device.refreshToken });
    const current = new GraphQLClient(gateway.url, { authorization: `Bearer ${rotated.data!.refresh.accessToken}` });
    expect((await current.request(DeleteAccountDocument, { password: PASSWORD })).data?.deleteAccount).toBe(true);
    for (const refreshToken of [device.refreshToken, rotated.data!.refresh.refreshToken!]) {
      expect(errorReason(await anonymous.request(RefreshDocument, { refreshToken }))).toBe('USER_NOT_FOUND');
    }
  });

  test('deletes nothing with a wrong password', async ({ signedIn: laptop }) => {
    const response = await laptop.client.request(DeleteAccountDocument, { password: 'not the password at all' });
    expect(errorCode(response)).toBe('INVALID_CREDENTIALS');
    expect((await laptop.client.request(MeDocument)).data?.me.username).toBe('alice');
  });
});

describe('a sign-in racing a credential change', () => {
  /**
   * The gateway's own account service, except that the first successful password check runs
   * `meanwhile` before the sign-in goes on: a deterministic stand-in for a request that changes
   * the account while the sign-in's Argon2 verification is still running.
   */
  function accountsWith(gateway: TestGateway, meanwhile: () => Promise<void>): Accounts {
    let pending: (() => Promise<void>) | undefined = meanwhile;
    const passwordAttempts: PasswordAttempts = {
      begin: async () => undefined,
      succeeded: async () => {
        const run = pending;
        pending = undefined;
        await run?.();
      },
    };
    const { users, sessions, accessTokens, passwords, clock, accountDeletions } = gateway.services;
    return new Accounts({ users, sessions, accessTokens, hasher: passwords, clock, deletions: accountDeletions, passwordAttempts });
  }
  const client = { userAgent: null, ip: null };

  test('gets no session when the password it verified was changed meanwhile', async ({ gateway, signedIn: laptop }) => {
    const accounts = accountsWith(gateway, async () => {
      expect((await laptop.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword })).errors).toBeUndefined();
    });
    await expect(accounts.login({ username: 'alice', password: PASSWORD }, client)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    const sessions = await gateway.handle.db.selectFrom('sessions').select('id').execute();
    expect(sessions).toEqual([{ id: laptop.session.id }]);
  });

  test('gets no session when the account was deleted meanwhile', async ({ gateway, signedIn: laptop }) => {
    const accounts = accountsWith(gateway, async () => {
      expect((await laptop.client.request(DeleteAccountDocument, { password: PASSWORD })).errors).toBeUndefined();
    });
    await expect(accounts.login({ username: 'alice', password: PASSWORD }, client)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    expect(await gateway.handle.db.selectFrom('sessions').select('id').execute()).toEqual([]);
  });

  test('still signs in when the hash only changed to a new hash of the same password (a concurrent re-hash)', async ({ gateway, signedIn: laptop }) => {
    const { users, passwords, clock } = gateway.services;
    const accounts = accountsWith(gateway, async () => users.setPasswordHash(laptop.user.id, await passwords.hash(PASSWORD), clock.now()));
    const signedIn = await accounts.login({ username: 'alice', password: PASSWORD }, client);
    expect(signedIn.user.id).toBe(laptop.user.id);
    expect(await gateway.handle.db.selectFrom('sessions').select('id').where('id', '=', signedIn.session.id).execute()).toHaveLength(1);
  });
});

describe('immediate revocation', () => {
  test('refuses the access token of a session revoked for refresh-token reuse', async ({ gateway, signedIn: device }) => {
    const anonymous = new GraphQLClient(gateway.url);
    const rotated = await anonymous.request(RefreshDocument, { refreshToken: device.refreshToken });
    gateway.clock.advance(60_000); // past the reuse grace window
    const reuse = await anonymous.request(RefreshDocument, { refreshToken: device.refreshToken });
    expect(errorReason(reuse)).toBe('REFRESH_TOKEN_REUSED');
    for (const token of [device.accessToken, rotated.data!.refresh.accessToken]) expect(errorReason(await meOf(gateway, token))).toBe('SESSION_REVOKED');
  });

  test('reads no session from the database on the access-token path: a revocation only the database knows is seen after catchUp', async ({ startGateway }) => {
    // The periodic catch-up held off, so that only the explicit one below can see the write.
    const gateway = await startGateway({ env: { REVOCATION_POLL_INTERVAL_MS: '300000' } });
    const device = await register(gateway, 'alice');
    await gateway.handle.db.updateTable('sessions').set({ revoked_at: gateway.clock.now(), revoked_reason: 'REVOKED' }).execute();
    expect((await device.client.request(MeDocument)).errors).toBeUndefined();

    await gateway.services.revocations.catchUp();
    expect(errorReason(await device.client.request(MeDocument))).toBe('SESSION_REVOKED');
  });

  test('loads recent revocations and deletions at start, so a restarted instance refuses the same tokens', async ({ gateway: first, startGateway }) => {
    const loggedOut = await register(first, 'alice');
    const stillIn = await signIn(first, 'alice');
    const deleted = await register(first, 'bob');
    await loggedOut.client.request(LogoutDocument);
    await deleted.client.request(DeleteAccountDocument, { password: PASSWORD });
    first.clock.advance(60_000);
    await first.close({ keepDatabase: true });

    const second = await startGateway({ database: first.database, now: new Date(first.clock.now()) });
    expect(errorReason(await meOf(second, loggedOut.accessToken))).toBe('SESSION_REVOKED');
    expect(errorReason(await meOf(second, deleted.accessToken))).toBe('USER_NOT_FOUND');
    expect((await meOf(second, stillIn.accessToken)).data?.me.username).toBe('alice');
  });

  test('announces every revocation to onRevoked listeners', async ({ gateway }) => {
    const heard: Revocation[] = [];
    gateway.services.revocations.onRevoked((revocation) => heard.push(revocation));
    const laptop = await register(gateway, 'alice');
    const phone = await signIn(gateway, 'alice');
    const pat = await createPat(laptop);

    await phone.client.request(LogoutDocument);
    await laptop.client.request(RevokePersonalAccessTokenDocument, { id: pat.personalAccessToken.id });
    const spare = await createPat(laptop);
    await laptop.client.request(DeleteAccountDocument, { password: PASSWORD });

    expect(heard).toEqual([
      { userId: laptop.user.id, sessionIds: [phone.session.id] },
      { userId: laptop.user.id, tokenIds: [pat.personalAccessToken.id] },
      {
        userId: laptop.user.id,
        sessionIds: expect.arrayContaining([laptop.session.id, phone.session.id]),
        tokenIds: expect.arrayContaining([pat.personalAccessToken.id, spare.personalAccessToken.id]),
        userDeleted: true,
      },
    ]);
  });
});

describe('RevokedSessions', () => {
  test('forgets a revocation once every access token issued before it has expired', () => {
    const clock = new ManualClock(START);
    const revoked = new RevokedSessions({ clock, accessTokenTtlSeconds: ACCESS_TTL_MS / 1000 });
    revoked.add(['a'], 'SESSION_REVOKED');
    clock.advance(ACCESS_TTL_MS + REVOCATION_MARGIN_MS - 1);
    expect(revoked.reasonFor('a')).toBe('SESSION_REVOKED');
    clock.advance(1);
    expect(revoked.reasonFor('a')).toBeUndefined();
    expect(revoked.size).toBe(0);
  });

  test('ignores revocations already too old to matter and never turns USER_NOT_FOUND back into SESSION_REVOKED', () => {
    const clock = new ManualClock(START);
    const revoked = new RevokedSessions({ clock, accessTokenTtlSeconds: ACCESS_TTL_MS / 1000 });
    revoked.add(['old'], 'SESSION_REVOKED', clock.now() - ACCESS_TTL_MS - REVOCATION_MARGIN_MS);
    expect(revoked.reasonFor('old')).toBeUndefined();
    revoked.add(['gone'], 'USER_NOT_FOUND');
    revoked.add(['gone'], 'SESSION_REVOKED');
    expect(revoked.reasonFor('gone')).toBe('USER_NOT_FOUND');
  });

  test('prunes expired entries as new ones arrive', () => {
    const clock = new ManualClock(START);
    const revoked = new RevokedSessions({ clock, accessTokenTtlSeconds: ACCESS_TTL_MS / 1000 });
    for (let i = 0; i < 100; i++) revoked.add([`s${i}`], 'SESSION_REVOKED');
    clock.advance(ACCESS_TTL_MS + REVOCATION_MARGIN_MS);
    revoked.add(['new'], 'SESSION_REVOKED');
    expect(revoked.size).toBe(1);
  });
});

describe('Revocations across instances', () => {
  function instance(channel: RevocationChannel, lines: string[] = []) {
    const clock = new ManualClock(START);
    const revokedSessions = new RevokedSessions({ clock, accessTokenTtlSeconds: 900 });
    const cache = new PersonalAccessTokenCache({ clock });
    const { logger } = capturedLogger('debug', lines);
    const revocations = new Revocations({ revokedSessions, channel, logger, clock, loadRevokedSince: async () => [] });
    forgetRevokedPersonalAccessTokens({ revocations, cache });
    const heard: [Revocation, RevocationOrigin][] = [];
    revocations.onRevoked((revocation, origin) => heard.push([revocation, origin]));
    return { revocations, revokedSessions, cache, heard };
  }

  test('applies a revocation announced on one instance on every instance of the hub, once each', async () => {
    const hub = new InProcessRevocationHub();
    const a = instance(hub.connect());
    const b = instance(hub.connect());
    const c = instance(hub.connect());
    b.cache.set('hash-1', { tokenId: 't1', userId: 'u1', scopes: [], expiresAt: null, lastUsedAt: null }, b.cache.generation);
    b.cache.set('hash-2', { tokenId: 't2', userId: 'u1', scopes: [], expiresAt: null, lastUsedAt: null }, b.cache.generation);

    await a.revocations.announce({ userId: 'u1', sessionIds: ['s1'], tokenIds: ['t1'] });
    for (const node of [a, b, c]) {
      expect(node.revokedSessions.reasonFor('s1')).toBe('SESSION_REVOKED');
      expect(node.heard).toEqual([[{ userId: 'u1', sessionIds: ['s1'], tokenIds: ['t1'] }, node === a ? 'local' : 'remote']]);
    }
    expect(b.cache.get('hash-1')).toBeUndefined();
    expect(b.cache.get('hash-2')).toBeDefined();

    await c.revocations.announce({ userId: 'u1', sessionIds: ['s2'], userDeleted: true });
    expect(a.revokedSessions.reasonFor('s2')).toBe('USER_NOT_FOUND');
    expect(b.cache.get('hash-2')).toBeUndefined();

    b.revocations.close();
    await a.revocations.announce({ userId: 'u2', sessionIds: ['s3'] });
    expect(b.revokedSessions.reasonFor('s3')).toBeUndefined();
    expect(c.revokedSessions.reasonFor('s3')).toBe('SESSION_REVOKED');
  });

  test('still applies a revocation locally when the broadcast fails, and logs it', async () => {
    const lines: string[] = [];
    const failing: RevocationChannel = {
      publish: async () => {
        throw new Error('broker down');
      },
      subscribe: () => () => {},
    };
    const node = instance(failing, lines);
    await node.revocations.announce({ userId: 'u1', sessionIds: ['s1'] });
    expect(node.revokedSessions.reasonFor('s1')).toBe('SESSION_REVOKED');
    expect(lines.join('')).toContain('revocation broadcast failed');
  });

  test('never caches a look-up that was read before an invalidation', () => {
    const cache = new PersonalAccessTokenCache({ clock: new ManualClock(START) });
    const generation = cache.generation;
    cache.invalidate({ userId: 'u1', tokenIds: ['t1'] });
    cache.set('hash-1', { tokenId: 't1', userId: 'u1', scopes: [], expiresAt: null, lastUsedAt: null }, generation);
    expect(cache.get('hash-1')).toBeUndefined();
  });
});
