import type { Kysely, KyselyPlugin } from 'kysely';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { hashToken } from '../src/auth/opaque-token.js';
import { DEFAULT_PAT_CACHE_REFUSAL_TTL_MS, DEFAULT_PAT_CACHE_TTL_MS } from '../src/auth/personal-access-tokens/token-cache.js';
import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  DevicesDocument,
  LogoutDocument,
  MeDocument,
  PersonalAccessTokensDocument,
  RefreshDocument,
  RevokePersonalAccessTokenDocument,
} from '../client/src/operations.js';
import { ManualClock } from '../src/clock.js';
import { connectDatabase } from '../src/db/connect.js';
import { DEFAULT_ENDED_PERSONAL_ACCESS_TOKEN_RETENTION_MS, DEFAULT_ENDED_SESSION_RETENTION_MS, Retention, type RetentionOptions } from '../src/db/retention.js';
import type { Database } from '../src/db/tables.js';
import { createLogger } from '../src/logger.js';
import { RevocationLog } from '../src/revocation/revocation-log.js';
import { CATCH_UP_OVERLAP_MS } from '../src/revocation/revocations.js';
import { REVOCATION_MARGIN_MS } from '../src/revocation/revoked-sessions.js';
import { PASSWORD } from './helpers/accounts.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { type Device, deviceOf, signIn as signInOver } from './helpers/devices.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const START = new Date('2030-01-01T00:00:00Z');
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** The default access-token lifetime plus the revocation margin: RevokedSessions.windowMs. */
const ACCESS_WINDOW_MS = 15 * MINUTE_MS + REVOCATION_MARGIN_MS;

const gateways: TestGateway[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const gateway of gateways.splice(0).reverse()) await gateway.close();
});

async function start(env: Record<string, string> = {}): Promise<TestGateway> {
  // Credential mutations are rate limited per IP; these tests are about storage.
  const gateway = await startTestGateway({ now: START, env: { RATE_LIMIT_CREDENTIALS_PER_SECOND: '100', ...env } });
  gateways.push(gateway);
  return gateway;
}

/** A Retention of its own over the gateway's database and clock, with the options a test needs. */
function retentionOf(gateway: TestGateway, options: Partial<RetentionOptions> = {}): Retention {
  const retention = new Retention({
    db: gateway.handle.db,
    clock: gateway.clock,
    logger: gateway.services.logger,
    accessTokenWindowMs: ACCESS_WINDOW_MS,
    ...options,
  });
  cleanups.push(() => retention.stop());
  return retention;
}

function signIn(gateway: TestGateway, username: string, register = false): Promise<Device> {
  return signInOver(gateway.url, username, PASSWORD, { register });
}

function refresh(gateway: TestGateway, refreshToken: string) {
  return new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken });
}

async function rotated(gateway: TestGateway, refreshToken: string): Promise<Device> {
  const response = await refresh(gateway, refreshToken);
  expect(response.errors).toBeUndefined();
  return deviceOf(gateway.url, response.data!.refresh);
}

async function tokenHashesOf(db: Kysely<Database>, sessionId: string): Promise<string[]> {
  const rows = await db.selectFrom('refresh_tokens').select('token_hash').where('session_id', '=', sessionId).execute();
  return rows.map((row) => row.token_hash).sort();
}

async function sessionExists(db: Kysely<Database>, sessionId: string): Promise<boolean> {
  return (await db.selectFrom('sessions').select('id').where('id', '=', sessionId).executeTakeFirst()) !== undefined;
}

async function createPat(device: Device, input: { name: string; scopes?: string[]; expiresInDays?: number }) {
  const response = await device.client.request(CreatePersonalAccessTokenDocument, { input });
  expect(response.errors).toBeUndefined();
  return { id: response.data!.createPersonalAccessToken.personalAccessToken.id, token: response.data!.createPersonalAccessToken.token };
}

