import { hashToken } from '../src/auth/opaque-token.js';
import { RefreshDocument } from '../client/src/operations.js';
import { MAX_GRACE_REPLAYS } from '../src/sessions/session-store.js';
import { describe, expect, register, test } from './helpers/fixtures.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import type { TestGateway } from './helpers/test-gateway.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36';

// X-Forwarded-For from the test is believed, so that a request can come from any address.
test.override({ gatewayOptions: { env: { TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_CREDENTIALS_PER_SECOND: '1000' } } });

/** Where the clients of these tests are, unless a test names another address. */
const HOME = '203.0.113.7';

/** A client with a user agent and an address of its own. */
function client(gateway: TestGateway, userAgent: string, ip = HOME): GraphQLClient {
  return new GraphQLClient(gateway.url, { 'user-agent': userAgent, 'x-forwarded-for': ip });
}

async function rotate(from: GraphQLClient, refreshToken: string): Promise<string> {
  const response = await from.request(RefreshDocument, { refreshToken });
  expect(response.errors).toBeUndefined();
  return response.data!.refresh.refreshToken!;
}

async function replayCount(gateway: TestGateway, refreshToken: string): Promise<number> {
  const row = await gateway.handle.db
    .selectFrom('refresh_tokens')
    .select('replay_count')
    .where('token_hash', '=', hashToken(refreshToken))
    .executeTakeFirstOrThrow();
  return Number(row.replay_count);
}

async function revokedReason(gateway: TestGateway, sessionId: string): Promise<string | null> {
  const row = await gateway.handle.db.selectFrom('sessions').select('revoked_reason').where('id', '=', sessionId).executeTakeFirstOrThrow();
  return row.revoked_reason;
}

describe('the refresh grace window', () => {
  test('gives the client that rotated a token its live successor again, counting each replay', async ({ gateway }) => {
    const browser = client(gateway, FIREFOX);
    const first = await register(gateway, 'bound', { userAgent: FIREFOX, from: HOME });
    const second = await rotate(browser, first.refreshToken);
    gateway.clock.advance(5_000);
    expect(await rotate(browser, first.refreshToken)).toBe(second);
    // Another address of the same family: still the same client (see the README's trade-off).
    expect(await rotate(client(gateway, FIREFOX, '198.51.100.20'), first.refreshToken)).toBe(second);
    expect(await replayCount(gateway, first.refreshToken)).toBe(2);
    expect(await replayCount(gateway, second)).toBe(0);
    expect(await revokedReason(gateway, first.session.id)).toBeNull();
  });

  test.for<[string, (gateway: TestGateway) => GraphQLClient]>([
    ['another user agent', (gateway) => client(gateway, CHROME)],
    ['an address of the other IP family', (gateway) => client(gateway, FIREFOX, '2001:db8::7')],
  ])('treats a replay from %s as reuse: the session is revoked', async ([, other], { gateway }) => {
    const browser = client(gateway, FIREFOX);
    const first = await register(gateway, 'bound', { userAgent: FIREFOX, from: HOME });
    const second = await rotate(browser, first.refreshToken);
    const replay = await other(gateway).request(RefreshDocument, { refreshToken: first.refreshToken });
    expect(replay.status).toBe(401);
    expect(errorReason(replay)).toBe('REFRESH_TOKEN_REUSED');
    expect(await revokedReason(gateway, first.session.id)).toBe('REFRESH_TOKEN_REUSED');
    expect(errorReason(await browser.request(RefreshDocument, { refreshToken: second }))).toBe('SESSION_REVOKED');
  });

  test('serves only the rotating client: a thief who refreshes first is found out when the owner refreshes', async ({ gateway }) => {
    const owner = client(gateway, FIREFOX);
    const thief = client(gateway, CHROME, '192.0.2.66');
    const first = await register(gateway, 'bound', { userAgent: FIREFOX, from: HOME });
    const thiefs = await rotate(thief, first.refreshToken);
    gateway.clock.advance(1_000);
    const owners = await owner.request(RefreshDocument, { refreshToken: first.refreshToken });
    expect(errorReason(owners)).toBe('REFRESH_TOKEN_REUSED');
    expect(errorReason(await thief.request(RefreshDocument, { refreshToken: thiefs }))).toBe('SESSION_REVOKED');
  });

  test(`allows ${MAX_GRACE_REPLAYS} replays of one rotated token; the next is reuse`, async ({ gateway }) => {
    const browser = client(gateway, FIREFOX);
    const first = await register(gateway, 'bound', { userAgent: FIREFOX, from: HOME });
    const second = await rotate(browser, first.refreshToken);
    for (let i = 0; i < MAX_GRACE_REPLAYS; i++) expect(await rotate(browser, first.refreshToken)).toBe(second);
    expect(await replayCount(gateway, first.refreshToken)).toBe(MAX_GRACE_REPLAYS);
    const over = await browser.request(RefreshDocument, { refreshToken: first.refreshToken });
    expect(errorReason(over)).toBe('REFRESH_TOKEN_REUSED');
    expect(await revokedReason(gateway, first.session.id)).toBe('REFRESH_TOKEN_REUSED');
  });

  test('leaves the window: after it, even the rotating client’s replay is reuse', async ({ gateway }) => {
    const browser = client(gateway, FIREFOX);
    const first = await register(gateway, 'bound', { userAgent: FIREFOX, from: HOME });
    await rotate(browser, first.refreshToken);
    gateway.clock.advance(10_001);
    expect(errorReason(await browser.request(RefreshDocument, { refreshToken: first.refreshToken }))).toBe('REFRESH_TOKEN_REUSED');
  });
});
