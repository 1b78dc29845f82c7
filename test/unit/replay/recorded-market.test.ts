import assert from 'assert';
import { RecordedMarket, minuteBarsOf } from '../../../lib/replay/recorded-market';
import { seededRecordLines } from '../../../lib/replay/from-seeded';
import { recordingOf, type RecordLine } from '../../../lib/replay/recording';
import type { MarketTrade } from '../../../lib/sim/market-types';

// Wednesday 11 June 2025, 09:00 to 11:00 New York.
const FROM = Date.UTC(2025, 5, 11, 13, 0);
const TO = Date.UTC(2025, 5, 11, 15, 0);
const lines = seededRecordLines(3, FROM, TO);

function collect(m: RecordedMarket): MarketTrade[] {
  const out: MarketTrade[] = [];
  m.on('trade', (t: MarketTrade) => out.push(t));
  return out;
}

describe('replay: recorded market', () => {
  it('paces the clock at speed × a fake real clock, freezes it on pause, steps it by hand', () => {
    let real = 0;
    const m = new RecordedMarket(recordingOf(lines), { speed: 10, realNow: () => real });
    const seen = collect(m);
    m.start();
    real = 1000;
    assert.strictEqual(m.now(), FROM + 10_000);
    m.pause();
    real = 5000;
    assert.strictEqual(m.now(), FROM + 10_000);
    m.step(60_000);
    assert.strictEqual(m.now(), FROM + 70_000);
    const expected = recordingOf(lines).trades.filter((t) => t.t <= FROM + 70_000);
    assert.deepStrictEqual(seen, expected);
    m.resume();
    real = 6000;
    assert.strictEqual(m.now(), FROM + 80_000);
    m.stop();
  });

  it("at 'max' emits every trade once, in order, then 'end'; the same on every run", async () => {
    const runs: MarketTrade[][] = [];
    for (let k = 0; k < 2; k++) {
      const m = new RecordedMarket(recordingOf(lines), { speed: 'max', maxBatch: 500 });
      const seen = collect(m);
      const ended = new Promise<void>((resolve) => m.once('end', resolve));
      m.start();
      await ended;
      m.stop();
      runs.push(seen);
    }
    const all = recordingOf(lines).trades;
    assert.strictEqual(runs[0].length, all.length);
    assert.deepStrictEqual(runs[0], all);
    assert.deepStrictEqual(runs[1], runs[0]);
  });

  describe("demand at 'max'", () => {
    const turns = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
    };

    it('cuts batches of at most maxBatch trades spanning less than maxBatchMs, every trade once and in order', async () => {
      const m = new RecordedMarket(recordingOf(lines), { speed: 'max', maxBatch: 40, maxBatchMs: 5000 });
      const batches: MarketTrade[][] = [[]];
      m.on('trade', (t: MarketTrade) => batches[batches.length - 1].push(t));
      m.on('batch', () => batches.push([]));
      const ended = new Promise<void>((resolve) => m.once('end', resolve));
      m.start();
      await ended;
      m.stop();
      const full = batches.filter((b) => b.length > 0);
      assert.deepStrictEqual(full.flat(), recordingOf(lines).trades);
      for (const b of full) assert.ok(b.length <= 40 && b[b.length - 1].t - b[0].t < 5000, `batch of ${b.length} over ${b[b.length - 1].t - b[0].t} ms`);
      assert.ok(full.some((b) => b.length === 40) && full.some((b) => b.length < 40), 'both limits cut batches');
    });

    it('sends the next batch only once every holder of the current one has released it', async () => {
      const m = new RecordedMarket(recordingOf(lines), { speed: 'max', maxBatch: 10, maxBatchMs: 3_600_000 });
      const releases: (() => void)[] = [];
      m.on('batch', (hold: () => () => void) => releases.push(hold(), hold()));
      m.start();
      await turns(5);
      assert.strictEqual(m.status().emitted, 10, 'one batch, then it waits');
      releases[0]();
      releases[0](); // a second release of the same hold counts once
      await turns(5);
      assert.strictEqual(m.status().emitted, 10, 'one holder still holds it');
      releases[1]();
      await turns(5);
      assert.strictEqual(m.status().emitted, 20, 'released: the next batch, and it waits again');
      m.pause();
      releases[2]();
      releases[3]();
      await turns(5);
      assert.strictEqual(m.status().emitted, 20, 'paused: a release does not pump');
      m.resume();
      await turns(5);
      assert.strictEqual(m.status().emitted, 30, 'resumed: the next batch');
      m.stop();
    });

    it('replays a recording of ticks one tick a batch (each recorded tick was one stream update)', async () => {
      const ticks: RecordLine[] = recordingOf(lines)
        .trades.slice(0, 50)
        .map((x) => ({ t: x.t, topic: 'tick', payload: { symbol: 'ES', t: x.t, price: x.price, size: x.size, bid: x.bid, ask: x.ask } }));
      const m = new RecordedMarket(recordingOf(ticks), { speed: 'max', maxBatch: 1000 });
      let batches = 0;
      m.on('batch', () => batches++);
      const ended = new Promise<void>((resolve) => m.once('end', resolve));
      m.start();
      await ended;
      m.stop();
      assert.strictEqual(batches, 50);
    });
  });

  it("keeps the session volume its own: 0 before the first recorded tick, then the ticks' sizes, never the live volume", () => {
    const t0 = FROM + 1000;
    const rec: RecordLine[] = [
      { t: FROM, topic: 'quote', payload: { symbol: 'ES', t: FROM, last: 5000, bid: 4999.75, ask: 5000, bidSize: 5, askSize: 7, volume: 812_345 } },
      { t: t0, topic: 'tick', payload: { symbol: 'ES', t: t0, price: 5000, size: 3, bid: 4999.75, ask: 5000 } },
      { t: t0 + 500, topic: 'tick', payload: { symbol: 'ES', t: t0 + 500, price: 5000.25, size: 2, bid: 5000, ask: 5000.25 } },
    ];
    const m = new RecordedMarket(recordingOf(rec));
    assert.strictEqual(m.esQuote().volume, 0);
    m.step(1000);
    assert.strictEqual(m.esQuote().volume, 3);
    m.step(500);
    assert.strictEqual(m.esQuote().volume, 5);
  });

  it('shows nothing after its clock: quotes and bars are the same when the future is replaced by garbage', () => {
    const cut = FROM + 47 * 60_000 + 20_000;
    const garbage: RecordLine[] = lines.map((l) =>
      l.t <= cut
        ? l
        : l.topic === 'trade'
          ? { ...l, payload: { ...(l.payload as MarketTrade), price: 1, bid: 0.75, ask: 1, size: 999 } }
          : l.topic === 'bar'
            ? { ...l, payload: { t: (l.payload as { t: number }).t, o: 1, h: 1, l: 1, c: 1, v: 999 } }
            : l,
    );
    const a = new RecordedMarket(recordingOf(lines), { startTime: cut });
    const b = new RecordedMarket(recordingOf(garbage), { startTime: cut });
    assert.deepStrictEqual(b.esQuote(), a.esQuote());
    assert.deepStrictEqual(b.esBars(FROM, TO, 60_000), a.esBars(FROM, TO, 60_000));
    assert.deepStrictEqual(b.esBars(FROM, TO, 300_000), a.esBars(FROM, TO, 300_000));
    // The bars shown are the minutes closed by then plus the one in progress built from its trades so far.
    const bars = a.esBars(FROM, TO, 60_000);
    assert.strictEqual(bars.length, 48);
    const before = recordingOf(lines).trades.filter((t) => t.t <= cut);
    assert.deepStrictEqual(bars, minuteBarsOf(before));
  });

  it('refuses a bad speed and an empty recording', () => {
    assert.throws(() => new RecordedMarket(recordingOf(lines), { speed: 0 }), /speed/);
    assert.throws(() => new RecordedMarket(recordingOf(lines), { speed: 'fast' as never }), /speed/);
    assert.throws(() => new RecordedMarket(recordingOf([{ t: FROM, topic: 'meta', payload: {} }])), /nothing to replay/);
  });
});

