import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config.js';
import { connectDatabase, type DatabaseHandle } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { attachWebSocketEndpoint } from '../../src/realtime/websocket-server.js';
import { createGateway, type Gateway } from '../../src/server.js';
import { createServices, type Services } from '../../src/services.js';
import type { RevocationChannel } from '../../src/sessions/revocations.js';
import { capturedLogger } from './captured-logger.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export interface TestGatewayOptions {
  /** Environment variables on top of the test defaults, read through loadConfig as in production. */
  readonly env?: Record<string, string>;
  /** Start time of the gateway's manual clock. */
  readonly now?: Date;
  /** Reuse a database (for restarts); by default each gateway gets a fresh one. */
  readonly database?: TestDatabase;
  /** How revocations reach other instances (an InProcessRevocationHub's channel); by default as configured. */
  readonly revocationChannel?: RevocationChannel;
}

export interface TestGateway {
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  /** The GraphQL endpoint's URL. */
  readonly url: string;
  /** The GraphQL endpoint's WebSocket URL. */
  readonly wsUrl: string;
  readonly clock: ManualClock;
  readonly config: Config;
  readonly services: Services;
  readonly database: TestDatabase;
  readonly handle: DatabaseHandle;
  readonly gateway: Gateway;
  readonly server: Server;
  /** Every line the gateway logged. */
  readonly logs: string[];
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

/**
 * A real gateway for one test: a fresh database (SQLite file, or PostgreSQL schema with
 * TEST_DATABASE_URL), migrations, a manual clock, and an HTTP server on a loopback port.
 */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const database = options.database ?? (await createTestDatabase());
  const clock = new ManualClock(options.now ?? new Date());
  const { logger, lines: logs } = capturedLogger('debug');
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    DATABASE_URL: database.url,
    JWT_ISSUER: 'http://gateway.test',
    // With TEST_REDIS_URL the suite runs as a scaled-out deployment would, each gateway under
    // its own key prefix so that test files running side by side do not share rate limits.
    ...(process.env.TEST_REDIS_URL ? { REDIS_URL: process.env.TEST_REDIS_URL, REDIS_KEY_PREFIX: `test-${randomUUID()}:` } : {}),
    ...options.env,
  });
  const handle = connectDatabase(config.databaseUrl, {
    sqliteSynchronous: config.sqliteSynchronous,
    onCheckpointError: (error) => logger.warn({ err: { message: error.message } }, 'background WAL checkpoint failed'),
  });
  let services: Services;
  try {
    await migrateToLatest(handle.db);
    services = await createServices({ config, db: handle.db, clock, logger, revocationChannel: options.revocationChannel });
  } catch (error) {
    // A gateway that never started must not leave its database (a PostgreSQL schema) behind.
    await handle.close();
    if (!options.database) await database.drop();
    throw error;
  }
  const gateway = createGateway(services);
  const server = createServer(gateway);
  const websocket = attachWebSocketEndpoint(server, gateway, services);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  let closed = false;
  return {
    origin,
    url: `${origin}${config.graphqlPath}`,
    wsUrl: `ws://127.0.0.1:${port}${config.graphqlPath}`,
    clock,
    config,
    services,
    database,
    handle,
    gateway,
    server,
    logs,
    async close({ keepDatabase = false } = {}) {
      if (closed) return;
      closed = true;
      await websocket.close();
      await services.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.dispose();
      await handle.close();
      if (!keepDatabase) await database.drop();
    },
  };
}
