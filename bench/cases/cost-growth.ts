import { registerAccount } from '../lib/accounts.js';
import { type BenchDialect, createBenchDatabase, postgresUnavailableReason } from '../lib/bench-database.js';
import { graphqlBody, probe, runLoad, warmUp } from '../lib/load.js';
import type { LoadSpec } from '../lib/load-spec.js';
import { ME_QUERY } from '../lib/operations.js';
import { type SeededSessions, seedSessions } from '../lib/session-seeder.js';
import { Teardown } from '../lib/teardown.js';
import { startGateway, type GatewayServer } from '../servers/gateway.js';
import {
  type BenchCase,
  type BenchContext,
  below,
  DIALECT_NAMES,
  inAlternatingOrder,
  measurePerDialect,
  type ResultRow,
  Samples,
  unavailableRow,
} from './case.js';
import { chainTokenCount, refreshChainSpec } from './refresh-rotation.js';

const FLAT_GOAL = 1.2;

/** A gateway over a database seeded with a number of sessions, and the seeded tokens not yet spent. */
interface SeededGateway {
  readonly gateway: GatewayServer;
  readonly seeded: SeededSessions;
  readonly me: LoadSpec;
  /** Seeded refresh tokens for chains, each handed out once, spread over the whole table. */
  takeTokens(count: number): string[];
}

/**
 * Case 6: refresh and `me` latency (p50) with a small and a large number of sessions in the
 * table. Both gateways run side by side and each run measures both, so the ratio large/small
 * comes from the same run. Refresh chains start from seeded sessions spread over the table.
 */
export const costGrowth: BenchCase = {
  ids: ['case6'],
  title: 'Cost growth with the sessions table',
  run: (context) => measurePerDialect(context, measureDialect),
};

async function measureDialect({ options, log }: BenchContext, dialect: BenchDialect): Promise<ResultRow[]> {
  const name = DIALECT_NAMES[dialect];
  const [small, large] = options.sessionCounts;
  const sizes = `${small.toLocaleString('en-US')} vs ${large.toLocaleString('en-US')} sessions`;
  if (dialect === 'postgres') {
    const reason = await postgresUnavailableReason(options.postgresUrl);
    if (reason) return [unavailableRow('case6', `${name}, ${sizes}`, 'ratio', reason)];
  }
  const opened: SeededGateway[] = [];
  const teardown = new Teardown();
  try {
    for (const count of [small, large]) {
      log(`${name}: seeding ${count.toLocaleString('en-US')} sessions`);
      const seeded = await startSeededGateway(teardown, dialect, count, options.postgresUrl, options.connections, options.durationSeconds);
      log(`${name}: seeded ${count.toLocaleString('en-US')} sessions in ${seeded.seeded.seconds.toFixed(1)} s`);
      opened.push(seeded);
    }
    const [few, many] = opened as [SeededGateway, SeededGateway];
    const refresh = (target: SeededGateway, seconds: number) =>
      refreshChainSpec(target.gateway.url, options.connections, seconds, target.takeTokens(chainTokenCount(options.connections)));
    for (const target of opened) {
      await probe(target.me);
      await warmUp(target.me, options.warmupSeconds);
      if (options.warmupSeconds > 0) await warmUp(refresh(target, options.warmupSeconds), options.warmupSeconds);
    }
    const samples = new Samples();
    for (let run = 1; run <= options.runs; run++) {
      log(`${name}: run ${run}/${options.runs}`);
      for (const [size, target] of inAlternatingOrder(run, [
        ['small', few],
        ['large', many],
      ] as const)) {
        samples.addLoad(`refresh.${size}`, await runLoad(refresh(target, options.durationSeconds)));
      }
      samples.addRatio('refresh.ratio', 'refresh.large.p50', 'refresh.small.p50');
      for (const [size, target] of inAlternatingOrder(run, [
        ['small', few],
        ['large', many],
      ] as const)) {
        samples.addLoad(`me.${size}`, await runLoad(target.me));
      }
      samples.addRatio('me.ratio', 'me.large.p50', 'me.small.p50');
    }
    const goal = below(FLAT_GOAL, `< ${FLAT_GOAL}`);
    const smallLabel = `${small.toLocaleString('en-US')} sessions`;
    const largeLabel = `${large.toLocaleString('en-US')} sessions`;
    return [
      samples.row('case6', `${name}: refresh p50 latency, ${smallLabel}`, 'ms', 'refresh.small.p50'),
      samples.row('case6', `${name}: refresh p50 latency, ${largeLabel}`, 'ms', 'refresh.large.p50'),
      samples.row('case6', `${name}: refresh latency, ${largeLabel} / ${smallLabel}`, 'ratio', 'refresh.ratio', goal),
      samples.row('case6', `${name}: me p50 latency, ${smallLabel}`, 'ms', 'me.small.p50'),
      samples.row('case6', `${name}: me p50 latency, ${largeLabel}`, 'ms', 'me.large.p50'),
      samples.row('case6', `${name}: me latency, ${largeLabel} / ${smallLabel}`, 'ratio', 'me.ratio', goal),
    ];
  } finally {
    await teardown.run();
  }
}

async function startSeededGateway(
  teardown: Teardown,
  dialect: BenchDialect,
  count: number,
  postgresUrl: string,
  connections: number,
  durationSeconds: number,
): Promise<SeededGateway> {
  const database = teardown.add(await createBenchDatabase(dialect, postgresUrl), (db) => db.drop());
  const seeded = await seedSessions(database, count);
  const gateway = teardown.add(await startGateway(database), (server) => server.stop());
  const account = await registerAccount(gateway.url);
  const me: LoadSpec = {
    url: gateway.url,
    connections,
    durationSeconds,
    headers: { authorization: `Bearer ${account.accessToken}` },
    body: graphqlBody(ME_QUERY),
    expect: { kind: 'data' },
  };
  return { gateway, seeded, me, takeTokens: spreadTokenDealer(seeded) };
}

/**
 * Hands out seeded tokens by stepping through the indexes with a stride coprime to the count,
 * so that successive chains start all over the table rather than at its newest rows, and no
 * token is handed out twice.
 */
function spreadTokenDealer(seeded: SeededSessions): (count: number) => string[] {
  const total = seeded.count;
  let stride = Math.max(1, Math.floor(total * 0.618));
  while (gcd(stride, total) !== 1) stride++;
  let dealt = 0;
  return (count) => {
    if (dealt + count > total) throw new Error(`only ${total} seeded sessions; raise the small session count`);
    const tokens: string[] = [];
    for (let i = 0; i < count; i++, dealt++) tokens.push(seeded.refreshToken(1 + ((dealt * stride) % total)));
    return tokens;
  };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
