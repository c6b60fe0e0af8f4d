import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  LoginDocument,
  LogoutAllDocument,
  LogoutDocument,
  RefreshDocument,
  RevokeDeviceDocument,
  RevokePersonalAccessTokenDocument,
} from '../client/src/operations.js';
import type { SecurityEvent } from '../src/security-events/security-event.js';
import { describe, expect, PASSWORD, register, signIn, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';

const START = new Date('2030-01-01T00:00:00Z');
const NEW_PASSWORD = 'a new horse, a new staple';
const WRONG_PASSWORD = 'wrong horse battery staple';
const BOB_PASSWORD = 'bobs own long passphrase';
const FIELDS = ['event', 'outcome', 'at', 'userId', 'username', 'sessionId', 'tokenId', 'keyId', 'algorithm', 'ip', 'userAgent', 'reason'];

test.override({ gatewayOptions: { now: START } });

/**
 * The security events among the gateway's log lines, in order, without pino's own members
 * (level, time, msg, and the child logger's `log`): exactly the fields of SecurityEvent each.
 */
function securityEvents(lines: readonly string[]): SecurityEvent[] {
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.log === 'security');
  return entries.map(({ level, time, msg, log, ...event }) => {
    expect({ level, msg, log, time: typeof time }).toEqual({ level: 30, msg: 'security event', log: 'security', time: 'number' });
    expect(Object.keys(event).sort()).toEqual([...FIELDS].sort());
    return event as unknown as SecurityEvent;
  });
}

/** An event as expected: the given fields, every other field of SecurityEvent null. */
function expected(fields: Partial<SecurityEvent>): Record<string, unknown> {
  return {
    userId: null,
    username: null,
    sessionId: null,
    tokenId: null,
    keyId: null,
    algorithm: null,
    ip: '127.0.0.1',
    userAgent: null,
    reason: null,
    ...fields,
  };
}

