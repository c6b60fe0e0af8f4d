import { randomBytes } from 'node:crypto';
import { Cookie } from 'tough-cookie';
import { dataOf, firstErrorCode, graphqlRequest } from './graphql-request.js';
import { CREATE_PERSONAL_ACCESS_TOKEN_MUTATION, LOGIN_MUTATION, REGISTER_MUTATION } from './operations.js';

export interface BenchAccount {
  readonly username: string;
  readonly password: string;
  /** An access token from the registration (BODY delivery). */
  readonly accessToken: string;
}

interface AuthData {
  readonly accessToken: string;
  readonly refreshToken: string | null;
}

/** Registers a fresh account through the API. */
export async function registerAccount(url: string, prefix = 'bench'): Promise<BenchAccount> {
  const username = `${prefix}-${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const answer = await graphqlRequest<{ register: AuthData }>(url, REGISTER_MUTATION, {
    input: { username, password, refreshTokenDelivery: 'BODY' },
  });
  const { register } = dataOf(answer, 'register');
  return { username, password, accessToken: register.accessToken };
}

export function loginInput(account: Pick<BenchAccount, 'username' | 'password'>, delivery: 'BODY' | 'COOKIE' = 'BODY') {
  return { input: { username: account.username, password: account.password, refreshTokenDelivery: delivery } };
}

/**
 * The Cookie header a browser sends after a COOKIE-delivery login: the cookies the gateway set,
 * name=value each (parsed by tough-cookie).
 */
export async function cookieHeaderAfterLogin(url: string, account: BenchAccount): Promise<string> {
  const answer = await graphqlRequest(url, LOGIN_MUTATION, loginInput(account, 'COOKIE'));
  dataOf(answer, 'login (COOKIE delivery)');
  const pairs = answer.setCookies.map((header) => Cookie.parse(header)?.cookieString()).filter((pair): pair is string => !!pair);
  if (pairs.length === 0) throw new Error('login (COOKIE delivery) set no cookies');
  return pairs.join('; ');
}

/** `count` fresh sessions of the account (BODY delivery), their refresh tokens, `concurrency` logins at a time. */
export async function freshRefreshTokens(url: string, account: BenchAccount, count: number, concurrency = 4): Promise<string[]> {
  const tokens: string[] = [];
  let inFlight = 0;
  const worker = async () => {
    while (tokens.length + inFlight < count) {
      inFlight++;
      try {
        const answer = await graphqlRequest<{ login: AuthData }>(url, LOGIN_MUTATION, loginInput(account));
        const token = dataOf(answer, 'login').login.refreshToken;
        if (!token) throw new Error('login (BODY delivery) returned no refresh token');
        tokens.push(token);
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tokens;
}

export type Availability<T> = { readonly available: true; readonly value: T } | { readonly available: false; readonly reason: string };

/**
 * A personal access token with `profile:read`, if the gateway issues them: the feature is
 * detected by asking for one, so the case runs as soon as the mutation works.
 */
export async function tryCreatePersonalAccessToken(url: string, accessToken: string): Promise<Availability<string>> {
  const answer = await graphqlRequest<{ createPersonalAccessToken: { token: string } }>(
    url,
    CREATE_PERSONAL_ACCESS_TOKEN_MUTATION,
    { input: { name: 'bench', scopes: ['profile:read'] } },
    { authorization: `Bearer ${accessToken}` },
  );
  const token = answer.data?.createPersonalAccessToken?.token;
  if (answer.errors.length > 0 || !token) return { available: false, reason: `createPersonalAccessToken answers ${firstErrorCode(answer)}` };
  return { available: true, value: token };
}
