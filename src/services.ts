import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Accounts } from './accounts/accounts.js';
import { UserStore } from './accounts/user-store.js';
import { AccessTokens } from './auth/access-tokens.js';
import { Authenticator } from './auth/authenticator.js';
import { PasswordHasher } from './auth/password-hasher.js';
import { SecretBox } from './auth/secret-box.js';
import { SigningKeys } from './auth/signing-keys.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/tables.js';
import { AuthCookies } from './sessions/auth-cookies.js';
import { SessionStore } from './sessions/session-store.js';

/** Everything a request needs, built once per gateway. */
export interface Services {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly db: Kysely<Database>;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly accounts: Accounts;
  readonly passwords: PasswordHasher;
  readonly signingKeys: SigningKeys;
  readonly accessTokens: AccessTokens;
  readonly authenticator: Authenticator;
  readonly cookies: AuthCookies;
}

export interface ServiceDependencies {
  readonly config: Config;
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Wires the gateway's services together; loads (or creates) the signing keys. */
export async function createServices({ config, db, clock, logger }: ServiceDependencies): Promise<Services> {
  const signingKeys = await SigningKeys.open({
    db,
    box: new SecretBox(config.encryptionSecret, 'signing-keys'),
    algorithm: config.signingAlgorithm,
    clock,
  });
  const accessTokens = new AccessTokens({
    keys: signingKeys,
    clock,
    issuer: config.issuer,
    audience: config.audience,
    ttlSeconds: config.accessTokenTtlSeconds,
  });
  const users = new UserStore(db);
  const sessions = new SessionStore({
    db,
    clock,
    box: new SecretBox(config.encryptionSecret, 'refresh-token-successors'),
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    sessionMaxLifetimeSeconds: config.sessionMaxLifetimeSeconds,
    refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
    rotation: config.refreshTokenRotation,
  });
  const passwords = new PasswordHasher(config.argon2);
  await passwords.warmUp();
  const accounts = new Accounts({ users, sessions, hasher: passwords, clock, onSessionsRevoked: () => {} });
  return {
    config,
    clock,
    logger,
    db,
    users,
    sessions,
    accounts,
    passwords,
    signingKeys,
    accessTokens,
    authenticator: new Authenticator(accessTokens),
    cookies: new AuthCookies({ path: config.graphqlPath, secure: config.cookieSecure }),
  };
}
