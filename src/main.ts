import { createGatewayApp } from './app.js';
import { loadConfigOrExit } from './config.js';
import { createLogger } from './logger.js';

// The only entry point: load the configuration, start the gateway (src/app.ts), listen.
const config = loadConfigOrExit();
const logger = createLogger(config.logLevel);
const app = await createGatewayApp({ config, logger });
const { port } = await app.listen(config.port, config.host);
logger.info({ host: config.host, port, graphqlPath: config.graphqlPath, dialect: app.database.dialect }, 'gateway listening');

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await app.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
