import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { LimitedMutations } from '../../src/abuse/limited-mutations.js';
import { createGatewayApp, type GatewayApp } from '../../src/app.js';
import { ManualClock } from '../../src/clock.js';
import { type Config, loadConfig } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/connect.js';
import type { GatewayHooks } from '../../src/hooks.js';
import type { Gateway } from '../../src/server.js';
import type { Services } from '../../src/services.js';
import type { RevocationChannel } from '../../src/revocation/revocation-channel.js';
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
  /** Hooks, as code embedding the gateway passes them. */
  readonly hooks?: GatewayHooks;
  /** Changes to the limited mutations' table, as code embedding the gateway makes them. */
  readonly limitedMutations?: (defaults: LimitedMutations) => LimitedMutations;
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
  /** The app createGatewayApp returned, as main.ts runs it. */
  readonly app: GatewayApp;
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
  let app: GatewayApp;
  try {
    app = await createGatewayApp({
      config,
      clock,
      logger,
      revocationChannel: options.revocationChannel,
      hooks: options.hooks,
      limitedMutations: options.limitedMutations,
    });
  } catch (error) {
    // A gateway that never started must not leave its database (a PostgreSQL schema) behind.
    if (!options.database) await database.drop();
    throw error;
  }
  const { server, port } = await app.listen(0, '127.0.0.1');
  const origin = `http://127.0.0.1:${port}`;
  let closed = false;
  return {
    origin,
    url: `${origin}${config.graphqlPath}`,
    wsUrl: `ws://127.0.0.1:${port}${config.graphqlPath}`,
    clock,
    config,
    app,
    services: app.services,
    database,
    handle: app.database,
    gateway: app.handle,
    server,
    logs,
    async close({ keepDatabase = false } = {}) {
      if (closed) return;
      closed = true;
      await app.close();
      if (!keepDatabase) await database.drop();
    },
  };
}
