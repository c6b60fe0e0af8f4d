import { afterEach, describe, expect, it } from 'vitest';
import { DevicesDocument, LoginDocument, MeDocument, RefreshDocument, RegisterDocument } from '../src/client/operations.js';
import { DEFAULT_MAX_SESSIONS_PER_USER, loadConfig } from '../src/config.js';
import { configError } from './helpers/config-error.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

const password = 'correct horse battery staple';

let gateway: TestGateway;
afterEach(() => gateway?.close());

async function signIn(register = false) {
  const input = { username: 'collector', password, refreshTokenDelivery: 'BODY' as const };
  const anonymous = new GraphQLClient(gateway.url);
  const response = register ? await anonymous.request(RegisterDocument, { input }) : await anonymous.request(LoginDocument, { input });
  expect(response.errors).toBeUndefined();
  const payload = response.data && ('register' in response.data ? response.data.register : response.data.login);
  return { ...payload!, client: new GraphQLClient(gateway.url, { authorization: `Bearer ${payload!.accessToken}` }) };
}

async function liveSessionIds(): Promise<string[]> {
  const rows = await gateway.handle.db.selectFrom('sessions').select('id').where('revoked_at', 'is', null).execute();
  return rows.map((row) => row.id).sort();
}

describe('sessions per account', () => {
  it('revokes the least recently used session when a sign-in goes past MAX_SESSIONS_PER_USER, and its tokens die at once', async () => {
    gateway = await startTestGateway({ env: { MAX_SESSIONS_PER_USER: '3' } });
    const oldest = await signIn(true);
    gateway.clock.advance(1000);
    const idle = await signIn();
    gateway.clock.advance(1000);
    const third = await signIn();
    gateway.clock.advance(1000);
    // The oldest session is in use: the idle one is now the least recently used.
    const refreshed = (await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: oldest.refreshToken })).data!.refresh;
    gateway.clock.advance(1000);
    const newest = await signIn();

    const evicted = await gateway.handle.db.selectFrom('sessions').select(['revoked_reason']).where('id', '=', idle.session.id).executeTakeFirstOrThrow();
    expect(evicted.revoked_reason).toBe('SESSION_LIMIT');
    expect(await liveSessionIds()).toEqual([oldest.session.id, third.session.id, newest.session.id].sort());
    expect(errorReason(await idle.client.request(MeDocument))).toBe('SESSION_REVOKED');
    expect(errorReason(await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: idle.refreshToken! }))).toBe('SESSION_REVOKED');
    const devices = (await newest.client.request(DevicesDocument)).data!.devices.map((d) => d.id);
    expect(devices).toEqual([newest.session.id, third.session.id, oldest.session.id]);
    expect(refreshed.session.id).toBe(oldest.session.id);
  });

  it('never goes past the limit under concurrent sign-ins', async () => {
    gateway = await startTestGateway({ env: { MAX_SESSIONS_PER_USER: '3', RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000', RATE_LIMIT_FAILED_LOGINS: '1000' } });
    await signIn(true);
    const signIns = await Promise.all(Array.from({ length: 12 }, () => signIn()));
    const live = await liveSessionIds();
    expect(live).toHaveLength(3);
    const revoked = await gateway.handle.db.selectFrom('sessions').select('revoked_reason').where('revoked_at', 'is not', null).execute();
    expect(revoked.map((r) => r.revoked_reason)).toEqual(Array(10).fill('SESSION_LIMIT'));
    // Each evicted session's access token is refused; the kept ones still work.
    for (const signedIn of signIns) {
      const me = await signedIn.client.request(MeDocument);
      if (live.includes(signedIn.session.id)) expect(me.errors).toBeUndefined();
      else expect(errorReason(me)).toBe('SESSION_REVOKED');
    }
  });

  it('defaults to 100 and refuses a limit below 1', () => {
    expect(DEFAULT_MAX_SESSIONS_PER_USER).toBe(100);
    expect(loadConfig({}).maxSessionsPerUser).toBe(100);
    expect(loadConfig({ MAX_SESSIONS_PER_USER: '1' }).maxSessionsPerUser).toBe(1);
    expect(configError({ MAX_SESSIONS_PER_USER: '0' }).variable).toBe('MAX_SESSIONS_PER_USER');
  });
});
