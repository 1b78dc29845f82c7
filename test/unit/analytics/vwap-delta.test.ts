import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Bar, Tick } from '../../../lib/contracts';
import { CHICAGO, zonedTime } from '../../../lib/clock';
import { BUY, SELL, TradeClassifier, UNKNOWN } from '../../../lib/analytics/classify';
import { Footprint } from '../../../lib/analytics/footprint';
import { approximateSplit } from '../../../lib/analytics/order-flow';
import { anchorSpec } from '../../../lib/analytics/session';
import { VwapDeltaEngine } from '../../../lib/analytics/vwap-delta';
import { VwapAccumulator } from '../../../lib/analytics/vwap';

// finlib-ta 0.6 VolumeWeightedAveragePrice docs example (docs.rs): open, high, low, close, volume, published vwap.
const FINLIB_ROWS: [number, number, number, number, number, number][] = [
  [150.39, 150.39, 150.22, 150.31, 380, 150.31],
  [150.47, 150.47, 150.38, 150.41, 5270, 150.41],
  [150.49, 150.49, 150.33, 150.46, 990, 150.41],
  [150.63, 150.63, 150.44, 150.61, 1031, 150.43],
  [151.1, 151.1, 150.67, 151.01, 2675, 150.56],
  [151.3, 151.3, 150.77, 150.8, 3334, 150.66],
  [150.95, 150.95, 150.78, 150.93, 430, 150.66],
  [151.12, 151.12, 150.8, 151.1, 220, 150.67],
  [151.27, 151.27, 151.01, 151.25, 900, 150.7],
  [151.35, 151.35, 151.26, 151.33, 4088, 150.83],
  [151.52, 151.52, 151.32, 151.51, 650, 150.85],
  [151.69, 151.69, 151.49, 151.67, 1582, 150.91],
  [152.03, 152.03, 151.66, 151.8, 1892, 150.98],
  [151.9, 151.9, 151.75, 151.88, 2200, 151.05],
  [152.15, 152.15, 151.86, 152.1, 3043, 151.16],
  [152.43, 152.43, 152.03, 152.33, 675, 151.18],
  [152.57, 152.57, 152.25, 152.5, 1243, 151.24],
];

const ct = (y: number, mo: number, d: number, h: number, mi: number, s = 0): number =>
  zonedTime(CHICAGO, y, mo, d, h, mi, s);
// Tuesday 2025-03-11, 09:00 CT: inside one Globex session (opened Monday 17:00 CT).
const T0 = ct(2025, 3, 11, 9, 0);

