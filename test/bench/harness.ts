// Every benchmark reports through here: one JSON line per figure, which test/tools/bench.js collects into a table and
// bench-results.json. `ratio` is value ÷ baseline, both measured in the same run.
export interface BenchResult {
  id: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  goal: string;
  note?: string;
}

export function report(result: Omit<BenchResult, 'ratio'> & { ratio?: number }): void {
  const ratio = result.ratio ?? result.value / result.baseline;
  process.stdout.write(`BENCH_RESULT ${JSON.stringify({ ...result, ratio })}\n`);
}

/** Runs `fn` repeatedly for at least `minMs` and returns operations per second (ops = what fn returns). */
export function throughput(fn: () => number, minMs = 1000): number {
  let ops = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  while (elapsedNs < BigInt(minMs) * 1_000_000n) {
    ops += fn();
    elapsedNs = process.hrtime.bigint() - start;
  }
  return ops / (Number(elapsedNs) / 1e9);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
