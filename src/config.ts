/**
 * The gateway's configuration: one typed, validated, frozen object, read from the environment
 * here and nowhere else. Every variable, its default and its meaning is in the README's table.
 */

import { parseTrustedProxy } from './http/trusted-proxies.js';

export type SigningAlgorithm = 'EdDSA' | 'ES256';
export type NodeEnv = 'development' | 'production' | 'test';
/**
 * NORMAL: a commit is durable once the process has handed it to the operating system, so it
 * survives the process being killed (kill -9), not a power loss of the machine. FULL: every
 * commit waits for the disk too, which also survives power loss, at the price of an fsync
 * (0.2 to 0.8 ms measured here) that blocks the event loop on every write.
 */
export type SqliteSynchronous = 'NORMAL' | 'FULL';

export interface Argon2Config {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/** Limits on credential mutations (see src/abuse/rate-limits.ts). */
export interface RateLimitConfig {
  /** Credential mutations per client IP per second, sustained. */
  readonly credentialsPerSecond: number;
  /** Credential mutations per client IP allowed at once (at least credentialsPerSecond). */
  readonly credentialsBurst: number;
  /** register calls per client IP per hour. */
  readonly registrationsPerHour: number;
  /** Failed password checks per account before it is locked for the rest of the window. */
  readonly failedLoginsPerAccount: number;
  readonly failedLoginWindowSeconds: number;
  /** updateUsername calls per account per hour (a bucket of this size, refilled over the hour). */
  readonly usernameChangesPerHour: number;
  /** Refused personal access tokens per client IP per minute; past it, uncached tokens get RATE_LIMITED. */
  readonly failedTokensPerMinute: number;
}

export interface Config {
  readonly nodeEnv: NodeEnv;
  readonly host: string;
  readonly port: number;
  readonly graphqlPath: string;
  readonly databaseUrl: string;
  /** SQLite's synchronous pragma (WAL mode): what a commit waits for. */
  readonly sqliteSynchronous: SqliteSynchronous;
  readonly redisUrl: string | undefined;
  /** Prepended to the rate-limit keys and the revocation channel in Redis, so that deployments can share one Redis. */
  readonly redisKeyPrefix: string;
  /** How long a Redis command on a request path may take before the request goes on without it. */
  readonly redisCommandTimeoutMs: number;
  /** How often the subscriber connection is PINGed; a PING unanswered within the command timeout counts as a lost connection. */
  readonly redisHealthCheckIntervalMs: number;
  /** How often every instance reads the revocations since its last read from the database, whatever the state of Redis. */
  readonly revocationPollIntervalMs: number;
  readonly encryptionSecret: string;
  readonly issuer: string;
  readonly audience: string;
  readonly signingAlgorithm: SigningAlgorithm;
  readonly accessTokenTtlSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly sessionMaxLifetimeSeconds: number;
  readonly refreshReuseGraceSeconds: number;
  readonly refreshTokenRotation: boolean;
  readonly argon2: Argon2Config;
  readonly cookieSecure: boolean;
  readonly allowedOrigins: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly introspection: boolean;
  readonly maxBatchSize: number;
  readonly maxConnectionsPerUser: number;
  /** Live sessions per account; a sign-in beyond it revokes the least recently used ones. */
  readonly maxSessionsPerUser: number;
  readonly rateLimits: RateLimitConfig;
  readonly logLevel: string;
}

/** The development-only secret; production refuses to start with it. */
export const DEVELOPMENT_ENCRYPTION_SECRET = 'development-only-secret-change-me-in-production!!';
export const MIN_ENCRYPTION_SECRET_BYTES = 32;

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 4000;
export const DEFAULT_GRAPHQL_PATH = '/graphql';
export const DEFAULT_DATABASE_URL = 'sqlite:./data/gateway.sqlite';
export const DEFAULT_REDIS_KEY_PREFIX = 'gateway:';
/** Far above a healthy Redis's answer (well under a millisecond on a LAN), short enough not to be felt by a sign-in. */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 300;
export const DEFAULT_REDIS_HEALTH_CHECK_INTERVAL_MS = 2_000;
/** The bound on how late a revocation reaches another instance when its broadcast is lost. */
export const DEFAULT_REVOCATION_POLL_INTERVAL_MS = 2_000;
/** SQLite's own advice for WAL mode, and what issue #6 asks: nothing that answered is lost to a crash of the process. */
export const DEFAULT_SQLITE_SYNCHRONOUS: SqliteSynchronous = 'NORMAL';
export const DEFAULT_AUDIENCE = 'graphql-auth-gateway';
export const DEFAULT_SIGNING_ALGORITHM: SigningAlgorithm = 'EdDSA';
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 3600;
export const DEFAULT_SESSION_MAX_LIFETIME_SECONDS = 30 * 24 * 3600;
export const DEFAULT_REFRESH_REUSE_GRACE_SECONDS = 10;
/** OWASP's first Argon2id recommendation: 19 MiB, 2 iterations, 1 lane. */
export const DEFAULT_ARGON2: Argon2Config = Object.freeze({ memoryKiB: 19 * 1024, iterations: 2, parallelism: 1 });
export const DEFAULT_MAX_BATCH_SIZE = 0;
export const DEFAULT_MAX_CONNECTIONS_PER_USER = 20;
/** Far more devices than a person uses, few enough that a script signing in forever cannot grow one account's rows without bound. */
export const DEFAULT_MAX_SESSIONS_PER_USER = 100;
export const DEFAULT_LOG_LEVEL = 'info';
export const DEFAULT_RATE_LIMITS: RateLimitConfig = Object.freeze({
  credentialsPerSecond: 5,
  credentialsBurst: 10,
  registrationsPerHour: 20,
  failedLoginsPerAccount: 5,
  failedLoginWindowSeconds: 15 * 60,
  usernameChangesPerHour: 5,
  failedTokensPerMinute: 30,
});

/** Thrown when the environment holds an invalid setting; the message names the variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The configuration for an entry point (the server, `npm run migrate`): on an invalid setting it
 * prints the variable and what is wrong with it, without a stack, and exits with status 1.
 */
export function loadConfigOrExit(env: Env = process.env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`configuration error: ${error.message}`);
    process.exit(1);
  }
}

