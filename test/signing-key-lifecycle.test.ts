import { Redis } from 'ioredis';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { type Kysely, Migrator, PostgresAdapter, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { MeDocument } from '../client/src/operations.js';
import { migrations } from '../db/migrations/index.js';
import { type ScheduledSigningKey, scheduleSigningKeys, type SigningKeyRecord, type SigningKeyState } from '../src/auth/signing-key-schedule.js';
import { ACTIVATION_BACKDATE_MS, signingKeyStore } from '../src/auth/signing-key-store.js';
import { SigningKeys } from '../src/auth/signing-keys.js';
import { ManualClock } from '../src/clock.js';
import { loadConfig } from '../src/config.js';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { InProcessRevocationHub } from '../src/revocation/in-process-revocation-hub.js';
import type { SecurityEventInput } from '../src/security-events/security-event.js';
import { register, signIn } from './helpers/accounts.js';
import { errorReason, GraphQLClient } from './helpers/graphql-client.js';
import { createTestDatabase, type TestDatabase } from './helpers/test-database.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './helpers/test-gateway.js';
import { until } from './helpers/until.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = new Date('2030-01-01T00:00:00Z').getTime();
/** 15-minute access tokens: a retired key stays one token lifetime and the hour of margin. */
const RETENTION = 15 * MINUTE + HOUR;

const gateways: TestGateway[] = [];
const databases: TestDatabase[] = [];
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close({ keepDatabase: true });
  for (const database of databases.splice(0)) await database.drop();
});

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  databases.push(database);
  return database;
}

/** A gateway on a database the test owns (so that several instances share it), at START unless told. */
async function start(database: TestDatabase, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const gateway = await startTestGateway({ now: new Date(START), ...options, database });
  gateways.push(gateway);
  return gateway;
}

/** Sets every instance's clock to the same time. */
function at(time: number, ...instances: TestGateway[]): void {
  for (const instance of instances) instance.clock.set(time);
}