describe('VWAP and σ bands', () => {
  it('reproduces the finlib-ta 17-row VWAP with typical prices (final 151.2353, σ 0.6201)', () => {
    const engine = new VwapDeltaEngine({ timeframe: '1min' });
    FINLIB_ROWS.forEach(([o, h, l, c, v, published], i) => {
      engine.bar({ symbol: 'X', t: T0 + i * 60_000, tf: '1min', o, h, l, c, v });
      const snap = engine.snapshot(true);
      assert.equal(Math.round(snap.vwap * 100) / 100, published, `row ${i + 1}`);
    });
    const last = engine.snapshot(true);
    assert.equal(last.vwap.toFixed(4), '151.2353');
    assert.equal(last.sigma.toFixed(4), '0.6201');
    assert.ok(Math.abs(last.bands.upper2 - (last.vwap + 2 * last.sigma)) < 1e-12);
  });

  it('gives the price itself and zero σ for any volume at a constant price', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 10000, noNaN: true }),
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 200 }),
        (price, sizes) => {
          const engine = new VwapDeltaEngine();
          sizes.forEach((size, i) => engine.tick(T0 + i, price, size, NaN, NaN, 0));
          const s = engine.snapshot();
          assert.ok(Math.abs(s.vwap - price) <= 1e-12 * price);
          assert.equal(s.sigma, 0);
          assert.equal(s.bands.upper3, s.bands.lower3);
        },
      ),
    );
  });

  it('keeps σ ≥ 0 and the bands symmetric around VWAP, matching a two-pass computation at ES prices', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ticks: fc.integer({ min: -40, max: 40 }), size: fc.integer({ min: 1, max: 300 }) }), {
          minLength: 1,
          maxLength: 300,
        }),
        (trades) => {
          const acc = new VwapAccumulator();
          const prices = trades.map((tr) => 5000 + tr.ticks * 0.25);
          trades.forEach((tr, i) => acc.add(prices[i], tr.size));
          const vol = trades.reduce((a, tr) => a + tr.size, 0);
          const mean = trades.reduce((a, tr, i) => a + prices[i] * tr.size, 0) / vol;
          const variance = trades.reduce((a, tr, i) => a + tr.size * (prices[i] - mean) ** 2, 0) / vol;
          assert.ok(acc.sigma >= 0);
          assert.ok(Math.abs(acc.vwap - mean) < 1e-9);
          assert.ok(Math.abs(acc.sigma - Math.sqrt(variance)) < 1e-7);
        },
      ),
    );
  });

  it('resets VWAP and cumulative delta at the 17:00 CT Globex open and reports the anchor', () => {
    const engine = new VwapDeltaEngine();
    engine.tick(ct(2025, 3, 11, 15, 59), 5000, 10, NaN, NaN, BUY);
    assert.equal(engine.snapshot().anchor, ct(2025, 3, 10, 17, 0));
    assert.equal(engine.snapshot().cumDelta, 10);
    engine.tick(ct(2025, 3, 11, 17, 0), 5010, 4, NaN, NaN, SELL);
    const s = engine.snapshot();
    assert.equal(s.anchor, ct(2025, 3, 11, 17, 0));
    assert.equal(s.vwap, 5010);
    assert.equal(s.cumDelta, -4);
  });

  it('anchors at 08:30 CT for RTH, and once at a fixed custom instant', () => {
    const rth = new VwapDeltaEngine({ anchor: anchorSpec('rth') });
    rth.tick(ct(2025, 3, 11, 8, 29), 5000, 10, NaN, NaN, BUY);
    rth.tick(ct(2025, 3, 11, 8, 30), 5020, 10, NaN, NaN, BUY);
    assert.equal(rth.snapshot().vwap, 5020);
    assert.equal(rth.snapshot().anchor, ct(2025, 3, 11, 8, 30));

    const fixed = new VwapDeltaEngine({ anchor: anchorSpec('custom', '2025-03-11T09:45:00-04:00') });
    fixed.tick(ct(2025, 3, 11, 8, 44), 4990, 10, NaN, NaN, BUY); // 09:44 ET is before the anchor: not counted
    fixed.tick(ct(2025, 3, 11, 8, 46), 5000, 2, NaN, NaN, BUY);
    assert.equal(fixed.snapshot().vwap, 5000);
    assert.equal(fixed.snapshot().cumDelta, 2);
    assert.throws(() => anchorSpec('custom', 'noon'), /neither a daily time/);
  });
});

describe('bars from ticks on the session clock', () => {
  it('builds 5-minute bars aligned to the clock with volume, buy/sell volume and delta', () => {
    const engine = new VwapDeltaEngine({ timeframe: '5min' });
    const closed: Bar[] = [];
    const onBar = (b: Bar): void => void closed.push(b);
    engine.tick(ct(2025, 3, 11, 9, 1, 10), 5000, 3, 4999.75, 5000, UNKNOWN, onBar); // at ask: buy
    engine.tick(ct(2025, 3, 11, 9, 3), 4999.75, 5, 4999.75, 5000, UNKNOWN, onBar); // at bid: sell
    engine.tick(ct(2025, 3, 11, 9, 4, 59), 5001, 2, NaN, NaN, UNKNOWN, onBar); // uptick: buy
    engine.tick(ct(2025, 3, 11, 9, 5), 5001, 1, NaN, NaN, UNKNOWN, onBar);
    assert.equal(closed.length, 1);
    assert.deepEqual(closed[0], {
      symbol: 'ES', t: ct(2025, 3, 11, 9, 0), tf: '5min', o: 5000, h: 5001, l: 4999.75, c: 5001, v: 10,
      delta: 0, buyVolume: 5, sellVolume: 5,
    });
  });

  it('starts hourly bars at the 17:00 CT session open, not on the UTC hour', () => {
    const engine = new VwapDeltaEngine({ timeframe: '1h' });
    engine.tick(ct(2025, 3, 11, 17, 20), 5000, 1, NaN, NaN, BUY);
    assert.equal(engine.formingBar()?.t, ct(2025, 3, 11, 17, 0));
    const closed = engine.tick(ct(2025, 3, 11, 18, 0), 5000, 1, NaN, NaN, BUY);
    assert.equal(closed?.t, ct(2025, 3, 11, 17, 0));
  });

  it('keeps cumulative delta equal to the sum of bar deltas within a session', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 90_000 }),
            ticks: fc.integer({ min: -8, max: 8 }),
            size: fc.integer({ min: 1, max: 50 }),
            side: fc.constantFrom<Tick['side']>('buy', 'sell', undefined),
          }),
          { maxLength: 300 },
        ),
        (trades) => {
          const engine = new VwapDeltaEngine({ timeframe: '1min' });
          let sumBarDeltas = 0;
          let t = T0;
          const batch: Tick[] = trades.map((tr) => {
            t += tr.dt;
            return { symbol: 'ES', t, price: 5000 + tr.ticks * 0.25, size: tr.size, side: tr.side };
          });
          engine.ticks(batch, (b) => void (sumBarDeltas += b.delta ?? 0));
          sumBarDeltas += engine.formingBar()?.delta ?? 0;
          assert.equal(engine.snapshot().cumDelta, sumBarDeltas);
        },
      ),
    );
  });

  it('rejects a malformed batch before counting any of it, naming the tick and field', () => {
    const engine = new VwapDeltaEngine();
    const batch = [
      { symbol: 'ES', t: T0, price: 5000, size: 1 },
      { symbol: 'ES', t: T0 + 1, price: '5000', size: 1 },
    ] as unknown as Tick[];
    assert.throws(() => engine.ticks(batch), /tick #1: price must be a positive number/);
    assert.equal(engine.hasVwap, false);
  });
});