/** Reads and validates the configuration from an environment; the result is frozen. */
export function loadConfig(env: Env = process.env): Config {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const production = nodeEnv === 'production';
  const port = read.integer('PORT', DEFAULT_PORT, { min: 0, max: 65535 });
  const host = read.string('HOST', DEFAULT_HOST);

  const encryptionSecret = read.string('GATEWAY_ENCRYPTION_SECRET', production ? '' : DEVELOPMENT_ENCRYPTION_SECRET);
  if (production) {
    if (encryptionSecret === '') {
      throw new ConfigError('GATEWAY_ENCRYPTION_SECRET', 'is required in production');
    }
    if (encryptionSecret === DEVELOPMENT_ENCRYPTION_SECRET) {
      throw new ConfigError('GATEWAY_ENCRYPTION_SECRET', 'is the development default; set a random secret in production');
    }
  }
  if (Buffer.byteLength(encryptionSecret, 'utf8') < MIN_ENCRYPTION_SECRET_BYTES) {
    throw new ConfigError('GATEWAY_ENCRYPTION_SECRET', `must be at least ${MIN_ENCRYPTION_SECRET_BYTES} bytes`);
  }

  const graphqlPath = read.string('GRAPHQL_PATH', DEFAULT_GRAPHQL_PATH);
  if (!graphqlPath.startsWith('/')) throw new ConfigError('GRAPHQL_PATH', 'must start with "/"');

  const accessTokenTtlSeconds = read.integer('ACCESS_TOKEN_TTL_SECONDS', DEFAULT_ACCESS_TOKEN_TTL_SECONDS, { min: 10, max: 24 * 3600 });
  const refreshTokenTtlSeconds = read.integer('REFRESH_TOKEN_TTL_SECONDS', DEFAULT_REFRESH_TOKEN_TTL_SECONDS, { min: 60 });
  const sessionMaxLifetimeSeconds = read.integer('SESSION_MAX_LIFETIME_SECONDS', DEFAULT_SESSION_MAX_LIFETIME_SECONDS, {
    min: 60,
  });
  if (sessionMaxLifetimeSeconds < refreshTokenTtlSeconds) {
    throw new ConfigError('SESSION_MAX_LIFETIME_SECONDS', 'must not be shorter than REFRESH_TOKEN_TTL_SECONDS');
  }

  const config: Config = {
    nodeEnv,
    host,
    port,
    graphqlPath,
    databaseUrl: read.databaseUrl('DATABASE_URL', DEFAULT_DATABASE_URL),
    sqliteSynchronous: read.oneOf('SQLITE_SYNCHRONOUS', ['NORMAL', 'FULL'] as const, DEFAULT_SQLITE_SYNCHRONOUS),
    redisUrl: read.redisUrl('REDIS_URL'),
    redisKeyPrefix: read.string('REDIS_KEY_PREFIX', DEFAULT_REDIS_KEY_PREFIX),
    redisCommandTimeoutMs: read.integer('REDIS_COMMAND_TIMEOUT_MS', DEFAULT_REDIS_COMMAND_TIMEOUT_MS, { min: 10, max: 60_000 }),
    redisHealthCheckIntervalMs: read.integer('REDIS_HEALTH_CHECK_INTERVAL_MS', DEFAULT_REDIS_HEALTH_CHECK_INTERVAL_MS, { min: 50, max: 300_000 }),
    revocationPollIntervalMs: read.integer('REVOCATION_POLL_INTERVAL_MS', DEFAULT_REVOCATION_POLL_INTERVAL_MS, { min: 50, max: 300_000 }),
    encryptionSecret,
    issuer: read.url('JWT_ISSUER', `http://localhost:${port === 0 ? DEFAULT_PORT : port}`),
    audience: read.string('JWT_AUDIENCE', DEFAULT_AUDIENCE),
    signingAlgorithm: read.oneOf('JWT_ALGORITHM', ['EdDSA', 'ES256'] as const, DEFAULT_SIGNING_ALGORITHM),
    accessTokenTtlSeconds,
    refreshTokenTtlSeconds,
    sessionMaxLifetimeSeconds,
    refreshReuseGraceSeconds: read.integer('REFRESH_REUSE_GRACE_SECONDS', DEFAULT_REFRESH_REUSE_GRACE_SECONDS, { min: 0, max: 300 }),
    refreshTokenRotation: read.boolean('REFRESH_TOKEN_ROTATION', true),
    argon2: Object.freeze({
      memoryKiB: read.integer('ARGON2_MEMORY_KIB', DEFAULT_ARGON2.memoryKiB, { min: 8 * 1024, max: 4 * 1024 * 1024 }),
      iterations: read.integer('ARGON2_ITERATIONS', DEFAULT_ARGON2.iterations, { min: 1, max: 100 }),
      parallelism: read.integer('ARGON2_PARALLELISM', DEFAULT_ARGON2.parallelism, { min: 1, max: 16 }),
    }),
    cookieSecure: read.boolean('COOKIE_SECURE', production),
    allowedOrigins: Object.freeze(read.origins('ALLOWED_ORIGINS')),
    trustedProxies: Object.freeze(read.proxies('TRUSTED_PROXIES')),
    introspection: read.boolean('GRAPHQL_INTROSPECTION', !production),
    maxBatchSize: read.integer('GRAPHQL_MAX_BATCH_SIZE', DEFAULT_MAX_BATCH_SIZE, { min: 0, max: 10 }),
    maxConnectionsPerUser: read.integer('MAX_CONNECTIONS_PER_USER', DEFAULT_MAX_CONNECTIONS_PER_USER, { min: 1 }),
    maxSessionsPerUser: read.integer('MAX_SESSIONS_PER_USER', DEFAULT_MAX_SESSIONS_PER_USER, { min: 1, max: 100_000 }),
    rateLimits: readRateLimits(read),
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, DEFAULT_LOG_LEVEL),
  };
  return Object.freeze(config);
}

