import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Kysely, Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Config, SigningAlgorithm } from '../config.js';
import type { Database, SigningKeysTable } from '../db/tables.js';
import type { SecurityEventRecorder } from '../security-events/security-event.js';
import { SecretBox } from './secret-box.js';
import { inSuccession, retiredKeyRetentionMs, type ScheduledSigningKey, type SigningKeyRecord, scheduleSigningKeys } from './signing-key-schedule.js';

/** Random bytes of a kid: unguessable, and never the same twice (the kid is the table's key). */
const KID_BYTES = 16;
/** How often a transition is tried again after another instance's transition took its place. */
const MAX_ATTEMPTS = 5;
const HOUR_MS = 3_600_000;
/**
 * How far back a key that must sign at once (the first, a rotation now, a revocation's
 * replacement) is dated. The rows and the clock decide which key signs: dated exactly now, the
 * key would still be in the future for an instance whose clock runs behind, which would find no
 * key signing and make one of its own. Instances' clocks agree far better than a minute.
 */
export const ACTIVATION_BACKDATE_MS = 60_000;
/** Public JWK members that are stored and published; nothing else of a key ever leaves the process. */
export const PUBLIC_JWK_MEMBERS = ['kty', 'crv', 'x', 'y'] as const;

/** Why a key became the one that signs (the `reason` of `key.rotated`). */
export type RotationReason = 'SCHEDULED' | 'MANUAL' | 'ALGORITHM_CHANGED' | 'REVOKED';

export interface SigningKeyStoreOptions {
  readonly db: Kysely<Database>;
  /** Seals the private keys at rest. */
  readonly box: SecretBox;
  readonly clock: Clock;
  /** The algorithm of the keys created here (JWT_ALGORITHM). */
  readonly algorithm: SigningAlgorithm;
  /** How long a key signs before its successor (SIGNING_KEY_ROTATION_DAYS). */
  readonly rotationMs: number;
  /** How long the next key is published before it signs (SIGNING_KEY_PUBLISH_AHEAD_HOURS). */
  readonly publishAheadMs: number;
  /** How long a retired key stays published and accepted (retiredKeyRetentionMs). */
  readonly retentionMs: number;
  /** Told of every key created, rotated to and revoked (kid and algorithm only). */
  readonly securityEvents?: SecurityEventRecorder;
}

/** What a rotation did. */
export interface KeyRotation {
  /** The key that signed until now, if there was one. */
  readonly previous: ScheduledSigningKey | undefined;
  /** The key that signs from now on. */
  readonly current: ScheduledSigningKey;
  /** Whether `current` was made for it (else an already published next key was brought forward). */
  readonly created: boolean;
  /** Pending keys of another algorithm that will never sign, removed. */
  readonly withdrawn: readonly ScheduledSigningKey[];
  /** Every key afterwards. */
  readonly keys: readonly ScheduledSigningKey[];
}

/** What a revocation did. */
export interface KeyRevocation {
  readonly revoked: ScheduledSigningKey;
  /** The key made to sign in place of the revoked one, when that one was signing. */
  readonly replacement: ScheduledSigningKey | undefined;
  readonly keys: readonly ScheduledSigningKey[];
}

export type SigningKeyErrorCode = 'UNKNOWN_KEY' | 'ALREADY_REVOKED' | 'NO_KEY_LEFT' | 'CONTENDED';

