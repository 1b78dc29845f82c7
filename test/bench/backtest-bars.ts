// The 20 trading days both backtest benches run: real ES minutes of ../shared/data/es when present (FirstRateData
// samples, 2023), else 20 weekdays of the seeded market from Monday 2 February 2026 (fixed: not today's date).
import fs from 'fs';
import path from 'path';
import { parseBarsCsv } from '../../lib/replay/bars-csv';
import { tradeDateAtOrAfter } from '../../lib/sim/calendar';
import { createMarket } from '../../lib/sim/market';
import type { MarketBar } from '../../lib/sim/market-types';

const REPO = path.resolve(__dirname, '..', '..');
const ES_DIR = [path.resolve(REPO, '..', 'shared', 'data', 'es'), path.resolve(REPO, '..', '..', 'shared', 'data', 'es')].find((d) => fs.existsSync(d));
export const DAYS = 20;

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

export function loadBars(): { bars: MarketBar[]; source: string } {
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
