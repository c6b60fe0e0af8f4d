import { createHash } from 'node:crypto';
import { storedUserAgent } from './device-name.js';

/** Who presents a refresh token, as its request shows it. */
export interface PresentingClient {
  readonly userAgent: string | null;
  readonly ip: string | null;
}

/**
 * What ties a rotated refresh token's grace window to the client that rotated it: its user
 * agent and the family (IPv4 or IPv6) of its address, hashed so that the token's row holds
 * nothing more about the client than the session does. Not the address itself: two tabs racing
 * may leave through different addresses of a carrier's NAT pool or an IPv6 privacy range, and a
 * mismatch revokes the session (the trade-off is in the README).
 */
export function clientFingerprint(client: PresentingClient | null): string {
  const ip = client?.ip ?? null;
  const family = ip === null ? 'unknown' : ip.includes(':') ? 'IPv6' : 'IPv4';
  const userAgent = storedUserAgent(client?.userAgent ?? null) ?? '';
  return createHash('sha256').update(`${family}\n${userAgent}`).digest('hex');
}
