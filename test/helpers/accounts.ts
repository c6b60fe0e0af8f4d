import { type AuthPayloadFieldsFragment, LoginDocument, RegisterDocument } from '../../client/src/operations.js';
import { errorCode, errorReason, GraphQLClient } from './graphql-client.js';

/** The password every test account uses (it passes the password policy). */
export const PASSWORD = 'correct horse battery staple';

export interface SignInOptions {
  /** Register the account instead of logging in to it. */
  readonly register?: boolean;
  /** PASSWORD unless given. */
  readonly password?: string;
  readonly deviceName?: string;
  /** Sent by both the signing-in client and the returned one. */
  readonly userAgent?: string;
  /**
   * X-Forwarded-For of the sign-in request (a client address, or a chain of them), as a proxy in
   * front of the gateway would send it; the returned client does not send it.
   */
  readonly from?: string;
}

/** What a sign-in answered, with a client that sends its access token as a bearer header. */
export interface SignedIn extends AuthPayloadFieldsFragment {
  /** The refresh token (delivered in the body). */
  readonly refreshToken: string;
  readonly client: GraphQLClient;
}

/**
 * Logs in (or registers, with `register`) over GraphQL with the refresh token in the body, as a
 * CLI does; throws with the error's code and reason if the gateway refuses.
 */
export async function signIn(gateway: { readonly url: string }, username: string, options: SignInOptions = {}): Promise<SignedIn> {
  const headers: Record<string, string> = options.userAgent ? { 'user-agent': options.userAgent } : {};
  const anonymous = new GraphQLClient(gateway.url, options.from ? { ...headers, 'x-forwarded-for': options.from } : headers);
  const input = { username, password: options.password ?? PASSWORD, deviceName: options.deviceName, refreshTokenDelivery: 'BODY' as const };
  const response = options.register ? await anonymous.request(RegisterDocument, { input }) : await anonymous.request(LoginDocument, { input });
  const payload = response.data && ('register' in response.data ? response.data.register : response.data.login);
  if (!payload) throw new Error(`sign-in of ${username} refused: ${String(errorCode(response))} ${String(errorReason(response) ?? '')}`);
  return {
    ...payload,
    refreshToken: payload.refreshToken!,
    client: new GraphQLClient(gateway.url, { ...headers, authorization: `Bearer ${payload.accessToken}` }),
  };
}

/** Registers an account (signIn with `register`). */
export function register(gateway: { readonly url: string }, username: string, options: Omit<SignInOptions, 'register'> = {}): Promise<SignedIn> {
  return signIn(gateway, username, { ...options, register: true });
}
