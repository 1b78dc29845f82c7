// A recording of the seeded simulator market (lib/sim/market.ts) over [from, to): its trades and 1-minute bars
// (no chain snapshots: the seeded chain depends on the market's anchor). For tests and benchmarks that need a full realistic day, and to try the
// replay mode without a live recording.
import { MINUTE_MS } from '../sim/calendar';
import { createMarket } from '../sim/market';
import type { RecordLine } from './recording';

/**
 * `historyMs` > 0 adds the 1-minute bars of [from − historyMs, from) recorded at `from`, as a flow's preload of
 * history (ibkr-history) at the start would have received them.
 */
export function seededRecordLines(seed: number, from: number, to: number, historyMs = 0): RecordLine[] {
  const lines: RecordLine[] = [{ t: from, topic: 'meta', payload: { version: 1, source: 'seeded', seed } }];
  const market = createMarket({ seed, startTime: to, speed: 0 });
  if (historyMs > 0) {
    for (const bar of market.esBars(from - historyMs, from, MINUTE_MS)) if (bar.t + MINUTE_MS <= from) lines.push({ t: from, topic: 'bar', payload: bar });
  }
  const trades = market.tradesBetween(from - 1, to - 1); // [from, to)
  const bars = market.esBars(from, to, MINUTE_MS);
  let b = 0;
  for (const trade of trades) {
    // A bar is recorded when it closes (at its end), before the first trade of the next minute.
    while (b < bars.length && bars[b].t + MINUTE_MS <= trade.t) {
      lines.push({ t: bars[b].t + MINUTE_MS, topic: 'bar', payload: bars[b] });
      b++;
    }
    lines.push({ t: trade.t, topic: 'trade', payload: trade });
  }
  while (b < bars.length && bars[b].t + MINUTE_MS <= to) {
    lines.push({ t: bars[b].t + MINUTE_MS, topic: 'bar', payload: bars[b] });
    b++;
  }
  return lines;
}
