import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ChartFeed } from '../../../lib/analytics/chart-feed';

const MIN = 60_000;

describe('chart feed (batched, bounded ui-chart data)', () => {
  it('replaces the chart on the first flush, then appends only the new points, once per flush', () => {
    const feed = new ChartFeed(10);
    feed.add('VWAP', 0, 5000);
    feed.add('ES', 0, 5001);
    assert.deepEqual(feed.flush(), { action: 'replace', points: [{ series: 'VWAP', t: 0, y: 5000 }, { series: 'ES', t: 0, y: 5001 }] });
    assert.equal(feed.flush(), null);
    feed.add('VWAP', MIN, 5000.5);
    feed.add('ES', MIN, 5002);
    assert.deepEqual(feed.flush(), { action: 'append', points: [{ series: 'VWAP', t: MIN, y: 5000.5 }, { series: 'ES', t: MIN, y: 5002 }] });
  });

  it('clears a chart left from an earlier deploy with its first flush, even before any point', () => {
    assert.deepEqual(new ChartFeed(10).flush(), { action: 'replace', points: [] });
  });

  it('never keeps more than the bound per series: it drops every other point and sends the thinned history as a replace', () => {
    const feed = new ChartFeed(10);
    feed.flush();
    const appended: number[] = [];
    for (let i = 0; i < 11; i++) {
      feed.add('ES', i * MIN, i);
      const batch = feed.flush();
      if (i < 10) appended.push(...batch!.points.map((p) => p.y));
      else {
        assert.equal(batch!.action, 'replace');
        assert.deepEqual(batch!.points.map((p) => p.y), [0, 2, 4, 6, 8, 10]);
      }
    }
    assert.deepEqual(appended, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(feed.spacing, 2);
    feed.add('ES', 11 * MIN, 11); // off the new spacing: not kept
    assert.equal(feed.flush(), null);
    feed.add('ES', 12 * MIN, 12);
    assert.deepEqual(feed.flush()!.points.map((p) => p.y), [12]);
  });

  it('whatever the input, the chart it describes holds at most the bound per series, evenly spaced, oldest first, ending on the newest kept input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 40 }), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 7 }), (bound, n, every) => {
        const feed = new ChartFeed(bound);
        let chart: { series: string; t: number; y: number }[] = [];
        for (let i = 0; i < n; i++) {
          feed.add('VWAP', i, i);
          feed.add('ES', i, -i);
          if (i % every === 0 || i === n - 1) {
            const b = feed.flush();
            if (b) chart = b.action === 'replace' ? [...b.points] : [...chart, ...b.points];
          }
        }
        for (const series of ['VWAP', 'ES']) {
          const ts = chart.filter((p) => p.series === series).map((p) => p.t);
          assert.ok(ts.length <= bound && ts.length >= Math.min(n, Math.floor(bound / 2)));
          assert.equal(ts[0], 0);
          const step = feed.spacing;
          ts.forEach((t, k) => assert.equal(t, k * step));
          assert.ok(n - 1 - ts[ts.length - 1]! < step);
        }
      }),
    );
  });

  it('leaves out a value that cannot be drawn, and starts over after clear()', () => {
    const feed = new ChartFeed(10);
    feed.add('VWAP', 0, NaN);
    feed.add('ES', 0, 5000);
    assert.deepEqual(feed.flush()!.points, [{ series: 'ES', t: 0, y: 5000 }]);
    feed.clear();
    feed.add('ES', MIN, 5001);
    assert.deepEqual(feed.flush(), { action: 'replace', points: [{ series: 'ES', t: MIN, y: 5001 }] });
  });

  it('refuses a bound outside 10 to 5,000 points', () => {
    assert.throws(() => new ChartFeed(5), /10 to 5000/);
    assert.throws(() => new ChartFeed(1.5), /whole number/);
  });
});
