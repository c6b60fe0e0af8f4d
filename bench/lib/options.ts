import type { BenchDialect } from './bench-database.js';

/** Every case, by its number: 1 to 8 from issue 7, 9 from issue 14. */
export const CASE_IDS = ['case1', 'case2', 'case3', 'case4', 'case5', 'case6', 'case7', 'case8', 'case9'] as const;
export type CaseId = (typeof CASE_IDS)[number];

export interface BenchOptions {
  readonly quick: boolean;
  readonly only: ReadonlySet<CaseId>;
  /** Measurements per figure; each figure is reported as their median, min and max. */
  readonly runs: number;
  readonly durationSeconds: number;
  /** Load before the first measurement of each server, not recorded (JIT, caches, pools). */
  readonly warmupSeconds: number;
  /** autocannon connections for throughput cases. */
  readonly connections: number;
  /** Concurrent logins, and concurrent raw Argon2id verifications to compare them with. */
  readonly loginConcurrency: number;
  /** The `me` request rate sent during the login storm. */
  readonly stormMeRate: number;
  /** Session counts for cost growth: [small, large]. */
  readonly sessionCounts: readonly [number, number];
  /** Databases for the refresh and cost growth cases. */
  readonly dialects: readonly BenchDialect[];
  readonly postgresUrl: string;
  /** WebSocket connections opened per run (the memory figure is scaled to 1,000). */
  readonly wsConnections: number;
  readonly build: boolean;
  readonly out: string;
}

export const DEFAULT_RUNS = 5;
export const DEFAULT_DURATION_SECONDS = 10;
export const DEFAULT_WARMUP_SECONDS = 3;
export const DEFAULT_CONNECTIONS = 16;
/** libuv's default thread pool (4), which is where argon2 hashes. */
export const DEFAULT_LOGIN_CONCURRENCY = 4;
export const DEFAULT_STORM_ME_RATE = 200;
export const DEFAULT_SESSION_COUNTS: readonly [number, number] = [10_000, 1_000_000];
export const DEFAULT_WS_CONNECTIONS = 5_000;
export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_OUT = 'bench/results.md';

/** What --quick changes: a smoke run of every case in a couple of minutes, not a measurement. */
const QUICK: Partial<BenchOptions> = {
  runs: 2,
  durationSeconds: 2,
  warmupSeconds: 1,
  sessionCounts: [1_000, 20_000],
  wsConnections: 300,
};

const USAGE = `npm run bench -- [options]
  --quick                 short runs, small seeds: checks the harness end to end
  --only=case1,case4      run only these cases (case1..case9, or 1..9)
  --runs=N                measurements per figure (default ${DEFAULT_RUNS})
  --duration=S            seconds per measurement (default ${DEFAULT_DURATION_SECONDS})
  --warmup=S              unrecorded load before measuring a server (default ${DEFAULT_WARMUP_SECONDS})
  --connections=N         autocannon connections (default ${DEFAULT_CONNECTIONS})
  --login-concurrency=N   concurrent logins and raw verifications (default ${DEFAULT_LOGIN_CONCURRENCY})
  --storm-me-rate=N       me requests per second during the login storm (default ${DEFAULT_STORM_ME_RATE})
  --sessions=SMALL,LARGE  session counts for cost growth (default 10000,1000000)
  --dialects=sqlite,postgres   databases for refresh and cost growth (default both)
  --postgres-url=URL      PostgreSQL server (default $BENCH_POSTGRES_URL or ${DEFAULT_POSTGRES_URL})
  --ws-connections=N      WebSocket connections per run (default ${DEFAULT_WS_CONNECTIONS})
  --no-build              use the existing dist/ build
  --out=PATH              where to write the results (default ${DEFAULT_OUT})`;

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string) {
    super(`${message}\n\n${USAGE}`);
  }
}

/** Reads the command line (`npm run bench -- ...`); throws UsageError naming the bad option. */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): BenchOptions {
  const given = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new UsageError(`unknown argument ${arg}`);
    given.set(match[1]!, match[2] ?? 'true');
  }
  if (given.has('help')) throw new UsageError('usage');
  const quick = given.get('quick') === 'true';
  const base: BenchOptions = {
    quick,
    only: new Set(CASE_IDS),
    runs: DEFAULT_RUNS,
    durationSeconds: DEFAULT_DURATION_SECONDS,
    warmupSeconds: DEFAULT_WARMUP_SECONDS,
    connections: DEFAULT_CONNECTIONS,
    loginConcurrency: DEFAULT_LOGIN_CONCURRENCY,
    stormMeRate: DEFAULT_STORM_ME_RATE,
    sessionCounts: DEFAULT_SESSION_COUNTS,
    dialects: ['sqlite', 'postgres'],
    postgresUrl: env.BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL,
    wsConnections: DEFAULT_WS_CONNECTIONS,
    build: true,
    out: DEFAULT_OUT,
    ...(quick ? QUICK : {}),
  };
  const options = { ...base } as { -readonly [K in keyof BenchOptions]: BenchOptions[K] };
  for (const [name, value] of given) {
    switch (name) {
      case 'quick':
        break;
      case 'only':
        options.only = parseCases(value);
        break;
      case 'runs':
        options.runs = positiveInteger(name, value);
        break;
      case 'duration':
        options.durationSeconds = positiveInteger(name, value);
        break;
      case 'warmup':
        options.warmupSeconds = positiveInteger(name, value, 0);
        break;
      case 'connections':
        options.connections = positiveInteger(name, value);
        break;
      case 'login-concurrency':
        options.loginConcurrency = positiveInteger(name, value);
        break;
      case 'storm-me-rate':
        options.stormMeRate = positiveInteger(name, value);
        break;
      case 'sessions': {
        const counts = value.split(',').map((count) => positiveInteger(name, count));
        if (counts.length !== 2 || counts[0]! >= counts[1]!) throw new UsageError('--sessions takes two counts, the smaller first');
        options.sessionCounts = [counts[0]!, counts[1]!];
        break;
      }
      case 'dialects': {
        const dialects = value.split(',');
        if (dialects.length === 0 || dialects.some((d) => d !== 'sqlite' && d !== 'postgres')) throw new UsageError('--dialects takes sqlite and/or postgres');
        options.dialects = dialects as BenchDialect[];
        break;
      }
      case 'postgres-url':
        options.postgresUrl = value;
        break;
      case 'ws-connections':
        options.wsConnections = positiveInteger(name, value);
        break;
      case 'build':
        break;
      case 'no-build':
        options.build = false;
        break;
      case 'out':
        options.out = value;
        break;
      default:
        throw new UsageError(`unknown option --${name}`);
    }
  }
  return Object.freeze(options);
}

function parseCases(value: string): Set<CaseId> {
  const cases = new Set<CaseId>();
  for (const item of value.split(',')) {
    const id = (/^\d+$/.test(item) ? `case${item}` : item) as CaseId;
    if (!CASE_IDS.includes(id)) throw new UsageError(`--only: unknown case ${item}`);
    cases.add(id);
  }
  return cases;
}

function positiveInteger(name: string, value: string, min = 1): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be a whole number of at least ${min}`);
  return Number(value);
}
