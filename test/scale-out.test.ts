import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
} from '../client/src/operations.js';
import { PASSWORD, register } from './helpers/accounts.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { type GatewayProcess, spawnGateway } from './helpers/gateway-process.js';
import { openWsClient, within, type TestWsClient } from './helpers/realtime-clients.js';
import { hostAndPort, TcpProxy, throughProxy } from './helpers/tcp-proxy.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';

const databaseUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;
const available = Boolean(databaseUrl?.startsWith('postgres') && redisUrl);
if (!available) {
  console.warn('scale-out tests SKIPPED: set TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL to run them');
}

const SESSION_EVENTS = 'subscription { sessionEvents { kind sessionId } }';

describe.skipIf(!available)('several instances on one PostgreSQL and one Redis', () => {
  let database: TestDatabase;
  let pgProxy: TcpProxy;
  let redisProxy: TcpProxy;
  let a: GatewayProcess;
  let b: GatewayProcess;
  const sockets: TestWsClient[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const pg = hostAndPort(databaseUrl!, 5432);
    const redis = hostAndPort(redisUrl!, 6379);
    pgProxy = await TcpProxy.start(pg.host, pg.port);
    redisProxy = await TcpProxy.start(redis.host, redis.port);
    // One deployment: its own key prefix in the shared Redis, so that no earlier run's counts
    // remain; the per-IP limit raised, since every request here comes from 127.0.0.1.
    const shared = { REDIS_KEY_PREFIX: `scale-out-${randomUUID()}:`, RATE_LIMIT_CREDENTIALS_PER_SECOND: '500' };
    // Instance A reaches PostgreSQL and Redis through proxies the tests can cut.
    a = await spawnGateway({ ...shared, DATABASE_URL: throughProxy(database.url, pgProxy.port), REDIS_URL: throughProxy(redisUrl!, redisProxy.port) });
    b = await spawnGateway({ ...shared, DATABASE_URL: database.url, REDIS_URL: redisUrl! });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.dispose()));
    await Promise.all([a?.stop(), b?.stop()]);
    await pgProxy?.close();
    await redisProxy?.close();
    await database?.drop();
  });

  it('accepts on one instance the tokens the other issued', async () => {
    const signedUp = await register(a, 'shared');
    const me = await new GraphQLClient(b.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(MeDocument);
    expect(me.data?.me.id).toBe(signedUp.user.id);
    const rotated = await new GraphQLClient(b.url).request(RefreshDocument, { refreshToken: signedUp.refreshToken });
    expect(rotated.errors).toBeUndefined();
    const keysA = await (await fetch(`${a.origin}/.well-known/jwks.json`)).json();
    const keysB = await (await fetch(`${b.origin}/.well-known/jwks.json`)).json();
    expect(keysA).toEqual(keysB);
  });

  it('keeps the grace-window rules across instances: a refresh race ends with one live chain', async () => {
    const signedUp = await register(a, 'racer');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => new GraphQLClient(i % 2 === 0 ? a.url : b.url).request(RefreshDocument, { refreshToken: signedUp.refreshToken })),
    );
    for (const result of results) expect(result.errors).toBeUndefined();
    expect(new Set(results.map((r) => r.data!.refresh.refreshToken)).size).toBe(1);
  });

  it('delivers sessionEvents published on one instance to subscribers on the other', async () => {
    const signedUp = await register(a, 'listener');
    const socket = openWsClient(b.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    sockets.push(socket);
    const events = socket.subscribe(SESSION_EVENTS);
    await within(socket.connected, 5000, 'ack');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const login = await new GraphQLClient(a.url).request(LoginDocument, { input: { username: 'listener', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    const event = (await within(events.nth(0), 5000, 'event from the other instance')) as { data: { sessionEvents: { kind: string; sessionId: string } } };
    expect(event.data.sessionEvents).toEqual({ kind: 'SIGNED_IN', sessionId: login.data!.login.session.id });
  });

  /** Polls a request until its first error has the code and reason, or the time is up; returns the ms it took. */
  async function refusedWithin(url: string, accessToken: string, reason: string, ms: number): Promise<number> {
    const started = Date.now();
    const client = new GraphQLClient(url, { authorization: `Bearer ${accessToken}` });
    while (Date.now() - started < ms) {
      const me = await client.request(MeDocument);
      if (me.errors?.[0]?.extensions?.reason === reason) return Date.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`not refused with ${reason} within ${ms} ms`);
  }

  it('refuses the other instance’s requests and closes its connections within a second of a revocation', async () => {
    const signedUp = await register(a, 'revoked-everywhere');
    const me = await new GraphQLClient(b.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(MeDocument);
    expect(me.data?.me.id).toBe(signedUp.user.id);
    const socket = openWsClient(b.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    sockets.push(socket);
    await within(socket.connected, 5000, 'ack');

    const logout = await new GraphQLClient(a.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(LogoutDocument);
    expect(logout.errors).toBeUndefined();
    const revokedAt = Date.now();
    await refusedWithin(b.url, signedUp.accessToken, 'SESSION_REVOKED', 1000);
    const closed = await within(socket.closed, 1000, 'close on the other instance');
    expect(closed.code).toBe(4401);
    expect(Date.now() - revokedAt).toBeLessThan(1000);
  });

  it('counts failed logins across instances: the account locks whichever instance the guesses reach', async () => {
    await register(a, 'guessed');
    const wrong = { username: 'guessed', password: 'not the password at all', refreshTokenDelivery: 'BODY' as const };
    const attempts = [a, b, a, b, a].map((gateway) => new GraphQLClient(gateway.url).request(LoginDocument, { input: wrong }));
    for (const attempt of await Promise.all(attempts)) expect(attempt.errors?.[0]?.extensions?.code).toBe('INVALID_CREDENTIALS');
    // Five failures in all, two of them on B: B refuses the sixth although it saw only two itself.
    const locked = await new GraphQLClient(b.url).request(LoginDocument, { input: { ...wrong, password: PASSWORD } });
    expect(locked.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(locked.data?.login ?? null).toBeNull();
  });

  it('falls back to reading revocations from the database while Redis is down', async () => {
    const signedUp = await register(b, 'polled');
    const second = await new GraphQLClient(b.url).request(LoginDocument, { input: { username: 'polled', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    const secondToken = second.data!.login.accessToken;
    redisProxy.cut();
    try {
      // A hears nothing from Redis now: B's revocation reaches it through the database.
      const logout = await new GraphQLClient(b.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(LogoutDocument);
      expect(logout.errors).toBeUndefined();
      await refusedWithin(a.url, signedUp.accessToken, 'SESSION_REVOKED', 5000);
      const other = await new GraphQLClient(a.url, { authorization: `Bearer ${secondToken}` }).request(MeDocument);
      expect(other.data?.me.username).toBe('polled');
    } finally {
      redisProxy.restore();
    }
  });

  it('ends a deleted account’s channels and tokens on an instance that missed the broadcast', async () => {
    const signedUp = await register(b, 'deleted-while-away');
    const created = await new GraphQLClient(b.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(CreatePersonalAccessTokenDocument, {
      input: { name: 'ci', scopes: ['profile:read', 'sessions:read'] },
    });
    const pat = created.data!.createPersonalAccessToken.token;
    // A knows the token (cached by a successful use) and holds a channel of each kind.
    expect((await new GraphQLClient(a.url, { authorization: `Bearer ${pat}` }).request(MeDocument)).data?.me.username).toBe('deleted-while-away');
    const bySession = openWsClient(a.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    const byPat = openWsClient(a.wsUrl, { connectionParams: { authorization: `Bearer ${pat}` } });
    sockets.push(bySession, byPat);
    await within(Promise.all([bySession.connected, byPat.connected]), 5000, 'acks');
    redisProxy.cut();
    try {
      const deleted = await new GraphQLClient(b.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(DeleteAccountDocument, {
        password: PASSWORD,
      });
      expect(deleted.errors).toBeUndefined();
      const [sessionClosed, patClosed] = await within(Promise.all([bySession.closed, byPat.closed]), 5000, 'closes through the database');
      expect([sessionClosed.code, patClosed.code]).toEqual([4401, 4401]);
      await refusedWithin(a.url, signedUp.accessToken, 'USER_NOT_FOUND', 5000);
      await refusedWithin(a.url, pat, 'USER_NOT_FOUND', 5000);
    } finally {
      redisProxy.restore();
    }
  });

  it('keeps serving with Redis down and recovers when it returns', async () => {
    const signedUp = await register(b, 'no-redis');
    redisProxy.cut();
    try {
      const me = await new GraphQLClient(a.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(MeDocument);
      expect(me.data?.me.id).toBe(signedUp.user.id);
      const login = await new GraphQLClient(a.url).request(LoginDocument, {
        input: { username: 'no-redis', password: PASSWORD, refreshTokenDelivery: 'BODY' },
      });
      expect(login.errors).toBeUndefined();
    } finally {
      redisProxy.restore();
    }
    // Back: events flow through Redis again.
    const socket = openWsClient(b.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    sockets.push(socket);
    const events = socket.subscribe(SESSION_EVENTS);
    await within(socket.connected, 5000, 'ack');
    const deadline = Date.now() + 10_000;
    while (events.results.length === 0 && Date.now() < deadline) {
      await new GraphQLClient(a.url).request(LoginDocument, { input: { username: 'no-redis', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(events.results.length).toBeGreaterThan(0);
  });

  it('answers with a clear error and not-ready while PostgreSQL is unreachable, and resumes without a restart', async () => {
    const signedUp = await register(a, 'no-postgres');
    pgProxy.cut();
    try {
      const ready = await fetch(`${a.origin}/ready`);
      expect(ready.status).toBe(503);
      const me = await new GraphQLClient(a.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(MeDocument);
      expect(me.errors?.[0]?.extensions?.code).toBe('INTERNAL');
      expect(JSON.stringify(me.errors)).not.toMatch(/ECONNREFUSED|postgres|127\.0\.0\.1/i);
    } finally {
      pgProxy.restore();
    }
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await fetch(`${a.origin}/ready`)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe(200);
    const me = await new GraphQLClient(a.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(MeDocument);
    expect(me.data?.me.username).toBe('no-postgres');
  });
});
