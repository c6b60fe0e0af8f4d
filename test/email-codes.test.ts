import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DevicesDocument, LoginDocument, SignInWithEmailCodeDocument, UpdateEmailDocument, VerifyEmailDocument } from '../client/src/operations.js';
import { emailKey } from '../src/accounts/email-codes/email-address.js';
import { loadConfig } from '../src/config.js';
import type { EmailCodePurpose } from '../src/db/tables.js';
import { LOGGED_MAIL_MESSAGE } from '../src/mail/log-transport.js';
import { PASSWORD, register } from './helpers/accounts.js';
import { configError } from './helpers/config-error.js';
import {
  anonymous,
  codeFor,
  type EmailGateway,
  FAST_ARGON2,
  from,
  myEmail,
  nextIp,
  otherCode,
  registerWithEmail,
  requestCode,
  ROOMY_REQUESTS,
  startEmailGateway,
  verifiedAccount,
} from './helpers/email-accounts.js';
import { expectRateLimited } from './helpers/expect-rate-limited.js';
import { errorCode, type GraphQLResponse } from './helpers/graphql-client.js';
import { startSmtpServer } from './helpers/test-smtp-server.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

// Issue 16: email one-time codes. A real SMTP server (smtp-server) receives every mail; the
// code is read from it (mailparser). Expiry runs on the gateway's ManualClock; the rate limits'
// fixed windows on Date, which the limit tests freeze.

const START = new Date('2030-01-01T00:00:00Z');
const TEN_MINUTES = 10 * 60_000;
const SECRET_FOR_PRODUCTION = 'a-production-secret-of-at-least-32-bytes!';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const close of closers.splice(0).reverse()) await close();
});

async function start(options: Parameters<typeof startEmailGateway>[0] = {}): Promise<EmailGateway> {
  const gateway = await startEmailGateway({ now: START, ...options, env: { ...ROOMY_REQUESTS, ...options.env } });
  closers.push(() => gateway.close());
  return gateway;
}

function signInWithCode(gateway: { readonly url: string }, email: string, code: string, ip = nextIp()) {
  return anonymous(gateway).request(SignInWithEmailCodeDocument, { email, code, refreshTokenDelivery: 'BODY' }, from(ip));
}

/** The error a refused code gets: INVALID_CODE, and nothing that tells which refusal it was. */
function expectInvalidCode(response: GraphQLResponse<unknown>): void {
  expect(response.data ?? null).toBeNull();
  expect(response.errors).toHaveLength(1);
  const [error] = response.errors!;
  expect({ message: error!.message, extensions: error!.extensions }).toEqual({
    message: 'The code is invalid or has expired',
    extensions: { code: 'INVALID_CODE', field: 'code' },
  });
}

function codeRow(gateway: TestGateway, purpose: EmailCodePurpose, email: string) {
  return gateway.services.db.selectFrom('email_codes').selectAll().where('purpose', '=', purpose).where('email_key', '=', emailKey(email)).executeTakeFirst();
}

/** The security events logged so far, as objects. */
function securityEvents(gateway: TestGateway): Record<string, unknown>[] {
  return gateway.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.log === 'security');
}

