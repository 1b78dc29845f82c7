import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IbkrConnection } from '../../../lib/ibkr';
import { NotFoundError, ServerError } from '../../../lib/ibkr/errors';
import { BAR_SIZES } from '../../../lib/ibkr/history';
import { BAR_MS, fetchBars, pageShape, planPages, type HistoryApi } from '../../../lib/ibkr/history-pager';
import type { HistoryBar, HistoryResult } from '../../../lib/ibkr/types';
import { startIbkrSimulator, type IbkrSimulator } from '../../../lib/sim/ibkr';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** A fake IBKR: 1-minute bars every minute except on `closed` days, the newest 1000 before startTime. */
function fakeHistory(options: { closedFrom?: number; closedTo?: number } = {}): HistoryApi & { calls: Array<{ period: string; startTime?: number }> } {
  const calls: Array<{ period: string; startTime?: number }> = [];
  return {
    calls,
    async history(req): Promise<HistoryResult> {
      calls.push({ period: req.period, startTime: req.startTime });
      const end = req.startTime ?? 0;
      const hours = Number(/^(\d+)h$/.exec(req.period)?.[1] ?? 0);
      const bars: HistoryBar[] = [];
      for (let t = end - hours * HOUR; t < end; t += MIN) {
        if (options.closedFrom !== undefined && t >= options.closedFrom && t < (options.closedTo ?? 0)) continue;
        bars.push({ t, o: 1, h: 2, l: 0.5, c: 1.5, v: 3 });
      }
      if (bars.length === 0) throw new NotFoundError('IBKR has no 1min bars: widen the period');
      const capped = bars.slice(-1000);
      return { symbol: 'ES', description: '', bars: capped, barLengthSec: 60, priceFactor: 1, volumeFactor: 1, points: capped.length };
    },
  };
}

/**
 * A fake IBKR serving RTH-only 5-minute bars (14:30–21:15 UTC stands for 08:30–15:15 CT), each built from the
 * 1-minute bars before startTime (so the newest bar of a page can be cut short: v < 5), listed newest first, and
 * answering older pages later so that pages finish out of order.
 */
function rthFiveMinuteHistory(): HistoryApi {
  const inRth = (t: number): boolean => {
    const minute = (t % DAY) / MIN;
    return minute >= 14 * 60 + 30 && minute < 21 * 60 + 15;
  };
  return {
    async history(req): Promise<HistoryResult> {
      const end = req.startTime ?? 0;
      const days = Number(/^(\d+)d$/.exec(req.period)?.[1] ?? 0);
      const byKey = new Map<number, HistoryBar>();
      for (let t = end - days * DAY; t < end; t += MIN) {
        if (!inRth(t)) continue;
        const key = Math.floor(t / (5 * MIN)) * 5 * MIN;
        const held = byKey.get(key);
        if (held) held.v += 1;
        else byKey.set(key, { t: key, o: 1, h: 2, l: 0.5, c: 1.5, v: 1 });
      }
      const bars = [...byKey.values()].reverse();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, (Date.UTC(2027, 0, 8) - end) / DAY) * 5));
      if (bars.length === 0) throw new NotFoundError('IBKR has no 5min bars: widen the period');
      return { symbol: 'ES', description: '', bars, barLengthSec: 300, priceFactor: 1, volumeFactor: 1, points: bars.length };
    },
  };
}

