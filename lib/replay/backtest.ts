// Backtest from history: Battle Navale (the same stateful engine as the node) over N days of closed 1-minute bars,
// with the same risk rules (lib/strategy/risk.ts RiskGuard), a commission per contract and a slippage in ticks,
// giving the trades it would have made. No look-ahead: the decision on bar i reads bars ≤ i only (the engine and a
// session VWAP fed bar by bar); its order is filled at the OPEN of bar i + 1 (market order, plus slippage), then a
// bracket: the signal's stop (stop order: filled at the stop, or at the bar's open if it gaps through, plus slippage)
// and its first target (limit: filled at the target, no slippage). When a bar touches both, the stop is taken (the
// conservative reading of a bar). A position still open when a new trading day's first bar arrives is closed at the
// previous bar's close plus slippage (flat overnight); the last bar of the data closes what is left.
import type { Side } from '../contracts';
import { InvalidInputError } from '../errors';
import { VwapAccumulator, typicalPrice } from '../analytics/vwap';
import { tradeDateAtOrAfter } from '../sim/calendar';
import { isoDate } from '../trading/cme-calendar';
import type { MarketBar } from '../sim/market-types';
import { BattleNavaleEngine } from '../strategy/battle-navale';
import { LONG, NO_SIGNAL } from '../strategy/evaluate';
import { RiskGuard, type RiskLimits } from '../strategy/risk';
import type { SettingKey } from '../strategy/settings';

const BAR_MS = 60_000;

export interface BacktestOptions {
  /** Battle Navale settings (as the node takes them). */
  settings?: Partial<Record<SettingKey, unknown>>;
  /** Risk limits (as sierra-config takes them). */
  risk?: Partial<RiskLimits>;
  /** $ per contract per fill. Default 0 (as the DTC simulator). */
  commissionPerContract?: number;
  /** Ticks against us on market and stop fills. Default 1. */
  slippageTicks?: number;
  quantity?: number;
  /** Called after each trading day with the progress so far. */
  onProgress?: (p: BacktestProgress) => void;
}

export interface BacktestProgress {
  day: string; // YYYY-MM-DD trade date just finished
  daysDone: number;
  days: number;
  bars: number;
  trades: number;
  pnl: number;
}

export interface BacktestSignal {
  t: number; // evaluation time (close of the bar)
  side: Side;
  entry: number;
  stop: number;
  target: number;
  score: number;
  /** Present when the risk rules refused the order. */
  refused?: string;
}

export interface BacktestTrade {
  side: Side;
  signalT: number;
  entryT: number;
  entry: number;
  exitT: number;
  exit: number;
  exitReason: 'stop' | 'target' | 'day-end' | 'data-end';
  stop: number;
  target: number;
  quantity: number;
  /** Net of commission, $. */
  pnl: number;
  commission: number;
}

export interface BacktestResult {
  signals: BacktestSignal[];
  trades: BacktestTrade[];
  bars: number;
  days: number;
  pnl: number;
}

interface Open {
  side: Side;
  signalT: number;
  entryT: number;
  entry: number;
  stop: number;
  target: number;
}

function nonNegative(x: unknown, what: string, fallback: number): number {
  if (x === undefined) return fallback;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw new InvalidInputError(`backtest: ${what} must be a number ≥ 0, got ${JSON.stringify(x)}`);
  return x;
}

/** Checks bars: finite OHLCV, h ≥ max(o, c), l ≤ min(o, c), strictly increasing minute times. */
export function checkBars(bars: readonly MarketBar[]): void {
  let last = -Infinity;
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i];
    const ok = [b.t, b.o, b.h, b.l, b.c, b.v].every(Number.isFinite) && b.h >= Math.max(b.o, b.c) && b.l <= Math.min(b.o, b.c) && b.v >= 0;
    if (!ok) throw new InvalidInputError(`backtest: bar ${i} (${new Date(b.t).toISOString()}) is not a valid OHLCV bar`);
    if (!(b.t > last)) throw new InvalidInputError(`backtest: bar ${i} (${new Date(b.t).toISOString()}) is not after the previous bar`);
    last = b.t;
  }
}

