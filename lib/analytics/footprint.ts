// A bar's footprint: buy (at-ask) and sell (at-bid) volume per price level, kept in typed arrays indexed by tick so an
// update is O(1) and allocation-free. Diagonal imbalances (analytics.md §3): ask volume at a price against bid volume
// one tick lower; 3 or more consecutive imbalanced levels on one side are "stacked".
import type { Imbalance } from '../contracts';
import { SELL, UNKNOWN, tickMove } from './classify';

export interface ImbalanceSettings {
  ratio: number; // e.g. 3 = 300 %
  minVolume: number; // the imbalanced side must trade at least this much at the level
  stackedLevels: number; // consecutive levels that make a stacked imbalance (3)
}

export const DEFAULT_IMBALANCE: ImbalanceSettings = { ratio: 3, minVolume: 10, stackedLevels: 3 };

const INITIAL_LEVELS = 1024;
// An empty ladder's used range (lo > hi), as small integers like every slot.
const EMPTY_LO = 0x3fffffff;
const EMPTY_HI = -1;

export class Footprint {
  // One interleaved ladder indexed by tick offset from `base`: slot i holds buy volume at [2i] and sell volume at
  // [2i + 1] (one cache line, one write). It grows by doubling, so a bar that walks away from its open costs O(1)
  // amortised per tick; levels are never objects or map entries.
  private ladder = new Float64Array(2 * INITIAL_LEVELS);
  private levels = INITIAL_LEVELS;
  private base = 0; // absolute tick index of slot 0
  private lo = EMPTY_LO; // used slot range
  private hi = EMPTY_HI;
  private readonly ticksPerPoint: number;

  constructor(readonly tickSize: number) {
    this.ticksPerPoint = 1 / tickSize;
  }

  add(price: number, size: number, aggressor: number): void {
    const i = this.cover(Math.round(price * this.ticksPerPoint));
    if (aggressor > 0) this.ladder[2 * i] += size;
    else if (aggressor < 0) this.ladder[2 * i + 1] += size;
  }

  /**
   * Ticks `from` to `to` − 1 of price/size columns, classified by the tick test from the classifier state before
   * `from` (no quotes, no aggressor flags): the same ladder as calling `add` per tick. `low` and `high` bound every
   * price of the run (the engine passes its bar's range), so room is made once and the loop never branches to grow.
   */
  addTickRule(
    price: Float64Array,
    size: Float64Array,
    from: number,
    to: number,
    lastPrice: number,
    lastMove: number,
    low: number,
    high: number,
  ): void {
    if (from >= to) return;
    const tpp = this.ticksPerPoint;
    this.cover(Math.round(low * tpp));
    this.cover(Math.round(high * tpp));
    const ladder = this.ladder;
    const offset = 0.5 - this.base; // slot = ⌊p·ticksPerPoint + ½ − base⌋ = round(p / tick) − base, and ≥ 0 here
    // Imported bindings read once: a CommonJS transform (tsx, esbuild) turns each read into a getter call.
    const move = tickMove;
    const sell = SELL;
    const unknown = UNKNOWN;
    for (let i = from; i < to; i++) {
      const p = price[i];
      lastMove = move(p, lastPrice, lastMove);
      lastPrice = p;
      if (lastMove !== unknown) ladder[2 * ((p * tpp + offset) | 0) + (lastMove === sell ? 1 : 0)] += size[i];
    }
  }

  /** Makes room for a level and counts it as used (every trade's level is, even an unclassified one); its slot. */
  private cover(level: number): number {
    let i = level - this.base;
    if (i < 0 || i >= this.levels) i = this.makeRoom(level);
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
    return i;
  }

  /** Clears the levels the last bar used (not the whole ladder). */
  reset(): void {
    if (this.hi >= this.lo) this.ladder.fill(0, 2 * this.lo, 2 * this.hi + 2);
    this.lo = EMPTY_LO;
    this.hi = EMPTY_HI;
  }

  /** Re-centres an empty ladder on `level`, or grows a used one to cover it; returns the slot of `level`. */
  private makeRoom(level: number): number {
    const size = this.levels;
    if (this.hi < this.lo) {
      this.base = level - (size >> 1);
      return level - this.base;
    }
    const firstLevel = Math.min(level, this.base + this.lo);
    const lastLevel = Math.max(level, this.base + this.hi);
    const needed = lastLevel - firstLevel + 1;
    // Re-centre in place while the used range fills at most half the ladder; otherwise double (amortised O(1)).
    const newSize = needed * 2 <= size ? size : Math.max(size * 2, needed * 2);
    const newBase = firstLevel - ((newSize - needed) >> 1);
    const shift = this.base - newBase;
    const from = 2 * this.lo;
    const to = 2 * this.hi + 2;
    if (newSize === size) {
      this.ladder.copyWithin(from + 2 * shift, from, to);
      // zero what the old range covered and the new one does not
      if (shift > 0) this.ladder.fill(0, from, Math.min(to, from + 2 * shift));
      else this.ladder.fill(0, Math.max(from, to + 2 * shift), to);
    } else {
      const ladder = new Float64Array(2 * newSize);
      ladder.set(this.ladder.subarray(from, to), from + 2 * shift);
      this.ladder = ladder;
      this.levels = newSize;
    }
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
