import type { Caller } from '../auth/caller.js';
import type { UnauthenticatedReason } from '../errors.js';
import type { EndReason } from './live-connections.js';

/** How the gateway closes a WebSocket: the status code and the reason text the client sees. */
export interface WebSocketClose {
  readonly code: number;
  readonly reason: string;
}

/*
 * The codes are chosen for graphql-ws's client (6.x, `shouldRetryConnectOrThrow` in its
 * client.js): it gives up at once on 4004, 4005, 4400, 4401, 4406, 4409, 4429, 4500 and the
 * 1xxx codes other than 1000, 1001, 1005, 1006, 1012, 1013 and 1014; after any other close it
 * reconnects with backoff (up to `retryAttempts`), calling an async `connectionParams` again
 * for the new connection. So what a new connection can cure is closed with a retried code
 * (4403, 1013) and what it cannot with a final one (4401), the reason text saying which. 4403
 * for an expired token is graphql-ws's own token-refresh recipe.
 */

/** A session's access token expired: reconnect with a fresh one (retried). */
export const TOKEN_EXPIRED_CLOSE: WebSocketClose = Object.freeze({ code: 4403, reason: 'Token expired' });
/** No credential at connection_init: one may come with the next connection's connectionParams (retried). */
export const AUTHENTICATION_REQUIRED_CLOSE: WebSocketClose = Object.freeze({ code: 4403, reason: 'Authentication required' });
/** The user is at MAX_CONNECTIONS_PER_USER: 1013 Try Again Later (RFC 6455 §7.4.1), retried with backoff. */
export const TOO_MANY_CONNECTIONS_CLOSE: WebSocketClose = Object.freeze({ code: 1013, reason: 'Too many connections for this account' });
/** The credential could not be checked (a store failing): a temporary condition, retried with backoff. */
export const TRY_AGAIN_LATER_CLOSE: WebSocketClose = Object.freeze({ code: 1013, reason: 'Try again later' });

const UNAUTHORIZED = 4401;

/** The close for a connection whose credential stopped holding while it was open. */
export function closeForEnd(reason: EndReason, caller: Caller): WebSocketClose {
  return closeForRefusal(reason, caller.kind === 'pat');
}

/**
 * The close for a credential refused (at connection_init, or later as `closeForEnd`). Only a
 * session's expired access token is retried: a personal access token does not change on
 * reconnecting, and a revoked or deleted credential stays so.
 */
export function closeForRefusal(reason: UnauthenticatedReason, personalAccessToken: boolean): WebSocketClose {
  switch (reason) {
    case 'TOKEN_MISSING':
      return AUTHENTICATION_REQUIRED_CLOSE;
    case 'TOKEN_EXPIRED':
      return personalAccessToken ? { code: UNAUTHORIZED, reason: 'Personal access token expired' } : TOKEN_EXPIRED_CLOSE;
    case 'SESSION_REVOKED':
    case 'REFRESH_TOKEN_REUSED':
      return { code: UNAUTHORIZED, reason: personalAccessToken ? 'Personal access token revoked' : 'Session revoked' };
    case 'USER_NOT_FOUND':
      return { code: UNAUTHORIZED, reason: 'Account deleted' };
    case 'TOKEN_INVALID':
      return { code: UNAUTHORIZED, reason: 'Invalid credential' };
  }
}
