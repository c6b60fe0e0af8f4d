import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type AuthClient, createAuthClient, CreatePersonalAccessTokenDocument, NotSignedInError, type SignedOutReason } from '../src/index.js';
import { ManualScheduler, tokenCounter } from './helpers/sdk.js';
import { describe, expect, PASSWORD, register, signIn, test } from '../../test/helpers/fixtures.js';
import { GraphQLClient } from '../../test/helpers/graphql-client.js';
import { collect, type Subscription, webSocketWithHeaders, within } from '../../test/helpers/realtime-clients.js';
import type { TestGateway } from '../../test/helpers/test-gateway.js';
import { until } from '../../test/helpers/until.js';

const SESSION_EVENTS = 'subscription { sessionEvents { kind sessionId } }';
const ACCESS_TOKEN_LIFETIME_MS = 15 * 60 * 1000;

interface SessionEventResult {
  data?: { sessionEvents: { kind: string; sessionId: string } };
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

const sdkTest = test.extend<{ clients: AuthClient[] }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern.
  clients: async ({}, use) => {
    const clients: AuthClient[] = [];
    await use(clients);
    for (const client of clients) client.dispose();
  },
});

/** A signed-in SDK client on the gateway's clock (its background timer never fires here). */
async function signedInClient(gateway: TestGateway, clients: AuthClient[], onSignedOut?: (reason: SignedOutReason) => void): Promise<AuthClient> {
  const auth = createAuthClient({
    url: gateway.url,
    delivery: 'body',
    now: () => gateway.clock.now(),
    schedule: new ManualScheduler().schedule,
    locks: null,
    broadcastChannel: null,
    onSignedOut,
  });
  clients.push(auth);
  await auth.register({ username: 'subscriber', password: PASSWORD });
  return auth;
}

function listening(gateway: TestGateway, count = 1): Promise<void> {
  return until(() => gateway.services.sessionEvents.listenerCount() === count && gateway.services.live.size === count, `${count} live subscriptions`);
}

/** Lets three access tokens expire under a subscription, then checks it still delivers and never ended. */
async function surviveThreeExpiries(gateway: TestGateway, refreshes: () => number, events: Subscription): Promise<void> {
  for (let expiry = 1; expiry <= 3; expiry++) {
    gateway.clock.advance(ACCESS_TOKEN_LIFETIME_MS);
    await until(() => refreshes() === expiry, `the refresh after expiry ${expiry}`);
    await listening(gateway);
  }
  const other = await signIn(gateway, 'subscriber');
  const delivered = (await within(events.nth(0), 5000, 'an event after three expiries')) as SessionEventResult;
  expect(delivered.data?.sessionEvents).toEqual({ kind: 'SIGNED_IN', sessionId: other.session.id });
  expect(events.results).toHaveLength(1);
}

describe('the SDK’s realtime clients', () => {
  sdkTest('a WebSocket subscription survives three token expiries (4403, refresh, reconnect) without application code', async ({ startGateway, clients }) => {
    const counter = tokenCounter();
    const gateway = await startGateway({ hooks: counter.hooks });
    const auth = await signedInClient(gateway, clients);
    const closes: number[] = [];
    const ws = auth.createWsClient({ webSocketImpl: WebSocket, on: { closed: (event) => closes.push((event as { code: number }).code) } });
    const events = collect((sink) => ws.subscribe({ query: SESSION_EVENTS }, sink));
    await listening(gateway);

    await surviveThreeExpiries(gateway, () => counter.count() - 1, events);
    expect(closes).toEqual([4403, 4403, 4403]);
  });

  sdkTest('an SSE subscription survives three token expiries (stream cut, refresh, reconnect) without application code', async ({ startGateway, clients }) => {
    const counter = tokenCounter();
    const gateway = await startGateway({ hooks: counter.hooks });
    const auth = await signedInClient(gateway, clients);
    const sse = auth.createSseClient();
    const events = collect((sink) => sse.subscribe({ query: SESSION_EVENTS }, sink));
    await listening(gateway);

    await surviveThreeExpiries(gateway, () => counter.count() - 1, events);
  });

  sdkTest('ends the session when the gateway closes the socket for a revocation from another device', async ({ gateway, clients }) => {
    const reasons: SignedOutReason[] = [];
    const auth = await signedInClient(gateway, clients, (reason) => reasons.push(reason));
    const ws = auth.createWsClient({ webSocketImpl: WebSocket });
    const events = collect((sink) => ws.subscribe({ query: SESSION_EVENTS }, sink));
    await listening(gateway);

    const phone = await signIn(gateway, 'subscriber');
    await phone.client.raw('mutation { logoutAll }');
    await within(events.done, 5000, 'the subscription’s end');
    expect((events.results.at(-1) as { error: { code: number; reason: string } }).error).toMatchObject({ code: 4401, reason: 'Session revoked' });
    await until(() => reasons.length > 0, 'the signed-out event');
    expect(reasons).toEqual(['SESSION_REVOKED']);
    expect(auth.user).toBeNull();
  });

  sdkTest('refuses a subscription without a session at once, over WebSocket and SSE', async ({ gateway, clients }) => {
    const auth = await signedInClient(gateway, clients);
    const ws = auth.createWsClient({ webSocketImpl: WebSocket });
    const sse = auth.createSseClient();
    await auth.signOut();
    for (const client of [ws, sse]) {
      const events = collect((sink) => client.subscribe({ query: SESSION_EVENTS }, sink));
      await within(events.done, 5000, 'the refusal');
      expect((events.results[0] as { error: Error }).error).toBeInstanceOf(NotSignedInError);
    }
  });

  sdkTest('ends the session when an SSE stream ends with SESSION_REVOKED', async ({ gateway, clients }) => {
    const reasons: SignedOutReason[] = [];
    const auth = await signedInClient(gateway, clients, (reason) => reasons.push(reason));
    const events = collect((sink) => auth.createSseClient().subscribe({ query: SESSION_EVENTS }, sink));
    await listening(gateway);

    const phone = await signIn(gateway, 'subscriber');
    await phone.client.raw('mutation { logoutAll }');
    await within(events.done, 5000, 'the subscription’s end');
    await until(() => reasons.length > 0, 'the signed-out event');
    expect(reasons).toEqual(['SESSION_REVOKED']);
  });
});

