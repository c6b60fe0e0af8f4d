import { answerMatches, type LoadResult, type LoadSpec } from './load-spec.js';
import { compiledBenchScript, runJsonProcess } from './processes.js';

/** Drives a server for the spec's duration from a separate load-driver process. */
export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return runJsonProcess<LoadResult>(compiledBenchScript('lib/load-driver.ts'), spec);
}

/** Unrecorded load, so that the measured runs do not pay for JIT compilation and cold caches. */
export async function warmUp(spec: LoadSpec, seconds: number): Promise<void> {
  if (seconds > 0) await runLoad({ ...spec, durationSeconds: seconds });
}

/**
 * Sends the spec's request once and checks that the answer is the expected one, so that a
 * case never measures how fast a server refuses it. Not for chained specs (tokens are single-use).
 */
export async function probe(spec: LoadSpec): Promise<void> {
  const response = await fetch(spec.url, { method: 'POST', headers: { 'content-type': 'application/json', ...spec.headers }, body: spec.body });
  const body = await response.text();
  if (!answerMatches(spec.expect, body)) {
    throw new Error(`unexpected answer from ${spec.url}: HTTP ${response.status}, ${describeAnswer(body)}`);
  }
}

/** What an answer was, without echoing it: it may hold tokens. */
function describeAnswer(body: string): string {
  try {
    const parsed = JSON.parse(body) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    if (parsed.errors?.length) return `error ${parsed.errors[0]?.extensions?.code ?? 'without code'}`;
    return parsed.data ? 'data other than the expected answer' : 'neither data nor errors';
  } catch {
    return 'not JSON';
  }
}

/** The JSON body of a GraphQL request. */
export function graphqlBody(query: string, variables?: Record<string, unknown>): string {
  return JSON.stringify(variables === undefined ? { query } : { query, variables });
}