describe('signing in with an email code', () => {
  it('signs in an account with a verified address: a new session, as login makes, and the code consumed', async () => {
    const gateway = await start();
    const alice = await verifiedAccount(gateway, 'alice', 'Alice@Example.com');
    expect(await myEmail(alice.client)).toEqual({ email: 'Alice@Example.com', emailVerified: true });

    // Another spelling of the same address reaches the same account.
    const response = await requestCode(gateway, 'alice@example.COM', 'SIGN_IN');
    expect(response.data).toEqual({ requestEmailCode: true });
    const mail = await gateway.smtp.mailTo('Alice@Example.com');
    expect({ from: mail.from, subject: mail.subject }).toEqual({ from: 'no-reply@gateway.test', subject: 'Your sign-in code' });
    expect(mail.text).toContain('valid for 10 minutes');
    const row = await codeRow(gateway, 'SIGN_IN', 'alice@example.com');
    // Only a keyed hash is stored, never the code, nor a hash anyone could compute from it.
    expect(row!.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.values(row!)).not.toContain(mail.code);
    expect(row!.code_hash).not.toBe(createHash('sha256').update(mail.code!).digest('hex'));

    const signedIn = await signInWithCode(gateway, ' ALICE@example.com ', mail.code!);
    expect(errorCode(signedIn)).toBeUndefined();
    const payload = signedIn.data!.signInWithEmailCode;
    expect(payload.user.username).toBe('alice');
    expect(payload.refreshToken).toEqual(expect.any(String));
    const devices = await alice.client.request(DevicesDocument);
    expect(devices.data!.devices.map((d) => d.id)).toContain(payload.session.id);
    expect(await codeRow(gateway, 'SIGN_IN', 'alice@example.com')).toBeUndefined();
    expect(securityEvents(gateway).filter((e) => e.event === 'auth.email_code.succeeded')).toEqual([
      expect.objectContaining({ userId: payload.user.id, sessionId: payload.session.id, outcome: 'success' }),
    ]);
  });

  it('refuses an unverified address: no mail is sent to it, and no code of another purpose signs in', async () => {
    const gateway = await start();
    const bob = await registerWithEmail(gateway, 'bob', 'bob@example.com');
    expect(await myEmail(bob.client)).toEqual({ email: 'bob@example.com', emailVerified: false });

    expect((await requestCode(gateway, 'bob@example.com', 'SIGN_IN')).data).toEqual({ requestEmailCode: true });
    expect((await requestCode(gateway, 'bob@example.com', 'RESET_PASSWORD')).data).toEqual({ requestEmailCode: true });
    // VERIFY_EMAIL goes to the signed-in caller's own address only.
    expect((await requestCode(gateway, 'bob@example.com', 'VERIFY_EMAIL')).data).toEqual({ requestEmailCode: true });
    await gateway.services.mail!.settled();
    expect(gateway.smtp.received).toEqual([]);

    const verifyCode = await codeFor(gateway, 'bob@example.com', 'VERIFY_EMAIL', bob);
    expectInvalidCode(await signInWithCode(gateway, 'bob@example.com', verifyCode));
    // Still the account's verification code: the sign-in attempt did not consume it.
    const verified = await bob.client.request(VerifyEmailDocument, { code: verifyCode }, from());
    expect(verified.data!.verifyEmail).toEqual({ id: bob.user.id, email: 'bob@example.com', emailVerified: true });
  });

  it('answers wrong, expired, replaced and consumed codes alike', async () => {
    // More checks of one address than its limit allows in 15 minutes (tested below).
    const gateway = await start({ limitedMutations: (table) => ({ ...table, signInWithEmailCode: [] }) });
    await verifiedAccount(gateway, 'carol', 'carol@example.com');
    const email = 'carol@example.com';

    const first = await codeFor(gateway, email, 'SIGN_IN');
    expectInvalidCode(await signInWithCode(gateway, email, otherCode(first)));
    const second = await codeFor(gateway, email, 'SIGN_IN');
    // Replaced: only the newest code of a purpose is valid.
    expectInvalidCode(await signInWithCode(gateway, email, first));
    expect(errorCode(await signInWithCode(gateway, email, second))).toBeUndefined();
    // Consumed.
    expectInvalidCode(await signInWithCode(gateway, email, second));

    // Expired: valid until 10 minutes after it was sent, not a millisecond more.
    const third = await codeFor(gateway, email, 'SIGN_IN');
    gateway.clock.advance(TEN_MINUTES);
    expectInvalidCode(await signInWithCode(gateway, email, third));
    const fourth = await codeFor(gateway, email, 'SIGN_IN');
    gateway.clock.advance(TEN_MINUTES - 1);
    expect(errorCode(await signInWithCode(gateway, email, fourth, nextIp()))).toBeUndefined();

    // No code ever asked for that address.
    expectInvalidCode(await signInWithCode(gateway, 'nobody@example.com', '123456'));
    const reasons = securityEvents(gateway)
      .filter((e) => e.event === 'auth.email_code.failed')
      .map((e) => e.reason);
    expect(reasons).toEqual(['WRONG_CODE', 'WRONG_CODE', 'NO_CODE', 'EXPIRED', 'NO_CODE']);
  });

  it('makes a code void after 5 checks, the right one included; a new request starts over', async () => {
    // Without the per-address and per-IP limits, only the code's own count stands in the way.
    const gateway = await start({ limitedMutations: (table) => ({ ...table, signInWithEmailCode: [] }) });
    const email = 'dave@example.com';
    await verifiedAccount(gateway, 'dave', email);

    const code = await codeFor(gateway, email, 'SIGN_IN');
    for (let i = 0; i < 4; i++) expectInvalidCode(await signInWithCode(gateway, email, otherCode(code)));
    expect(errorCode(await signInWithCode(gateway, email, code))).toBeUndefined();

    const next = await codeFor(gateway, email, 'SIGN_IN');
    for (let i = 0; i < 5; i++) expectInvalidCode(await signInWithCode(gateway, email, otherCode(next)));
    expectInvalidCode(await signInWithCode(gateway, email, next));
    expect((await codeRow(gateway, 'SIGN_IN', email))!.attempts).toBe(5);
    expect(securityEvents(gateway).at(-1)).toEqual(expect.objectContaining({ event: 'auth.email_code.failed', reason: 'ATTEMPTS_EXHAUSTED' }));

    const fresh = await codeFor(gateway, email, 'SIGN_IN');
    expect(errorCode(await signInWithCode(gateway, email, fresh))).toBeUndefined();
  });
});

