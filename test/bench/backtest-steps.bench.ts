// backtest.20d.steps: the same 20 trading days as backtest.20d (real ES minutes of ../shared/data/es when present,
// else the seeded market), run as the mia-backtest node runs them: one trading day at a time with a turn of the event
// loop between days, and the trades turned into mia-trade-stats messages. Baseline, same run: runBacktest in one
// piece over the same bars. The note gives the longest stretch of CPU work between two turns of the event loop (one day's work): what
// the rest of a Node-RED flow may wait at most while a backtest runs.
import { report } from './harness';
import { loadBars } from './backtest-bars';
import { runBacktest } from '../../lib/replay/backtest';
import { runBacktestInSteps, tradeStatsMessages } from '../../lib/replay/backtest-steps';

const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1 };


/** CPU time of this process (user + system), ms: on a shared machine a slice's wall time is mostly other processes'. */
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function main(): Promise<void> {
  const { bars, source } = loadBars();

  runBacktest(bars, OPTIONS); // warm-up: both timed runs below meet a compiled engine
  const t1 = performance.now();
  const whole = runBacktest(bars, OPTIONS);
  const wholeMs = performance.now() - t1;

  const slices: number[] = [];
  let sliceStart = 0;
  let messages = 0;
  let firstId = 1;
  const t0 = performance.now();
  sliceStart = cpuMs();
  const stepped = await runBacktestInSteps(bars, {
    ...OPTIONS,
    onDay: (p, closed, soFar) => {
      messages += tradeStatsMessages(closed, soFar.signals, firstId).length;
      firstId += closed.length;
      process.stderr.write(`backtest (steps): day ${p.daysDone}/${p.days} ${p.day}: ${p.trades} trades\n`);
    },
    yieldBetweenDays: async () => {
      slices.push(cpuMs() - sliceStart);
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = cpuMs();
    },
  });
  slices.push(cpuMs() - sliceStart);
  const ms = performance.now() - t0;
  if (stepped.trades.length !== whole.trades.length || stepped.pnl !== whole.pnl) throw new Error('the stepped run differs from runBacktest');

  report({
    id: 'backtest.20d.steps',
    value: Number((ms / 1000).toFixed(3)),
    unit: 's',
    baseline: Number((wholeMs / 1000).toFixed(3)),
    goal: '≤ 30 s',
    note: `${stepped.days} trading days, ${bars.length} bars of ${source}, a turn of the event loop after each day; event loop held at most ${Math.max(...slices).toFixed(1)} ms of CPU at a time (median ${[...slices].sort((a, b) => a - b)[slices.length >> 1].toFixed(1)} ms; the first slice also checks all bars and builds the engine, whose score formula mathjs parses once); ${stepped.trades.length} trades, ${messages} mia-trade-stats messages; same trades as runBacktest in one piece`,
  });
}

void main();
