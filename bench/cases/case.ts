import type { BenchDialect } from '../lib/bench-database.js';
import type { LoadResult } from '../lib/load-spec.js';
import type { BenchOptions, CaseId } from '../lib/options.js';
import { summarize, type Summary } from '../lib/stats.js';

/** What every case gets from the harness. */
export interface BenchContext {
  readonly options: BenchOptions;
  log(message: string): void;
}

/** A goal from the issue and whether the median met it. */
export interface GoalCheck {
  readonly text: string;
  readonly passed: boolean;
}

/** One line of the results table. */
export interface ResultRow {
  readonly caseId: CaseId;
  readonly label: string;
  readonly unit: Unit;
  /** Null when the figure could not be measured; `note` says why. */
  readonly figure: Summary | null;
  readonly goal?: GoalCheck;
  /** Requests that failed across all runs of this figure (errors, timeouts, wrong answers). */
  readonly failures?: number;
  readonly note?: string;
}

export type Unit = 'req/s' | 'ops/s' | 'conn/s' | 'ms' | 'ratio' | 'MiB' | 's' | '%';

/** A benchmark case: runs its measurements and returns its rows. One module may serve several ids. */
export interface BenchCase {
  readonly ids: readonly CaseId[];
  readonly title: string;
  run(context: BenchContext, selected: ReadonlySet<CaseId>): Promise<ResultRow[]>;
}

/**
 * The values of each figure over the runs of a case, and the failed requests behind them.
 * Ratios are recorded per run, from two measurements of that same run.
 */
export class Samples {
  readonly #values = new Map<string, number[]>();
  readonly #failures = new Map<string, number>();

  add(key: string, value: number, failures = 0): void {
    if (!this.#values.has(key)) this.#values.set(key, []);
    this.#values.get(key)!.push(value);
    this.#failures.set(key, (this.#failures.get(key) ?? 0) + failures);
  }

  /** Records throughput, p50 and p99 of a load run under `key.rps`, `key.p50`, `key.p99`. */
  addLoad(key: string, result: LoadResult): void {
    this.add(`${key}.rps`, result.requestsPerSecond, result.failures);
    this.add(`${key}.p50`, result.latencyMs.p50, result.failures);
    this.add(`${key}.p99`, result.latencyMs.p99, result.failures);
  }

  /** The ratio of two figures of this run (the latest value of each). */
  addRatio(key: string, numeratorKey: string, denominatorKey: string): void {
    const numerator = this.latest(numeratorKey);
    const denominator = this.latest(denominatorKey);
    this.add(key, numerator / denominator, (this.#failures.get(numeratorKey) ?? 0) + (this.#failures.get(denominatorKey) ?? 0));
  }

  latest(key: string): number {
    const values = this.#values.get(key);
    if (!values || values.length === 0) throw new Error(`no sample ${key}`);
    return values[values.length - 1]!;
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  summary(key: string): Summary {
    const values = this.#values.get(key);
    if (!values) throw new Error(`no samples for ${key}`);
    return summarize(values);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** A table row for a figure; a goal, if given, is judged on the median. */
  row(caseId: CaseId, label: string, unit: Unit, key: string, goal?: (median: number) => GoalCheck, note?: string): ResultRow {
    const figure = this.summary(key);
    const failures = this.failures(key);
    return {
      caseId,
      label,
      unit,
      figure,
      failures,
      ...(goal ? { goal: goal(figure.median) } : {}),
      ...(note ? { note } : {}),
    };
  }
}

/**
 * The measurements of one run in the given order on odd runs and reversed on even runs, so that
 * neither side of a comparison always runs first (after the other's load, or before it).
 */
export function inAlternatingOrder<T>(run: number, items: readonly T[]): T[] {
  return run % 2 === 1 ? [...items] : [...items].reverse();
}

export const atLeast =
  (threshold: number, text: string) =>
  (median: number): GoalCheck => ({ text, passed: median >= threshold });
export const above =
  (threshold: number, text: string) =>
  (median: number): GoalCheck => ({ text, passed: median > threshold });
export const below =
  (threshold: number, text: string) =>
  (median: number): GoalCheck => ({ text, passed: median < threshold });
export const within =
  (target: number, tolerance: number, text: string) =>
  (median: number): GoalCheck => ({
    text,
    passed: Math.abs(median - target) <= tolerance,
  });

/** A row for a figure that could not be measured, and why. */
export function unavailableRow(caseId: CaseId, label: string, unit: Unit, reason: string, goal?: string): ResultRow {
  return { caseId, label, unit, figure: null, note: reason, ...(goal ? { goal: { text: goal, passed: false } } : {}) };
}

/** The dialects' names as the results table shows them. */
export const DIALECT_NAMES: Readonly<Record<BenchDialect, string>> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** Runs a case's measurement once per selected dialect, in order, and gathers the rows. */
export async function measurePerDialect(
  context: BenchContext,
  measure: (context: BenchContext, dialect: BenchDialect) => Promise<ResultRow[]>,
): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const dialect of context.options.dialects) rows.push(...(await measure(context, dialect)));
  return rows;
}
