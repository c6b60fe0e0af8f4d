import { type Client, type ClientOptions, createClient, NetworkError } from 'graphql-sse';
import { backoff, type ConnectionCredentials, RefreshUnavailableError } from './connection-credentials.js';
import type { SignedOutReason } from './types.js';

const SESSION_ENDING_REASONS = new Set<string>(['SESSION_REVOKED', 'USER_NOT_FOUND', 'REFRESH_TOKEN_REUSED']);

/**
 * A graphql-sse client (distinct connections mode) that keeps its subscriptions across token
 * expiries. The gateway cuts an SSE stream whose token expired, which graphql-sse reads as a
 * network error and reconnects from, calling `headers` again: here that refreshes the token
 * first, and a reconnection at expiry starts at once. graphql-sse counts retries only until a
 * result arrives, and a quiet subscription can outlive many tokens, so retries are unbounded,
 * with backoff capped at 30 s for other failures. A stream ended with a session-ending error
 * (SESSION_REVOKED, USER_NOT_FOUND) ends the session. `options` are graphql-sse's; their
 * `headers` are sent beside the credential and their `on` listeners still run.
 */
export function createSessionSseClient(credentials: ConnectionCredentials, options: Partial<ClientOptions>): Client {
  const { headers: extraHeaders, on, ...rest } = options;
  return createClient({
    url: credentials.url,
    credentials: credentials.cookies ? 'include' : 'omit',
    fetchFn: credentials.fetch,
    retryAttempts: Number.POSITIVE_INFINITY,
    retry: async (retries) => {
      if (credentials.expiresSoon()) return;
      await backoff(retries);
    },
    ...rest,
    headers: async (request) => {
      const extra = typeof extraHeaders === 'function' ? await extraHeaders(request) : extraHeaders;
      try {
        const { token } = await credentials.tokenForConnection();
        return { ...extra, ...(token === null ? {} : { authorization: `Bearer ${token}` }) };
      } catch (error) {
        // graphql-sse retries network errors only.
        if (error instanceof RefreshUnavailableError) throw new NetworkError(error);
        throw error;
      }
    },
    on: {
      ...on,
      message: (message) => {
        const reason = sessionEndingReason(message.data);
        if (reason !== undefined) credentials.endedByGateway(reason);
        on?.message?.(message);
      },
    },
  });
}

/** The reason of a session-ending UNAUTHENTICATED error in a streamed result, or undefined. */
function sessionEndingReason(data: unknown): SignedOutReason | undefined {
  const errors = (data as { errors?: { extensions?: { code?: unknown; reason?: unknown } }[] } | null)?.errors;
  const reason = errors?.find((error) => error.extensions?.code === 'UNAUTHENTICATED')?.extensions?.reason;
  return typeof reason === 'string' && SESSION_ENDING_REASONS.has(reason) ? (reason as SignedOutReason) : undefined;
}
