import { DevicesDocument, MeDocument, RefreshDocument } from '../client/src/operations.js';
import { DEFAULT_MAX_SESSIONS_PER_USER, loadConfig } from '../src/config.js';
import { configError } from './helpers/config-error.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { describe, expect, register, signIn, test } from './helpers/fixtures.js';
import type { TestGateway } from './helpers/test-gateway.js';

test.override({ gatewayOptions: { env: { MAX_SESSIONS_PER_USER: '3', RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000', RATE_LIMIT_FAILED_LOGINS: '1000' } } });

async function liveSessionIds(gateway: TestGateway): Promise<string[]> {
  const rows = await gateway.handle.db.selectFrom('sessions').select('id').where('revoked_at', 'is', null).execute();
  return rows.map((row) => row.id).sort();
}

describe('sessions per account', () => {
  test('revokes the least recently used session when a sign-in goes past MAX_SESSIONS_PER_USER, and its tokens die at once', async ({ gateway }) => {
    const oldest = await register(gateway, 'collector');
    gateway.clock.advance(1000);
    const idle = await signIn(gateway, 'collector');
    gateway.clock.advance(1000);
    const third = await signIn(gateway, 'collector');
    gateway.clock.advance(1000);
    // The oldest session is in use: the idle one is now the least recently used.
    const refreshed = (await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: oldest.refreshToken })).data!.refresh;
    gateway.clock.advance(1000);
    const newest = await signIn(gateway, 'collector');

    const evicted = await gateway.handle.db.selectFrom('sessions').select(['revoked_reason']).where('id', '=', idle.session.id).executeTakeFirstOrThrow();
    expect(evicted.revoked_reason).toBe('SESSION_LIMIT');
    expect(await liveSessionIds(gateway)).toEqual([oldest.session.id, third.session.id, newest.session.id].sort());
    expect(errorReason(await idle.client.request(MeDocument))).toBe('SESSION_REVOKED');
    expect(errorReason(await new GraphQLClient(gateway.url).request(RefreshDocument, { refreshToken: idle.refreshToken }))).toBe('SESSION_REVOKED');
    const devices = (await newest.client.request(DevicesDocument)).data!.devices.map((d) => d.id);
    expect(devices).toEqual([newest.session.id, third.session.id, oldest.session.id]);
    expect(refreshed.session.id).toBe(oldest.session.id);
  });

  test('never goes past the limit under concurrent sign-ins', async ({ gateway }) => {
    await register(gateway, 'collector');
    const signIns = await Promise.all(Array.from({ length: 12 }, () => signIn(gateway, 'collector')));
    const live = await liveSessionIds(gateway);
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

  test('defaults to 100 and refuses a limit below 1', () => {
    expect(DEFAULT_MAX_SESSIONS_PER_USER).toBe(100);
    expect(loadConfig({}).maxSessionsPerUser).toBe(100);
    expect(loadConfig({ MAX_SESSIONS_PER_USER: '1' }).maxSessionsPerUser).toBe(1);
    expect(configError({ MAX_SESSIONS_PER_USER: '0' }).variable).toBe('MAX_SESSIONS_PER_USER');
  });
});
