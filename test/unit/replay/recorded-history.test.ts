// The bars ibkr-history received, recorded (format version 2) and served by the replay with the recorded ticks after
// them: never a bar, or part of one, the replay clock has not reached; older (version 1) recordings as before.
import assert from 'assert';
import { RecordedMarket } from '../../../lib/replay/recorded-market';
import { recordingOf, type RecordLine } from '../../../lib/replay/recording';

const M = 60_000;
// Wednesday 11 June 2025, 10:00 New York.
const T0 = Date.UTC(2025, 5, 11, 14, 0);
const bar = (t: number, o: number, h: number, l: number, c: number, v: number) => ({ t, o, h, l, c, v, symbol: 'ES' });
const tick = (t: number, price: number, size: number) => ({ symbol: 'ES', t, price, size, bid: price - 0.25, ask: price });

/** A live recording: the preload received at T0 + 20 s (two closed bars and the minute in progress), then ticks. */
function liveLines(version = 2): RecordLine[] {
  const at = T0 + 20_000;
  return [
    { t: T0 + 5_000, topic: 'meta', payload: { version } },
    { t: T0 + 5_000, topic: 'tick', payload: tick(T0 + 5_000, 100, 2) },
    { t: at, topic: 'bar', payload: bar(T0 - 2 * M, 98, 99, 97, 99, 10) },
    { t: at, topic: 'bar', payload: bar(T0 - M, 99, 100, 98, 100, 12) },
    { t: at, topic: 'bar', payload: bar(T0, 100, 101, 100, 101, 5) }, // 10:00 in progress at 10:00:20
    { t: T0 + 30_000, topic: 'tick', payload: tick(T0 + 30_000, 102, 3) },
    { t: T0 + 70_000, topic: 'tick', payload: tick(T0 + 70_000, 103, 4) },
  ];
}

