// Backtest from history: Battle Navale (the same stateful engine as the node) over N days of closed 1-minute bars,
// with the same risk rules (lib/strategy/risk.ts RiskGuard), a commission per contract and a slippage in ticks,
// giving the trades it would have made. No look-ahead: the decision on bar i reads bars ≤ i only (the engine and a
// session VWAP fed bar by bar); its order is filled at the OPEN of bar i + 1 (market order, plus slippage), then a
// bracket: the signal's stop (stop order: filled at the stop, or at the bar's open if it gaps through, plus slippage)
// and its first target (limit: filled at the target, no slippage). When a bar touches both, the stop is taken (the
// conservative reading of a bar). A position still open when a new trading day's first bar arrives is closed at the
// previous bar's close plus slippage (flat overnight); the last bar of the data closes what is left.
import type { SignalPayload, Side } from '../contracts';
import { InvalidInputError } from '../errors';
import { VwapAccumulator, typicalPrice } from '../analytics/vwap';
import { esSession, tradeDateAtOrAfter } from '../sim/calendar';
import { isoDate } from '../trading/cme-calendar';
import type { MarketBar } from '../sim/market-types';
import { BattleNavaleEngine } from '../strategy/battle-navale';
import { LONG, NO_SIGNAL } from '../strategy/evaluate';
import { RiskGuard, type RiskLimits } from '../trading/risk-rules';
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
  /** The message Battle Navale sends for it (topic 'signal'), as the node would. */
  payload: SignalPayload;
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
  /** $ per point per contract (the risk limits' point value). */
  pointValue: number;
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

/**
 * The backtest's state machine, bar by bar: `onBar` takes each closed 1-minute bar in time order, `finish` closes
 * what is open at the last bar. runBacktest drives it over an array; the replay pipeline drives it from trades.
 */
export class BacktestRunner {
  readonly result: BacktestResult = { signals: [], trades: [], bars: 0, days: 0, pnl: 0 };
  private readonly engine: BattleNavaleEngine;
  private readonly guard: RiskGuard;
  private readonly pointValue: number;
  private readonly commission: number;
  private readonly slip: number;
  private readonly qty: number;
  private readonly vwap = new VwapAccumulator();
  private open: Open | null = null;
  private pending: Omit<Open, 'entryT' | 'entry'> | null = null;
  private day = NaN;
  private last: MarketBar | null = null;
  private readonly sessions = new SessionDays();

  constructor(private readonly options: BacktestOptions = {}, private readonly totalDays = 0) {
    this.engine = new BattleNavaleEngine(options.settings ?? {});
    this.guard = new RiskGuard(options.risk ?? {});
    this.pointValue = this.guard.state(0).limits.pointValue;
    this.commission = nonNegative(options.commissionPerContract, 'commission per contract', 0);
    this.slip = nonNegative(options.slippageTicks, 'slippage (ticks)', 1) * this.engine.settings.tickSize;
    this.qty = options.quantity ?? 1;
    if (!Number.isInteger(this.qty) || this.qty <= 0) throw new InvalidInputError(`backtest: quantity must be a whole number > 0, got ${JSON.stringify(this.qty)}`);
  }

