import { createServer } from 'node:http';
import { systemClock } from './clock.js';
import { ConfigError, loadConfig } from './config.js';
import { connectDatabase } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { createLogger } from './logger.js';
import { createGateway } from './server.js';
import { createServices } from './services.js';

// The only entry point: load the configuration, open and migrate the database, listen.
let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`configuration error: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
const logger = createLogger(config.logLevel);
const database = connectDatabase(config.databaseUrl);
await migrateToLatest(database.db);
const services = await createServices({ config, db: database.db, clock: systemClock, logger });
const gateway = createGateway(services);
const server = createServer(gateway);

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
  await gateway.dispose();
  await database.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
