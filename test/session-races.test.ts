import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken } from '../src/auth/opaque-token.js';
import { ChangePasswordDocument, LoginDocument, LogoutDocument, MeDocument, RefreshDocument } from '../client/src/operations.js';
import { PASSWORD, signIn, type SignedIn } from './helpers/accounts.js';
import { errorCode, errorReason, GraphQLClient, type GraphQLResponse } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';
import { until } from './helpers/until.js';

// Races between credential operations on one account, each repeated many times: the outcomes
// are asserted, whichever way a round's interleaving falls. With TEST_DATABASE_URL they run on
// PostgreSQL, where requests really interleave inside transactions; the tests marked
// "PostgreSQL" force the worst interleaving with a row lock the test holds.

const ROUNDS = 20;
const ACCESS_WINDOW_MS = 15 * 60_000 + 60_000; // access-token lifetime plus the revocation margin
// These tests are about races, not about abuse limits.
const RACE_ENV = {
  RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000',
  RATE_LIMIT_REGISTRATIONS_PER_HOUR: '1000',
  RATE_LIMIT_FAILED_LOGINS: '1000',
  // The cheapest password hashing allowed: the rounds sign in a hundred times.
  ARGON2_MEMORY_KIB: '8192',
  ARGON2_ITERATIONS: '1',
};
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

