import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { LimitedMutations } from './abuse/limited-mutations.js';
import type { RateLimiterStore } from './abuse/rate-limiter-store.js';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config.js';
import { connectDatabase, type DatabaseHandle } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import type { GatewayHooks } from './hooks.js';
import { createLogger } from './logger.js';
import { attachWebSocketEndpoint, type WebSocketEndpoint, type WebSocketEndpointOptions } from './realtime/websocket-server.js';
import type { RevocationChannel } from './revocation/revocation-channel.js';
import type { SecurityEventRecorder } from './security-events/security-event.js';
import { createGateway, type Gateway } from './server.js';
import { createServices, type Services } from './services.js';

export interface GatewayAppOptions {
  /** The settings, from loadConfig (src/config.ts); the app reads no environment itself. */
  readonly config: Config;
  /** systemClock unless given; tests pass a ManualClock. */
  readonly clock?: Clock;
  /** A pino logger at config.logLevel on stdout unless given. */
  readonly logger?: Logger;
  /**
   * An open database to use; it stays the caller's to close. Without it the app connects to
   * config.databaseUrl and closes that connection in close().
   */
  readonly database?: DatabaseHandle;
  /** Run the migrations before starting (default true); false when a deployment migrates separately (npm run migrate). */
  readonly migrate?: boolean;
  /** Where embedding code takes part (src/hooks.ts). */
  readonly hooks?: GatewayHooks;
  /** How revocations reach the other instances; Redis with REDIS_URL, else none are reached (one instance). */
  readonly revocationChannel?: RevocationChannel;
  /** Where rate limits count; Redis with REDIS_URL, else this process's memory. */
  readonly rateLimiterStore?: RateLimiterStore;
  /** The limited mutations and their limits, from the defaults: e.g. `(table) => ({ ...table, requestEmailCode: [...] })`. */
  readonly limitedMutations?: (defaults: LimitedMutations) => LimitedMutations;
  /** Where security events go; log lines of their own on the logger unless given. */
  readonly securityEvents?: SecurityEventRecorder;
}

/** A started gateway that has not been bound to a port: serve it with listen(), or attach it to a server of your own. */
export interface GatewayApp {
  /** The HTTP request handler (Yoga): `createServer(app.handle)`, or a route of a server of yours. */
  readonly handle: Gateway;
  /** Serves GraphQL over WebSocket on a server that runs `handle`, on the GraphQL path; close() closes it. */
  attach(server: Server, options?: WebSocketEndpointOptions): WebSocketEndpoint;
  /** Convenience: a new HTTP server running `handle` and the WebSocket endpoint, listening; close() closes it. */
  listen(port: number, host?: string): Promise<{ server: Server; port: number }>;
  /** The wiring, for the few callers that need internals (tests, tools); resolvers see less. */
  readonly services: Services;
  /** The database the app runs on. */
  readonly database: DatabaseHandle;
  /**
   * Stops the app: its servers stop accepting, WebSocket connections close, timers and Redis
   * stop, remaining HTTP connections are cut, Yoga is disposed, and the database is closed if
   * the app opened it. Safe to call twice.
   */
  close(): Promise<void>;
}

/**
 * The gateway as one value: the one factory main.ts, the tests and embedding code all call.
 * Opens (unless given) and migrates the database, builds the services and the Yoga gateway.
 */
export async function createGatewayApp(options: GatewayAppOptions): Promise<GatewayApp> {
  const { config, clock = systemClock, hooks, revocationChannel, rateLimiterStore, securityEvents, limitedMutations } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const database =
    options.database ??
    connectDatabase(config.databaseUrl, {
      sqliteSynchronous: config.sqliteSynchronous,
      onConnectionError: (error) => logger.warn({ err: { message: error.message } }, 'database connection lost; the pool reconnects'),
      onCheckpointError: (error) => logger.warn({ err: { message: error.message } }, 'background WAL checkpoint failed'),
    });
  const ownsDatabase = options.database === undefined;
  let services: Services;
  try {
    if (options.migrate ?? true) await migrateToLatest(database.db);
    services = await createServices({ config, db: database.db, clock, logger, hooks, revocationChannel, rateLimiterStore, securityEvents, limitedMutations });
  } catch (error) {
    // An app that never started must not leave its connection (and a pool's sockets) open.
    if (ownsDatabase) await database.close();
    throw error;
  }
  let gateway: Gateway;
  // Stops what runs beside the gateway's requests: the federated gateway's re-reading of its supergraph.
  let stopGateway = async (): Promise<void> => {};
  try {
    // Hive Gateway's runtime is loaded only by a gateway that routes subgraphs: without
    // SUBGRAPHS or SUPERGRAPH, the gateway is Yoga as before.
    const { federation } = config;
    if (federation) {
      const federated = await (await import('./federation/federated-gateway.js')).createFederatedGateway(services, federation);
      gateway = federated.gateway;
      stopGateway = () => federated.close();
    } else {
      gateway = createGateway(services);
    }
  } catch (error) {
    // A supergraph that does not compose stops the start, leaving nothing open.
    await services.close();
    if (ownsDatabase) await database.close();
    throw error;
  }
  const endpoints: WebSocketEndpoint[] = [];
  const servers: Server[] = [];
  let closing: Promise<void> | undefined;

  const attach = (server: Server, endpointOptions?: WebSocketEndpointOptions): WebSocketEndpoint => {
    const endpoint = attachWebSocketEndpoint(server, gateway, services, endpointOptions);
    endpoints.push(endpoint);
    return endpoint;
  };

  async function shutDown(): Promise<void> {
    await stopGateway();
    const closed = servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    for (const server of servers) server.closeIdleConnections();
    await Promise.all(endpoints.map((endpoint) => endpoint.close()));
    // Before the requests still in flight are cut: ending the live SSE streams and the timers.
    await services.close();
    for (const server of servers) server.closeAllConnections();
    await Promise.all(closed);
    await gateway.dispose();
    if (ownsDatabase) await database.close();
  }

  return {
    handle: gateway,
    attach,
    async listen(port, host) {
      const server = createServer(gateway);
      attach(server);
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return { server, port: (server.address() as AddressInfo).port };
    },
    services,
    database,
    close: () => (closing ??= shutDown()),
  };
}
