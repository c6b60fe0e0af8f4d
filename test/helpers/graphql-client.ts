import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type GraphQLFormattedError, print } from 'graphql';
import { CookieJar } from 'tough-cookie';

export interface GraphQLResponse<TData> {
  readonly status: number;
  readonly headers: Headers;
  readonly data: TData | null | undefined;
  readonly errors: readonly GraphQLFormattedError[] | undefined;
}

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** Send no cookies from the jar (the jar still stores what comes back). */
  readonly withoutCookies?: boolean;
}

/**
 * A GraphQL-over-HTTP client with a real cookie jar, as a browser would keep one: Set-Cookie
 * headers are stored with their attributes and sent back where they apply.
 */
export class GraphQLClient {
  readonly jar = new CookieJar();
  readonly #url: string;
  readonly #headers: Record<string, string>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.#url = url;
    this.#headers = headers;
  }

  /** Runs a typed operation. */
  request<TData, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TData, TVariables>,
    variables?: TVariables,
    options?: RequestOptions,
  ): Promise<GraphQLResponse<TData>> {
    return this.raw<TData>(print(document), variables, options);
  }

  /** Runs a query given as text. */
  async raw<TData = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    options: RequestOptions = {},
  ): Promise<GraphQLResponse<TData>> {
    const response = await this.post({ query, variables }, options);
    const body = (await response.json()) as { data?: TData | null; errors?: GraphQLFormattedError[] };
    return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
  }

  /** POSTs a JSON body to the endpoint, storing the cookies that come back. */
  async post(body: unknown, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...this.#headers,
      ...options.headers,
    };
    const cookie = options.withoutCookies ? '' : await this.jar.getCookieString(this.#url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(this.#url, { method: 'POST', headers, body: JSON.stringify(body) });
    for (const setCookie of response.headers.getSetCookie()) await this.jar.setCookie(setCookie, this.#url);
    return response;
  }

  /** The value of a cookie the jar holds for the endpoint. */
  async cookie(name: string): Promise<string | undefined> {
    const cookies = await this.jar.getCookies(this.#url);
    return cookies.find((c) => c.key === name)?.value;
  }
}

/** The first error's extensions.code, or undefined. */
export function errorCode(response: GraphQLResponse<unknown>): unknown {
  return response.errors?.[0]?.extensions?.code;
}

/** The first error's extensions.reason, or undefined. */
export function errorReason(response: GraphQLResponse<unknown>): unknown {
  return response.errors?.[0]?.extensions?.reason;
}
