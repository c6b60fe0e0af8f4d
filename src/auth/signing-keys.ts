import { importJWK, type JWK } from 'jose';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { DEFAULT_SIGNING_KEY_REFRESH_INTERVAL_MS, type SigningAlgorithm } from '../config.js';
import { nextChangeAfter, type SigningKeyRecord, scheduleSigningKeys } from './signing-key-schedule.js';
import type { KeyRevocation, KeyRotation, SigningKeyStore } from './signing-key-store.js';
import { CoalescedRead } from '../coalesced-read.js';
import { createJwtSigner, type JwtSigner } from './jwt-signer.js';

export interface VerificationKey {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly key: CryptoKey;
}

export interface SigningKey extends VerificationKey {
  readonly privateKey: CryptoKey;
  /** Signs with privateKey, synchronously: what the hot paths use (jwt-signer.ts). */
  readonly sign: JwtSigner;
}

export interface SigningKeysOptions {
  /** The table and its transitions. */
  readonly store: SigningKeyStore;
  readonly clock: Clock;
  /** How often the table is read again (and the next key made when due); DEFAULT_SIGNING_KEY_REFRESH_INTERVAL_MS. */
  readonly refreshIntervalMs?: number;
  /** Told, after it committed, of a key this instance revoked: tells the other instances (Revocations). */
  readonly onRevoked?: (kid: string) => Promise<void>;
  /** Where failed background reads are reported. */
  readonly logger?: Logger;
}

/**
 * Unknown kids trigger a reload (another instance may have made a key), at most this often, so
 * that tokens with made-up kids cannot turn into a database query each.
 */
const RELOAD_INTERVAL_MS = 1_000;

/** The keys as they stand between two changes of the schedule: what the hot path reads. */
interface KeyView {
  /** The clock readings between which the view holds. */
  readonly from: number;
  readonly until: number;
  readonly current: SigningKey | undefined;
  readonly verification: ReadonlyMap<string, VerificationKey>;
  readonly jwks: string;
  readonly algorithms: SigningAlgorithm[];
}

interface ImportedKey {
  readonly verification: VerificationKey;
  signing?: SigningKey;
}

/**
 * The keys that sign and verify access tokens, in memory: read from the database at start and
 * every refresh interval, on an unknown kid (throttled) and when a key is revoked. Which key
 * signs and which are published follows from those rows and the clock alone
 * (scheduleSigningKeys), so signing and verifying never read the database, and instances
 * agree at every moment. A key the rows make current later (the next key) is read ahead of
 * time; its private half is unsealed then, not on the request that first needs it.
 */