async function publishedKids(gateway: TestGateway): Promise<string[]> {
  const jwks = (await (await fetch(`${gateway.origin}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  return jwks.keys.map((key) => key.kid);
}

function me(gateway: TestGateway, accessToken: string) {
  return new GraphQLClient(gateway.url, { authorization: `Bearer ${accessToken}` }).request(MeDocument);
}

function kidOf(token: string): string {
  return decodeProtectedHeader(token).kid!;
}

async function keyRows(gateway: TestGateway) {
  return gateway.handle.db.selectFrom('signing_keys').select(['kid', 'generation', 'algorithm', 'activates_at', 'revoked_at']).orderBy('generation').execute();
}

describe('the schedule', () => {
  const key = (kid: string, generation: number, activatesAt: number, extra: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
    kid,
    generation,
    algorithm: 'ES256',
    publicJwk: {},
    privateJwkSealed: '',
    createdAt: activatesAt,
    activatesAt,
    expiresAt: null,
    revokedAt: null,
    ...extra,
  });
  // k1 from 0, k2 published at 89 days and signing from 90, k3 withdrawn before it signed,
  // k4 revoked, legacy set aside by the migration with a removal time of its own.
  const records = [key('k1', 1, 0), key('k2', 2, 90 * DAY), key('k3', 3, 95 * DAY, { expiresAt: 91 * DAY }), key('k4', 4, 80 * DAY, { revokedAt: 85 * DAY })];
  const cases: [string, number, Record<string, SigningKeyState>][] = [
    // A revoked key is refused whatever the time: no clock reading brings it back.
    ['at the start', 0, { k1: 'current', k2: 'next', k3: 'next', k4: 'revoked' }],
    ['a day before the next key is due', 88 * DAY, { k1: 'current', k2: 'next', k3: 'next', k4: 'revoked' }],
    ['a millisecond before the next key signs', 90 * DAY - 1, { k1: 'current', k2: 'next', k4: 'revoked' }],
    ['when it signs', 90 * DAY, { k1: 'retired', k2: 'current', k3: 'next' }],
    ['when the withdrawn key would have', 95 * DAY, { k1: 'removed', k2: 'current', k3: 'removed' }],
    ['a millisecond before the retired key goes', 90 * DAY + RETENTION - 1, { k1: 'retired' }],
    ['when it goes', 90 * DAY + RETENTION, { k1: 'removed' }],
  ];
  it.each(cases)('%s', (_label, now, expected) => {
    const states = Object.fromEntries(scheduleSigningKeys(records, now, RETENTION).map((scheduled) => [scheduled.kid, scheduled.state]));
    expect(states).toMatchObject(expected);
    // One key signs at any moment, always one of the succession.
    expect(Object.values(states).filter((state) => state === 'current')).toHaveLength(1);
  });

  it('orders by activation, then generation, and retires each key when its successor activates', () => {
    const scheduled = scheduleSigningKeys([key('b', 2, 10), key('a', 1, 10), key('c', 3, 5)], 20, RETENTION);
    expect(scheduled.map((k) => [k.kid, k.state, k.retiresAt, k.removedAt])).toEqual([
      ['c', 'retired', 10, 10 + RETENTION],
      ['a', 'retired', 10, 10 + RETENTION],
      ['b', 'current', null, null],
    ]);
  });
});

describe('rotation on schedule', () => {
  it('publishes the next key a day before it signs, switches every instance at once, and keeps the old key until its last token expired', async () => {
    const database = await freshDatabase();
    const a = await start(database);
    const b = await start(database);
    await register(a, 'rotor');
    const [k1] = await publishedKids(a);
    expect(await publishedKids(b)).toEqual([k1]);
    // What each instance's timer does every SIGNING_KEY_REFRESH_INTERVAL_MS, by hand.
    const refreshBoth = () => Promise.all([a.services.signingKeys.refresh(), b.services.signingKeys.refresh()]);

    // Dated a minute back, for instances whose clocks run behind.
    const firstActivation = START - ACTIVATION_BACKDATE_MS;
    expect((await keyRows(a)).map((row) => row.activates_at)).toEqual([firstActivation]);
    // The current key is due 90 days less the 24 h of publish-ahead after it activated.
    const due = firstActivation + 89 * DAY;
    at(due - MINUTE, a, b);
    await refreshBoth();
    expect(await publishedKids(a)).toEqual([k1]);
    at(due, a, b);
    await refreshBoth();
    const published = await publishedKids(a);
    expect(published).toHaveLength(2);
    const k2 = published[1]!;
    expect(published[0]).toBe(k1);
    expect(await publishedKids(b)).toEqual(published);
    // Both instances found it due; one next key was made.
    expect((await keyRows(a)).map((row) => [row.kid, row.activates_at])).toEqual([
      [k1, firstActivation],
      [k2, due + DAY],
    ]);

    // Published for the whole publish-ahead time before it signs: until then the old key signs everywhere.
    const activation = due + DAY;
    at(activation - 1, a, b);
    const old = await signIn(a, 'rotor');
    expect(kidOf(old.accessToken)).toBe(k1);
    expect(kidOf((await signIn(b, 'rotor')).accessToken)).toBe(k1);
    expect(await publishedKids(b)).toEqual([k1, k2]);

    // At its activation every instance signs with it, by the clock alone: no read in between.
    at(activation, a, b);
    for (const instance of [a, b]) expect(kidOf((await signIn(instance, 'rotor')).accessToken)).toBe(k2);
    for (const instance of [a, b]) expect((await me(instance, old.accessToken)).data?.me.username).toBe('rotor');

    // The old key's last token works until it expires (5 s of clock tolerance), on every instance.
    const expiry = decodeJwt(old.accessToken).exp! * 1000;
    at(expiry + 4_000, a, b);
    for (const instance of [a, b]) expect((await me(instance, old.accessToken)).data?.me.username).toBe('rotor');
    at(expiry + 5_000, a, b);
    for (const instance of [a, b]) expect(errorReason(await me(instance, old.accessToken))).toBe('TOKEN_EXPIRED');

    // The old key leaves the JWKS only one token lifetime and an hour after it stopped signing.
    expect(RETENTION).toBeGreaterThanOrEqual(HOUR);
    at(activation + RETENTION - 1, a, b);
    for (const instance of [a, b]) expect(await publishedKids(instance)).toEqual([k1, k2]);
    at(activation + RETENTION, a, b);
    for (const instance of [a, b]) expect(await publishedKids(instance)).toEqual([k2]);
    const rotated = a.logs.join('').includes('"event":"key.rotated"') ? a : b;
    expect(rotated.logs.join('')).toMatch(new RegExp(`"event":"key.rotated".*"keyId":"${k2}".*"reason":"SCHEDULED"`));
  });

  it('creates one key for two instances starting together on an empty database, every time, their clocks a little apart', async () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    for (let round = 0; round < 20; round++) {
      const database = await createTestDatabase();
      const handles = [connectDatabase(database.url), connectDatabase(database.url)];
      try {
        await migrateToLatest(handles[0]!.db);
        // Either instance may win the race; its key must sign for the other too, whose clock is behind half of the time.
        const clocks = [new ManualClock(START), new ManualClock(START + (round % 2 === 0 ? 5_000 : -5_000))];
        const events: SecurityEventInput[] = [];
        const recorder = { record: (event: SecurityEventInput) => void events.push(event) };
        const [a, b] = await Promise.all(
          handles.map((handle, i) => SigningKeys.open({ store: signingKeyStore(config, handle.db, clocks[i]!, recorder), clock: clocks[i]! })),
        );
        expect(JSON.parse(a!.jwksJson).keys).toHaveLength(1);
        expect(b!.jwksJson).toBe(a!.jwksJson);
        expect(b!.current.kid).toBe(a!.current.kid);
        expect(await handles[1]!.db.selectFrom('signing_keys').select('kid').execute()).toEqual([{ kid: a!.current.kid }]);
        expect(events.map((event) => event.event)).toEqual(['key.created']);
      } finally {
        for (const handle of handles) await handle.close();
        await database.drop();
      }
    }
  });
});

describe('transitions', () => {
  const handles: DatabaseHandle[] = [];
  afterEach(async () => {
    for (const handle of handles.splice(0)) await handle.close();
  });

  /** The table's store on a fresh migrated database, at START, with JWT_ALGORITHM as given. */
  async function storeOn(algorithm: 'EdDSA' | 'ES256', shared?: DatabaseHandle) {
    let handle = shared;
    if (!handle) {
      handle = connectDatabase((await freshDatabase()).url);
      handles.push(handle);
      await migrateToLatest(handle.db);
    }
    const clock = new ManualClock(START);
    return { handle, clock, store: signingKeyStore(loadConfig({ NODE_ENV: 'test', JWT_ALGORITHM: algorithm }), handle.db, clock) };
  }
  const states = (keys: readonly ScheduledSigningKey[]) => keys.map((key) => [key.kid, key.algorithm, key.state]);

  it('rotate brings the published next key forward instead of making another', async () => {
    const { clock, store } = await storeOn('ES256');
    const [k1] = await store.maintain();
    clock.set(START + 89 * DAY);
    const [, k2] = await store.maintain();
    expect(k2!.state).toBe('next');
    const rotation = await store.rotate();
    expect(rotation).toMatchObject({ created: false, previous: { kid: k1!.kid, state: 'retired' }, current: { kid: k2!.kid, state: 'current' } });
    expect(states(await store.list())).toEqual([
      [k1!.kid, 'ES256', 'retired'],
      [k2!.kid, 'ES256', 'current'],
    ]);
  });

  it('revoking the next key leaves the current one signing; a new next key follows', async () => {
    const { clock, store } = await storeOn('ES256');
    const [k1] = await store.maintain();
    clock.set(START + 89 * DAY);
    const [, k2] = await store.maintain();
    const revocation = await store.revoke(k2!.kid);
    expect(revocation.replacement).toBeUndefined();
    expect(states(await store.list())).toEqual([
      [k1!.kid, 'ES256', 'current'],
      [k2!.kid, 'ES256', 'revoked'],
    ]);
    const [, , k3] = await store.maintain();
    expect(k3).toMatchObject({ state: 'next', activatesAt: START + 90 * DAY });
  });

  it('an algorithm change makes a key of the new algorithm current and withdraws a next key of the old one', async () => {
    const eddsa = await storeOn('EdDSA');
    const [k1] = await eddsa.store.maintain();
    eddsa.clock.set(START + 89 * DAY);
    const [, k2] = await eddsa.store.maintain();
    const es256 = await storeOn('ES256', eddsa.handle);
    es256.clock.set(START + 89 * DAY);
    // A running instance leaves the algorithm alone; a starting one switches.
    expect(states(await es256.store.maintain())).toEqual(states(await eddsa.store.list()));
    const keys = await es256.store.maintain({ switchAlgorithm: true });
    const k3 = keys.find((key) => key.algorithm === 'ES256')!;
    expect(states(keys)).toEqual([
      [k1!.kid, 'EdDSA', 'retired'],
      [k3.kid, 'ES256', 'current'],
      [k2!.kid, 'EdDSA', 'removed'],
    ]);
    // The withdrawn key never signs, not even at the time it was to.
    es256.clock.set(START + 90 * DAY + 1);
    expect((await es256.store.list()).find((key) => key.state === 'current')!.kid).toBe(k3.kid);
  });
});

describe('changing JWT_ALGORITHM', () => {
  it('from EdDSA to ES256 keeps the EdDSA tokens valid until they expire, and every instance signs ES256', async () => {
    const database = await freshDatabase();
    const a = await start(database, { env: { JWT_ALGORITHM: 'EdDSA' } });
    const eddsa = await register(a, 'switcher');
    expect(decodeProtectedHeader(eddsa.accessToken).alg).toBe('EdDSA');

    // A rolling deployment: the second instance starts with the new default while the first still runs.
    at(START + MINUTE, a);
    const b = await start(database, { now: new Date(START + MINUTE) });
    const es256 = await signIn(b, 'switcher');
    expect(decodeProtectedHeader(es256.accessToken).alg).toBe('ES256');
    // The first instance follows the rows at its next read, and does not switch back.
    await a.services.signingKeys.refresh();
    expect(decodeProtectedHeader((await signIn(a, 'switcher')).accessToken).alg).toBe('ES256');
    expect((await keyRows(a)).map((row) => row.algorithm)).toEqual(['EdDSA', 'ES256']);
    expect(await publishedKids(a)).toEqual(await publishedKids(b));

    for (const instance of [a, b]) {
      for (const token of [eddsa.accessToken, es256.accessToken]) expect((await me(instance, token)).data?.me.username).toBe('switcher');
    }
    const expiry = decodeJwt(eddsa.accessToken).exp! * 1000;
    at(expiry + 5_000, a, b);
    expect(errorReason(await me(b, eddsa.accessToken))).toBe('TOKEN_EXPIRED');
    // The EdDSA key retired when the ES256 one activated; it stays published for the retention.
    at(START + MINUTE + RETENTION, a, b);
    for (const instance of [a, b]) expect(await publishedKids(instance)).toEqual([kidOf(es256.accessToken)]);
  });

  it('an instance that knows only EdDSA keys accepts an ES256 token of another at once, by its unknown kid', async () => {
    const database = await freshDatabase();
    const a = await start(database, { env: { JWT_ALGORITHM: 'EdDSA' } });
    await register(a, 'switcher');
    at(START + MINUTE, a);
    const b = await start(database, { now: new Date(START + MINUTE) });
    const es256 = await signIn(b, 'switcher');
    // No refresh of a's keys: the token's kid is what makes it read the table again.
    expect((await me(a, es256.accessToken)).data?.me.username).toBe('switcher');
  });
});

describe('emergency revocation', () => {
  /** Two instances on one database, a token of the current key verified (and remembered) by both. */
  async function twoInstances(options: { a?: TestGatewayOptions; b?: TestGatewayOptions }) {
    const database = await freshDatabase();
    const a = await start(database, options.a);
    const b = await start(database, options.b);
    const user = await register(a, 'leaky');
    const leaked = kidOf(user.accessToken);
    for (const instance of [a, b]) expect((await me(instance, user.accessToken)).data?.me.username).toBe('leaky');
    return { a, b, user, leaked };
  }

  /** What both instances must show once the revocation reached them. */
  async function expectRevokedEverywhere(a: TestGateway, b: TestGateway, leaked: string, token: string) {
    for (const instance of [a, b]) {
      expect(errorReason(await me(instance, token))).toBe('TOKEN_INVALID');
      expect(await publishedKids(instance)).not.toContain(leaked);
      // Sign-in goes on, with the key made in the same transaction.
      const fresh = await signIn(instance, 'leaky');
      expect(kidOf(fresh.accessToken)).not.toBe(leaked);
      expect((await me(instance, fresh.accessToken)).data?.me.username).toBe('leaky');
    }
    expect(await publishedKids(a)).toEqual(await publishedKids(b));
  }

  it('is refused at once on the revoking instance and, over the channel, on the other, cached verifications included', async () => {
    const hub = new InProcessRevocationHub();
    // Polling far too slow to matter: only the broadcast can reach the other instance in time.
    const env = { REVOCATION_POLL_INTERVAL_MS: '300000' };
    const { a, b, user, leaked } = await twoInstances({ a: { env, revocationChannel: hub.connect() }, b: { env, revocationChannel: hub.connect() } });
    const revocation = await a.services.signingKeys.revoke(leaked);
    expect(revocation.replacement).toBeDefined();
    expect(a.services.signingKeys.accepts(leaked)).toBe(false);
    expect(b.services.signingKeys.accepts(leaked)).toBe(false);
    await expectRevokedEverywhere(a, b, leaked, user.accessToken);
    expect(a.logs.join('')).toMatch(new RegExp(`"event":"key.revoked".*"keyId":"${leaked}"`));
  });

  it('reaches an instance without any channel by its database polling, within REVOCATION_POLL_INTERVAL_MS', async () => {
    // Each instance its own hub: nothing is broadcast between them.
    const { a, b, user, leaked } = await twoInstances({
      a: { revocationChannel: new InProcessRevocationHub().connect() },
      b: { revocationChannel: new InProcessRevocationHub().connect(), env: { REVOCATION_POLL_INTERVAL_MS: '50' } },
    });
    await a.services.signingKeys.revoke(leaked);
    expect(errorReason(await me(a, user.accessToken))).toBe('TOKEN_INVALID');
    const revokedAt = Date.now();
    await until(() => !b.services.signingKeys.accepts(leaked), 'the other instance to refuse the revoked key');
    // The bound: the poll interval and one read of the database (generous for a loaded machine).
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    await until(async () => (await publishedKids(b)).length === (await publishedKids(a)).length, 'the other instance to read the replacement');
    await expectRevokedEverywhere(a, b, leaked, user.accessToken);
  });

  const redisUrl = process.env.TEST_REDIS_URL;
  if (!redisUrl) console.warn('signing key revocation over Redis SKIPPED: set TEST_REDIS_URL to run it');
  it.skipIf(!redisUrl)('reaches the other instance over Redis', async () => {
    const prefix = `keys-${Date.now()}-${Math.random().toString(36).slice(2)}:`;
    const env = { REDIS_URL: redisUrl!, REDIS_KEY_PREFIX: prefix, REVOCATION_POLL_INTERVAL_MS: '300000' };
    const { a, b, user, leaked } = await twoInstances({ a: { env }, b: { env } });
    const probe = new Redis(redisUrl!);
    try {
      await until(async () => {
        const [, subscribers] = (await probe.pubsub('NUMSUB', `${prefix}revocations`)) as [string, number];
        return subscribers >= 2;
      }, 'both instances to subscribe');
    } finally {
      probe.disconnect();
    }
    await a.services.signingKeys.revoke(leaked);
    await until(() => !b.services.signingKeys.accepts(leaked), 'the broadcast to reach the other instance');
    await until(async () => (await publishedKids(b)).length === (await publishedKids(a)).length, 'the other instance to read the replacement');
    await expectRevokedEverywhere(a, b, leaked, user.accessToken);
  });
});

describe('migration 0009', () => {
  // biome-ignore lint/suspicious/noExplicitAny: the table as it was before 0009
  async function migrateUpTo(db: Kysely<any>, last: string): Promise<void> {
    const names = Object.keys(migrations);
    const older = Object.fromEntries(names.slice(0, names.indexOf(last) + 1).map((name) => [name, migrations[name]!]));
    const schema =
      db.getExecutor().adapter instanceof PostgresAdapter
        ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(db)).rows[0]!.schema
        : undefined;
    const { error } = await new Migrator({ db, provider: { getMigrations: async () => older }, migrationTableSchema: schema }).migrateToLatest();
    if (error) throw error;
  }

  it('keeps a retired key gone, makes the newest key in use current and keeps the others accepted a day', async () => {
    const database = await freshDatabase();
    const handle = connectDatabase(database.url);
    try {
      await migrateUpTo(handle.db, '0008_change_indexes');
      const base = Date.now();
      const row = (kid: string, createdAt: number, retiredAt: number | null) => ({
        kid,
        algorithm: 'ES256',
        public_jwk: '{}',
        private_jwk_sealed: 'v1.x.y',
        created_at: createdAt,
        retired_at: retiredAt,
      });
      // biome-ignore lint/suspicious/noExplicitAny: the table as it was before 0009
      const db = handle.db as Kysely<any>;
      await db
        .insertInto('signing_keys')
        .values([row('gone', base - 3 * DAY, base - 2 * DAY), row('older', base - DAY, null), row('newer', base - MINUTE, null)])
        .execute();
      const before = Date.now();
      await migrateToLatest(handle.db);
      const rows = await handle.db.selectFrom('signing_keys').selectAll().orderBy('generation').execute();
      expect(rows.map((r) => [r.kid, r.generation, r.activates_at, r.revoked_at])).toEqual([
        ['gone', 1, base - 3 * DAY, null],
        ['older', 2, base - DAY, null],
        ['newer', 3, base - MINUTE, null],
      ]);
      expect(rows.map((r) => r.expires_at)).toEqual([base - 2 * DAY, expect.any(Number), null]);
      expect(rows[1]!.expires_at).toBeGreaterThanOrEqual(before + 25 * HOUR);
      const store = signingKeyStore(loadConfig({ NODE_ENV: 'test' }), handle.db, new ManualClock());
      expect((await store.list()).map((key) => [key.kid, key.state])).toEqual([
        ['gone', 'removed'],
        ['older', 'retired'],
        ['newer', 'current'],
      ]);
      // A second key cannot take a generation slot already taken.
      await expect(
        db
          .insertInto('signing_keys')
          .values({ ...row('again', base, null), generation: 3, activates_at: base })
          .execute(),
      ).rejects.toThrow();
    } finally {
      await handle.close();
    }
  });
});
