import type { IncomingMessage } from 'node:http';
import { RefreshDocument } from '../client/src/operations.js';
import { DEFAULT_RATE_LIMITS, loadConfig } from '../src/config.js';
import { createClientAddressResolver } from '../src/http/client-address.js';
import { canonicalAddress, clientNetwork } from '../src/http/ip-address.js';
import { describe, expect, register, test } from './helpers/fixtures.js';
import { errorCode, errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { configError } from './helpers/config-error.js';
import type { TestGateway } from './helpers/test-gateway.js';

function request(remoteAddress: string, forwardedFor?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } } as unknown as IncomingMessage;
}

describe('client address', () => {
  test.each([
    // [trusted proxies, socket peer, X-Forwarded-For, client]
    [[], '203.0.113.5', undefined, '203.0.113.5'],
    [[], '::ffff:203.0.113.5', undefined, '203.0.113.5'],
    [[], '203.0.113.5', '198.51.100.1', '203.0.113.5'],
    [['127.0.0.1'], '127.0.0.1', undefined, '127.0.0.1'],
    [['127.0.0.1'], '127.0.0.1', '198.51.100.1', '198.51.100.1'],
    [['127.0.0.1/32'], '::ffff:127.0.0.1', '198.51.100.1', '198.51.100.1'],
    [['127.0.0.1/32'], '127.0.0.1', 'forged, 192.0.2.9, 198.51.100.1', '198.51.100.1'],
    [['127.0.0.1/32', '10.0.0.0/8'], '127.0.0.1', '192.0.2.9, 198.51.100.1, 10.1.2.3', '198.51.100.1'],
    [['127.0.0.1/32', '10.0.0.0/8'], '127.0.0.1', '10.9.9.9, 10.1.2.3', '10.9.9.9'],
    [['10.0.0.0/8'], '127.0.0.1', '198.51.100.1', '127.0.0.1'],
    [['127.0.0.1/32'], '203.0.113.5', '198.51.100.1', '203.0.113.5'],
    [['127.0.0.1/32'], '127.0.0.1', '198.51.100.1:51234', '198.51.100.1'],
    [['127.0.0.1/32'], '127.0.0.1', '[2001:db8::1]:443', '2001:db8::1'],
    [['127.0.0.1/32'], '127.0.0.1', '2001:db8::1', '2001:db8::1'],
    [['::1/128'], '::1', '2001:db8::2', '2001:db8::2'],
    [['fd00::/8'], 'fd12::1', '198.51.100.1, fd00::7', '198.51.100.1'],
    // A value no proxy would write stops the walk at the proxy that passed it on.
    [['127.0.0.1/32'], '127.0.0.1', 'not-an-address', '127.0.0.1'],
    [['127.0.0.1/32', '10.0.0.0/8'], '127.0.0.1', 'not-an-address, 10.1.2.3', '10.1.2.3'],
    // One spelling per address, whoever wrote it.
    [['127.0.0.1/32'], '127.0.0.1', '::ffff:cb00:7107', '203.0.113.7'],
    [['127.0.0.1/32'], '127.0.0.1', '[::FFFF:203.0.113.7]:443', '203.0.113.7'],
    [['127.0.0.1/32'], '127.0.0.1', '2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    [[], 'fe80::1%eth0', undefined, 'fe80::1'],
    // IPv4 proxies match their IPv4-mapped form, and the other way round.
    [['10.0.0.0/8'], '::ffff:10.1.2.3', '198.51.100.1', '198.51.100.1'],
    [['::ffff:10.0.0.0/104'], '10.1.2.3', '198.51.100.1', '198.51.100.1'],
    [['::ffff:10.0.0.0/104'], '11.1.2.3', '198.51.100.1', '11.1.2.3'],
  ])('with trusted %j, peer %s and X-Forwarded-For %j, the client is %s', (trusted, peer, forwardedFor, client) => {
    expect(createClientAddressResolver(trusted)(request(peer, forwardedFor))).toBe(client);
  });

  test('reads repeated X-Forwarded-For headers as one list', () => {
    const resolve = createClientAddressResolver(['127.0.0.1/32']);
    const repeated = { socket: { remoteAddress: '127.0.0.1' }, headers: { 'x-forwarded-for': ['192.0.2.9', '198.51.100.1'] } } as unknown as IncomingMessage;
    expect(resolve(repeated)).toBe('198.51.100.1');
  });
});

describe('client network (the key of the per-IP limits)', () => {
  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:db8:0:0:1::', '2001:db8::/64'],
    ['::1', '::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
  ])('counts %s as %s', (address, network) => {
    expect(clientNetwork(address)).toBe(network);
  });

  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['0:0:0:0:0:ffff:cb00:7107', '203.0.113.7'],
    ['2001:DB8::A', '2001:db8::a'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['64:ff9b::203.0.113.7', '64:ff9b::cb00:7107'],
    ['not-an-address', undefined],
    ['203.0.113.07', undefined],
  ])('writes %s as %s', (address, canonical) => {
    expect(canonicalAddress(address)).toBe(canonical);
  });
});

