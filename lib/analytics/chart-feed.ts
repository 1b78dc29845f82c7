// Chart data for Dashboard 2.0's ui-chart, fed in batches with a bounded history. ui-chart deep-copies its whole
// stored history on every message it receives, so a chart fed one point per message (thousands of points, replayed
// at each deploy) stalls the event loop for seconds. A ChartFeed keeps at most `maxPoints` points per series by
// progressive decimation (when a series would pass the bound, every other point is dropped and the spacing doubles),
// and hands out what changed since the last flush as one message: `append` with the new points, or `replace` with
// the whole (decimated) history after a decimation, a reset, or on the first flush (so a redeploy or a recount
// replaces what the chart held instead of adding to it).
import { InvalidInputError } from '../errors';

export interface ChartPoint {
  series: string;
  /** Epoch ms. */
  t: number;
  y: number;
}

export interface ChartBatch {
  /** ui-chart's msg.action: 'replace' clears the chart's history first. */
  action: 'replace' | 'append';
  points: ChartPoint[];
}

export const DEFAULT_CHART_POINTS = 300;
export const MIN_CHART_POINTS = 10;
export const MAX_CHART_POINTS = 5000;

export class ChartFeed {
  readonly maxPoints: number;
  /** Points kept per series, oldest first, each with its input number in that series (a multiple of the stride). */
  private readonly history = new Map<string, { n: number; point: ChartPoint }[]>();
  /** Inputs seen per series (kept or not). */
  private readonly seen = new Map<string, number>();
  private pending: ChartPoint[] = [];
  private stride = 1;
  private mustReplace = true;

  constructor(maxPoints: number = DEFAULT_CHART_POINTS) {
    if (!Number.isInteger(maxPoints) || maxPoints < MIN_CHART_POINTS || maxPoints > MAX_CHART_POINTS) {
      throw new InvalidInputError(`chart points per series must be a whole number from ${MIN_CHART_POINTS} to ${MAX_CHART_POINTS}; got ${String(maxPoints)}.`);
    }
    this.maxPoints = maxPoints;
  }

  /** Inputs per kept point (1, 2, 4, ...). */
  get spacing(): number {
    return this.stride;
  }

  /** Records one point; a non-finite value is not drawable and is left out (it still counts for the spacing). */
  add(series: string, t: number, y: number): void {
    const n = this.seen.get(series) ?? 0;
    this.seen.set(series, n + 1);
    if (n % this.stride !== 0 || !Number.isFinite(y) || !Number.isFinite(t)) return;
    let kept = this.history.get(series);
    if (!kept) {
      kept = [];
      this.history.set(series, kept);
    }
    const point = { series, t, y };
    kept.push({ n, point });
    this.pending.push(point);
    if (kept.length > this.maxPoints) this.decimate();
  }

  /** What the chart needs since the last flush, or null when nothing changed. */
  flush(): ChartBatch | null {
    if (this.mustReplace) {
      this.mustReplace = false;
      this.pending = [];
      const points = [...this.history.values()].flat().map((k) => k.point).sort((a, b) => a.t - b.t);
      return { action: 'replace', points };
    }
    if (this.pending.length === 0) return null;
    const points = this.pending;
    this.pending = [];
    return { action: 'append', points };
  }

  /** Forgets every point: the next flush replaces the chart's history (with nothing, or what was added since). */
  clear(): void {
    this.history.clear();
    this.seen.clear();
    this.pending = [];
    this.stride = 1;
    this.mustReplace = true;
  }

  private decimate(): void {
    this.stride *= 2;
    const stride = this.stride;
    for (const [series, kept] of this.history) this.history.set(series, kept.filter((k) => k.n % stride === 0));
    this.mustReplace = true;
  }
}
