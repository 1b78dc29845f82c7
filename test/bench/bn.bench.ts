// bn.eval.lib: evaluations per second of the stateful Battle Navale engine on 1-min bars (goal ≥ 1 M/s).
// Baseline, same run: the straightforward way, the pure function handed the last 100 bars on each bar (window
// rebuilt, means recomputed, result message built), with the same trading-hours calendar so only the engine differs.
import { report, throughput } from './harness';
import { NEW_YORK, zonedTime } from '../../lib/clock';
import { BattleNavaleEngine, evaluateBattleNavale, type BaseMemorySnapshot } from '../../lib/strategy/battle-navale';
import { resolveSettings } from '../../lib/strategy/settings';
import { TradingHours } from '../../lib/strategy/trading-hours';
import { randomSession } from '../../lib/strategy/testing/random-session';

const BAR_MS = 60_000;
const bars = randomSession({ seed: 7, bars: 200_000, start: zonedTime(NEW_YORK, 2026, 3, 2, 9, 30) });
const settings = resolveSettings();
const context = { vwap: 5000, sigma: 4, callWall: 5050, putWall: 4950, flip: 5000, vix: 18 };

const engine = new BattleNavaleEngine(settings);
engine.setContext(context);
let next = 0;
let signals = 0;
const engineRate = throughput(() => {
  const batch = 10_000;
  for (let k = 0; k < batch; k++) {
    if (next === bars.length) {
      next = 0;
      engine.reset();
      engine.setContext(context);
    }
    const bar = bars[next++];
    signals += engine.update(bar, bar.t + BAR_MS).signal !== 0 ? 1 : 0;
  }
  return batch;
}, 2000);

const hours = new TradingHours(settings.tradingStartMin, settings.tradingEndMin);
let memory: BaseMemorySnapshot | undefined;
let lastSignalAt: number | null = null;
let cursor = 0;
const baselineRate = throughput(() => {
  const batch = 1000;
  for (let k = 0; k < batch; k++) {
    if (cursor === bars.length) {
      cursor = 0;
      memory = undefined;
      lastSignalAt = null;
    }
    const now = bars[cursor].t + BAR_MS;
    const window = bars.slice(Math.max(0, cursor + 1 - settings.windowBars), cursor + 1);
    const result = evaluateBattleNavale({ bars: window, context, settings, now, memory, lastSignalAt, barsSeen: cursor + 1, tradingHours: hours });
    memory = result.memory;
    if (result.payload.signal !== 'NO_SIGNAL') lastSignalAt = now;
    cursor++;
  }
  return batch;
}, 2000);

report({
  id: 'bn.eval.lib',
  value: Math.round(engineRate),
  unit: 'evaluations/s',
  baseline: Math.round(baselineRate),
  goal: '≥ 1000000 evaluations/s',
  note: `stateful engine vs pure function over the 100-bar window; ${signals} signals during the run`,
});
