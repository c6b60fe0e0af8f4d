import { randomUUID } from 'node:crypto';
import { ChangePasswordDocument, LogoutAllDocument, MeDocument } from '../client/src/operations.js';
import { InProcessRevocationHub } from '../src/revocation/in-process-revocation-hub.js';
import type { RevocationChannel } from '../src/revocation/revocation-channel.js';
import { describe, expect, type GatewayFixtures, PASSWORD, register, signIn, test } from './helpers/fixtures.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { within } from './helpers/realtime-clients.js';
import type { TestGateway } from './helpers/test-gateway.js';

// Issue 11, item 18: logoutAll and changePassword revoke per user (one marker), not per session.

const START = new Date('2030-01-01T00:00:00Z');
const SESSIONS = 2_000;

/** Two instances on one database, revocations between them through an in-process hub whose messages are kept. */
async function twoInstances(startGateway: GatewayFixtures['startGateway']) {
  const hub = new InProcessRevocationHub();
  const published: string[] = [];
  const capturing = (channel: RevocationChannel): RevocationChannel => ({
    ...channel,
    publish: (revocation) => {
      published.push(JSON.stringify(revocation));
      return channel.publish(revocation);
    },
  });
  const a = await startGateway({ now: START, revocationChannel: capturing(hub.connect()) });
  const b = await startGateway({ now: START, database: a.database, revocationChannel: capturing(hub.connect()) });
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
  test.for(['logoutAll', 'changePassword'] as const)(
    '%s sends one small message, writes only the unexpired sessions, and refuses every old access token on both instances',
    { timeout: 60_000 },
    async (mutation, { startGateway, realtime }) => {
      const { a, b, published } = await twoInstances(startGateway);
      const caller = await register(a, 'alice');
      // logoutAll ends the caller's own session too; changePassword keeps it. Another user is untouched.
      const bystander = await register(b, 'bob');
      // Half the sessions expire 30 s from now, while access tokens issued now stay valid for 15 minutes.
      const ids = await insertSessions(a, caller.user.id, SESSIONS, (i) => a.clock.now() + (i % 2 === 0 ? 30_000 : 7 * 24 * 3600_000));
      const expiring = ids.filter((_, i) => i % 2 === 0);
      const live = ids.filter((_, i) => i % 2 === 1);
      const sample = [...expiring.slice(0, 5), ...live.slice(0, 5)];
      const tokens = await Promise.all(sample.map(async (sessionId) => (await a.services.accessTokens.issue(caller.user.id, sessionId)).token));
      for (const token of tokens) expect((await meOf(b, token)).data?.me.username).toBe('alice');
      const channel = realtime.ws(b.wsUrl, { connectionParams: { authorization: `Bearer ${tokens[7]}` } });
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
      const keptSessionId = mutation === 'changePassword' ? caller.session.id : undefined;

      // One message, the marker, however many sessions there were.
      expect(published).toHaveLength(1);
      expect(published[0]!.length).toBeLessThan(300);
      expect(JSON.parse(published[0]!)).toEqual({
        userId: caller.user.id,
        revokedBefore: a.clock.now(),
        ...(keptSessionId ? { exceptSessionId: keptSessionId } : {}),
      });

      const rows = await a.handle.db.selectFrom('sessions').select(['id', 'revoked_at']).where('user_id', '=', caller.user.id).execute();
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
      const c = await startGateway({ now: new Date(a.clock.now()), database: a.database });
      for (const token of refused) expect(errorReason(await meOf(c, token))).toBe('SESSION_REVOKED');
      for (const token of stillIn) expect((await meOf(c, token)).errors).toBeUndefined();
    },
  );

  test('keeps a session created in the same second as the marker: iat cannot tell, the session row does', async ({ startGateway }) => {
    const { a, b } = await twoInstances(startGateway);
    const caller = await register(a, 'alice');
    const old = await signIn(a, 'alice');
    advance(10_000, a, b);
    expect((await caller.client.request(LogoutAllDocument)).errors).toBeUndefined();
    // Same instant: the new token's iat (whole seconds) equals the marker's second.
    const fresh = await signIn(b, 'alice');
    for (const gateway of [a, b]) {
      expect((await meOf(gateway, fresh.accessToken)).data?.me.username).toBe('alice');
      expect(errorReason(await meOf(gateway, old.accessToken))).toBe('SESSION_REVOKED');
    }
  });
});
