import { afterEach, describe, expect, it } from 'vitest';
import { LoginDocument, MeDocument, RefreshDocument, ResetPasswordDocument, SignInWithEmailCodeDocument } from '../client/src/operations.js';
import { emailKey } from '../src/accounts/email-codes/email-address.js';
import { PASSWORD, signIn } from './helpers/accounts.js';
import {
  anonymous,
  codeFor,
  type EmailGateway,
  from,
  otherCode,
  requestCode,
  ROOMY_REQUESTS,
  startEmailGateway,
  verifiedAccount,
} from './helpers/email-accounts.js';
import { errorCode, errorReason, type GraphQLResponse } from './helpers/graphql-client.js';

// Issue 16: a forgotten password is reset with a code sent to the account's verified address;
// the reset ends every session of the account, as changePassword does.

const START = new Date('2030-01-01T00:00:00Z');
const NEW_PASSWORD = 'a brand new passphrase';
const EMAIL = 'alice@example.com';

const gateways: EmailGateway[] = [];
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close();
});

async function start(env: Record<string, string> = {}): Promise<EmailGateway> {
  const gateway = await startEmailGateway({ now: START, env: { ...ROOMY_REQUESTS, ...env } });
  gateways.push(gateway);
  return gateway;
}

function reset(gateway: { readonly url: string }, code: string, newPassword = NEW_PASSWORD, email = EMAIL) {
  return anonymous(gateway).request(ResetPasswordDocument, { email, code, newPassword }, from());
}

function login(gateway: { readonly url: string }, password: string) {
  return anonymous(gateway).request(LoginDocument, { input: { username: 'alice', password, refreshTokenDelivery: 'BODY' } }, from());
}

function expectInvalidCode(response: GraphQLResponse<unknown>): void {
  expect(response.data ?? null).toBeNull();
  expect(response.errors?.map((e) => e.extensions)).toEqual([{ code: 'INVALID_CODE', field: 'code' }]);
}

