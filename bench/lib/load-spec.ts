/**
 * What the harness asks of the load driver (bench/lib/load-driver.ts) and what it answers.
 * Both sides import this file; the spec travels as JSON on the driver's stdin.
 */

/**
 * How a response is judged: data without errors, exactly a given body (where two servers must
 * answer the same, byte for byte), or a GraphQL error with a given code.
 */
export type ResponseExpectation =
  | { readonly kind: 'data' }
  | { readonly kind: 'exact'; readonly body: string }
  | { readonly kind: 'error'; readonly code: string };

/**
 * Refresh-token chaining: each connection starts from its own token and sends, with every
 * request, the token returned by its previous response (a refresh token is single-use).
 */
export interface RefreshChain {
  /** Initial tokens: one per connection, the rest kept as spares for chains that break. */
  readonly tokens: readonly string[];
}

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Requests per second across all connections; unset means as fast as the server answers. */
  readonly overallRate?: number;
  readonly headers: Readonly<Record<string, string>>;
  /** GraphQL request body (JSON); for a chain, the body with `$refreshToken` filled in per request. */
  readonly body: string;
  readonly expect: ResponseExpectation;
  readonly refreshChain?: RefreshChain;
}

export interface LoadResult {
  /** autocannon's average of its per-second request counts. */
  readonly requestsPerSecond: number;
  readonly totalRequests: number;
  /** Per-response latencies measured by the driver (see load-driver.ts), milliseconds. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly average: number; readonly max: number };
  /** Requests that failed: connection errors, timeouts, answers without the expected body. */
  readonly failures: number;
  readonly failureDetail: { readonly errors: number; readonly timeouts: number; readonly non2xx: number; readonly mismatches: number };
  /** Chains that lost their token (refresh only) and continued from a spare. */
  readonly brokenChains: number;
}

/**
 * Whether a response body is the expected answer: a cheap textual check, since it runs for
 * every response inside the load driver.
 */
export function answerMatches(expect: ResponseExpectation, body: string): boolean {
  if (expect.kind === 'data') return body.startsWith('{"data":') && !body.includes('"errors":');
  if (expect.kind === 'exact') return body === expect.body;
  return body.includes(`"code":"${expect.code}"`);
}
