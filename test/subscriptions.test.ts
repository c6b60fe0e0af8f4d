import { connect } from 'node:net';
import { vi } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  DeleteAccountDocument,
  LogoutAllDocument,
  LogoutDocument,
  RefreshDocument,
  RevokeDeviceDocument,
  RevokePersonalAccessTokenDocument,
} from '../client/src/operations.js';
import { MAX_UNDELIVERED_SESSION_EVENTS, sessionEventStream } from '../src/realtime/session-event-stream.js';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../src/realtime/websocket-server.js';
import { describe, expect, PASSWORD, register, signIn, test } from './helpers/fixtures.js';
import { GraphQLClient, type GraphQLResponse } from './helpers/graphql-client.js';
import { until } from './helpers/until.js';
import { collect, webSocketWithHeaders, within, type TestSseStream, type WsClientOptions } from './helpers/realtime-clients.js';
import type { TestGateway } from './helpers/test-gateway.js';

const SESSION_EVENTS = 'subscription { sessionEvents { kind sessionId at } }';
const ALLOWED_ORIGIN = 'https://app.example';
const EVIL_ORIGIN = 'https://evil.example';
/** The acceptance bound for ending a channel after expiry or revocation. */
const ONE_SECOND = 1000;

interface SessionEventResult {
  data?: { sessionEvents: { kind: string; sessionId: string; at: string } };
  errors?: { message: string; extensions: Record<string, unknown> }[];
}

test.override({ gatewayOptions: { env: { ALLOWED_ORIGINS: ALLOWED_ORIGIN } } });

