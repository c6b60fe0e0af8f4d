import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { Clock } from '../clock.js';
import type { SigningAlgorithm } from '../config.js';
import type { Database } from '../db/tables.js';
import type { SecurityEventRecorder } from '../security-events/security-event.js';
import type { SecretBox } from './secret-box.js';

export interface VerificationKey {
  readonly kid: string;
  readonly algorithm: SigningAlgorithm;
  readonly key: CryptoKey;
}

export interface SigningKey extends VerificationKey {
  readonly privateKey: CryptoKey;
}

export interface SigningKeysOptions {
  readonly db: Kysely<Database>;
  /** Seals the private keys at rest. */
  readonly box: SecretBox;
  readonly algorithm: SigningAlgorithm;
  readonly clock: Clock;
  /** Told of every key created (kid and algorithm only). */
  readonly securityEvents?: SecurityEventRecorder;
}

/**
 * Unknown kids trigger a reload (another instance may have made a key), at most this often, so
 * that tokens with made-up kids cannot turn into a database query each.
 */
const RELOAD_INTERVAL_MS = 1_000;
/** Public JWK members that may be published; nothing else of a key ever leaves the process. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y'] as const;

/**
 * The asymmetric keys that sign access tokens. Created on first start and kept in the
 * database with the private half sealed by AES-256-GCM; the public halves form the JWKS.
 */
export class SigningKeys {
  readonly #options: SigningKeysOptions;
  #verification = new Map<string, VerificationKey>();
  #signing: SigningKey | undefined;
  #jwks = '{"keys":[]}';
  #lastReload = 0;

  private constructor(options: SigningKeysOptions) {
    this.#options = options;
  }

  /** Loads the keys, creating a signing key of the configured algorithm when there is none. */
  static async open(options: SigningKeysOptions): Promise<SigningKeys> {
    const keys = new SigningKeys(options);
    await keys.#load();
    if (!keys.#signing) {
      await keys.#create();
      await keys.#load();
    }
    if (!keys.#signing) throw new Error('signing keys: no usable key after creation');
    return keys;
  }

  /** The key new tokens are signed with. */
  get current(): SigningKey {
    return this.#signing!;
  }

  /** The algorithms of all known keys, to pin verification to. */
  get algorithms(): SigningAlgorithm[] {
    return [...new Set([...this.#verification.values()].map((k) => k.algorithm))];
  }

  /** The public JSON Web Key Set, serialised. */
  get jwksJson(): string {
    return this.#jwks;
  }

  /** The verification key for a kid, reloading from the database (throttled) when unknown. */
  async find(kid: string): Promise<VerificationKey | undefined> {
    const known = this.#verification.get(kid);
    if (known) return known;
    const now = this.#options.clock.now();
    if (now - this.#lastReload < RELOAD_INTERVAL_MS) return undefined;
    await this.#load();
    return this.#verification.get(kid);
  }

  async #create(): Promise<void> {
    const { algorithm, box, db, clock } = this.#options;
    const pair = await generateKeyPair(algorithm, algorithm === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
    const publicJwk = publicMembers(await exportJWK(pair.publicKey));
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(pair.privateKey);
    await db
      .insertInto('signing_keys')
      .values({
        kid,
        algorithm,
        public_jwk: JSON.stringify(publicJwk),
        private_jwk_sealed: box.seal(JSON.stringify(privateJwk), kid),
        created_at: clock.now(),
        retired_at: null,
      })
      .execute();
    this.#options.securityEvents?.record({ event: 'key.created', keyId: kid, algorithm });
  }

  async #load(): Promise<void> {
    const { db, box, algorithm, clock } = this.#options;
    this.#lastReload = clock.now();
    const rows = await db.selectFrom('signing_keys').selectAll().where('retired_at', 'is', null).orderBy('created_at').orderBy('kid').execute();
    const verification = new Map<string, VerificationKey>();
    const published: JWK[] = [];
    let signing: SigningKey | undefined;
    for (const row of rows) {
      if (row.algorithm !== 'EdDSA' && row.algorithm !== 'ES256') continue;
      const alg = row.algorithm as SigningAlgorithm;
      // Filtered again on the way out: whatever the row holds, only public members are published.
      const publicJwk = publicMembers(JSON.parse(row.public_jwk) as JWK);
      const key = (await importJWK(publicJwk, alg)) as CryptoKey;
      verification.set(row.kid, { kid: row.kid, algorithm: alg, key });
      published.push({ ...publicJwk, kid: row.kid, alg, use: 'sig' });
      // The oldest key of the algorithm signs: when instances start together on an empty
      // database and each creates a key, they all settle on the same one.
      if (!signing && alg === algorithm) {
        const privateJwk = JSON.parse(box.open(row.private_jwk_sealed, row.kid)) as JWK;
        signing = { kid: row.kid, algorithm: alg, key, privateKey: (await importJWK(privateJwk, alg)) as CryptoKey };
      }
    }
    this.#verification = verification;
    this.#signing = signing ?? this.#signing;
    this.#jwks = JSON.stringify({ keys: published });
  }
}

function publicMembers(jwk: JWK): JWK {
  const result: JWK = {};
  for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) result[member] = jwk[member];
  return result;
}
