// 1-minute OHLCV bars from CSV: `timestamp,open,high,low,close,volume` with the timestamp either ISO 8601 with a zone
// ("2013-10-07T13:30:00Z") or a naive wall-clock "YYYY-MM-DD HH:MM:SS" read in `timeZone` (the FirstRateData ES
// files: America/New_York). The stamp is the bar's open. Bad rows are refused with their line number.
import { NEW_YORK, zonedTime } from '../clock';
import { InvalidInputError } from '../errors';
import type { MarketBar } from '../sim/market-types';

const NAIVE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;

export function parseBarsCsv(text: string, timeZone = NEW_YORK, name = 'csv'): MarketBar[] {
  const bars: MarketBar[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || (n === 0 && /[a-z]/i.test(line.split(',')[1] ?? ''))) continue;
    const f = line.split(',');
    if (f.length < 6) throw new InvalidInputError(`${name} line ${n + 1}: expected timestamp,open,high,low,close,volume`);
    const stamp = f[0].trim();
    const m = NAIVE.exec(stamp);
    const t = m ? zonedTime(timeZone, +m[1], +m[2], +m[3], +m[4], +m[5], +(m[6] ?? 0)) : Date.parse(stamp);
    const [o, h, l, c, v] = f.slice(1, 6).map(Number);
    if (!Number.isFinite(t) || ![o, h, l, c, v].every(Number.isFinite)) throw new InvalidInputError(`${name} line ${n + 1}: not a bar: ${line.slice(0, 80)}`);
    bars.push({ t, o, h, l, c, v });
  }
  return bars;
}
