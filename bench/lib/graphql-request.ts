/** One GraphQL request over fetch, for setting benchmarks up (never for measuring). */

export interface GraphQLAnswer<T> {
  readonly status: number;
  readonly data: T | null;
  readonly errors: readonly { message: string; extensions?: { code?: string; reason?: string } }[];
  readonly setCookies: readonly string[];
}

export async function graphqlRequest<T = Record<string, unknown>>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLAnswer<T>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body: { data?: T | null; errors?: GraphQLAnswer<T>['errors'] } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = { errors: [{ message: `HTTP ${response.status}, not JSON` }] };
  }
  return { status: response.status, data: body.data ?? null, errors: body.errors ?? [], setCookies: response.headers.getSetCookie() };
}

/** The error code of an answer's first error, for messages ("INTERNAL", "HTTP 404"). */
export function firstErrorCode(answer: GraphQLAnswer<unknown>): string {
  const first = answer.errors[0];
  return first?.extensions?.code ?? first?.message ?? `HTTP ${answer.status}`;
}

/** The data of an answer that must have succeeded; throws with the error code otherwise. */
export function dataOf<T>(answer: GraphQLAnswer<T>, what: string): T {
  if (answer.data === null || answer.errors.length > 0) throw new Error(`${what} failed: ${firstErrorCode(answer)}`);
  return answer.data;
}
