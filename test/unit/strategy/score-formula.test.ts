import { strict as assert } from 'assert';
import fc from 'fast-check';
import { NEW_YORK, zonedTime } from '../../../lib/clock';
import { InvalidInputError } from '../../../lib/errors';
import { BattleNavaleEngine } from '../../../lib/strategy/battle-navale';
import { DEFAULT_SCORE_EXPRESSION, SCORE_WEIGHTS, compileScoreFormula, type ScoreValues } from '../../../lib/strategy/score-formula';
import { DEFAULT_SETTINGS, resolveSettings } from '../../../lib/strategy/settings';
import { randomSession } from '../../../lib/strategy/testing/random-session';

/** Today's formula as evaluate.ts writes it (the native path). */
function native(v: ScoreValues): number {
  return (v.scoreCoreWeight * v.core + v.scoreVwapWeight * v.vwap + v.scoreOrderflowWeight * v.orderflow + v.scoreGammaWeight * v.gamma) * v.vix;
}

const unit = fc.double({ min: -1, max: 1, noNaN: true });
const weight = fc.double({ min: 0, max: 10, noNaN: true });

describe('Battle Navale score expression', () => {
  it('the default expression (mathjs) gives bit for bit the native score over random components and weights', () => {
    const formula = compileScoreFormula(DEFAULT_SCORE_EXPRESSION);
    assert.equal(formula.isDefault, true);
    fc.assert(
      fc.property(
        fc.record({ battle: unit, trend: unit, base: unit, core: unit, vwap: unit, orderflow: unit, gamma: unit, vix: fc.double({ min: 0.5, max: 1.5, noNaN: true }) }),
        fc.tuple(...SCORE_WEIGHTS.map(() => weight)),
        (components, weights) => {
          const values = { ...components } as Record<string, number>;
          SCORE_WEIGHTS.forEach((w, k) => (values[w] = weights[k]));
          const v = values as ScoreValues;
          assert.ok(Object.is(formula.evaluate(v), native(v)), `${formula.evaluate(v)} ≠ ${native(v)}`);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('an empty expression is the default, and so is the default with other spacing', () => {
    assert.equal(compileScoreFormula('').isDefault, true);
    assert.equal(compileScoreFormula(undefined).text, DEFAULT_SCORE_EXPRESSION);
    assert.equal(compileScoreFormula(DEFAULT_SCORE_EXPRESSION.replace(/ /g, '')).isDefault, true);
    assert.equal(DEFAULT_SETTINGS.scoreFormula.isDefault, true);
    assert.equal(compileScoreFormula('0.5 * trend + 0.5 * battle').isDefault, false);
  });

  it('the engine gives the same scores and signals through mathjs as through the native path on a random session', () => {
    // The extra parentheses make a different parse tree, so the engine takes the mathjs path for the same formula.
    const viaMathjs = resolveSettings({ scoreExpression: `(${DEFAULT_SCORE_EXPRESSION})` });
    assert.equal(viaMathjs.scoreFormula.isDefault, false);
    const bars = randomSession({ seed: 11, bars: 3000, start: zonedTime(NEW_YORK, 2026, 3, 3, 9, 30) });
    const context = { vwap: 5000, sigma: 4, callWall: 5050, putWall: 4950, flip: 5000, vix: 18 };
    const a = new BattleNavaleEngine(DEFAULT_SETTINGS);
    const b = new BattleNavaleEngine(viaMathjs);
    a.setContext(context);
    b.setContext(context);
    let signals = 0;
    for (const bar of bars) {
      const x = a.update(bar, bar.t + 60_000);
      const [score, signal] = [x.score, x.signal];
      const y = b.update(bar, bar.t + 60_000);
      assert.ok(Object.is(score, y.score), `bar ${bar.t}: ${score} ≠ ${y.score}`);
      assert.equal(signal, y.signal);
      if (signal !== 0) signals++;
    }
    assert.ok(signals > 0, 'the session should produce signals, or the comparison proves little');
  });

  it('a trader expression changes the score: trend alone', () => {
    const s = resolveSettings({ scoreExpression: 'trend' });
    const f = s.scoreFormula;
    const v = { ...DEFAULT_SETTINGS, battle: 1, trend: 0.6, base: 0, core: 0.4, vwap: 0, orderflow: 0, gamma: 0, vix: 1 } as unknown as ScoreValues;
    assert.equal(f.evaluate(v), 0.6);
    assert.equal(compileScoreFormula('max(battle, trend) > 0.5 ? 1 : 0').evaluate(v), 1);
  });

  it('says in the reasons when the score comes from a trader expression, and not for the default', () => {
    const bars = randomSession({ seed: 3, bars: 30, start: zonedTime(NEW_YORK, 2026, 3, 3, 10, 0) });
    const custom = new BattleNavaleEngine(resolveSettings({ scoreExpression: '0.5 * trend + 0.5 * battle' }));
    const plain = new BattleNavaleEngine(DEFAULT_SETTINGS);
    for (const bar of bars) {
      custom.update(bar, bar.t + 60_000);
      plain.update(bar, bar.t + 60_000);
    }
    assert.equal(custom.payload()!.reasons.at(-1), 'score expression: 0.5 * trend + 0.5 * battle');
    assert.ok(!plain.payload()!.reasons.some((r) => r.startsWith('score expression')));
  });

  const refused: Array<[string, RegExp]> = [
    ['battle + momentum', /unknown symbol "momentum"/],
    ['0.5 * battel', /unknown symbol "battel"/],
    ['x = battle', /an assignment/],
    ['f(x) = x; f(battle)', /more than one expression|a function definition/],
    ['f(x) = x', /a function definition/],
    ['import({a: 1})', /unknown function "import"/],
    ['evaluate("1")', /unknown function "evaluate"/],
    ['createUnit("foo")', /unknown function "createUnit"/],
    ['"abc"', /the constant "abc" is not a number/],
    ['battle.constructor', /unknown symbol "battle.constructor"|property or index access/],
    ['battle["constructor"]', /property or index access/],
    ['[battle, trend]', /a matrix/],
    ['5 cm', /unknown symbol "cm"/],
    ['battle; trend', /more than one expression/],
    ['1:3', /a range/],
    ['battle!', /the operator "!" is not allowed|unknown function "factorial"/],
    ['1 / battle', /not give a finite number for battle=0/],
    ['sqrt(battle)', /not give a finite number/],
    ['battle +', /does not parse/],
    ['cos(battle)', /unknown function "cos"/],
  ];
  for (const [text, why] of refused) {
    it(`refuses ${JSON.stringify(text)} at deploy, saying why`, () => {
      assert.throws(
        () => resolveSettings({ scoreExpression: text }),
        (err: unknown) => err instanceof InvalidInputError && why.test(err.message) && err.message.includes('score expression'),
      );
    });
  }

  it('refuses an expression that is not text', () => {
    assert.throws(() => resolveSettings({ scoreExpression: 42 }), /score expression must be text/);
  });

  it('refuses at evaluation a result that is not finite, naming the components', () => {
    // 1/(battle − 0.5) is finite on every corner of the check (−1, 0, 1) but not at battle = 0.5.
    const f = compileScoreFormula('1 / (battle - 0.5)', DEFAULT_SETTINGS);
    const v = { ...DEFAULT_SETTINGS, battle: 0.5, trend: 0, base: 0, core: 0, vwap: 0, orderflow: 0, gamma: 0, vix: 1 } as unknown as ScoreValues;
    assert.throws(() => f.evaluate(v), /gave Infinity \(not a finite number\) for battle=0.5/);
  });
  it('refuses an expression that is not finite for these weights on every compile, not only the first', () => {
    const weights = Object.fromEntries(SCORE_WEIGHTS.map((w) => [w, 1])) as Parameters<typeof compileScoreFormula>[1];
    for (let k = 0; k < 2; k++) assert.throws(() => compileScoreFormula('core / (vwap + 1)', weights), /does not give a finite number/);
    assert.equal(compileScoreFormula('core / (vwap + 2)', weights).evaluate({ ...weights, battle: 0, trend: 0, base: 0, core: 1, vwap: 0, orderflow: 0, gamma: 0, vix: 1 } as ScoreValues), 0.5);
    assert.equal(compileScoreFormula('core / (vwap + 2)', weights).evaluate({ ...weights, battle: 0, trend: 0, base: 0, core: 1, vwap: 0, orderflow: 0, gamma: 0, vix: 1 } as ScoreValues), 0.5);
  });
});
