import { test as base } from 'vitest';
import { register, type SignedIn } from './accounts.js';
import { openSseStream, openWsClient, type TestSseStream, type TestWsClient, type WsClientOptions } from './realtime-clients.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './test-gateway.js';

export { PASSWORD, register, signIn, type SignedIn } from './accounts.js';

/** Realtime clients whose sockets and streams are closed after the test, before its gateways. */
export interface RealtimeClients {
  /** A graphql-ws client (openWsClient), disposed after the test. */
  ws(url: string, options?: WsClientOptions): TestWsClient;
  /** A Server-Sent Events stream of one subscription (openSseStream), aborted after the test. */
  sse(url: string, query: string, headers?: Record<string, string>): Promise<TestSseStream>;
}

export interface GatewayFixtures {
  /** How `gateway` is started, and what `startGateway` starts from; override for a file or a describe block with `test.override({ gatewayOptions })`. */
  gatewayOptions: TestGatewayOptions;
  /**
   * Starts a gateway (startTestGateway) on `gatewayOptions` with `options` on top, env merged,
   * when one test needs settings of its own, a second instance or a restart on the same
   * database: each is closed after the test, newest first, then every database they used is dropped.
   */
  startGateway: (options?: TestGatewayOptions) => Promise<TestGateway>;
  /** A started gateway (startTestGateway), closed and its database dropped after the test. */
  gateway: TestGateway;
  /** The account `alice`, registered on `gateway` with PASSWORD (refresh token in the body). */
  signedIn: SignedIn;
  /** WebSocket clients and SSE streams, closed after the test. */
  realtime: RealtimeClients;
}

/**
 * vitest's `test` with a started gateway and a signed-in user, each built only for the tests
 * that name it: `test('...', async ({ gateway, signedIn }) => ...)`.
 */
export const test = base.extend<GatewayFixtures>({
  gatewayOptions: [{}, { injected: false }],
  startGateway: async ({ gatewayOptions }, use) => {
    const started: TestGateway[] = [];
    try {
      await use(async (options = {}) => {
        const gateway = await startTestGateway({ ...gatewayOptions, ...options, env: { ...gatewayOptions.env, ...options.env } });
        started.push(gateway);
        return gateway;
      });
    } finally {
      // A restarted or second instance shares an earlier one's database: drop it once all are closed.
      for (const gateway of started.reverse()) await gateway.close({ keepDatabase: true });
      for (const database of new Set(started.map((gateway) => gateway.database))) await database.drop();
    }
  },
  gateway: async ({ startGateway }, use) => {
    await use(await startGateway());
  },
  signedIn: async ({ gateway }, use) => {
    await use(await register(gateway, 'alice'));
  },
  // Declared after the gateways, so that vitest, tearing fixtures down in reverse, closes the
  // clients first, as a client would leave a running gateway.
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads the fixtures a fixture needs from this pattern.
  realtime: async ({}, use) => {
    const sockets: TestWsClient[] = [];
    const streams: TestSseStream[] = [];
    try {
      await use({
        ws: (url, options) => {
          const socket = openWsClient(url, options);
          sockets.push(socket);
          return socket;
        },
        sse: async (url, query, headers) => {
          const stream = await openSseStream(url, query, headers);
          streams.push(stream);
          return stream;
        },
      });
    } finally {
      for (const stream of streams) stream.abort();
      await Promise.all(sockets.map((socket) => socket.dispose()));
    }
  },
});

export { describe, expect } from 'vitest';
