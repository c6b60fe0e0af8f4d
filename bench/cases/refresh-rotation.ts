import { freshRefreshTokens } from '../lib/accounts.js';
import { type BenchDialect, postgresUnavailableReason } from '../lib/bench-database.js';
import { graphqlBody, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { REFRESH_MUTATION, TYPENAME_QUERY } from '../lib/operations.js';
import { compiledBenchScript, startServerProcess } from '../lib/processes.js';
import { Teardown } from '../lib/teardown.js';
import { gatewayWithAccount } from '../servers/gateway.js';
import {
  atLeast,
  type BenchCase,
  type BenchContext,
  DIALECT_NAMES,
  inAlternatingOrder,
  measurePerDialect,
  type ResultRow,
  Samples,
  unavailableRow,
} from './case.js';

const SQLITE_GOAL = 2_000;
/** Issue 12: refresh on SQLite against the ceiling (bare Yoga, `{ __typename }`) measured in the same run. */
const SQLITE_CEILING_RATIO_GOAL = 0.45;

/**
 * A refresh load: every connection chains its own session's tokens (see load-driver.ts), and
 * half as many spare sessions again stand by for chains that break.
 */
export function refreshChainSpec(url: string, connections: number, durationSeconds: number, tokens: readonly string[]): LoadSpec {
  return {
    url,
    connections,
    durationSeconds,
    headers: {},
    body: graphqlBody(REFRESH_MUTATION),
    expect: { kind: 'data' },
    refreshChain: { tokens },
  };
}

export function chainTokenCount(connections: number): number {
  return connections + Math.ceil(connections / 2);
}

/** Case 4: refresh rotations per second and their p99 latency, on SQLite and on PostgreSQL. */
export const refreshRotation: BenchCase = {
  ids: ['case4'],
  title: 'Refresh rotations',
  run: (context) => measurePerDialect(context, measureDialect),
};

async function measureDialect({ options, log }: BenchContext, dialect: BenchDialect): Promise<ResultRow[]> {
  const name = DIALECT_NAMES[dialect];
  const goal = dialect === 'sqlite' ? atLeast(SQLITE_GOAL, `≥ ${SQLITE_GOAL.toLocaleString('en-US')}/s`) : undefined;
  if (dialect === 'postgres') {
    const reason = await postgresUnavailableReason(options.postgresUrl);
    if (reason) return [unavailableRow('case4', `Refresh rotations, ${name}`, 'req/s', reason)];
  }
  const teardown = new Teardown();
  try {
    const { gateway, account } = await gatewayWithAccount(teardown, dialect, options.postgresUrl);
    const spec = async (durationSeconds: number) =>
      refreshChainSpec(gateway.url, options.connections, durationSeconds, await freshRefreshTokens(gateway.url, account, chainTokenCount(options.connections)));
    // On SQLite the ceiling is measured in the same runs, alternating, for the ratio.
    const ceiling = dialect === 'sqlite' ? await startCeiling(teardown, options.connections, options.durationSeconds) : undefined;
    if (options.warmupSeconds > 0) await warmUp(await spec(options.warmupSeconds), options.warmupSeconds);
    if (ceiling && options.warmupSeconds > 0) await warmUp(ceiling, options.warmupSeconds);
    const samples = new Samples();
    for (let run = 1; run <= options.runs; run++) {
      log(`${name}: run ${run}/${options.runs}`);
      // Fresh sessions per run: a run that ends mid-request leaves that chain's token spent.
      const refresh = await spec(options.durationSeconds);
      const loads = [{ key: 'refresh', spec: refresh }, ...(ceiling ? [{ key: 'ceiling', spec: ceiling }] : [])];
      for (const load of inAlternatingOrder(run, loads)) samples.addLoad(load.key, await runLoad(load.spec));
      if (ceiling) samples.addRatio('refresh.ratio', 'refresh.rps', 'ceiling.rps');
    }
    return [
      samples.row('case4', `Refresh rotations, ${name}`, 'req/s', 'refresh.rps', goal),
      samples.row('case4', `Refresh rotations, ${name}: p99 latency`, 'ms', 'refresh.p99'),
      ...(ceiling
        ? [
            samples.row('case4', 'Ceiling in the same runs: bare graphql-yoga, { __typename }', 'req/s', 'ceiling.rps'),
            samples.row(
              'case4',
              `Refresh rotations, ${name} / ceiling`,
              'ratio',
              'refresh.ratio',
              atLeast(SQLITE_CEILING_RATIO_GOAL, `≥ ${SQLITE_CEILING_RATIO_GOAL}`),
            ),
          ]
        : []),
    ];
  } finally {
    await teardown.run();
  }
}

/** Bare Yoga (case 1's ceiling) in its own process, and its load. */
async function startCeiling(teardown: Teardown, connections: number, durationSeconds: number): Promise<LoadSpec> {
  const yoga = teardown.add(
    await startServerProcess({ script: compiledBenchScript('servers/bare-yoga.ts'), env: { NODE_ENV: 'production' }, readiness: { kind: 'ready-line' } }),
    (server) => server.stop(),
  );
  return { url: `${yoga.origin}/graphql`, connections, durationSeconds, headers: {}, body: graphqlBody(TYPENAME_QUERY), expect: { kind: 'data' } };
}
