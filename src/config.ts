/**
 * The gateway's configuration: one typed, validated, frozen object, read from the environment
 * here and nowhere else. Every variable, its default and its meaning is in the README's table.
 */

import { localBaseUrl } from './http/local-url.js';
import { parseTrustedProxy } from './http/trusted-proxies.js';
import { RedactedSecret } from './redacted-secret.js';

export type SigningAlgorithm = 'EdDSA' | 'ES256';
/** Every algorithm the gateway signs with, and so accepts (each key verifies its own only). */
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = Object.freeze(['EdDSA', 'ES256']);
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
  /** requestEmailCode and updateEmail calls (each sends a code) per address and per client IP per hour. */
  readonly emailCodeRequestsPerHour: number;
  /** Checks of email codes per address (per account for verifyEmail) and per client IP per window; also each code's own attempts, after which it is void. */
  readonly emailCodeAttempts: number;
  readonly emailCodeAttemptWindowSeconds: number;
}

/** Email addresses, one-time codes and password reset (see src/accounts/email-codes/ and the README's *Email*). */
export interface MailConfig {
  /** Whether the operations that send mail run; off, requestEmailCode and updateEmail are refused. */
  readonly enabled: boolean;
  /** smtp:// or smtps:// URL of the server mail goes through; unset: mail is written to the log (never in production). */
  readonly smtpUrl: string | undefined;
  /** The From of every message. */
  readonly from: string;
  /** How long one send may take before it is given up and logged as failed. */
  readonly sendTimeoutMs: number;
}

/** The signing keys' schedule (see src/auth/signing-key-schedule.ts and the README's *Signing keys*). */
export interface SigningKeyConfig {
  /** How long a key signs before the next one takes over. */
  readonly rotationDays: number;
  /** How long the next key is published before it signs, so that every verifier has it first. */
  readonly publishAheadHours: number;
  /** How often every instance reads the key table: when it learns of a key created elsewhere (a rotation, a schedule). */
  readonly refreshIntervalMs: number;
}

/** One OpenID Connect provider to sign in with (SSO_<NAME>_*). */
export interface SsoProviderConfig {
  /** As listed in SSO_PROVIDERS: lower case, the path segment of its routes (/auth/sso/<name>). */
  readonly name: string;
  /** What a sign-in button says. */
  readonly displayName: string;
  /** The issuer identifier; its discovery document is `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  readonly clientId: string;
  /** Printed and serialised as "[redacted]"; reveal() only where it is sent. */
  readonly clientSecret: RedactedSecret;
  /** Requested scopes, `openid` always among them. */
  readonly scopes: readonly string[];
}

/** Single sign-on over OpenID Connect (see src/sso/). */
export interface SsoConfig {
  /** None: single sign-on is off. */
  readonly providers: readonly SsoProviderConfig[];
  /** Where a sign-in may send the browser back to (returnTo, redirectUri): URLs of these origins only. */
  readonly returnToOrigins: readonly string[];
  /** The gateway's public base URL; each provider's callback is `<base>/auth/sso/<name>/callback`. */
  readonly callbackBaseUrl: string;
}

/** One subgraph behind the gateway (SUBGRAPHS), and the audience of the identity tokens it is sent. */
export interface SubgraphConfig {
  /** As listed in SUBGRAPHS: the subgraph's name in the supergraph. */
  readonly name: string;
  /** Its GraphQL endpoint. */
  readonly url: string;
  /** The `aud` of its identity tokens: its name unless SUBGRAPH_AUDIENCES says otherwise. */
  readonly audience: string;
}

