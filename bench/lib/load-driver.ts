/**
 * The load generator, run as its own process (never inside the server it measures): reads a
 * LoadSpec as JSON on stdin, drives the server with autocannon's programmatic API, and writes
 * one LoadResult as JSON on stdout.
 *
 * The programmatic API rather than the CLI because refresh tokens are single-use: a rotation
 * benchmark must send, on each connection, the token its previous response returned. That
 * needs autocannon's per-request hooks, which only the API offers; the other cases take the
 * same path so that every figure comes from the same generator.
 */
import autocannon from 'autocannon';
import { answerMatches, type LoadResult, type LoadSpec } from './load-spec.js';
import { percentile } from './stats.js';

const REFRESH_TOKEN_IN_BODY = /"refreshToken":"([^"]+)"/;

async function readSpec(): Promise<LoadSpec> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as LoadSpec;
}

/**
 * Gives every connection its own request object whose body carries that connection's current
 * token. Per-connection request objects matter: autocannon's request objects are shared by all
 * connections, and it resets a request's context after each cycle, so the token lives in a
 * closure per connection instead. autocannon calls setupClient while constructing each
 * connection, before its first request is built, so even the first request carries its own token.
 */
function chainingClients(spec: LoadSpec, counter: { broken: number }): (client: autocannon.Client) => void {
  const spares = [...(spec.refreshChain?.tokens ?? [])];
  const template = JSON.parse(spec.body) as { query: string; variables?: Record<string, unknown> };
  return (client) => {
    let token = spares.shift();
    client.setRequests([
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ ...template, variables: { ...template.variables, refreshToken: token } }),
        }),
        onResponse: (_status, body) => {
          const next = REFRESH_TOKEN_IN_BODY.exec(body)?.[1];
          if (next !== undefined) {
            token = next;
          } else {
            counter.broken++;
            token = spares.shift() ?? token;
          }
        },
      },
    ]);
  };
}

async function main(): Promise<void> {
  const spec = await readSpec();
  const chain = { broken: 0 };
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationSeconds,
    ...(spec.overallRate !== undefined ? { overallRate: spec.overallRate } : {}),
    method: 'POST',
    headers: { 'content-type': 'application/json', ...spec.headers },
    body: spec.body,
    verifyBody: (body) => answerMatches(spec.expect, body),
    timeout: 30,
    ...(spec.refreshChain ? { setupClient: chainingClients(spec, chain) } : {}),
  });
  // Every response's own time, with sub-millisecond precision and no coordinated-omission
  // filling: autocannon's histogram keeps whole milliseconds, too coarse for 10% comparisons
  // of latencies around 10 ms.
  const latencies: number[] = [];
  instance.on('response', (_client, _status, _bytes, responseTimeMs) => latencies.push(responseTimeMs));
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const output: LoadResult = {
    requestsPerSecond: result.requests.average,
    totalRequests: result.requests.total,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      average: latencies.reduce((sum, value) => sum + value, 0) / latencies.length,
      max: latencies[latencies.length - 1] ?? Number.NaN,
    },
    // A non-2xx answer is also a mismatch (its body is not the expected one), so it is not added
    // again; and where an error is expected, its HTTP status is the server's business.
    failures: result.errors + result.timeouts + result.mismatches,
    failureDetail: { errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, mismatches: result.mismatches },
    brokenChains: chain.broken,
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

await main();
