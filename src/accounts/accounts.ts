import type { IssuedAccessToken } from '../auth/access-tokens.js';
import { hashToken } from '../auth/opaque-token.js';
import type { PasswordHasher } from '../auth/password-hasher.js';
import { normalizePassword } from '../auth/password-policy.js';
import type { Clock } from '../clock.js';
import { InvalidCredentialsError, RateLimitedError, UnauthenticatedError, UsernameTakenError } from '../errors.js';
import { type FailedPasswordCheck, type PasswordCheckAudit, recordFailedPasswordCheck } from '../security-events/password-check-audit.js';
import type { SecurityEventRecorder } from '../security-events/security-event.js';
import { sessionName, storedUserAgent } from '../sessions/device-name.js';
import type { PresentingClient } from '../sessions/client-fingerprint.js';
import type { SessionGrant, SessionStore } from '../sessions/session-store.js';
import type { Transaction } from 'kysely';
import type { Database } from '../db/tables.js';
import type { AccountDeletions } from './account-deletions.js';
import { parseEmailAddress } from './email-codes/email-address.js';
import type { UserCache, UserProfile } from './user-cache.js';
import type { UserRow, UserStore } from './user-store.js';
import { parseUsername } from './username.js';

/** Where a sign-in comes from, recorded on its session. */
export interface ClientInfo {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

export interface Credentials {
  readonly username: string;
  readonly password: string;
  readonly deviceName?: string | null;
}

/** What register takes: the credentials, and an email address to store unverified. */
export interface Registration extends Credentials {
  readonly email?: string | null;
}

/** A session started or refreshed, with everything the client is handed. */
export interface SignedIn extends SessionGrant {
  readonly user: UserProfile;
  readonly accessToken: IssuedAccessToken;
}

/** Issues the access tokens of sessions (src/auth/access-tokens.ts). */
export interface AccessTokenIssuer {
  issue(userId: string, sessionId: string): Promise<IssuedAccessToken>;
}

/**
 * Guards password checks against guessing (src/abuse/account-lockout.ts): consulted before every
 * verification, told of every success.
 */
export interface PasswordAttempts {
  /** Counts an attempt on the account; throws RATE_LIMITED, before any verification, while it is locked. */
  begin(username: string): Promise<PasswordAttempt | undefined>;
  /** The password was right: the account's failures are forgotten. */
  succeeded(username: string): Promise<void>;
}

/** One counted attempt. */
export interface PasswordAttempt {
  /** The account's last before it locks: should this one fail, the account is locked. */
  readonly lastBeforeLock: boolean;
}

export interface AccountsOptions {
  readonly users: UserStore;
  /** Where refresh reads the user (src/accounts/user-cache.ts); the store directly without it. */
  readonly userCache?: UserCache;
  /**
   * Told after a user's row changed (a rename), so that every instance forgets its cached copy
   * (a userChanged revocation).
   */
  readonly onUserChanged?: (userId: string) => Promise<void>;
  readonly sessions: SessionStore;
  /** Issues the access token of every session started or refreshed here. */
  readonly accessTokens: AccessTokenIssuer;
  readonly hasher: PasswordHasher;
  readonly clock: Clock;
  /** Told of every session started by a sign-in. */
  readonly onSessionStarted?: (userId: string, sessionId: string) => void;
  /** Deletes accounts with their sessions and tokens, and announces the revocation. */
  readonly deletions: AccountDeletions;
  /** Limits password guesses per account; none by default. */
  readonly passwordAttempts?: PasswordAttempts;
  /** Told of sign-ins, failed password checks, lockouts, registrations and credential changes. */
  readonly securityEvents?: SecurityEventRecorder;
}

/**
 * Account operations: sign-up, sign-in, refresh and the changes to an account's credentials.
 * Every way into a session goes through here, so that the resolvers only parse and deliver.
 */
export class Accounts {
  readonly #options: AccountsOptions;

