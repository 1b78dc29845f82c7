import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BUY, SELL, TradeClassifier, UNKNOWN, tickMove } from '../../../lib/analytics/classify';
import { Footprint } from '../../../lib/analytics/footprint';
import { CHICAGO, zonedTime } from '../../../lib/clock';
import { VwapDeltaEngine } from '../../../lib/analytics/vwap-delta';

const TICK = 0.25;

describe('footprint ladder', () => {
  it('keeps every level exact when a bar drifts off the edge of the ladder and it re-centres in place', () => {
    for (const dir of [1, -1]) {
      const fp = new Footprint(TICK);
      fp.add(5000, 1, BUY); // centres the ladder on 5000
      fp.reset();
      const near = 5000 + dir * 500 * TICK; // still inside the ladder, close to its edge
      const beyond = 5000 + dir * 520 * TICK; // past the edge: the used range is small, so no growth is needed
      fp.add(near, 7, BUY);
      fp.add(near, 3, SELL);
      fp.add(beyond, 11, SELL);
      assert.deepEqual(fp.at(near), { buy: 7, sell: 3 });
      assert.deepEqual(fp.at(beyond), { buy: 0, sell: 11 });
      assert.deepEqual(fp.at(5000), { buy: 0, sell: 0 }, 'the previous bar left nothing behind');
      fp.reset();
      for (const p of [near, beyond, 5000]) assert.deepEqual(fp.at(p), { buy: 0, sell: 0 });
    }
  });

  it('gives the same ladder from a tick-rule run as from classifying and adding each tick', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ticks: fc.integer({ min: -40, max: 40 }), size: fc.integer({ min: 0, max: 30 }) }), { maxLength: 300 }),
        fc.integer({ min: 0, max: 4000 }),
        (trades, startLevel) => {
          const n = trades.length;
          const price = new Float64Array(n);
          const size = new Float64Array(n);
          let level = 16000 + startLevel;
          trades.forEach((tr, i) => {
            level += tr.ticks;
            price[i] = level * TICK;
            size[i] = tr.size;
          });
          const one = new Footprint(TICK);
          const run = new Footprint(TICK);
          one.add(5000, 2, SELL); // both start from a used, off-centre ladder
          run.add(5000, 2, SELL);
          const cls = new TradeClassifier();
          for (let i = 0; i < n; i++) one.add(price[i], size[i], cls.classify(price[i], NaN, NaN, UNKNOWN));
          const low = Math.min(5000, ...price);
          const high = Math.max(5000, ...price);
          run.addTickRule(price, size, 0, n, NaN, UNKNOWN, low, high);
          const settings = { ratio: 2, minVolume: 1, stackedLevels: 2 };
          assert.deepEqual(run.imbalances(settings), one.imbalances(settings));
          for (let i = 0; i < n; i++) assert.deepEqual(run.at(price[i]), one.at(price[i]));
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('tick test', () => {
  it('calls an uptick a buy, a downtick a sell, and lets an unchanged price inherit the last direction', () => {
    assert.equal(tickMove(5000.25, 5000, SELL), BUY);
    assert.equal(tickMove(4999.75, 5000, BUY), SELL);
    assert.equal(tickMove(5000, 5000, SELL), SELL);
    assert.equal(tickMove(5000, NaN, UNKNOWN), UNKNOWN);
  });
});

describe('footprint setting', () => {
  it('with the footprint off gives the same bars, VWAP and delta, and never reports imbalances', () => {
    const n = 20_000;
    const t = new Float64Array(n);
    const price = new Float64Array(n);
    const size = new Float64Array(n);
    const t0 = zonedTime(CHICAGO, 2025, 3, 11, 16, 55); // crosses the 17:00 CT anchor and session open
    let level = 20000;
    for (let i = 0; i < n; i++) {
      level += [0, 1, -1, 0, 2, -1, -1][i % 7];
      t[i] = t0 + i * 40;
      price[i] = level * TICK;
      size[i] = 1 + ((i * 7) % 13);
    }
    const on = new VwapDeltaEngine();
    const off = new VwapDeltaEngine({ footprint: false });
    const barsOn: unknown[] = [];
    const barsOff: unknown[] = [];
    let imbalancesSeen = 0;
    on.tickColumns(n, t, price, size, undefined, undefined, undefined, (b) => {
      barsOn.push(b);
      imbalancesSeen += on.snapshot(true).imbalances.length;
    });
    off.tickColumns(n, t, price, size, undefined, undefined, undefined, (b) => {
      barsOff.push(b);
      assert.deepEqual(off.snapshot(true).imbalances, []);
    });
    assert.ok(imbalancesSeen > 0, 'the data has imbalances for the footprint to find');
    assert.deepEqual(barsOff, barsOn);
    const a = on.snapshot();
    const b = off.snapshot();
    assert.deepEqual(b.imbalances, []);
    assert.deepEqual({ ...b, imbalances: [] }, { ...a, imbalances: [] });
    off.tick(t[n - 1] + 1, price[n - 1], 5, NaN, NaN, BUY);
    assert.deepEqual(off.snapshot().imbalances, []);
  });
});
