// bn.eval.expr: evaluations per second of the Battle Navale engine when the score is a trader's expression (mathjs
// compiled once, evaluated per bar). Baseline, same run: the default formula, which keeps the native arithmetic.
// The expression measured is the default one in extra parentheses, so both sides compute the same scores.
import { report, throughput } from './harness';
import { NEW_YORK, zonedTime } from '../../lib/clock';
import { BattleNavaleEngine } from '../../lib/strategy/battle-navale';
import { DEFAULT_SCORE_EXPRESSION } from '../../lib/strategy/score-formula';
import { resolveSettings } from '../../lib/strategy/settings';
import { randomSession } from '../../lib/strategy/testing/random-session';

const BAR_MS = 60_000;
const bars = randomSession({ seed: 7, bars: 200_000, start: zonedTime(NEW_YORK, 2026, 3, 2, 9, 30) });
const context = { vwap: 5000, sigma: 4, callWall: 5050, putWall: 4950, flip: 5000, vix: 18 };

function rate(expression: string): number {
  const engine = new BattleNavaleEngine(resolveSettings({ scoreExpression: expression }));
  engine.setContext(context);
  let next = 0;
  return throughput(() => {
    const batch = 10_000;
    for (let k = 0; k < batch; k++) {
      if (next === bars.length) {
        next = 0;
        engine.reset();
        engine.setContext(context);
      }
      const bar = bars[next++];
      engine.update(bar, bar.t + BAR_MS);
    }
    return batch;
  }, 2000);
}

const nativeRate = rate('');
const mathjsRate = rate(`(${DEFAULT_SCORE_EXPRESSION})`);

report({
  id: 'bn.eval.expr',
  value: Math.round(mathjsRate),
  unit: 'evaluations/s',
  baseline: Math.round(nativeRate),
  goal: 'reported only: the default formula keeps the native path (bn.eval.lib ≥ 1 M/s)',
  note: 'score via a mathjs-compiled trader expression vs the default formula (native arithmetic)',
});