describe('security events', () => {
  test('records every sign-in, failure, lockout, revocation and credential change of a flow, and no secret', async ({ startGateway }) => {
    const gateway = await startGateway({
      env: { RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000', RATE_LIMIT_CREDENTIALS_BURST: '1000', RATE_LIMIT_FAILED_LOGINS: '3' },
    });
    const { url, clock } = gateway;
    const secrets = new Set<string>([PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, BOB_PASSWORD]);
    /** An anonymous client with its own user agent (the test reads it back off the events). */
    const device = (userAgent: string) => new GraphQLClient(url, { 'user-agent': userAgent });
    const keep = <T extends { accessToken: string; refreshToken?: string | null }>(payload: T): T => {
      secrets.add(payload.accessToken);
      if (payload.refreshToken) secrets.add(payload.refreshToken);
      return payload;
    };
    const failedLogin = async (username: string, password: string) => {
      const response = await device('ua-guesser').request(LoginDocument, { input: { username, password } });
      return response;
    };
    const startedAt = clock.now();

    // Registration, and failed sign-ins of every kind: all answered alike, told apart in the log only.
    const registered = keep(await register(gateway, 'alice', { userAgent: 'ua-register' }));
    const aliceId = registered.user.id;
    const unknown = await failedLogin('nobody', PASSWORD);
    const wrong = await failedLogin('alice', WRONG_PASSWORD);
    const passwordAsUsername = await failedLogin(PASSWORD, PASSWORD);
    for (const response of [unknown, wrong, passwordAsUsername]) {
      expect(errorCode(response)).toBe('INVALID_CREDENTIALS');
      expect(response.errors![0]!.extensions).toEqual(unknown.errors![0]!.extensions);
    }

    // Lockout: the third failure locks bob, the fourth attempt is refused without a check.
    const bob = keep(await register(gateway, 'bob', { userAgent: 'ua-bob', password: BOB_PASSWORD }));
    for (let i = 0; i < 3; i++) expect(errorCode(await failedLogin('bob', WRONG_PASSWORD))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await failedLogin('bob', BOB_PASSWORD))).toBe('RATE_LIMITED');

    // Sign-in, refresh, and the rotated token presented again after the grace window.
    const first = keep(await signIn(gateway, 'alice', { userAgent: 'ua-first' }));
    const refreshed = keep((await device('ua-first').request(RefreshDocument, { refreshToken: first.refreshToken })).data!.refresh);
    expect(refreshed.refreshToken).not.toBe(first.refreshToken);
    clock.advance(11_000);
    const reuseAt = clock.now();
    const reused = await device('ua-thief').request(RefreshDocument, { refreshToken: first.refreshToken });
    expect(errorReason(reused)).toBe('REFRESH_TOKEN_REUSED');

    // Logout, through cookies (their values must not reach the log either).
    const browser = device('ua-browser');
    const cookieLogin = await browser.request(LoginDocument, { input: { username: 'alice', password: PASSWORD } });
    const browserSessionId = cookieLogin.data!.login.session.id;
    keep(cookieLogin.data!.login);
    for (const name of ['accessToken', 'refreshToken']) secrets.add((await browser.cookie(name))!);
    expect((await browser.request(LogoutDocument)).data?.logout).toBe(true);

    // revokeDevice, then logoutAll.
    const laptop = keep(await signIn(gateway, 'alice', { userAgent: 'ua-laptop' }));
    const phone = keep(await signIn(gateway, 'alice', { userAgent: 'ua-phone' }));
    expect((await laptop.client.request(RevokeDeviceDocument, { id: phone.session.id })).data?.revokeDevice).toBe(true);
    const tablet = keep(await signIn(gateway, 'alice', { userAgent: 'ua-tablet' }));
    // The registration's session is live too.
    expect((await laptop.client.request(LogoutAllDocument)).data?.logoutAll).toBe(3);

    // A personal access token, created and revoked.
    const desk = keep(await signIn(gateway, 'alice', { userAgent: 'ua-desk' }));
    const other = keep(await signIn(gateway, 'alice', { userAgent: 'ua-other' }));
    const created = (await desk.client.request(CreatePersonalAccessTokenDocument, { input: { name: 'ci' } })).data!.createPersonalAccessToken;
    secrets.add(created.token);
    const tokenId = created.personalAccessToken.id;
    expect((await desk.client.request(RevokePersonalAccessTokenDocument, { id: tokenId })).data?.revokePersonalAccessToken).toBe(true);

    // changePassword (first with a wrong current password), then deleteAccount.
    expect(errorCode(await desk.client.request(ChangePasswordDocument, { currentPassword: WRONG_PASSWORD, newPassword: NEW_PASSWORD }))).toBe(
      'INVALID_CREDENTIALS',
    );
    expect((await desk.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD })).data?.changePassword).toBe(true);
    expect((await desk.client.request(DeleteAccountDocument, { password: NEW_PASSWORD })).data?.deleteAccount).toBe(true);

    // No line of the whole log, security events or not, holds a password, a token or a cookie value.
    expect(secrets.size).toBeGreaterThan(15);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(16);
      const leaking = gateway.logs.filter((line) => line.includes(secret));
      expect(leaking, `a log line holds ${secret.slice(0, 8)}…`).toEqual([]);
    }

    const events = securityEvents(gateway.logs);
    const jwks = (await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const kid = jwks.keys[0]!.kid;
    const at = (time: number) => ({ at: time });
    const alice = { userId: aliceId };
    // logoutAll revokes its sessions in no particular order: the expected list takes the log's.
    const logoutAllEvents = events.filter((e) => e.reason === 'LOGOUT_ALL');
    expect(logoutAllEvents.map((e) => e.sessionId).sort()).toEqual([registered.session.id, laptop.session.id, tablet.session.id].sort());

    expect(events).toEqual([
      expected({ event: 'key.created', outcome: 'success', ...at(startedAt), keyId: kid, algorithm: 'ES256', ip: null }),
      expected({
        event: 'account.registered',
        outcome: 'success',
        ...at(startedAt),
        ...alice,
        username: 'alice',
        sessionId: registered.session.id,
        userAgent: 'ua-register',
      }),
      expected({ event: 'auth.login.failed', outcome: 'failure', ...at(startedAt), username: 'nobody', userAgent: 'ua-guesser', reason: 'UNKNOWN_USER' }),
      expected({
        event: 'auth.login.failed',
        outcome: 'failure',
        ...at(startedAt),
        ...alice,
        username: 'alice',
        userAgent: 'ua-guesser',
        reason: 'BAD_PASSWORD',
      }),
      // A password typed into the username box is not kept.
      expected({ event: 'auth.login.failed', outcome: 'failure', ...at(startedAt), username: null, userAgent: 'ua-guesser', reason: 'UNKNOWN_USER' }),
      expected({
        event: 'account.registered',
        outcome: 'success',
        ...at(startedAt),
        userId: bob.user.id,
        username: 'bob',
        sessionId: bob.session.id,
        userAgent: 'ua-bob',
      }),
      ...[1, 2, 3].map(() =>
        expected({
          event: 'auth.login.failed',
          outcome: 'failure',
          ...at(startedAt),
          userId: bob.user.id,
          username: 'bob',
          userAgent: 'ua-guesser',
          reason: 'BAD_PASSWORD',
        }),
      ),
      expected({
        event: 'auth.lockout',
        outcome: 'failure',
        ...at(startedAt),
        userId: bob.user.id,
        username: 'bob',
        userAgent: 'ua-guesser',
        reason: 'BAD_PASSWORD',
      }),
      expected({ event: 'auth.login.failed', outcome: 'failure', ...at(startedAt), username: 'bob', userAgent: 'ua-guesser', reason: 'LOCKED' }),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(startedAt),
        ...alice,
        username: 'alice',
        sessionId: first.session.id,
        userAgent: 'ua-first',
      }),
      expected({
        event: 'session.refresh_reuse_detected',
        outcome: 'failure',
        ...at(reuseAt),
        ...alice,
        sessionId: first.session.id,
        userAgent: 'ua-thief',
        reason: 'REFRESH_TOKEN_REUSED',
      }),
      expected({
        event: 'session.revoked',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        sessionId: first.session.id,
        userAgent: 'ua-thief',
        reason: 'REFRESH_TOKEN_REUSED',
      }),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: browserSessionId,
        userAgent: 'ua-browser',
      }),
      expected({
        event: 'session.revoked',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        sessionId: browserSessionId,
        userAgent: 'ua-browser',
        reason: 'LOGOUT',
      }),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: laptop.session.id,
        userAgent: 'ua-laptop',
      }),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: phone.session.id,
        userAgent: 'ua-phone',
      }),
      // Revoked from the laptop: the client is the one that asked.
      expected({
        event: 'session.revoked',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        sessionId: phone.session.id,
        userAgent: 'ua-laptop',
        reason: 'REVOKED',
      }),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: tablet.session.id,
        userAgent: 'ua-tablet',
      }),
      ...logoutAllEvents.map((e) =>
        expected({
          event: 'session.revoked',
          outcome: 'success',
          ...at(reuseAt),
          ...alice,
          sessionId: e.sessionId,
          userAgent: 'ua-laptop',
          reason: 'LOGOUT_ALL',
        }),
      ),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: desk.session.id,
        userAgent: 'ua-desk',
      }),
      expected({
        event: 'auth.login.succeeded',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: other.session.id,
        userAgent: 'ua-other',
      }),
      expected({ event: 'pat.created', outcome: 'success', ...at(reuseAt), ...alice, tokenId, userAgent: 'ua-desk' }),
      expected({ event: 'pat.revoked', outcome: 'success', ...at(reuseAt), ...alice, tokenId, userAgent: 'ua-desk' }),
      expected({
        event: 'auth.reauthentication.failed',
        outcome: 'failure',
        ...at(reuseAt),
        ...alice,
        username: 'alice',
        sessionId: desk.session.id,
        userAgent: 'ua-desk',
        reason: 'BAD_PASSWORD',
      }),
      expected({ event: 'account.password_changed', outcome: 'success', ...at(reuseAt), ...alice, sessionId: desk.session.id, userAgent: 'ua-desk' }),
      expected({
        event: 'session.revoked',
        outcome: 'success',
        ...at(reuseAt),
        ...alice,
        sessionId: other.session.id,
        userAgent: 'ua-desk',
        reason: 'PASSWORD_CHANGED',
      }),
      expected({ event: 'account.deleted', outcome: 'success', ...at(reuseAt), ...alice, sessionId: desk.session.id, userAgent: 'ua-desk' }),
    ]);
  });

  test('records one lockout however many guesses race for the last attempt', async ({ startGateway }) => {
    const gateway = await startGateway({
      env: {
        RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000',
        RATE_LIMIT_CREDENTIALS_BURST: '1000',
        RATE_LIMIT_REGISTRATIONS_PER_HOUR: '1000',
        RATE_LIMIT_FAILED_LOGINS: '3',
      },
    });
    const client = new GraphQLClient(gateway.url);
    for (let round = 0; round < 20; round++) {
      const username = `racer${round}`;
      await register(gateway, username);
      const guesses = await Promise.all(Array.from({ length: 6 }, () => client.request(LoginDocument, { input: { username, password: WRONG_PASSWORD } })));
      expect(guesses.map(errorCode).sort()).toEqual([...Array(3).fill('INVALID_CREDENTIALS'), ...Array(3).fill('RATE_LIMITED')]);
      const events = securityEvents(gateway.logs).filter((e) => e.username === username && e.event !== 'account.registered');
      expect(events.filter((e) => e.event === 'auth.lockout')).toHaveLength(1);
      expect(
        events
          .filter((e) => e.event === 'auth.login.failed')
          .map((e) => e.reason)
          .sort(),
      ).toEqual(['BAD_PASSWORD', 'BAD_PASSWORD', 'BAD_PASSWORD', 'LOCKED', 'LOCKED', 'LOCKED']);
    }
  });

  test('records the sessions a sign-in evicts beyond MAX_SESSIONS_PER_USER', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { MAX_SESSIONS_PER_USER: '1' } });
    const first = await register(gateway, 'alice');
    const second = await signIn(gateway, 'alice', { userAgent: 'ua-second' });
    const revoked = securityEvents(gateway.logs).filter((e) => e.event === 'session.revoked');
    expect(revoked).toEqual([
      expect.objectContaining({ userId: first.user.id, sessionId: first.session.id, reason: 'SESSION_LIMIT', userAgent: 'ua-second', outcome: 'success' }),
    ]);
    expect(second.session.id).not.toBe(first.session.id);
  });
});
