import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import type { PasswordHasher } from '../../auth/password-hasher.js';
import { normalizePassword } from '../../auth/password-policy.js';
import type { Clock } from '../../clock.js';
import type { Database, EmailCodePurpose } from '../../db/tables.js';
import { EmailTakenError, ForbiddenError, InvalidCodeError, InvalidCredentialsError } from '../../errors.js';
import type { MailOutbox } from '../../mail/mail-outbox.js';
import type { SecurityEventClient, SecurityEventName, SecurityEventRecorder } from '../../security-events/security-event.js';
import type { SessionStore } from '../../sessions/session-store.js';
import type { Accounts, ClientInfo, PasswordAttempts, SignedIn } from '../accounts.js';
import type { UserRow, UserStore } from '../user-store.js';
import { codeMail } from './code-mail.js';
import { type EmailAddress, parseEmailAddress } from './email-address.js';
import type { CodeRefusal, EmailCodeStore } from './email-code-store.js';
import { type CodeHasher, generateCode, normalizeCode } from './one-time-code.js';

/** How long a code is valid. */
export const DEFAULT_EMAIL_CODE_TTL_MS = 10 * 60_000;

export interface EmailCodesOptions {
  readonly db: Kysely<Database>;
  readonly users: UserStore;
  readonly codes: EmailCodeStore;
  readonly codeHasher: CodeHasher;
  /** Where code sign-in starts its session, as login does, and where updateEmail checks the password. */
  readonly accounts: Accounts;
  /** Where a reset revokes every session of the account. */
  readonly sessions: SessionStore;
  readonly passwords: PasswordHasher;
  /** The per-account password lockout, lifted by a reset. */
  readonly passwordAttempts?: PasswordAttempts;
  /** Where mail goes, in the background; undefined when email is off (EMAIL_ENABLED). */
  readonly outbox: MailOutbox | undefined;
  readonly clock: Clock;
  /** Checks a code may have, right or wrong, before it is void (RATE_LIMIT_EMAIL_CODE_ATTEMPTS). */
  readonly maxAttempts: number;
  /** DEFAULT_EMAIL_CODE_TTL_MS */
  readonly codeTtlMs?: number;
  /** Told after a user's address changed or was verified, so that every instance forgets its cached profile. */
  readonly onUserChanged?: (userId: string) => Promise<void>;
  readonly securityEvents?: SecurityEventRecorder;
  readonly logger: Logger;
}

/** Who asks for a code: the signed-in caller (VERIFY_EMAIL concerns its own account), and the client. */
export interface CodeRequester {
  readonly userId: string | undefined;
  readonly client: ClientInfo;
}

/** A refused code's security event: which event, and about whom. */
interface CodeAudit {
  readonly event: SecurityEventName;
  readonly userId?: string;
  readonly sessionId?: string;
  readonly client: SecurityEventClient;
}

/** Thrown inside a use's transaction when the matched code is gone: rolls the use back. */
class CodeSuperseded extends Error {}

/**
 * The account operations that run through email: the address and its verification, sign-in
 * with a one-time code, and password reset. A code is a proof like a password: the session it
 * starts comes from the same session creation as login (Accounts.signInWithProof), and it is
 * consumed in the transaction of what it is used for. Every refusal of a code is INVALID_CODE,
 * whichever it was; the security event says which.
 */
export class EmailCodes {
  readonly #options: EmailCodesOptions;
  readonly #ttlMs: number;

  constructor(options: EmailCodesOptions) {
    this.#options = Object.freeze({ ...options });
    this.#ttlMs = options.codeTtlMs ?? DEFAULT_EMAIL_CODE_TTL_MS;
  }

  /** Whether mail is sent (EMAIL_ENABLED); the operations that send refuse otherwise. */
  get enabled(): boolean {
    return this.#options.outbox !== undefined;
  }

  /**
   * Sends a code for a purpose to an address, replacing the previous one. Answers the same,
   * after the same work, whether or not an account has the address: a code row is written
   * either way (for no account, one that matches no one), and the mail, sent only to an
   * account's address, goes out in the background, so that neither its absence nor a slow SMTP
   * server shows in the answer's time. SIGN_IN and RESET_PASSWORD go to a verified address only;
   * VERIFY_EMAIL to the signed-in requester's own unverified address only.
   */
  async requestCode(input: string, purpose: EmailCodePurpose, requester: CodeRequester): Promise<void> {
    const outbox = this.#outbox();
    const address = parseEmailAddress(input);
    const { users, securityEvents } = this.#options;
    const owner = purpose === 'VERIFY_EMAIL' ? await this.#claimant(requester.userId, address) : await users.findByVerifiedEmail(address.key);
    // A VERIFY_EMAIL row for no claimant would replace the pending code of whoever claimed the
    // address; that the caller's own account claims it or not is no secret from the caller.
    if (owner || purpose !== 'VERIFY_EMAIL') await this.#issue(purpose, address, owner, outbox);
    securityEvents?.record({ event: 'auth.email_code.requested', userId: owner?.id ?? null, reason: purpose, client: requester.client });
  }

