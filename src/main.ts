import { createGatewayApp } from './app.js';
import { loadConfigOrExit } from './config.js';
import { createLogger } from './logger.js';
import { accountPageBuilt } from './plugins/use-account-page.js';
import { formatBanner } from './startup/banner.js';
import { asPortUnavailable, checkPortAvailable } from './startup/port-available.js';

// The only entry point: load the configuration, check the port, start the gateway (src/app.ts),
// listen, print the banner for the person who started it, then log JSON.
const config = loadConfigOrExit();
// Before the database is opened or migrated: a busy port is the commonest first-run failure,
// and it should cost one line, not a migrated database and a stack trace.
await checkPortAvailable(config.port, config.host).catch(exitIfPortUnavailable);
const logger = createLogger(config.logLevel);
const app = await createGatewayApp({ config, logger });
const { port } = await app.listen(config.port, config.host).catch(async (error: unknown) => {
  // Taken since the check: the app is started, so it is closed before the same one line.
  await app.close();
  return exitIfPortUnavailable(error);
});
// On stderr, so that stdout stays one JSON object per line for whatever collects the logs.
process.stderr.write(formatBanner({ config, port, accountPageBuilt: accountPageBuilt() }));
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

function exitIfPortUnavailable(error: unknown): never {
  const unavailable = asPortUnavailable(error, config.host, config.port);
  if (!unavailable) throw error;
  console.error(`cannot start: ${unavailable.message}`);
  process.exit(1);
}
