// Statistics over closed trades (trades.ts): counts, win rate, average win and loss, average R, expectancy, profit
// factor, maximum drawdown, daily P&L and its Sharpe ratio; overall, by side and by the signal's dominant reason.
// Dollars throughout, gross of commissions (fills carry none). Definitions (the README and node help repeat them):
// - win: P&L > 0, loss: P&L < 0 (a 0 trade is neither, but counts in trades); win rate = wins ÷ trades;
// - average win / loss: mean P&L of the wins / of the losses (the loss is negative); null when there are none;
// - expectancy: net P&L ÷ trades (= win rate × average win + loss rate × average loss);
// - average R: mean R multiple over the trades that have one (a signal's stop); null when none has;
// - profit factor: gross profit ÷ |gross loss|; null without a loss (undefined, not infinite);
// - maximum drawdown: the largest fall of the closed-trade equity curve (starting at 0) from its running peak, ≥ 0;
// - daily P&L: per New York calendar day of the exit, days with a closed trade only;
// - Sharpe: mean ÷ sample standard deviation of the daily P&L × √252; null under 2 days or with no dispersion.
import type { TradeRecord } from './trades';

export interface Summary {
  trades: number;
  wins: number;
  losses: number;
  winRate: number | null;
  netPnl: number;
  grossProfit: number;
  grossLoss: number;
  avgWin: number | null;
  avgLoss: number | null;
  expectancy: number | null;
  avgR: number | null;
  /** Trades with an R multiple (a signal's stop). */
  rTrades: number;
  profitFactor: number | null;
  maxDrawdown: number;
}

export interface DailyPnl {
  day: string;
  pnl: number;
  trades: number;
}

export interface EquityPoint {
  t: number;
  equity: number;
}

export interface Statistics extends Summary {
  daily: DailyPnl[];
  sharpe: number | null;
  bySide: { long: Summary; short: Summary };
  byReason: Record<string, Summary>;
  /** Closed-trade equity after each trade (exit time), for the equity curve. */
  equity: EquityPoint[];
}

export const TRADING_DAYS_PER_YEAR = 252;

// Mean and sample standard deviation in plain arithmetic, in the order mathjs's mean/variance/std use (sum from the
// first value, left to right; squared deviations from that mean; ÷ (n − 1)), so every figure is the same to the bit.
// Not mathjs itself: loading it blocks the event loop for ~0.8 s (lib/mathjs.ts), and the first closed trade of a
// session is when the statistics are first computed: right among the orders.
export function sampleMean(xs: readonly number[]): number {
  let sum = xs[0]!;
  for (let i = 1; i < xs.length; i++) sum += xs[i]!;
  return sum / xs.length;
}

/** Sample (n − 1) standard deviation; 0 for one value. */
export function sampleStd(xs: readonly number[]): number {
  if (xs.length === 1) return 0;
  const m = sampleMean(xs);
  let sum = (xs[0]! - m) * (xs[0]! - m);
  for (let i = 1; i < xs.length; i++) sum += (xs[i]! - m) * (xs[i]! - m);
  return Math.sqrt(sum / (xs.length - 1));
}

const avg = (xs: number[]): number | null => (xs.length === 0 ? null : sampleMean(xs));

export function maxDrawdown(pnls: readonly number[]): number {
  let equity = 0;
  let peak = 0;
  let worst = 0;
  for (const p of pnls) {
    equity += p;
    if (equity > peak) peak = equity;
    if (peak - equity > worst) worst = peak - equity;
  }
  return worst;
}

export function summarize(trades: readonly TradeRecord[]): Summary {
  const pnls = trades.map((t) => t.pnl);
  const wins = pnls.filter((p) => p > 0);
  const losses = pnls.filter((p) => p < 0);
  const rs = trades.filter((t) => t.r !== null).map((t) => t.r as number);
  const grossProfit = wins.reduce((a, b) => a + b, 0);
  const grossLoss = losses.reduce((a, b) => a + b, 0);
  const netPnl = pnls.reduce((a, b) => a + b, 0);
  return {
    trades: trades.length,
    wins: wins.length,
    losses: losses.length,
    winRate: trades.length ? wins.length / trades.length : null,
    netPnl,
    grossProfit,
    grossLoss,
    avgWin: avg(wins),
    avgLoss: avg(losses),
    expectancy: trades.length ? netPnl / trades.length : null,
    avgR: avg(rs),
    rTrades: rs.length,
    profitFactor: losses.length ? grossProfit / -grossLoss : null,
    maxDrawdown: maxDrawdown(pnls),
  };
}

export function dailyPnl(trades: readonly TradeRecord[]): DailyPnl[] {
  const byDay = new Map<string, DailyPnl>();
  for (const t of trades) {
    const d = byDay.get(t.day) ?? { day: t.day, pnl: 0, trades: 0 };
    d.pnl += t.pnl;
    d.trades += 1;
    byDay.set(t.day, d);
  }
  return [...byDay.values()].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
}

export function sharpe(daily: readonly DailyPnl[]): number | null {
  if (daily.length < 2) return null;
  const xs = daily.map((d) => d.pnl);
  const sd = sampleStd(xs);
  if (!(sd > 0)) return null;
  return (sampleMean(xs) / sd) * Math.sqrt(TRADING_DAYS_PER_YEAR);
}

export function statistics(trades: readonly TradeRecord[]): Statistics {
  const daily = dailyPnl(trades);
  const byReason: Record<string, Summary> = {};
  for (const reason of [...new Set(trades.map((t) => t.reason))].sort()) {
    byReason[reason] = summarize(trades.filter((t) => t.reason === reason));
  }
  let equity = 0;
  return {
    ...summarize(trades),
    daily,
    sharpe: sharpe(daily),
    bySide: { long: summarize(trades.filter((t) => t.side === 'long')), short: summarize(trades.filter((t) => t.side === 'short')) },
    byReason,
    equity: trades.map((t) => ({ t: t.exitTime, equity: (equity += t.pnl) })),
  };
}
