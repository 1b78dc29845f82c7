// The signal-and-order pipeline a replay drives from trades: trades → closed 1-minute bars → Battle Navale, risk
// rules, simulated fills (BacktestRunner). A minute is closed when the first trade of a later minute arrives, so
// nothing is read before it happened. Used by the determinism test (live vs replay) and the replay.speed benchmark.
import { MINUTE_MS } from '../sim/calendar';
import type { MarketBar, MarketTrade } from '../sim/market-types';
import { BacktestRunner, type BacktestOptions, type BacktestResult } from './backtest';

export class TradePipeline {
  readonly runner: BacktestRunner;
  private bar: MarketBar | null = null;
  trades = 0;

  constructor(options: BacktestOptions = {}) {
    this.runner = new BacktestRunner(options);
  }

  readonly onTrade = (x: MarketTrade): void => {
    this.trades++;
    const k = Math.floor(x.t / MINUTE_MS) * MINUTE_MS;
    const b = this.bar;
    if (b && b.t === k) {
      if (x.price > b.h) b.h = x.price;
      if (x.price < b.l) b.l = x.price;
      b.c = x.price;
      b.v += x.size;
      return;
    }
    if (b) this.runner.onBar(b);
    this.bar = { t: k, o: x.price, h: x.price, l: x.price, c: x.price, v: x.size };
  };

  /** Closes the minute in progress (the end of the data) and the open position. */
  finish(): BacktestResult {
    if (this.bar) this.runner.onBar(this.bar);
    this.bar = null;
    return this.runner.finish();
  }
}