export class SigningKeys {
  readonly #options: SigningKeysOptions;
  #records: readonly SigningKeyRecord[] = [];
  readonly #imported = new Map<string, ImportedKey>();
  /** Kids heard revoked before the rows said so (a broadcast comes before the reload). */
  readonly #refused = new Set<string>();
  #view: KeyView | undefined;
  #lastReload = Number.NEGATIVE_INFINITY;
  readonly #refresh = new CoalescedRead(() => this.#reload({ switchAlgorithm: false }));
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: SigningKeysOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /**
   * Loads the keys, first bringing the table up to date (SigningKeyStore.maintain): a key is
   * created when none signs, the next one when due, and one of the configured algorithm when
   * the current key has another.
   */
  static async open(options: SigningKeysOptions): Promise<SigningKeys> {
    const keys = new SigningKeys(options);
    await keys.#reload({ switchAlgorithm: true });
    if (!keys.#viewNow().current) throw new Error('signing keys: no usable key after creation');
    return keys;
  }

  /** Reads the table every refresh interval from now on, on a timer that does not keep the process alive. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#refresh.running) void this.#refreshLogged();
    }, this.#options.refreshIntervalMs ?? DEFAULT_SIGNING_KEY_REFRESH_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Stops the timer; resolves once a read under way is over. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refresh.settled();
  }

  /** The key new tokens are signed with now. */
  get current(): SigningKey {
    const current = this.#viewNow().current;
    if (!current) throw new Error('signing keys: no usable signing key');
    return current;
  }

  /** The key to sign with now; when the one that signed was just revoked, after reading its replacement. */
  async signingKey(): Promise<SigningKey> {
    const current = this.#viewNow().current;
    if (current) return current;
    await this.refresh();
    return this.current;
  }

  /** The algorithms of the published keys, to pin verification to. */
  get algorithms(): SigningAlgorithm[] {
    return this.#viewNow().algorithms;
  }

  /** The public JSON Web Key Set, serialised: the next, current and retired keys. */
  get jwksJson(): string {
    return this.#viewNow().jwks;
  }

  /** True while tokens signed by this kid are accepted: its key is published, neither removed nor revoked. */
  accepts(kid: string): boolean {
    return this.#viewNow().verification.has(kid);
  }

  /** The verification key for a kid, reloading from the database (throttled) when unknown. */
  async find(kid: string): Promise<VerificationKey | undefined> {
    const known = this.#viewNow().verification.get(kid);
    if (known) return known;
    // A revoked kid is known to be refused: no reload for it, however often it is presented.
    if (this.#refused.has(kid) || this.#records.some((record) => record.kid === kid && record.revokedAt !== null)) return undefined;
    if (this.#options.clock.now() - this.#lastReload < RELOAD_INTERVAL_MS) return undefined;
    await this.refresh();
    return this.#viewNow().verification.get(kid);
  }

  /**
   * Reads the table again (making the next key when due). A call while a read is in progress
   * reads again after it, so that what committed before the call is seen; calls meanwhile share
   * that second read.
   */
  refresh(): Promise<void> {
    return this.#refresh.run();
  }

  /**
   * Refuses a kid from now on, before the rows say so (a revocation heard from another
   * instance), forgetting it at once, and reads the table for the key that replaced it.
   */
  refuse(kid: string): void {
    if (!this.#refused.has(kid)) {
      this.#refused.add(kid);
      this.#view = undefined;
    }
    void this.#refreshLogged();
  }

  /** Revokes a key (SigningKeyStore.revoke), refuses it here at once, and tells the other instances. */
  async revoke(kid: string): Promise<KeyRevocation> {
    const revocation = await this.#options.store.revoke(kid);
    this.#refused.add(kid);
    this.#view = undefined;
    await this.#options.onRevoked?.(kid);
    await this.refresh();
    return revocation;
  }

  /** Makes a key of the configured algorithm sign from now on (SigningKeyStore.rotate); other instances follow within their refresh interval. */
  async rotate(): Promise<KeyRotation> {
    const rotation = await this.#options.store.rotate('MANUAL');
    await this.refresh();
    return rotation;
  }

  async #refreshLogged(): Promise<void> {
    try {
      await this.refresh();
    } catch (error) {
      this.#options.logger?.warn({ err: { message: error instanceof Error ? error.message : String(error) } }, 'reading the signing keys failed; retrying');
    }
  }

  async #reload({ switchAlgorithm }: { switchAlgorithm: boolean }): Promise<void> {
    const { store, clock } = this.#options;
    this.#lastReload = clock.now();
    const keys = await store.maintain({ switchAlgorithm });
    for (const key of keys) {
      if (key.state === 'removed' || key.state === 'revoked') continue;
      let imported = this.#imported.get(key.kid);
      if (!imported) {
        const verification = { kid: key.kid, algorithm: key.algorithm, key: (await importJWK(key.publicJwk, key.algorithm)) as CryptoKey };
        imported = { verification };
        this.#imported.set(key.kid, imported);
      }
      // Unsealed ahead of its turn, and loudly: a wrong GATEWAY_ENCRYPTION_SECRET fails here, at start.
      if (!imported.signing && (key.state === 'next' || key.state === 'current')) {
        const privateJwk = store.privateJwk(key);
        const privateKey = (await importJWK(privateJwk, key.algorithm)) as CryptoKey;
        imported.signing = { ...imported.verification, privateKey, sign: createJwtSigner(privateJwk, key.algorithm, key.kid) };
      }
    }
    this.#records = keys;
    this.#view = undefined;
  }

  /** The view for the clock's now, computed again only when the schedule may have changed since. */
  #viewNow(): KeyView {
    const now = this.#options.clock.now();
    const view = this.#view;
    if (view && now >= view.from && now < view.until) return view;
    this.#view = this.#compute(now);
    return this.#view;
  }

  #compute(now: number): KeyView {
    const keys = scheduleSigningKeys(this.#records, now, this.#options.store.retentionMs);
    const verification = new Map<string, VerificationKey>();
    const published: JWK[] = [];
    let current: SigningKey | undefined;
    for (const key of keys) {
      if (key.state === 'removed' || key.state === 'revoked' || this.#refused.has(key.kid)) continue;
      const imported = this.#imported.get(key.kid);
      if (!imported) continue;
      // A next key verifies too: an instance whose clock runs a little ahead signs with it a moment early.
      verification.set(key.kid, imported.verification);
      published.push({ ...key.publicJwk, kid: key.kid, alg: key.algorithm, use: 'sig' });
      if (key.state === 'current') current = imported.signing;
    }
    return {
      from: now,
      until: nextChangeAfter(keys, now),
      current,
      verification,
      jwks: JSON.stringify({ keys: published }),
      algorithms: [...new Set([...verification.values()].map((key) => key.algorithm))],
    };
  }
}