function as(gateway: TestGateway, accessToken: string): GraphQLClient {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` });
}

async function createPat(gateway: TestGateway, accessToken: string, scopes = ['sessions:read'], expiresInDays?: number) {
  const created = await as(gateway, accessToken).request(CreatePersonalAccessTokenDocument, { input: { name: 'stream', scopes, expiresInDays } });
  return created.data!.createPersonalAccessToken;
}

/**
 * Waits until the gateway holds this many sessionEvents listeners for a user and, with Redis,
 * until Redis holds the user's subscription: an event published before Redis has taken the
 * SUBSCRIBE is delivered to nobody, and the listener count is set before that.
 */
async function listening(gateway: TestGateway, userId: string, count = 1): Promise<void> {
  await until(() => gateway.services.sessionEvents.listenerCount(userId) === count, `${count} sessionEvents listeners`);
  const redis = gateway.services.redis;
  if (!redis || count === 0) return;
  const channel = `${gateway.config.redisKeyPrefix}session-events:${userId}`;
  await until(async () => {
    const [, subscribers] = (await redis.commands.pubsub('NUMSUB', channel)) as [string, number];
    return subscribers > 0;
  }, 'the subscription at Redis');
}

function sessionEvent(result: unknown) {
  return (result as SessionEventResult).data?.sessionEvents;
}

/** Each way a WebSocket client can present its credential. */
const WS_CHANNELS: [string, (token: string, gateway: TestGateway) => { options: WsClientOptions; url?: string }][] = [
  ['connectionParams.authorization', (token) => ({ options: { connectionParams: { authorization: `Bearer ${token}` } } })],
  ['connectionParams.token', (token) => ({ options: { connectionParams: { token } } })],
  ['the ?token= parameter of the URL', (token, gateway) => ({ options: {}, url: `${gateway.wsUrl}?token=${token}` })],
  ['the accessToken cookie from an allowed origin', (token) => ({ options: { headers: { cookie: `accessToken=${token}`, origin: ALLOWED_ORIGIN } } })],
];

/** Each way an SSE client can present its credential. */
const SSE_CHANNELS: [string, (token: string, gateway: TestGateway) => { headers: Record<string, string>; url?: string }][] = [
  ['the Authorization header', (token) => ({ headers: { authorization: `Bearer ${token}` } })],
  ['the accessToken cookie', (token) => ({ headers: { cookie: `accessToken=${token}` } })],
  ['the ?token= parameter of the URL', (token, gateway) => ({ headers: {}, url: `${gateway.url}?token=${token}` })],
];

const CREDENTIALS: [string, (accessToken: string, gateway: TestGateway) => Promise<string>][] = [
  ['an access token', async (accessToken) => accessToken],
  ['a personal access token', async (accessToken, gateway) => (await createPat(gateway, accessToken)).token],
];

describe('WebSocket credential channels', () => {
  describe.each(CREDENTIALS)('with %s', (_kind, credentialOf) => {
    test.for(WS_CHANNELS)('authenticates through %s and delivers SIGNED_IN from another device', async ([, channel], { gateway, realtime }) => {
      const signedUp = await register(gateway, 'subscriber');
      const credential = await credentialOf(signedUp.accessToken, gateway);
      const { options, url } = channel(credential, gateway);
      const socket = realtime.ws(url ?? gateway.wsUrl, options);
      const events = socket.subscribe(SESSION_EVENTS);
      await within(socket.connected, 5000, 'connection ack');
      await listening(gateway, signedUp.user.id);
      expect(gateway.services.live.size).toBe(1);

      const other = await signIn(gateway, 'subscriber');
      expect(sessionEvent(await within(events.nth(0), 5000, 'event'))).toMatchObject({ kind: 'SIGNED_IN', sessionId: other.session.id });
      expect(gateway.logs.join('')).not.toContain(credential);
    });
  });

  test('refuses a cookie-authenticated upgrade from another origin or without one, but not a token from any origin', async ({ gateway, realtime }) => {
    const { accessToken } = await register(gateway, 'subscriber');
    const hijack = realtime.ws(gateway.wsUrl, { headers: { cookie: `accessToken=${accessToken}`, origin: EVIL_ORIGIN } });
    expect((await within(hijack.closed, 5000, 'close')).code).toBe(4403);
    const noOrigin = realtime.ws(gateway.wsUrl, { headers: { cookie: `accessToken=${accessToken}` } });
    expect((await within(noOrigin.closed, 5000, 'close')).code).toBe(4403);
    expect(gateway.services.live.size).toBe(0);

    // The same page, holding the token itself, may connect from anywhere: no ambient authority.
    const header = realtime.ws(gateway.wsUrl, {
      connectionParams: { authorization: `Bearer ${accessToken}` },
      headers: { origin: EVIL_ORIGIN, cookie: `accessToken=${accessToken}` },
    });
    await within(header.connected, 5000, 'connection ack');
    const viaUrl = realtime.ws(`${gateway.wsUrl}?token=${accessToken}`, { headers: { origin: EVIL_ORIGIN } });
    await within(viaUrl.connected, 5000, 'connection ack');
    expect(gateway.services.live.size).toBe(2);
  });

  test('closes with 4401 on an invalid or revoked credential at connection_init, 4403 on a missing one', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const revoked = await signIn(gateway, 'subscriber');
    await as(gateway, revoked.accessToken).request(LogoutDocument);
    const attempts: [WsClientOptions, { code: number; reason: string }][] = [
      [{ connectionParams: { authorization: 'Bearer forged' } }, { code: 4401, reason: 'Invalid credential' }],
      [{ connectionParams: { authorization: signedUp.accessToken } }, { code: 4401, reason: 'Invalid credential' }], // not a Bearer credential
      [{ connectionParams: { token: 42 } }, { code: 4401, reason: 'Invalid credential' }],
      [{ connectionParams: { token: signedUp.refreshToken! } }, { code: 4401, reason: 'Invalid credential' }],
      [{ connectionParams: { token: revoked.accessToken } }, { code: 4401, reason: 'Session revoked' }],
      [{ connectionParams: { token: 'gwp_000000000000000000000000000000000000000000' } }, { code: 4401, reason: 'Invalid credential' }],
      [{}, { code: 4403, reason: 'Authentication required' }],
    ];
    for (const [options, close] of attempts) {
      expect(await within(realtime.ws(gateway.wsUrl, options).closed, 5000, 'close')).toEqual(close);
    }
    // Past exp and the verifier's clock tolerance. (Within the tolerance the token is still
    // accepted at connection_init, and the connection is closed with 4403 at once.)
    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt) + 10_000);
    expect(await within(realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } }).closed, 5000, 'close')).toEqual({
      code: 4403,
      reason: 'Token expired',
    });
    expect(gateway.services.live.size).toBe(0);
  });

  test('closes with 4408 when connection_init does not come in time (graphql-ws default, 3 s)', async ({ gateway }) => {
    const socket = new WebSocket(gateway.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    expect(await within(closed, 5000, 'close')).toBe(4408);
  });

  test('refuses sessionEvents to a personal access token without sessions:read, naming the scope', async ({ gateway, realtime }) => {
    const { accessToken } = await register(gateway, 'subscriber');
    const { token } = await createPat(gateway, accessToken, ['profile:read']);
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token } });
    const subscription = socket.subscribe(SESSION_EVENTS);
    const refusal = (await within(subscription.nth(0), 5000, 'refusal')) as SessionEventResult;
    expect(refusal.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScopes: ['sessions:read'] });
    await within(subscription.done, 5000, 'complete');
    expect(gateway.services.sessionEvents.listenerCount()).toBe(0);
  });
});

describe('WebSocket expiry and revocation', () => {
  test('closes with 4403 within a second of the access token expiring, not before', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    socket.subscribe(SESSION_EVENTS);
    await within(socket.connected, 5000, 'connection ack');
    await listening(gateway, signedUp.user.id);

    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt) - 1);
    gateway.services.live.sweep();
    expect(gateway.services.live.size).toBe(1);

    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt));
    expect(await within(socket.closed, ONE_SECOND, 'close within 1 s of exp')).toEqual({ code: 4403, reason: 'Token expired' });
    expect(gateway.services.live.size).toBe(0);
    await listening(gateway, signedUp.user.id, 0);
  });

  test('closes a personal access token connection with 4401 within a second of the token expiring', async ({ gateway, realtime }) => {
    const { accessToken } = await register(gateway, 'subscriber');
    const { token, personalAccessToken } = await createPat(gateway, accessToken, ['sessions:read'], 1);
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token } });
    await within(socket.connected, 5000, 'connection ack');
    gateway.clock.set(Date.parse(personalAccessToken.expiresAt!));
    expect(await within(socket.closed, ONE_SECOND, 'close within 1 s of expiry')).toEqual({ code: 4401, reason: 'Personal access token expired' });
  });

  test.for<[string, (gateway: TestGateway, own: string, other: string, ownSessionId: string) => Promise<GraphQLResponse<unknown>>]>([
    ['logout', async (gateway, own) => as(gateway, own).request(LogoutDocument)],
    ['revokeDevice from another device', async (gateway, _own, other, ownSessionId) => as(gateway, other).request(RevokeDeviceDocument, { id: ownSessionId })],
    ['logoutAll from another device', async (gateway, _own, other) => as(gateway, other).request(LogoutAllDocument)],
  ])('after %s: the revoked session gets its REVOKED event, then 4401 within a second', async ([, revoke], { gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const other = await signIn(gateway, 'subscriber');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    const events = socket.subscribe(SESSION_EVENTS);
    await within(socket.connected, 5000, 'connection ack');
    await listening(gateway, signedUp.user.id);

    const closedInTime = within(socket.closed, ONE_SECOND, 'close within 1 s of the revocation');
    expect((await revoke(gateway, signedUp.accessToken, other.accessToken, signedUp.session.id)).errors).toBeUndefined();
    expect(await closedInTime).toEqual({ code: 4401, reason: 'Session revoked' });
    expect(events.results.map(sessionEvent)).toContainEqual(expect.objectContaining({ kind: 'REVOKED', sessionId: signedUp.session.id }));
    // Its own REVOKED event came before the close.
    const ownEvent = socket.timeline.findIndex((entry) => entry.type === 'next' && sessionEvent(entry.value)?.sessionId === signedUp.session.id);
    expect(ownEvent).toBeGreaterThanOrEqual(0);
    expect(ownEvent).toBeLessThan(socket.timeline.findIndex((entry) => entry.type === 'closed'));
    expect(gateway.services.live.size).toBe(0);
    await listening(gateway, signedUp.user.id, 0);
  });

  test('keeps the other devices open, telling them which session was revoked', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const other = await signIn(gateway, 'subscriber');
    const revokedSocket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    const stayingSocket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${other.accessToken}` } });
    const staying = stayingSocket.subscribe(SESSION_EVENTS);
    revokedSocket.subscribe(SESSION_EVENTS);
    await listening(gateway, signedUp.user.id, 2);

    await as(gateway, signedUp.accessToken).request(LogoutDocument);
    expect(sessionEvent(await within(staying.nth(0), 5000, 'event'))).toMatchObject({ kind: 'REVOKED', sessionId: signedUp.session.id });
    expect((await within(revokedSocket.closed, ONE_SECOND, 'close')).code).toBe(4401);
    expect(gateway.services.live.size).toBe(1);
    await listening(gateway, signedUp.user.id, 1);
  });

  test('after changePassword: closes the other sessions within a second and keeps the current one', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const other = await signIn(gateway, 'subscriber');
    const current = realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } });
    const elsewhere = realtime.ws(gateway.wsUrl, { connectionParams: { token: other.accessToken } });
    const currentEvents = current.subscribe(SESSION_EVENTS);
    await Promise.all([current.connected, elsewhere.connected]);

    const closedInTime = within(elsewhere.closed, ONE_SECOND, 'close within 1 s');
    const changed = await as(gateway, signedUp.accessToken).request(ChangePasswordDocument, {
      currentPassword: PASSWORD,
      newPassword: 'another long passphrase',
    });
    expect(changed.errors).toBeUndefined();
    expect((await closedInTime).code).toBe(4401);
    expect(sessionEvent(await within(currentEvents.nth(0), 5000, 'event'))).toMatchObject({ kind: 'REVOKED', sessionId: other.session.id });
    expect(gateway.services.live.size).toBe(1);
  });

  test('after deleteAccount: closes every connection of the user with 4401 within a second, sessions after their REVOKED event', async ({
    gateway,
    realtime,
  }) => {
    const signedUp = await register(gateway, 'subscriber');
    const { token } = await createPat(gateway, signedUp.accessToken);
    const bystander = await register(gateway, 'bystander');
    const sessionSocket = realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } });
    const patSocket = realtime.ws(gateway.wsUrl, { connectionParams: { token } });
    const bystanderSocket = realtime.ws(gateway.wsUrl, { connectionParams: { token: bystander.accessToken } });
    const events = sessionSocket.subscribe(SESSION_EVENTS);
    await Promise.all([sessionSocket.connected, patSocket.connected, bystanderSocket.connected]);
    await listening(gateway, signedUp.user.id);

    const closedInTime = Promise.all([sessionSocket.closed, patSocket.closed].map((closed) => within(closed, ONE_SECOND, 'close within 1 s')));
    expect((await as(gateway, signedUp.accessToken).request(DeleteAccountDocument, { password: PASSWORD })).errors).toBeUndefined();
    expect(await closedInTime).toEqual([
      { code: 4401, reason: 'Account deleted' },
      { code: 4401, reason: 'Account deleted' },
    ]);
    expect(sessionEvent(events.results[0])).toMatchObject({ kind: 'REVOKED', sessionId: signedUp.session.id });
    expect(sessionSocket.timeline.map((entry) => entry.type)).toEqual(['next', 'closed']);
    expect(gateway.services.live.size).toBe(1);
  });

  test('after revokePersonalAccessToken: closes that token’s connections within a second and nothing else', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const { token, personalAccessToken } = await createPat(gateway, signedUp.accessToken);
    const patSocket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${token}` } });
    const sessionSocket = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    await Promise.all([patSocket.connected, sessionSocket.connected]);

    const closedInTime = within(patSocket.closed, ONE_SECOND, 'close within 1 s');
    expect((await as(gateway, signedUp.accessToken).request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id })).errors).toBeUndefined();
    expect(await closedInTime).toEqual({ code: 4401, reason: 'Personal access token revoked' });
    expect(gateway.services.live.size).toBe(1);
  });
});

describe('WebSocket limits', () => {
  test('closes the 21st connection of one user with a clear reason; other users are not affected', async ({ gateway, realtime }) => {
    const { accessToken } = await register(gateway, 'subscriber');
    const open = Array.from({ length: 20 }, () => realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } }));
    await Promise.all(open.map((socket) => within(socket.connected, 5000, 'connection ack')));
    const extra = realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } });
    expect(await within(extra.closed, 5000, 'close')).toEqual({ code: 1013, reason: 'Too many connections for this account' });
    expect(gateway.services.live.size).toBe(20);

    const someoneElse = await register(gateway, 'someone-else');
    await within(realtime.ws(gateway.wsUrl, { connectionParams: { token: someoneElse.accessToken } }).connected, 5000, 'connection ack');
  });

  test('takes the limit from MAX_CONNECTIONS_PER_USER, counts SSE streams too, and frees a slot when a connection closes', async ({
    startGateway,
    realtime,
  }) => {
    const gateway = await startGateway({ env: { MAX_CONNECTIONS_PER_USER: '2' } });
    const { accessToken } = await register(gateway, 'subscriber');
    const first = realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } });
    await within(first.connected, 5000, 'connection ack');
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${accessToken}` });
    await until(() => gateway.services.live.size === 2, 'two channels');

    expect((await within(realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } }).closed, 5000, 'close')).code).toBe(1013);
    const refused = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${accessToken}` });
    await within(refused.ended, 5000, 'refused stream end');
    const refusal = refused.events.find((e) => e.event === 'next')?.data as SessionEventResult;
    expect(refusal.errors?.[0]).toMatchObject({ message: 'Too many connections for this account', extensions: { code: 'RATE_LIMITED' } });

    stream.abort();
    await until(() => gateway.services.live.size === 1, 'the stream’s slot freed');
    await within(realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } }).connected, 5000, 'connection ack');
  });

  test('closes a connection that sends a message over 64 KB (1009), handling the error itself', async ({ gateway, realtime }) => {
    const consoleError = vi.spyOn(console, 'error');
    try {
      const { accessToken } = await register(gateway, 'subscriber');
      const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } });
      await within(socket.connected, 5000, 'connection ack');
      socket.subscribe(`subscription { sessionEvents { kind } } # ${'x'.repeat(64 * 1024)}`);
      expect((await within(socket.closed, 5000, 'close')).code).toBe(1009);
      await until(() => gateway.services.live.size === 0, 'the connection released');
      expect(consoleError).not.toHaveBeenCalled();
      expect(gateway.logs.join('')).toContain('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    } finally {
      consoleError.mockRestore();
    }
  });

  test(`serves ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions on one connection and refuses the next`, async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } });
    await within(socket.connected, 5000, 'connection ack');
    const subscriptions = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, () => socket.subscribe(SESSION_EVENTS));
    await listening(gateway, signedUp.user.id, MAX_SUBSCRIPTIONS_PER_CONNECTION);

    const extra = socket.subscribe(SESSION_EVENTS);
    const refusal = (await within(extra.nth(0), 5000, 'refusal')) as { error: { message: string; extensions: Record<string, unknown> }[] };
    expect(refusal.error[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' } });

    const other = await signIn(gateway, 'subscriber');
    for (const subscription of subscriptions) {
      expect(sessionEvent(await within(subscription.nth(0), 5000, 'event'))).toMatchObject({ sessionId: other.session.id });
    }
  });

  test('fans one user’s events out to many subscriptions from one pubsub listener, and releases them all', async ({ gateway, realtime }) => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const signedUp = await register(gateway, 'subscriber');
      const connections = Array.from({ length: 4 }, () => realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } }));
      const subscriptions = connections.flatMap((socket) => Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, () => socket.subscribe(SESSION_EVENTS)));
      await listening(gateway, signedUp.user.id, subscriptions.length);

      const other = await signIn(gateway, 'subscriber');
      const delivered = await Promise.all(subscriptions.map((subscription) => within(subscription.nth(0), 5000, 'event')));
      expect(new Set(delivered.map((result) => sessionEvent(result)?.sessionId))).toEqual(new Set([other.session.id]));

      await Promise.all(connections.map((socket) => socket.dispose()));
      await listening(gateway, signedUp.user.id, 0);
      await until(() => gateway.services.live.size === 0, 'connections released');
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  test('releases a subscription’s listener when the client completes it, with the connection still open', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } });
    await within(socket.connected, 5000, 'connection ack');
    const events = collect((sink) => socket.client.subscribe({ query: SESSION_EVENTS }, sink));
    const unsubscribe = socket.client.subscribe({ query: SESSION_EVENTS }, { next: () => {}, error: () => {}, complete: () => {} });
    await listening(gateway, signedUp.user.id, 2);
    unsubscribe();
    await listening(gateway, signedUp.user.id, 1);
    expect(events.results).toEqual([]);
    expect(gateway.services.live.size).toBe(1);
  });

  test('serves mutations over HTTP only', async ({ gateway, realtime }) => {
    const { accessToken } = await register(gateway, 'subscriber');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token: accessToken } });
    const result = (await within(socket.subscribe('mutation { logout }').nth(0), 5000, 'refusal')) as { error: { message: string }[] };
    expect(result.error[0]!.message).toBe('Mutations are served over HTTP only');
    expect(gateway.services.live.size).toBe(1);
  });

  test('answers an upgrade elsewhere than the GraphQL path, or to a target that does not parse, with 404 and keeps serving', async ({ gateway }) => {
    const { port } = new URL(gateway.origin);
    for (const target of ['/elsewhere', 'http://[']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.write(
            `GET ${target} HTTP/1.1\r\nHost: gateway\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
          ),
        );
        let received = '';
        socket.on('data', (chunk) => (received += String(chunk)));
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    }
    expect((await fetch(`${gateway.origin}/health`)).status).toBe(200);
  });

  test('holds a bounded number of events for a subscriber that stops reading, dropping the rest', async ({ gateway }) => {
    const signedUp = await register(gateway, 'subscriber');
    const caller = { kind: 'session' as const, userId: signedUp.user.id, sessionId: signedUp.session.id, expiresAt: Date.parse(signedUp.accessTokenExpiresAt) };
    const connection = { caller, end: () => {} };
    const request = new Request(gateway.url);
    const stream = sessionEventStream({
      services: gateway.services,
      request,
      caller,
      client: { ip: '127.0.0.1', userAgent: null },
      responseCookies: [],
      websocket: { caller, connection, fetchRequest: request },
    });
    const first = stream.next();
    await listening(gateway, signedUp.user.id);
    const publish = (sessionId: string) => gateway.services.sessionEvents.publish(signedUp.user.id, { kind: 'SIGNED_IN', sessionId, at: 0 });
    // A second listener of the same feed, called after the stream's for every event: once it
    // has seen the last one, so has the stream. Delivered at once in memory, but one by one
    // after a round trip through Redis with TEST_REDIS_URL, where reading too early would let
    // late arrivals refill the stream's room.
    let lastSeen = '';
    const stopWatching = gateway.services.sessionEvents.listen(signedUp.user.id, (event) => (lastSeen = event.sessionId));
    // Far beyond the 1024 pending pushes at which a repeater throws, here inside the pubsub's
    // event listener, where nothing would catch it.
    for (let i = 0; i < 3000; i++) publish(`s${i}`);
    await until(() => lastSeen === 's2999', 'every event to reach the stream');
    stopWatching();
    expect(gateway.logs.join('')).toContain('dropping events');

    const received = [(await first).value!.sessionId];
    for (let i = 1; i < MAX_UNDELIVERED_SESSION_EVENTS; i++) received.push((await stream.next()).value!.sessionId);
    expect(received).toEqual(Array.from({ length: MAX_UNDELIVERED_SESSION_EVENTS }, (_, i) => `s${i}`));
    const next = stream.next();
    publish('after catching up');
    expect((await next).value!.sessionId).toBe('after catching up');

    await stream.return(undefined);
    expect(gateway.services.sessionEvents.listenerCount()).toBe(0);
  });

  test('closes every connection (1001) and releases every listener and slot when the gateway closes', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token: signedUp.accessToken } });
    socket.subscribe(SESSION_EVENTS);
    await listening(gateway, signedUp.user.id);
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(gateway, signedUp.user.id, 2);

    await gateway.close({ keepDatabase: true });
    expect((await within(socket.closed, 5000, 'close')).code).toBe(1001);
    await within(stream.ended, 5000, 'stream end');
    await until(() => gateway.services.live.size === 0, 'every slot released');
    expect(gateway.services.sessionEvents.listenerCount()).toBe(0);
  });
});

describe('SSE', () => {
  describe.each(CREDENTIALS)('with %s', (_kind, credentialOf) => {
    test.for(SSE_CHANNELS)('authenticates through %s and delivers SIGNED_IN from another device', async ([, channel], { gateway, realtime }) => {
      const signedUp = await register(gateway, 'subscriber');
      const credential = await credentialOf(signedUp.accessToken, gateway);
      const { headers, url } = channel(credential, gateway);
      const stream = await realtime.sse(url ?? gateway.url, SESSION_EVENTS, headers);
      expect(stream.status).toBe(200);
      await listening(gateway, signedUp.user.id);
      const other = await signIn(gateway, 'subscriber');
      expect(await within(stream.nth(0), 5000, 'event')).toMatchObject({
        event: 'next',
        data: { data: { sessionEvents: { kind: 'SIGNED_IN', sessionId: other.session.id } } },
      });
      expect(gateway.logs.join('')).not.toContain(credential);
    });
  });

  test('cuts the stream (no error, no complete: SSE clients reconnect) within a second of the access token expiring', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(gateway, signedUp.user.id);
    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt));
    await within(stream.ended, ONE_SECOND, 'stream end within 1 s of exp');
    expect(stream.events).toEqual([]);
    expect(gateway.services.live.size).toBe(0);
    await listening(gateway, signedUp.user.id, 0);
  });

  test('after logout: sends the REVOKED event, then ends with SESSION_REVOKED within a second', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(gateway, signedUp.user.id);
    const endedInTime = within(stream.ended, ONE_SECOND, 'stream end within 1 s');
    await as(gateway, signedUp.accessToken).request(LogoutDocument);
    await endedInTime;
    const nexts = stream.events.filter((e) => e.event === 'next').map((e) => e.data as SessionEventResult);
    expect(nexts[0]?.data?.sessionEvents).toMatchObject({ kind: 'REVOKED', sessionId: signedUp.session.id });
    expect(nexts.at(-1)?.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
    expect(gateway.services.live.size).toBe(0);
  });

  test('after deleteAccount: ends with USER_NOT_FOUND within a second, for a session and a token', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const { token } = await createPat(gateway, signedUp.accessToken);
    const sessionStream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    const patStream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${token}` });
    await listening(gateway, signedUp.user.id, 2);
    const endedInTime = Promise.all([sessionStream.ended, patStream.ended].map((ended) => within(ended, ONE_SECOND, 'stream end within 1 s')));
    await as(gateway, signedUp.accessToken).request(DeleteAccountDocument, { password: PASSWORD });
    await endedInTime;
    for (const stream of [sessionStream, patStream]) {
      expect(lastError(stream)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'USER_NOT_FOUND' });
    }
  });

  test('after revokePersonalAccessToken: ends that token’s stream within a second', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const { token, personalAccessToken } = await createPat(gateway, signedUp.accessToken);
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${token}` });
    await listening(gateway, signedUp.user.id);
    const endedInTime = within(stream.ended, ONE_SECOND, 'stream end within 1 s');
    await as(gateway, signedUp.accessToken).request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id });
    await endedInTime;
    expect(lastError(stream)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
  });

  test('refuses an anonymous stream', async ({ gateway, realtime }) => {
    const anonymous = await realtime.sse(gateway.url, SESSION_EVENTS);
    await within(anonymous.ended, 5000, 'end');
    expect(lastError(anonymous)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    expect(gateway.services.live.size).toBe(0);
  });

  test('releases its slot and listener as soon as the client goes away', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(gateway, signedUp.user.id);
    expect(gateway.services.live.size).toBe(1);
    stream.abort();
    await listening(gateway, signedUp.user.id, 0);
    await until(() => gateway.services.live.size === 0, 'the slot released');
  });
});

describe('reconnecting with a fresh token (a stock graphql-ws client, as the README shows)', () => {
  test('reconnects by itself after 4403, presenting the token its async connectionParams refreshed', async ({ gateway }) => {
    const signedUp = await register(gateway, 'subscriber');
    let accessToken = signedUp.accessToken;
    let accessTokenExpiresAt = Date.parse(signedUp.accessTokenExpiresAt);
    let refreshToken = signedUp.refreshToken!;
    const closeCodes: number[] = [];
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: webSocketWithHeaders(),
      // Called for every connection: refresh first when the token has expired.
      connectionParams: async () => {
        if (gateway.clock.now() >= accessTokenExpiresAt) {
          const refreshed = (await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken })).data!.refresh;
          ({ accessToken, refreshToken } = { accessToken: refreshed.accessToken, refreshToken: refreshed.refreshToken! });
          accessTokenExpiresAt = Date.parse(refreshed.accessTokenExpiresAt);
        }
        return { authorization: `Bearer ${accessToken}` };
      },
      // graphql-ws's default backoff waits a second or more; the retry itself is the default's.
      retryWait: async () => {},
      on: { closed: (event) => closeCodes.push((event as { code: number }).code) },
    });
    try {
      const subscription = collect((sink) => client.subscribe({ query: SESSION_EVENTS }, sink));
      await listening(gateway, signedUp.user.id);

      gateway.clock.set(accessTokenExpiresAt);
      await until(() => closeCodes.length === 1, 'the 4403 close');
      expect(closeCodes).toEqual([4403]);
      await until(() => gateway.services.live.size === 1 && accessToken !== signedUp.accessToken, 'the new connection');
      await listening(gateway, signedUp.user.id);

      const other = await signIn(gateway, 'subscriber');
      expect(sessionEvent(await within(subscription.nth(0), 5000, 'an event on the new connection'))).toMatchObject({
        kind: 'SIGNED_IN',
        sessionId: other.session.id,
      });
    } finally {
      await client.dispose();
    }
  });
});

function lastError(stream: TestSseStream) {
  return stream.events
    .filter((e) => e.event === 'next')
    .map((e) => e.data as SessionEventResult)
    .at(-1)?.errors?.[0];
}
