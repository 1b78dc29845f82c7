import { strict as assert } from 'assert';
import fc from 'fast-check';
import { NEW_YORK, zonedTime } from '../../../lib/clock';
import { BattleNavaleEngine, evaluateBattleNavale, type BaseMemorySnapshot, type MarketContext } from '../../../lib/strategy/battle-navale';
import type { BarInput } from '../../../lib/strategy/bar-window';
import { LONG, NO_SIGNAL, SHORT } from '../../../lib/strategy/evaluate';
import { toSignalPayload } from '../../../lib/strategy/payload';
import { DEFAULT_SETTINGS as S, resolveSettings } from '../../../lib/strategy/settings';
import { mirrorBar, randomSession } from '../../../lib/strategy/testing/random-session';
import { MINUTE, SESSION_OPEN, bar, flat, timed } from './helpers';

/** The worked case: 25 green bars, body 1.0, range 1.25, equal volume, closes stepping one point (4 ticks). */
const greenStaircase = (): BarInput[] => timed(Array.from({ length: 25 }, (_, k) => bar(100 + k, 101.25 + k, 100 + k, 101 + k)));
const LAST_CLOSE = 125;
const now = (bars: BarInput[]): number => bars[bars.length - 1].t + MINUTE;
const evaluate = (bars: BarInput[], context: MarketContext = {}, extra: { memory?: BaseMemorySnapshot; lastSignalAt?: number; barsSeen?: number; at?: number } = {}) =>
  evaluateBattleNavale({ bars, context, settings: S, now: extra.at ?? now(bars), memory: extra.memory, lastSignalAt: extra.lastSignalAt, barsSeen: extra.barsSeen });
/** VWAP one σ under the close: the worked case's LONG. */
const VWAP_1_SIGMA: MarketContext = { vwap: LAST_CLOSE - 2, sigma: 2 };

