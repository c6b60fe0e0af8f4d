/**
 * npm run example:federation: two subgraphs on loopback ports, then the gateway composing them
 * with its own schema (createGatewayApp, as src/main.ts runs it), on a fresh SQLite file that is
 * removed on exit. Ports: PORT (gateway, 4000), ORDERS_PORT (4101), WHOAMI_PORT (4102); any other
 * setting of the gateway is read from the environment as usual. Ctrl-C stops everything.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayApp, type GatewayApp } from '../../src/app.js';
import { loadConfigOrExit } from '../../src/config.js';
import { localBaseUrl } from '../../src/http/local-url.js';
import { JWKS_PATH } from '../../src/plugins/use-well-known.js';
import type { GatewayTrust } from './gateway-identity.js';
import { type Listening, listen } from './listen.js';
import { createOrdersSubgraph } from './orders-subgraph.js';
import { tryItCommands } from './try-it.js';
import { createWhoamiSubgraph } from './whoami-subgraph.js';

/** Where the subgraphs listen: loopback only, like the gateway by default. */
const HOST = '127.0.0.1';

const ports = { gateway: portFrom('PORT', 4000), orders: portFrom('ORDERS_PORT', 4101), whoami: portFrom('WHOAMI_PORT', 4102) };
// A database of its own, so that the example never touches the gateway's ./data/gateway.sqlite.
const dataDir = process.env.DATABASE_URL ? undefined : mkdtempSync(join(tmpdir(), 'federation-example-'));
const config = loadConfigOrExit({
  // Warnings only, so that the lines below stay readable; LOG_LEVEL=info shows every request.
  LOG_LEVEL: 'warn',
  ...process.env,
  HOST,
  PORT: String(ports.gateway),
  DATABASE_URL: process.env.DATABASE_URL ?? `sqlite:${join(dataDir!, 'gateway.sqlite')}`,
  SUBGRAPHS: `orders=http://${HOST}:${ports.orders}/graphql,whoami=http://${HOST}:${ports.whoami}/graphql`,
});

const stoppers: (() => Promise<void>)[] = [];
let stopping: Promise<void> | undefined;
/** Stops what has started, newest first (the gateway before its subgraphs), and removes the database folder. */
function stop(): Promise<void> {
  stopping ??= (async () => {
    for (const close of stoppers.reverse()) await close().catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  })();
  return stopping;
}
async function stopOnSignal(): Promise<void> {
  await stop();
  process.stdout.write('Federation example stopped.\n');
  process.exit(0);
}
process.on('SIGINT', () => void stopOnSignal());
process.on('SIGTERM', () => void stopOnSignal());

try {
  // The subgraphs are told where the gateway will publish its keys before it starts: it reads
  // their SDL (no token needed) while starting, and they fetch its JWKS at the first token.
  const gatewayUrl = localBaseUrl(config.host, config.port);
  const trustFor = (name: string): GatewayTrust => ({
    issuer: config.issuer,
    jwksUri: new URL(JWKS_PATH, gatewayUrl).href,
    audience: config.federation!.subgraphs.find((subgraph) => subgraph.name === name)!.audience,
  });
  const orders = await started(listen(createOrdersSubgraph(trustFor('orders')), ports.orders, HOST));
  const whoami = await started(listen(createWhoamiSubgraph(trustFor('whoami')), ports.whoami, HOST));
  const app = await startedApp(createGatewayApp({ config }));
  await app.listen(config.port, config.host);
  const graphqlUrl = `${gatewayUrl}${config.graphqlPath}`;
  process.stdout.write(
    [
      `Federation example ready: gateway ${graphqlUrl}`,
      `  orders  ${orders.url}  (Pothos, adds User.orders, @requiresScopes orders:read)`,
      `  whoami  ${whoami.url}  (plain graphql-yoga, Query.whoami, @authenticated)`,
      `  database  ${dataDir ? `${join(dataDir, 'gateway.sqlite')} (removed on exit)` : 'DATABASE_URL'}`,
      '',
      tryItCommands(graphqlUrl),
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
} catch (error) {
  // A busy port or subgraphs that do not compose: one line, nothing left running.
  console.error(`cannot start the federation example: ${(error as Error).message}`);
  await stop();
  process.exit(1);
}

async function started(listening: Promise<Listening>): Promise<Listening> {
  const subgraph = await listening;
  stoppers.push(() => subgraph.close());
  return subgraph;
}

async function startedApp(starting: Promise<GatewayApp>): Promise<GatewayApp> {
  const app = await starting;
  stoppers.push(() => app.close());
  return app;
}

function portFrom(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  // Not 0: the subgraphs are given the gateway's JWKS URL, port included, before it listens.
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name}: must be a port number from 1 to 65535`);
    process.exit(1);
  }
  return port;
}