describe('replay: a recording of ibkr-quote ticks', () => {
  it('replays the ticks of its symbol as trades, in time order, the side taken from the touch when absent', () => {
    const ticks: RecordLine[] = [
      { t: FROM + 10, topic: 'tick', payload: { symbol: 'ES', contract: 'ESM5', t: FROM + 5, price: 6000, size: 2, bid: 5999.75, ask: 6000 } },
      { t: FROM + 20, topic: 'tick', payload: { symbol: 'SPX', t: FROM + 6, price: 5975, size: 0 } },
      { t: FROM + 30, topic: 'tick', payload: { symbol: 'ES', t: FROM + 25, price: 5999.75, size: 1, bid: 5999.75, ask: 6000 } },
      { t: FROM + 40, topic: 'tick', payload: { symbol: 'ES', t: FROM + 15, price: 6000.25, size: 3, side: 'buy' } },
    ];
    const m = new RecordedMarket(recordingOf([{ t: FROM, topic: 'meta', payload: {} }, ...ticks]), { speed: 'max' });
    const seen = collect(m);
    m.step(60_000);
    assert.deepStrictEqual(
      seen.map((x) => [x.t, x.price, x.size, x.side, x.bid, x.ask]),
      [
        [FROM + 5, 6000, 2, 'buy', 5999.75, 6000],
        [FROM + 15, 6000.25, 3, 'buy', 6000, 6000.25],
        [FROM + 25, 5999.75, 1, 'sell', 5999.75, 6000],
      ],
    );
    assert.throws(() => recordingOf([{ t: FROM, topic: 'tick', payload: { symbol: 'ES', t: FROM, price: 'x', size: 1 } }]), /payload\.price/);
  });
});

describe('replay: recorded option chains', () => {
  it('serves the latest chain snapshot at or before its clock, only the options IBKR gave every figure of', () => {
    const option = (strike: number, bid: number | null) => ({
      conid: strike, expiry: '20250611', settlement: 'PM', tradingClass: 'SPXW', strike, right: 'C',
      bid, ask: 10, last: 9.5, iv: 0.15, delta: 0.5, gamma: 0.01, openInterest: 100, volume: 5,
    });
    const chainAt = (t: number, spot: number): RecordLine => ({ t, topic: 'chain', payload: { underlying: 'SPX', spot, contracts: [option(6000, 9), option(6005, null)] } });
    const withChains = [...lines.slice(0, 1), chainAt(FROM + 1, 5990), ...lines.slice(1)].sort((a, b) => a.t - b.t);
    withChains.push(chainAt(TO, 5999));
    const m = new RecordedMarket(recordingOf(withChains), { startTime: FROM + 60_000 });
    assert.deepStrictEqual(m.spxExpiries(), [{ expiry: '20250611', tradingClass: 'SPXW' }]);
    const chain = m.spxChain();
    assert.deepStrictEqual(chain.map((o) => o.strike), [6000]);
    // SPX follows ES from the snapshot with the basis the snapshot showed.
    const esAtSnapshot = recordingOf(lines).trades.filter((x) => x.t <= FROM + 1).pop()?.price ?? NaN;
    assert.ok(Math.abs(m.spxSpot() - (m.esQuote().last - (esAtSnapshot - 5990))) < 1e-9);
  });
});
