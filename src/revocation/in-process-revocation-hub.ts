import type { Revocation } from './revocation.js';
import type { RevocationChannel } from './revocation-channel.js';

/**
 * A channel between the instances in one process: for a single gateway (a hub of one, where
 * publishing reaches nobody) and for tests that run several gateways side by side.
 */
export class InProcessRevocationHub {
  readonly #members = new Set<(revocation: Revocation) => void>();
  readonly #keyMembers = new Set<(kid: string) => void>();

  /** A channel for one instance. */
  connect(): RevocationChannel {
    const members = this.#members;
    const keyMembers = this.#keyMembers;
    let own: ((revocation: Revocation) => void) | undefined;
    let ownKeys: ((kid: string) => void) | undefined;
    return {
      async publish(revocation) {
        for (const member of [...members]) if (member !== own) member(structuredClone(revocation));
      },
      subscribe(listener) {
        own = listener;
        members.add(listener);
        return () => members.delete(listener);
      },
      async publishSigningKeyRevocation(kid) {
        for (const member of [...keyMembers]) if (member !== ownKeys) member(kid);
      },
      subscribeSigningKeyRevocations(listener) {
        ownKeys = listener;
        keyMembers.add(listener);
        return () => keyMembers.delete(listener);
      },
    };
  }
}
