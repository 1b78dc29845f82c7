// Bar aggregation, the one place for it: a price interval (a trade, a minute bar) added to the bar of its key, in
// time order. Used by the seeded market, the replayed market and the IBKR simulator's history regrouping.
import type { MarketBar } from './market-types';

/**
 * Adds an interval with open o, high h, low l, close c and volume v to `bars` under `key` (the bar's open time):
 * the last bar grows when it has that key, otherwise a new bar starts. Intervals must come in time order.
 */
export function addToBars(bars: MarketBar[], key: number, o: number, h: number, l: number, c: number, v: number): void {
  const last = bars[bars.length - 1];
  if (last && last.t === key) {
    if (h > last.h) last.h = h;
    if (l < last.l) last.l = l;
    last.c = c;
    last.v += v;
  } else bars.push({ t: key, o, h, l, c, v });
}