/** A transition refused (nothing changed); `code` says why. */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
  constructor(
    readonly code: SigningKeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Thrown inside a transition's transaction to roll it back and try again on fresh rows. */
class Contended extends Error {}

/**
 * The signing_keys table and every transition of the lifecycle: the first key, the next key on
 * schedule, a rotation now, a revocation. Each is one statement or one transaction whose write
 * is conditional (a generation slot taken once, an update of a row still as it was read), so
 * that instances racing each other, or the `keys` command, leave one outcome: the loser finds
 * its write refused, reads the rows again and decides afresh. Used by the running instances
 * (SigningKeys) and by `npm run keys`.
 */
export class SigningKeyStore {
  readonly #options: SigningKeyStoreOptions;

  constructor(options: SigningKeyStoreOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** How long a retired key stays published and accepted. */
  get retentionMs(): number {
    return this.#options.retentionMs;
  }

  /** Every key, and its state now. */
  async list(): Promise<ScheduledSigningKey[]> {
    return this.#schedule(await this.#read(this.#options.db), this.#options.clock.now());
  }

  /** The private half of a key, unsealed. */
  privateJwk(record: SigningKeyRecord): JWK {
    return JSON.parse(this.#options.box.open(record.privateJwkSealed, record.kid)) as JWK;
  }

  /**
   * Brings the table up to date and returns it: creates a key when none signs, and the next key
   * once the current one is due (rotation less publish-ahead after its activation). With
   * `switchAlgorithm` (an instance starting), a current key of another algorithm than the
   * configured one is replaced at once; it keeps verifying until it is removed. Running
   * instances leave that alone, so that during a rollout two configurations do not take turns.
   */
  async maintain({ switchAlgorithm = false }: { switchAlgorithm?: boolean } = {}): Promise<ScheduledSigningKey[]> {
    const { db, clock, algorithm, rotationMs, publishAheadMs } = this.#options;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = clock.now();
      const keys = this.#schedule(await this.#read(db), now);
      const current = keys.find((key) => key.state === 'current');
      if (!current) {
        await this.#insertKey(db, keys, activationNow(keys, now));
        continue;
      }
      if (switchAlgorithm && current.algorithm !== algorithm) {
        await this.#rotateNow(keys, now, 'ALGORITHM_CHANGED').catch(retryOnContention);
        continue;
      }
      const pending = keys.some((key) => key.state === 'next' && inSuccession(key));
      if (!pending && now >= current.activatesAt + rotationMs - publishAheadMs) {
        const next = await this.#insertKey(db, keys, now + publishAheadMs);
        if (next) this.#record({ event: 'key.rotated', keyId: next.kid, algorithm: next.algorithm, reason: 'SCHEDULED' });
        continue;
      }
      return keys;
    }
    throw new SigningKeyError('CONTENDED', 'signing keys: other transitions kept taking precedence; try again');
  }

  /**
   * Makes a key of the configured algorithm sign from now on: the published next key of that
   * algorithm when there is one (verifiers have it already), else a new key. The key that
   * signed retires; pending keys of another algorithm are withdrawn.
   */
  async rotate(reason: RotationReason = 'MANUAL'): Promise<KeyRotation> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = this.#options.clock.now();
      const keys = this.#schedule(await this.#read(this.#options.db), now);
      const rotation = await this.#rotateNow(keys, now, reason).catch(retryOnContention);
      if (rotation) return rotation;
    }
    throw new SigningKeyError('CONTENDED', 'signing keys: other transitions kept taking precedence; try again');
  }

  /**
   * Revokes a key: from now on it is neither published nor accepted. When it was the one
   * signing, a new key signs in its place, in the same transaction, so sign-in goes on.
   * Throws UNKNOWN_KEY or ALREADY_REVOKED, changing nothing.
   */
  async revoke(kid: string): Promise<KeyRevocation> {
    const { db, clock } = this.#options;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const now = clock.now();
      let revocation: KeyRevocation;
      try {
        revocation = await db.transaction().execute(async (trx) => {
          const keys = this.#schedule(await this.#read(trx), now);
          const target = keys.find((key) => key.kid === kid);
          if (!target) throw new SigningKeyError('UNKNOWN_KEY', `signing keys: no key ${JSON.stringify(kid)}`);
          if (target.revokedAt !== null) throw new SigningKeyError('ALREADY_REVOKED', `signing keys: ${kid} was revoked already`);
          // retired_at: releases before 0009, still running during an upgrade, refuse it too.
          const { numUpdatedRows } = await trx
            .updateTable('signing_keys')
            .set({ revoked_at: now, retired_at: now })
            .where('kid', '=', kid)
            .where('revoked_at', 'is', null)
            .executeTakeFirst();
          if (numUpdatedRows === 0n) throw new Contended();
          let replacement: ScheduledSigningKey | undefined;
          if (target.state === 'current') {
            const others = keys.filter((key) => key.kid !== kid);
            const created = await this.#insertKey(trx, keys, activationNow(others, now), { announce: false });
            if (!created) throw new Contended();
            replacement = created;
          }
          const after = this.#schedule(await this.#read(trx), now);
          if (!after.some((key) => key.state === 'current')) {
            throw new SigningKeyError('NO_KEY_LEFT', `signing keys: revoking ${kid} would leave no key to sign with`);
          }
          return { revoked: after.find((key) => key.kid === kid)!, replacement: replacement && after.find((key) => key.kid === replacement.kid), keys: after };
        });
      } catch (error) {
        if (error instanceof Contended) continue;
        throw error;
      }
      // Only what committed is recorded.
      const { revoked, replacement } = revocation;
      this.#record({ event: 'key.revoked', keyId: revoked.kid, algorithm: revoked.algorithm });
      if (replacement) {
        this.#record({ event: 'key.created', keyId: replacement.kid, algorithm: replacement.algorithm });
        this.#record({ event: 'key.rotated', keyId: replacement.kid, algorithm: replacement.algorithm, reason: 'REVOKED' });
      }
      return revocation;
    }
    throw new SigningKeyError('CONTENDED', 'signing keys: other transitions kept taking precedence; try again');
  }

  /** A rotation to now on the rows read (`keys`); undefined, or Contended, when another transition got there first. */
  async #rotateNow(keys: readonly ScheduledSigningKey[], now: number, reason: RotationReason): Promise<KeyRotation | undefined> {
    const { db, algorithm } = this.#options;
    const previous = keys.find((key) => key.state === 'current');
    const pending = keys.filter((key) => key.state === 'next' && inSuccession(key));
    const promoted = pending.find((key) => key.algorithm === algorithm);
    // Anything still pending would take over too soon after the key made current now, or in another algorithm.
    const withdrawn = pending.filter((key) => key !== promoted);
    const activatesAt = activationNow(keys, now);
    const { kid, created } = await db.transaction().execute(async (trx) => {
      let kid: string;
      let created = false;
      if (promoted) {
        const { numUpdatedRows } = await trx
          .updateTable('signing_keys')
          .set({ activates_at: activatesAt })
          .where('kid', '=', promoted.kid)
          .where('activates_at', '=', promoted.activatesAt)
          .where('revoked_at', 'is', null)
          .where('expires_at', 'is', null)
          .executeTakeFirst();
        if (numUpdatedRows === 0n) throw new Contended();
        kid = promoted.kid;
      } else {
        const inserted = await this.#insertKey(trx, keys, activatesAt, { announce: false });
        if (!inserted) throw new Contended();
        kid = inserted.kid;
        created = true;
      }
      for (const key of withdrawn) {
        await trx
          .updateTable('signing_keys')
          .set({ expires_at: now, retired_at: now })
          .where('kid', '=', key.kid)
          .where('revoked_at', 'is', null)
          .where('expires_at', 'is', null)
          .execute();
      }
      return { kid, created };
    });
    const after = await this.list();
    const current = after.find((key) => key.kid === kid)!;
    if (created) this.#record({ event: 'key.created', keyId: current.kid, algorithm: current.algorithm });
    this.#record({ event: 'key.rotated', keyId: current.kid, algorithm: current.algorithm, reason });
    return { previous: previous && after.find((key) => key.kid === previous.kid), current, created, withdrawn, keys: after };
  }

  /**
   * Creates a key of the configured algorithm that signs from `activatesAt`, in the generation
   * slot after the last one read. Undefined when that slot was taken meanwhile: another
   * instance made a key, and the caller reads again.
   */
  async #insertKey(
    db: Kysely<Database> | Transaction<Database>,
    keys: readonly ScheduledSigningKey[],
    activatesAt: number,
    { announce = true }: { announce?: boolean } = {},
  ): Promise<ScheduledSigningKey | undefined> {
    const { box, clock, algorithm } = this.#options;
    const pair = await generateKeyPair(algorithm, algorithm === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
    const publicJwk = publicMembers(await exportJWK(pair.publicKey));
    const kid = randomBytes(KID_BYTES).toString('base64url');
    const now = clock.now();
    const row: SigningKeysTable = {
      kid,
      generation: Math.max(0, ...keys.map((key) => key.generation)) + 1,
      algorithm,
      public_jwk: JSON.stringify(publicJwk),
      private_jwk_sealed: box.seal(JSON.stringify(await exportJWK(pair.privateKey)), kid),
      created_at: now,
      activates_at: activatesAt,
      expires_at: null,
      revoked_at: null,
      retired_at: null,
    };
    const inserted = await db
      .insertInto('signing_keys')
      .values(row)
      .onConflict((oc) => oc.column('generation').doNothing())
      .returning('kid')
      .executeTakeFirst();
    if (!inserted) return undefined;
    // Inside a transaction the caller records the events once it has committed.
    if (announce) this.#record({ event: 'key.created', keyId: kid, algorithm });
    const record = recordOf(row);
    return { ...record, state: activatesAt > now ? 'next' : 'current', retiresAt: null, removedAt: null };
  }

  async #read(db: Kysely<Database> | Transaction<Database>): Promise<SigningKeyRecord[]> {
    const rows = await db.selectFrom('signing_keys').selectAll().orderBy('activates_at').orderBy('generation').execute();
    // Rows of an algorithm this release does not know are left alone, as before.
    return rows.filter((row) => row.algorithm === 'EdDSA' || row.algorithm === 'ES256').map(recordOf);
  }

  #schedule(records: readonly SigningKeyRecord[], now: number): ScheduledSigningKey[] {
    return scheduleSigningKeys(records, now, this.#options.retentionMs);
  }

  #record(input: { event: 'key.created' | 'key.rotated' | 'key.revoked'; keyId: string; algorithm: string; reason?: RotationReason }): void {
    this.#options.securityEvents?.record(input);
  }
}

