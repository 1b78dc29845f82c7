import { strict as assert } from 'assert';
import { NEW_YORK, zonedTime } from '../../../lib/clock';
import { tradesToCsv } from '../../../lib/stats/csv';
import { execFileSync } from 'child_process';
import path from 'path';
import fc from 'fast-check';
import { sampleMean, sampleStd, statistics, summarize } from '../../../lib/stats/statistics';
import { mathjs } from '../../../lib/mathjs';
import { TradeBook, dominantReason, type TradeRecord } from '../../../lib/stats/trades';

const at = (day: number, h: number, m: number): number => zonedTime(NEW_YORK, 2026, 3, day, h, m);
const ZERO = { battle: 0, trend: 0, base: 0, vwap: 0, orderflow: 0, gamma: 0 };
const signal = (side: 'LONG' | 'SHORT', stop: number, components: Partial<typeof ZERO>) => ({
  signal: side,
  stop,
  components: { ...ZERO, ...components },
});
const fill = (side: 'buy' | 'sell', quantity: number, price: number, t: number) => ({ clientOrderId: 'x', serverOrderId: null, side, quantity, price, t });

/**
 * Six ES trades (50 $/point) over three New York days, worked out by hand:
 *  T1 Tue 3: LONG signal (battle +1 → reason battle), stop 4998. Buy 2 @ 5000, sell 2 @ 5004.
 *     points +4, P&L 4 × 2 × 50 = +400, risk 5000 − 4998 = 2 → R = +2.
 *  T2 Tue 3: SHORT signal (vwap −1 → vwap), stop 5012. Sell 1 @ 5010, buy 1 @ 5013.
 *     points −3, P&L −150, risk 2 → R = −1.5.
 *  T3 Wed 4: no signal. Buy 1 @ 5020, sell 1 @ 5019: points −1, P&L −50, R unknown, reason 'no signal'.
 *  T4 Wed 4: LONG signal (trend +1 → trend), stop 5016. Buy 1 @ 5020, buy 1 @ 5022 (entry 5021), sell 1 @ 5025
 *     (+4 from 5021), sell 1 @ 5027 (+6): P&L (4 + 6) × 50 = +500; exit 5026, points +5, risk 5 → R = +1.
 *  T5 Thu 5: SHORT signal (gamma −1 → gamma), stop 5034. Sell 1 @ 5030, then buy 2 @ 5032 reverses:
 *     T5 closes at 5032: points −2, P&L −100, risk 4 → R = −0.5;
 *  T6 opens long 1 @ 5032 with no LONG signal pending ('no signal'); sell 1 @ 5031: P&L −50.
 */
function worked(): { book: TradeBook; trades: readonly TradeRecord[] } {
  const book = new TradeBook({ pointValue: 50 });
  book.signal(signal('LONG', 4998, { battle: 1 }));
  book.fill(fill('buy', 2, 5000, at(3, 10, 0)));
  book.fill(fill('sell', 2, 5004, at(3, 10, 30)));
  book.signal(signal('SHORT', 5012, { vwap: -1 }));
  book.fill(fill('sell', 1, 5010, at(3, 11, 0)));
  book.fill(fill('buy', 1, 5013, at(3, 11, 20)));
  book.fill(fill('buy', 1, 5020, at(4, 10, 0)));
  book.fill(fill('sell', 1, 5019, at(4, 10, 5)));
  book.signal(signal('LONG', 5016, { trend: 1 }));
  book.fill(fill('buy', 1, 5020, at(4, 11, 0)));
  book.fill(fill('buy', 1, 5022, at(4, 11, 10)));
  book.fill(fill('sell', 1, 5025, at(4, 11, 30)));
  book.fill(fill('sell', 1, 5027, at(4, 11, 40)));
  book.signal(signal('SHORT', 5034, { gamma: -1 }));
  book.fill(fill('sell', 1, 5030, at(5, 10, 0)));
  const reversed = book.fill(fill('buy', 2, 5032, at(5, 10, 10)));
  assert.equal(reversed.length, 1, 'the reversing fill closes T5 only');
  assert.equal(book.position(), 1);
  book.fill(fill('sell', 1, 5031, at(5, 10, 20)));
  return { book, trades: book.trades() };
}

const close = (actual: number | null, expected: number, what: string) => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);
};

