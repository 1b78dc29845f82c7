// Order flow from bars when there are no ticks, and buy/sell pressure over a rolling window (analytics.md §3).
import type { Bar } from '../contracts';

/**
 * How to split a bar's volume into buying and selling when only OHLCV is known:
 * - 'close-location' (default): buy share = (C − L)/(H − L), where the close sits in the bar's range; the continuous
 *   form of the doc's "close vs midpoint".
 * - 'open-high': the doc's up-volume = V·(H − O)/((H − O) + (C − L)). Note it can call a bar that opened at its high
 *   and closed at its low all-buy, so it is offered for comparison, not as the default.
 * A bar with no range (or a zero denominator) splits 50/50.
 */
export type ApproxDeltaMethod = 'close-location' | 'open-high';

export interface VolumeSplit {
  buyVolume: number;
  sellVolume: number;
  delta: number;
}

export function approximateSplit(bar: Bar, method: ApproxDeltaMethod = 'close-location'): VolumeSplit {
  const { o, h, l, c, v } = bar;
  let share = 0.5;
  if (method === 'open-high') {
    const den = h - o + (c - l);
    if (den > 0) share = (h - o) / den;
  } else if (h > l) {
    share = (c - l) / (h - l);
  }
  const buyVolume = v * share;
  const sellVolume = v - buyVolume;
  return { buyVolume, sellVolume, delta: buyVolume - sellVolume };
}

/**
 * Buy volume ÷ (buy + sell volume) over the last `bars` closed bars plus the forming one. O(1): closed bars sit in
 * a ring with running sums. 0.5 (neutral) before any classified volume.
 */
export class PressureWindow {
  private readonly buys: Float64Array;
  private readonly sells: Float64Array;
  private next = 0;
  private count = 0;
  private buySum = 0;
  private sellSum = 0;

  constructor(readonly bars: number) {
    this.buys = new Float64Array(Math.max(bars, 1));
    this.sells = new Float64Array(Math.max(bars, 1));
  }

  /** Pushes a closed bar's volumes, dropping the oldest once the window is full. */
  push(buyVolume: number, sellVolume: number): void {
    const capacity = this.bars;
    if (capacity <= 0) return;
    if (this.count === capacity) {
      this.buySum -= this.buys[this.next];
      this.sellSum -= this.sells[this.next];
    } else this.count++;
    this.buys[this.next] = buyVolume;
    this.sells[this.next] = sellVolume;
    this.buySum += buyVolume;
    this.sellSum += sellVolume;
    this.next = (this.next + 1) % capacity;
  }

  /** Pressure including the forming bar's volumes. */
  pressure(formingBuy: number, formingSell: number): number {
    const buy = this.buySum + formingBuy;
    const total = buy + this.sellSum + formingSell;
    return total > 0 ? buy / total : 0.5;
  }

  reset(): void {
    this.buys.fill(0);
    this.sells.fill(0);
    this.next = 0;
    this.count = 0;
    this.buySum = 0;
    this.sellSum = 0;
  }
}
