import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { type LimitedMutations, limitedMutations } from './abuse/limited-mutations.js';
import { RateLimits } from './abuse/rate-limits.js';
import { type RateLimiterStore, redisRateLimiterStore } from './abuse/rate-limiter-store.js';
import { redisTokenBuckets } from './abuse/redis-token-bucket.js';
import { AccountDeletions } from './accounts/account-deletions.js';
import { Accounts } from './accounts/accounts.js';
import { EmailCodeStore } from './accounts/email-codes/email-code-store.js';
import { EmailCodes } from './accounts/email-codes/email-codes.js';
import { CodeHasher } from './accounts/email-codes/one-time-code.js';
import { forgetChangedUsers } from './accounts/forget-changed-users.js';
import { UserCache } from './accounts/user-cache.js';
import { UserStore } from './accounts/user-store.js';
import { AccessTokens } from './auth/access-tokens.js';
import { Authenticator } from './auth/authenticator.js';
import { forgetRevokedPersonalAccessTokens } from './auth/personal-access-tokens/forget-revoked-tokens.js';
import { PasswordHasher } from './auth/password-hasher.js';
import { PersonalAccessTokenCache } from './auth/personal-access-tokens/token-cache.js';
import { PersonalAccessTokenStore } from './auth/personal-access-tokens/token-store.js';
import { PersonalAccessTokenVerifier } from './auth/personal-access-tokens/token-verifier.js';
import { PersonalAccessTokens } from './auth/personal-access-tokens/personal-access-tokens.js';
import { SecretBox } from './auth/secret-box.js';
import { signingKeyStore } from './auth/signing-key-store.js';
import { SigningKeys } from './auth/signing-keys.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { GatewayHooks } from './hooks.js';
import { Retention } from './db/retention.js';
import { createMailOutbox } from './mail/create-mail-outbox.js';
import type { MailOutbox } from './mail/mail-outbox.js';
import type { Database } from './db/tables.js';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { LiveConnections } from './realtime/live-connections.js';
import { SessionEvents } from './realtime/session-events.js';
import { connectRedis, type RedisConnections, safePublisher, safeSubscriber } from './redis.js';
import { InProcessRevocationHub } from './revocation/in-process-revocation-hub.js';
import { endChannelsOnRevocation } from './revocation/realtime-revocations.js';
import { RedisRevocationChannel } from './revocation/redis-revocation-channel.js';
import type { Revocation } from './revocation/revocation.js';
import type { RevocationChannel } from './revocation/revocation-channel.js';
import { RevocationLog } from './revocation/revocation-log.js';
import { Revocations } from './revocation/revocations.js';
import { RevokedSessions } from './revocation/revoked-sessions.js';
import { RevokedUsers } from './revocation/revoked-users.js';
import { AuthCookies } from './sessions/auth-cookies.js';
import { SessionStore } from './sessions/session-store.js';
import { SsoIdentityStore } from './sso/identity-store.js';
import { SsoPendingLogins } from './sso/pending-logins.js';
import { SingleSignOn } from './sso/single-sign-on.js';
import { SsoProviders } from './sso/sso-providers.js';
import { SecurityEventLog } from './security-events/security-event-log.js';
import type { SecurityEventRecorder } from './security-events/security-event.js';

/** Everything a request needs, built once per gateway. */
export interface Services {
  readonly config: Config;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly db: Kysely<Database>;
  readonly users: UserStore;
  /** Recent user reads by id, for `me` and refresh; forgotten on every instance when a user changes. */
  readonly userCache: UserCache;
  readonly sessions: SessionStore;
  readonly accounts: Accounts;
  /** Email addresses, their verification, sign-in with email codes and password reset. */
  readonly emailCodes: EmailCodes;
  /** Where mail goes, in the background; undefined when email is off (EMAIL_ENABLED). */
  readonly mail: MailOutbox | undefined;
  /** Single sign-on over OpenID Connect with the SSO_PROVIDERS, and the identities linked to accounts. */
  readonly sso: SingleSignOn;
  readonly passwords: PasswordHasher;
  /** Limits on credential mutations: per client IP, and per account on failed passwords. */
  readonly rateLimits: RateLimits;
  readonly signingKeys: SigningKeys;
  readonly accessTokens: AccessTokens;
  readonly authenticator: Authenticator;
  readonly cookies: AuthCookies;
  readonly personalAccessTokens: PersonalAccessTokens;
  readonly accountDeletions: AccountDeletions;
  /** Where every revocation is announced; onRevoked() hears them all, this instance's and others'. */
  readonly revocations: Revocations;
  /** Open WebSocket connections and SSE streams, ended on expiry and revocation. */
  readonly live: LiveConnections;
  /** Where sessionEvents are published and subscribed. */
  readonly sessionEvents: SessionEvents;
  /** Purges expired sessions, tokens and tombstones, every few minutes (src/db/retention.ts). */
  readonly retention: Retention;
  /** Redis connections, when REDIS_URL is set. */
  readonly redis: RedisConnections | undefined;
  /** Where sign-ins, lockouts, revocations and credential changes are recorded (src/security-events/). */
  readonly securityEvents: SecurityEventRecorder;
  /** Stops timers and closes Redis; the database handle is the caller's to close. */
  close(): Promise<void>;
}

