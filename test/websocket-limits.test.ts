import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { MeDocument } from '../client/src/operations.js';
import { DEFAULT_MESSAGE_BURST, DEFAULT_MESSAGES_PER_SECOND, TOO_MANY_MESSAGES } from '../src/realtime/websocket-transport.js';
import { describe, expect, type SignedIn, test } from './helpers/fixtures.js';
import { within } from './helpers/realtime-clients.js';
import { until } from './helpers/until.js';
import type { TestGateway } from './helpers/test-gateway.js';

// Raw sockets, driven message by message: graphql-ws clients (the realtime fixture) would not
// send what these tests send. Run before the fixtures' teardown closes the gateway.
const sockets: WebSocket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.terminate();
});

interface RawConnection {
  readonly socket: WebSocket;
  /** How many `pong` messages the server has sent. */
  pongs(): number;
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

/**
 * A graphql-transport-ws connection driven message by message, acknowledged: connection_init
 * (one message of its bucket) has been sent and answered.
 */
async function acknowledgedConnection(gateway: TestGateway, { accessToken }: SignedIn): Promise<RawConnection> {
  const socket = new WebSocket(gateway.wsUrl, 'graphql-transport-ws');
  sockets.push(socket);
  let pongs = 0;
  let onAck!: () => void;
  const acknowledged = new Promise<void>((resolve) => (onAck = resolve));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  socket.on('message', (data: Buffer) => {
    const { type } = JSON.parse(data.toString()) as { type: string };
    if (type === 'connection_ack') onAck();
    if (type === 'pong') pongs++;
  });
  await new Promise<void>((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${accessToken}` } }));
  await within(acknowledged, 5000, 'connection_ack');
  return { socket, pongs: () => pongs, closed, send: (message) => socket.send(JSON.stringify(message)) };
}

/** Sends `count` pings and waits for their pongs, the proof that each message was handled. */
async function pingPong(connection: RawConnection, count: number): Promise<void> {
  const expected = connection.pongs() + count;
  for (let i = 0; i < count; i++) connection.send({ type: 'ping' });
  await until(() => connection.pongs() === expected, `${expected} pongs`);
}

describe('WebSocket message rate', () => {
  test(`serves a burst of ${DEFAULT_MESSAGE_BURST} messages and closes with ${TOO_MANY_MESSAGES} at the next`, async ({ gateway, signedIn }) => {
    const connection = await acknowledgedConnection(gateway, signedIn);
    await pingPong(connection, DEFAULT_MESSAGE_BURST - 1);
    expect(connection.socket.readyState).toBe(WebSocket.OPEN);

    connection.send({ type: 'ping' });
    expect(await within(connection.closed, 5000, 'close')).toEqual({ code: TOO_MANY_MESSAGES, reason: 'Too many messages' });
    expect(connection.pongs()).toBe(DEFAULT_MESSAGE_BURST - 1);
  });

  test(`refills at ${DEFAULT_MESSAGES_PER_SECOND} messages a second`, async ({ gateway, signedIn }) => {
    const connection = await acknowledgedConnection(gateway, signedIn);
    await pingPong(connection, DEFAULT_MESSAGE_BURST - 1);
    gateway.clock.advance(1000);
    await pingPong(connection, DEFAULT_MESSAGES_PER_SECOND);
    expect(connection.socket.readyState).toBe(WebSocket.OPEN);

    connection.send({ type: 'ping' });
    expect((await within(connection.closed, 5000, 'close')).code).toBe(TOO_MANY_MESSAGES);
  });

  test('closes a connection flooding 10,000 subscribe messages, and keeps serving everyone else', async ({ gateway, signedIn, realtime }) => {
    const connection = await acknowledgedConnection(gateway, signedIn);
    const query = 'subscription { sessionEvents { kind } }';
    for (let i = 0; i < 10_000; i++) connection.send({ id: String(i), type: 'subscribe', payload: { query } });
    expect((await within(connection.closed, 5000, 'close')).code).toBe(TOO_MANY_MESSAGES);
    expect(gateway.logs.join('')).toContain('websocket connection closed for sending too many messages');

    const other = realtime.ws(gateway.wsUrl, { connectionParams: { authorization: `Bearer ${signedIn.accessToken}` } });
    await within(other.connected, 5000, 'connection ack');
    const me = await signedIn.client.request(MeDocument);
    expect(me.errors).toBeUndefined();
    await other.dispose();
    // Every subscription of the flooding connection was returned when it closed.
    await until(() => gateway.services.live.size === 0, 'no live connections');
  });
});
