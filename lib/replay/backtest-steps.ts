// The backtest run one trading day at a time, handing the event loop back between days, so a host (the mia-backtest
// node) stays responsive and can show progress and stop a long run. The rules are BacktestRunner's, unchanged: the
// result equals runBacktest's for the same bars and options.
// Also: the messages that feed mia-trade-stats with a backtest's trades (its signal, then the entry and exit fills).
import type { Fill, SignalPayload } from '../contracts';
import { BacktestRunner, SessionDays, checkBars, type BacktestOptions, type BacktestProgress, type BacktestResult, type BacktestSignal, type BacktestTrade } from './backtest';
import type { MarketBar } from '../sim/market-types';

export interface SteppedBacktestOptions extends Omit<BacktestOptions, 'onProgress'> {
  /**
   * After each trading day: the progress so far, the trades closed that day (all of them: flat at day end) and the
   * result so far (read it, do not change it).
   */
  onDay?: (progress: BacktestProgress, closed: readonly BacktestTrade[], soFar: Readonly<BacktestResult>) => void;
  /** Awaited between two trading days. Default: one turn of the event loop (setImmediate). */
  yieldBetweenDays?: () => Promise<void>;
  /** Asked after each day (after the yield): true stops the run there, with the days done so far. */
  shouldStop?: () => boolean;
}

export interface SteppedBacktestResult extends BacktestResult {
  /** True when shouldStop ended the run before the last bar. */
  stopped: boolean;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function runBacktestInSteps(bars: readonly MarketBar[], options: SteppedBacktestOptions = {}): Promise<SteppedBacktestResult> {
  checkBars(bars);
  const days = new Set<number>();
  const sessions = new SessionDays();
  for (const b of bars) days.add(sessions.of(b.t));
  const { onDay, yieldBetweenDays = nextTurn, shouldStop, ...rest } = options;
  let ended: BacktestProgress | null = null;
  const runner = new BacktestRunner({ ...rest, onProgress: (p) => (ended = p) }, days.size);
  let reported = 0;
  const report = (p: BacktestProgress): void => {
    const trades = runner.result.trades;
    const closed = trades.slice(reported);
    reported = trades.length;
    onDay?.(p, closed, runner.result);
  };
  for (const b of bars) {
    // The first bar of a day ends the previous one (its progress is set then). Nothing is open on that bar (flat at
    // day end, no order carried over), so every trade closed so far belongs to the day that ended.
    runner.onBar(b);
    if (ended === null) continue;
    report(ended);
    ended = null;
    await yieldBetweenDays();
    if (shouldStop?.()) return { ...runner.result, stopped: true };
  }
  const result = runner.finish();
  if (ended !== null) report(ended);
  return { ...result, stopped: false };
}

export interface TradeStatsMessage {
  topic: 'signal' | 'fill';
  payload: SignalPayload | (Fill & { pointValue: number });
}

/**
 * What mia-trade-stats needs to rebuild `trades`, in time order: for each trade the Battle Navale signal that opened it
 * (its stop gives the R multiple, its components the dominant reason), then its entry and exit fills (slippage
 * included; commission is not a fill price: mia-trade-stats shows P&L before commission).
 */
export function tradeStatsMessages(trades: readonly BacktestTrade[], signals: readonly BacktestSignal[], firstId = 1): TradeStatsMessage[] {
  const bySignalTime = new Map<number, BacktestSignal>();
  for (const s of signals) if (s.refused === undefined) bySignalTime.set(s.t, s);
  const out: TradeStatsMessage[] = [];
  trades.forEach((tr, i) => {
    const id = `backtest-${firstId + i}`;
    const signal = bySignalTime.get(tr.signalT);
    if (signal) out.push({ topic: 'signal', payload: signal.payload });
    const exitSide = tr.side === 'buy' ? 'sell' : 'buy';
    out.push({ topic: 'fill', payload: { clientOrderId: `${id}-entry`, serverOrderId: null, side: tr.side, quantity: tr.quantity, price: tr.entry, t: tr.entryT, pointValue: tr.pointValue } });
    out.push({ topic: 'fill', payload: { clientOrderId: `${id}-${tr.exitReason}`, serverOrderId: null, side: exitSide, quantity: tr.quantity, price: tr.exit, t: tr.exitT, pointValue: tr.pointValue } });
  });
  return out;
}
