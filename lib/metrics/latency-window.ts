// The latency of the most recent requests, for p50/p99. A fixed ring of the last `capacity` samples: exact
// percentiles of recent traffic, constant memory, O(1) per sample; the sort happens only when someone reads.

/** Nearest-rank percentile of sorted values (p in [0, 100]); null without samples. */
export function nearestRank(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

export interface LatencySummary {
  /** Median of the recent samples, ms (null before the first). */
  p50: number | null;
  p99: number | null;
  /** How many samples the figures are computed from (at most the window's capacity). */
  samples: number;
}

export class LatencyWindow {
  private readonly ring: number[] = [];
  private next = 0;

  constructor(readonly capacity = 1024) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LatencyWindow capacity ${capacity} must be a whole number ≥ 1`);
  }

  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    if (this.ring.length < this.capacity) this.ring.push(ms);
    else this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.capacity;
  }

  summary(): LatencySummary {
    const sorted = [...this.ring].sort((a, b) => a - b);
    const round = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);
    return { p50: round(nearestRank(sorted, 50)), p99: round(nearestRank(sorted, 99)), samples: sorted.length };
  }
}
