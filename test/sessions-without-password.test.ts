import { afterEach, describe, expect, it } from 'vitest';
import { LoginDocument, MeDocument, RefreshDocument } from '../client/src/operations.js';
import { PASSWORD } from './helpers/accounts.js';
import { errorCode, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

// A session does not know how its user proved who they are: the store starts one for any
// account at its current credential version, password or none.

const gateways: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.close()));
});

async function start(): Promise<TestGateway> {
  const gateway = await startTestGateway();
  gateways.push(gateway);
  return gateway;
}

/** An account no password signs in to, as another kind of sign-in would make it. */
function createPasswordlessUser(gateway: TestGateway, username: string) {
  return gateway.services.users.create(username, null, gateway.clock.now());
}

function startSession(gateway: TestGateway, userId: string, credentialVersion: number) {
  return gateway.services.sessions.create({ userId, credentialVersion, name: 'Test device', userAgent: null, ip: null });
}

function login(gateway: TestGateway, username: string, pw = PASSWORD) {
  return new GraphQLClient(gateway.url).request(LoginDocument, { input: { username, password: pw, refreshTokenDelivery: 'BODY' } });
}

function securityEventReasons(gateway: TestGateway, event: string): unknown[] {
  return gateway.logs
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry.log === 'security' && entry.event === event)
    .map((entry) => entry.reason);
}

describe('a session without a password', () => {
  it('is created through the store for an account without a password, and refreshes over HTTP', async () => {
    const gateway = await start();
    const user = await createPasswordlessUser(gateway, 'oidc_user');
    expect(user.password_hash).toBeNull();
    const grant = await startSession(gateway, user.id, user.credential_version);
    expect(grant).toBeDefined();

    const refreshed = await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: grant!.refreshToken });
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data!.refresh.user.id).toBe(user.id);
    expect(refreshed.data!.refresh.session.id).toBe(grant!.session.id);
    const me = await new GraphQLClient(gateway.url, { authorization: `Bearer ${refreshed.data!.refresh.accessToken}` }).request(MeDocument);
    expect(me.data?.me.username).toBe('oidc_user');
  });

  it('refuses password sign-in to such an account with INVALID_CREDENTIALS, at the cost of one dummy verification', async () => {
    const gateway = await start();
    await createPasswordlessUser(gateway, 'oidc_user');
    const { passwords } = gateway.services;
    const verifyDummy = passwords.verifyDummy.bind(passwords);
    let dummyVerifications = 0;
    passwords.verifyDummy = async (pw) => {
      dummyVerifications++;
      return verifyDummy(pw);
    };
    for (const attempt of [PASSWORD, '']) expect(errorCode(await login(gateway, 'oidc_user', attempt))).toBe('INVALID_CREDENTIALS');
    expect(dummyVerifications).toBe(2);
    expect(await gateway.handle.db.selectFrom('sessions').select('id').execute()).toEqual([]);
    // The reason stays internal, told apart from an unknown user.
    expect(securityEventReasons(gateway, 'auth.login.failed')).toEqual(['NO_PASSWORD', 'MALFORMED_PASSWORD']);
  });
});

describe('the credential version', () => {
  it('refuses a session whose sign-in read a version a password change has since bumped', async () => {
    const gateway = await start();
    const { accounts, users } = gateway.services;
    const signedIn = await accounts.register({ username: 'alice', password: PASSWORD }, { userAgent: null, ip: null });
    const before = (await users.findById(signedIn.user.id))!;
    await accounts.changePassword(before.id, PASSWORD, 'a brand new passphrase', signedIn.session.id);
    const after = (await users.findById(before.id))!;
    expect(after.credential_version).toBe(before.credential_version + 1);
    expect(await startSession(gateway, before.id, before.credential_version)).toBeUndefined();
    expect(await startSession(gateway, before.id, after.credential_version)).toBeDefined();
  });

  it('is kept by a re-hash of the same password, and a session can still start at it', async () => {
    const gateway = await start();
    const { accounts, users, passwords, clock } = gateway.services;
    const signedIn = await accounts.register({ username: 'alice', password: PASSWORD }, { userAgent: null, ip: null });
    const before = (await users.findById(signedIn.user.id))!;
    expect(await users.replacePasswordHash(before.id, before.password_hash!, await passwords.hash(PASSWORD), clock.now())).toBe(true);
    expect((await users.findById(before.id))!.credential_version).toBe(before.credential_version);
    expect(await startSession(gateway, before.id, before.credential_version)).toBeDefined();
  });
});
