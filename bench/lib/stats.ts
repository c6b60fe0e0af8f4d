/** A figure measured several times: its median, with the smallest and largest run. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** How many runs the figure summarises. */
  readonly runs: number;
}

/** Median, min and max of a figure's runs; the median of an even count is the mean of the middle two. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summarize needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** The value at a percentile (0..100) of an ascending sorted list, nearest-rank. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