function readRateLimits(read: EnvReader): RateLimitConfig {
  const credentialsPerSecond = read.integer('RATE_LIMIT_CREDENTIALS_PER_SECOND', DEFAULT_RATE_LIMITS.credentialsPerSecond, {
    min: 1,
    // The token bucket counts in whole milliseconds per token (src/abuse/token-bucket.ts).
    max: 1000,
  });
  const credentialsBurst = read.integer('RATE_LIMIT_CREDENTIALS_BURST', Math.max(DEFAULT_RATE_LIMITS.credentialsBurst, credentialsPerSecond), { min: 1 });
  if (credentialsBurst < credentialsPerSecond) {
    throw new ConfigError('RATE_LIMIT_CREDENTIALS_BURST', 'must not be less than RATE_LIMIT_CREDENTIALS_PER_SECOND');
  }
  return Object.freeze({
    credentialsPerSecond,
    credentialsBurst,
    registrationsPerHour: read.integer('RATE_LIMIT_REGISTRATIONS_PER_HOUR', DEFAULT_RATE_LIMITS.registrationsPerHour, { min: 1 }),
    failedLoginsPerAccount: read.integer('RATE_LIMIT_FAILED_LOGINS', DEFAULT_RATE_LIMITS.failedLoginsPerAccount, { min: 1 }),
    failedLoginWindowSeconds: read.integer('RATE_LIMIT_FAILED_LOGIN_WINDOW_SECONDS', DEFAULT_RATE_LIMITS.failedLoginWindowSeconds, {
      min: 1,
      max: 7 * 24 * 3600,
    }),
    // At most 1000 a second, as for the credentials bucket: it counts whole milliseconds per token.
    usernameChangesPerHour: read.integer('RATE_LIMIT_USERNAME_CHANGES_PER_HOUR', DEFAULT_RATE_LIMITS.usernameChangesPerHour, { min: 1, max: 3600 * 1000 }),
    failedTokensPerMinute: read.integer('RATE_LIMIT_FAILED_TOKENS_PER_MINUTE', DEFAULT_RATE_LIMITS.failedTokensPerMinute, { min: 1 }),
  });
}