describe('one use per code', () => {
  it('lets exactly one of concurrent sign-ins with the same code through', async () => {
    const gateway = await start({ limitedMutations: (table) => ({ ...table, signInWithEmailCode: [] }) });
    const email = 'olga@example.com';
    await verifiedAccount(gateway, 'olga', email);
    const code = await codeFor(gateway, email, 'SIGN_IN');
    const responses = await Promise.all(Array.from({ length: 5 }, () => signInWithCode(gateway, email, code)));
    expect(responses.map((r) => errorCode(r) ?? 'SIGNED_IN').sort()).toEqual(['INVALID_CODE', 'INVALID_CODE', 'INVALID_CODE', 'INVALID_CODE', 'SIGNED_IN']);
    const sessions = await gateway.services.db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', responses.find((r) => r.data)!.data!.signInWithEmailCode.user.id)
      .execute();
    // The registration's session and the one sign-in.
    expect(sessions).toHaveLength(2);
  });
});

describe('verifying an address', () => {
  it('verifies with the code sent to it, once; the address is unique among verified ones, case aside', async () => {
    const gateway = await start();
    const erin = await registerWithEmail(gateway, 'erin', 'Erin@Example.com');
    const code = await codeFor(gateway, 'erin@example.com', 'VERIFY_EMAIL', erin);
    expect((await gateway.smtp.received.at(-1))!.subject).toBe('Verify your email address');
    expectInvalidCode(await erin.client.request(VerifyEmailDocument, { code: otherCode(code) }, from()));
    expect(await myEmail(erin.client)).toEqual({ email: 'Erin@Example.com', emailVerified: false });
    expect((await erin.client.request(VerifyEmailDocument, { code }, from())).data!.verifyEmail.emailVerified).toBe(true);
    expectInvalidCode(await erin.client.request(VerifyEmailDocument, { code }, from()));

    // Another account may claim the address (nothing tells it that it is taken) but not verify it.
    const mallory = await registerWithEmail(gateway, 'mallory', 'ERIN@example.com');
    expect(await myEmail(mallory.client)).toEqual({ email: 'ERIN@example.com', emailVerified: false });
    const stolen = await codeFor(gateway, 'erin@example.com', 'VERIFY_EMAIL', mallory);
    const refused = await mallory.client.request(VerifyEmailDocument, { code: stolen }, from());
    expect(errorCode(refused)).toBe('EMAIL_TAKEN');
    expect(await myEmail(mallory.client)).toEqual({ email: 'ERIN@example.com', emailVerified: false });
    expect(await myEmail(erin.client)).toEqual({ email: 'Erin@Example.com', emailVerified: true });
    expect(
      securityEvents(gateway)
        .filter((e) => e.event === 'account.email_verified')
        .map((e) => e.userId),
    ).toEqual([erin.user.id]);
  });

  it('updateEmail asks for the password, stores the new address unverified and sends it a code', async () => {
    const gateway = await start();
    const frank = await verifiedAccount(gateway, 'frank', 'frank@example.com');
    const update = (email: string, currentPassword?: string) => frank.client.request(UpdateEmailDocument, { email, currentPassword }, from());

    expect(errorCode(await update('frank@other.example'))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await update('frank@other.example', 'not the password'))).toBe('INVALID_CREDENTIALS');
    expect(errorCode(await update('not an address', PASSWORD))).toBe('BAD_USER_INPUT');
    expect(await myEmail(frank.client)).toEqual({ email: 'frank@example.com', emailVerified: true });

    // The same address in another spelling stays verified, and no code is sent.
    expect((await update('Frank@Example.com', PASSWORD)).data!.updateEmail).toEqual({ id: frank.user.id, email: 'Frank@Example.com', emailVerified: true });
    const changed = await update('frank@other.example', PASSWORD);
    expect(changed.data!.updateEmail).toEqual({ id: frank.user.id, email: 'frank@other.example', emailVerified: false });
    const mail = await gateway.smtp.mailTo('frank@other.example');
    expect(gateway.smtp.received.map((m) => m.to)).toEqual(['frank@example.com', 'frank@other.example']);
    // The old address no longer signs in.
    await requestCode(gateway, 'frank@example.com', 'SIGN_IN');
    await gateway.services.mail!.settled();
    expect(gateway.smtp.received).toHaveLength(2);
    expect((await frank.client.request(VerifyEmailDocument, { code: mail.code! }, from())).data!.verifyEmail.emailVerified).toBe(true);
  });
});