describe('trade classification (Lee-Ready)', () => {
  it('uses the aggressor flag first, then the quote, then the tick test with zero ticks inheriting', () => {
    const c = new TradeClassifier();
    assert.equal(c.classify(5000, 4999.75, 5000, SELL), SELL); // flag wins over the quote
    assert.equal(c.classify(5000.25, 5000, 5000.25, UNKNOWN), BUY); // at the ask
    assert.equal(c.classify(5000, 5000, 5000.25, UNKNOWN), SELL); // at the bid
    assert.equal(c.classify(5000.5, NaN, NaN, UNKNOWN), BUY); // uptick
    assert.equal(c.classify(5000.5, NaN, NaN, UNKNOWN), BUY); // zero tick inherits
    assert.equal(c.classify(5000.25, 5000, 5000.5, UNKNOWN), SELL); // inside the spread: downtick
  });
});

describe('footprint imbalances', () => {
  it('flags diagonal buy and sell imbalances at ratio ≥ 3 above the minimum volume, and stacks 3 in a row', () => {
    const fp = new Footprint(0.25);
    // asks at 5000.25..5000.75 are ≥ 3× the bids one tick lower: three buy imbalances in a row = stacked
    const levels: [number, number, number][] = [
      // price, sell (bid) volume, buy (ask) volume
      [5000.0, 10, 5],
      [5000.25, 5, 30],
      [5000.5, 4, 15],
      [5000.75, 20, 12],
      [5001.0, 40, 2],
    ];
    for (const [p, sell, buy] of levels) {
      fp.add(p, sell, SELL);
      fp.add(p, buy, BUY);
    }
    const imb = fp.imbalances({ ratio: 3, minVolume: 10, stackedLevels: 3 });
    const buys = imb.filter((i) => i.side === 'buy');
    assert.deepEqual(buys.map((i) => [i.price, i.ratio, i.stacked]), [
      [5000.25, 3, true],
      [5000.5, 3, true],
      [5000.75, 3, true],
    ]);
    // bid 40 at 5001 vs ask above (none → 1): 40× sell imbalance, alone so not stacked; 20 at 5000.75 vs 2 above: 10×
    const sells = imb.filter((i) => i.side === 'sell');
    assert.deepEqual(sells.map((i) => [i.price, i.ratio, i.stacked]), [
      [5000.75, 10, false],
      [5001, 40, false],
    ]);
  });

  it('ignores imbalances below the minimum volume and keeps levels exact after the ladder grows', () => {
    const fp = new Footprint(0.25);
    fp.add(5000, 6, BUY);
    assert.deepEqual(fp.imbalances({ ratio: 3, minVolume: 10, stackedLevels: 3 }), []);
    fp.add(5500, 1, SELL); // 2000 ticks away: the ladder grows
    assert.deepEqual(fp.at(5000), { buy: 6, sell: 0 });
    assert.deepEqual(fp.at(5500), { buy: 0, sell: 1 });
  });
});

describe('delta from bars only', () => {
  it('approximates the split from where the close sits in the range and flags it approxDelta', () => {
    const engine = new VwapDeltaEngine();
    const out = engine.bar({ symbol: 'ES', t: T0, tf: '1min', o: 5000, h: 5004, l: 5000, c: 5003, v: 100 });
    assert.equal(out.approxDelta, true);
    assert.equal(out.buyVolume, 75);
    assert.equal(out.delta, 50);
    assert.equal(engine.snapshot(true).cumDelta, 50);
    const kept = engine.bar({ symbol: 'ES', t: T0 + 60_000, tf: '1min', o: 1, h: 2, l: 1, c: 2, v: 10, delta: -4 });
    assert.equal(kept.approxDelta, undefined);
    assert.deepEqual([kept.buyVolume, kept.sellVolume], [3, 7]);
  });

  it("offers the doc's open-high formula and splits a range-less bar 50/50", () => {
    const bar = { symbol: 'ES', t: T0, tf: '1min', o: 10, h: 14, l: 9, c: 12, v: 70 };
    assert.equal(approximateSplit(bar, 'open-high').buyVolume, (70 * 4) / (4 + 3));
    assert.equal(approximateSplit({ ...bar, o: 10, h: 10, l: 10, c: 10 }).delta, 0);
  });
});

