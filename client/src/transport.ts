import { type GraphQLErrorLike, GraphQLRequestError } from './errors.js';
import type { Delivery } from './types.js';

/** A GraphQL answer over HTTP. */
export interface GraphQLAnswer<TData = unknown> {
  readonly status: number;
  readonly data?: TData | null;
  readonly errors?: readonly GraphQLErrorLike[];
}

export interface TransportOptions {
  readonly url: string;
  readonly delivery: Delivery;
  readonly fetch: typeof fetch;
}

/**
 * Sends GraphQL over HTTP the way the gateway expects a client of each mode to: body mode with
 * the access token as a Bearer header and no cookies; cookie mode with the cookies (also
 * across origins: `credentials: 'include'`) and no header. A JSON POST is not a "simple"
 * request, so it passes the gateway's CSRF prevention as it is.
 */
export class Transport {
  readonly #options: TransportOptions;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /** The init of a request carrying the session: `accessToken` in body mode, the cookies in cookie mode. */
  withSession(init: RequestInit, accessToken: string | null): RequestInit {
    if (this.#options.delivery === 'cookie') return { ...init, credentials: 'include' };
    const headers = new Headers(init.headers);
    if (accessToken !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${accessToken}`);
    return { ...init, headers, credentials: 'omit' };
  }

  /** POSTs an operation; resolves to the answer whatever its errors, rejects on a network failure or a body that is not JSON. */
  async post<TData>(query: string, variables: Record<string, unknown> | undefined, accessToken: string | null): Promise<GraphQLAnswer<TData>> {
    const init = this.withSession(
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
        body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
      },
      accessToken,
    );
    const response = await this.#options.fetch(this.#options.url, init);
    let body: { data?: TData | null; errors?: GraphQLErrorLike[] };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new GraphQLRequestError([{ message: `The gateway answered ${response.status} without a GraphQL response` }], response.status);
    }
    return { status: response.status, data: body.data, errors: body.errors };
  }
}