/** Parses single variables; every failure names the variable. */
class EnvReader {
  readonly #env: Env;
  constructor(env: Env) {
    this.#env = env;
  }

  optional(name: string): string | undefined {
    const value = this.#env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  string(name: string, fallback: string): string {
    return this.optional(name) ?? fallback;
  }

  integer(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw)) throw new ConfigError(name, 'must be a whole number');
    const value = Number(raw);
    if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}`);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.optional(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new ConfigError(name, 'must be true or false');
  }

  oneOf<const T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${allowed.join(', ')}`);
    return raw as T;
  }

  /** `sqlite:PATH`, `sqlite::memory:` or a postgres:// URL (what src/db/connect.ts opens). */
  databaseUrl(name: string, fallback: string): string {
    const raw = this.string(name, fallback);
    const sqlite = raw.startsWith('sqlite:') && raw.length > 'sqlite:'.length;
    const postgres = /^postgres(ql)?:\/\//.test(raw) && URL.canParse(raw);
    if (!sqlite && !postgres) throw new ConfigError(name, 'must be sqlite:PATH, sqlite::memory: or a postgres:// URL');
    return raw;
  }

  /** A redis:// or rediss:// URL, or undefined when unset. */
  redisUrl(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    if (!URL.canParse(raw) || !['redis:', 'rediss:'].includes(new URL(raw).protocol)) {
      throw new ConfigError(name, 'must be a redis:// or rediss:// URL');
    }
    return raw;
  }

  url(name: string, fallback: string): string {
    const raw = this.string(name, fallback);
    if (!URL.canParse(raw)) throw new ConfigError(name, 'must be an absolute URL');
    return raw;
  }

  /** Origins (`scheme://host[:port]`) for CORS with credentials; a wildcard is refused. */
  origins(name: string): string[] {
    const origins = this.list(name);
    for (const origin of origins) {
      if (origin === '*') throw new ConfigError(name, 'must list origins; "*" cannot be combined with credentials');
      if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
        throw new ConfigError(name, `"${origin}" is not an origin (scheme://host[:port], no path or trailing slash)`);
      }
    }
    return origins;
  }

  /** CIDRs or addresses of trusted proxies. */
  proxies(name: string): string[] {
    const proxies = this.list(name);
    for (const proxy of proxies) {
      try {
        parseTrustedProxy(proxy);
      } catch (error) {
        throw new ConfigError(name, (error as Error).message);
      }
    }
    return proxies;
  }

  list(name: string): string[] {
    const raw = this.optional(name);
    if (raw === undefined) return [];
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  }
}
