import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new opaque secret of the given number of random bytes, base64url-encoded. */
export function generateOpaqueToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * The form in which high-entropy tokens are stored: SHA-256, hex. A database leak then yields
 * nothing usable, and look-ups by hash leak no timing about the secret itself.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
