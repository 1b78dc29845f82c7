// Streaming volume-weighted average price and its volume-weighted standard deviation (analytics.md §2), O(1) per
// update. Prices are accumulated relative to a reference (the period's first price) so p² sums keep their digits:
// at ES 5000 with σ ≈ 2, Σv·p² would otherwise cancel ~14 of the 16 significant digits.

export const BAND_MULTIPLIERS = [1, 2, 3] as const;

export class VwapAccumulator {
  ref = NaN;
  volume = 0;
  // Public for the engine's column loop, which keeps them in registers; nothing else writes them.
  sumDv = 0; // Σ v·(p − ref)
  sumD2v = 0; // Σ v·(p − ref)²

  add(price: number, volume: number): void {
    if (volume <= 0) return;
    if (this.volume === 0) this.ref = price;
    const d = price - this.ref;
    const dv = d * volume;
    this.volume += volume;
    this.sumDv += dv;
    this.sumD2v += d * dv;
  }

  reset(): void {
    this.ref = NaN;
    this.volume = 0;
    this.sumDv = 0;
    this.sumD2v = 0;
  }

  /** Σ(p·v)/Σv, or NaN before any volume. */
  get vwap(): number {
    return this.ref + this.sumDv / this.volume;
  }

  /** √(Σ(v·p²)/Σv − VWAP²), clamped at 0 against rounding; NaN before any volume. */
  get sigma(): number {
    const mean = this.sumDv / this.volume;
    const variance = this.sumD2v / this.volume - mean * mean;
    return variance > 0 ? Math.sqrt(variance) : this.volume > 0 ? 0 : NaN;
  }
}

/** Typical price (h + l + c) / 3, the source price for bars. */
export function typicalPrice(h: number, l: number, c: number): number {
  return (h + l + c) / 3;
}