const gateways: TestGateway[] = [];
/** Row locks a failed test left held, released before its gateways close (which would wait on them). */
const heldLocks: { release(): Promise<void> }[] = [];
afterEach(async () => {
  for (const lock of heldLocks.splice(0)) await lock.release();
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

async function start(database?: TestGateway['database'], now?: number): Promise<TestGateway> {
  const gateway = await startTestGateway({ env: RACE_ENV, database, now: now === undefined ? undefined : new Date(now) });
  gateways.push(gateway);
  return gateway;
}

function bearer(gateway: TestGateway, accessToken: string): GraphQLClient {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` });
}

function refresh(gateway: TestGateway, refreshToken: string) {
  return new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken });
}

/** No race may surface as a server error. */
function expectNoServerError(response: GraphQLResponse<unknown>): void {
  expect(response.status).toBeLessThan(500);
  expect(errorCode(response)).not.toBe('INTERNAL');
}

/**
 * A deleted account's refresh token, whether it was rotated, live or handed out by a refresh
 * that raced the deletion: the deletion saw it, so it is told USER_NOT_FOUND (not TOKEN_INVALID).
 */
async function expectRefreshRefused(gateway: TestGateway, refreshToken: string): Promise<void> {
  const response = await refresh(gateway, refreshToken);
  expectNoServerError(response);
  expect(errorReason(response)).toBe('USER_NOT_FOUND');
}

async function expectAccessRefused(gateway: TestGateway, accessToken: string): Promise<void> {
  const response = await bearer(gateway, accessToken).request(MeDocument);
  expectNoServerError(response);
  expect(errorCode(response)).toBe('UNAUTHENTICATED');
}

/**
 * A transaction of the test's own that holds a refresh token's row locked on PostgreSQL, so that
 * a refresh of it stops right where it first writes the token, and the test can run something
 * else into that moment.
 */
async function lockRefreshToken(gateway: TestGateway, refreshToken: string) {
  const client = new pg.Client({ connectionString: gateway.database.url });
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
  const pid = rows[0]!.pid;
  await client.query('begin');
  await client.query('select token_hash from refresh_tokens where token_hash = $1 for update', [hashToken(refreshToken)]);
  let released = false;
  const lock = {
    /** Backends waiting on this lock, directly or behind one that does. */
    async waiting(): Promise<number> {
      const result = await client.query<{ count: string }>(
        `select count(*) from pg_stat_activity a
          where $1 = any(pg_blocking_pids(a.pid))
             or exists (select 1 from pg_stat_activity b where b.pid = any(pg_blocking_pids(a.pid)) and $1 = any(pg_blocking_pids(b.pid)))`,
        [pid],
      );
      return Number(result.rows[0]!.count);
    },
    /** Lets the waiting go on; once only, so that a test may also call it in `finally`. */
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await client.query('commit');
      await client.end();
    },
  };
  heldLocks.push(lock);
  return lock;
}

/** Tracks whether a promise has settled yet. */
function settled<T>(promise: Promise<T>): { readonly promise: Promise<T>; readonly done: () => boolean } {
  let done = false;
  void promise.finally(() => (done = true)).catch(() => {});
  return { promise, done: () => done };
}

describe('changePassword racing itself', () => {
  it(`lets exactly one of two concurrent changes land, and its password is the one that works (${ROUNDS} rounds)`, async () => {
    const gateway = await start();
    const account = await signIn(gateway, 'changer', { register: true });
    const client = bearer(gateway, account.accessToken);
    let current = PASSWORD;
    for (let round = 0; round < ROUNDS; round++) {
      const candidates: [string, string] = [`round ${round} first choice`, `round ${round} second choice`];
      const answers = await Promise.all(candidates.map((newPassword) => client.request(ChangePasswordDocument, { currentPassword: current, newPassword })));
      for (const answer of answers) expectNoServerError(answer);
      const winners = answers.flatMap((answer, i) => (answer.data?.changePassword === true ? [i] : []));
      expect(winners).toHaveLength(1);
      const winner = winners[0]!;
      expect(errorCode(answers[1 - winner]!)).toBe('INVALID_CREDENTIALS');

      current = candidates[winner]!;
      const lost = candidates[1 - winner]!;
      expect((await signIn(gateway, 'changer', { password: current })).user.id).toBe(account.user.id);
      const withLost = await new GraphQLClient(gateway.url).request(LoginDocument, {
        input: { username: 'changer', password: lost, refreshTokenDelivery: 'BODY' },
      });
      expect(errorCode(withLost)).toBe('INVALID_CREDENTIALS');
    }
  });
});

describe('refresh racing logout', () => {
  it(`either refreshes before the logout, whose revocation then covers the new tokens, or answers SESSION_REVOKED (${ROUNDS} rounds)`, async () => {
    const gateway = await start();
    await signIn(gateway, 'leaver', { register: true });
    for (let round = 0; round < ROUNDS; round++) {
      const session = await signIn(gateway, 'leaver');
      const [loggedOut, refreshed] = await Promise.all([bearer(gateway, session.accessToken).request(LogoutDocument), refresh(gateway, session.refreshToken)]);
      expectNoServerError(loggedOut);
      expect(loggedOut.data?.logout).toBe(true);
      expectNoServerError(refreshed);
      if (refreshed.errors) {
        expect(errorReason(refreshed)).toBe('SESSION_REVOKED');
      } else {
        expect(errorReason(await refresh(gateway, refreshed.data!.refresh.refreshToken!))).toBe('SESSION_REVOKED');
        expect(errorReason(await bearer(gateway, refreshed.data!.refresh.accessToken).request(MeDocument))).toBe('SESSION_REVOKED');
      }
    }
  });

  it.skipIf(!onPostgres)('PostgreSQL: never grants a refresh for a session whose logout has already answered', async () => {
    const gateway = await start();
    await signIn(gateway, 'leaver', { register: true });
    for (let round = 0; round < 5; round++) {
      const session = await signIn(gateway, 'leaver');
      const lock = await lockRefreshToken(gateway, session.refreshToken);
      const refreshing = settled(refresh(gateway, session.refreshToken));
      await until(async () => (await lock.waiting()) === 1, 'the refresh to wait on the token');
      const loggingOut = settled(bearer(gateway, session.accessToken).request(LogoutDocument));
      // The logout either completes (nothing of the session is locked yet) or queues behind the refresh.
      await until(async () => loggingOut.done() || (await lock.waiting()) === 2, 'the logout to finish or to queue');
      const logoutAnsweredFirst = loggingOut.done();
      await lock.release();
      const [refreshed, loggedOut] = await Promise.all([refreshing.promise, loggingOut.promise]);
      expectNoServerError(refreshed);
      expect(loggedOut.data?.logout).toBe(true);
      if (logoutAnsweredFirst) {
        expect(errorReason(refreshed)).toBe('SESSION_REVOKED');
      } else {
        expect(refreshed.errors).toBeUndefined();
        expect(errorReason(await refresh(gateway, refreshed.data!.refresh.refreshToken!))).toBe('SESSION_REVOKED');
        expect(errorReason(await bearer(gateway, refreshed.data!.refresh.accessToken).request(MeDocument))).toBe('SESSION_REVOKED');
      }
    }
  });
});

describe('account deletion racing refresh', () => {
  /** Every credential handed out for the account; none may work once it is deleted. */
  interface Issued {
    readonly refreshTokens: string[];
    readonly accessTokens: string[];
  }

  async function expectAllRefused(gateway: TestGateway, issued: Issued): Promise<void> {
    for (const token of issued.refreshTokens) await expectRefreshRefused(gateway, token);
    for (const token of issued.accessTokens) await expectAccessRefused(gateway, token);
  }

  /**
   * Accounts with idle sessions: signed in, then left for longer than an access token lives, so
   * that only a refresh could make them matter to a deletion again. All made at once, so that
   * every access token the rounds hand out is still unexpired when the restarted gateway is asked.
   */
  async function accountsWithIdleSessions(
    gateway: TestGateway,
    prefix: string,
    accounts: number,
    idle: number,
  ): Promise<{ username: string; idleSessions: SignedIn[] }[]> {
    const made = [];
    for (let i = 0; i < accounts; i++) {
      const username = `${prefix}_${i}`;
      await signIn(gateway, username, { register: true });
      const idleSessions: SignedIn[] = [];
      for (let j = 0; j < idle; j++) idleSessions.push(await signIn(gateway, username));
      made.push({ username, idleSessions });
    }
    gateway.clock.advance(ACCESS_WINDOW_MS);
    return made;
  }

  it(`leaves no token of the account working, also after a restart, and never answers INTERNAL (${ROUNDS} rounds)`, async () => {
    let gateway = await start();
    const issued: Issued = { refreshTokens: [], accessTokens: [] };
    const accounts = await accountsWithIdleSessions(gateway, 'deleted', ROUNDS, 3);
    for (const [round, { username, idleSessions }] of accounts.entries()) {
      const active = await signIn(gateway, username);
      const thisRound: Issued = { refreshTokens: [active.refreshToken, ...idleSessions.map((s) => s.refreshToken)], accessTokens: [active.accessToken] };
      // The deletion deleteAccount makes once the password is checked, started with the refreshes
      // of the idle sessions, a little before or after them from round to round.
      const delay = (round % 4) - 1;
      const deletion = new Promise((resolve) => setTimeout(resolve, Math.max(delay, 0))).then(() => gateway.services.accountDeletions.delete(active.user.id));
      const refreshes = idleSessions.map(async (session) => {
        if (delay < 0) await new Promise((resolve) => setTimeout(resolve, 1));
        return refresh(gateway, session.refreshToken);
      });
      await deletion;
      for (const refreshed of await Promise.all(refreshes)) {
        expectNoServerError(refreshed);
        if (refreshed.errors) {
          expect(errorCode(refreshed)).toBe('UNAUTHENTICATED');
        } else {
          thisRound.refreshTokens.push(refreshed.data!.refresh.refreshToken!);
          thisRound.accessTokens.push(refreshed.data!.refresh.accessToken);
        }
      }
      await expectAllRefused(gateway, thisRound);
      issued.refreshTokens.push(...thisRound.refreshTokens);
      issued.accessTokens.push(...thisRound.accessTokens);
    }

    // A restarted gateway has only the database to go by.
    const now = gateway.clock.now();
    await gateway.close({ keepDatabase: true });
    gateways.splice(gateways.indexOf(gateway), 1);
    gateway = await start(gateway.database, now);
    await expectAllRefused(gateway, issued);
  }, 120_000);

  it.skipIf(!onPostgres)('PostgreSQL: a refresh caught inside the deletion neither deadlocks nor outlives it, also after a restart', async () => {
    let gateway = await start();
    const issued: Issued = { refreshTokens: [], accessTokens: [] };
    for (const { username, idleSessions } of await accountsWithIdleSessions(gateway, 'locked', 5, 1)) {
      const active = await signIn(gateway, username);
      const idle = idleSessions[0]!;
      issued.accessTokens.push(active.accessToken);
      issued.refreshTokens.push(active.refreshToken, idle.refreshToken);
      const lock = await lockRefreshToken(gateway, idle.refreshToken);
      const refreshing = settled(refresh(gateway, idle.refreshToken));
      await until(async () => (await lock.waiting()) === 1, 'the refresh to wait on the token');
      const deleting = settled(gateway.services.accountDeletions.delete(active.user.id));
      await until(async () => deleting.done() || (await lock.waiting()) === 2, 'the deletion to finish or to queue');
      await lock.release();
      const [refreshed] = await Promise.all([refreshing.promise, deleting.promise]);
      expectNoServerError(refreshed);
      if (!refreshed.errors) {
        issued.refreshTokens.push(refreshed.data!.refresh.refreshToken!);
        issued.accessTokens.push(refreshed.data!.refresh.accessToken);
      }
      expect(await gateway.services.users.findById(active.user.id)).toBeUndefined();
      await expectAllRefused(gateway, issued);
    }
    const now = gateway.clock.now();
    await gateway.close({ keepDatabase: true });
    gateways.splice(gateways.indexOf(gateway), 1);
    gateway = await start(gateway.database, now);
    await expectAllRefused(gateway, issued);
  });
});