describe('replay: recorded history (ibkr-history bars) with recorded ticks', () => {
  it('serves the recorded bars once the clock reaches their record time, the minute in progress grown by the ticks after it', () => {
    const m = new RecordedMarket(recordingOf(liveLines()), { speed: 'max' });
    assert.strictEqual(m.preloadAt, T0 + 20_000);
    m.step(1); // 10:00:05.001: the preload was not received yet; only the tick of 10:00:05 is known
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + M, M), [{ t: T0, o: 100, h: 100, l: 100, c: 100, v: 2 }]);
    m.step(15_000); // 10:00:20.001: the preload is known, as it was received
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + M, M), [
      { t: T0 - 2 * M, o: 98, h: 99, l: 97, c: 99, v: 10 },
      { t: T0 - M, o: 99, h: 100, l: 98, c: 100, v: 12 },
      { t: T0, o: 100, h: 101, l: 100, c: 101, v: 5 },
    ]);
    m.step(10_000); // 10:00:30.001: the recorded 10:00 bar plus the tick after its record
    assert.deepStrictEqual(m.esBars(T0, T0 + M, M), [{ t: T0, o: 100, h: 102, l: 100, c: 102, v: 8 }]);
    m.step(60_000); // 10:01:30: 10:01 from its tick only
    assert.deepStrictEqual(m.esBars(T0, T0 + 2 * M, M), [
      { t: T0, o: 100, h: 102, l: 100, c: 102, v: 8 },
      { t: T0 + M, o: 103, h: 103, l: 103, c: 103, v: 4 },
    ]);
    // A request that ends before the record time gets the closed bars, never the in-progress record.
    assert.deepStrictEqual(
      m.esBars(T0 - 3 * M, T0 + 10_000, M).map((b) => b.t),
      [T0 - 2 * M, T0 - M, T0],
    );
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + 10_000, M)[2], { t: T0, o: 100, h: 100, l: 100, c: 100, v: 2 });
  });

  it('takes a version 1 bar as known at its close only, and refuses a newer format', () => {
    const m = new RecordedMarket(recordingOf(liveLines(1)), { speed: 'max' });
    m.step(20_001);
    // The 10:00 bar recorded at 10:00:20 in a version 1 file: not served before 10:01.
    assert.deepStrictEqual(m.esBars(T0, T0 + M, M), [{ t: T0, o: 100, h: 100, l: 100, c: 100, v: 2 }]);
    assert.throws(() => recordingOf([{ t: T0, topic: 'meta', payload: { version: 3 } }]), /format version 3 is newer/);
  });

  it('at max, stops at the preload time until cleared (the link answers the preload there)', () => {
    const m = new RecordedMarket(recordingOf(liveLines()), { speed: 'max' });
    const seen: number[] = [];
    m.on('trade', (x: { t: number }) => seen.push(x.t));
    let stopped = 0;
    m.on('stopped', () => stopped++);
    m.stopAt(m.preloadAt as number);
    while (m.pumpBatch());
    assert.deepStrictEqual(seen, [T0 + 5_000]);
    assert.strictEqual(m.now(), T0 + 20_000);
    assert.ok(m.stopped && stopped === 1);
    m.clearStop();
    m.stop(); // no pump timer: drive the batches by hand
    while (m.pumpBatch());
    assert.deepStrictEqual(seen, [T0 + 5_000, T0 + 30_000, T0 + 70_000]);
  });
  it('a bar recorded with the market time of its request (asOf) is served from then, to the request ending at its second', () => {
    // Asked at 10:00:12.345, answered (recorded) at 10:00:20: the 10:00 bar as of 10:00:12.
    const asOf = T0 + 12_345;
    const lines = liveLines().map((l) => (l.topic === 'bar' ? { ...l, payload: { ...(l.payload as object), asOf } } : l));
    const m = new RecordedMarket(recordingOf(lines), { speed: 'max' });
    assert.strictEqual(m.preloadAt, T0 + 20_000, 'the replay stands where the answer was received');
    assert.strictEqual(m.preloadAskedAt, asOf, 'and knows when it was asked');
    m.step(7_000); // 10:00:12: not asked yet
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + M, M).map((b) => b.t), [T0]);
    m.step(1_000); // 10:00:13: after the live request (10:00:12.345), whose answer holds the bars as of then
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + M, M), [
      { t: T0 - 2 * M, o: 98, h: 99, l: 97, c: 99, v: 10 },
      { t: T0 - M, o: 99, h: 100, l: 98, c: 100, v: 12 },
      { t: T0, o: 100, h: 101, l: 100, c: 101, v: 5 },
    ]);
    // The replayed request ends where the live one did: IBKR's startTime has whole seconds (10:00:12).
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + 12_000, M)[2], { t: T0, o: 100, h: 101, l: 100, c: 101, v: 5 });
    // A request ending a second earlier cannot have that record (it holds up to 10:00:12): the tick's bar only.
    assert.deepStrictEqual(m.esBars(T0 - 3 * M, T0 + 11_000, M)[2], { t: T0, o: 100, h: 100, l: 100, c: 100, v: 2 });
  });

  it('refuses an asOf after its record, and reads a recording without asOf as before (the request time unknown)', () => {
    const bad = liveLines().map((l) => (l.topic === 'bar' ? { ...l, payload: { ...(l.payload as object), asOf: l.t + 1 } } : l));
    assert.throws(() => recordingOf(bad), /payload\.asOf must be epoch ms at or before the record's t/);
    const m = new RecordedMarket(recordingOf(liveLines()), { speed: 'max' });
    assert.strictEqual(m.preloadAt, T0 + 20_000);
    assert.strictEqual(m.preloadAskedAt, undefined);
  });
  it('at max, answers the preload after the ticks recorded before its answer, a tick the stream delivered late after it', () => {
    // Asked at 10:00:12, answered at 10:00:20; the tick printed at 10:00:15 reached the flow at 10:00:22 (after the answer).
    const asOf = T0 + 12_000;
    const lines: RecordLine[] = [
      { t: T0 + 5_000, topic: 'meta', payload: { version: 2 } },
      { t: T0 + 5_000, topic: 'tick', payload: tick(T0 + 5_000, 100, 2) },
      { t: T0 + 20_000, topic: 'bar', payload: { ...bar(T0 - M, 99, 100, 98, 100, 12), asOf } },
      { t: T0 + 22_000, topic: 'tick', payload: tick(T0 + 15_000, 101, 1) },
      { t: T0 + 30_000, topic: 'tick', payload: tick(T0 + 30_000, 102, 1) },
    ];
    const m = new RecordedMarket(recordingOf(lines), { speed: 'max' });
    assert.deepStrictEqual(m.preloadStop, { t: asOf, tradesBefore: 1 });
    const seen: number[] = [];
    m.on('trade', (x: { t: number }) => seen.push(x.t));
    m.stopAt(asOf, 1);
    m.stop(); // no pump timer: drive the batches by hand
    while (m.pumpBatch());
    assert.deepStrictEqual(seen, [T0 + 5_000], 'only the tick the flow had before the answer');
    assert.ok(m.stopped);
    assert.strictEqual(m.now(), asOf);
    assert.deepStrictEqual(m.esBars(T0 - 2 * M, asOf, M).map((b) => b.t), [T0 - M, T0], 'the answer as live: the preload bar and the tick');
    m.clearStop();
    m.stop();
    while (m.pumpBatch());
    assert.deepStrictEqual(seen, [T0 + 5_000, T0 + 15_000, T0 + 30_000], 'the late tick plays after it, at its own time');
    // Without asOf (the request time unknown) the replay stands at the answer's time, as before.
    const old = new RecordedMarket(recordingOf(lines.map((l) => (l.topic === 'bar' ? { ...l, payload: bar(T0 - M, 99, 100, 98, 100, 12) } : l))), { speed: 'max' });
    assert.deepStrictEqual(old.preloadStop, { t: T0 + 20_000, tradesBefore: Infinity });
  });
  it('quotes the last trade played, not one printed before the clock but not yet played (the first tick of a live recording)', () => {
    // The first record is a tick received 2 s after it printed: the clock starts at its record, after its print.
    const lines: RecordLine[] = [
      { t: T0 + 7_000, topic: 'meta', payload: { version: 2 } },
      { t: T0 + 7_000, topic: 'quote', payload: { t: T0 + 4_000, last: 99.75, bid: 99.5, ask: 99.75, bidSize: 3, askSize: 4, volume: 900 } },
      { t: T0 + 7_000, topic: 'tick', payload: tick(T0 + 5_000, 100, 2) },
      { t: T0 + 31_000, topic: 'tick', payload: tick(T0 + 30_000, 102, 3) },
    ];
    const m = new RecordedMarket(recordingOf(lines), { speed: 'max' });
    assert.strictEqual(m.now(), T0 + 7_000);
    // Before the first batch, the recorded quote (the live snapshot); the tick is not in it, so the stream's next
    // update carries it as a tick, as live.
    assert.deepStrictEqual([m.esQuote().last, m.esQuote().volume], [99.75, 0]);
    m.stop(); // no pump timer: drive the batches by hand
    m.pumpBatch();
    assert.deepStrictEqual([m.esQuote().last, m.esQuote().volume], [100, 2]);
  });
  it("shows, before a trade plays, the touch recorded before it (not the update that carried it), stamped as recorded at 'max'", () => {
    // Live under load: the snapshot (printed 10:00:04) and the update of the trade printed 10:00:05 reached the flow
    // at 10:00:07 and 10:00:07.4. The update's quote (bid 99.75 / ask 100) is the touch after the trade; the tick's
    // touch before it is the snapshot's (100.25 / 100.5): a sell, where the touch after makes it a buy at the ask.
    const q = (t: number, last: number, bid: number) => ({ t, last, bid, ask: bid + 0.25, bidSize: 3, askSize: 4, volume: 900 });
    const lines: RecordLine[] = [
      { t: T0 + 7_000, topic: 'meta', payload: { version: 2 } },
      { t: T0 + 7_000, topic: 'quote', payload: q(T0 + 4_000, 100.5, 100.25) },
      { t: T0 + 7_400, topic: 'quote', payload: q(T0 + 5_000, 100, 99.75) },
      { t: T0 + 7_450, topic: 'tick', payload: { symbol: 'ES', t: T0 + 5_000, price: 100, size: 2, bid: 100.25, ask: 100.5 } },
      { t: T0 + 30_300, topic: 'quote', payload: q(T0 + 30_000, 102, 102) },
      { t: T0 + 30_350, topic: 'tick', payload: { symbol: 'ES', t: T0 + 30_000, price: 102, size: 3, bid: 99.75, ask: 100 } },
    ];
    const touch = (m: RecordedMarket) => {
      const x = m.esQuote();
      return { t: x.t, last: x.last, bid: x.bid, ask: x.ask };
    };
    const m = new RecordedMarket(recordingOf(lines), { speed: 'max' });
    assert.strictEqual(m.now(), T0 + 7_000);
    assert.deepStrictEqual(touch(m), { t: T0 + 4_000, last: 100.5, bid: 100.25, ask: 100.5 }, 'the snapshot as live, its stamp included');
    m.stop(); // no pump timer: drive the batches by hand
    m.pumpBatch();
    assert.strictEqual(m.now(), T0 + 7_000, 'the clock does not go back');
    assert.deepStrictEqual(touch(m), { t: T0 + 5_000, last: 100, bid: 99.75, ask: 100 }, 'the update of the trade, stamped at its print');
    m.pumpBatch();
    assert.deepStrictEqual(touch(m), { t: T0 + 30_000, last: 102, bid: 102, ask: 102.25 });
    // At a paced speed the stream sends on its own timer, stamped with the clock, as before.
    let real = 0;
    const paced = new RecordedMarket(recordingOf(lines), { speed: 10, realNow: () => real });
    paced.start();
    real = 100;
    assert.strictEqual(paced.esQuote().t, T0 + 8_000);
    paced.stop();
  });
  it("at 'max', stamps a tick the flow got after the preload's answer, though printed before it, with its print", () => {
    // Asked at 10:00:18, answered at 10:00:20; the trade printed at 10:00:15 reached the flow at 10:00:22: it plays
    // after the answer, with the clock already at 10:00:18, and its update keeps its own stamp.
    const asOf = T0 + 18_000;
    const lines: RecordLine[] = [
      { t: T0 + 5_000, topic: 'meta', payload: { version: 2 } },
      { t: T0 + 5_000, topic: 'tick', payload: tick(T0 + 5_000, 100, 2) },
      { t: T0 + 20_000, topic: 'bar', payload: { ...bar(T0 - M, 99, 100, 98, 100, 12), asOf } },
      { t: T0 + 22_000, topic: 'tick', payload: tick(T0 + 15_000, 101, 1) },
      { t: T0 + 30_000, topic: 'tick', payload: tick(T0 + 30_000, 102, 1) },
    ];
    const m = new RecordedMarket(recordingOf(lines), { speed: 'max' });
    assert.deepStrictEqual(m.preloadStop, { t: asOf, tradesBefore: 1 });
    m.stopAt(asOf, 1);
    m.stop();
    while (m.pumpBatch());
    assert.strictEqual(m.now(), asOf);
    assert.deepStrictEqual([m.esQuote().t, m.esQuote().last], [T0 + 5_000, 100]);
    m.clearStop();
    m.stop();
    m.pumpBatch();
    assert.strictEqual(m.now(), asOf);
    assert.deepStrictEqual([m.esQuote().t, m.esQuote().last], [T0 + 15_000, 101], 'stamped at its print, not at the clock');
    m.pumpBatch();
    assert.deepStrictEqual([m.esQuote().t, m.esQuote().last], [T0 + 30_000, 102]);
  });
});