describe('history pager', () => {
  it('never plans a page that could exceed 1000 points, for every bar size IBKR offers', () => {
    for (const bar of BAR_SIZES) {
      const shape = pageShape(bar);
      assert.ok(shape.coverMs > 0, bar);
    }
    assert.deepEqual(pageShape('1min'), { period: '8h', coverMs: 8 * HOUR });
  });

  it('cuts any range into adjacent windows that cover it exactly, newest first', () => {
    fc.assert(
      fc.property(fc.constantFrom(...BAR_SIZES), fc.integer({ min: 1, max: 400 * DAY }), fc.integer({ min: 0, max: DAY }), (bar, span, offset) => {
        const end = Date.UTC(2027, 0, 1) + offset;
        const pages = planPages(bar, end - span, end);
        assert.equal(pages[0]?.to, end);
        assert.equal(pages[pages.length - 1]?.from, end - span);
        for (let i = 1; i < pages.length; i += 1) {
          assert.equal(pages[i]?.to, pages[i - 1]?.from);
          if (BAR_MS[bar] < DAY) assert.equal(pages[i]!.to % BAR_MS[bar], 0, 'an inner edge cuts a bar');
        }
      }),
    );
  });

  it('returns every minute of a two-day range once, oldest first, across 6 pages', async () => {
    const api = fakeHistory();
    const end = Date.UTC(2027, 0, 6, 12);
    const progress: number[] = [];
    const result = await fetchBars(api, { conid: 1, symbol: 'ES', bar: '1min', range: { start: end - 2 * DAY, end } }, { now: end, onProgress: (f) => progress.push(f) });
    assert.equal(result.bars.length, 2 * 24 * 60);
    assert.equal(result.pages, 6);
    for (let i = 1; i < result.bars.length; i += 1) assert.equal(result.bars[i]!.t - result.bars[i - 1]!.t, MIN);
    assert.equal(result.bars[0]!.tf, '1min');
    assert.deepEqual(progress.at(-1), 1);
  });

  it('returns RTH-only bars oldest first, once each and whole, however pages are sorted, cut and finish', async () => {
    const end = Date.UTC(2027, 0, 6, 15, 2, 30); // mid-bar: every page boundary cuts a 5-minute bar
    const result = await fetchBars(rthFiveMinuteHistory(), { conid: 1, symbol: 'ES', bar: '5min', range: { start: end - 4 * DAY, end }, outsideRth: false }, { now: end });
    assert.equal(result.pages, 2);
    const times = result.bars.map((b) => b.t);
    for (let i = 1; i < times.length; i += 1) assert.ok(times[i]! > times[i - 1]!, `bar ${i} (${new Date(times[i]!).toISOString()}) is not after the one before`);
    // Every session's bars, yesterday's before today's; the only cut bar is the one still forming now.
    const cut = result.bars.filter((b) => b.v !== 5).map((b) => new Date(b.t).toISOString());
    assert.deepEqual(cut, [new Date(Date.UTC(2027, 0, 6, 15)).toISOString()]);
    assert.equal(new Date(times[0]!).toISOString(), '2027-01-02T15:05:00.000Z');
  });

  it('treats "No data." for a closed stretch as an empty window, not a failure', async () => {
    const end = Date.UTC(2027, 0, 6, 12);
    const api = fakeHistory({ closedFrom: end - 24 * HOUR, closedTo: end - 8 * HOUR });
    const result = await fetchBars(api, { conid: 1, symbol: 'ES', bar: '1min', range: { start: end - DAY, end } }, { now: end });
    assert.equal(result.bars.length, 8 * 60);
  });

  it('reports a range with no bar at all as not found, with what to do', async () => {
    const end = Date.UTC(2027, 0, 6, 12);
    const api = fakeHistory({ closedFrom: 0, closedTo: end });
    await assert.rejects(fetchBars(api, { conid: 1, symbol: 'ES', bar: '1min', range: { period: '2h' } }, { now: end }), (err: Error) => err instanceof NotFoundError && /widen the period/.test(err.message));
  });

  it('passes other failures through unchanged', async () => {
    const api: HistoryApi = { history: () => Promise.reject(new ServerError('IBKR failed')) };
    await assert.rejects(fetchBars(api, { conid: 1, symbol: 'ES', bar: '5min', range: { period: '2d' } }, { now: Date.UTC(2027, 0, 6) }), ServerError);
  });

  it('refuses a bar size IBKR does not offer', async () => {
    await assert.rejects(fetchBars(fakeHistory(), { conid: 1, symbol: 'ES', bar: '7min', range: { period: '1d' } }, { now: 0 }), /7min/);
  });

  describe('against the simulator', () => {
    let sim: IbkrSimulator;
    let connection: IbkrConnection;
    before(async () => {
      // The market stands still (speed 0): "two weeks up to now" is one window for the test and the simulator however
      // long the paging takes (a running market moved the window's start past a bar on a loaded machine).
      sim = await startIbkrSimulator({ seed: 3, historyLatencyMs: 5, speed: 0 });
      connection = new IbkrConnection({ mode: 'simulator', baseUrl: sim.baseUrl, simulatorCertificatePem: sim.certificatePem });
      await connection.start();
    });
    after(async () => {
      await connection.close();
      await sim.close();
    });

    it('pages two weeks of 5-minute ES bars within the concurrency limit, with no gap or duplicate', async () => {
      const conid = sim.market.esContracts()[0]!.conid;
      const now = sim.market.now();
      const result = await fetchBars(connection.client, { conid, symbol: 'ES', bar: '5min', range: { period: '2w' }, outsideRth: true }, { now });
      const times = result.bars.map((b) => b.t);
      assert.equal(new Set(times).size, times.length);
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      // Every complete 5-minute bar the market traded in the two weeks (the one forming now is not history yet).
      const expected = sim.market.esBars(now - 14 * DAY, Math.floor(now / (5 * MIN)) * 5 * MIN, MIN);
      const fiveMinuteBuckets = new Set(expected.map((b) => Math.floor(b.t / (5 * MIN)) * 5 * MIN).filter((t) => t >= now - 14 * DAY));
      assert.equal(times.length, fiveMinuteBuckets.size);
      assert.ok(result.pages >= 7);
      assert.ok(sim.control.stats().maxHistoryConcurrent <= 4);
    });
  });
});