  /** Signs in with a code sent to an account's verified address; a new session, as login makes. */
  async signIn(input: { readonly email: string; readonly code: string; readonly deviceName?: string | null }, client: ClientInfo): Promise<SignedIn> {
    const address = parseEmailAddress(input.email);
    const audit: CodeAudit = { event: 'auth.email_code.failed', client };
    const matched = await this.#check('SIGN_IN', address, input.code, audit);
    const user = await this.#holder(matched.userId, address, audit);
    let signedIn: SignedIn | undefined;
    try {
      signedIn = await this.#options.accounts.signInWithProof(user, { deviceName: input.deviceName, client }, (trx) =>
        this.#consume(trx, 'SIGN_IN', address, matched.codeHash),
      );
    } catch (error) {
      if (error instanceof CodeSuperseded) throw this.#refused(audit, 'SUPERSEDED', user.id);
      throw error;
    }
    // A password reset landed between the check and the session: the code stays, unconsumed.
    if (!signedIn) throw this.#refused(audit, 'SUPERSEDED', user.id);
    this.#options.securityEvents?.record({ event: 'auth.email_code.succeeded', userId: user.id, sessionId: signedIn.session.id, client });
    return signedIn;
  }

  /**
   * Sets the signed-in user's address, unverified unless it is the same address, and sends a
   * VERIFY_EMAIL code to it. An account with a password must give it: whoever holds a stolen
   * session could otherwise point the account at a mailbox of theirs and reset the password.
   * Never refused because another account holds the address: that would tell that one does.
   */
  async updateEmail(userId: string, input: string, currentPassword: string | null | undefined, client: ClientInfo, sessionId?: string): Promise<UserRow> {
    const outbox = this.#outbox();
    const address = parseEmailAddress(input);
    const { users, accounts, clock, onUserChanged, securityEvents } = this.#options;
    const user = await users.findById(userId);
    if (!user) throw new InvalidCredentialsError();
    if (user.password_hash !== null) await accounts.reauthenticate(userId, currentPassword ?? '', client, sessionId);
    await users.setEmail(userId, address, clock.now());
    await onUserChanged?.(userId);
    securityEvents?.record({ event: 'account.email_changed', userId, sessionId, client });
    const updated = await users.findById(userId);
    if (!updated) throw new InvalidCredentialsError();
    if (updated.email_verified_at === null) await this.#issue('VERIFY_EMAIL', address, updated, outbox);
    return updated;
  }

  /** Verifies the signed-in user's address with the code sent to it. */
  async verifyEmail(userId: string, code: string, client: ClientInfo, sessionId?: string): Promise<UserRow> {
    const { db, users, clock, onUserChanged, securityEvents } = this.#options;
    const audit: CodeAudit = { event: 'account.email_verification.failed', userId, sessionId, client };
    const user = await users.findById(userId);
    if (!user || user.email === null || user.email_key === null || user.email_verified_at !== null) throw this.#refused(audit, 'NO_CODE', userId);
    const address: EmailAddress = { email: user.email, key: user.email_key };
    const matched = await this.#check('VERIFY_EMAIL', address, code, audit);
    if (matched.userId !== userId) throw this.#refused(audit, 'NO_ACCOUNT', userId);
    try {
      await db.transaction().execute(async (trx) => {
        await this.#consume(trx, 'VERIFY_EMAIL', address, matched.codeHash);
        // The address changed since the check: the code was for the old one.
        if (!(await users.markEmailVerified(userId, address.key, clock.now(), trx))) throw new CodeSuperseded();
      });
    } catch (error) {
      if (error instanceof CodeSuperseded) throw this.#refused(audit, 'SUPERSEDED', userId);
      if (error instanceof EmailTakenError) securityEvents?.record({ ...audit, reason: 'EMAIL_TAKEN' });
      throw error;
    }
    await onUserChanged?.(userId);
    securityEvents?.record({ event: 'account.email_verified', userId, sessionId, client });
    const verified = await users.findById(userId);
    if (!verified) throw new InvalidCredentialsError();
    return verified;
  }

  /**
   * Sets a new password with a code sent to the account's verified address, and revokes every
   * session of the account, as changePassword does: the same password policy, the credential
   * version bumped (a sign-in in flight gets no session), the code consumed in the same
   * transaction. Lifts the account's password lockout.
   */
  async resetPassword(input: { readonly email: string; readonly code: string; readonly newPassword: string }, client: ClientInfo): Promise<void> {
    const address = parseEmailAddress(input.email);
    // Before the code is tried: a password the policy refuses costs no attempt.
    const password = normalizePassword(input.newPassword, 'newPassword');
    const { users, sessions, passwords, clock, passwordAttempts, securityEvents } = this.#options;
    const audit: CodeAudit = { event: 'account.password_reset.failed', client };
    const matched = await this.#check('RESET_PASSWORD', address, input.code, audit);
    const user = await this.#holder(matched.userId, address, audit);
    const hash = await passwords.hash(password);
    let sessionIds: string[];
    try {
      ({ sessionIds } = await sessions.revokeAllOfUser(user.id, 'PASSWORD_CHANGED', undefined, async (trx) => {
        await this.#consume(trx, 'RESET_PASSWORD', address, matched.codeHash);
        // Conditional on the version read with the account: of a reset and a password change
        // racing, one lands.
        if (!(await users.changePasswordHash(user.id, user.credential_version, hash, clock.now(), trx))) throw new CodeSuperseded();
      }));
    } catch (error) {
      if (error instanceof CodeSuperseded) throw this.#refused(audit, 'SUPERSEDED', user.id);
      throw error;
    }
    await passwordAttempts?.succeeded(user.username);
    securityEvents?.record({ event: 'account.password_reset', userId: user.id, client });
    for (const sessionId of sessionIds) securityEvents?.record({ event: 'session.revoked', userId: user.id, sessionId, reason: 'PASSWORD_CHANGED', client });
  }

  #outbox(): MailOutbox {
    const { outbox } = this.#options;
    if (!outbox) throw new ForbiddenError('Email is not enabled on this gateway');
    return outbox;
  }

  /** The signed-in requester's account, when it claims the address unverified. */
  async #claimant(userId: string | undefined, address: EmailAddress): Promise<UserRow | undefined> {
    if (userId === undefined) return undefined;
    const user = await this.#options.users.findById(userId);
    return user && user.email_key === address.key && user.email_verified_at === null ? user : undefined;
  }

  /** Stores a new code for the purpose and address (replacing the previous one) and mails it to the owner, if any. */
  async #issue(purpose: EmailCodePurpose, address: EmailAddress, owner: UserRow | undefined, outbox: MailOutbox): Promise<void> {
    const { codes, codeHasher, clock, logger } = this.#options;
    const code = generateCode();
    const now = clock.now();
    await codes.replace({
      purpose,
      emailKey: address.key,
      userId: owner?.id ?? null,
      codeHash: codeHasher.hash(purpose, address.key, code),
      createdAt: now,
      expiresAt: now + this.#ttlMs,
    });
    if (owner?.email) outbox.post(codeMail(owner.email, purpose, code, Math.round(this.#ttlMs / 60_000)), purpose);
    try {
      await codes.purgeExpired(now);
    } catch (error) {
      // Expired codes are refused whether or not they are deleted; the next request purges them.
      logger.warn({ err: { message: (error as Error).message } }, 'purging expired email codes failed');
    }
  }

  /** Takes an attempt at the code of a purpose and address; the match, or INVALID_CODE. */
  async #check(purpose: EmailCodePurpose, address: EmailAddress, typed: string, audit: CodeAudit) {
    const { codes, codeHasher, clock, maxAttempts } = this.#options;
    const attempt = await codes.attempt(purpose, address.key, codeHasher.hash(purpose, address.key, normalizeCode(typed)), clock.now(), maxAttempts);
    if (!attempt.matched) throw this.#refused(audit, attempt.reason, attempt.userId ?? audit.userId);
    return attempt;
  }

  /** The account a matched code was issued for, while it still has the address verified. */
  async #holder(userId: string | null, address: EmailAddress, audit: CodeAudit): Promise<UserRow> {
    const user = userId === null ? undefined : await this.#options.users.findById(userId);
    if (!user || user.email_key !== address.key || user.email_verified_at === null) throw this.#refused(audit, 'NO_ACCOUNT', userId ?? undefined);
    return user;
  }

  /** Deletes the matched code in the use's transaction; throws CodeSuperseded when it is gone. */
  async #consume(trx: Transaction<Database>, purpose: EmailCodePurpose, address: EmailAddress, codeHash: string): Promise<void> {
    if (!(await this.#options.codes.consume(trx, purpose, address.key, codeHash, this.#options.clock.now()))) throw new CodeSuperseded();
  }

  #refused(audit: CodeAudit, reason: CodeRefusal, userId: string | null | undefined): InvalidCodeError {
    this.#options.securityEvents?.record({ ...audit, userId: userId ?? null, reason });
    return new InvalidCodeError();
  }
}