  onBar(b: MarketBar): void {
    const last = this.last;
    if (last && !(b.t > last.t)) throw new InvalidInputError(`backtest: bar ${new Date(b.t).toISOString()} is not after the previous bar`);
    const barDay = this.sessions.of(b.t);
    if (barDay !== this.day) {
      if (last) {
        if (this.open) this.close(last.t + BAR_MS, last.c - (this.open.side === 'buy' ? this.slip : -this.slip), 'day-end');
        this.endDay();
      }
      this.pending = null;
      this.vwap.reset();
      this.day = barDay;
    }
    this.last = b;
    this.result.bars++;
    const pending = this.pending;
    if (pending) {
      this.pending = null;
      const entry = b.o + (pending.side === 'buy' ? this.slip : -this.slip);
      this.guard.recordFill({ side: pending.side, quantity: this.qty, price: entry, now: b.t, realizedPnl: -this.commission * this.qty });
      this.open = { ...pending, entryT: b.t, entry };
    }
    if (this.open) this.exits(b, this.open);

    this.vwap.add(typicalPrice(b.h, b.l, b.c), b.v);
    this.engine.setContext({ vwap: this.vwap.vwap, sigma: this.vwap.sigma });
    const now = b.t + BAR_MS;
    const ev = this.engine.update(b, now);
    if (ev.signal !== NO_SIGNAL) {
      const side: Side = ev.signal === LONG ? 'buy' : 'sell';
      const payload = this.engine.payload() as SignalPayload;
      const signal: BacktestSignal = { t: now, side, entry: ev.entry, stop: ev.stop, target: ev.tp1, score: ev.score, payload };
      if (this.open || this.pending) {
        signal.refused = 'a position is already open';
      } else {
        const decision = this.guard.check({ side, quantity: this.qty, now, position: 0 });
        if (decision.allowed) this.pending = { side, signalT: now, stop: ev.stop, target: ev.tp1 };
        else signal.refused = `${decision.rule}: ${decision.reason}`;
      }
      this.result.signals.push(signal);
    }
  }

  /** Closes a position left open at the last bar and reports the last day. */
  finish(): BacktestResult {
    const last = this.last;
    if (last) {
      if (this.open) this.close(last.t + BAR_MS, last.c - (this.open.side === 'buy' ? this.slip : -this.slip), 'data-end');
      this.endDay();
      this.last = null;
    }
    return this.result;
  }

  private endDay(): void {
    const r = this.result;
    r.days++;
    this.options.onProgress?.({ day: isoDate(this.day), daysDone: r.days, days: Math.max(this.totalDays, r.days), bars: r.bars, trades: r.trades.length, pnl: r.pnl });
  }

  private close(exitT: number, exit: number, reason: BacktestTrade['exitReason']): void {
    const o = this.open as Open;
    const qty = this.qty;
    const dir = o.side === 'buy' ? 1 : -1;
    const gross = (exit - o.entry) * dir * qty * this.pointValue;
    this.guard.recordFill({ side: o.side === 'buy' ? 'sell' : 'buy', quantity: qty, price: exit, now: exitT, realizedPnl: gross - this.commission * qty });
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
      pointValue: this.pointValue,
      commission: 2 * this.commission * qty,
      pnl: gross - 2 * this.commission * qty,
    };
    this.result.trades.push(trade);
    this.result.pnl += trade.pnl;
    this.open = null;
  }

  /** Exits on bar b (stop first when both are touched). */
  private exits(b: MarketBar, o: Open): void {
    const end = b.t + BAR_MS;
    if (o.side === 'buy') {
      if (b.l <= o.stop) this.close(end, Math.min(b.o, o.stop) - this.slip, 'stop');
      else if (b.h >= o.target) this.close(end, o.target, 'target');
    } else if (b.h >= o.stop) this.close(end, Math.max(b.o, o.stop) + this.slip, 'stop');
    else if (b.l <= o.target) this.close(end, o.target, 'target');
  }
}

/** tradeDateAtOrAfter for times in order, reckoning the calendar once per session rather than once per bar. */
export class SessionDays {
  private open = Infinity;
  private close = -Infinity;
  private day = NaN;

  of(t: number): number {
    if (t >= this.open && t < this.close) return this.day;
    this.day = tradeDateAtOrAfter(t);
    const s = esSession(this.day);
    this.open = s.open;
    this.close = s.close;
    // A time in the daily break belongs to the next session but is not inside it: no caching then.
    if (t < s.open) this.open = Infinity;
    return this.day;
  }
}

export function runBacktest(bars: readonly MarketBar[], options: BacktestOptions = {}): BacktestResult {
  checkBars(bars);
  const days = new Set<number>();
  const sessions = new SessionDays();
  for (const b of bars) days.add(sessions.of(b.t));
  const runner = new BacktestRunner(options, days.size);
  for (const b of bars) runner.onBar(b);
  return runner.finish();
}
