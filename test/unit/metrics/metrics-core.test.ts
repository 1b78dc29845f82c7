// The metrics mechanism on its own, with a driven clock: percentiles of known samples, sliding counts, uptime,
// and the IBKR and DTC recorders' figures for known traffic.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { FAMILY_LIMITS } from '../../../lib/ibkr/limiter';
import { DtcMetrics, EventWindow, IbkrMetrics, LatencyWindow, UptimeClock, metricsPeriodMs, nearestRank, peakOverlap } from '../../../lib/metrics';

const T0 = 1_700_000_000_000;
const ibkr = () => new IbkrMetrics({ globalPerSecond: 10, familyLimits: FAMILY_LIMITS });
const exchange = (at: number, url = '/v1/api/iserver/accounts', status: number | undefined = 200, elapsedMs = 10) =>
  ({ method: 'GET', url, startedAt: at, elapsedMs, status });

describe('metrics core', () => {
  describe('LatencyWindow', () => {
    it('gives nearest-rank p50 and p99 of known samples', () => {
      const w = new LatencyWindow();
      for (let ms = 1; ms <= 100; ms++) w.record(ms);
      assert.deepEqual(w.summary(), { p50: 50, p99: 99, samples: 100 });
    });

    it('forgets the oldest samples beyond its capacity, so a slow morning does not hide a fast afternoon', () => {
      const w = new LatencyWindow(10);
      for (let i = 0; i < 10; i++) w.record(500);
      for (let i = 0; i < 10; i++) w.record(5);
      assert.deepEqual(w.summary(), { p50: 5, p99: 5, samples: 10 });
    });

    it('reports null percentiles before any sample and ignores impossible latencies', () => {
      const w = new LatencyWindow();
      w.record(-1);
      w.record(Number.NaN);
      assert.deepEqual(w.summary(), { p50: null, p99: null, samples: 0 });
    });

    it('p50 ≤ p99 and both are samples (property)', () => {
      fc.assert(
        fc.property(fc.array(fc.nat(10_000), { minLength: 1, maxLength: 300 }), (xs) => {
          const sorted = [...xs].sort((a, b) => a - b);
          const p50 = nearestRank(sorted, 50) as number;
          const p99 = nearestRank(sorted, 99) as number;
          return p50 <= p99 && xs.includes(p50) && xs.includes(p99);
        }),
      );
    });
  });

  describe('EventWindow', () => {
    it('counts only the events of the last window and finds the busiest second', () => {
      const w = new EventWindow(60_000);
      for (let i = 0; i < 30; i++) w.add(T0 + i * 1000); // 1/s for 30 s
      for (let i = 0; i < 5; i++) w.add(T0 + 40_000 + i * 10); // a burst of 5 in 50 ms
      assert.equal(w.count(T0 + 45_000), 35);
      assert.equal(w.peak(T0 + 45_000, 1000), 5);
      assert.equal(w.count(T0 + 60_000 + 10_500), 24, 'the events of the first 10.5 s have left the window');
      assert.equal(w.count(T0 + 200_000), 0);
    });
  });

  describe('UptimeClock and peakOverlap', () => {
    it('restarts the uptime and counts a reconnect when it comes back', () => {
      const c = new UptimeClock();
      c.up(T0);
      c.up(T0 + 500); // still up: keeps the first time
      assert.equal(c.uptimeMs(T0 + 1000), 1000);
      c.down();
      assert.equal(c.uptimeMs(T0 + 2000), 0);
      c.up(T0 + 3000);
      assert.equal(c.uptimeMs(T0 + 3250), 250);
      assert.equal(c.reconnects, 1);
    });

    it('finds the most requests in flight at one instant', () => {
      assert.equal(peakOverlap([{ start: 0, end: 10 }, { start: 5, end: 15 }, { start: 10, end: 20 }, { start: 6, end: 7 }]), 3);
      assert.equal(peakOverlap([{ start: 0, end: 10 }, { start: 10, end: 20 }]), 1, 'back to back is not concurrent');
    });
  });

  describe('IbkrMetrics', () => {
    it('reports the share of the global limit used over the last minute for a known request rate', () => {
      const m = ibkr();
      for (let i = 0; i < 300; i++) m.recordExchange(exchange(T0 + i * 200)); // 5 req/s for 60 s
      const u = m.snapshot(T0 + 59_999).utilisation;
      assert.equal(u.global, 0.5, '300 of 600 per minute');
      assert.equal(u.globalPeakSecond, 0.5, '5 of 10 in any second');
      assert.ok(u.max < 0.8, 'the seed asks < 80 %');
    });

    it('reports each endpoint family against its own documented limit', () => {
      const m = ibkr();
      for (let i = 0; i < 45; i++) m.recordExchange(exchange(T0 + i * 1000, '/v1/api/tickle')); // tickle 1/s
      m.recordExchange(exchange(T0 + 1000, '/v1/api/iserver/account/orders?force=true')); // live orders 1/5 s
      m.recordExchange(exchange(T0, '/v1/api/iserver/marketdata/history?conid=1', 200, 500));
      m.recordExchange(exchange(T0 + 100, '/v1/api/iserver/marketdata/history?conid=2', 200, 500));
      const f = m.snapshot(T0 + 50_000).utilisation.families;
      assert.equal(f.tickle, 0.75, '45 of 60 per minute');
      assert.equal(f['live-orders'], round3(1 / 12), '1 of 12 per minute');
      assert.equal(f.history, 0.5, '2 in flight of 4 concurrent');
      assert.equal(f.snapshot, undefined, 'unused families are left out');
    });

    it('computes the error rate over its window and counts 429s', () => {
      const m = ibkr();
      for (let i = 0; i < 8; i++) m.recordExchange(exchange(T0 + i));
      m.recordExchange(exchange(T0 + 10, '/v1/api/iserver/accounts', 429));
      m.recordExchange({ method: 'GET', url: '/v1/api/iserver/accounts', startedAt: T0 + 11, elapsedMs: 15_000 }); // timeout: no status
      const s = m.snapshot(T0 + 20_000);
      assert.deepEqual(s.errors, { windowMs: 300_000, requests: 10, errors: 2, rate: 0.2 });
      assert.equal(s.http429, 1);
      assert.equal(s.requests, 10);
      assert.equal(m.snapshot(T0 + 400_000).errors.rate, 0, 'old errors leave the window');
    });

    it('times the session and the stream from when they last came up and counts their reconnects', () => {
      const m = ibkr();
      m.sessionChanged('authenticated', T0);
      m.sessionChanged('rate-limited', T0 + 100); // a pause is not a disconnection
      m.streamChanged('open', T0 + 200);
      assert.equal(m.snapshot(T0 + 1000).session.uptimeMs, 1000);
      m.sessionChanged('reconnecting', T0 + 2000);
      m.sessionChanged('authenticated', T0 + 3000);
      m.streamChanged('reconnecting', T0 + 2000);
      m.streamChanged('open', T0 + 3500);
      const s = m.snapshot(T0 + 4000);
      assert.deepEqual(s.session, { state: 'authenticated', uptimeMs: 1000, reconnects: 1 });
      assert.equal(s.stream.uptimeMs, 500);
      assert.equal(s.reconnects, 2);
    });

    it('gives the age of the last market-data message, null before the first', () => {
      const m = ibkr();
      assert.equal(m.snapshot(T0).stream.lastDataAgeMs, null);
      m.marketData(T0);
      m.marketData(T0 + 250);
      assert.equal(m.snapshot(T0 + 1250).stream.lastDataAgeMs, 1000);
      assert.equal(m.snapshot(T0 + 1250).stream.messages, 2);
    });
  });

  describe('DtcMetrics', () => {
    it('records the round trip of each order once, from submit to its first answer', () => {
      const d = new DtcMetrics(10_000);
      d.orderSent('a', T0);
      d.orderSent('b', T0 + 10);
      d.orderAnswered('a', T0 + 4);
      d.orderAnswered('a', T0 + 400); // a later update of the same order
      d.orderAnswered('unknown', T0 + 5);
      const s = d.snapshot(T0 + 1000);
      assert.deepEqual(s.orders, { sent: 2, acknowledged: 1, pending: 1 });
      assert.deepEqual(s.roundTripMs, { p50: 4, p99: 4, samples: 1 });
    });

    it('counts heartbeat intervals without a word from Sierra, logon uptime and reconnects', () => {
      const d = new DtcMetrics(1000);
      d.loggedOn(T0);
      d.heard(T0 + 900);
      d.heard(T0 + 3_950); // 3 intervals of silence: 2 heartbeats missed
      d.lost(T0 + 6_000); // 2 more before the watchdog gave up: 1 missed
      assert.equal(d.snapshot(T0 + 6_000).uptimeMs, 0);
      d.loggedOn(T0 + 7_000);
      const s = d.snapshot(T0 + 7_500);
      assert.equal(s.heartbeatsMissed, 3);
      assert.equal(s.uptimeMs, 500);
      assert.equal(s.reconnects, 1);
    });

    it('counts a heartbeat missed when the watchdog gave up on a silent Sierra, even a millisecond short of 2 intervals', () => {
      const d = new DtcMetrics(1000);
      d.loggedOn(T0);
      d.heard(T0 + 1);
      d.lost(T0 + 2_000, true); // the watchdog saw 2,000.5 ms; measured here: 1,999
      assert.equal(d.snapshot(T0 + 2_000).heartbeatsMissed, 1);
      d.loggedOn(T0 + 3_000);
      d.lost(T0 + 3_500); // a dropped socket, no silence: nothing missed
      assert.equal(d.snapshot(T0 + 3_500).heartbeatsMissed, 1);
    });
  });

  it('reads "Metrics every (s)" as ms and refuses nonsense', () => {
    assert.equal(metricsPeriodMs('', 'x'), 0);
    assert.equal(metricsPeriodMs('2.5', 'x'), 2500);
    assert.throws(() => metricsPeriodMs('-1', 'sierra-order'), /sierra-order: "Metrics every \(s\)" "-1" is not valid/);
  });
});

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
