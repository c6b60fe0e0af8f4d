import { freshRefreshTokens } from '../lib/accounts.js';
import { type BenchDialect, postgresUnavailableReason } from '../lib/bench-database.js';
import { graphqlBody, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { REFRESH_MUTATION } from '../lib/operations.js';
import { Teardown } from '../lib/teardown.js';
import { gatewayWithAccount } from '../servers/gateway.js';
import { atLeast, type BenchCase, type BenchContext, DIALECT_NAMES, measurePerDialect, type ResultRow, Samples, unavailableRow } from './case.js';

const SQLITE_GOAL = 2_000;

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
    if (options.warmupSeconds > 0) await warmUp(await spec(options.warmupSeconds), options.warmupSeconds);
    const samples = new Samples();
    for (let run = 1; run <= options.runs; run++) {
      log(`${name}: run ${run}/${options.runs}`);
      // Fresh sessions per run: a run that ends mid-request leaves that chain's token spent.
      samples.addLoad('refresh', await runLoad(await spec(options.durationSeconds)));
    }
    return [
      samples.row('case4', `Refresh rotations, ${name}`, 'req/s', 'refresh.rps', goal),
      samples.row('case4', `Refresh rotations, ${name}: p99 latency`, 'ms', 'refresh.p99'),
    ];
  } finally {
    await teardown.run();
  }
}
