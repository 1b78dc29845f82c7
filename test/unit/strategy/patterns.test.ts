import { strict as assert } from 'assert';
import { PATTERN_COLOR_DOWN, PATTERN_LONG_DOWN_UP, PATTERN_LONG_UP_DOWN, PatternHits, findPatterns } from '../../../lib/strategy/patterns';
import { DEFAULT_SETTINGS as S } from '../../../lib/strategy/settings';
import { mirrorBar } from '../../../lib/strategy/testing/random-session';
import { bar, windowOf, SESSION_OPEN, MINUTE } from './helpers';

const found = (bars: ReturnType<typeof bar>[]) => {
  const hits = new PatternHits(S.confidencePatternBars);
  findPatterns(windowOf(bars), S, hits);
  return Array.from({ length: hits.count }, (_, k) => ({ kind: hits.kind[k], strength: hits.strength[k], t: hits.t[k] }));
};

// Long Down Up Bar: p closes 101; b opens under it and reaches 99.5 (range 1.5 = 6 ticks); x opens above b's close
// and runs to 103, above p's high 102.5, more than 8 ticks over b's low.
const p = bar(100, 102.5, 100, 101);
const b = bar(100.5, 101, 99.5, 100);
const x = bar(100.25, 103, 100, 102.75);

describe('Battle Navale patterns', () => {
  it('reports a Long Down Up Bar on bar b once bar x has closed, with strength 0.7·min(range/16 ticks, 1) + 0.3·min(v/v̄, 1)', () => {
    assert.deepEqual(found([p, b]), [], 'not before x closes');
    const hits = found([p, b, x]);
    assert.deepEqual(hits, [{ kind: PATTERN_LONG_DOWN_UP, strength: 0.7 * (6 / 16) + 0.3 * 1, t: SESSION_OPEN + MINUTE }]);
  });

  it('needs x to exceed the high of p', () => {
    assert.deepEqual(found([p, b, bar(100.25, 102.5, 100, 102.25)]), []);
  });

  it('reports the mirror image as a Long Up Down Bar', () => {
    const hits = found([p, b, x].map((q) => mirrorBar(q, 100)));
    assert.deepEqual(hits.map((h) => h.kind), [PATTERN_LONG_UP_DOWN]);
  });

  it('reports a Color Down Setting: three red bars, then a green bar of more than 12 ticks', () => {
    const red = (o: number) => bar(o, o, o - 1, o - 0.75);
    const reds = [red(103), red(102.25), red(101.5)];
    const green = bar(100.75, 104.25, 100.75, 104, 200); // 14 ticks, volume twice the others
    const hits = found([...reds, green]);
    assert.deepEqual(hits.map((h) => h.kind), [PATTERN_COLOR_DOWN]);
    assert.ok(Math.abs(hits[0].strength - (0.8 * (14 / 24) + 0.2 * 1)) < 1e-12);
    assert.deepEqual(found([...reds, bar(100.75, 103.75, 100.75, 103.5)]), [], 'exactly 12 ticks is not enough');
    assert.deepEqual(found([red(103), bar(101, 102, 101, 101.5), red(101.5), green]), [], 'needs three reds in a row');
  });

  it('keeps reporting a pattern for 3 bars, then drops it', () => {
    const after = (n: number) => Array.from({ length: n }, () => bar(102.75, 102.75, 102.75, 102.75));
    assert.equal(found([p, b, x, ...after(2)]).length, 1);
    assert.equal(found([p, b, x, ...after(3)]).length, 0);
  });
});