describe('limits', () => {
  /** 429 with the wait until the window ends (within a minute of it, for Redis's own clock). */
  const expectLimited = (response: GraphQLResponse<unknown>, windowSeconds: number) =>
    expectRateLimited(response, { min: windowSeconds - 59, max: windowSeconds });

  it('allows 2 code requests an hour per address, whatever the IP, and per IP, whatever the address; known or not', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const gateway = await start({ env: { RATE_LIMIT_EMAIL_CODE_REQUESTS_PER_HOUR: '2' } });
    await register(gateway, 'grace');

    for (const email of ['known@example.com', 'unknown@example.com']) {
      expect(errorCode(await requestCode(gateway, email, 'SIGN_IN'))).toBeUndefined();
      // Another spelling, another purpose, another IP: the same address.
      expect(errorCode(await requestCode(gateway, email.toUpperCase(), 'RESET_PASSWORD'))).toBeUndefined();
      expectLimited(await requestCode(gateway, ` ${email}`, 'SIGN_IN'), 3600);
    }

    const ip = nextIp();
    expect(errorCode(await requestCode(gateway, 'one@example.com', 'SIGN_IN', undefined, ip))).toBeUndefined();
    expect(errorCode(await requestCode(gateway, 'two@example.com', 'SIGN_IN', undefined, ip))).toBeUndefined();
    expectLimited(await requestCode(gateway, 'three@example.com', 'SIGN_IN', undefined, ip), 3600);
    // The refused request wrote no code.
    expect(await codeRow(gateway, 'SIGN_IN', 'three@example.com')).toBeUndefined();
  });

  it('allows 5 code checks per 15 minutes per address and per IP, then 429 with Retry-After', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const gateway = await start();
    const email = 'heidi@example.com';
    await verifiedAccount(gateway, 'heidi', email);
    const code = await codeFor(gateway, email, 'SIGN_IN');

    for (let i = 0; i < 5; i++) expectInvalidCode(await signInWithCode(gateway, email, otherCode(code)));
    // Per address: the right code, from a new IP, is not even checked.
    expectLimited(await signInWithCode(gateway, email.toUpperCase(), code), 900);

    const ip = nextIp();
    for (let i = 0; i < 5; i++) expectInvalidCode(await signInWithCode(gateway, `other${i}@example.com`, '000000', ip));
    expectLimited(await signInWithCode(gateway, 'other5@example.com', '000000', ip), 900);
  });
});