  constructor(options: AccountsOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Creates an account and signs it in. An email address is stored unverified, whoever else
   * claims or holds it; its code is asked for with requestEmailCode(VERIFY_EMAIL).
   */
  async register(input: Registration, client: ClientInfo): Promise<SignedIn> {
    const { username } = parseUsername(input.username);
    const password = normalizePassword(input.password);
    const email = input.email == null ? undefined : parseEmailAddress(input.email);
    const name = sessionName(input.deviceName, client.userAgent);
    const { users, hasher, clock } = this.#options;
    if (await users.findByUsername(username)) throw new UsernameTakenError();
    const user = await users.create(username, await hasher.hash(password), clock.now(), email);
    const grant = await this.#startSession(user, name, client);
    // The account was changed or deleted between its creation and here, by someone who signed in to it.
    if (!grant) throw new InvalidCredentialsError();
    this.#options.securityEvents?.record({ event: 'account.registered', userId: user.id, username, sessionId: grant.session.id, client });
    return this.#signedIn(user, grant);
  }

  /**
   * Signs in. Unknown user, account without a password and wrong password fail alike, in
   * message and in time: the first two still cost one Argon2 verification.
   */
  async login(input: Credentials, client: ClientInfo): Promise<SignedIn> {
    const name = sessionName(input.deviceName, client.userAgent);
    const user = await this.#checkPassword(input.username, input.password, { event: 'auth.login.failed', client });
    const grant = await this.#startSession(user, name, client);
    // The password changed or the account was deleted after the check (a concurrent re-hash
    // of the same password keeps the credential version, and the sign-in).
    if (!grant) throw this.#refused({ event: 'auth.login.failed', client }, { username: input.username, reason: 'CREDENTIALS_CHANGED', userId: user.id });
    this.#options.securityEvents?.record({ event: 'auth.login.succeeded', userId: user.id, username: input.username, sessionId: grant.session.id, client });
    return this.#signedIn(user, grant);
  }

  /**
   * Signs in an account whose owner proved who they are some other way than its password (an
   * email code, single sign-on), through the session creation login uses. `proof` runs in the
   * session's transaction, so that what it consumes is consumed only with the session. Undefined
   * when the account is gone or its credential version is no longer the one `user` was read with
   * (a password reset landed since): the proof is then left unconsumed.
   */
  async signInWithProof(
    user: UserRow,
    device: { readonly deviceName?: string | null; readonly client: ClientInfo },
    proof?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<SignedIn | undefined> {
    const grant = await this.#startSession(user, sessionName(device.deviceName, device.client.userAgent), device.client, proof);
    return grant && this.#signedIn(user, grant);
  }

  /**
   * Checks the current password of a signed-in user before a change to the account's
   * credentials, counted against the account's lockout; INVALID_CREDENTIALS when wrong.
   */
  async reauthenticate(userId: string, password: string, client?: ClientInfo, sessionId?: string): Promise<UserRow> {
    return this.#checkOwnPassword(userId, password, { event: 'auth.reauthentication.failed', userId, sessionId, client });
  }

  /**
   * Exchanges a refresh token for its successor and a new access token. Throws UNAUTHENTICATED
   * as SessionStore.rotate does, or USER_NOT_FOUND for a token of a deleted account.
   * `client` is who presents it (null: unknown).
   */
  async refresh(presented: string, client: PresentingClient | null): Promise<SignedIn> {
    const { sessions, deletions } = this.#options;
    const grant = await sessions.rotate(presented, client).catch(async (error: unknown) => {
      // Deleted with its account, the token is unknown now; say why instead of TOKEN_INVALID.
      if (error instanceof UnauthenticatedError && error.reason === 'TOKEN_INVALID') {
        throw new UnauthenticatedError(await deletions.refusalOfUnknown('refresh_token', hashToken(presented)));
      }
      throw error;
    });
    return this.#signedIn(await this.profile(grant.session.user_id), grant);
  }

  /**
   * The caller's account, as `me` shows it; USER_NOT_FOUND when it is gone. From memory for a
   * recent caller: a rename or deletion on any instance is forgotten here at once by its
   * broadcast, or within REVOCATION_POLL_INTERVAL_MS by the catch-up (src/accounts/user-cache.ts).
   */
  async profile(userId: string): Promise<UserProfile> {
    const { users, userCache } = this.#options;
    const user = await (userCache ? userCache.get(userId) : users.findById(userId));
    if (!user) throw new UnauthenticatedError('USER_NOT_FOUND');
    return user;
  }

  async #signedIn(user: UserProfile, grant: SessionGrant): Promise<SignedIn> {
    return { user, ...grant, accessToken: await this.#options.accessTokens.issue(user.id, grant.session.id) };
  }

  /**
   * Verifies a username and password; INVALID_CREDENTIALS for any mismatch, RATE_LIMITED
   * without verifying anything while the account is locked.
   */
  async #checkPassword(username: string, rawPassword: string, audit: PasswordCheckAudit): Promise<UserRow> {
    const { users, hasher, clock, passwordAttempts } = this.#options;
    const attempt = await passwordAttempts?.begin(username).catch((error: unknown) => {
      if (error instanceof RateLimitedError) this.#refused(audit, { username, reason: 'LOCKED' });
      throw error;
    });
    const lockedNow = attempt?.lastBeforeLock;
    const password = passwordForCheck(rawPassword);
    const user = password === undefined ? undefined : await users.findByUsername(username);
    // An account without a password (it signs in some other way) is refused like an unknown one,
    // at the same cost.
    if (!user || user.password_hash === null || password === undefined) {
      await hasher.verifyDummy(password ?? '');
      const reason = password === undefined ? 'MALFORMED_PASSWORD' : !user ? 'UNKNOWN_USER' : 'NO_PASSWORD';
      throw this.#refused(audit, { username, reason, userId: user?.id, lockedNow });
    }
    const check = await hasher.verify(user.password_hash, password);
    if (!check.valid) throw this.#refused(audit, { username, reason: 'BAD_PASSWORD', userId: user.id, lockedNow });
    await passwordAttempts?.succeeded(username);
    if (check.needsRehash) {
      const rehashed = await hasher.hash(password);
      // Lost to a concurrent password change: the session's creation then sees the version moved.
      if (await users.replacePasswordHash(user.id, user.password_hash, rehashed, clock.now())) return { ...user, password_hash: rehashed };
    }
    return user;
  }

  /** Records a refused password check (internally, with its reason); the client is told INVALID_CREDENTIALS only. */
  #refused(audit: PasswordCheckAudit, failure: FailedPasswordCheck): InvalidCredentialsError {
    recordFailedPasswordCheck(this.#options.securityEvents, audit, failure);
    return new InvalidCredentialsError();
  }

  /** Undefined when the account's credential version is no longer the one checked (or it is gone). */
  async #startSession(
    user: UserRow,
    name: string,
    client: ClientInfo,
    proof?: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<SessionGrant | undefined> {
    const grant = await this.#options.sessions.create(
      {
        userId: user.id,
        credentialVersion: user.credential_version,
        name,
        userAgent: storedUserAgent(client.userAgent),
        ip: client.ip,
      },
      proof,
    );
    if (grant) this.#options.onSessionStarted?.(user.id, grant.session.id);
    return grant;
  }

