import { type Client, type ClientOptions, createClient } from 'graphql-ws';
import { backoff, type ConnectionCredentials, RefreshUnavailableError } from './connection-credentials.js';
import { GraphQLRequestError, NotSignedInError } from './errors.js';
import type { SignedOutReason } from './types.js';

/** The gateway's close for an expired access token: graphql-ws retries it. */
export const TOKEN_EXPIRED_CLOSE_CODE = 4403;
const TOKEN_EXPIRED_CLOSE_REASON = 'Token expired';

/** The gateway's final closes (4401) that end the session, by reason text. */
const SESSION_ENDING_CLOSES: Readonly<Record<string, SignedOutReason>> = {
  'Session revoked': 'SESSION_REVOKED',
  'Account deleted': 'USER_NOT_FOUND',
};

/**
 * A graphql-ws client that keeps its subscriptions across token expiries. graphql-ws itself
 * reconnects after the gateway's 4403 ("Token expired") and calls `connectionParams` for the
 * new connection; here that refreshes the token first (once, however many clients reconnect)
 * and the first reconnection after an expiry starts at once instead of after graphql-ws's
 * backoff; socket errors are retried as closes are. The final 4401 of a revoked session or a
 * deleted account ends the session.
 * `options` are graphql-ws's: `webSocketImpl` is needed in Node before 22 (the `ws` package);
 * their `connectionParams` are sent beside the credential and their `on` listeners still run.
 */
export function createSessionWsClient(credentials: ConnectionCredentials, options: Partial<ClientOptions>): Client {
  const { connectionParams: extraParams, on, ...rest } = options;
  /** The session generation the open (or last) connection authenticated with. */
  let connectedGeneration: number | undefined;
  let expired = false;

  return createClient({
    url: credentials.wsUrl,
    // graphql-ws's default retries close events only; a socket error (the gateway restarting,
    // the network gone) is worth retrying too, the session having ended is not. Its fatal close
    // codes stay fatal whatever this says.
    shouldRetry: (reason) => !(reason instanceof NotSignedInError || reason instanceof GraphQLRequestError),
    retryWait: async (retries) => {
      if (retries === 0 && expired) return;
      await backoff(retries);
    },
    ...rest,
    connectionParams: async () => {
      const extra = typeof extraParams === 'function' ? await extraParams() : extraParams;
      const refused = expired ? connectedGeneration : undefined;
      expired = false;
      let token: string | null;
      try {
        ({ token, generation: connectedGeneration } = await credentials.tokenForConnection(refused));
      } catch (error) {
        if (!(error instanceof RefreshUnavailableError)) throw error;
        // Present what there is: the gateway refuses it with 4403 and graphql-ws retries with backoff.
        token = null;
      }
      return { ...extra, ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
    },
    on: {
      ...on,
      closed: (event) => {
        const { code, reason } = event as { code?: number; reason?: string };
        expired = code === TOKEN_EXPIRED_CLOSE_CODE && reason === TOKEN_EXPIRED_CLOSE_REASON;
        const ended = code === 4401 && reason !== undefined ? SESSION_ENDING_CLOSES[reason] : undefined;
        if (ended !== undefined) credentials.endedByGateway(ended);
        on?.closed?.(event);
      },
    },
  });
}
