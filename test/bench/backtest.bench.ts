// backtest.20d: a backtest of 20 trading days of 1-minute ES bars (the real minutes of ../shared/data/es when
// present, else 20 days of the seeded market) with the default Battle Navale settings, risk rules, $2.25 commission
// and 1 tick of slippage (goal ≤ 30 s). Baseline, same run: the Battle Navale engine alone over the same bars (no
// VWAP, risk or fills), so the ratio is what the backtest adds to the evaluations.
import { report } from './harness';
import { loadBars } from './backtest-bars';
import { runBacktest } from '../../lib/replay/backtest';
import { tradeDateAtOrAfter } from '../../lib/sim/calendar';
import { BattleNavaleEngine } from '../../lib/strategy/battle-navale';

const { bars, source } = loadBars();
const days = new Set(bars.map((b) => tradeDateAtOrAfter(b.t))).size;

let progressLines = 0;
const t0 = performance.now();
const result = runBacktest(bars, {
  commissionPerContract: 2.25,
  slippageTicks: 1,
  onProgress: (p) => {
    progressLines++;
    process.stderr.write(`backtest: day ${p.daysDone}/${p.days} ${p.day}: ${p.trades} trades, P&L ${p.pnl.toFixed(2)} $\n`);
  },
});
const ms = performance.now() - t0;

const t1 = performance.now();
const engine = new BattleNavaleEngine();
let signals = 0;
for (const b of bars) signals += engine.update(b, b.t + 60_000).signal !== 0 ? 1 : 0;
const engineMs = performance.now() - t1;

report({
  id: 'backtest.20d',
  value: Number((ms / 1000).toFixed(3)),
  unit: 's',
  baseline: Number((engineMs / 1000).toFixed(3)),
  goal: '≤ 30 s',
  note: `${days} trading days, ${bars.length} bars of ${source}; ${result.signals.length} signals (engine alone: ${signals}), ${result.trades.length} trades, net P&L ${result.pnl.toFixed(2)} $; ${progressLines} progress lines`,
});