  /** Renames the account. */
  async updateUsername(userId: string, input: string): Promise<UserRow> {
    const { username } = parseUsername(input);
    const { users, clock, onUserChanged } = this.#options;
    await users.rename(userId, username, clock.now());
    await onUserChanged?.(userId);
    const user = await users.findById(userId);
    if (!user) throw new InvalidCredentialsError();
    return user;
  }

  /**
   * Changes the password after checking the current one, and ends every other session. A
   * sign-in that verified the old password while this ran gets no session (SessionStore.create);
   * a change that landed since the check makes this one INVALID_CREDENTIALS.
   */
  async changePassword(userId: string, currentPassword: string, newPassword: string, keepSessionId: string | undefined, client?: ClientInfo): Promise<void> {
    const { users, sessions, hasher, clock, securityEvents } = this.#options;
    const user = await this.#checkOwnPassword(userId, currentPassword, { event: 'auth.reauthentication.failed', userId, sessionId: keepSessionId, client });
    const password = normalizePassword(newPassword, 'newPassword');
    const hash = await hasher.hash(password);
    // One transaction, so a failure cannot leave the new password stored and the other
    // sessions (perhaps an intruder's) live. The store announces the revocation after commit:
    // the other sessions' access tokens fail from then on. The write is conditional on the
    // credential version read with the hash just verified, and bumps it: of two changes that
    // checked the same current password (perhaps the victim's and an attacker's) the first lands
    // and the other is refused, with nothing revoked; no sign-in that checked the old password
    // gets a session. A concurrent re-hash of the current password keeps the version.
    const { sessionIds } = await sessions.revokeAllOfUser(user.id, 'PASSWORD_CHANGED', keepSessionId, async (trx) => {
      if (!(await users.changePasswordHash(user.id, user.credential_version, hash, clock.now(), trx))) throw new InvalidCredentialsError();
    });
    securityEvents?.record({ event: 'account.password_changed', userId: user.id, sessionId: keepSessionId, client });
    for (const sessionId of sessionIds) securityEvents?.record({ event: 'session.revoked', userId: user.id, sessionId, reason: 'PASSWORD_CHANGED', client });
  }

  /** Deletes the account after checking its password; sessions and tokens go with it. */
  async deleteAccount(userId: string, password: string, client?: ClientInfo, sessionId?: string): Promise<void> {
    const user = await this.#checkOwnPassword(userId, password, { event: 'auth.reauthentication.failed', userId, sessionId, client });
    await this.#options.deletions.delete(user.id);
    this.#options.securityEvents?.record({ event: 'account.deleted', userId: user.id, sessionId, client });
  }

  async #checkOwnPassword(userId: string, rawPassword: string, audit: PasswordCheckAudit): Promise<UserRow> {
    const user = await this.#options.users.findById(userId);
    if (!user) throw new InvalidCredentialsError();
    return this.#checkPassword(user.username, rawPassword, audit);
  }
}

/**
 * The normalised password to verify, or undefined when it could never be valid; such input
 * still costs a dummy verification so that its rejection takes the usual time.
 */
function passwordForCheck(raw: string): string | undefined {
  try {
    return normalizePassword(raw);
  } catch {
    return undefined;
  }
}
