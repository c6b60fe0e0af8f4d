import type { Revocation } from './revocation.js';

/**
 * How revocations reach the other instances of the gateway. publish() sends to every other
 * instance and never back to the publisher; subscribe() hears the others. A publish that fails
 * must not throw: the revocation stands in the database, and the other instances catch up by
 * their periodic Revocations.catchUp() and by the expiry of their cached look-ups.
 */
export interface RevocationChannel {
  publish(revocation: Revocation): Promise<void>;
  /** Listens for revocations from other instances; returns the unsubscribe function. */
  subscribe(listener: (revocation: Revocation) => void): () => void;
  /**
   * Reports outages (false) and recoveries (true) of a channel that can lose messages while it
   * is down; returns the function that stops the reports. A channel without it never loses any.
   */
  onConnectivityChange?(listener: (connected: boolean) => void): () => void;
  /**
   * Sends a signing key's revocation (its kid) to every other instance, as publish() does a
   * revocation. A channel without it reaches the others by their catch-up alone.
   */
  publishSigningKeyRevocation?(kid: string): Promise<void>;
  /** Listens for signing keys revoked by other instances; returns the unsubscribe function. */
  subscribeSigningKeyRevocations?(listener: (kid: string) => void): () => void;
}