describe('no enumeration', () => {
  it('answers a request the same, after the same work, whether an account has the address or not', async () => {
    const gateway = await start();
    await verifiedAccount(gateway, 'ivan', 'ivan@example.com');
    await registerWithEmail(gateway, 'judy', 'judy@example.com'); // claimed, unverified

    const answers: unknown[] = [];
    for (const email of ['ivan@example.com', 'judy@example.com', 'nobody@example.com']) {
      for (const purpose of ['SIGN_IN', 'RESET_PASSWORD'] as const) {
        const response = await requestCode(gateway, email, purpose);
        answers.push({ status: response.status, data: response.data, errors: response.errors, headers: headersOf(response) });
        // The same path: a code row either way, for no account when no account has the address verified.
        const row = await codeRow(gateway, purpose, email);
        expect(row).toEqual(expect.objectContaining({ attempts: 0, expires_at: START.getTime() + TEN_MINUTES }));
        expect(row!.user_id === null).toBe(email !== 'ivan@example.com');
      }
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    await gateway.services.mail!.settled();
    // The verification mail, then one per purpose to the verified address only.
    expect(gateway.smtp.received.map((m) => m.to)).toEqual(['ivan@example.com', 'ivan@example.com', 'ivan@example.com']);
    // A code for an address of no account signs nobody in, right or wrong.
    expectInvalidCode(await signInWithCode(gateway, 'nobody@example.com', '000000'));
  });

  for (const behaviour of ['reject', 'stall'] as const) {
    it(`answers at once, and alike, when the SMTP server ${behaviour === 'reject' ? 'rejects the mail' : 'stalls'}; the failure is logged without the address`, async () => {
      // Verified through a working server, then restarted on the same database with a broken one.
      const first = await startEmailGateway({ now: START, env: ROOMY_REQUESTS });
      await verifiedAccount(first, 'kate', 'kate@example.com');
      await first.close({ keepDatabase: true });
      const broken = await startSmtpServer(behaviour);
      closers.push(() => broken.close());
      // The send's timeout far above what an answer may take: only never waiting for it passes.
      // Dropped with it, as the database of the gateway that closes last.
      const gateway = await start({ database: first.database, smtpServer: broken, env: { MAIL_SEND_TIMEOUT_MS: '5000' } });

      const timed = async (email: string) => {
        const started = performance.now();
        const response = await requestCode(gateway, email, 'SIGN_IN');
        return { elapsed: performance.now() - started, answer: { status: response.status, data: response.data, errors: response.errors } };
      };
      const known = await timed('kate@example.com');
      const unknown = await timed('nobody@example.com');
      expect(known.answer).toEqual({ status: 200, data: { requestEmailCode: true }, errors: undefined });
      expect(unknown.answer).toEqual(known.answer);
      // Far below the send's timeout (with room for a loaded machine), as for an unknown address.
      expect(known.elapsed).toBeLessThan(2_500);

      await gateway.services.mail!.settled();
      expect(broken.connections()).toBe(1);
      const failures = gateway.logs.filter((line) => line.includes('"mail not sent"'));
      expect(failures).toHaveLength(1);
      const failure = JSON.parse(failures[0]!) as { kind: string; err: Record<string, unknown> };
      expect(failure.kind).toBe('SIGN_IN');
      expect(failure.err).toEqual(behaviour === 'reject' ? expect.objectContaining({ responseCode: 550 }) : expect.objectContaining({ code: 'ETIMEDOUT' }));
      expect(gateway.logs.join('\n')).not.toMatch(/kate@example\.com/i);
    });
  }
});

describe('configuration', () => {
  const projectRoot = fileURLToPath(new URL('..', import.meta.url));

  it('turns email on in development and test, and in production only with SMTP_URL', () => {
    expect(loadConfig({}).mail).toEqual({ enabled: true, smtpUrl: undefined, from: 'GraphQL auth gateway <no-reply@localhost>', sendTimeoutMs: 10_000 });
    const production = { NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: SECRET_FOR_PRODUCTION };
    expect(loadConfig(production).mail.enabled).toBe(false);
    expect(loadConfig({ ...production, SMTP_URL: 'smtps://mailer:pw@smtp.example.com', MAIL_FROM: 'Example <no-reply@example.com>' }).mail).toEqual({
      enabled: true,
      smtpUrl: 'smtps://mailer:pw@smtp.example.com',
      from: 'Example <no-reply@example.com>',
      sendTimeoutMs: 10_000,
    });
    expect(configError({ ...production, EMAIL_ENABLED: 'true' }).variable).toBe('SMTP_URL');
    expect(configError({ ...production, SMTP_URL: 'smtp://smtp.example.com' }).variable).toBe('MAIL_FROM');
    const badUrl = configError({ SMTP_URL: 'http://user:hunter2@smtp.example.com' });
    expect(badUrl.variable).toBe('SMTP_URL');
    expect(badUrl.message).not.toContain('hunter2');
    expect(configError({ MAIL_FROM: 'no-reply@example.com\r\nBcc: everyone@example.com' }).variable).toBe('MAIL_FROM');
    expect(configError({ MAIL_SEND_TIMEOUT_MS: '10' }).variable).toBe('MAIL_SEND_TIMEOUT_MS');
  });

  it('refuses to start in production with EMAIL_ENABLED and no SMTP_URL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH, NODE_ENV: 'production', GATEWAY_ENCRYPTION_SECRET: SECRET_FOR_PRODUCTION, EMAIL_ENABLED: 'true', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(output).toContain('configuration error: SMTP_URL: is required in production while EMAIL_ENABLED is on');
    expect(output).not.toContain('gateway listening');
    // A process of its own, with tsx compiling the sources: slow on a busy machine.
  }, 60_000);

  it('without SMTP_URL outside production, writes each mail to the log, so that a newcomer can use its code', async () => {
    const gateway = await startTestGateway({ env: { ...FAST_ARGON2 } });
    closers.push(() => gateway.close());
    const lena = await registerWithEmail(gateway, 'lena', 'lena@example.com');
    expect(errorCode(await requestCode(gateway, 'lena@example.com', 'VERIFY_EMAIL', lena))).toBeUndefined();
    await gateway.services.mail!.settled();
    const logged = gateway.logs
      .map((line) => JSON.parse(line) as { msg: string; mail?: { to: string; text: string } })
      .find((e) => e.msg === LOGGED_MAIL_MESSAGE);
    expect(logged!.mail!.to).toBe('lena@example.com');
    const code = /\b(\d{6})\b/.exec(logged!.mail!.text)![1]!;
    expect((await lena.client.request(VerifyEmailDocument, { code }, from())).data!.verifyEmail.emailVerified).toBe(true);
  });

  it('with EMAIL_ENABLED=false, refuses what would send mail and stores an address given at registration', async () => {
    const gateway = await startTestGateway({ env: { ...FAST_ARGON2, EMAIL_ENABLED: 'false' } });
    closers.push(() => gateway.close());
    expect(gateway.services.mail).toBeUndefined();
    const mike = await registerWithEmail(gateway, 'mike', 'mike@example.com');
    expect(errorCode(await requestCode(gateway, 'mike@example.com', 'SIGN_IN'))).toBe('FORBIDDEN');
    expect(errorCode(await mike.client.request(UpdateEmailDocument, { email: 'm@example.com', currentPassword: PASSWORD }))).toBe('FORBIDDEN');
    expect(await myEmail(mike.client)).toEqual({ email: 'mike@example.com', emailVerified: false });
    // Password sign-in is untouched.
    const login = await anonymous(gateway).request(LoginDocument, { input: { username: 'mike', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    expect(errorCode(login)).toBeUndefined();
  });
});

/** The response headers that could differ between two answers, less the date. */
function headersOf(response: GraphQLResponse<unknown>): Record<string, string> {
  const headers = Object.fromEntries(response.headers.entries());
  delete headers.date;
  return headers;
}
