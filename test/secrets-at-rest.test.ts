import { decodeProtectedHeader } from 'jose';
import { Cookie } from 'tough-cookie';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChangePasswordDocument,
  CreatePersonalAccessTokenDocument,
  LoginDocument,
  LogoutDocument,
  MeDocument,
  RefreshDocument,
  RegisterDocument,
} from '../client/src/operations.js';
import { capturedLogger } from './helpers/captured-logger.js';
import { GraphQLClient, type GraphQLResponse } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const password = 'first password, long enough';
const newPassword = 'second password, also long';
const wrongPassword = 'a wrong password here';
let gateway: TestGateway;
/** Every token and cookie value that passed through the flow. */
const secrets = new Set<string>();
const passwordHashes = new Set<string>();
let requests = 0;
let queryTokenRequests = 0;

/** Remembers every secret a response carried: the tokens in its body and the values of its cookies. */
function remember<T>(response: GraphQLResponse<T>): GraphQLResponse<T> {
  requests++;
  for (const setCookie of response.headers.getSetCookie()) {
    const value = Cookie.parse(setCookie)!.value;
    if (value !== '') secrets.add(value);
  }
  const walk = (value: unknown, key = ''): void => {
    if (typeof value === 'string' && /token/i.test(key)) secrets.add(value);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  walk(response.data);
  return response;
}

async function rememberPasswordHashes() {
  for (const { password_hash } of await gateway.handle.db.selectFrom('users').select('password_hash').execute()) passwordHashes.add(password_hash!);
}

beforeAll(async () => {
  gateway = await startTestGateway();
  const browser = new GraphQLClient(gateway.url);
  const cli = new GraphQLClient(gateway.url);

  // register and me over cookies; refresh through the cookie
  remember(await browser.request(RegisterDocument, { input: { username: 'secretive', password } }));
  await rememberPasswordHashes();
  remember(await browser.request(MeDocument));
  remember(await browser.request(RefreshDocument, {}));

  // login and refresh through the body
  const login = remember(await cli.request(LoginDocument, { input: { username: 'secretive', password, refreshTokenDelivery: 'BODY' } })).data!.login;
  const rotated = remember(await cli.request(RefreshDocument, { refreshToken: login.refreshToken })).data!.refresh;
  const bearer = { headers: { authorization: `Bearer ${rotated.accessToken}` } };

  // the token query parameter, as EventSource and WebSocket clients send it
  for (const token of [rotated.accessToken, 'forged-query-token-value']) {
    const response = await fetch(`${gateway.url}?token=${encodeURIComponent(token)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    await response.text();
    requests++;
    queryTokenRequests++;
  }
  secrets.add('forged-query-token-value');

  remember(await cli.request(CreatePersonalAccessTokenDocument, { input: { name: 'script' } }, bearer));
  remember(await cli.request(ChangePasswordDocument, { currentPassword: password, newPassword }, bearer));
  await rememberPasswordHashes();
  remember(await browser.request(LogoutDocument));
  remember(await cli.request(RefreshDocument, { refreshToken: login.refreshToken }));
  remember(await cli.request(LoginDocument, { input: { username: 'secretive', password: wrongPassword } }));
  remember(await cli.request(LoginDocument, { input: { username: 'nobody-here', password: wrongPassword } }));
});
afterAll(() => gateway.close());

/** Every row of every table, whatever the dialect. */
async function dump(): Promise<string> {
  const { db } = gateway.handle;
  const rows: Record<string, unknown[]> = {};
  for (const table of await db.introspection.getTables()) {
    rows[table.name] = await db
      .selectFrom(table.name as 'users')
      .selectAll()
      .execute();
  }
  return JSON.stringify(rows);
}

describe('secrets at rest and in logs', () => {
  it('ran the whole flow', () => {
    // two refresh tokens and two access tokens from the cookies, two of each from the body, a PAT, the forged value
    expect(secrets.size).toBeGreaterThanOrEqual(10);
    expect(passwordHashes.size).toBe(2);
  });

  it('keeps no raw token and no password in the database', async () => {
    const contents = await dump();
    expect(contents).toContain('"users"');
    expect(contents).toContain('"refresh_tokens"');
    for (const secret of secrets) expect(contents).not.toContain(secret);
    for (const pw of [password, newPassword, wrongPassword]) expect(contents).not.toContain(pw);
    const users = await gateway.handle.db.selectFrom('users').select('password_hash').execute();
    expect(users).toHaveLength(1);
    expect(users[0]!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });

  it('stores the private signing key sealed, never as a JWK', async () => {
    const keys = await gateway.handle.db.selectFrom('signing_keys').selectAll().execute();
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    expect(key.private_jwk_sealed).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(key.private_jwk_sealed).not.toContain('"d"');
    expect(JSON.parse(key.public_jwk)).not.toHaveProperty('d');
    const accessToken = [...secrets].find((s) => s.startsWith('eyJ'))!;
    expect(decodeProtectedHeader(accessToken).kid).toBe(key.kid);
  });

  it('writes no token, password, password hash or cookie value to the log', () => {
    const lines = gateway.logs.join('').split('\n').filter(Boolean);
    // One line per request: the flow was logged, so its absence from the lines below means something.
    const requestLines = lines.filter((line) => line.includes('"msg":"request"'));
    expect(requestLines.length).toBe(requests);
    expect(requestLines.filter((line) => line.includes('token=%5Bredacted%5D'))).toHaveLength(queryTokenRequests);
    for (const line of lines) {
      for (const secret of secrets) expect(line).not.toContain(secret);
      for (const pw of [password, newPassword, wrongPassword]) expect(line).not.toContain(pw);
      for (const hash of passwordHashes) expect(line).not.toContain(hash);
      expect(line).not.toMatch(/\$argon2id\$/);
    }
  });
});

describe('logger redaction', () => {
  it('censors credentials wherever a log object carries them', () => {
    const { logger, lines: written } = capturedLogger('info');
    logger.info(
      {
        req: { headers: { authorization: 'Bearer header-secret', cookie: 'refreshToken=cookie-secret' } },
        res: { headers: { 'set-cookie': 'accessToken=set-cookie-secret' } },
        variables: { input: { password: 'password-secret' }, refreshToken: 'refresh-secret' },
        token: 'token-secret',
      },
      'credentials',
    );
    const line = written.join('');
    expect(line).toContain('"msg":"credentials"');
    expect(line).toContain('[redacted]');
    expect(line).not.toMatch(/header-secret|cookie-secret|set-cookie-secret|password-secret|refresh-secret|token-secret/);
  });
});