/** Federation: the gateway in front of subgraphs (see src/federation/ and the README's *Put subgraphs behind the gateway*). */
export interface FederationConfig {
  /** The subgraphs composed at start (SUBGRAPHS); their audiences apply with SUPERGRAPH too. */
  readonly subgraphs: readonly SubgraphConfig[];
  /** A supergraph composed elsewhere (SUPERGRAPH), used instead of composing SUBGRAPHS. */
  readonly supergraphPath: string | undefined;
  /** How long one subgraph request may take before its part of the answer is an error. */
  readonly timeoutMs: number;
  /** Client request headers copied to subgraph requests; never Authorization or Cookie. */
  readonly propagateHeaders: readonly string[];
  /** Lifetime of the identity tokens sent to subgraphs (never beyond the caller's own credential). */
  readonly identityTokenTtlSeconds: number;
  /** The `aud` of each subgraph's identity tokens as SUBGRAPH_AUDIENCES lists it (a subgraph not listed: its name), SUPERGRAPH's subgraphs included. */
  readonly audiences: Readonly<Record<string, string>>;
  /** How often the supergraph is read anew (SUBGRAPHS re-composed, or SUPERGRAPH re-read); 0: never after start. */
  readonly pollIntervalMs: number;
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
  /** The algorithm of the keys this instance creates; keys of another algorithm keep verifying until they retire. */
  readonly signingAlgorithm: SigningAlgorithm;
  readonly signingKeys: SigningKeyConfig;
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
  readonly mail: MailConfig;
  readonly logLevel: string;
  readonly sso: SsoConfig;
  /** Undefined unless SUBGRAPHS or SUPERGRAPH is set: then the gateway routes a supergraph. */
  readonly federation: FederationConfig | undefined;
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
/**
 * What every JWT library verifies: jsonwebtoken (and so @graphql-yoga/plugin-jwt and Hive
 * Gateway's JWT plugin) has no EdDSA, and subgraphs configured only with our JWKS would refuse
 * every token (issue #13).
 */
export const DEFAULT_SIGNING_ALGORITHM: SigningAlgorithm = 'ES256';
/** NIST SP 800-57's cryptoperiod is years; a quarter bounds what one leaked key could sign unnoticed. */
export const DEFAULT_SIGNING_KEY_ROTATION_DAYS = 90;
/** Far longer than any verifier caches a JWKS (ours say 300 s), so the next key is everywhere before it signs. */
export const DEFAULT_SIGNING_KEY_PUBLISH_AHEAD_HOURS = 24;
/** Keys created elsewhere are published ahead, so a minute is plenty; an unknown kid reloads at once anyway. */
export const DEFAULT_SIGNING_KEY_REFRESH_INTERVAL_MS = 60_000;
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
/** What a sign-in needs: the subject, and the claims a username is derived from. */
export const DEFAULT_SSO_SCOPES = 'openid profile email';
export const DEFAULT_RATE_LIMITS: RateLimitConfig = Object.freeze({
  credentialsPerSecond: 5,
  credentialsBurst: 10,
  registrationsPerHour: 20,
  failedLoginsPerAccount: 5,
  failedLoginWindowSeconds: 15 * 60,
  usernameChangesPerHour: 5,
  failedTokensPerMinute: 30,
  emailCodeRequestsPerHour: 2,
  emailCodeAttempts: 5,
  emailCodeAttemptWindowSeconds: 15 * 60,
});
export const DEFAULT_MAIL_FROM = 'GraphQL auth gateway <no-reply@localhost>';
/** Long enough for a healthy relay across the internet, short enough that a stalled one frees its socket soon. */
export const DEFAULT_MAIL_SEND_TIMEOUT_MS = 10_000;

/** Hive Gateway's own default: a subgraph that has not answered in 10 s is not going to. */
export const DEFAULT_SUBGRAPH_TIMEOUT_MS = 10_000;
/**
 * A minute: a subgraph's deployed change is served within one, and reading every subgraph's SDL
 * once a minute costs them nothing; 0 turns the polling off.
 */
export const DEFAULT_SUBGRAPH_POLL_INTERVAL_MS = 60_000;
/** Tracing and correlation only: nothing that identifies or authenticates the client. */
export const DEFAULT_SUBGRAPH_PROPAGATE_HEADERS: readonly string[] = Object.freeze(['traceparent', 'x-request-id']);
/** The longest an identity token lives (issue #14): a stolen one is worth minutes at most. */
export const MAX_IDENTITY_TOKEN_TTL_SECONDS = 300;
/** The gateway's own schema's name in the supergraph; no subgraph may take it. */
export const GATEWAY_SUBGRAPH_NAME = 'gateway';
/** Headers that carry the client's credential: never propagated, whatever SUBGRAPH_PROPAGATE_HEADERS says. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

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

  const config: Omit<Config, 'sso' | 'federation'> = {
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
    // The listening address's own host name (not `localhost` beside a default HOST of
    // 127.0.0.1): a browser that opens the printed URL shares a site with it and keeps the cookies.
    issuer: read.url('JWT_ISSUER', localBaseUrl(host, port === 0 ? DEFAULT_PORT : port)),
    audience: read.string('JWT_AUDIENCE', DEFAULT_AUDIENCE),
    signingAlgorithm: read.oneOf('JWT_ALGORITHM', ['EdDSA', 'ES256'] as const, DEFAULT_SIGNING_ALGORITHM),
    signingKeys: readSigningKeys(read),
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
    mail: readMail(read, production),
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, DEFAULT_LOG_LEVEL),
  };
  return Object.freeze({ ...config, sso: readSso(read, config), federation: readFederation(read) });
}

function readFederation(read: EnvReader): FederationConfig | undefined {
  const supergraphPath = read.optional('SUPERGRAPH');
  const listed = read.list('SUBGRAPHS');
  // Read (and so checked) with federation off too: a typo in one is not silently ignored.
  const timeoutMs = read.integer('SUBGRAPH_TIMEOUT_MS', DEFAULT_SUBGRAPH_TIMEOUT_MS, { min: 1, max: 600_000 });
  const identityTokenTtlSeconds = read.integer('IDENTITY_TOKEN_TTL_SECONDS', MAX_IDENTITY_TOKEN_TTL_SECONDS, { min: 10, max: MAX_IDENTITY_TOKEN_TTL_SECONDS });
  const propagated = read.optional('SUBGRAPH_PROPAGATE_HEADERS');
  const audiencesListed = read.list('SUBGRAPH_AUDIENCES');
  const pollIntervalMs = read.integer('SUBGRAPH_POLL_INTERVAL_MS', DEFAULT_SUBGRAPH_POLL_INTERVAL_MS, { max: 24 * 3_600_000 });
  // Each round reads every subgraph's SDL and composes: more often than this is a load, not freshness.
  if (pollIntervalMs > 0 && pollIntervalMs < 50) throw new ConfigError('SUBGRAPH_POLL_INTERVAL_MS', 'must be 0 (off) or at least 50');
  if (supergraphPath === undefined && listed.length === 0) return undefined;
  const audiences = new Map(audiencesListed.map((pair) => namedValue('SUBGRAPH_AUDIENCES', pair)));
  const subgraphs = listed.map((pair) => {
    const [name, url] = namedValue('SUBGRAPHS', pair);
    if (name === GATEWAY_SUBGRAPH_NAME) throw new ConfigError('SUBGRAPHS', `"${GATEWAY_SUBGRAPH_NAME}" is the gateway's own subgraph`);
    if (!URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) throw new ConfigError('SUBGRAPHS', `${name}: not an http(s) URL`);
    return Object.freeze({ name, url, audience: audiences.get(name) ?? name });
  });
  if (new Set(subgraphs.map((subgraph) => subgraph.name)).size !== subgraphs.length) throw new ConfigError('SUBGRAPHS', 'names a subgraph twice');
  for (const name of audiences.keys()) {
    if (!subgraphs.some((subgraph) => subgraph.name === name) && supergraphPath === undefined)
      throw new ConfigError('SUBGRAPH_AUDIENCES', `${name} is not in SUBGRAPHS`);
  }
  const propagateHeaders = read.list('SUBGRAPH_PROPAGATE_HEADERS').map((header) => header.toLowerCase());
  for (const header of propagateHeaders) {
    if (CREDENTIAL_HEADERS.has(header))
      throw new ConfigError('SUBGRAPH_PROPAGATE_HEADERS', `${header} carries the client's credential and is never propagated`);
  }
  return Object.freeze({
    subgraphs: Object.freeze(subgraphs),
    supergraphPath,
    timeoutMs,
    propagateHeaders: Object.freeze(propagated === undefined ? DEFAULT_SUBGRAPH_PROPAGATE_HEADERS : propagateHeaders),
    identityTokenTtlSeconds,
    audiences: Object.freeze(Object.fromEntries(audiences)),
    pollIntervalMs,
  });
}

/** `name=value`, both non-empty; the name lower case and safe as a supergraph name. */
function namedValue(variable: string, pair: string): [string, string] {
  const at = pair.indexOf('=');
  const name = pair.slice(0, at).trim();
  const value = pair.slice(at + 1).trim();
  if (at < 1 || value === '' || !/^[a-z][a-z0-9_-]*$/.test(name)) throw new ConfigError(variable, `"${pair}" must be name=value with a lower-case name`);
  return [name, value];
}

function readSigningKeys(read: EnvReader): SigningKeyConfig {
  const rotationDays = read.integer('SIGNING_KEY_ROTATION_DAYS', DEFAULT_SIGNING_KEY_ROTATION_DAYS, { min: 1, max: 3650 });
  const publishAheadHours = read.integer('SIGNING_KEY_PUBLISH_AHEAD_HOURS', DEFAULT_SIGNING_KEY_PUBLISH_AHEAD_HOURS, { min: 1, max: 30 * 24 });
  // The next key is created when the current one is rotation - publish-ahead old: there must be such a time.
  if (publishAheadHours >= rotationDays * 24) {
    throw new ConfigError('SIGNING_KEY_PUBLISH_AHEAD_HOURS', 'must be shorter than SIGNING_KEY_ROTATION_DAYS');
  }
  return Object.freeze({
    rotationDays,
    publishAheadHours,
    // At most 10 minutes: an instance that has not yet heard of a key made current at once (a
    // manual rotation) signs with the old one meanwhile, within the retired keys' margin.
    refreshIntervalMs: read.integer('SIGNING_KEY_REFRESH_INTERVAL_MS', DEFAULT_SIGNING_KEY_REFRESH_INTERVAL_MS, { min: 1_000, max: 600_000 }),
  });
}

/** SSO_PROVIDERS and, per provider NAME, SSO_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _SCOPES, _DISPLAY_NAME. */
function readSso(read: EnvReader, base: Omit<Config, 'sso' | 'federation'>): SsoConfig {
  const names = read.list('SSO_PROVIDERS').map((name) => name.toLowerCase());
  const providers: SsoProviderConfig[] = [];
  for (const name of names) {
    if (!/^[a-z][a-z0-9_]{0,31}$/.test(name)) {
      throw new ConfigError('SSO_PROVIDERS', `"${name}" is not a provider name (a-z, 0-9 and _, starting with a letter, at most 32)`);
    }
    if (providers.some((provider) => provider.name === name)) throw new ConfigError('SSO_PROVIDERS', `"${name}" is listed twice`);
    const prefix = `SSO_${name.toUpperCase()}_`;
    const issuer = read.optional(`${prefix}ISSUER`);
    if (issuer === undefined) throw new ConfigError(`${prefix}ISSUER`, 'is required for every provider in SSO_PROVIDERS');
    if (!URL.canParse(issuer) || !['https:', 'http:'].includes(new URL(issuer).protocol)) throw new ConfigError(`${prefix}ISSUER`, 'must be an http(s):// URL');
    // Everything the provider says, the ID token included, is trusted for arriving over TLS.
    if (base.nodeEnv === 'production' && new URL(issuer).protocol !== 'https:') {
      throw new ConfigError(`${prefix}ISSUER`, 'must be an https:// URL in production');
    }
    const clientId = read.optional(`${prefix}CLIENT_ID`);
    if (clientId === undefined) throw new ConfigError(`${prefix}CLIENT_ID`, 'is required for every provider in SSO_PROVIDERS');
    const clientSecret = read.optional(`${prefix}CLIENT_SECRET`);
    // Never quoted in a message: only whether it is there.
    if (clientSecret === undefined) throw new ConfigError(`${prefix}CLIENT_SECRET`, 'is required for every provider in SSO_PROVIDERS');
    const scopes = [...new Set(read.string(`${prefix}SCOPES`, DEFAULT_SSO_SCOPES).split(/\s+/))];
    if (!scopes.includes('openid')) throw new ConfigError(`${prefix}SCOPES`, 'must include openid');
    providers.push(
      Object.freeze({
        name,
        displayName: read.string(`${prefix}DISPLAY_NAME`, name.charAt(0).toUpperCase() + name.slice(1)),
        issuer,
        clientId,
        clientSecret: new RedactedSecret(clientSecret),
        scopes: Object.freeze(scopes),
      }),
    );
  }
  const listedReturnOrigins = read.optional('SSO_RETURN_TO_ORIGINS') === undefined ? base.allowedOrigins : read.origins('SSO_RETURN_TO_ORIGINS');
  const callbackBaseUrl = read.url('SSO_CALLBACK_BASE_URL', base.issuer).replace(/\/+$/, '');
  const callbackBase = new URL(callbackBaseUrl);
  if (!['https:', 'http:'].includes(callbackBase.protocol) || callbackBase.search !== '' || callbackBase.hash !== '') {
    throw new ConfigError('SSO_CALLBACK_BASE_URL', 'must be an http(s):// URL without query or fragment');
  }
  // The gateway's own origin too: its account page (/account) signs in through the browser flow.
  const returnToOrigins = Object.freeze([...new Set([...listedReturnOrigins, callbackBase.origin])]);
  return Object.freeze({ providers: Object.freeze(providers), returnToOrigins, callbackBaseUrl });
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
    emailCodeRequestsPerHour: read.integer('RATE_LIMIT_EMAIL_CODE_REQUESTS_PER_HOUR', DEFAULT_RATE_LIMITS.emailCodeRequestsPerHour, { min: 1 }),
    emailCodeAttempts: read.integer('RATE_LIMIT_EMAIL_CODE_ATTEMPTS', DEFAULT_RATE_LIMITS.emailCodeAttempts, { min: 1, max: 100 }),
    emailCodeAttemptWindowSeconds: read.integer('RATE_LIMIT_EMAIL_CODE_ATTEMPT_WINDOW_SECONDS', DEFAULT_RATE_LIMITS.emailCodeAttemptWindowSeconds, {
      min: 1,
      max: 24 * 3600,
    }),
  });
}

