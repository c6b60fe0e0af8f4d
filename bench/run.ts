/**
 * `npm run bench`: builds the gateway and the bench scripts, runs the selected cases one after
 * another (each starts its own servers and load processes and stops them), and writes
 * bench/results.md. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_ARGON2 } from '../src/config.js';
import { apolloPeer } from './cases/apollo-peer.js';
import type { BenchCase, ResultRow } from './cases/case.js';
import { ceilingAndMe } from './cases/ceiling-and-me.js';
import { costGrowth } from './cases/cost-growth.js';
import { federation } from './cases/federation.js';
import { loginThroughput } from './cases/login-throughput.js';
import { loginTiming } from './cases/login-timing.js';
import { refreshRotation } from './cases/refresh-rotation.js';
import { websocketConnections } from './cases/websocket-connections.js';
import { describeMachine } from './lib/machine.js';
import { type BenchOptions, type CaseId, parseOptions, UsageError } from './lib/options.js';
import { PROJECT_ROOT } from './lib/processes.js';
import { type CaseTiming, renderReport, resultsTable } from './lib/report.js';

/** Every case, in the order of their numbers. A new case is a module in bench/cases/ added here. */
const CASES: readonly BenchCase[] = [ceilingAndMe, apolloPeer, refreshRotation, loginThroughput, costGrowth, websocketConnections, loginTiming, federation];

/** How soon after a Ctrl-C another SIGINT is taken as a relayed copy of it. */
const SIGNAL_RELAY_WINDOW_MS = 1_000;

function build(): void {
  console.log('building the gateway and the bench scripts (tsc -p bench/tsconfig.build.json)');
  const tsc = spawnSync(
    process.execPath,
    [join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(PROJECT_ROOT, 'bench', 'tsconfig.build.json')],
    {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    },
  );
  // tsc emits despite type errors; someone's unfinished file elsewhere should not stop a bench.
  if (tsc.status !== 0) console.warn(`tsc reported errors (the build was emitted anyway):\n${tsc.stdout}${tsc.stderr}`);
}

async function runCase(benchCase: BenchCase, options: BenchOptions, selected: ReadonlySet<CaseId>): Promise<{ rows: ResultRow[]; timing: CaseTiming }> {
  const started = performance.now();
  const log = (message: string) => console.log(`  [${benchCase.ids.join('+')}] ${message}`);
  console.log(`\n${benchCase.ids.join(', ')}: ${benchCase.title}`);
  try {
    const rows = await benchCase.run({ options, log }, selected);
    return { rows, timing: { title: benchCase.title, seconds: (performance.now() - started) / 1000 } };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? String(error);
    console.error(`  ${benchCase.title} failed:`, error);
    const rows = [...selected].map((caseId): ResultRow => ({ caseId, label: benchCase.title, unit: 'ratio', figure: null, note: `error: ${message}` }));
    return { rows, timing: { title: benchCase.title, seconds: (performance.now() - started) / 1000, error: message } };
  }
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const machine = describeMachine();
  const startedAt = new Date();
  if (options.build) build();

  // Ctrl-C reaches the servers and load drivers too (same process group), so the running case
  // fails; its finally blocks still stop what is left and drop its databases. Then stop, without
  // overwriting the results file with a partial run. A second Ctrl-C exits at once; copies of
  // the first one relayed by npm and tsx arrive within milliseconds and are not a second one.
  let interruptedAt: number | undefined;
  process.on('SIGINT', () => {
    const now = performance.now();
    if (interruptedAt !== undefined) {
      if (now - interruptedAt > SIGNAL_RELAY_WINDOW_MS) process.exit(130);
      return;
    }
    interruptedAt = now;
    console.error('\ninterrupted: cleaning up (Ctrl-C again to exit at once)');
  });

  const rows: ResultRow[] = [];
  const timings: CaseTiming[] = [];
  for (const benchCase of CASES) {
    const selected = new Set(benchCase.ids.filter((id) => options.only.has(id)));
    if (selected.size === 0) continue;
    const outcome = await runCase(benchCase, options, selected);
    if (interruptedAt !== undefined) process.exit(130);
    rows.push(...outcome.rows);
    timings.push(outcome.timing);
  }
  rows.sort((a, b) => a.caseId.localeCompare(b.caseId));

  const out = resolve(PROJECT_ROOT, options.out);
  const { memoryKiB, iterations, parallelism } = DEFAULT_ARGON2;
  writeFileSync(
    out,
    renderReport({
      machine,
      options,
      startedAt,
      finishedAt: new Date(),
      loadAverageAtEnd: loadavg()[0] ?? 0,
      argon2: `m=${memoryKiB} KiB, t=${iterations}, p=${parallelism} (the defaults)`,
      rows,
      timings,
    }),
  );
  console.log(`\n${resultsTable(rows)}\n\nwritten to ${out}`);
}

await main();
