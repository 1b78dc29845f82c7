import { strict as assert } from 'assert';
import {
  BASE_GREEN,
  BASE_NEUTRAL,
  BASE_RED,
  BaseDetection,
  BaseMemory,
  ContextLevels,
  GoldenRuleState,
  RULE_INTACT,
  RULE_NONE,
  RULE_VIOLATED,
  baseSizeScore,
  battle,
  detectBase,
  gammaComponent,
  goldenRule,
  orderflow,
  vixFactor,
  vwapComponent,
} from '../../../lib/strategy/components';
import { DEFAULT_SETTINGS as S } from '../../../lib/strategy/settings';
import { bar, flat, windowOf, SESSION_OPEN, MINUTE } from './helpers';

const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);

// A strong green bar: body 1.0 of range 1.25 (body/range 0.8).
const green = (o: number, v = 100, extra = {}) => bar(o, o + 1.25, o, o + 1, v, extra);

describe('Battle Navale components', () => {
  describe('1. battle (Vikings against Défenseurs)', () => {
    it('is 0 with fewer than 5 bars', () => {
      assert.equal(battle(windowOf([green(100), green(101), green(102), green(103)]), S), 0);
    });

    it('adds 0.8·body/range for strong bodies and 0.2·min(v/v̄, 2) by colour', () => {
      // Four strong green bars (0.8·0.8 + 0.2·1 each) and one weak red bar (body/range 0.5: volume term only).
      const weakRed = bar(101, 101, 100, 100.5);
      const w = windowOf([green(100), green(101), weakRed, green(102), green(103)]);
      const vikings = 4 * (0.8 * 0.8 + 0.2 * 1);
      const defenders = 0.2 * 1;
      close(battle(w, S), (vikings - defenders) / (vikings + defenders));
    });

    it('caps the volume ratio at 2 and measures it against the mean volume of the whole window', () => {
      // v̄ = (5·100 + 1000) / 6 = 250; the last bar's ratio is 1000/250 = 4 → capped at 2.
      const weakRed = (v: number) => bar(101, 101, 100, 100.5, v);
      const w = windowOf([flat(100), weakRed(100), weakRed(100), weakRed(100), weakRed(100), green(100, 1000)]);
      const vikings = 0.8 * 0.8 + 0.2 * 2;
      const defenders = 4 * 0.2 * (100 / 250);
      close(battle(w, S), (vikings - defenders) / (vikings + defenders));
    });

    it('adds 0.5·min(|delta|/d̄, 1) to the side of the delta', () => {
      const weakRed = bar(101, 101, 100, 100.5, 100, { delta: -100 });
      const w = windowOf([green(100, 100, { delta: 50 }), green(101, 100, { delta: 50 }), weakRed, green(102, 100, { delta: 50 }), green(103, 100, { delta: 50 })]);
      const dMean = (4 * 50 + 100) / 5;
      const vikings = 4 * (0.8 * 0.8 + 0.2) + 4 * 0.5 * (50 / dMean);
      const defenders = 0.2 + 0.5 * 1;
      close(battle(w, S), (vikings - defenders) / (vikings + defenders));
    });

    it('gives 0.3 to Vikings above 60 % buy volume and to Défenseurs below 40 %', () => {
      const doji = (buyVolume: number, sellVolume: number) => bar(100, 100.5, 99.5, 100, 100, { buyVolume, sellVolume });
      // Dojis carry no colour: only the buy share counts. 70 %, 70 %, 30 %, 50 % (neither), 60 % (not above).
      const w = windowOf([doji(70, 30), doji(70, 30), doji(30, 70), doji(50, 50), doji(60, 40)]);
      close(battle(w, S), (0.6 - 0.3) / 0.9);
    });

    it('ignores dojis and bars without range', () => {
      const w = windowOf([flat(100), flat(100), bar(100, 101, 99, 100), flat(100), flat(100)]);
      assert.equal(battle(w, S), 0);
    });
  });

  describe('2. base detection', () => {
    // 15 bars inside 100–101 (4 ticks), closes wobbling by a tick, the last five stepping up 3 times out of 4.
    const closes = [100.5, 100.25, 100.5, 100.75, 100.5, 100.25, 100.5, 100.75, 100.5, 100.25, 100.25, 100.5, 100.75, 100.5, 100.75];
    const volumes = [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 200, 200, 200, 200].map((v, k) => (k < 7 ? 100 : v));
    const baseBars = (cs: number[], vs = volumes) => cs.map((c, k) => bar(100.5, 101, 100, c, vs[k]));

    it('finds a green base and scores its quality term by term', () => {
      const out = new BaseDetection();
      detectBase(windowOf(baseBars(closes)), S, out);
      assert.equal(out.found, true);
      assert.equal(out.type, BASE_GREEN);
      assert.deepEqual([out.high, out.low, out.heightTicks], [101, 100, 4]);
      // Last 8 volumes: 100 ×4, 200 ×4 → mean 150, σ 50, CV 1/3. n ≥ 10 bars inside, size 4 ticks → 1.0, all 8 closes inside.
      close(out.quality, 0.3 * 1 + 0.2 * 1 + 0.25 * (1 - 1 / 3) + 0.25 * 1);
    });

    it('finds a red base when at most one of the last four moves is not down', () => {
      const out = new BaseDetection();
      const mirrored = closes.map((c) => 201 - c); // mirrored around 100.5: same spread, moves reversed
      detectBase(windowOf(baseBars(mirrored)), S, out);
      assert.equal(out.type, BASE_RED);
    });

    it('calls a base neutral when the closes neither step up nor down', () => {
      const out = new BaseDetection();
      const sideways = [...closes.slice(0, 10), 100.5, 100.25, 100.5, 100.25, 100.5];
      detectBase(windowOf(baseBars(sideways)), S, out);
      assert.equal(out.found, true);
      assert.equal(out.type, BASE_NEUTRAL);
    });

    it('needs at least 10 bars', () => {
      const out = new BaseDetection();
      detectBase(windowOf(baseBars(closes).slice(0, 9)), S, out);
      assert.equal(out.found, false);
      detectBase(windowOf(baseBars(closes).slice(0, 10)), S, out);
      assert.equal(out.found, true);
    });

    it('refuses a base taller than 10 ticks (11 ticks here)', () => {
      const out = new BaseDetection();
      const tall = baseBars(closes);
      tall[14] = bar(100.5, 102.75, 100, 100.75, 200); // the newest bar reaches 102.75: 11 ticks over 100
      detectBase(windowOf(tall), S, out);
      assert.equal(out.found, false);
      tall[14] = bar(100.5, 102.5, 100, 100.75, 200); // exactly 10 ticks is allowed
      detectBase(windowOf(tall), S, out);
      assert.equal(out.found, true);
    });

    it('takes a one-tick-a-bar grind for a green base but refuses a fast trend (too tall)', () => {
      const out = new BaseDetection();
      const trend = Array.from({ length: 15 }, (_, k) => bar(100 + k * 0.25, 100.25 + k * 0.25, 100 + k * 0.25, 100.25 + k * 0.25));
      // closes 100.25 … 103.75: σ = 0.25·√((15²−1)/12) ≈ 1.08 < 0.3 × 3.75; the last 8 bars span 8 ticks.
      detectBase(windowOf(trend), S, out);
      assert.equal(out.found, true, 'a slow grind of one tick a bar is a (green) base');
      assert.equal(out.type, BASE_GREEN);
      // One point a bar: σ passes (≈ 4.32 < 0.3 × 15.25) but the last 8 bars span 33 ticks.
      const fast = Array.from({ length: 15 }, (_, k) => bar(100 + k, 101.25 + k, 100 + k, 101 + k));
      detectBase(windowOf(fast), S, out);
      assert.equal(out.found, false);
    });

    it('scores the size 1.0 for 2–6 ticks, 0.7 for 1–8, else 0.3', () => {
      assert.deepEqual([0, 1, 2, 6, 7, 8, 9, 10].map((h) => baseSizeScore(h, S)), [0.3, 0.7, 1, 1, 0.7, 0.7, 0.3, 0.3]);
    });
  });

  describe('3. golden rule ("rouge sous verte")', () => {
    const memoryWithGreen = (low: number, t: number): BaseMemory => {
      const m = new BaseMemory();
      Object.assign(m, { greenFound: true, greenHigh: low + 1, greenLow: low, greenQuality: 0.8, greenT: t });
      return m;
    };
    const run = (bars: ReturnType<typeof bar>[], memory: BaseMemory, battleValue = 0) => {
      const out = new GoldenRuleState();
      goldenRule(windowOf(bars), memory, battleValue, S, out);
      return out;
    };

    it('holds while no red bar closes more than half a tick below the green base', () => {
      const m = memoryWithGreen(100, SESSION_OPEN);
      // A red bar closing at 99.875 is exactly at the tolerance: not a violation.
      const out = run([flat(100.5), bar(100.5, 100.5, 99.875, 99.875)], m, 0.5);
      assert.deepEqual([out.state, out.side, out.trend, out.greenViolated], [RULE_INTACT, BASE_GREEN, 0.6, false]);
      assert.equal(run([flat(100.5), bar(100.5, 100.5, 99.875, 99.875)], m, 0.4).trend, 0.2, 'battle must exceed 0.4 for +0.6');
    });

    it('is violated by a red bar closing below the base low minus half a tick: trend −0.6', () => {
      const out = run([flat(100.5), bar(100.5, 100.5, 99.75, 99.75)], memoryWithGreen(100, SESSION_OPEN));
      assert.deepEqual([out.state, out.side, out.trend, out.greenViolated], [RULE_VIOLATED, BASE_GREEN, -0.6, true]);
    });

    it('is not violated by a green bar closing below the base (only red bars count)', () => {
      const out = run([flat(100.5), bar(99, 99.75, 99, 99.5)], memoryWithGreen(100, SESSION_OPEN));
      assert.equal(out.state, RULE_INTACT);
    });

    it('ignores bars older than the base and violations older than 20 bars', () => {
      const breaker = bar(100.5, 100.5, 99, 99);
      assert.equal(run([breaker, flat(100.5)], memoryWithGreen(100, SESSION_OPEN + MINUTE)).state, RULE_INTACT);
      const old = [flat(100.5), breaker, ...Array.from({ length: 20 }, () => flat(100.5))];
      assert.equal(run(old, memoryWithGreen(100, SESSION_OPEN)).state, RULE_INTACT);
      assert.equal(run(old.slice(0, 21), memoryWithGreen(100, SESSION_OPEN)).state, RULE_VIOLATED);
    });

    it('lets the most recent violation win: a green close above the red base after a green-base break reads +0.6', () => {
      const m = memoryWithGreen(100, SESSION_OPEN);
      Object.assign(m, { redFound: true, redHigh: 100.5, redLow: 99.5, redQuality: 0.8, redT: SESSION_OPEN });
      const out = run([flat(100), bar(100, 100, 99, 99), bar(99, 101, 99, 101)], m);
      assert.deepEqual([out.state, out.side, out.trend, out.greenViolated, out.redViolated], [RULE_VIOLATED, BASE_RED, 0.6, true, true]);
    });

    it('reads the latest base when none is violated: red intact → −0.2, or −0.6 with battle below −0.4', () => {
      const m = new BaseMemory();
      Object.assign(m, { redFound: true, redHigh: 101, redLow: 100, redQuality: 0.8, redT: SESSION_OPEN });
      assert.equal(run([flat(100.5), flat(100.5)], m, -0.3).trend, -0.2);
      assert.equal(run([flat(100.5), flat(100.5)], m, -0.5).trend, -0.6);
      assert.equal(run([flat(100.5)], new BaseMemory()).state, RULE_NONE);
    });
  });

  describe('4–6. context components and the VIX factor', () => {
    const ctx = (levels: Partial<ContextLevels>): ContextLevels => Object.assign(new ContextLevels(), levels);

    it('VWAP: tanh((close − VWAP)/σ), 0 without VWAP or with σ = 0', () => {
      close(vwapComponent(101, ctx({ vwap: 100, sigma: 2 })), Math.tanh(0.5));
      close(vwapComponent(99, ctx({ vwap: 100, sigma: 2 })), -Math.tanh(0.5));
      assert.equal(vwapComponent(101, ctx({ vwap: 100, sigma: 0 })), 0);
      assert.equal(vwapComponent(101, ctx({})), 0);
    });

    it('order flow: tanh(least-squares slope of the cumulative delta over 5 bars ÷ d̄)', () => {
      const withDelta = (deltas: number[]) => deltas.map((delta) => bar(100, 100.5, 99.5, 100.25, 100, { delta }));
      close(orderflow(windowOf(withDelta([10, 10, 10, 10, 10])), S), Math.tanh(10 / 10));
      // cum 10, 0, 10, 0, 30 → slope (−2·10 − 0 + 0 + 0 + 2·30)/10 = 4; d̄ = 70/5 = 14.
      close(orderflow(windowOf(withDelta([10, -10, 10, -10, 30])), S), Math.tanh(4 / 14));
      assert.equal(orderflow(windowOf([flat(100), flat(100), flat(100), flat(100), flat(100)]), S), 0, '0 without delta');
    });

    it('order flow reads the feed cumulative delta when the bars carry none', () => {
      const cumBars = [100, 150, 200, 250, 300].map((cumDelta) => bar(100, 100.5, 99.5, 100.25, 100, { cumDelta }));
      // Bar deltas derived from the cumulative delta: 50 each after the first → d̄ = 50, slope 50.
      close(orderflow(windowOf(cumBars), S), Math.tanh(1));
    });

    it('gamma: ±0.5 around the flip, and walls within 8 ticks pull against the move', () => {
      assert.equal(gammaComponent(101, ctx({ flip: 100 }), S), 0.5);
      assert.equal(gammaComponent(99, ctx({ flip: 100 }), S), -0.5);
      assert.equal(gammaComponent(101, ctx({ flip: 100, callWall: 103 }), S), 0, 'call wall exactly 8 ticks above');
      assert.equal(gammaComponent(101, ctx({ flip: 100, callWall: 103.25 }), S), 0.5, '9 ticks: no pull');
      assert.equal(gammaComponent(99, ctx({ flip: 100, putWall: 97 }), S), 0, 'put wall exactly 8 ticks below');
      assert.equal(gammaComponent(101, ctx({ putWall: 102 }), S), 0, 'a put wall above the close does not pull');
      assert.equal(gammaComponent(101, ctx({}), S), 0);
    });

    it('VIX factor: 1.05 below 15, 1.00 for 15–22, 0.90 to 35, 0.85 above, 1 without VIX', () => {
      assert.deepEqual([14.99, 15, 22, 22.01, 35, 35.01, NaN].map((v) => vixFactor(v, S)), [1.05, 1, 1, 0.9, 0.9, 0.85, 1]);
    });
  });
});