describe('TRUSTED_PROXIES and ALLOWED_ORIGINS validation', () => {
  test('accepts CIDRs and single addresses of both families', () => {
    const config = loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1, ::1, fd00::/8, 192.168.1.0/24' });
    expect(config.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', '192.168.1.0/24']);
  });

  test.each(['localhost', '10.0.0.0/33', '::/129', '10.0.0.0/8/8', '10.0.0/8', '10.0.0.0/x', '*'])('refuses TRUSTED_PROXIES=%s', (value) => {
    const error = configError({ TRUSTED_PROXIES: value });
    expect(error.variable).toBe('TRUSTED_PROXIES');
    expect(error.message).toContain('TRUSTED_PROXIES');
  });

  test.each(['*', 'https://app.example/', 'app.example', 'https://app.example/path'])('refuses ALLOWED_ORIGINS=%s', (value) => {
    expect(configError({ ALLOWED_ORIGINS: value }).variable).toBe('ALLOWED_ORIGINS');
  });

  test('reads the rate limits with their defaults', () => {
    expect(loadConfig({}).rateLimits).toEqual({
      credentialsPerSecond: 5,
      credentialsBurst: 10,
      registrationsPerHour: 20,
      failedLoginsPerAccount: 5,
      failedLoginWindowSeconds: 900,
      usernameChangesPerHour: 5,
      failedTokensPerMinute: 30,
      emailCodeRequestsPerHour: 2,
      emailCodeAttempts: 5,
      emailCodeAttemptWindowSeconds: 900,
    });
    expect(loadConfig({}).rateLimits).toEqual(DEFAULT_RATE_LIMITS);
    expect(loadConfig({ RATE_LIMIT_CREDENTIALS_PER_SECOND: '50' }).rateLimits.credentialsBurst).toBe(50);
    expect(configError({ RATE_LIMIT_CREDENTIALS_PER_SECOND: '5', RATE_LIMIT_CREDENTIALS_BURST: '4' }).variable).toBe('RATE_LIMIT_CREDENTIALS_BURST');
    expect(configError({ RATE_LIMIT_FAILED_LOGINS: '0' }).variable).toBe('RATE_LIMIT_FAILED_LOGINS');
  });
});

describe('X-Forwarded-For over HTTP', () => {
  // The per-IP token bucket runs on the gateway's manual clock, which stands still here.

  async function registeredIp(gateway: TestGateway, username: string, forwardedFor: string): Promise<string | null | undefined> {
    const { session } = await register(gateway, username, { from: forwardedFor });
    const row = await gateway.handle.db.selectFrom('sessions').select('ip').where('id', '=', session.id).executeTakeFirstOrThrow();
    expect(row.ip).toBe(session.ip);
    return row.ip;
  }

  const refreshFrom = (client: GraphQLClient, ip: string) =>
    client.request(RefreshDocument, { refreshToken: 'not-a-real-refresh-token' }, { headers: { 'x-forwarded-for': ip } });

  test('from a trusted proxy, records and limits the forwarded client', async ({ startGateway }) => {
    const gateway = await startGateway({ env: { TRUSTED_PROXIES: '127.0.0.1/32' } });
    const client = new GraphQLClient(gateway.url);
    expect(await registeredIp(gateway, 'alice', '203.0.113.7')).toBe('203.0.113.7');
    expect(await registeredIp(gateway, 'bob', 'spoofed-by-client, 192.0.2.1, 203.0.113.8')).toBe('203.0.113.8');

    // 203.0.113.7 has used one token (its registration): nine more, then 429.
    for (let i = 0; i < 9; i++) expect(errorReason(await refreshFrom(client, '203.0.113.7'))).toBe('TOKEN_INVALID');
    const limited = await refreshFrom(client, '203.0.113.7');
    expect(limited.status).toBe(429);
    expect(errorCode(limited)).toBe('RATE_LIMITED');
    // Another client behind the same proxy is counted apart.
    expect(errorReason(await refreshFrom(client, '203.0.113.9'))).toBe('TOKEN_INVALID');
  });

  test('from an untrusted peer, ignores the header: a spoofed one changes nothing', async ({ startGateway }) => {
    let previous: TestGateway | undefined;
    for (const env of [{}, { TRUSTED_PROXIES: '10.0.0.0/8' }] as Record<string, string>[]) {
      // One gateway at a time (on PostgreSQL, kysely's migrator is confused by another test schema's tables).
      await previous?.close();
      const gateway = await startGateway({ env });
      previous = gateway;
      const client = new GraphQLClient(gateway.url);
      expect(await registeredIp(gateway, 'alice', '203.0.113.7')).toBe('127.0.0.1');
      // Rotating the header does not spread the attempts over several keys.
      for (let i = 0; i < 9; i++) expect(errorReason(await refreshFrom(client, `203.0.113.${100 + i}`))).toBe('TOKEN_INVALID');
      const limited = await refreshFrom(client, '203.0.113.200');
      expect(limited.status).toBe(429);
      expect(errorCode(limited)).toBe('RATE_LIMITED');
    }
  });
});
