import { createServer } from 'node:http';
import { systemClock } from './clock.js';
import { loadConfigOrExit } from './config.js';
import { connectDatabase } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger } from './logger.js';
import { attachWebSocketEndpoint } from './realtime/websocket-server.js';
import { createGateway } from './server.js';
import { createServices } from './services.js';

// The only entry point: load the configuration, open and migrate the database, listen.
const config = loadConfigOrExit();
const logger = createLogger(config.logLevel);
const database = connectDatabase(config.databaseUrl, {
  sqliteSynchronous: config.sqliteSynchronous,
  onConnectionError: (error) => logger.warn({ err: { message: error.message } }, 'database connection lost; the pool reconnects'),
  onCheckpointError: (error) => logger.warn({ err: { message: error.message } }, 'background WAL checkpoint failed'),
});
await migrateToLatest(database.db);
const services = await createServices({ config, db: database.db, clock: systemClock, logger });
const gateway = createGateway(services);
const server = createServer(gateway);
const websocket = attachWebSocketEndpoint(server, gateway, services);

server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ host: config.host, port, graphqlPath: config.graphqlPath, dialect: database.dialect }, 'gateway listening');
});

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  server.close();
  server.closeIdleConnections();
  await websocket.close();
  await services.close();
  await gateway.dispose();
  await database.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
