import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InvalidInputError } from '../../lib/errors';
import { SCORE_COMPONENTS, compileScoreFormula, type ScoreValues } from '../../lib/strategy/score-formula';
import { DEFAULT_SETTINGS } from '../../lib/strategy/settings';

// Whatever a trader types, the score expression either compiles to something that gives a finite number or an
// InvalidInputError, or it is refused with an InvalidInputError: never another exception, never a non-number.
const TOKENS = [
  ...SCORE_COMPONENTS, 'scoreCoreWeight', '0.5', '2', '1e3', '+', '-', '*', '/', '^', '(', ')', ',', '?', ':', '<', '==', 'and', 'not',
  'abs', 'max', 'tanh', 'sqrt', 'x', '=', ';', '[', ']', '{', '}', '.', '"a"', "'", 'cm', 'import', 'evaluate', 'f(x)=', '!', '%', 'e', 'pi', '\n',
];

describe('score expression fuzz', function () {
  this.timeout(120_000); // each compiled expression is checked on 2187 corners of the component ranges
  it('compiles or refuses any token soup with InvalidInputError, and a compiled one gives finite numbers or InvalidInputError', () => {
    const unit = fc.double({ min: -1, max: 1, noNaN: true });
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TOKENS), { maxLength: 12 }), fc.tuple(unit, unit, unit, unit, unit, unit, unit), (tokens, v) => {
        const text = tokens.join(' ');
        let formula;
        try {
          formula = compileScoreFormula(text, DEFAULT_SETTINGS);
        } catch (err) {
          assert.ok(err instanceof InvalidInputError, `${JSON.stringify(text)} threw ${String(err)}`);
          return;
        }
        const values = { ...DEFAULT_SETTINGS, battle: v[0], trend: v[1], base: v[2], core: v[3], vwap: v[4], orderflow: v[5], gamma: v[6], vix: 1 } as unknown as ScoreValues;
        try {
          const score = formula.evaluate(values);
          assert.ok(typeof score === 'number' && Number.isFinite(score), `${JSON.stringify(text)} gave ${String(score)}`);
        } catch (err) {
          assert.ok(err instanceof InvalidInputError, `${JSON.stringify(text)} threw ${String(err)} at evaluation`);
        }
      }),
      { numRuns: 400 },
    );
  });
});
