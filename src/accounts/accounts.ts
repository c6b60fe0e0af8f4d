import type { PasswordHasher } from '../auth/password-hasher.js';
import { normalizePassword } from '../auth/password-policy.js';
import type { Clock } from '../clock.js';
import { InvalidCredentialsError, UsernameTakenError } from '../errors.js';
import { sessionName, storedUserAgent } from '../sessions/device-name.js';
import type { SessionGrant, SessionStore } from '../sessions/session-store.js';
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

export interface SignedIn extends SessionGrant {
  readonly user: UserRow;
}

export interface AccountsOptions {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly hasher: PasswordHasher;
  readonly clock: Clock;
  /** Told of every session revoked through an account operation. */
  readonly onSessionsRevoked: (userId: string, sessionIds: readonly string[]) => void | Promise<void>;
}

/** Account operations: sign-up, sign-in and the changes to an account's credentials. */
export class Accounts {
  readonly #options: AccountsOptions;

  constructor(options: AccountsOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** Creates an account and signs it in. */
  async register(input: Credentials, client: ClientInfo): Promise<SignedIn> {
    const { username } = parseUsername(input.username);
    const password = normalizePassword(input.password);
    const name = sessionName(input.deviceName, client.userAgent);
    const { users, hasher, clock } = this.#options;
    if (await users.findByUsername(username)) throw new UsernameTakenError();
    const user = await users.create(username, await hasher.hash(password), clock.now());
    return { user, ...(await this.#startSession(user, name, client)) };
  }

  /**
   * Signs in. Unknown user and wrong password fail alike, in message and in time: an unknown
   * user still costs one Argon2 verification.
   */
  async login(input: Credentials, client: ClientInfo): Promise<SignedIn> {
    const name = sessionName(input.deviceName, client.userAgent);
    const user = await this.#checkPassword(input.username, input.password);
    return { user, ...(await this.#startSession(user, name, client)) };
  }

  /** Verifies a username and password; INVALID_CREDENTIALS for any mismatch. */
  async #checkPassword(username: string, rawPassword: string): Promise<UserRow> {
    const { users, hasher, clock } = this.#options;
    const password = passwordForCheck(rawPassword);
    const user = password === undefined ? undefined : await users.findByUsername(username);
    if (!user || password === undefined) {
      await hasher.verifyDummy(password ?? '');
      throw new InvalidCredentialsError();
    }
    const check = await hasher.verify(user.password_hash, password);
    if (!check.valid) throw new InvalidCredentialsError();
    if (check.needsRehash) {
      const rehashed = await hasher.hash(password);
      await users.setPasswordHash(user.id, rehashed, clock.now());
      return { ...user, password_hash: rehashed };
    }
    return user;
  }

  async #startSession(user: UserRow, name: string, client: ClientInfo): Promise<SessionGrant> {
    return this.#options.sessions.create({ userId: user.id, name, userAgent: storedUserAgent(client.userAgent), ip: client.ip });
  }

  /** Renames the account. */
  async updateUsername(userId: string, input: string): Promise<UserRow> {
    const { username } = parseUsername(input);
    const { users, clock } = this.#options;
    await users.rename(userId, username, clock.now());
    const user = await users.findById(userId);
    if (!user) throw new InvalidCredentialsError();
    return user;
  }

  /** Changes the password after checking the current one, and ends every other session. */
  async changePassword(userId: string, currentPassword: string, newPassword: string, keepSessionId: string | undefined): Promise<void> {
    const { users, sessions, hasher, clock } = this.#options;
    const user = await this.#checkOwnPassword(userId, currentPassword);
    const password = normalizePassword(newPassword, 'newPassword');
    await users.setPasswordHash(user.id, await hasher.hash(password), clock.now());
    const revoked = await sessions.revokeAllOfUser(user.id, 'PASSWORD_CHANGED', keepSessionId);
    await this.#options.onSessionsRevoked(user.id, revoked);
  }

  /** Deletes the account after checking its password; sessions and tokens go with it. */
  async deleteAccount(userId: string, password: string): Promise<void> {
    const user = await this.#checkOwnPassword(userId, password);
    const sessions = await this.#options.sessions.listActive(user.id);
    await this.#options.users.delete(user.id);
    await this.#options.onSessionsRevoked(
      user.id,
      sessions.map((s) => s.id),
    );
  }

  async #checkOwnPassword(userId: string, rawPassword: string): Promise<UserRow> {
    const user = await this.#options.users.findById(userId);
    if (!user) throw new InvalidCredentialsError();
    return this.#checkPassword(user.username, rawPassword);
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