function meWith(gateway: TestGateway, token: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` }).request(MeDocument);
}

/** Records how many rows each DELETE statement run through the returned database deleted. */
function observingDeletes(db: Kysely<Database>): { db: Kysely<Database>; deletes: number[] } {
  const deletes: number[] = [];
  const pending = new Set<string>();
  const plugin: KyselyPlugin = {
    transformQuery({ node, queryId }) {
      if (node.kind === 'DeleteQueryNode') pending.add(queryId.queryId);
      return node;
    },
    async transformResult({ result, queryId }) {
      if (pending.delete(queryId.queryId)) deletes.push(Number(result.numAffectedRows ?? 0n));
      return result;
    },
  };
  return { db: db.withPlugin(plugin), deletes };
}

describe('refresh tokens', () => {
  it('deletes rotated tokens once expired, keeps those reuse detection needs, and the gateway answers as before', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const { db } = gateway.handle;
    const first = await signIn(gateway, 'alice', true);
    gateway.clock.advance(30 * MINUTE_MS);
    const second = await rotated(gateway, first.refreshToken);
    gateway.clock.advance(31 * MINUTE_MS); // the first token expired a minute ago; the second expires in 29 minutes
    const third = await rotated(gateway, second.refreshToken);

    const { purged, complete, error } = await gateway.services.retention.purge();
    expect(error).toBeUndefined();
    expect(complete).toBe(true);
    expect(purged).toEqual({ refreshTokens: 1, sessions: 0, personalAccessTokens: 0, deletedCredentials: 0, userRevocations: 0, sealedSuccessors: 0 });
    expect(await tokenHashesOf(db, first.sessionId)).toEqual([hashToken(second.refreshToken), hashToken(third.refreshToken)].sort());

    // A purged token is unknown now.
    expect(errorReason(await refresh(gateway, first.refreshToken))).toBe('TOKEN_INVALID');
    // The live session refreshes and lists as before.
    const fourth = await rotated(gateway, third.refreshToken);
    const devices = await fourth.client.request(DevicesDocument);
    expect(devices.data?.devices.map((d) => [d.id, d.current])).toEqual([[first.sessionId, true]]);
    // The used token still inside its lifetime is still recognised: presenting it again, past the
    // grace window, is reuse and ends the session.
    gateway.clock.advance(11_000);
    expect(errorReason(await refresh(gateway, second.refreshToken))).toBe('REFRESH_TOKEN_REUSED');
    expect(errorReason(await refresh(gateway, fourth.refreshToken))).toBe('SESSION_REVOKED');
  });

  it('never deletes a token inside a grace-window chain: a racing tab still gets the live successor', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const first = await signIn(gateway, 'alice', true);
    gateway.clock.advance(HOUR_MS - 1000);
    const second = await rotated(gateway, first.refreshToken);
    gateway.clock.advance(999); // the first token is rotated, 1 ms from expiry, inside the grace window
    expect((await gateway.services.retention.purge()).purged.refreshTokens).toBe(0);
    const again = await rotated(gateway, first.refreshToken);
    expect(again.refreshToken).toBe(second.refreshToken);
  });

  it('erases each sealed successor once its grace window is over, and keeps the ones a racing tab may still need', async () => {
    const gateway = await start({ REFRESH_REUSE_GRACE_SECONDS: '10' });
    const sealedOf = async (sessionId: string) =>
      (
        await gateway.handle.db
          .selectFrom('refresh_tokens')
          .select('token_hash')
          .where('session_id', '=', sessionId)
          .where('successor_sealed', 'is not', null)
          .execute()
      ).map((row) => row.token_hash);
    const first = await signIn(gateway, 'alice', true);
    const second = await rotated(gateway, first.refreshToken);
    gateway.clock.advance(10_000); // the first rotation is exactly at the end of its grace window
    const third = await rotated(gateway, second.refreshToken);
    expect((await gateway.services.retention.purge()).purged.sealedSuccessors).toBe(0);
    expect((await sealedOf(first.sessionId)).sort()).toEqual([hashToken(first.refreshToken), hashToken(second.refreshToken)].sort());

    gateway.clock.advance(1); // now past it; the second rotation is still inside its own
    expect((await gateway.services.retention.purge()).purged.sealedSuccessors).toBe(1);
    expect(await sealedOf(first.sessionId)).toEqual([hashToken(second.refreshToken)]);
    // The racing tab of the second rotation still gets the live successor.
    expect((await rotated(gateway, second.refreshToken)).refreshToken).toBe(third.refreshToken);

    gateway.clock.advance(10_000);
    expect((await gateway.services.retention.purge()).purged.sealedSuccessors).toBe(1);
    expect(await sealedOf(first.sessionId)).toEqual([]);
    // The rotated tokens themselves stay until they expire: presenting one again is reuse.
    expect(await tokenHashesOf(gateway.handle.db, first.sessionId)).toHaveLength(3);
  });
});

describe('sessions', () => {
  it('keeps an ended session and its last token for the retention period, answering TOKEN_EXPIRED, then deletes both', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const { db } = gateway.handle;
    const idle = await signIn(gateway, 'alice', true);
    gateway.clock.advance(HOUR_MS + DEFAULT_ENDED_SESSION_RETENTION_MS - 1);
    const active = await signIn(gateway, 'alice');

    expect((await gateway.services.retention.purge()).purged.sessions).toBe(0);
    expect(await tokenHashesOf(db, idle.sessionId)).toEqual([hashToken(idle.refreshToken)]);
    expect(errorReason(await refresh(gateway, idle.refreshToken))).toBe('TOKEN_EXPIRED');

    gateway.clock.advance(1);
    const { purged } = await gateway.services.retention.purge();
    expect(purged).toEqual({ refreshTokens: 0, sessions: 1, personalAccessTokens: 0, deletedCredentials: 0, userRevocations: 0, sealedSuccessors: 0 });
    expect(await sessionExists(db, idle.sessionId)).toBe(false);
    expect(await tokenHashesOf(db, idle.sessionId)).toEqual([]); // its last token went with it
    expect(errorReason(await refresh(gateway, idle.refreshToken))).toBe('TOKEN_INVALID');

    // The live session is untouched and works.
    expect(await tokenHashesOf(db, active.sessionId)).toEqual([hashToken(active.refreshToken)]);
    const renewed = await rotated(gateway, active.refreshToken);
    expect((await renewed.client.request(DevicesDocument)).data?.devices.map((d) => d.id)).toEqual([active.sessionId]);
  });

  it('keeps a logged-out session until its refresh token would have expired plus the retention period', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const device = await signIn(gateway, 'alice', true);
    expect((await device.client.request(LogoutDocument)).errors).toBeUndefined();

    gateway.clock.advance(HOUR_MS + DEFAULT_ENDED_SESSION_RETENTION_MS - 1);
    expect((await gateway.services.retention.purge()).purged.sessions).toBe(0);
    expect(errorReason(await refresh(gateway, device.refreshToken))).toBe('SESSION_REVOKED');
    gateway.clock.advance(1);
    expect((await gateway.services.retention.purge()).purged.sessions).toBe(1);
    expect(errorReason(await refresh(gateway, device.refreshToken))).toBe('TOKEN_INVALID');
  });

  it('writes no long-ended session at a password change; the user marker is what instances catch up on', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const { db } = gateway.handle;
    const idle = await signIn(gateway, 'alice', true);
    gateway.clock.advance(HOUR_MS + DEFAULT_ENDED_SESSION_RETENTION_MS);
    const current = await signIn(gateway, 'alice');
    expect(
      (await current.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'another long passphrase' })).errors,
    ).toBeUndefined();
    const revokedAt = gateway.clock.now();

    // The ended session is not revoked row by row (logoutAll on a huge account would write them
    // all); one marker per user stands for it, and a fresh instance reads that at start.
    const log = new RevocationLog({ db });
    expect(await log.sessionsRevokedSince(revokedAt - ACCESS_WINDOW_MS)).toEqual([]);
    const markers = await log.userRevocationsSince(revokedAt - ACCESS_WINDOW_MS);
    expect(markers).toEqual([{ userId: expect.any(String), revokedBefore: expect.any(Number), exceptSessionId: current.sessionId }]);
    expect(markers[0]!.revokedBefore).toBeLessThanOrEqual(revokedAt);
    // So the ended session goes by the ordinary rule, at once here; the live one stays.
    expect((await gateway.services.retention.purge()).purged.sessions).toBe(1);
    expect(await sessionExists(db, idle.sessionId)).toBe(false);
    expect(await sessionExists(db, current.sessionId)).toBe(true);

    // The marker itself goes once catch-up no longer reads it.
    gateway.clock.advance(ACCESS_WINDOW_MS + CATCH_UP_OVERLAP_MS - (gateway.clock.now() - markers[0]!.revokedBefore) - 1);
    expect((await gateway.services.retention.purge()).purged.userRevocations).toBe(0);
    gateway.clock.advance(1);
    expect((await gateway.services.retention.purge()).purged.userRevocations).toBe(1);
  });

  it('refuses the access token of an ended session after a password change, here and on a fresh instance, whatever the purge does', async () => {
    // Refresh tokens of a minute, access tokens of 15: the session ends before its access token.
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '60' });
    const retention = retentionOf(gateway, { endedSessionRetentionMs: 0 });
    const ended = await signIn(gateway, 'alice', true);
    gateway.clock.advance(61_000);
    const current = await signIn(gateway, 'alice');

    expect((await retention.purge()).purged.sessions).toBe(0);
    expect(errorReason(await refresh(gateway, ended.refreshToken))).toBe('TOKEN_EXPIRED');
    expect((await ended.client.request(MeDocument)).errors).toBeUndefined();

    expect(
      (await current.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'another long passphrase' })).errors,
    ).toBeUndefined();
    expect(errorReason(await ended.client.request(MeDocument))).toBe('SESSION_REVOKED');

    // A fresh instance on the same database refuses it too, from the marker it loads at start.
    await gateway.close({ keepDatabase: true });
    const restarted = await startTestGateway({ now: new Date(gateway.clock.now()), database: gateway.database, env: { REFRESH_TOKEN_TTL_SECONDS: '60' } });
    gateways.push(restarted);
    expect(errorReason(await new GraphQLClient(restarted.url, { authorization: `Bearer ${ended.accessToken}` }).request(MeDocument))).toBe('SESSION_REVOKED');
    expect((await new GraphQLClient(restarted.url, { authorization: `Bearer ${current.accessToken}` }).request(MeDocument)).errors).toBeUndefined();
  });
});

describe('personal access tokens', () => {
  it('deletes revoked and expired tokens after the retention period; until then they are listed or refused with their reason', async () => {
    const gateway = await start();
    const { db } = gateway.handle;
    const device = await signIn(gateway, 'alice', true);
    const lister = await createPat(device, { name: 'lister', scopes: ['profile:read', 'tokens:read'] });
    const expiring = await createPat(device, { name: 'expiring', expiresInDays: 1 });
    const revoked = await createPat(device, { name: 'revoked' });
    expect((await device.client.request(RevokePersonalAccessTokenDocument, { id: revoked.id })).errors).toBeUndefined();
    const listed = async () => {
      const response = await new GraphQLClient(gateway.url, { authorization: `Bearer ${lister.token}` }).request(PersonalAccessTokensDocument);
      expect(response.errors).toBeUndefined();
      return response.data!.personalAccessTokens.map((t) => t.name).sort();
    };
    const stored = async () => (await db.selectFrom('personal_access_tokens').select('name').orderBy('name').execute()).map((row) => row.name);

    gateway.clock.advance(DEFAULT_ENDED_PERSONAL_ACCESS_TOKEN_RETENTION_MS - 1);
    expect((await gateway.services.retention.purge()).purged.personalAccessTokens).toBe(0);
    expect(errorReason(await meWith(gateway, revoked.token))).toBe('SESSION_REVOKED');
    gateway.clock.advance(1);
    expect((await gateway.services.retention.purge()).purged.personalAccessTokens).toBe(1);
    expect(await stored()).toEqual(['expiring', 'lister']);
    gateway.clock.advance(DEFAULT_PAT_CACHE_REFUSAL_TTL_MS); // this instance's remembered refusal of it runs out
    expect(errorReason(await meWith(gateway, revoked.token))).toBe('TOKEN_INVALID');

    gateway.clock.advance(DAY_MS - DEFAULT_PAT_CACHE_REFUSAL_TTL_MS - 1); // the expiring token expired 30 days minus 1 ms ago
    expect((await gateway.services.retention.purge()).purged.personalAccessTokens).toBe(0);
    expect(await listed()).toEqual(['expiring', 'lister']);
    expect(errorReason(await meWith(gateway, expiring.token))).toBe('TOKEN_EXPIRED');
    gateway.clock.advance(1);
    expect((await gateway.services.retention.purge()).purged.personalAccessTokens).toBe(1);
    expect(await listed()).toEqual(['lister']);
    gateway.clock.advance(DEFAULT_PAT_CACHE_TTL_MS); // this instance's cached look-up of it runs out
    expect(errorReason(await meWith(gateway, expiring.token))).toBe('TOKEN_INVALID');
    // A token without expiry lives on.
    expect((await meWith(gateway, lister.token)).errors).toBeUndefined();
  });

  it('keeps a revoked token for revocation catch-up even with no retention period', async () => {
    const gateway = await start();
    const retention = retentionOf(gateway, { endedPersonalAccessTokenRetentionMs: 0 });
    const device = await signIn(gateway, 'alice', true);
    const revoked = await createPat(device, { name: 'revoked' });
    expect((await device.client.request(RevokePersonalAccessTokenDocument, { id: revoked.id })).errors).toBeUndefined();

    const revokedAt = gateway.clock.now();
    // What another instance reads while catching up (Revocations.catchUp).
    const log = new RevocationLog({ db: gateway.handle.db });

    gateway.clock.advance(ACCESS_WINDOW_MS + CATCH_UP_OVERLAP_MS - 1);
    expect((await retention.purge()).purged.personalAccessTokens).toBe(0);
    expect(await log.tokensRevokedSince(gateway.clock.now() - ACCESS_WINDOW_MS - CATCH_UP_OVERLAP_MS)).toEqual([
      { tokenId: revoked.id, userId: expect.any(String), revokedAt },
    ]);
    gateway.clock.advance(1);
    expect((await retention.purge()).purged.personalAccessTokens).toBe(1);
  });
});

describe('deleted accounts', () => {
  it('forgets each tombstone after its forget_at, and answers by it only until then', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const { db } = gateway.handle;
    const device = await signIn(gateway, 'alice', true);
    const expiring = await createPat(device, { name: 'expiring', expiresInDays: 1 });
    const forever = await createPat(device, { name: 'forever' });
    expect((await device.client.request(DeleteAccountDocument, { password: PASSWORD })).errors).toBeUndefined();
    const kinds = async () => (await db.selectFrom('deleted_credentials').select('kind').orderBy('kind').execute()).map((row) => row.kind);
    expect(await kinds()).toEqual(['personal_access_token', 'personal_access_token', 'refresh_token', 'session', 'user']);

    // The account and its session matter for one access-token lifetime (plus the catch-up overlap).
    gateway.clock.advance(ACCESS_WINDOW_MS + CATCH_UP_OVERLAP_MS - 1);
    expect((await gateway.services.retention.purge()).purged.deletedCredentials).toBe(0);
    gateway.clock.advance(1);
    expect((await gateway.services.retention.purge()).purged.deletedCredentials).toBe(2);
    expect(await kinds()).toEqual(['personal_access_token', 'personal_access_token', 'refresh_token']);
    expect(errorReason(await refresh(gateway, device.refreshToken))).toBe('USER_NOT_FOUND');

    // Past the refresh token's expiry its tombstone no longer speaks, purged yet or not.
    gateway.clock.set(START.getTime() + HOUR_MS);
    expect(await kinds()).toContain('refresh_token');
    expect(errorReason(await refresh(gateway, device.refreshToken))).toBe('TOKEN_INVALID');
    gateway.clock.advance(CATCH_UP_OVERLAP_MS);
    expect((await gateway.services.retention.purge()).purged.deletedCredentials).toBe(1);

    gateway.clock.set(START.getTime() + DAY_MS + CATCH_UP_OVERLAP_MS);
    expect((await gateway.services.retention.purge()).purged.deletedCredentials).toBe(1);
    // A token that never expires is remembered: it is still told USER_NOT_FOUND.
    expect(await kinds()).toEqual(['personal_access_token']);
    expect(errorReason(await meWith(gateway, forever.token))).toBe('USER_NOT_FOUND');
    expect(errorReason(await meWith(gateway, expiring.token))).toBe('TOKEN_INVALID');
  });
});

describe('the purge itself', () => {
  it('deletes at most batchSize rows per statement and maxBatchesPerRun batches per run, and sessions only after their tokens', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const { db, deletes } = observingDeletes(gateway.handle.db);
    const retention = new Retention({
      db,
      clock: gateway.clock,
      logger: gateway.services.logger,
      accessTokenWindowMs: ACCESS_WINDOW_MS,
      endedSessionRetentionMs: 0,
      batchSize: 4,
      maxBatchesPerRun: 2,
    });
    const { sessions } = gateway.services;
    // A live session with 11 rotated tokens, and an ended one with 2.
    const live = await signIn(gateway, 'alice', true);
    let liveToken = live.refreshToken;
    for (let i = 0; i < 10; i++) liveToken = (await sessions.rotate(liveToken, null)).refreshToken;
    const ended = await signIn(gateway, 'alice');
    let endedToken = ended.refreshToken;
    for (let i = 0; i < 2; i++) endedToken = (await sessions.rotate(endedToken, null)).refreshToken;
    gateway.clock.advance(59 * MINUTE_MS);
    liveToken = (await sessions.rotate(liveToken, null)).refreshToken;
    gateway.clock.advance(2 * MINUTE_MS); // every token but the live session's newest has expired

    const first = await retention.purge();
    // The 5 rotated tokens left keep their sealed successors past the grace window: erased meanwhile.
    expect(first).toEqual({
      purged: { refreshTokens: 8, sessions: 0, personalAccessTokens: 0, deletedCredentials: 0, userRevocations: 0, sealedSuccessors: 5 },
      complete: false,
    });
    expect(await sessionExists(gateway.handle.db, ended.sessionId)).toBe(true);
    const second = await retention.purge();
    expect(second).toEqual({
      purged: { refreshTokens: 5, sessions: 1, personalAccessTokens: 0, deletedCredentials: 0, userRevocations: 0, sealedSuccessors: 0 },
      complete: true,
    });
    expect(Math.max(...deletes)).toBe(4);
    expect(deletes.filter((count) => count > 0)).toEqual([4, 4, 4, 1, 1]);

    expect(await sessionExists(gateway.handle.db, ended.sessionId)).toBe(false);
    expect(await tokenHashesOf(gateway.handle.db, live.sessionId)).toEqual([hashToken(liveToken)]);
    expect((await refresh(gateway, liveToken)).errors).toBeUndefined();
  });

  it('lets several instances purge the same database at once', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const live: string[] = [];
    for (const name of ['alice', 'bob', 'carol']) {
      let token = (await signIn(gateway, name, true)).refreshToken;
      for (let i = 0; i < 20; i++) token = (await gateway.services.sessions.rotate(token, null)).refreshToken;
      live.push(token);
    }
    gateway.clock.advance(59 * MINUTE_MS);
    for (const [i, token] of live.entries()) live[i] = (await gateway.services.sessions.rotate(token, null)).refreshToken;
    gateway.clock.advance(2 * MINUTE_MS);

    const instances = [connectDatabase(gateway.database.url), connectDatabase(gateway.database.url)];
    cleanups.push(async () => void (await Promise.all(instances.map((instance) => instance.close()))));
    const results = await Promise.all(
      instances.map((instance) =>
        new Retention({ db: instance.db, clock: gateway.clock, logger: gateway.services.logger, accessTokenWindowMs: ACCESS_WINDOW_MS, batchSize: 5 }).purge(),
      ),
    );
    for (const result of results) expect(result.error).toBeUndefined();
    expect(results.reduce((sum, result) => sum + result.purged.refreshTokens, 0)).toBe(63);
    const left = await gateway.handle.db.selectFrom('refresh_tokens').select('token_hash').execute();
    expect(left.map((row) => row.token_hash).sort()).toEqual(live.map(hashToken).sort());
    for (const token of live) expect((await refresh(gateway, token)).errors).toBeUndefined();
  });

  it('runs on its timer and logs counts, never a token', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    const first = await signIn(gateway, 'alice', true);
    const second = await rotated(gateway, first.refreshToken);
    gateway.clock.advance(HOUR_MS);
    const retention = retentionOf(gateway, { intervalMs: 10 });
    retention.start();
    await vi.waitFor(async () => expect(await tokenHashesOf(gateway.handle.db, first.sessionId)).toEqual([hashToken(second.refreshToken)]), { timeout: 5000 });
    await retention.stop();
    const lines = gateway.logs.filter((line) => line.includes('retention purge'));
    expect(lines.map((line) => JSON.parse(line) as { purged: unknown })[0]?.purged).toEqual({
      refreshTokens: 1,
      sessions: 0,
      personalAccessTokens: 0,
      deletedCredentials: 0,
      userRevocations: 0,
      sealedSuccessors: 0,
    });
    for (const secret of [first.refreshToken, hashToken(first.refreshToken)]) expect(lines.join('')).not.toContain(secret);
  });

  it('stops between two batches when told to', async () => {
    const gateway = await start({ REFRESH_TOKEN_TTL_SECONDS: '3600' });
    let token = (await signIn(gateway, 'alice', true)).refreshToken;
    for (let i = 0; i < 3; i++) token = (await gateway.services.sessions.rotate(token, null)).refreshToken;
    gateway.clock.advance(HOUR_MS);
    const retention = retentionOf(gateway, { batchSize: 1 });
    const run = retention.purge();
    await retention.stop();
    expect(await run).toEqual({
      purged: { refreshTokens: 1, sessions: 0, personalAccessTokens: 0, deletedCredentials: 0, userRevocations: 0, sealedSuccessors: 0 },
      complete: false,
    });
  });

  it('reports a failed run and logs it on the timer, without throwing', async () => {
    const gateway = await start();
    const broken = connectDatabase(gateway.database.url);
    await broken.db.selectFrom('users').select('id').execute(); // a handle never used closes as a no-op
    await broken.close();
    const retention = new Retention({
      db: broken.db,
      clock: gateway.clock,
      logger: gateway.services.logger,
      accessTokenWindowMs: ACCESS_WINDOW_MS,
      intervalMs: 10,
    });
    cleanups.push(() => retention.stop());
    const result = await retention.purge();
    expect(result.complete).toBe(false);
    expect(result.error).toBeInstanceOf(Error);
    retention.start();
    await vi.waitFor(() => expect(gateway.logs.some((line) => line.includes('retention purge failed'))).toBe(true), { timeout: 5000 });
  });

  it.each([
    ['intervalMs', 0],
    ['batchSize', 0],
    ['maxBatchesPerRun', 1.5],
    ['accessTokenWindowMs', -1],
    ['endedSessionRetentionMs', -1],
    ['endedPersonalAccessTokenRetentionMs', Number.NaN],
    ['refreshReuseGraceMs', -1],
  ])('refuses %s = %s with a TypeError', async (name, value) => {
    const handle = connectDatabase('sqlite::memory:');
    cleanups.push(() => handle.close());
    const options = { db: handle.db, clock: new ManualClock(START), logger: createLogger('silent'), accessTokenWindowMs: ACCESS_WINDOW_MS };
    expect(() => new Retention({ ...options, [name]: value })).toThrow(TypeError);
    expect(() => new Retention(options)).not.toThrow();
  });
});