describe('realtime semantics for stock clients', () => {
  test('leaves extensions.http out of errors over WebSocket, as over HTTP and SSE', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const created = await new GraphQLClient(gateway.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(CreatePersonalAccessTokenDocument, {
      input: { name: 'profile only', scopes: ['profile:read'] },
    });
    const socket = realtime.ws(gateway.wsUrl, { connectionParams: { token: created.data!.createPersonalAccessToken.token } });
    const refusal = (await within(socket.subscribe(SESSION_EVENTS).nth(0), 5000, 'the refusal')) as SessionEventResult;
    expect(refusal.errors?.[0]?.extensions).toEqual({ code: 'FORBIDDEN', requiredScopes: ['sessions:read'] });

    const http = await new GraphQLClient(gateway.url, { authorization: `Bearer ${created.data!.createPersonalAccessToken.token}` }).raw('{ devices { id } }');
    expect(http.errors?.[0]?.extensions).not.toHaveProperty('http');
  });

  test('logs each WebSocket connect, refusal and close on one line, without the credential', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const accepted = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${signedUp.accessToken}` } });
    await within(accepted.connected, 5000, 'the acknowledgement');
    const refused = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: 'Bearer forged' } });
    await within(refused.closed, 5000, 'the refusal');
    await accepted.dispose();
    await until(() => gateway.logs.some((line) => line.includes('websocket closed')), 'the close line');

    const lines = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => String(line.msg).startsWith('websocket '));
    expect(lines.map(({ msg, code, reason, userId, credential }) => ({ msg, code, reason, userId, credential }))).toEqual([
      { msg: 'websocket connected', code: undefined, reason: undefined, userId: signedUp.user.id, credential: 'session' },
      { msg: 'websocket refused', code: 4401, reason: 'Invalid credential', userId: undefined, credential: undefined },
      { msg: 'websocket closed', code: 1000, reason: 'Normal Closure', userId: signedUp.user.id, credential: undefined },
    ]);
    expect(gateway.logs.join('')).not.toContain(signedUp.accessToken);
  });

  test('closes at the connection limit with 1013, which graphql-ws retries until a slot is free', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { MAX_CONNECTIONS_PER_USER: '1' } });
    const signedUp = await register(gateway, 'subscriber');
    const stockClient = () => {
      const closes: number[] = [];
      const client = createClient({
        url: gateway.wsUrl,
        webSocketImpl: webSocketWithHeaders(),
        connectionParams: { authorization: `Bearer ${signedUp.accessToken}` },
        // The default retry policy; only its backoff is shortened.
        retryWait: () => new Promise((resolve) => setTimeout(resolve, 50)),
        on: { closed: (event) => closes.push((event as { code: number }).code) },
      });
      return { client, closes, events: collect((sink) => client.subscribe({ query: SESSION_EVENTS }, sink)) };
    };
    const first = stockClient();
    await listening(gateway);
    const second = stockClient();
    await until(() => second.closes.length >= 2, 'the second client’s retries');
    expect(new Set(second.closes)).toEqual(new Set([1013]));
    expect(second.events.results).toEqual([]);

    await first.client.dispose();
    await until(() => gateway.services.sessionEvents.listenerCount() === 1, 'the second client connected');
    await second.client.dispose();
  });

  test('ends an expired personal access token’s SSE stream with TOKEN_EXPIRED and complete: reconnecting cannot help', async ({ gateway, realtime }) => {
    const signedUp = await register(gateway, 'subscriber');
    const created = await new GraphQLClient(gateway.url, { authorization: `Bearer ${signedUp.accessToken}` }).request(CreatePersonalAccessTokenDocument, {
      input: { name: 'stream', scopes: ['sessions:read'], expiresInDays: 1 },
    });
    const { token, personalAccessToken } = created.data!.createPersonalAccessToken;
    const stream = await realtime.sse(gateway.url, SESSION_EVENTS, { authorization: `Bearer ${token}` });
    await listening(gateway);
    gateway.clock.set(Date.parse(personalAccessToken.expiresAt!));
    await within(stream.ended, 5000, 'the stream’s end');
    expect(stream.events.map((event) => event.event)).toEqual(['next', 'complete']);
    expect((stream.events[0]!.data as SessionEventResult).errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_EXPIRED' });
  });
});