/** The store with the lifecycle the configuration sets: the gateway's and `npm run keys`'s. */
export function signingKeyStore(config: Config, db: Kysely<Database>, clock: Clock, securityEvents?: SecurityEventRecorder): SigningKeyStore {
  return new SigningKeyStore({
    db,
    box: new SecretBox(config.encryptionSecret, 'signing-keys'),
    clock,
    algorithm: config.signingAlgorithm,
    rotationMs: config.signingKeys.rotationDays * 24 * HOUR_MS,
    publishAheadMs: config.signingKeys.publishAheadHours * HOUR_MS,
    retentionMs: retiredKeyRetentionMs(config.accessTokenTtlSeconds),
    securityEvents,
  });
}

function recordOf(row: SigningKeysTable): SigningKeyRecord {
  return {
    kid: row.kid,
    generation: Number(row.generation),
    algorithm: row.algorithm as SigningAlgorithm,
    // Filtered again on the way in: whatever the row holds, only public members are ever published.
    publicJwk: publicMembers(JSON.parse(row.public_jwk) as JWK),
    privateJwkSealed: row.private_jwk_sealed,
    createdAt: Number(row.created_at),
    activatesAt: Number(row.activates_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

function publicMembers(jwk: JWK): JWK {
  const result: JWK = {};
  for (const member of PUBLIC_JWK_MEMBERS) if (jwk[member] !== undefined) result[member] = jwk[member];
  return result;
}

/**
 * The activation of a key that must sign at once: a minute back (ACTIVATION_BACKDATE_MS), yet
 * after every key already active, so that it is the one that signs from now on. Never after
 * now: a key activated this very millisecond ties, and the new key's later generation wins.
 */
function activationNow(keys: readonly ScheduledSigningKey[], now: number): number {
  const active = keys.filter((key) => inSuccession(key) && key.activatesAt <= now).map((key) => key.activatesAt + 1);
  return Math.min(now, Math.max(now - ACTIVATION_BACKDATE_MS, ...active));
}

function retryOnContention(error: unknown): undefined {
  if (error instanceof Contended) return undefined;
  throw error;
}
