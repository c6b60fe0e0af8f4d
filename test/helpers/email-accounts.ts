import { expect } from 'vitest';
import {
  MyEmailDocument,
  RegisterWithEmailDocument,
  RequestEmailCodeDocument,
  VerifyEmailDocument,
  type EmailCodePurpose,
} from '../../client/src/operations.js';
import { PASSWORD, type SignedIn } from './accounts.js';
import { from, nextIp } from './client-ip.js';
import { errorCode, GraphQLClient, type GraphQLResponse } from './graphql-client.js';
import { startSmtpServer, type SmtpBehaviour, type TestSmtpServer } from './test-smtp-server.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './test-gateway.js';

export { from, nextIp } from './client-ip.js';

/** Argon2 at its cheapest: these tests hash many passwords and time nothing of it. */
export const FAST_ARGON2 = { ARGON2_MEMORY_KIB: '8192', ARGON2_ITERATIONS: '1' };
/** The test is the trusted proxy, so that each request can come from the client IP it names. */
export const TRUSTED = { TRUSTED_PROXIES: '127.0.0.1/32' };
/** Only the email limits refuse: the shared per-client bucket is raised out of the way. */
export const ROOMY_CREDENTIALS = { RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000', RATE_LIMIT_CREDENTIALS_BURST: '1000' };
/** For the tests that are not about the request limit: it would refuse their third request for one address. */
export const ROOMY_REQUESTS = { RATE_LIMIT_EMAIL_CODE_REQUESTS_PER_HOUR: '1000' };
export const MAIL_FROM = 'Gateway <no-reply@gateway.test>';

/** A started gateway wired to a real SMTP server of its own. */
export interface EmailGateway extends TestGateway {
  readonly smtp: TestSmtpServer;
}

/**
 * Starts an SMTP server (accepting, rejecting or stalling) and a gateway sending through it; both
 * are closed by `close()`, the gateway first.
 */
export async function startEmailGateway(
  options: TestGatewayOptions & { readonly smtp?: SmtpBehaviour; readonly smtpServer?: TestSmtpServer } = {},
): Promise<EmailGateway> {
  const smtp = options.smtpServer ?? (await startSmtpServer(options.smtp));
  const gateway = await startTestGateway({
    ...options,
    env: { ...FAST_ARGON2, ...TRUSTED, ...ROOMY_CREDENTIALS, SMTP_URL: smtp.url, MAIL_FROM, ...options.env },
  });
  return {
    ...gateway,
    smtp,
    async close(closeOptions?: { keepDatabase?: boolean }) {
      await gateway.close(closeOptions);
      if (!options.smtpServer) await smtp.close();
    },
  };
}

/** What the code helpers need of a gateway: its URL and the SMTP server it sends through. */
export type MailedGateway = Pick<EmailGateway, 'url' | 'smtp'>;

/** An anonymous client of the gateway. */
export const anonymous = (gateway: { readonly url: string }): GraphQLClient => new GraphQLClient(gateway.url);

/** Registers `username` with an email address (unverified), refresh token in the body. */
export async function registerWithEmail(gateway: { readonly url: string }, username: string, email: string): Promise<SignedIn> {
  const response = await anonymous(gateway).request(
    RegisterWithEmailDocument,
    { input: { username, password: PASSWORD, refreshTokenDelivery: 'BODY' }, email },
    from(),
  );
  expect(response.errors).toBeUndefined();
  const payload = response.data!.register;
  return { ...payload, refreshToken: payload.refreshToken!, client: new GraphQLClient(gateway.url, { authorization: `Bearer ${payload.accessToken}` }) };
}

/** Asks for a code from a fresh client IP; `as` signs the request in. */
export function requestCode(
  gateway: { readonly url: string },
  email: string,
  purpose: EmailCodePurpose,
  as?: { readonly client: GraphQLClient },
  ip: string = nextIp(),
): Promise<GraphQLResponse<{ requestEmailCode: boolean }>> {
  return (as?.client ?? anonymous(gateway)).request(RequestEmailCodeDocument, { email, purpose }, from(ip));
}

/** Asks for a code for a purpose and returns the code the SMTP server received. */
export async function codeFor(gateway: MailedGateway, email: string, purpose: EmailCodePurpose, as?: { readonly client: GraphQLClient }): Promise<string> {
  const response = await requestCode(gateway, email, purpose, as);
  expect(response.errors).toBeUndefined();
  const mail = await gateway.smtp.mailTo(email);
  expect(mail.code).toMatch(/^\d{6}$/);
  return mail.code!;
}

/** Registers `username` with `email` and verifies the address through the mail it is sent. */
export async function verifiedAccount(gateway: MailedGateway, username: string, email: string): Promise<SignedIn> {
  const account = await registerWithEmail(gateway, username, email);
  const code = await codeFor(gateway, email, 'VERIFY_EMAIL', account);
  const verified = await account.client.request(VerifyEmailDocument, { code }, from());
  expect(verified.errors).toBeUndefined();
  expect(verified.data!.verifyEmail.emailVerified).toBe(true);
  return account;
}

/** The caller's address and whether it is verified, from `me`. */
export async function myEmail(client: GraphQLClient): Promise<{ email: string | null; emailVerified: boolean }> {
  const response = await client.request(MyEmailDocument);
  expect(errorCode(response)).toBeUndefined();
  const { email, emailVerified } = response.data!.me;
  return { email, emailVerified };
}

/** Another 6-digit code than `code`. */
export const otherCode = (code: string): string => String((Number(code) + 1) % 1_000_000).padStart(6, '0');