describe('resetting a password with an email code', () => {
  it('sets the password and revokes every session: old tokens and the old password fail, the new one signs in', async () => {
    const gateway = await start();
    const alice = await verifiedAccount(gateway, 'alice', EMAIL);
    const laptop = await signIn(gateway, 'alice');

    const code = await codeFor(gateway, EMAIL, 'RESET_PASSWORD');
    expect(gateway.smtp.received.at(-1)!.subject).toBe('Reset your password');
    const response = await reset(gateway, code);
    expect(response.data).toEqual({ resetPassword: true });

    for (const session of [alice, laptop]) {
      const me = await session.client.request(MeDocument);
      expect([errorCode(me), errorReason(me)]).toEqual(['UNAUTHENTICATED', 'SESSION_REVOKED']);
      const refreshed = await anonymous(gateway).request(RefreshDocument, { refreshToken: session.refreshToken }, from());
      expect([errorCode(refreshed), errorReason(refreshed)]).toEqual(['UNAUTHENTICATED', 'SESSION_REVOKED']);
    }
    const sessions = await gateway.services.db.selectFrom('sessions').select(['id', 'revoked_reason']).where('user_id', '=', alice.user.id).execute();
    expect(sessions.map((s) => s.revoked_reason)).toEqual(['PASSWORD_CHANGED', 'PASSWORD_CHANGED']);

    expect(errorCode(await login(gateway, PASSWORD))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await login(gateway, NEW_PASSWORD))).toBeUndefined();
    // Consumed with the reset.
    expectInvalidCode(await reset(gateway, code, 'yet another passphrase'));
    expect(errorCode(await login(gateway, NEW_PASSWORD))).toBeUndefined();

    const events = gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.log === 'security');
    const resetAt = events.findIndex((e) => e.event === 'account.password_reset');
    expect(events[resetAt]).toEqual(expect.objectContaining({ userId: alice.user.id, outcome: 'success' }));
    expect(events.slice(resetAt + 1, resetAt + 3).map((e) => [e.event, e.reason])).toEqual([
      ['session.revoked', 'PASSWORD_CHANGED'],
      ['session.revoked', 'PASSWORD_CHANGED'],
    ]);
  });

  it('applies the password policy before the code is tried, so a refused password costs no attempt', async () => {
    const gateway = await start();
    await verifiedAccount(gateway, 'alice', EMAIL);
    const code = await codeFor(gateway, EMAIL, 'RESET_PASSWORD');
    const short = await reset(gateway, code, 'short');
    expect([errorCode(short), short.errors![0]!.extensions!.field]).toEqual(['BAD_USER_INPUT', 'newPassword']);
    const row = await gateway.services.db.selectFrom('email_codes').select('attempts').where('email_key', '=', emailKey(EMAIL)).executeTakeFirst();
    expect(row!.attempts).toBe(0);
    expect((await reset(gateway, code)).data).toEqual({ resetPassword: true });
  });

  it('refuses a wrong, expired or sign-in code, and then the password stays as it was', async () => {
    const gateway = await start();
    const alice = await verifiedAccount(gateway, 'alice', EMAIL);
    const code = await codeFor(gateway, EMAIL, 'RESET_PASSWORD');
    expectInvalidCode(await reset(gateway, otherCode(code)));
    // A sign-in code resets nothing, and a reset code signs nobody in.
    const signInCode = await codeFor(gateway, EMAIL, 'SIGN_IN');
    expectInvalidCode(await reset(gateway, signInCode));
    expect(errorCode(await anonymous(gateway).request(SignInWithEmailCodeDocument, { email: EMAIL, code }, from()))).toBe('INVALID_CODE');
    gateway.clock.advance(10 * 60_000);
    expectInvalidCode(await reset(gateway, code));

    expect(errorCode(await login(gateway, PASSWORD))).toBeUndefined();
    expect(errorCode(await alice.client.request(MeDocument))).toBeUndefined();
  });

  it('refuses a code sent before the address changed', async () => {
    const gateway = await start();
    const alice = await verifiedAccount(gateway, 'alice', EMAIL);
    const code = await codeFor(gateway, EMAIL, 'RESET_PASSWORD');
    await gateway.services.emailCodes.updateEmail(alice.user.id, 'alice@elsewhere.example', PASSWORD, { ip: null, userAgent: null });
    expectInvalidCode(await reset(gateway, code));
    expect(errorCode(await login(gateway, PASSWORD))).toBeUndefined();
  });

  it('lifts the lock of an account whose password was guessed at', async () => {
    const gateway = await start({ RATE_LIMIT_FAILED_LOGINS: '3' });
    await verifiedAccount(gateway, 'alice', EMAIL);
    for (let i = 0; i < 3; i++) expect(errorCode(await login(gateway, 'a wrong passphrase'))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await login(gateway, PASSWORD))).toBe('RATE_LIMITED');

    expect((await reset(gateway, await codeFor(gateway, EMAIL, 'RESET_PASSWORD'))).data).toEqual({ resetPassword: true });
    expect(errorCode(await login(gateway, NEW_PASSWORD))).toBeUndefined();
  });

  it('sends a reset code only to a verified address, and answers alike for the others', async () => {
    const gateway = await start();
    await verifiedAccount(gateway, 'alice', EMAIL);
    const answers = [];
    for (const email of [EMAIL, 'nobody@example.com']) answers.push((await requestCode(gateway, email, 'RESET_PASSWORD')).data);
    expect(answers).toEqual([{ requestEmailCode: true }, { requestEmailCode: true }]);
    await gateway.services.mail!.settled();
    expect(gateway.smtp.received.map((m) => [m.to, m.subject])).toEqual([
      [EMAIL, 'Verify your email address'],
      [EMAIL, 'Reset your password'],
    ]);
  });
});
