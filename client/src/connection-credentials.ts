import type { SignedOutReason } from './types.js';

/** The token a new realtime connection presents, and the session state it was read in. */
export interface ConnectionToken {
  readonly token: string | null;
  readonly generation: number;
}

/**
 * What the realtime clients need of the auth client: a fresh token for every connection, and
 * a way to report that the gateway ended the session.
 */
export interface ConnectionCredentials {
  /** The GraphQL endpoint (SSE). */
  readonly url: string;
  /** The same endpoint over WebSocket (ws: or wss:). */
  readonly wsUrl: string;
  readonly cookies: boolean;
  readonly fetch: typeof fetch;
  /**
   * The access token for a new connection, refreshed first when it expires soon, or when the
   * gateway said it expired (`expiredGeneration`: the generation of the token it refused,
   * refreshed unless the session has changed since). Rejects with NotSignedInError without a
   * session, with the refresh's GraphQLRequestError when the gateway ended the session, and
   * with RefreshUnavailableError when the refresh could not be made (the network).
   */
  tokenForConnection(expiredGeneration?: number): Promise<ConnectionToken>;
  /** True when the access token expires within the margin a reconnection refreshes in. */
  expiresSoon(): boolean;
  /** The gateway ended the session on a realtime connection. */
  endedByGateway(reason: SignedOutReason): void;
}

/** A refresh that failed for a reason that may pass (the network, a rate limit): the connection should be retried. */
export class RefreshUnavailableError extends Error {
  override readonly name = 'RefreshUnavailableError';
  constructor(cause: unknown) {
    super('The session could not be refreshed', { cause });
  }
}

/**
 * How long to wait before reconnection `retries` (0-based) after a failure other than an
 * expiry: graphql-ws's and graphql-sse's own randomised exponential backoff, capped at 30 s
 * because these clients keep retrying for as long as the session lasts.
 */
export function backoffDelay(retries: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(retries, 5)) + Math.floor(Math.random() * 2700 + 300);
}

/** Waits backoffDelay(retries). */
export function backoff(retries: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, backoffDelay(retries)));
}
