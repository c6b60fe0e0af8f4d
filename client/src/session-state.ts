import type { StoredSession, TokenStorage } from './types.js';

/**
 * The client's session and its storage. Every change bumps `generation`, so that a request can
 * tell whether the session changed while it was in flight (a refresh by another request or
 * another tab) and retry with the new one instead of refreshing again.
 */
export class SessionState {
  readonly #storage: TokenStorage;
  readonly #listeners = new Set<() => void>();
  #session: StoredSession | null = null;
  #generation = 0;

  constructor(storage: TokenStorage) {
    this.#storage = storage;
  }

  get session(): StoredSession | null {
    return this.#session;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Reads the storage; a session another tab or run stored there replaces the one held. */
  async load(): Promise<void> {
    const stored = await this.#storage.get();
    if (!sameSession(stored, this.#session)) this.#change(stored);
  }

  /** Replaces the session and stores it. */
  async set(session: StoredSession | null): Promise<void> {
    this.#change(session);
    await this.#storage.set(session);
  }

  /** Calls `listener` after every change. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #change(session: StoredSession | null): void {
    this.#session = session;
    this.#generation++;
    for (const listener of [...this.#listeners]) listener();
  }
}

function sameSession(a: StoredSession | null, b: StoredSession | null): boolean {
  if (a === null || b === null) return a === b;
  return a.accessToken === b.accessToken && a.refreshToken === b.refreshToken && a.user?.id === b.user?.id;
}
