// backtest.20d: a backtest of 20 trading days of 1-minute ES bars (the real minutes of ../shared/data/es when
// present, else 20 days of the seeded market) with the default Battle Navale settings, risk rules, $2.25 commission
// and 1 tick of slippage (goal ≤ 30 s). Baseline, same run: the Battle Navale engine alone over the same bars (no
// VWAP, risk or fills), so the ratio is what the backtest adds to the evaluations.
import fs from 'fs';
import path from 'path';
import { report } from './harness';
import { parseBarsCsv } from '../../lib/replay/bars-csv';
import { runBacktest } from '../../lib/replay/backtest';
import { tradeDateAtOrAfter } from '../../lib/sim/calendar';
import { createMarket } from '../../lib/sim/market';
import type { MarketBar } from '../../lib/sim/market-types';
import { BattleNavaleEngine } from '../../lib/strategy/battle-navale';

const REPO = path.resolve(__dirname, '..', '..');
const ES_DIR = [path.resolve(REPO, '..', 'shared', 'data', 'es'), path.resolve(REPO, '..', '..', 'shared', 'data', 'es')].find((d) => fs.existsSync(d));
const DAYS = 20;

function firstDays(bars: MarketBar[], n: number): MarketBar[] {
  const days = new Set<number>();
  const out: MarketBar[] = [];
  for (const b of bars) {
    const d = tradeDateAtOrAfter(b.t);
    if (!days.has(d)) {
      if (days.size === n) break;
      days.add(d);
    }
    out.push(b);
  }
  return out;
}

function loadBars(): { bars: MarketBar[]; source: string } {
  if (ES_DIR) {
    const files = ['es-1min-2023-03-08_2023-03-23.csv', 'es-1min-2023-09-24_2023-10-09.csv'].map((f) => path.join(ES_DIR, f));
    if (files.every((f) => fs.existsSync(f))) {
      const bars = files.flatMap((f) => parseBarsCsv(fs.readFileSync(f, 'utf8')));
      return { bars: firstDays(bars, DAYS), source: 'real ES minutes (FirstRateData samples, 2023)' };
    }
  }
  // 20 weekdays of the seeded market from Monday 2 February 2026 (fixed: not today's date).
  const from = Date.UTC(2026, 1, 1, 23, 0);
  const to = Date.UTC(2026, 1, 27, 22, 0);
  return { bars: firstDays(createMarket({ seed: 1, startTime: to, speed: 0 }).esBars(from, to, 60_000), DAYS), source: 'seeded market' };
}

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