describe('column (typed-array) path', () => {
  it('gives the same bars, VWAP, σ, delta and footprint as feeding the ticks one by one', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 40_000 }), ticks: fc.integer({ min: -6, max: 6 }), size: fc.integer({ min: 0, max: 40 }) }), {
          minLength: 1,
          maxLength: 400,
        }),
        (trades) => {
          const n = trades.length;
          const t = new Float64Array(n);
          const price = new Float64Array(n);
          const size = new Float64Array(n);
          let clock = ct(2025, 3, 11, 16, 50); // crosses the 17:00 CT anchor and session open
          let level = 0;
          trades.forEach((tr, i) => {
            clock += tr.dt;
            level += tr.ticks;
            t[i] = clock;
            price[i] = 5000 + level * 0.25;
            size[i] = tr.size;
          });
          const one = new VwapDeltaEngine({ imbalance: { ratio: 2, minVolume: 1, stackedLevels: 2 } });
          const cols = new VwapDeltaEngine({ imbalance: { ratio: 2, minVolume: 1, stackedLevels: 2 } });
          const barsOne: Bar[] = [];
          const barsCols: Bar[] = [];
          for (let i = 0; i < n; i++) one.tick(t[i], price[i], size[i], NaN, NaN, UNKNOWN, (b) => void barsOne.push(b));
          cols.tickColumns(n, t, price, size, undefined, undefined, undefined, (b) => void barsCols.push(b));
          assert.deepEqual(barsCols, barsOne);
          assert.deepEqual(cols.formingBar(), one.formingBar());
          const a = cols.snapshot();
          const b = one.snapshot();
          assert.deepEqual({ ...a, vwap: 0, sigma: 0, bands: null }, { ...b, vwap: 0, sigma: 0, bands: null });
          if (one.hasVwap) {
            assert.ok(Math.abs(a.vwap - b.vwap) < 1e-9);
            assert.ok(Math.abs(a.sigma - b.sigma) < 1e-7);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('a preload and live ticks, in either order', () => {
  // The preload's 1-minute bars hold every trade of their minutes; a live tick printed inside one of them is a trade
  // already counted (the stream delivers ticks late, at 300× by market minutes).
  const bars: Bar[] = [0, 1, 2].map((i) => ({ symbol: 'ES', t: T0 + i * 60_000, tf: '1min', o: 5000, h: 5002, l: 4998, c: 5001, v: 100 }));
  const inside = [30, 150, 170].map((s) => ({ symbol: 'ES', t: T0 + s * 1000, price: 5010, size: 7 }));
  const after = [180, 200].map((s) => ({ symbol: 'ES', t: T0 + s * 1000, price: 5004, size: 3 }));

  it('counts a tick printed inside a counted bar once (in the bar), through tick and through the column path', () => {
    const plain = new VwapDeltaEngine();
    for (const bar of bars) plain.bar(bar);
    const onlyBars = plain.snapshot();
    plain.ticks([...inside, ...after]);
    const cols = new VwapDeltaEngine();
    for (const bar of bars) cols.bar(bar);
    const ticks = [...inside, ...after];
    cols.tickColumns(ticks.length, Float64Array.from(ticks, (k) => k.t), Float64Array.from(ticks, (k) => k.price), Float64Array.from(ticks, (k) => k.size));
    for (const e of [plain, cols]) {
      assert.equal(e.ticksInCountedBars, inside.length);
      const s = e.snapshot();
      // 300 contracts of the bars at their typical price, then the 6 after them at 5004: none of the ticks at 5010.
      assert.ok(Math.abs(s.vwap - (300 * ((5002 + 4998 + 5001) / 3) + 6 * 5004) / 306) < 1e-9, `vwap ${s.vwap}`);
      assert.ok(s.vwap < onlyBars.vwap + 0.1, 'no tick at 5010 in the VWAP');
    }
    assert.deepEqual(cols.snapshot(), plain.snapshot());
  });

  it('a tick at the very end of the last bar (its next minute) counts', () => {
    const e = new VwapDeltaEngine();
    for (const bar of bars) e.bar(bar);
    e.ticks([{ symbol: 'ES', t: T0 + 3 * 60_000 - 1, price: 5010, size: 1 }, { symbol: 'ES', t: T0 + 3 * 60_000, price: 5010, size: 1 }]);
    assert.equal(e.ticksInCountedBars, 1);
  });
});
