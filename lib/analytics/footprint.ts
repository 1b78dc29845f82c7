// A bar's footprint: buy (at-ask) and sell (at-bid) volume per price level, kept in typed arrays indexed by tick so an
// update is O(1) and allocation-free. Diagonal imbalances (analytics.md §3): ask volume at a price against bid volume
// one tick lower; 3 or more consecutive imbalanced levels on one side are "stacked".
import type { Imbalance } from '../contracts';

export interface ImbalanceSettings {
  ratio: number; // e.g. 3 = 300 %
  minVolume: number; // the imbalanced side must trade at least this much at the level
  stackedLevels: number; // consecutive levels that make a stacked imbalance (3)
}

export const DEFAULT_IMBALANCE: ImbalanceSettings = { ratio: 3, minVolume: 10, stackedLevels: 3 };

const INITIAL_LEVELS = 1024;

export class Footprint {
  // Public for the engine's column loop, which updates them in registers; `add` is the reference behaviour.
  // One interleaved ladder: slot i holds buy volume at [2i] and sell volume at [2i + 1] (one cache line, one write).
  ladder = new Float64Array(2 * INITIAL_LEVELS);
  levels = INITIAL_LEVELS;
  base = 0; // absolute tick index of slot 0
  lo = Infinity; // used slot range
  hi = -Infinity;
  readonly ticksPerPoint: number;

  constructor(readonly tickSize: number) {
    this.ticksPerPoint = 1 / tickSize;
  }

  add(price: number, size: number, aggressor: number): void {
    const level = Math.round(price * this.ticksPerPoint);
    let i = level - this.base;
    if (i < 0 || i >= this.levels) i = this.makeRoom(level);
    if (aggressor > 0) this.ladder[2 * i] += size;
    else if (aggressor < 0) this.ladder[2 * i + 1] += size;
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
  }

  /** Clears the levels the last bar used (not the whole ladder). */
  reset(): void {
    if (this.hi >= this.lo) this.ladder.fill(0, 2 * this.lo, 2 * this.hi + 2);
    this.lo = Infinity;
    this.hi = -Infinity;
  }

  /** Re-centres an empty ladder on `level`, or grows a used one to cover it; returns the slot of `level`. */
  /** Slot of a price (its tick index relative to the ladder). */
  slotOf(price: number): number {
    return Math.round(price * this.ticksPerPoint) - this.base;
  }

  makeRoom(level: number): number {
    const size = this.levels;
    if (this.hi < this.lo) {
      this.base = level - (size >> 1);
      return level - this.base;
    }
    const firstLevel = Math.min(level, this.base + this.lo);
    const lastLevel = Math.max(level, this.base + this.hi);
    const needed = lastLevel - firstLevel + 1;
    const newSize = Math.max(size * 2, needed * 2);
    const newBase = firstLevel - ((newSize - needed) >> 1);
    const shift = this.base - newBase;
    const ladder = new Float64Array(2 * newSize);
    ladder.set(this.ladder.subarray(2 * this.lo, 2 * this.hi + 2), 2 * (this.lo + shift));
    this.ladder = ladder;
    this.levels = newSize;
    this.lo += shift;
    this.hi += shift;
    this.base = newBase;
    return level - newBase;
  }

  /** Buy and sell volume at `price` (for tests and displays). */
  at(price: number): { buy: number; sell: number } {
    const i = Math.round(price * this.ticksPerPoint) - this.base;
    if (i < this.lo || i > this.hi) return { buy: 0, sell: 0 };
    return { buy: this.ladder[2 * i], sell: this.ladder[2 * i + 1] };
  }

  /**
   * Diagonal imbalances of the bar, lowest price first. An empty opposite level counts as one contract, so a level
   * with volume against nothing is an imbalance once it passes the minimum volume.
   */
  imbalances(settings: ImbalanceSettings): Imbalance[] {
    const out: Imbalance[] = [];
    if (this.hi < this.lo) return out;
    const { ratio, minVolume, stackedLevels } = settings;
    const buyRun: Imbalance[] = [];
    const sellRun: Imbalance[] = [];
    const closeRun = (run: Imbalance[]): void => {
      if (run.length >= stackedLevels) for (const imb of run) imb.stacked = true;
      run.length = 0;
    };
    for (let i = this.lo; i <= this.hi; i++) {
      const price = this.priceOf(i);
      const askHere = this.ladder[2 * i];
      const bidBelow = i > this.lo ? this.ladder[2 * i - 1] : 0;
      if (askHere >= minVolume && askHere >= ratio * Math.max(bidBelow, 1)) {
        const imb: Imbalance = { price, side: 'buy', ratio: askHere / Math.max(bidBelow, 1), stacked: false };
        out.push(imb);
        buyRun.push(imb);
      } else closeRun(buyRun);
      const bidHere = this.ladder[2 * i + 1];
      const askAbove = i < this.hi ? this.ladder[2 * i + 2] : 0;
      if (bidHere >= minVolume && bidHere >= ratio * Math.max(askAbove, 1)) {
        const imb: Imbalance = { price, side: 'sell', ratio: bidHere / Math.max(askAbove, 1), stacked: false };
        out.push(imb);
        sellRun.push(imb);
      } else closeRun(sellRun);
    }
    closeRun(buyRun);
    closeRun(sellRun);
    return out;
  }

  private priceOf(slot: number): number {
    return Math.round((this.base + slot) * this.tickSize * 1e9) / 1e9;
  }
}