export function runBacktest(bars: readonly MarketBar[], options: BacktestOptions = {}): BacktestResult {
  checkBars(bars);
  const engine = new BattleNavaleEngine(options.settings ?? {});
  const tick = engine.settings.tickSize;
  const guard = new RiskGuard(options.risk ?? {});
  const pointValue = guard.state(bars[0]?.t ?? 0).limits.pointValue;
  const commission = nonNegative(options.commissionPerContract, 'commission per contract', 0);
  const slip = nonNegative(options.slippageTicks, 'slippage (ticks)', 1) * tick;
  const qty = options.quantity ?? 1;
  if (!Number.isInteger(qty) || qty <= 0) throw new InvalidInputError(`backtest: quantity must be a whole number > 0, got ${JSON.stringify(qty)}`);

  const days = new Set<number>();
  for (const b of bars) days.add(tradeDateAtOrAfter(b.t));
  const result: BacktestResult = { signals: [], trades: [], bars: bars.length, days: days.size, pnl: 0 };
  const vwap = new VwapAccumulator();
  let open: Open | null = null;
  let pending: Omit<Open, 'entryT' | 'entry'> | null = null;
  let day = bars.length > 0 ? tradeDateAtOrAfter(bars[0].t) : 0;
  let daysDone = 0;

  const close = (exitT: number, exit: number, reason: BacktestTrade['exitReason']): void => {
    const o = open as Open;
    const dir = o.side === 'buy' ? 1 : -1;
    const gross = (exit - o.entry) * dir * qty * pointValue;
    guard.recordFill({ side: o.side === 'buy' ? 'sell' : 'buy', quantity: qty, price: exit, now: exitT, realizedPnl: gross - commission * qty });
    const trade: BacktestTrade = {
      side: o.side,
      signalT: o.signalT,
      entryT: o.entryT,
      entry: o.entry,
      exitT,
      exit,
      exitReason: reason,
      stop: o.stop,
      target: o.target,
      quantity: qty,
      commission: 2 * commission * qty,
      pnl: gross - 2 * commission * qty,
    };
    result.trades.push(trade);
    result.pnl += trade.pnl;
    open = null;
  };

  /** Exits on bar b (stop first when both are touched). */
  const exits = (b: MarketBar): void => {
    const o = open as Open;
    const end = b.t + BAR_MS;
    if (o.side === 'buy') {
      if (b.l <= o.stop) close(end, Math.min(b.o, o.stop) - slip, 'stop');
      else if (b.h >= o.target) close(end, o.target, 'target');
    } else if (b.h >= o.stop) close(end, Math.max(b.o, o.stop) + slip, 'stop');
    else if (b.l <= o.target) close(end, o.target, 'target');
  };

  for (let i = 0; i < bars.length; i++) {
    const b = bars[i];
    const barDay = tradeDateAtOrAfter(b.t);
    if (barDay !== day) {
      if (open) close(bars[i - 1].t + BAR_MS, bars[i - 1].c - ((open as Open).side === 'buy' ? slip : -slip), 'day-end');
      pending = null;
      vwap.reset();
      daysDone++;
      options.onProgress?.({ day: isoDate(day), daysDone, days: days.size, bars: i, trades: result.trades.length, pnl: result.pnl });
      day = barDay;
    }
    if (pending) {
      const p = pending;
      pending = null;
      const entry = b.o + (p.side === 'buy' ? slip : -slip);
      guard.recordFill({ side: p.side, quantity: qty, price: entry, now: b.t, realizedPnl: -commission * qty });
      open = { ...p, entryT: b.t, entry };
    }
    if (open) exits(b);

    vwap.add(typicalPrice(b.h, b.l, b.c), b.v);
    engine.setContext({ vwap: vwap.vwap, sigma: vwap.sigma });
    const now = b.t + BAR_MS;
    const ev = engine.update(b, now);
    if (ev.signal !== NO_SIGNAL) {
      const side: Side = ev.signal === LONG ? 'buy' : 'sell';
      const signal: BacktestSignal = { t: now, side, entry: ev.entry, stop: ev.stop, target: ev.tp1, score: ev.score };
      if (open || pending) {
        signal.refused = 'a position is already open';
      } else {
        const decision = guard.check({ side, quantity: qty, now, position: 0 });
        if (decision.allowed) pending = { side, signalT: now, stop: ev.stop, target: ev.tp1 };
        else signal.refused = `${decision.rule}: ${decision.reason}`;
      }
      result.signals.push(signal);
    }
  }
  if (bars.length > 0) {
    const last = bars[bars.length - 1];
    if (open) close(last.t + BAR_MS, last.c - ((open as Open).side === 'buy' ? slip : -slip), 'data-end');
    daysDone++;
    options.onProgress?.({ day: isoDate(day), daysDone, days: days.size, bars: bars.length, trades: result.trades.length, pnl: result.pnl });
  }
  return result;
}
