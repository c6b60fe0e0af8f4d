import type { StoredSession, TokenStorage } from './types.js';

/** A TokenStorage in memory: the session lasts as long as the process (the default). */
export function createMemoryStorage(): TokenStorage {
  let session: StoredSession | null = null;
  return {
    get: () => session,
    set: (next) => {
      session = next;
    },
  };
}
