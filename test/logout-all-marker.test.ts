import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ChangePasswordDocument, LoginDocument, LogoutAllDocument, MeDocument } from '../client/operations.js';
import { InProcessRevocationHub } from '../src/revocation/in-process-revocation-hub.js';
import type { RevocationChannel } from '../src/revocation/revocation-channel.js';
import { PASSWORD } from './helpers/accounts.js';
import { type Device, deviceOf, signIn } from './helpers/devices.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { openWsClient, type TestWsClient, within } from './helpers/realtime-clients.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';

// Issue 11, item 18: logoutAll and changePassword revoke per user (one marker), not per session.

const START = new Date('2030-01-01T00:00:00Z');
const SESSIONS = 2_000;

const gateways: TestGateway[] = [];
const sockets: TestWsClient[] = [];
afterEach(async () => {
  await Promise.all(sockets.splice(0).map((socket) => socket.dispose()));
  const closing = gateways.splice(0);
  for (const gateway of closing) await gateway.close({ keepDatabase: true });
  for (const database of new Set(closing.map((gateway) => gateway.database))) await database.drop();
});

/** Two instances on one database, revocations between them through an in-process hub whose messages are kept. */
async function twoInstances() {
  const hub = new InProcessRevocationHub();
  const published: string[] = [];
  const capturing = (channel: RevocationChannel): RevocationChannel => ({
    ...channel,
    publish: (revocation) => {
      published.push(JSON.stringify(revocation));
      return channel.publish(revocation);
    },
  });
  const a = await startTestGateway({ now: START, revocationChannel: capturing(hub.connect()) });
  const b = await startTestGateway({ now: START, database: a.database, revocationChannel: capturing(hub.connect()) });
  gateways.push(a, b);
  return { a, b, hub, published };
}

function advance(ms: number, ...instances: TestGateway[]) {
  for (const gateway of instances) gateway.clock.advance(ms);
}

async function meOf(gateway: TestGateway, token: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${token}` }).request(MeDocument);
}

/** Inserts sessions straight into the table, as many as a busy account could gather. */
async function insertSessions(gateway: TestGateway, userId: string, count: number, expiresAt: (i: number) => number): Promise<string[]> {
  const now = gateway.clock.now();
  const rows = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    user_id: userId,
    name: `device ${i}`,
    user_agent: null,
    ip: null,
    created_at: now - 3600_000,
    last_used_at: now,
    expires_at: expiresAt(i),
    absolute_expires_at: now + 30 * 24 * 3600_000,
    revoked_at: null,
    revoked_reason: null,
  }));
  for (let i = 0; i < rows.length; i += 200)
    await gateway.handle.db
      .insertInto('sessions')
      .values(rows.slice(i, i + 200))
      .execute();
  return rows.map((row) => row.id);
}

describe('logoutAll and changePassword with thousands of sessions', () => {
  it.each(['logoutAll', 'changePassword'] as const)(
    '%s sends one small message, writes only the unexpired sessions, and refuses every old access token on both instances',
    async (mutation) => {
      const { a, b, published } = await twoInstances();
      const caller: Device = await signIn(a.url, 'alice', PASSWORD, { register: true });
      // logoutAll ends the caller's own session too; changePassword keeps it. Another user is untouched.
      const bystander = await signIn(b.url, 'bob', PASSWORD, { register: true });
      // Half the sessions expire 30 s from now, while access tokens issued now stay valid for 15 minutes.
      const ids = await insertSessions(a, caller.userId, SESSIONS, (i) => a.clock.now() + (i % 2 === 0 ? 30_000 : 7 * 24 * 3600_000));
      const expiring = ids.filter((_, i) => i % 2 === 0);
      const live = ids.filter((_, i) => i % 2 === 1);
      const sample = [...expiring.slice(0, 5), ...live.slice(0, 5)];
      const tokens = await Promise.all(sample.map(async (sessionId) => (await a.services.accessTokens.issue(caller.userId, sessionId)).token));
      for (const token of tokens) expect((await meOf(b, token)).data?.me.username).toBe('alice');
      const channel = openWsClient(b.wsUrl, { connectionParams: { authorization: `Bearer ${tokens[7]}` } });
      sockets.push(channel);
      await within(channel.connected, 5000, 'ack');

      advance(60_000, a, b); // the expiring half has expired; their access tokens have not
      published.length = 0;
      if (mutation === 'logoutAll') {
        const response = await caller.client.request(LogoutAllDocument);
        expect(response.errors).toBeUndefined();
        expect(response.data?.logoutAll).toBe(live.length + 1);
      } else {
        const response = await caller.client.request(ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: 'a different long passphrase' });
        expect(response.errors).toBeUndefined();
      }
      const keptSessionId = mutation === 'changePassword' ? caller.sessionId : undefined;

      // One message, the marker, however many sessions there were.
      expect(published).toHaveLength(1);
      expect(published[0]!.length).toBeLessThan(300);
      expect(JSON.parse(published[0]!)).toEqual({
        userId: caller.userId,
        revokedBefore: a.clock.now(),
        ...(keptSessionId ? { exceptSessionId: keptSessionId } : {}),
      });

      const rows = await a.handle.db.selectFrom('sessions').select(['id', 'revoked_at']).where('user_id', '=', caller.userId).execute();
      const revoked = new Set(rows.filter((row) => row.revoked_at !== null).map((row) => row.id));
      expect(revoked.size).toBe(live.length + (keptSessionId ? 0 : 1));
      expect(live.every((id) => revoked.has(id))).toBe(true);
      expect(expiring.some((id) => revoked.has(id))).toBe(false);

      const stillIn = keptSessionId ? [caller.accessToken, bystander.accessToken] : [bystander.accessToken];
      const refused = keptSessionId ? tokens : [...tokens, caller.accessToken];
      for (const gateway of [a, b]) {
        for (const token of refused) expect(errorReason(await meOf(gateway, token))).toBe('SESSION_REVOKED');
        for (const token of stillIn) expect((await meOf(gateway, token)).errors).toBeUndefined();
      }
      expect((await within(channel.closed, 2000, 'the revoked session’s channel closes on the other instance')).code).toBe(4401);

      // A restarted instance reads the marker back from the database.
      const c = await startTestGateway({ now: new Date(a.clock.now()), database: a.database });
      gateways.push(c);
      for (const token of refused) expect(errorReason(await meOf(c, token))).toBe('SESSION_REVOKED');
      for (const token of stillIn) expect((await meOf(c, token)).errors).toBeUndefined();
    },
    60_000,
  );

  it('keeps a session created in the same second as the marker: iat cannot tell, the session row does', async () => {
    const { a, b } = await twoInstances();
    const caller = await signIn(a.url, 'alice', PASSWORD, { register: true });
    const old = await signIn(a.url, 'alice', PASSWORD);
    advance(10_000, a, b);
    expect((await caller.client.request(LogoutAllDocument)).errors).toBeUndefined();
    // Same instant: the new token's iat (whole seconds) equals the marker's second.
    const login = await new GraphQLClient(b.url).request(LoginDocument, { input: { username: 'alice', password: PASSWORD, refreshTokenDelivery: 'BODY' } });
    const fresh = deviceOf(b.url, login.data!.login);
    for (const gateway of [a, b]) {
      expect((await meOf(gateway, fresh.accessToken)).data?.me.username).toBe('alice');
      expect(errorReason(await meOf(gateway, old.accessToken))).toBe('SESSION_REVOKED');
    }
  });
});
