import assert from 'assert';
import { runBacktest, type BacktestProgress } from '../../../lib/replay/backtest';
import { runBacktestInSteps, tradeStatsMessages } from '../../../lib/replay/backtest-steps';
import { createMarket } from '../../../lib/sim/market';
import { TradeBook } from '../../../lib/stats/trades';

// Five trading days of the seeded market, Mon 9 to Fri 13 June 2025 (as test/unit/replay/backtest.test.ts).
const FROM = Date.UTC(2025, 5, 8, 22, 0);
const TO = Date.UTC(2025, 5, 13, 21, 0);
const seeded = createMarket({ seed: 11, startTime: TO, speed: 0 }).esBars(FROM, TO, 60_000);
const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1, risk: { cooldownMin: 5 } };

describe('replay: backtest one trading day at a time', () => {
  it('gives the same result as the one-piece run, yielding between days and reporting each day once', async () => {
    const whole = runBacktest(seeded, OPTIONS);
    const events: string[] = [];
    const days: BacktestProgress[] = [];
    let closedSeen = 0;
    const stepped = await runBacktestInSteps(seeded, {
      ...OPTIONS,
      onDay: (p, closed) => {
        days.push(p);
        closedSeen += closed.length;
        events.push(`day ${p.daysDone}`);
        // Flat at each day's end: every trade reported closed by the end of that day, and all of that day's trades.
        assert.strictEqual(p.trades, closedSeen, `day ${p.day}: ${closedSeen} trades reported, ${p.trades} closed`);
      },
      yieldBetweenDays: async () => {
        events.push('yield');
      },
    });
    const { stopped, ...result } = stepped;
    assert.strictEqual(stopped, false);
    assert.deepStrictEqual(result, whole);
    assert.ok(whole.trades.length > 0);
    assert.strictEqual(closedSeen, whole.trades.length);
    assert.deepStrictEqual(events, ['day 1', 'yield', 'day 2', 'yield', 'day 3', 'yield', 'day 4', 'yield', 'day 5']);
    assert.deepStrictEqual(
      days.map((d) => [d.day, d.days]),
      [
        ['2025-06-09', 5],
        ['2025-06-10', 5],
        ['2025-06-11', 5],
        ['2025-06-12', 5],
        ['2025-06-13', 5],
      ],
    );
  });

  it('hands the event loop back between days (a timer set before the run fires before it ends)', async () => {
    let fired = false;
    setImmediate(() => (fired = true));
    let firedBeforeLastDay = false;
    await runBacktestInSteps(seeded, { ...OPTIONS, onDay: (p) => p.daysDone === p.days && (firedBeforeLastDay = fired) });
    assert.strictEqual(firedBeforeLastDay, true);
  });

  it('stops after the day on which it is asked to, with the trades of the days done', async () => {
    const whole = runBacktest(seeded, OPTIONS);
    let daysDone = 0;
    const r = await runBacktestInSteps(seeded, { ...OPTIONS, onDay: (p) => (daysDone = p.daysDone), shouldStop: () => daysDone >= 2 });
    assert.strictEqual(r.stopped, true);
    assert.strictEqual(r.days, 2);
    assert.ok(r.trades.length < whole.trades.length);
    assert.deepStrictEqual(r.trades, whole.trades.slice(0, r.trades.length));
  });

  it('refuses bad bars before the first day runs', async () => {
    let called = false;
    await assert.rejects(runBacktestInSteps([seeded[1], seeded[0]], { onDay: () => (called = true) }), /not after the previous bar/);
    assert.strictEqual(called, false);
  });

  it("feeds mia-trade-stats' book the same trades: prices, sides, P&L before commission, the signal's stop and reason", () => {
    const r = runBacktest(seeded, OPTIONS);
    const book = new TradeBook({ pointValue: 50 });
    for (const m of tradeStatsMessages(r.trades, r.signals)) {
      if (m.topic === 'signal') book.signal(m.payload);
      else book.fill(m.payload);
    }
    const records = book.trades();
    assert.strictEqual(records.length, r.trades.length);
    records.forEach((rec, i) => {
      const tr = r.trades[i];
      assert.strictEqual(rec.side, tr.side === 'buy' ? 'long' : 'short');
      assert.strictEqual(rec.entryPrice, tr.entry);
      assert.strictEqual(rec.exitPrice, tr.exit);
      assert.strictEqual(rec.entryTime, tr.entryT);
      assert.strictEqual(rec.exitTime, tr.exitT);
      assert.ok(Math.abs(rec.pnl - (tr.pnl + tr.commission)) < 1e-6, `trade ${i + 1}: ${rec.pnl} vs ${tr.pnl} + ${tr.commission}`);
      assert.strictEqual(rec.stop, tr.stop);
      assert.notStrictEqual(rec.reason, 'no signal');
      assert.ok(rec.r !== null && Math.abs(rec.r - rec.points / Math.abs(tr.entry - tr.stop)) < 1e-9);
    });
  });
});
