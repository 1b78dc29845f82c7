import assert from 'assert';
import fs from 'fs';
import path from 'path';
import { parseBarsCsv } from '../../../lib/replay/bars-csv';
import { runBacktest, type BacktestProgress } from '../../../lib/replay/backtest';
import { tradeDateAtOrAfter } from '../../../lib/sim/calendar';
import { createMarket } from '../../../lib/sim/market';
import type { MarketBar } from '../../../lib/sim/market-types';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ES_DIR = [path.resolve(REPO, '..', 'shared', 'data', 'es'), path.resolve(REPO, '..', '..', 'shared', 'data', 'es')].find((d) => fs.existsSync(d));

// Five trading days of the seeded market, Mon 9 to Fri 13 June 2025.
const FROM = Date.UTC(2025, 5, 8, 22, 0);
const TO = Date.UTC(2025, 5, 13, 21, 0);
const seeded = createMarket({ seed: 11, startTime: TO, speed: 0 }).esBars(FROM, TO, 60_000);
const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1, risk: { cooldownMin: 5 } };

function garbageAfter(bars: MarketBar[], k: number): MarketBar[] {
  return bars.map((b, i) => (i <= k ? b : { t: b.t, o: 1, h: 9999, l: 1, c: 9999, v: 1e6 }));
}

describe('replay: backtest from history', () => {
  it('trades on the seeded week, deterministically, with fills by the documented rules', () => {
    const a = runBacktest(seeded, OPTIONS);
    const b = runBacktest(seeded, OPTIONS);
    assert.deepStrictEqual(b, a);
    assert.ok(a.trades.length > 0, 'the week gives trades');
    const byOpen = new Map(seeded.map((x) => [x.t, x]));
    for (const tr of a.trades) {
      const dir = tr.side === 'buy' ? 1 : -1;
      // Entry at the open of the bar after the signal's bar, one tick worse.
      assert.strictEqual(tr.entryT, tr.signalT);
      assert.strictEqual(tr.entry, (byOpen.get(tr.entryT) as MarketBar).o + dir * 0.25);
      if (tr.exitReason === 'target') assert.strictEqual(tr.exit, tr.target);
      if (tr.exitReason === 'stop') assert.ok(dir * (tr.exit - tr.stop) <= -0.25 + 1e-9, `stop exit ${tr.exit} vs stop ${tr.stop}`);
      assert.ok(Math.abs(tr.pnl - ((tr.exit - tr.entry) * dir * 50 - 4.5)) < 1e-6);
    }
    assert.ok(Math.abs(a.pnl - a.trades.reduce((s, t) => s + t.pnl, 0)) < 1e-6);
  });

  it('applies the risk rules: one trade a day refuses the later signals with the rule named', () => {
    const r = runBacktest(seeded, { ...OPTIONS, risk: { maxTradesPerDay: 1 } });
    const perDay = new Map<number, number>();
    for (const t of r.trades) {
      const d = tradeDateAtOrAfter(t.entryT);
      perDay.set(d, (perDay.get(d) ?? 0) + 1);
    }
    assert.ok([...perDay.values()].every((n) => n === 1), JSON.stringify([...perDay]));
    assert.ok(r.signals.some((s) => s.refused?.startsWith('max-trades')));
  });

  it('has no look-ahead: replacing every bar after t by garbage leaves the signals up to t unchanged', () => {
    const full = runBacktest(seeded, OPTIONS);
    for (const frac of [0.2, 0.45, 0.7, 0.9]) {
      const k = Math.floor(seeded.length * frac);
      const cut = seeded[k].t + 60_000;
      const g = runBacktest(garbageAfter(seeded, k), OPTIONS);
      assert.deepStrictEqual(
        g.signals.filter((s) => s.t <= cut),
        full.signals.filter((s) => s.t <= cut),
      );
      assert.deepStrictEqual(
        g.trades.filter((t) => t.exitT <= cut),
        full.trades.filter((t) => t.exitT <= cut),
      );
    }
  });

  it('reports progress once per trading day', () => {
    const seen: BacktestProgress[] = [];
    runBacktest(seeded, { ...OPTIONS, onProgress: (p) => seen.push(p) });
    assert.deepStrictEqual(
      seen.map((p) => p.daysDone),
      [1, 2, 3, 4, 5],
    );
    assert.deepStrictEqual(
      seen.map((p) => p.day),
      ['2025-06-09', '2025-06-10', '2025-06-11', '2025-06-12', '2025-06-13'],
    );
    assert.strictEqual(seen[4].bars, seeded.length);
  });

  it('refuses bars out of order and bad settings', () => {
    assert.throws(() => runBacktest([seeded[1], seeded[0]]), /not after the previous bar/);
    assert.throws(() => runBacktest(seeded, { slippageTicks: -1 }), /slippage/);
  });

  it('runs on the real ES minutes of ../shared/data/es without look-ahead', function () {
    if (!ES_DIR) {
      console.log('    (skipped: ../shared/data/es is absent)');
      this.skip();
    }
    const file = path.join(ES_DIR as string, 'es-1min-2023-09-24_2023-10-09.csv');
    const bars = parseBarsCsv(fs.readFileSync(file, 'utf8'));
    assert.strictEqual(bars.length, 15_176);
    const full = runBacktest(bars, OPTIONS);
    assert.strictEqual(full.days, 11);
    const k = Math.floor(bars.length / 2);
    const cut = bars[k].t + 60_000;
    const g = runBacktest(garbageAfter(bars, k), OPTIONS);
    assert.deepStrictEqual(
      g.signals.filter((s) => s.t <= cut),
      full.signals.filter((s) => s.t <= cut),
    );
  });
});