describe('Battle Navale decision', () => {
  describe('worked cases of the specification', () => {
    it('four flat bars: battle 0, no base, score 0 → NO_SIGNAL (fewer than 20 bars)', () => {
      const { payload } = evaluate(timed([flat(100), flat(100), flat(100), flat(100)]));
      assert.equal(payload.signal, 'NO_SIGNAL');
      assert.deepEqual([payload.score, payload.components.battle, payload.base], [0, 0, null]);
      assert.match(payload.reasons[0], /fewer than 20 bars/);
    });

    it('25 strong green bars without context: battle +1, no base, score 0.6·0.4 = 0.24 → NO_SIGNAL', () => {
      const { payload, evaluation } = evaluate(greenStaircase());
      assert.equal(evaluation.battle, 1);
      assert.equal(payload.base, null);
      assert.equal(evaluation.trend, 0);
      assert.ok(Math.abs(evaluation.score - 0.24) < 1e-12);
      assert.equal(payload.signal, 'NO_SIGNAL');
      assert.match(payload.reasons[0], /inside ±0.25/);
    });

    it('the same with VWAP one σ below: score 0.24 + 0.15·tanh(1) ≈ 0.354 → LONG', () => {
      const { payload, evaluation } = evaluate(greenStaircase(), VWAP_1_SIGMA);
      assert.ok(Math.abs(evaluation.score - (0.24 + 0.15 * Math.tanh(1))) < 1e-12);
      assert.equal(payload.signal, 'LONG');
      assert.equal(payload.score, 0.3542);
      assert.match(payload.reasons[0], /^LONG: score \+0.354 ≥ \+0.25/);
    });

    it('the mirror of the LONG case is a SHORT with the negated score', () => {
      const mirrored = greenStaircase().map((b) => mirrorBar(b, 100));
      const { payload } = evaluate(mirrored, { vwap: 200 - (LAST_CLOSE - 2), sigma: 2 });
      assert.equal(payload.signal, 'SHORT');
      assert.equal(payload.score, -0.3542);
    });
  });

  describe('suggested orders and confidence', () => {
    it('LONG without a base: entry at the close, stop 7 ticks under, targets 2R and 3R', () => {
      const { payload } = evaluate(greenStaircase(), VWAP_1_SIGMA);
      assert.deepEqual([payload.entry, payload.stop, payload.targets], [125, 123.25, [128.5, 130.25]]);
      // No base (quality 0), no pattern: confidence = |score| × 0.5.
      assert.equal(payload.confidence, 0.1771);
    });

    it('places the stop 2 ticks beyond the base when that is further than 7 ticks, and scales R with it', () => {
      // A green base 99.75–102.25 (10 ticks); the close 102.00 sits at its top.
      const closes = [100.75, 100.5, 100.75, 101, 100.75, 100.5, 100.75, 101, 100.75, 100.5, 101, 101.5, 101.75, 101.5, 102];
      const bars = timed(closes.map((c) => bar(100.75, 102.25, 99.75, c)));
      const { payload } = evaluate(bars, { vwap: 96, sigma: 2, flip: 95 }, { barsSeen: 40 });
      assert.equal(payload.base?.type, 'green');
      assert.equal(payload.signal, 'LONG', payload.reasons.join('; '));
      // Stop 99.75 − 0.5 = 99.25 (11 ticks), so R = 2.75: TP1 102 + 5.5, TP2 102 + 8.25.
      assert.deepEqual([payload.entry, payload.stop, payload.targets], [102, 99.25, [107.5, 110.25]]);
      const ev = evaluate(bars, { vwap: 96, sigma: 2, flip: 95 }, { barsSeen: 40 }).evaluation;
      assert.ok(Math.abs(ev.confidence - Math.min(1, Math.abs(ev.score) * (0.5 + 0.5 * ev.baseFound.quality))) < 1e-12);
    });

    it('raises confidence by 10 % per agreeing pattern on the last 3 bars', () => {
      // The staircase ending in a Long Down Up Bar (p, b, x): a bullish pattern on b, reported when x closes.
      const bars = greenStaircase().slice(0, 22);
      const p = bar(122, 124.5, 122, 123);
      const b = bar(122.5, 123, 121.5, 122);
      const x = bar(122.25, 125, 122, 124.75);
      const all = timed([...bars, p, b, x]);
      const { payload, evaluation } = evaluate(all, { vwap: 118, sigma: 2 });
      assert.equal(payload.signal, 'LONG', payload.reasons.join('; '));
      assert.deepEqual(payload.patterns.map((q) => [q.name, q.direction, q.t]), [['Long Down Up Bar', 'bullish', all[23].t]]);
      assert.equal(evaluation.agreeingPatterns, 1);
      assert.ok(Math.abs(evaluation.confidence - Math.abs(evaluation.score) * (0.5 + 0.5 * evaluation.baseFound.quality) * 1.1) < 1e-12);
    });

    it('sends no prices with NO_SIGNAL', () => {
      const { payload } = evaluate(greenStaircase());
      assert.deepEqual([payload.entry, payload.stop, payload.targets, payload.confidence], [null, null, [], 0]);
    });
  });

  describe('vetoes turn a LONG or SHORT into NO_SIGNAL and say why', () => {
    it('fewer than 20 bars seen: 19 vetoed, 20 allowed', () => {
      assert.equal(evaluate(greenStaircase(), VWAP_1_SIGMA, { barsSeen: 20 }).payload.signal, 'LONG');
      const vetoed = evaluate(greenStaircase(), VWAP_1_SIGMA, { barsSeen: 19 }).payload;
      assert.equal(vetoed.signal, 'NO_SIGNAL');
      assert.match(vetoed.reasons[0], /^LONG vetoed: fewer than 20 bars seen \(19/);
    });

    it('a LONG while the latest green base is violated (rouge sous verte)', () => {
      const bars = greenStaircase();
      bars[10] = { ...bars[10], o: 111, h: 111, l: 109.75, c: 110 }; // a red bar closing under the base low 111
      const memory: BaseMemorySnapshot = { green: { high: 112, low: 111, quality: 0.8, t: bars[5].t }, red: null };
      const context = { vwap: LAST_CLOSE - 6, sigma: 2, flip: 100 }; // enough for a LONG despite trend −0.6
      const { payload, evaluation } = evaluate(bars, context, { memory });
      assert.equal(evaluation.candidate, LONG);
      assert.equal(evaluation.trend, -0.6);
      assert.equal(payload.signal, 'NO_SIGNAL');
      assert.deepEqual(payload.goldenRule, { state: 'violated', side: 'green' });
      assert.match(payload.reasons[0], /LONG vetoed: golden rule: a red bar closed below the latest green base \(low 111.00\)/);
    });

    it('a LONG within 4 ticks under the call wall (4 vetoed, 5 allowed)', () => {
      const at4 = evaluate(greenStaircase(), { ...VWAP_1_SIGMA, callWall: LAST_CLOSE + 1 }).payload;
      assert.equal(at4.signal, 'NO_SIGNAL');
      assert.match(at4.reasons[0], /LONG vetoed: 4.0 ticks under the call wall/);
      assert.equal(evaluate(greenStaircase(), { ...VWAP_1_SIGMA, callWall: LAST_CLOSE + 1.25 }).payload.signal, 'LONG');
    });

    it('a SHORT within 4 ticks above the put wall', () => {
      const mirrored = greenStaircase().map((b) => mirrorBar(b, 100));
      const close = 200 - LAST_CLOSE;
      const payload = evaluate(mirrored, { vwap: close + 2, sigma: 2, putWall: close - 1 }).payload;
      assert.equal(payload.signal, 'NO_SIGNAL');
      assert.match(payload.reasons[0], /SHORT vetoed: 4.0 ticks above the put wall/);
    });

    it('outside trading hours 09:35–15:45 New York: 15:44 allowed, 15:45 and 09:34 vetoed', () => {
      const bars = greenStaircase();
      const at = (h: number, m: number) => evaluate(bars, VWAP_1_SIGMA, { at: zonedTime(NEW_YORK, 2026, 3, 10, h, m) }).payload;
      assert.equal(at(15, 44).signal, 'LONG');
      assert.equal(at(9, 35).signal, 'LONG');
      assert.equal(at(15, 45).signal, 'NO_SIGNAL');
      assert.match(at(9, 34).reasons[0], /LONG vetoed: outside trading hours 09:35–15:45 New York/);
      assert.equal(evaluate(bars, VWAP_1_SIGMA, { at: zonedTime(NEW_YORK, 2026, 3, 14, 11, 0) }).payload.signal, 'NO_SIGNAL', 'Saturday');
    });

    it('inside the 15-minute cooldown after the last signal: 14:59 vetoed, 15:00 allowed', () => {
      const bars = greenStaircase();
      const t = now(bars);
      const vetoed = evaluate(bars, VWAP_1_SIGMA, { lastSignalAt: t - 15 * MINUTE + 1000 }).payload;
      assert.equal(vetoed.signal, 'NO_SIGNAL');
      assert.match(vetoed.reasons[0], /LONG vetoed: cooldown: 14.9 min since the last signal \(wait 15 min\)/);
      assert.equal(evaluate(bars, VWAP_1_SIGMA, { lastSignalAt: t - 15 * MINUTE }).payload.signal, 'LONG');
    });

    it('lists every veto that applies', () => {
      const payload = evaluate(greenStaircase(), { ...VWAP_1_SIGMA, callWall: LAST_CLOSE + 0.5 }, { barsSeen: 3, at: zonedTime(NEW_YORK, 2026, 3, 10, 8, 0) }).payload;
      assert.equal(payload.reasons.filter((r) => r.startsWith('LONG vetoed')).length, 3);
    });
  });

  describe('the stateful engine', () => {
    const start = zonedTime(NEW_YORK, 2026, 3, 10, 9, 30);

    it('gives exactly the pure function’s decisions on a whole session (window, base memory, cooldown)', () => {
      const bars = randomSession({ seed: 11, bars: 390, start });
      const engine = new BattleNavaleEngine(S);
      const context = { vwap: 5000, sigma: 3, callWall: 5030, putWall: 4970, flip: 5001, vix: 16 };
      engine.setContext(context);
      let memory: BaseMemorySnapshot | undefined;
      let lastSignalAt: number | null = null;
      for (let k = 0; k < bars.length; k++) {
        const at = bars[k].t + MINUTE;
        const fromEngine = toSignalPayload(engine.update(bars[k], at), S);
        const pure = evaluateBattleNavale({ bars: bars.slice(0, k + 1), context, settings: S, now: at, memory, lastSignalAt, barsSeen: k + 1 });
        assert.deepEqual(fromEngine, pure.payload, `bar ${k}`);
        memory = pure.memory;
        if (pure.payload.signal !== 'NO_SIGNAL') lastSignalAt = at;
      }
    });

    it('replays a seeded session into LONG and SHORT signals, inside hours, 15 min apart, with sane brackets', () => {
      const bars = randomSession({ seed: 3, bars: 390, start });
      const engine = new BattleNavaleEngine();
      const signals = bars
        .map((b) => engine.update(b, b.t + MINUTE) && engine.payload('ES'))
        .filter((p) => p !== null && p.signal !== 'NO_SIGNAL');
      const kinds = new Set(signals.map((p) => p!.signal));
      assert.deepEqual([...kinds].sort(), ['LONG', 'SHORT']);
      let previous = -Infinity;
      for (const p of signals.map((q) => q!)) {
        const at = p.bar.t + MINUTE;
        assert.ok(at - previous >= 15 * MINUTE, 'cooldown respected');
        previous = at;
        const d = p.signal === 'LONG' ? 1 : -1;
        assert.ok(d * (p.entry! - p.stop!) >= 7 * 0.25, 'stop at least 7 ticks on the loss side');
        const risk = Math.abs(p.entry! - p.stop!);
        assert.deepEqual(p.targets, [p.entry! + d * 2 * risk, p.entry! + d * 3 * risk]);
        assert.equal(p.symbol, 'ES');
        const minutes = new Date(at).getUTCHours() * 60 + new Date(at).getUTCMinutes() - 4 * 60; // EDT on 10 March 2026
        assert.ok(minutes >= 9 * 60 + 35 && minutes < 15 * 60 + 45, 'inside trading hours');
      }
    });

    it('refuses a bar that is not after the previous one, and starts over after reset()', () => {
      const engine = new BattleNavaleEngine();
      const bars = greenStaircase();
      engine.update(bars[0], bars[0].t + MINUTE);
      assert.throws(() => engine.update(bars[0], bars[0].t + MINUTE), /not after the previous bar.*msg.reset/);
      engine.reset();
      assert.equal(engine.update(bars[0], bars[0].t + MINUTE).barsSeen, 1);
    });
  });

  describe('symmetry: the mirrored market gives the negated score (property)', () => {
    const PIVOT = 4000;
    const barSpec = fc.record({
      // Mostly small bars so tight bases (and flat closes) form, with some wide ones to break them.
      gap: fc.oneof(fc.constant(0), fc.integer({ min: -3, max: 3 })),
      body: fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: -10, max: 10 })),
      up: fc.oneof(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 5 })),
      down: fc.oneof(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 5 })),
      v: fc.integer({ min: 0, max: 3000 }),
      delta: fc.option(fc.integer({ min: -800, max: 800 }), { nil: undefined }),
      buy: fc.option(fc.integer({ min: 0, max: 1500 }), { nil: undefined }),
    });
    const level = (lo: number, hi: number) => fc.option(fc.integer({ min: lo, max: hi }), { nil: undefined });
    const contextSpec = fc.record({ vwap: level(-40, 40), sigma: fc.integer({ min: 0, max: 20 }), call: level(-5, 40), put: level(-40, 5), flip: level(-20, 20), vix: level(10, 45) });

    it('negates the score and swaps LONG and SHORT at every bar', () => {
      fc.assert(
        fc.property(fc.array(barSpec, { minLength: 20, maxLength: 70 }), contextSpec, (specs, c) => {
          const tick = 0.25;
          let price = PIVOT + 3;
          const bars: BarInput[] = specs.map((s, k) => {
            const o = price + s.gap * tick;
            const close = o + s.body * tick;
            price = close;
            const b: BarInput = { t: SESSION_OPEN + k * MINUTE, o, c: close, h: Math.max(o, close) + s.up * tick, l: Math.min(o, close) - s.down * tick, v: s.v };
            if (s.delta !== undefined) b.delta = s.delta;
            if (s.buy !== undefined) Object.assign(b, { buyVolume: s.buy, sellVolume: s.v });
            return b;
          });
          const at = (x: number | undefined) => (x === undefined ? null : price + x * tick);
          const ctx: MarketContext = { vwap: at(c.vwap), sigma: c.sigma * tick, callWall: at(c.call), putWall: at(c.put), flip: at(c.flip), vix: c.vix ?? null };
          const mirror = (x: number | null | undefined) => (x === null || x === undefined ? null : 2 * PIVOT - x);
          const mirroredCtx: MarketContext = { vwap: mirror(ctx.vwap), sigma: ctx.sigma, callWall: mirror(ctx.putWall), putWall: mirror(ctx.callWall), flip: mirror(ctx.flip), vix: ctx.vix };
          const a = new BattleNavaleEngine(S);
          const b = new BattleNavaleEngine(S);
          a.setContext(ctx);
          b.setContext(mirroredCtx);
          for (const original of bars) {
            const ea = a.update(original, original.t + MINUTE);
            const scoreA = ea.score;
            const signalA = ea.signal;
            const eb = b.update(mirrorBar(original, PIVOT), original.t + MINUTE);
            assert.ok(Math.abs(eb.score + scoreA) < 1e-12, `score ${scoreA} mirrored to ${eb.score}`);
            if (Math.abs(Math.abs(scoreA) - 0.25) > 1e-9) assert.equal(eb.signal, signalA === 0 ? 0 : -signalA);
          }
        }),
        { numRuns: 300, seed: 20260310 },
      );
    });
  });

  describe('settings', () => {
    it('exposes every constant with the documented default', () => {
      const spec = { windowBars: 100, tickSize: 0.25, battleBars: 5, battleBodyRatioMin: 0.6, baseStdBars: 15, baseSpanBars: 8, baseMaxTicks: 10, baseQualityMin: 0.5, goldenRuleBars: 20, goldenRuleToleranceTicks: 0.5, trendStrong: 0.6, trendWeak: 0.2, coreBattleWeight: 0.4, coreTrendWeight: 0.35, coreBaseWeight: 0.25, scoreCoreWeight: 0.6, longThreshold: 0.25, shortThreshold: 0.25, wallVetoTicks: 4, tradingStart: '09:35', tradingEnd: '15:45', cooldownMin: 15, minBars: 20, stopTicks: 7, tp1R: 2, tp2R: 3, longBarTicks: 8, colorDownMinRangeTicks: 12 };
      for (const [key, value] of Object.entries(spec)) assert.equal(S[key as keyof typeof S], value, key);
    });

    it('accepts numbers given as text and names a bad setting in a trader’s words', () => {
      assert.equal(resolveSettings({ stopTicks: '9' }).stopTicks, 9);
      assert.throws(() => resolveSettings({ stopTicks: 'abc' }), /"Stop \(ticks\)" \(stopTicks\) must be a number/);
      assert.throws(() => resolveSettings({ tradingStart: '16:00' }), /trading hours 16:00–15:45 are empty/);
      assert.throws(() => resolveSettings({ windowBars: 30, goldenRuleBars: 40 }), /shorter than the longest look-back/);
      assert.throws(() => resolveSettings({ battleBars: 2.5 }), /whole number/);
    });

    it('makes each constant effective: a lower LONG threshold turns the 0.24 case into a LONG', () => {
      const s = resolveSettings({ longThreshold: 0.24 });
      assert.equal(evaluateBattleNavale({ bars: greenStaircase(), settings: s, now: now(greenStaircase()) }).payload.signal, 'LONG');
    });
  });

  it('encodes decisions as LONG = 1, SHORT = −1, NO_SIGNAL = 0', () => {
    assert.deepEqual([LONG, SHORT, NO_SIGNAL], [1, -1, 0]);
  });
});
