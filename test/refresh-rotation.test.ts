import { MeDocument, RefreshDocument, RegisterDocument } from '../client/src/operations.js';
import { hashToken } from '../src/auth/opaque-token.js';
import { describe, expect, PASSWORD, register, test } from './helpers/fixtures.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import type { TestGateway } from './helpers/test-gateway.js';

async function liveTokens(gateway: TestGateway, sessionId: string) {
  return gateway.handle.db.selectFrom('refresh_tokens').select(['token_hash']).where('session_id', '=', sessionId).where('used_at', 'is', null).execute();
}

describe('refresh token rotation', () => {
  test('kills the old token on use and, outside the grace window, revokes the session on reuse', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    const rotated = await client.request(RefreshDocument, { refreshToken: first.refreshToken });
    const second = rotated.data!.refresh.refreshToken!;
    expect(second).not.toBe(first.refreshToken);

    gateway.clock.advance(11_000); // past the 10 s grace window
    const reuse = await client.request(RefreshDocument, { refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(errorReason(reuse)).toBe('REFRESH_TOKEN_REUSED');

    // The whole family is dead: the legitimate successor no longer works either.
    const afterReuse = await client.request(RefreshDocument, { refreshToken: second });
    expect(errorReason(afterReuse)).toBe('SESSION_REVOKED');
    const session = await gateway.handle.db.selectFrom('sessions').selectAll().where('id', '=', first.session.id).executeTakeFirstOrThrow();
    expect(session.revoked_reason).toBe('REFRESH_TOKEN_REUSED');
  });

  test('lets 20 concurrent refreshes of one token succeed inside the grace window and leaves one live token', async ({ startGateway }) => {
    // 20 at once from one IP are over the credential rate limit (burst 10); raised, since this is about rotation.
    const gateway = await startGateway({ env: { RATE_LIMIT_CREDENTIALS_PER_SECOND: '100' } });
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    const results = await Promise.all(Array.from({ length: 20 }, () => client.request(RefreshDocument, { refreshToken: first.refreshToken })));
    for (const result of results) expect(result.errors).toBeUndefined();
    const handed = new Set(results.map((r) => r.data!.refresh.refreshToken));
    expect(handed.size).toBe(1);
    const live = await liveTokens(gateway, first.session.id);
    expect(live).toEqual([{ token_hash: hashToken([...handed][0]!) }]);

    // The chain goes on from the one live token.
    const next = await client.request(RefreshDocument, { refreshToken: [...handed][0] });
    expect(next.errors).toBeUndefined();
    expect(await liveTokens(gateway, first.session.id)).toHaveLength(1);
  });

  test('treats reuse as theft when the grace window is disabled', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { REFRESH_REUSE_GRACE_SECONDS: '0' } });
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    const second = (await client.request(RefreshDocument, { refreshToken: first.refreshToken })).data!.refresh.refreshToken!;
    const reuse = await client.request(RefreshDocument, { refreshToken: first.refreshToken });
    expect(reuse.status).toBe(401);
    expect(errorReason(reuse)).toBe('REFRESH_TOKEN_REUSED');
    expect(errorReason(await client.request(RefreshDocument, { refreshToken: second }))).toBe('SESSION_REVOKED');
  });

  test('rotates the cookie the same way: a replayed old cookie revokes the session and its access tokens', async ({ gateway }) => {
    const browser = new GraphQLClient(gateway.url);
    expect((await browser.request(RegisterDocument, { input: { username: 'cookie_rotator', password: PASSWORD } })).errors).toBeUndefined();
    const oldCookie = (await browser.cookie('refreshToken'))!;
    expect((await browser.request(RefreshDocument, {})).errors).toBeUndefined();
    expect(await browser.cookie('refreshToken')).not.toBe(oldCookie);
    expect((await browser.request(MeDocument)).errors).toBeUndefined();

    gateway.clock.advance(11_000);
    const replay = await browser.request(RefreshDocument, {}, { headers: { cookie: `refreshToken=${oldCookie}` }, withoutCookies: true });
    expect(replay.status).toBe(401);
    expect(errorReason(replay)).toBe('REFRESH_TOKEN_REUSED');
    expect(replay.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');

    // The legitimate browser's access cookie and refresh cookie are both dead now.
    expect(errorReason(await browser.request(MeDocument))).toBe('SESSION_REVOKED');
    const current = (await browser.cookie('refreshToken'))!;
    expect(errorReason(await browser.request(RefreshDocument, {}, { headers: { cookie: `refreshToken=${current}` }, withoutCookies: true }))).toBe(
      'SESSION_REVOKED',
    );
  });

  test('never opens a sealed successor past the grace window, and the retention purge erases it', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    const second = (await client.request(RefreshDocument, { refreshToken: first.refreshToken })).data!.refresh.refreshToken!;
    gateway.clock.advance(11_000);
    expect((await client.request(RefreshDocument, { refreshToken: second })).errors).toBeUndefined();
    const sealed = () =>
      gateway.handle.db
        .selectFrom('refresh_tokens')
        .select('token_hash')
        .where('session_id', '=', first.session.id)
        .where('successor_sealed', 'is not', null)
        .orderBy('token_hash')
        .execute();
    // A rotation erases nothing: the first token still holds its stale successor...
    expect((await sealed()).map((row) => row.token_hash).sort()).toEqual([hashToken(first.refreshToken!), hashToken(second)].sort());
    // ...which is never used: past the grace window, presenting the first token again is reuse.
    expect(errorReason(await client.request(RefreshDocument, { refreshToken: first.refreshToken }))).toBe('REFRESH_TOKEN_REUSED');
    // The purge erases it; only the token rotated just now keeps its successor, for this grace window.
    expect((await gateway.services.retention.purge()).purged.sealedSuccessors).toBe(1);
    expect(await sealed()).toEqual([{ token_hash: hashToken(second) }]);
  });

  test('slides the refresh lifetime but never past the absolute session lifetime', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { REFRESH_TOKEN_TTL_SECONDS: '3600', SESSION_MAX_LIFETIME_SECONDS: '5400' } });
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    const start = Date.parse(first.refreshTokenExpiresAt) - 3600_000;

    gateway.clock.advance(3000_000); // 50 min: still inside the first token's hour
    const second = (await client.request(RefreshDocument, { refreshToken: first.refreshToken })).data!.refresh;
    expect(Date.parse(second.refreshTokenExpiresAt)).toBe(start + 5400_000); // capped by the absolute lifetime

    gateway.clock.advance(2400_000 + 1); // past the absolute lifetime
    const expired = await client.request(RefreshDocument, { refreshToken: second.refreshToken });
    expect(errorReason(expired)).toBe('TOKEN_EXPIRED');
  });

  test('refuses an idle token after its sliding lifetime', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { REFRESH_TOKEN_TTL_SECONDS: '3600' } });
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    gateway.clock.advance(3600_000);
    expect(errorReason(await client.request(RefreshDocument, { refreshToken: first.refreshToken }))).toBe('TOKEN_EXPIRED');
  });

  test('keeps the same token when rotation is turned off, extending its life', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { REFRESH_TOKEN_ROTATION: 'false', REFRESH_TOKEN_TTL_SECONDS: '3600' } });
    const client = new GraphQLClient(gateway.url);
    const first = await register(gateway, 'rotator');
    gateway.clock.advance(1800_000);
    const again = (await client.request(RefreshDocument, { refreshToken: first.refreshToken })).data!.refresh;
    expect(again.refreshToken).toBe(first.refreshToken);
    expect(Date.parse(again.refreshTokenExpiresAt)).toBeGreaterThan(Date.parse(first.refreshTokenExpiresAt));
    expect((await client.request(RefreshDocument, { refreshToken: first.refreshToken })).errors).toBeUndefined();
  });

  test('refuses unknown and empty refresh tokens', async ({ gateway }) => {
    const client = new GraphQLClient(gateway.url);
    expect(errorReason(await client.request(RefreshDocument, { refreshToken: 'not-a-token' }))).toBe('TOKEN_INVALID');
    expect(errorReason(await client.request(RefreshDocument, { refreshToken: '' }))).toBe('TOKEN_MISSING');
  });
});
