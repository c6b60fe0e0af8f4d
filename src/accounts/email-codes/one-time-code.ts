import { createHmac, hkdfSync, randomInt } from 'node:crypto';
import type { EmailCodePurpose } from '../../db/tables.js';

/** Digits of a code: a million values, against at most a few attempts per code and window. */
export const CODE_DIGITS = 6;

const HKDF_SALT = 'graphql-auth-gateway/email-codes';

/** A new code: CODE_DIGITS decimal digits from the operating system's random source. */
export function generateCode(): string {
  return String(randomInt(0, 10 ** CODE_DIGITS)).padStart(CODE_DIGITS, '0');
}

/**
 * What a typed code is compared as: spaces and hyphens dropped ("123 456", "123-456"). Anything
 * else is kept, and can only fail to match.
 */
export function normalizeCode(typed: string): string {
  return typed.replace(/[\s-]/g, '');
}

/**
 * Hashes codes for storage: HMAC-SHA256 under a key derived from GATEWAY_ENCRYPTION_SECRET. A
 * plain hash of one of a million codes is reversed by trying them all; without the secret, a
 * leaked table tells nothing. The purpose and the address are hashed along, so a hash is only
 * ever valid in its own row.
 */
export class CodeHasher {
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#key = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), HKDF_SALT, 'code-hash', 32));
  }

  /** The stored form of a code for a purpose and an address key, hex. */
  hash(purpose: EmailCodePurpose, emailKey: string, code: string): string {
    return createHmac('sha256', this.#key).update(`${purpose}\n${emailKey}\n${code}`, 'utf8').digest('hex');
  }
}
