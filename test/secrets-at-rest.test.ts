import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChangePasswordDocument, LoginDocument, LogoutDocument, MeDocument, RefreshDocument, RegisterDocument } from '../src/client/operations.js';
import { GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const password = 'first password, long enough';
const newPassword = 'second password, also long';
let gateway: TestGateway;
const secrets = new Set<string>();

beforeAll(async () => {
  gateway = await startTestGateway();
  const browser = new GraphQLClient(gateway.url);
  const cli = new GraphQLClient(gateway.url);
  const remember = (value: string | null | undefined) => value && secrets.add(value);

  const registered = await browser.request(RegisterDocument, { input: { username: 'secretive', password } });
  remember(registered.data!.register.accessToken);
  remember(await browser.cookie('refreshToken'));
  await browser.request(MeDocument);
  await browser.request(RefreshDocument, {});
  remember(await browser.cookie('refreshToken'));
  remember(await browser.cookie('accessToken'));

  const login = (await cli.request(LoginDocument, { input: { username: 'secretive', password, refreshTokenDelivery: 'BODY' } })).data!.login;
  remember(login.accessToken);
  remember(login.refreshToken);
  const rotated = (await cli.request(RefreshDocument, { refreshToken: login.refreshToken })).data!.refresh;
  remember(rotated.refreshToken);
  remember(rotated.accessToken);
  await cli.request(ChangePasswordDocument, { currentPassword: password, newPassword }, { headers: { authorization: `Bearer ${rotated.accessToken}` } });
  await browser.request(LogoutDocument);
  await cli.request(LoginDocument, { input: { username: 'secretive', password: 'a wrong password here' } });
});
afterAll(() => gateway.close());

async function dump(): Promise<string> {
  const { db } = gateway.handle;
  const tables = ['users', 'sessions', 'refresh_tokens', 'signing_keys'] as const;
  const rows: Record<string, unknown[]> = {};
  for (const table of tables) rows[table] = await db.selectFrom(table).selectAll().execute();
  return JSON.stringify(rows);
}

describe('secrets at rest and in logs', () => {
  it('ran the whole flow', () => {
    expect(secrets.size).toBeGreaterThanOrEqual(7);
  });

  it('keeps no raw token and no password in the database', async () => {
    const contents = await dump();
    for (const secret of secrets) expect(contents).not.toContain(secret);
    for (const pw of [password, newPassword]) expect(contents).not.toContain(pw);
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

  it('writes no token, password or cookie value to the log', () => {
    const logs = gateway.logs.join('\n');
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).toContain('"msg":"request"');
    for (const secret of secrets) expect(logs).not.toContain(secret);
    for (const pw of [password, newPassword, 'a wrong password here']) expect(logs).not.toContain(pw);
    expect(logs).not.toMatch(/\$argon2id\$/);
  });
});