describe('trade statistics', () => {
  it('builds the six trades of the worked list from signals and fills', () => {
    const { trades, book } = worked();
    assert.deepEqual(
      trades.map((t) => [t.side, t.quantity, t.entryPrice, t.exitPrice, t.points, t.pnl, t.r, t.reason, t.day]),
      [
        ['long', 2, 5000, 5004, 4, 400, 2, 'battle', '2026-03-03'],
        ['short', 1, 5010, 5013, -3, -150, -1.5, 'vwap', '2026-03-03'],
        ['long', 1, 5020, 5019, -1, -50, null, 'no signal', '2026-03-04'],
        ['long', 2, 5021, 5026, 5, 500, 1, 'trend', '2026-03-04'],
        ['short', 1, 5030, 5032, -2, -100, -0.5, 'gamma', '2026-03-05'],
        ['long', 1, 5032, 5031, -1, -50, null, 'no signal', '2026-03-05'],
      ],
    );
    assert.deepEqual(trades.map((t) => t.id), [1, 2, 3, 4, 5, 6]);
    assert.equal(book.position(), 0);
  });

  it('computes the overall statistics worked out by hand', () => {
    const s = statistics(worked().trades);
    // P&L: +400 −150 −50 +500 −100 −50 = +550 over 6 trades; wins 400, 500; losses −150, −50, −100, −50.
    assert.equal(s.trades, 6);
    assert.equal(s.wins, 2);
    assert.equal(s.losses, 4);
    close(s.winRate, 2 / 6, 'win rate');
    assert.equal(s.netPnl, 550);
    assert.equal(s.grossProfit, 900);
    assert.equal(s.grossLoss, -350);
    assert.equal(s.avgWin, 450); // (400 + 500) / 2
    assert.equal(s.avgLoss, -87.5); // −350 / 4
    close(s.expectancy, 550 / 6, 'expectancy'); // = 2/6 × 450 + 4/6 × −87.5 = 150 − 58.33 = 91.67
    close(s.profitFactor, 900 / 350, 'profit factor'); // 2.571
    assert.equal(s.rTrades, 4);
    assert.equal(s.avgR, 0.25); // (2 − 1.5 + 1 − 0.5) / 4
    // Equity 400, 250, 200, 700, 600, 550: peak 400 → 200 is the deepest fall, 200 (700 → 550 is 150).
    assert.equal(s.maxDrawdown, 200);
    assert.deepEqual(s.daily, [
      { day: '2026-03-03', pnl: 250, trades: 2 }, // 400 − 150
      { day: '2026-03-04', pnl: 450, trades: 2 }, // −50 + 500
      { day: '2026-03-05', pnl: -150, trades: 2 }, // −100 − 50
    ]);
    // Daily mean 550/3 = 183.33; deviations +66.67, +266.67, −333.33; squares 4444.4 + 71111.1 + 111111.1 = 560000/3;
    // sample variance (÷ 2) 280000/3 = 93333.3, σ = 305.505; Sharpe = 183.33 / 305.505 × √252 = 9.526.
    close(s.sharpe, (550 / 3 / Math.sqrt(280000 / 3)) * Math.sqrt(252), 'Sharpe');
    assert.equal(s.sharpe?.toFixed(4), '9.5263');
    assert.deepEqual(s.equity.map((p) => p.equity), [400, 250, 200, 700, 600, 550]);
  });

  it('splits by side and by dominant reason', () => {
    const s = statistics(worked().trades);
    // Long: T1 +400, T3 −50, T4 +500, T6 −50 → net 800, PF 900/100 = 9, R (2 + 1)/2 = 1.5.
    const long = s.bySide.long;
    assert.deepEqual([long.trades, long.wins, long.netPnl, long.avgWin, long.avgLoss, long.profitFactor, long.avgR], [4, 2, 800, 450, -50, 9, 1.5]);
    // Short: T2 −150, T5 −100 → net −250, no win (win rate 0, average win none, PF 0 / 250 = 0), R (−1.5 − 0.5)/2 = −1,
    // equity −150, −250 → drawdown 250 from the starting 0.
    const short = s.bySide.short;
    assert.deepEqual([short.trades, short.wins, short.winRate, short.netPnl, short.avgWin, short.avgLoss, short.profitFactor, short.avgR, short.maxDrawdown], [2, 0, 0, -250, null, -125, 0, -1, 250]);
    assert.deepEqual(Object.keys(s.byReason), ['battle', 'gamma', 'no signal', 'trend', 'vwap']);
    assert.deepEqual([s.byReason['no signal'].trades, s.byReason['no signal'].netPnl, s.byReason['no signal'].avgR, s.byReason['no signal'].profitFactor], [2, -100, null, 0]);
    assert.deepEqual([s.byReason.trend.netPnl, s.byReason.trend.profitFactor, s.byReason.trend.winRate], [500, null, 1]);
  });

  it('reports nothing it cannot compute: no trades, one day', () => {
    const empty = statistics([]);
    assert.deepEqual([empty.trades, empty.winRate, empty.expectancy, empty.avgR, empty.profitFactor, empty.maxDrawdown, empty.sharpe], [0, null, null, null, null, 0, null]);
    const oneDay = summarize(worked().trades.slice(0, 2));
    assert.equal(oneDay.netPnl, 250);
    assert.equal(statistics(worked().trades.slice(0, 2)).sharpe, null);
  });

  it('takes the point value from the fill, then the message, then the setting (MES 5 $/point)', () => {
    const book = new TradeBook({ pointValue: 50 });
    book.fill({ ...fill('buy', 3, 5000, at(3, 10, 0)), pointValue: 5 });
    const [t] = book.fill({ ...fill('sell', 3, 5002.25, at(3, 10, 1)), pointValue: 5 });
    assert.equal(t.pnl, 2.25 * 3 * 5); // 33.75 $
    book.fill(fill('buy', 1, 5000, at(3, 11, 0)), 5);
    assert.equal(book.fill(fill('sell', 1, 5001, at(3, 11, 1)), 5)[0].pnl, 5);
    book.fill(fill('buy', 1, 5000, at(3, 12, 0)));
    assert.throws(() => book.fill({ ...fill('sell', 1, 5001, at(3, 12, 1)), pointValue: 5 }), /point value 5 differs from the open trade's 50/);
  });

  it('refuses malformed fills and signals with the field named, changing nothing', () => {
    const book = new TradeBook({ pointValue: 50 });
    assert.throws(() => book.fill({ side: 'long', quantity: 1, price: 5000, t: 1 }), /fill side must be 'buy' or 'sell'/);
    assert.throws(() => book.fill({ side: 'buy', quantity: 0, price: 5000, t: 1 }), /quantity must be a positive number/);
    assert.throws(() => book.fill({ side: 'buy', quantity: 1, price: '5000', t: 1 }), /price must be a positive number/);
    assert.throws(() => book.fill({ side: 'buy', quantity: 1, price: 5000 }), /fill t must be a time/);
    assert.throws(() => book.fill({ ...fill('buy', 1, 5000, 1), pointValue: -5 }), /pointValue \(dollars per point\) must be a positive number/);
    book.fill(fill('buy', 1, 5000, 1000));
    assert.throws(() => book.fill(fill('sell', 1, 5000, 999)), /fills must arrive in time order/);
    assert.throws(() => book.signal({ signal: 'BUY' }), /signal must be LONG, SHORT or NO_SIGNAL/);
    assert.throws(() => book.signal({ signal: 'LONG', components: { ...ZERO, battle: 'x' } }), /component battle must be a number/);
    assert.throws(() => new TradeBook({ pointValue: 0 }), /point value/);
    assert.equal(book.position(), 1);
  });

  it('adds after a partial exit at the average cost of the contracts still open', () => {
    const book = new TradeBook({ pointValue: 50 });
    book.fill(fill('buy', 2, 5000, 1)); // long 2 @ 5000
    book.fill(fill('sell', 1, 5004, 2)); // +4 on one contract; 1 left @ 5000
    book.fill(fill('buy', 1, 5002, 3)); // 2 open, cost (5000 + 5002) / 2 = 5001
    const [t] = book.fill(fill('sell', 2, 5003, 4)); // +2 on each: 4 + 2 × 2 = 8 points → $400
    assert.equal(t.pnl, 400);
    assert.equal(t.quantity, 3);
    close(t.entryPrice, (2 * 5000 + 5002) / 3, 'entry average');
    close(t.exitPrice, (5004 + 2 * 5003) / 3, 'exit average');
  });

  it('gives a signal only to a position opened within its validity (15 min by default) after its bar', () => {
    const book = new TradeBook({ pointValue: 50 });
    // A LONG on the 10:00 bar, refused by the order node; a long opened by hand at 10:16 is not its trade.
    book.signal({ ...signal('LONG', 4998, { battle: 1 }), bar: { t: at(3, 10, 0) } });
    book.fill(fill('buy', 1, 5000, at(3, 10, 16)));
    assert.equal(book.fill(fill('sell', 1, 5001, at(3, 10, 17)))[0].reason, 'no signal');
    // Nor is a later one: the stale signal was dropped.
    book.fill(fill('buy', 1, 5000, at(3, 10, 18)));
    assert.equal(book.fill(fill('sell', 1, 5001, at(3, 10, 19)))[0].reason, 'no signal');
    // Within 15 min (exactly 15 here) it is.
    book.signal({ ...signal('LONG', 4998, { battle: 1 }), bar: { t: at(3, 11, 0) } });
    book.fill(fill('buy', 1, 5000, at(3, 11, 15)));
    assert.equal(book.fill(fill('sell', 1, 5001, at(3, 11, 20)))[0].reason, 'battle');
    const strict = new TradeBook({ pointValue: 50, signalMaxAgeMs: 60_000 });
    strict.signal({ ...signal('SHORT', 5002, { vwap: -1 }), bar: { t: at(3, 12, 0) } });
    strict.fill(fill('sell', 1, 5000, at(3, 12, 2)));
    assert.equal(strict.fill(fill('buy', 1, 4999, at(3, 12, 3)))[0].reason, 'no signal');
    assert.throws(() => book.signal({ ...signal('LONG', 4998, {}), bar: { t: 'now' } }), /signal bar.t must be a time/);
  });

  it('does not give a signal to a position opened the other way', () => {
    const book = new TradeBook({ pointValue: 50 });
    book.signal(signal('LONG', 4998, { battle: 1 }));
    book.fill(fill('sell', 1, 5000, 1));
    const [t] = book.fill(fill('buy', 1, 4999, 2));
    assert.deepEqual([t.reason, t.r, t.stop], ['no signal', null, null]);
  });

  it('names the dominant reason by weighted contribution in the signal direction', () => {
    // battle 0.5 × 0.24 = 0.12 against vwap 1 × 0.15 = 0.15: vwap leads a LONG.
    assert.equal(dominantReason({ signal: 'LONG', components: { ...ZERO, battle: 0.5, vwap: 1 } }), 'vwap');
    // For a SHORT the same values push the wrong way; trend −0.2 × 0.21 = −0.042 is the only one on its side.
    assert.equal(dominantReason({ signal: 'SHORT', components: { ...ZERO, battle: 0.5, vwap: 1, trend: -0.2 } }), 'trend');
    assert.equal(dominantReason({ signal: 'LONG', components: ZERO }), 'score');
  });

  it('writes the trade table as CSV', () => {
    const csv = tradesToCsv(worked().trades.slice(0, 2));
    assert.equal(
      csv,
      'id,side,quantity,entryTime,entryPrice,exitTime,exitPrice,pointValue,points,pnl,stop,r,reason,day\r\n' +
        '1,long,2,2026-03-03T15:00:00.000Z,5000,2026-03-03T15:30:00.000Z,5004,50,4,400,4998,2,battle,2026-03-03\r\n' +
        '2,short,1,2026-03-03T16:00:00.000Z,5010,2026-03-03T16:20:00.000Z,5013,50,-3,-150,5012,-1.5,vwap,2026-03-03\r\n',
    );
    const odd = { ...worked().trades[2], reason: '=HYPERLINK("x"), a' };
    assert.match(tradesToCsv([odd]), /,,"'=HYPERLINK\(""x""\), a",2026-03-04\r\n$/);
  });

  it('computes means and the sample standard deviation exactly as mathjs does (to the bit)', () => {
    const { mean, std } = mathjs();
    const dollars = fc.oneof(fc.integer({ min: -100_000, max: 100_000 }).map((c) => c / 4), fc.double({ min: -1e7, max: 1e7, noNaN: true }));
    fc.assert(
      fc.property(fc.array(dollars, { minLength: 1, maxLength: 60 }), (xs) => {
        assert.ok(Object.is(sampleMean(xs), mean(xs) as number), `mean of ${JSON.stringify(xs)}`);
        assert.ok(Object.is(sampleStd(xs), std(xs) as unknown as number), `std of ${JSON.stringify(xs)}`);
      }),
      { numRuns: 500 },
    );
  });

  it('loads no mathjs to compute the statistics (its first load blocks the event loop ~0.8 s among the orders)', () => {
    const repo = path.resolve(__dirname, '..', '..', '..');
    const script = [
      "const { statistics } = require('./lib/stats/statistics');",
      "const t = (d, pnl) => ({ id: d, side: 'long', quantity: 1, entryTime: 0, entryPrice: 1, exitTime: d, exitPrice: 1, pointValue: 50, points: 0, pnl, stop: null, r: pnl / 100, reason: 'battle', day: `2026-03-0${d}` });",
      'const s = statistics([t(2, 100), t(3, -50), t(4, 75)]);',
      "if (!(s.sharpe > 0) || s.avgR === null) throw new Error('no statistics');",
      "process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes(`${require('path').sep}mathjs${require('path').sep}`))));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repo, encoding: 'utf8' });
    assert.equal(out, 'false');
  });
});