export interface ServiceDependencies {
  readonly config: Config;
  readonly db: Kysely<Database>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How revocations reach the other instances; Redis with REDIS_URL, else none are reached (one instance). */
  readonly revocationChannel?: RevocationChannel;
  /** Where rate limits count; Redis with REDIS_URL, else this process's memory. */
  readonly rateLimiterStore?: RateLimiterStore;
  /** The limited mutations and their limits, from the defaults (src/abuse/limited-mutations.ts); the defaults unless given. */
  readonly limitedMutations?: (defaults: LimitedMutations) => LimitedMutations;
  /** Where security events go; by default log lines of their own on `logger` (SecurityEventLog). */
  readonly securityEvents?: SecurityEventRecorder;
  /** Where embedding code takes part (src/hooks.ts). */
  readonly hooks?: GatewayHooks;
}

/** Wires the gateway's services together; loads (or creates) the signing keys. */
export async function createServices({
  config,
  db,
  clock,
  logger,
  revocationChannel,
  rateLimiterStore,
  ...dependencies
}: ServiceDependencies): Promise<Services> {
  const securityEvents = dependencies.securityEvents ?? new SecurityEventLog({ logger, clock });
  const users = new UserStore(db);
  // With REDIS_URL, Redis carries what instances must share: revocations, session events and
  // rate-limit counts. Without it, all three stay in this process.
  const redis = config.redisUrl
    ? connectRedis(config.redisUrl, logger, { commandTimeoutMs: config.redisCommandTimeoutMs, healthCheckIntervalMs: config.redisHealthCheckIntervalMs })
    : undefined;

  // Revocation. Every store that revokes writes the database first, then announces to
  // `revocations`, which updates the in-memory side that keeps database reads off the
  // access-token path: the recently revoked sessions, the per-user markers and (a listener) the
  // PAT cache. The order is forced one way: the stores are handed revocations.announce, so
  // `revocations` comes first; it reads the database back through RevocationLog, never through
  // the stores, so it needs nothing built after it.
  const revocationLog = new RevocationLog({ db });
  const revokedSessions = new RevokedSessions({ clock, accessTokenTtlSeconds: config.accessTokenTtlSeconds });
  // logoutAll and changePassword: one marker per user instead of a list of sessions.
  const revokedUsers = new RevokedUsers({ clock, windowMs: revokedSessions.windowMs, loadSession: (sessionId) => revocationLog.sessionState(sessionId) });
  const revocations = new Revocations({
    revokedSessions,
    revokedUsers,
    pollIntervalMs: config.revocationPollIntervalMs,
    channel:
      revocationChannel ??
      (redis
        ? new RedisRevocationChannel({ commands: redis.commands, subscriber: redis.subscriber, channel: `${config.redisKeyPrefix}revocations`, logger })
        : new InProcessRevocationHub().connect()),
    logger,
    clock,
    loadRevokedSince: (since) => revocationLog.sessionsRevokedSince(since),
    loadRevokedTokensSince: (since) => revocationLog.tokensRevokedSince(since),
    loadDeletedUsersSince: (since) => revocationLog.usersDeletedSince(since),
    loadUserRevocationsSince: (since) => revocationLog.userRevocationsSince(since),
    loadUsersChangedSince: (since) => revocationLog.usersChangedSince(since),
    loadSigningKeysRevokedSince: (since) => revocationLog.signingKeysRevokedSince(since),
  });
  // After revocations, which tell the other instances of a key this one revokes.
  let signingKeys: SigningKeys;
  try {
    signingKeys = await SigningKeys.open({
      store: signingKeyStore(config, db, clock, securityEvents),
      clock,
      refreshIntervalMs: config.signingKeys.refreshIntervalMs,
      onRevoked: (kid) => revocations.announceSigningKeyRevocation(kid),
      logger,
    });
  } catch (error) {
    // A wrong GATEWAY_ENCRYPTION_SECRET fails here: the start fails without leaving Redis connected.
    revocations.close();
    await redis?.close();
    throw error;
  }
  const accessTokens = new AccessTokens({
    keys: signingKeys,
    clock,
    issuer: config.issuer,
    audience: config.audience,
    ttlSeconds: config.accessTokenTtlSeconds,
    extraClaims: dependencies.hooks?.accessTokenClaims,
  });
  // A revoked key's tokens are refused at once, those already verified and remembered included.
  const stopRefusingRevokedKeys = revocations.onSigningKeyRevoked((kid) => {
    signingKeys.refuse(kid);
    accessTokens.forgetKey(kid);
  });
  const personalAccessTokenCache = new PersonalAccessTokenCache({ clock });
  // Registered before any revocation is applied (the catch-up below), and first, as it was
  // when Revocations invalidated the cache itself.
  const stopForgettingRevokedTokens = forgetRevokedPersonalAccessTokens({ revocations, cache: personalAccessTokenCache });
  const userCache = new UserCache({ load: (userId) => users.findById(userId), clock });
  const stopForgettingChangedUsers = forgetChangedUsers({ revocations, cache: userCache });
  const announce = (revocation: Revocation): Promise<void> => revocations.announce(revocation);
  const sessions = new SessionStore({
    db,
    clock,
    box: new SecretBox(config.encryptionSecret, 'refresh-token-successors'),
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    sessionMaxLifetimeSeconds: config.sessionMaxLifetimeSeconds,
    refreshReuseGraceSeconds: config.refreshReuseGraceSeconds,
    rotation: config.refreshTokenRotation,
    maxSessionsPerUser: config.maxSessionsPerUser,
    onRevoked: announce,
    securityEvents,
  });
  const accountDeletions = new AccountDeletions({ db, clock, accessTokenWindowMs: revokedSessions.windowMs, onDeleted: announce });
  const personalAccessTokenStore = new PersonalAccessTokenStore({ db, clock, onRevoked: announce });
  await revocations.catchUp();
  const live = new LiveConnections({ clock, maxPerUser: config.maxConnectionsPerUser });
  const sessionEvents = new SessionEvents({
    logger,
    eventTarget: redis
      ? createRedisEventTarget({ publishClient: safePublisher(redis.commands, logger), subscribeClient: safeSubscriber(redis.subscriber, logger) })
      : undefined,
    topicPrefix: redis ? config.redisKeyPrefix : '',
  });
  const stopEndingRevokedChannels = endChannelsOnRevocation({ revocations, live, sessionEvents, clock, revokedUsers });
  const passwords = new PasswordHasher(config.argon2);
  await passwords.warmUp();
  const rateLimits = new RateLimits({
    config: config.rateLimits,
    clock,
    store: rateLimiterStore ?? (redis ? redisRateLimiterStore(redis.commands, config.redisKeyPrefix) : undefined),
    tokenBuckets: redis ? redisTokenBuckets(redis.commands, config.redisKeyPrefix, clock) : undefined,
    mutations: (dependencies.limitedMutations ?? ((defaults) => defaults))(limitedMutations(config.rateLimits)),
  });
  const accounts = new Accounts({
    users,
    userCache,
    onUserChanged: (userId) => revocations.announce({ userId, userChanged: true }),
    sessions,
    accessTokens,
    hasher: passwords,
    passwordAttempts: rateLimits.accountLockout,
    clock,
    onSessionStarted: (userId, sessionId) => sessionEvents.publish(userId, { kind: 'SIGNED_IN', sessionId, at: clock.now() }),
    deletions: accountDeletions,
    securityEvents,
  });
  const mail = createMailOutbox(config.mail, logger);
  const emailCodes = new EmailCodes({
    db,
    users,
    codes: new EmailCodeStore(db),
    codeHasher: new CodeHasher(config.encryptionSecret),
    accounts,
    sessions,
    passwords,
    passwordAttempts: rateLimits.accountLockout,
    outbox: mail,
    clock,
    maxAttempts: config.rateLimits.emailCodeAttempts,
    onUserChanged: (userId) => revocations.announce({ userId, userChanged: true }),
    securityEvents,
    logger,
  });
  const sso = new SingleSignOn({
    config: config.sso,
    providers: new SsoProviders({ providers: config.sso.providers, logger }),
    pendingLogins: new SsoPendingLogins({ db, clock, box: new SecretBox(config.encryptionSecret, 'sso-pending-logins') }),
    identities: new SsoIdentityStore(db),
    users,
    accounts,
    emailSignIn: config.mail.enabled,
    clock,
    logger,
    securityEvents,
  });
  const retention = new Retention({
    db,
    clock,
    logger,
    accessTokenWindowMs: revokedSessions.windowMs,
    refreshReuseGraceMs: config.refreshReuseGraceSeconds * 1000,
  });
  retention.start();
  signingKeys.start();
  return {
    config,
    clock,
    logger,
    db,
    users,
    userCache,
    sessions,
    accounts,
    emailCodes,
    mail,
    sso,
    passwords,
    rateLimits,
    signingKeys,
    accessTokens,
    authenticator: new Authenticator({
      accessTokens,
      revokedSessions,
      revokedUsers,
      personalAccessTokens: new PersonalAccessTokenVerifier({
        store: personalAccessTokenStore,
        cache: personalAccessTokenCache,
        deletions: accountDeletions,
        attempts: rateLimits.failedTokenPresentations,
        clock,
        logger,
      }),
    }),
    cookies: new AuthCookies({ path: config.graphqlPath, secure: config.cookieSecure }),
    personalAccessTokens: new PersonalAccessTokens({ store: personalAccessTokenStore, clock, securityEvents }),
    accountDeletions,
    revocations,
    live,
    sessionEvents,
    retention,
    redis,
    securityEvents,
    async close() {
      await retention.stop();
      await signingKeys.stop();
      stopRefusingRevokedKeys();
      stopEndingRevokedChannels();
      stopForgettingRevokedTokens();
      stopForgettingChangedUsers();
      live.dispose();
      // Mails in flight get their timeout to go out.
      await mail?.close();
      sessionEvents.close();
      revocations.close();
      await redis?.close();
    },
  };
}
