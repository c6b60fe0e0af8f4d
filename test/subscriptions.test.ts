import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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
} from '../client/operations.js';
import { MAX_UNDELIVERED_SESSION_EVENTS, sessionEventStream } from '../src/realtime/session-event-stream.js';
import { MAX_SUBSCRIPTIONS_PER_CONNECTION } from '../src/realtime/websocket-server.js';
import { PASSWORD, register, signIn } from './helpers/accounts.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { until } from './helpers/until.js';
import {
  collect,
  openSseStream,
  openWsClient,
  webSocketWithHeaders,
  within,
  type TestSseStream,
  type TestWsClient,
  type WsClientOptions,
} from './helpers/realtime-clients.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const SESSION_EVENTS = 'subscription { sessionEvents { kind sessionId at } }';
const ALLOWED_ORIGIN = 'https://app.example';
const EVIL_ORIGIN = 'https://evil.example';
/** The acceptance bound for ending a channel after expiry or revocation. */
const ONE_SECOND = 1000;

interface SessionEventResult {
  data?: { sessionEvents: { kind: string; sessionId: string; at: string } };
  errors?: { message: string; extensions: Record<string, unknown> }[];
}

let gateway: TestGateway;
const sockets: TestWsClient[] = [];
const streams: TestSseStream[] = [];

async function start(env: Record<string, string> = {}) {
  gateway = await startTestGateway({ env: { ALLOWED_ORIGINS: ALLOWED_ORIGIN, ...env } });
}
beforeEach(() => start());
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.abort();
  await Promise.all(sockets.splice(0).map((socket) => socket.dispose()));
  await gateway.close();
});

function ws(options: WsClientOptions = {}, url = gateway.wsUrl): TestWsClient {
  const socket = openWsClient(url, options);
  sockets.push(socket);
  return socket;
}

async function sse(query: string, headers: Record<string, string> = {}, url = gateway.url): Promise<TestSseStream> {
  const stream = await openSseStream(url, query, headers);
  streams.push(stream);
  return stream;
}