/**
 * Email is on when SMTP_URL is set, and in development and test also without it (mail goes to
 * the log, code included, so that a newcomer can sign in with one). Production never logs a
 * code: EMAIL_ENABLED=true there without SMTP_URL refuses to start.
 */
function readMail(read: EnvReader, production: boolean): MailConfig {
  const smtpUrl = read.smtpUrl('SMTP_URL');
  const enabled = read.boolean('EMAIL_ENABLED', !production || smtpUrl !== undefined);
  if (production && enabled && smtpUrl === undefined) throw new ConfigError('SMTP_URL', 'is required in production while EMAIL_ENABLED is on');
  const from = read.mailbox('MAIL_FROM', DEFAULT_MAIL_FROM);
  if (production && enabled && read.optional('MAIL_FROM') === undefined) {
    throw new ConfigError('MAIL_FROM', 'is required in production while EMAIL_ENABLED is on (the development default is no real sender)');
  }
  return Object.freeze({
    enabled,
    smtpUrl,
    from,
    sendTimeoutMs: read.integer('MAIL_SEND_TIMEOUT_MS', DEFAULT_MAIL_SEND_TIMEOUT_MS, { min: 100, max: 120_000 }),
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

  /** An smtp:// or smtps:// URL, or undefined when unset. Never quoted in the error: it may hold a password. */
  smtpUrl(name: string): string | undefined {
    const raw = this.optional(name);
    if (raw === undefined) return undefined;
    if (!URL.canParse(raw) || !['smtp:', 'smtps:'].includes(new URL(raw).protocol) || new URL(raw).hostname === '') {
      throw new ConfigError(name, 'must be an smtp:// or smtps:// URL with a host');
    }
    return raw;
  }

  /** A sender: `address@host` or `Name <address@host>`, on one line. */
  mailbox(name: string, fallback: string): string {
    const raw = this.string(name, fallback);
    if (/[\r\n]/.test(raw) || !/^(?:[^<>@]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/.test(raw)) {
      throw new ConfigError(name, 'must be address@host or "Name <address@host>"');
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
