import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MeDocument } from '../client/src/operations.js';
import { register, signIn } from './helpers/accounts.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { startTestGateway, type TestGateway } from './helpers/test-gateway.js';
import { until } from './helpers/until.js';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

let gateway: TestGateway;
beforeEach(async () => {
  gateway = await startTestGateway();
});
afterEach(() => gateway.close());

/** `npm run keys -- ...args` as an operator runs it: the real CLI in its own process, on the gateway's database. */
function keys(...args: string[]): Promise<CliResult> {
  return keysWith({}, ...args);
}

function keysWith(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], {
    cwd: projectRoot,
    // The gateway's environment as a deployment would share it: the same database and secret (the test default).
    env: { PATH: process.env.PATH, NODE_ENV: 'test', DATABASE_URL: gateway.database.url, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr.on('data', (chunk) => (stderr += String(chunk)));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function rows() {
  return gateway.handle.db.selectFrom('signing_keys').selectAll().orderBy('generation').execute();
}

function me(accessToken: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` }).request(MeDocument);
}

/** The gateway's clock at the CLI's (the wall clock), as a deployment's instances share one time. */
function catchUpWithTheWallClock(): void {
  gateway.clock.set(Date.now());
}

function kidOf(token: string): string {
  return decodeProtectedHeader(token).kid!;
}

/** Every security event a run of the CLI wrote to stderr. */
function securityEvents(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.log === 'security');
}

describe('npm run keys', () => {
  it('lists every key with its algorithm, state and dates, and no key material', async () => {
    const [key] = await rows();
    const { status, stdout, stderr } = await keys('list');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^KID\s+ALG\s+STATE\s+ACTIVATES\s+RETIRES\s+REMOVED$/);
    expect(lines[1]).toMatch(new RegExp(`^${key!.kid}\\s+ES256\\s+current\\s+${new Date(key!.activates_at).toISOString()}\\s+-\\s+-$`));
    expect(lines).toHaveLength(2);
    expect(stdout).not.toContain(key!.private_jwk_sealed);
    expect(stdout).not.toContain(JSON.parse(key!.public_jwk).x);
  });

  it('rotate makes a new key sign now; the old one keeps verifying its tokens', async () => {
    const alice = await register(gateway, 'alice');
    const [old] = await rows();
    const { status, stdout, stderr } = await keys('rotate');
    expect(status).toBe(0);
    const after = await rows();
    expect(after).toHaveLength(2);
    const fresh = after[1]!;
    expect(stdout).toContain(`rotated: ${fresh.kid} (ES256) signs from ${new Date(fresh.activates_at).toISOString()}, a new key`);
    expect(stdout).toContain(`retired: ${old!.kid} (ES256) stays published and accepted until`);
    expect(stdout).toMatch(new RegExp(`^${old!.kid}\\s+ES256\\s+retired\\s`, 'm'));
    expect(stdout).toMatch(new RegExp(`^${fresh.kid}\\s+ES256\\s+current\\s`, 'm'));
    expect(securityEvents(stderr).map(({ event, keyId, reason }) => [event, keyId, reason])).toEqual([
      ['key.created', fresh.kid, null],
      ['key.rotated', fresh.kid, 'MANUAL'],
    ]);

    // The running instance follows at its next read of the table.
    catchUpWithTheWallClock();
    await gateway.services.signingKeys.refresh();
    expect(kidOf((await signIn(gateway, 'alice')).accessToken)).toBe(fresh.kid);
    expect((await me(alice.accessToken)).data?.me.username).toBe('alice');
  });

  it('revoke stops publishing the key, has its tokens refused, and makes a new key sign at once', async () => {
    const alice = await register(gateway, 'alice');
    expect((await me(alice.accessToken)).data?.me.username).toBe('alice');
    const leaked = kidOf(alice.accessToken);
    const { status, stdout, stderr } = await keys('revoke', leaked);
    expect(status).toBe(0);
    const after = await rows();
    const replacement = after.find((row) => row.kid !== leaked)!;
    expect(after.find((row) => row.kid === leaked)!.revoked_at).not.toBeNull();
    expect(stdout).toContain(`revoked: ${leaked} (ES256)`);
    expect(stdout).toContain(`rotated: ${replacement.kid} (ES256) signs in its place`);
    expect(stdout).toContain('within REVOCATION_POLL_INTERVAL_MS (2000 ms)');
    expect(securityEvents(stderr).map(({ event, keyId }) => [event, keyId])).toEqual([
      ['key.revoked', leaked],
      ['key.created', replacement.kid],
      ['key.rotated', replacement.kid],
    ]);

    // The instance's periodic catch-up (every REVOCATION_POLL_INTERVAL_MS), by hand.
    catchUpWithTheWallClock();
    await gateway.services.revocations.catchUp();
    expect(errorReason(await me(alice.accessToken))).toBe('TOKEN_INVALID');
    const jwks = (await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toEqual([replacement.kid]);
    expect(kidOf((await signIn(gateway, 'alice')).accessToken)).toBe(replacement.kid);
  });

  const redisUrl = process.env.TEST_REDIS_URL;
  if (!redisUrl) console.warn('npm run keys -- revoke over Redis SKIPPED: set TEST_REDIS_URL to run it');
  it.skipIf(!redisUrl)('revoke tells the running instances over Redis, before their next catch-up', async () => {
    // With TEST_REDIS_URL the test gateway runs on Redis under a prefix of its own; its polling is left far behind.
    await gateway.close();
    gateway = await startTestGateway({ env: { REVOCATION_POLL_INTERVAL_MS: '300000' } });
    const channel = `${gateway.config.redisKeyPrefix}revocations`;
    const probe = new Redis(redisUrl!);
    try {
      await until(async () => ((await probe.pubsub('NUMSUB', channel)) as [string, number])[1] >= 1, 'the gateway to subscribe');
    } finally {
      probe.disconnect();
    }
    const alice = await register(gateway, 'alice');
    const leaked = kidOf(alice.accessToken);
    const { status } = await keysWith({ REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: gateway.config.redisKeyPrefix }, 'revoke', leaked);
    expect(status).toBe(0);
    await until(() => !gateway.services.signingKeys.accepts(leaked), 'the broadcast to reach the gateway');
    expect(errorReason(await me(alice.accessToken))).toBe('TOKEN_INVALID');
  });

  it.each([
    [['revoke'], 2, /^error: revoke needs exactly 1 argument \(the kid\)\nusage: npm run keys -- list \| rotate \| revoke <kid>\n$/],
    [['revoke', 'no-such-kid'], 1, /^error: signing keys: no key "no-such-kid" \(UNKNOWN_KEY\); nothing was changed\n$/],
    [['revoke', 'a', 'b'], 2, /^error: revoke needs exactly 1 argument/],
    [['rotate', 'now'], 2, /^error: rotate takes no arguments/],
    [['list', '--all'], 2, /^error: list takes no arguments/],
    [['frobnicate'], 2, /^error: unknown command "frobnicate"\nusage:/],
    [[], 2, /^error: no command given\nusage:/],
  ])('refuses %j with status %i and changes nothing', async (args, expectedStatus, message) => {
    const before = await rows();
    const { status, stdout, stderr } = await keys(...args);
    expect(status).toBe(expectedStatus);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
    expect(await rows()).toEqual(before);
  });

  it('refuses to revoke a key twice, changing nothing', async () => {
    const [key] = await rows();
    expect((await keys('revoke', key!.kid)).status).toBe(0);
    const before = await rows();
    const again = await keys('revoke', key!.kid);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('(ALREADY_REVOKED); nothing was changed');
    expect(await rows()).toEqual(before);
  });
});
