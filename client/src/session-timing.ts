import type { StoredSession } from './types.js';

/** A reconnection refreshes a token expiring within this at least (bounded by the lifetime, as the request margin). */
const REALTIME_MIN_MARGIN_MS = 5_000;

export interface SessionTimingOptions {
  /** The fraction of the lifetime at which the background refresh runs. */
  readonly refreshAt: number;
  /** How long before expiry a request refreshes first. */
  readonly marginMs: number;
  readonly now: () => number;
}

/**
 * When a session's token is refreshed: in the background at `refreshAt` of its lifetime, and
 * before a request within the margin, which is never more than the part of the lifetime after
 * the refresh point (with 10 s tokens, the last 2 s), so that short-lived tokens are not
 * refreshed by every request.
 */
export class SessionTiming {
  readonly #options: SessionTimingOptions;

  constructor(options: SessionTimingOptions) {
    this.#options = Object.freeze({ ...options });
  }

  /** When the background refresh is due (the margin before expiry for a token of unknown lifetime). */
  refreshPoint(session: StoredSession): number {
    const lifetime = lifetimeOf(session);
    if (lifetime === undefined || session.accessTokenIssuedAt === undefined) return session.accessTokenExpiresAt - this.#options.marginMs;
    return session.accessTokenIssuedAt + lifetime * this.#options.refreshAt;
  }

  /** True when a request should refresh first. */
  dueBeforeRequest(session: StoredSession): boolean {
    return this.expiresWithin(session, this.#withinTail(session, this.#options.marginMs));
  }

  /** True when a new realtime connection should refresh first: the request margin, at least 5 s within the tail. */
  dueBeforeConnection(session: StoredSession): boolean {
    return this.expiresWithin(session, this.#withinTail(session, Math.max(this.#options.marginMs, REALTIME_MIN_MARGIN_MS)));
  }

  expiresWithin(session: StoredSession, marginMs: number): boolean {
    return session.accessTokenExpiresAt - this.#options.now() <= marginMs;
  }

  #withinTail(session: StoredSession, marginMs: number): number {
    const lifetime = lifetimeOf(session);
    return lifetime === undefined ? marginMs : Math.min(marginMs, lifetime - lifetime * this.#options.refreshAt);
  }
}

function lifetimeOf(session: StoredSession): number | undefined {
  return session.accessTokenIssuedAt === undefined ? undefined : session.accessTokenExpiresAt - session.accessTokenIssuedAt;
}