function as(accessToken: string): GraphQLClient {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` });
}

async function createPat(accessToken: string, scopes = ['sessions:read'], expiresInDays?: number) {
  const created = await as(accessToken).request(CreatePersonalAccessTokenDocument, { input: { name: 'stream', scopes, expiresInDays } });
  return created.data!.createPersonalAccessToken;
}

/** Waits until the gateway holds this many sessionEvents listeners for a user. */
function listening(userId: string, count = 1): Promise<void> {
  return until(() => gateway.services.sessionEvents.listenerCount(userId) === count, `${count} sessionEvents listeners`);
}

function sessionEvent(result: unknown) {
  return (result as SessionEventResult).data?.sessionEvents;
}

/** Each way a WebSocket client can present its credential. */
const WS_CHANNELS: [string, (token: string) => { options: WsClientOptions; url?: string }][] = [
  ['connectionParams.authorization', (token) => ({ options: { connectionParams: { authorization: `Bearer ${token}` } } })],
  ['connectionParams.token', (token) => ({ options: { connectionParams: { token } } })],
  ['the ?token= parameter of the URL', (token) => ({ options: {}, url: `${gateway.wsUrl}?token=${token}` })],
  ['the accessToken cookie from an allowed origin', (token) => ({ options: { headers: { cookie: `accessToken=${token}`, origin: ALLOWED_ORIGIN } } })],
];

/** Each way an SSE client can present its credential. */
const SSE_CHANNELS: [string, (token: string) => { headers: Record<string, string>; url?: string }][] = [
  ['the Authorization header', (token) => ({ headers: { authorization: `Bearer ${token}` } })],
  ['the accessToken cookie', (token) => ({ headers: { cookie: `accessToken=${token}` } })],
  ['the ?token= parameter of the URL', (token) => ({ headers: {}, url: `${gateway.url}?token=${token}` })],
];

const CREDENTIALS: [string, (accessToken: string) => Promise<string>][] = [
  ['an access token', async (accessToken) => accessToken],
  ['a personal access token', async (accessToken) => (await createPat(accessToken)).token],
];

describe('WebSocket credential channels', () => {
  describe.each(CREDENTIALS)('with %s', (_kind, credentialOf) => {
    it.each(WS_CHANNELS)('authenticates through %s and delivers SIGNED_IN from another device', async (_channel, channel) => {
      const signedUp = await register(gateway, 'subscriber');
      const credential = await credentialOf(signedUp.accessToken);
      const { options, url } = channel(credential);
      const socket = ws(options, url);
      const events = socket.subscribe(SESSION_EVENTS);
      await within(socket.connected, 5000, 'connection ack');
      await listening(signedUp.user.id);
      expect(gateway.services.live.size).toBe(1);

      const other = await signIn(gateway, 'subscriber');
      expect(sessionEvent(await within(events.nth(0), 5000, 'event'))).toMatchObject({ kind: 'SIGNED_IN', sessionId: other.session.id });
      expect(gateway.logs.join('')).not.toContain(credential);
    });
  });

  it('refuses a cookie-authenticated upgrade from another origin or without one, but not a token from any origin', async () => {
    const { accessToken } = await register(gateway, 'subscriber');
    const hijack = ws({ headers: { cookie: `accessToken=${accessToken}`, origin: EVIL_ORIGIN } });
    expect((await within(hijack.closed, 5000, 'close')).code).toBe(4403);
    const noOrigin = ws({ headers: { cookie: `accessToken=${accessToken}` } });
    expect((await within(noOrigin.closed, 5000, 'close')).code).toBe(4403);
    expect(gateway.services.live.size).toBe(0);

    // The same page, holding the token itself, may connect from anywhere: no ambient authority.
    const header = ws({ connectionParams: { authorization: `Bearer ${accessToken}` }, headers: { origin: EVIL_ORIGIN, cookie: `accessToken=${accessToken}` } });
    await within(header.connected, 5000, 'connection ack');
    const viaUrl = ws({ headers: { origin: EVIL_ORIGIN } }, `${gateway.wsUrl}?token=${accessToken}`);
    await within(viaUrl.connected, 5000, 'connection ack');
    expect(gateway.services.live.size).toBe(2);
  });

  it('closes with 4403 on an invalid, refused or missing credential at connection_init', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const revoked = await signIn(gateway, 'subscriber');
    await as(revoked.accessToken).request(LogoutDocument);
    const attempts: WsClientOptions[] = [
      { connectionParams: { authorization: 'Bearer forged' } },
      { connectionParams: { authorization: signedUp.accessToken } }, // not a Bearer credential
      { connectionParams: { token: 42 } },
      { connectionParams: { token: signedUp.refreshToken! } },
      { connectionParams: { token: revoked.accessToken } },
      { connectionParams: { token: 'gwp_000000000000000000000000000000000000000000' } },
      {},
    ];
    for (const options of attempts) {
      expect((await within(ws(options).closed, 5000, 'close')).code).toBe(4403);
    }
    // Past exp and the verifier's clock tolerance. (Within the tolerance the token is still
    // accepted at connection_init, and the connection is closed with 4401 at once.)
    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt) + 10_000);
    expect((await within(ws({ connectionParams: { token: signedUp.accessToken } }).closed, 5000, 'close')).code).toBe(4403);
    expect(gateway.services.live.size).toBe(0);
  });

  it('closes with 4408 when connection_init does not come in time (graphql-ws default, 3 s)', async () => {
    const socket = new WebSocket(gateway.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    expect(await within(closed, 5000, 'close')).toBe(4408);
  });

  it('refuses sessionEvents to a personal access token without sessions:read, naming the scope', async () => {
    const { accessToken } = await register(gateway, 'subscriber');
    const { token } = await createPat(accessToken, ['profile:read']);
    const socket = ws({ connectionParams: { token } });
    const subscription = socket.subscribe(SESSION_EVENTS);
    const refusal = (await within(subscription.nth(0), 5000, 'refusal')) as SessionEventResult;
    expect(refusal.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScopes: ['sessions:read'] });
    await within(subscription.done, 5000, 'complete');
    expect(gateway.services.sessionEvents.listenerCount()).toBe(0);
  });
});

describe('WebSocket expiry and revocation', () => {
  it('closes with 4401 within a second of the access token expiring, not before', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = ws({ connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    socket.subscribe(SESSION_EVENTS);
    await within(socket.connected, 5000, 'connection ack');
    await listening(signedUp.user.id);

    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt) - 1);
    gateway.services.live.sweep();
    expect(gateway.services.live.size).toBe(1);

    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt));
    expect(await within(socket.closed, ONE_SECOND, 'close within 1 s of exp')).toEqual({ code: 4401, reason: 'Token expired' });
    expect(gateway.services.live.size).toBe(0);
    await listening(signedUp.user.id, 0);
  });

  it('closes a personal access token connection with 4401 within a second of the token expiring', async () => {
    const { accessToken } = await register(gateway, 'subscriber');
    const { token, personalAccessToken } = await createPat(accessToken, ['sessions:read'], 1);
    const socket = ws({ connectionParams: { token } });
    await within(socket.connected, 5000, 'connection ack');
    gateway.clock.set(Date.parse(personalAccessToken.expiresAt!));
    expect((await within(socket.closed, ONE_SECOND, 'close within 1 s of expiry')).code).toBe(4401);
  });

  it.each([
    ['logout', async (own: string) => as(own).request(LogoutDocument)],
    [
      'revokeDevice from another device',
      async (_own: string, other: string, ownSessionId: string) => as(other).request(RevokeDeviceDocument, { id: ownSessionId }),
    ],
    ['logoutAll from another device', async (_own: string, other: string) => as(other).request(LogoutAllDocument)],
  ])('after %s: the revoked session gets its REVOKED event, then 4401 within a second', async (_name, revoke) => {
    const signedUp = await register(gateway, 'subscriber');
    const other = await signIn(gateway, 'subscriber');
    const socket = ws({ connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    const events = socket.subscribe(SESSION_EVENTS);
    await within(socket.connected, 5000, 'connection ack');
    await listening(signedUp.user.id);

    const closedInTime = within(socket.closed, ONE_SECOND, 'close within 1 s of the revocation');
    expect((await revoke(signedUp.accessToken, other.accessToken, signedUp.session.id)).errors).toBeUndefined();
    expect(await closedInTime).toEqual({ code: 4401, reason: 'Credential revoked' });
    expect(events.results.map(sessionEvent)).toContainEqual(expect.objectContaining({ kind: 'REVOKED', sessionId: signedUp.session.id }));
    // Its own REVOKED event came before the close.
    const ownEvent = socket.timeline.findIndex((entry) => entry.type === 'next' && sessionEvent(entry.value)?.sessionId === signedUp.session.id);
    expect(ownEvent).toBeGreaterThanOrEqual(0);
    expect(ownEvent).toBeLessThan(socket.timeline.findIndex((entry) => entry.type === 'closed'));
    expect(gateway.services.live.size).toBe(0);
    await listening(signedUp.user.id, 0);
  });

  it('keeps the other devices open, telling them which session was revoked', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const other = await signIn(gateway, 'subscriber');
    const revokedSocket = ws({ connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    const stayingSocket = ws({ connectionParams: { authorization: `Bearer ${other.accessToken}` } });
    const staying = stayingSocket.subscribe(SESSION_EVENTS);
    revokedSocket.subscribe(SESSION_EVENTS);
    await listening(signedUp.user.id, 2);

    await as(signedUp.accessToken).request(LogoutDocument);
    expect(sessionEvent(await within(staying.nth(0), 5000, 'event'))).toMatchObject({ kind: 'REVOKED', sessionId: signedUp.session.id });
    expect((await within(revokedSocket.closed, ONE_SECOND, 'close')).code).toBe(4401);
    expect(gateway.services.live.size).toBe(1);
    await listening(signedUp.user.id, 1);
  });

  it('after changePassword: closes the other sessions within a second and keeps the current one', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const other = await signIn(gateway, 'subscriber');
    const current = ws({ connectionParams: { token: signedUp.accessToken } });
    const elsewhere = ws({ connectionParams: { token: other.accessToken } });
    const currentEvents = current.subscribe(SESSION_EVENTS);
    await Promise.all([current.connected, elsewhere.connected]);

    const closedInTime = within(elsewhere.closed, ONE_SECOND, 'close within 1 s');
    const changed = await as(signedUp.accessToken).request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'another long passphrase' });
    expect(changed.errors).toBeUndefined();
    expect((await closedInTime).code).toBe(4401);
    expect(sessionEvent(await within(currentEvents.nth(0), 5000, 'event'))).toMatchObject({ kind: 'REVOKED', sessionId: other.session.id });
    expect(gateway.services.live.size).toBe(1);
  });

  it('after deleteAccount: closes every connection of the user with 4401 within a second, sessions after their REVOKED event', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const { token } = await createPat(signedUp.accessToken);
    const bystander = await register(gateway, 'bystander');
    const sessionSocket = ws({ connectionParams: { token: signedUp.accessToken } });
    const patSocket = ws({ connectionParams: { token } });
    const bystanderSocket = ws({ connectionParams: { token: bystander.accessToken } });
    const events = sessionSocket.subscribe(SESSION_EVENTS);
    await Promise.all([sessionSocket.connected, patSocket.connected, bystanderSocket.connected]);
    await listening(signedUp.user.id);

    const closedInTime = Promise.all([sessionSocket.closed, patSocket.closed].map((closed) => within(closed, ONE_SECOND, 'close within 1 s')));
    expect((await as(signedUp.accessToken).request(DeleteAccountDocument, { password: PASSWORD })).errors).toBeUndefined();
    expect(await closedInTime).toEqual([
      { code: 4401, reason: 'Account deleted' },
      { code: 4401, reason: 'Account deleted' },
    ]);
    expect(sessionEvent(events.results[0])).toMatchObject({ kind: 'REVOKED', sessionId: signedUp.session.id });
    expect(sessionSocket.timeline.map((entry) => entry.type)).toEqual(['next', 'closed']);
    expect(gateway.services.live.size).toBe(1);
  });

  it('after revokePersonalAccessToken: closes that token’s connections within a second and nothing else', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const { token, personalAccessToken } = await createPat(signedUp.accessToken);
    const patSocket = ws({ connectionParams: { authorization: `Bearer ${token}` } });
    const sessionSocket = ws({ connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    await Promise.all([patSocket.connected, sessionSocket.connected]);

    const closedInTime = within(patSocket.closed, ONE_SECOND, 'close within 1 s');
    expect((await as(signedUp.accessToken).request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id })).errors).toBeUndefined();
    expect(await closedInTime).toEqual({ code: 4401, reason: 'Credential revoked' });
    expect(gateway.services.live.size).toBe(1);
  });
});

describe('WebSocket limits', () => {
  it('closes the 21st connection of one user with a clear reason; other users are not affected', async () => {
    const { accessToken } = await register(gateway, 'subscriber');
    const open = Array.from({ length: 20 }, () => ws({ connectionParams: { token: accessToken } }));
    await Promise.all(open.map((socket) => within(socket.connected, 5000, 'connection ack')));
    const extra = ws({ connectionParams: { token: accessToken } });
    expect(await within(extra.closed, 5000, 'close')).toEqual({ code: 4429, reason: 'Too many connections for this account' });
    expect(gateway.services.live.size).toBe(20);

    const someoneElse = await register(gateway, 'someone-else');
    await within(ws({ connectionParams: { token: someoneElse.accessToken } }).connected, 5000, 'connection ack');
  });

  it('takes the limit from MAX_CONNECTIONS_PER_USER, counts SSE streams too, and frees a slot when a connection closes', async () => {
    await gateway.close();
    await start({ MAX_CONNECTIONS_PER_USER: '2' });
    const { accessToken } = await register(gateway, 'subscriber');
    const first = ws({ connectionParams: { token: accessToken } });
    await within(first.connected, 5000, 'connection ack');
    const stream = await sse(SESSION_EVENTS, { authorization: `Bearer ${accessToken}` });
    await until(() => gateway.services.live.size === 2, 'two channels');

    expect((await within(ws({ connectionParams: { token: accessToken } }).closed, 5000, 'close')).code).toBe(4429);
    const refused = await sse(SESSION_EVENTS, { authorization: `Bearer ${accessToken}` });
    await within(refused.ended, 5000, 'refused stream end');
    const refusal = refused.events.find((e) => e.event === 'next')?.data as SessionEventResult;
    expect(refusal.errors?.[0]).toMatchObject({ message: 'Too many connections for this account', extensions: { code: 'RATE_LIMITED' } });

    stream.abort();
    await until(() => gateway.services.live.size === 1, 'the stream’s slot freed');
    await within(ws({ connectionParams: { token: accessToken } }).connected, 5000, 'connection ack');
  });

  it('closes a connection that sends a message over 64 KB (1009), handling the error itself', async () => {
    const consoleError = vi.spyOn(console, 'error');
    try {
      const { accessToken } = await register(gateway, 'subscriber');
      const socket = ws({ connectionParams: { token: accessToken } });
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

  it(`serves ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions on one connection and refuses the next`, async () => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = ws({ connectionParams: { token: signedUp.accessToken } });
    await within(socket.connected, 5000, 'connection ack');
    const subscriptions = Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, () => socket.subscribe(SESSION_EVENTS));
    await listening(signedUp.user.id, MAX_SUBSCRIPTIONS_PER_CONNECTION);

    const extra = socket.subscribe(SESSION_EVENTS);
    const refusal = (await within(extra.nth(0), 5000, 'refusal')) as { error: { message: string; extensions: Record<string, unknown> }[] };
    expect(refusal.error[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit: 'MAX_SUBSCRIPTIONS_PER_CONNECTION' } });

    const other = await signIn(gateway, 'subscriber');
    for (const subscription of subscriptions) {
      expect(sessionEvent(await within(subscription.nth(0), 5000, 'event'))).toMatchObject({ sessionId: other.session.id });
    }
  });

  it('fans one user’s events out to many subscriptions from one pubsub listener, and releases them all', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const signedUp = await register(gateway, 'subscriber');
      const connections = Array.from({ length: 4 }, () => ws({ connectionParams: { token: signedUp.accessToken } }));
      const subscriptions = connections.flatMap((socket) => Array.from({ length: MAX_SUBSCRIPTIONS_PER_CONNECTION }, () => socket.subscribe(SESSION_EVENTS)));
      await listening(signedUp.user.id, subscriptions.length);

      const other = await signIn(gateway, 'subscriber');
      const delivered = await Promise.all(subscriptions.map((subscription) => within(subscription.nth(0), 5000, 'event')));
      expect(new Set(delivered.map((result) => sessionEvent(result)?.sessionId))).toEqual(new Set([other.session.id]));

      await Promise.all(connections.map((socket) => socket.dispose()));
      await listening(signedUp.user.id, 0);
      await until(() => gateway.services.live.size === 0, 'connections released');
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('releases a subscription’s listener when the client completes it, with the connection still open', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = ws({ connectionParams: { token: signedUp.accessToken } });
    await within(socket.connected, 5000, 'connection ack');
    const events = collect((sink) => socket.client.subscribe({ query: SESSION_EVENTS }, sink));
    const unsubscribe = socket.client.subscribe({ query: SESSION_EVENTS }, { next: () => {}, error: () => {}, complete: () => {} });
    await listening(signedUp.user.id, 2);
    unsubscribe();
    await listening(signedUp.user.id, 1);
    expect(events.results).toEqual([]);
    expect(gateway.services.live.size).toBe(1);
  });

  it('serves mutations over HTTP only', async () => {
    const { accessToken } = await register(gateway, 'subscriber');
    const socket = ws({ connectionParams: { token: accessToken } });
    const result = (await within(socket.subscribe('mutation { logout }').nth(0), 5000, 'refusal')) as { error: { message: string }[] };
    expect(result.error[0]!.message).toBe('Mutations are served over HTTP only');
    expect(gateway.services.live.size).toBe(1);
  });

  it('answers an upgrade elsewhere than the GraphQL path, or to a target that does not parse, with 404 and keeps serving', async () => {
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

  it('holds a bounded number of events for a subscriber that stops reading, dropping the rest', async () => {
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
    await listening(signedUp.user.id);
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

  it('closes every connection (1001) and releases every listener and slot when the gateway closes', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const socket = ws({ connectionParams: { token: signedUp.accessToken } });
    socket.subscribe(SESSION_EVENTS);
    await listening(signedUp.user.id);
    const stream = await sse(SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(signedUp.user.id, 2);

    await gateway.close({ keepDatabase: true });
    expect((await within(socket.closed, 5000, 'close')).code).toBe(1001);
    await within(stream.ended, 5000, 'stream end');
    await until(() => gateway.services.live.size === 0, 'every slot released');
    expect(gateway.services.sessionEvents.listenerCount()).toBe(0);
    await gateway.database.drop();
  });
});

describe('SSE', () => {
  describe.each(CREDENTIALS)('with %s', (_kind, credentialOf) => {
    it.each(SSE_CHANNELS)('authenticates through %s and delivers SIGNED_IN from another device', async (_channel, channel) => {
      const signedUp = await register(gateway, 'subscriber');
      const credential = await credentialOf(signedUp.accessToken);
      const { headers, url } = channel(credential);
      const stream = await sse(SESSION_EVENTS, headers, url);
      expect(stream.status).toBe(200);
      await listening(signedUp.user.id);
      const other = await signIn(gateway, 'subscriber');
      expect(await within(stream.nth(0), 5000, 'event')).toMatchObject({
        event: 'next',
        data: { data: { sessionEvents: { kind: 'SIGNED_IN', sessionId: other.session.id } } },
      });
      expect(gateway.logs.join('')).not.toContain(credential);
    });
  });

  it('ends with TOKEN_EXPIRED within a second of the access token expiring', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const stream = await sse(SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(signedUp.user.id);
    gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt));
    await within(stream.ended, ONE_SECOND, 'stream end within 1 s of exp');
    expect(lastError(stream)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' });
    expect(gateway.services.live.size).toBe(0);
    await listening(signedUp.user.id, 0);
  });

  it('after logout: sends the REVOKED event, then ends with SESSION_REVOKED within a second', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const stream = await sse(SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(signedUp.user.id);
    const endedInTime = within(stream.ended, ONE_SECOND, 'stream end within 1 s');
    await as(signedUp.accessToken).request(LogoutDocument);
    await endedInTime;
    const nexts = stream.events.filter((e) => e.event === 'next').map((e) => e.data as SessionEventResult);
    expect(nexts[0]?.data?.sessionEvents).toMatchObject({ kind: 'REVOKED', sessionId: signedUp.session.id });
    expect(nexts.at(-1)?.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
    expect(gateway.services.live.size).toBe(0);
  });

  it('after deleteAccount: ends with USER_NOT_FOUND within a second, for a session and a token', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const { token } = await createPat(signedUp.accessToken);
    const sessionStream = await sse(SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    const patStream = await sse(SESSION_EVENTS, { authorization: `Bearer ${token}` });
    await listening(signedUp.user.id, 2);
    const endedInTime = Promise.all([sessionStream.ended, patStream.ended].map((ended) => within(ended, ONE_SECOND, 'stream end within 1 s')));
    await as(signedUp.accessToken).request(DeleteAccountDocument, { password: PASSWORD });
    await endedInTime;
    for (const stream of [sessionStream, patStream]) {
      expect(lastError(stream)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'USER_NOT_FOUND' });
    }
  });

  it('after revokePersonalAccessToken: ends that token’s stream within a second', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const { token, personalAccessToken } = await createPat(signedUp.accessToken);
    const stream = await sse(SESSION_EVENTS, { authorization: `Bearer ${token}` });
    await listening(signedUp.user.id);
    const endedInTime = within(stream.ended, ONE_SECOND, 'stream end within 1 s');
    await as(signedUp.accessToken).request(RevokePersonalAccessTokenDocument, { id: personalAccessToken.id });
    await endedInTime;
    expect(lastError(stream)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'SESSION_REVOKED' });
  });

  it('refuses an anonymous stream', async () => {
    const anonymous = await sse(SESSION_EVENTS);
    await within(anonymous.ended, 5000, 'end');
    expect(lastError(anonymous)?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_MISSING' });
    expect(gateway.services.live.size).toBe(0);
  });

  it('releases its slot and listener as soon as the client goes away', async () => {
    const signedUp = await register(gateway, 'subscriber');
    const stream = await sse(SESSION_EVENTS, { authorization: `Bearer ${signedUp.accessToken}` });
    await listening(signedUp.user.id);
    expect(gateway.services.live.size).toBe(1);
    stream.abort();
    await listening(signedUp.user.id, 0);
    await until(() => gateway.services.live.size === 0, 'the slot released');
  });
});

describe('reconnecting with a fresh token (the README recipe)', () => {
  it('resubscribes after 4401 with the token connectionParams reads at every connection', async () => {
    const signedUp = await register(gateway, 'subscriber');
    let accessToken = signedUp.accessToken;
    let refreshToken = signedUp.refreshToken!;
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: webSocketWithHeaders(),
      connectionParams: async () => ({ authorization: `Bearer ${accessToken}` }),
    });
    try {
      const received: unknown[] = [];
      const closeCodes: number[] = [];
      const subscribe = () =>
        client.subscribe(
          { query: SESSION_EVENTS },
          {
            next: (result) => received.push(result),
            complete: () => {},
            error: async (error) => {
              // graphql-ws gives up on 4401 by itself: refresh over HTTP, then subscribe again.
              const code = (error as { code?: number }).code;
              closeCodes.push(code ?? 0);
              if (code !== 4401) return;
              const refreshed = await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken });
              accessToken = refreshed.data!.refresh.accessToken;
              refreshToken = refreshed.data!.refresh.refreshToken!;
              subscribe();
            },
          },
        );
      subscribe();
      await listening(signedUp.user.id);
      const firstConnection = gateway.services.live.size;
      expect(firstConnection).toBe(1);

      gateway.clock.set(Date.parse(signedUp.accessTokenExpiresAt));
      await until(() => closeCodes.length === 1, 'the 4401 close');
      expect(closeCodes).toEqual([4401]);
      await listening(signedUp.user.id);
      expect(accessToken).not.toBe(signedUp.accessToken);

      const other = await signIn(gateway, 'subscriber');
      await until(() => received.length > 0, 'an event on the new connection');
      expect(sessionEvent(received[0])).toMatchObject({ kind: 'SIGNED_IN', sessionId: other.session.id });
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
