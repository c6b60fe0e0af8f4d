import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadConfig, type Argon2Config, type SigningAlgorithm } from '../../src/config.js';
import { JWKS_PATH } from '../../src/plugins/use-well-known.js';
import { type BenchAccount, registerAccount } from '../lib/accounts.js';
import { type BenchDatabase, type BenchDialect, createBenchDatabase } from '../lib/bench-database.js';
import { freePort, PROJECT_ROOT, startServerProcess, type ServerProcess } from '../lib/processes.js';
import type { Teardown } from '../lib/teardown.js';

/** The compiled gateway: the build `npm run build` produces and production runs. */
export const GATEWAY_ENTRY = join(PROJECT_ROOT, 'dist', 'src', 'main.js');

export interface GatewayServer extends ServerProcess {
  /** The GraphQL endpoint. */
  readonly url: string;
  readonly wsUrl: string;
  readonly database: BenchDatabase;
  /** The Argon2id parameters the gateway runs with, as its own config module reads them. */
  readonly argon2: Argon2Config;
  /** What a verifier of its access tokens needs: the JWKS, the issuer, the audience, the algorithm. */
  readonly jwt: { readonly jwksUrl: string; readonly issuer: string; readonly audience: string; readonly algorithm: SigningAlgorithm };
}

/**
 * Limits raised so far that no benchmark is refused: all load comes from one client
 * (127.0.0.1), which the production limits (5 credential mutations a second, 5 failed logins an
 * account) would answer RATE_LIMITED within a second, and a refusal costs none of the work
 * being measured. The limiters still run and count on every request, as in production.
 */
export const UNREACHABLE_RATE_LIMITS: Readonly<Record<string, string>> = Object.freeze({
  RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000',
  RATE_LIMIT_CREDENTIALS_BURST: '1000000',
  RATE_LIMIT_REGISTRATIONS_PER_HOUR: '1000000000',
  RATE_LIMIT_FAILED_LOGINS: '1000000000',
});

/**
 * The gateway in its own process, configured as in production (NODE_ENV=production, a random
 * secret, LOG_LEVEL=warn) but for the rate limits, on a loopback port. `env` adds or overrides settings.
 */
export async function startGateway(database: BenchDatabase, env: Readonly<Record<string, string>> = {}): Promise<GatewayServer> {
  const port = await freePort();
  const gatewayEnv: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: database.url,
    GATEWAY_ENCRYPTION_SECRET: randomBytes(32).toString('base64url'),
    LOG_LEVEL: 'warn',
    ...UNREACHABLE_RATE_LIMITS,
    ...passThrough('UV_THREADPOOL_SIZE'),
    ...env,
  };
  const config = loadConfig(gatewayEnv);
  const server = await startServerProcess({
    script: GATEWAY_ENTRY,
    env: gatewayEnv,
    readiness: { kind: 'http', port, path: '/ready' },
  });
  return {
    ...server,
    url: `${server.origin}${config.graphqlPath}`,
    wsUrl: `ws://127.0.0.1:${port}${config.graphqlPath}`,
    database,
    argon2: config.argon2,
    jwt: { jwksUrl: `${server.origin}${JWKS_PATH}`, issuer: config.issuer, audience: config.audience, algorithm: config.signingAlgorithm },
  };
}

/** A variable of the harness's environment that every process under test must share. */
export function passThrough(name: string): Record<string, string> {
  const value = process.env[name];
  return value === undefined ? {} : { [name]: value };
}

/** A gateway on a fresh database, with one registered account; the teardown stops and drops both. */
export async function gatewayWithAccount(
  teardown: Teardown,
  dialect: BenchDialect,
  postgresUrl: string,
  env: Readonly<Record<string, string>> = {},
): Promise<{ gateway: GatewayServer; account: BenchAccount }> {
  const database = teardown.add(await createBenchDatabase(dialect, postgresUrl), (db) => db.drop());
  const gateway = teardown.add(await startGateway(database, env), (server) => server.stop());
  return { gateway, account: await registerAccount(gateway.url) };
}
