import { resolve } from 'node:path';
import { type Config, DEVELOPMENT_ENCRYPTION_SECRET } from '../config.js';
import { localBaseUrl, urlHostOf } from '../http/local-url.js';

export interface BannerInput {
  readonly config: Config;
  /** The port actually bound (PORT=0 picks one). */
  readonly port: number;
  /** Whether the account page's assets are built (`npm run build`). */
  readonly accountPageBuilt: boolean;
}

/**
 * The few lines a person starting the gateway reads before the JSON logs: where it answers, on
 * which database, where GraphiQL and the account page are, and what is unsafe about this setup.
 */
export function formatBanner({ config, port, accountPageBuilt }: BannerInput): string {
  const base = localBaseUrl(config.host, port);
  const production = config.nodeEnv === 'production';
  const rows: [string, string][] = [
    ['GraphQL', `${base}${config.graphqlPath}  (HTTP, SSE and WebSocket)`],
    ['GraphiQL', production ? 'off in production' : `${base}${config.graphqlPath}  (open it in a browser)`],
    ['Account page', accountPageBuilt ? `${base}/account` : 'not built: run npm run build'],
    ['Database', describeDatabase(config.databaseUrl)],
    ['Issuer', config.issuer],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [`GraphQL auth gateway (${config.nodeEnv}) listening on ${config.host}:${port}`];
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(width)}  ${value}`);
  // Cookies belong to a host name: a page on localhost never sends the cookies 127.0.0.1 set.
  lines.push(`  Cookie sign-in needs the page on the same host name as the gateway (${urlHostOf(config.host)}).`);
  if (config.encryptionSecret === DEVELOPMENT_ENCRYPTION_SECRET) {
    lines.push('  Warning: GATEWAY_ENCRYPTION_SECRET is the development default, so secrets at rest are not protected;');
    lines.push('  set a random secret of at least 32 bytes before storing anything real (production refuses to start without one).');
  }
  lines.push('JSON logs follow.');
  return `${lines.join('\n')}\n`;
}

/** The database a DATABASE_URL names, for people: the SQLite file's absolute path, or PostgreSQL's address without password or parameters. */
export function describeDatabase(databaseUrl: string): string {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    return path === ':memory:' ? 'SQLite in memory (nothing is kept)' : `SQLite ${resolve(path)}`;
  }
  const url = new URL(databaseUrl);
  const user = url.username === '' ? '' : `${decodeURIComponent(url.username)}@`;
  return `PostgreSQL ${user}${url.host}${url.pathname}`;
}
