import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../config.js';

/**
 * Where a key is in its life. `next`: published, not signing yet. `current`: signs. `retired`:
 * published and verifying, signing no more. `removed`: gone, every token it signed has expired.
 * `revoked`: refused at once, whatever it signed.
 */
export type SigningKeyState = 'next' | 'current' | 'retired' | 'removed' | 'revoked';

/** A row of signing_keys, as the lifecycle reads it; the private key stays sealed. */
export interface SigningKeyRecord {
  readonly kid: string;
  readonly generation: number;
  readonly algorithm: SigningAlgorithm;
  readonly publicJwk: JWK;
  readonly privateJwkSealed: string;
  readonly createdAt: number;
  readonly activatesAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

/** A key and where it stands at one moment. */
export interface ScheduledSigningKey extends SigningKeyRecord {
  readonly state: SigningKeyState;
  /** When it stops signing (its successor's activation); null while it has none. */
  readonly retiresAt: number | null;
  /** When it leaves the JWKS and stops verifying; null while it has no successor. */
  readonly removedAt: number | null;
}

/**
 * How long a retired key outlives the last access token it can have signed, on top of their
 * lifetime: the verifiers' clock tolerance, clocks that differ between instances, and an
 * instance that had not yet heard of a key made current at once (at most
 * SIGNING_KEY_REFRESH_INTERVAL_MS). An hour, so that a verifier that fetched the JWKS just
 * before the key went never meets a token it cannot check either.
 */
export const RETIRED_KEY_MARGIN_MS = 3_600_000;

/** How long a key stays published and accepted after it stopped signing. */
export function retiredKeyRetentionMs(accessTokenTtlSeconds: number): number {
  return accessTokenTtlSeconds * 1000 + RETIRED_KEY_MARGIN_MS;
}

/**
 * Every key's state at `now`, ordered by activation. The rows and the clock decide alone, so
 * that instances reading the same rows agree at every moment, whatever they did before: the
 * keys in succession (not revoked, no removal time of their own) sign in turn, each from its
 * activation to the next one's; the current key is the last of them already active. A key
 * retires when its successor activates and is removed one retention later.
 */
export function scheduleSigningKeys(records: readonly SigningKeyRecord[], now: number, retentionMs: number): ScheduledSigningKey[] {
  const ordered = [...records].sort(byActivation);
  const succession = ordered.filter(inSuccession);
  return ordered.map((record): ScheduledSigningKey => {
    if (record.revokedAt !== null) return { ...record, state: 'revoked', retiresAt: record.revokedAt, removedAt: record.revokedAt };
    const successor = ordered.find((other) => inSuccession(other) && byActivation(other, record) > 0);
    if (record.expiresAt !== null) {
      const retiresAt = Math.min(successor?.activatesAt ?? record.expiresAt, record.expiresAt);
      const state = stateAt(now, record.activatesAt, retiresAt, record.expiresAt);
      // Out of the succession, it never signs again, even with no successor (then nothing signs until a key is made).
      return { ...record, state: state === 'current' ? 'retired' : state, retiresAt, removedAt: record.expiresAt };
    }
    const next = succession[succession.indexOf(record) + 1];
    const retiresAt = next?.activatesAt ?? null;
    const removedAt = retiresAt === null ? null : retiresAt + retentionMs;
    return { ...record, state: stateAt(now, record.activatesAt, retiresAt, removedAt), retiresAt, removedAt };
  });
}

/** The earliest time after `now` at which a key of the schedule changes state; Infinity if none. */
export function nextChangeAfter(keys: readonly ScheduledSigningKey[], now: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const key of keys) {
    for (const time of [key.activatesAt, key.retiresAt, key.removedAt]) if (time !== null && time > now && time < next) next = time;
  }
  return next;
}

/** A key that signs in its turn: neither revoked nor given a removal time of its own (withdrawn, or set aside by a migration). */
export function inSuccession(record: SigningKeyRecord): boolean {
  return record.revokedAt === null && record.expiresAt === null;
}

function stateAt(now: number, activatesAt: number, retiresAt: number | null, removedAt: number | null): SigningKeyState {
  if (removedAt !== null && removedAt <= now) return 'removed';
  if (activatesAt > now) return 'next';
  if (retiresAt !== null && retiresAt <= now) return 'retired';
  return 'current';
}

function byActivation(a: SigningKeyRecord, b: SigningKeyRecord): number {
  return a.activatesAt - b.activatesAt || a.generation - b.generation;
}
