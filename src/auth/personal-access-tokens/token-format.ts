import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The shape of a personal access token, after GitHub's (https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/):
 * a fixed prefix that secret scanners can match, 32 base62 characters of randomness
 * (32 × log2(62) ≈ 190 bits; 166 of them beyond the 4 shown for display) and 6 base62 characters of the CRC32 of that random part. The
 * checksum lets a scanner, and the gateway itself, tell a real token from a typo or a made-up
 * string offline, before any database look-up.
 *
 * The README publishes this shape for scanners (`gwp_[0-9A-Za-z]{38}`, 42 characters in all);
 * test/pat-hardening.test.ts checks minted tokens against the README's own text. Changing a
 * length would invalidate every token already issued.
 */
export const PERSONAL_ACCESS_TOKEN_PREFIX = 'gwp_';
export const RANDOM_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
/** How much of a token is kept in clear for display: the prefix and 4 random characters. */
export const DISPLAY_PREFIX_LENGTH = PERSONAL_ACCESS_TOKEN_PREFIX.length + 4;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// The largest multiple of 62 that fits in a byte: bytes at or above it are drawn again, so that
// every character is equally likely (a plain `byte % 62` would favour the first 8).
const UNBIASED_BYTE_LIMIT = 62 * 4;
const TOKEN_PATTERN = new RegExp(`^${PERSONAL_ACCESS_TOKEN_PREFIX}([0-9A-Za-z]{${RANDOM_LENGTH}})([0-9A-Za-z]{${CHECKSUM_LENGTH}})$`);

/** A new personal access token secret. */
export function generatePersonalAccessToken(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return `${PERSONAL_ACCESS_TOKEN_PREFIX}${random}${checksumOf(random)}`;
}

/** True when a credential claims to be a personal access token (it may still be malformed). */
export function looksLikePersonalAccessToken(credential: string): boolean {
  return credential.startsWith(PERSONAL_ACCESS_TOKEN_PREFIX);
}

/** True when a string has a personal access token's exact shape and a matching checksum. */
export function isWellFormedPersonalAccessToken(token: string): boolean {
  const match = TOKEN_PATTERN.exec(token);
  return match !== null && checksumOf(match[1]!) === match[2];
}

/** The part of a token shown to its owner to recognise it by. */
export function displayPrefixOf(token: string): string {
  return token.slice(0, DISPLAY_PREFIX_LENGTH);
}

/** CRC32 of the random part as 6 base62 characters (62^6 > 2^32, so every value fits). */
export function checksumOf(random: string): string {
  let value = crc32(random);
  let digits = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    digits = BASE62[value % 62] + digits;
    value = Math.floor(value / 62);
  }
  return digits;
}

function randomBase62(length: number): string {
  let result = '';
  while (result.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      result += BASE62[byte % 62];
      if (result.length === length) break;
    }
  }
  return result;
}
