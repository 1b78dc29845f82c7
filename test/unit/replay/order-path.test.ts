// The simulated Sierra side of a recording (lib/replay/order-path.ts): the records a live simulator run writes (each
// new order as it reached the DTC simulator, each fill it gave), how the format reads them, and how a replay at 'max'
// stands at a recorded order's arrival until the flow sends it, sends it at its recorded time and gives it its
// recorded fills at theirs. The replay's timers (the bounded wait) are driven by hand; the replay pumps on the event
// loop, as it does at 'max'.
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { OrderUpdate } from '../../../lib/contracts';
import { RecordedMarket } from '../../../lib/replay/recorded-market';
import { recordingOf, type RecordLine } from '../../../lib/replay/recording';
import { OrderLegs, OrderPathRecorder, OrderPathReplayer, type RecordedFill, type RecordedOrder, type ReplayerTimers } from '../../../lib/replay/order-path';
import type { SierraOrder } from '../../../lib/sierra/order-wire';
import { SierraConnection } from '../../../lib/sierra/connection';
import { encodeRecording } from '../../../lib/replay/recording';
import { seededRecordLines } from '../../../lib/replay/from-seeded';
import { acquireReplay } from '../../../lib/replay/registry';
import { acquireSimMarket } from '../../../lib/sim/shared-market';
import { resetAccountsForTest } from '../../../lib/trading/accounts';

// Wednesday 11 June 2025, 10:00 New York.
const T0 = Date.UTC(2025, 5, 11, 14, 0);
const tick = (t: number, price: number) => ({ symbol: 'ES', t, price, size: 1, bid: price - 0.25, ask: price });
const BRACKET: SierraOrder = { symbol: 'ESU5', side: 'buy', quantity: 1, type: 'market', bracket: { stop: 99, targets: [102] } };
const ORDER: RecordedOrder = { t: T0 + 12_500, n: 1, side: 'buy', type: 'market', quantity: 1, bracket: { stop: 99, targets: [102] } };
const FILLS: RecordedFill[] = [
  { t: T0 + 12_500, n: 1, leg: 0, price: 100.25, quantity: 1 },
  { t: T0 + 31_700, n: 1, leg: 1, price: 102, quantity: 1 },
];

function update(clientOrderId: string, status: OrderUpdate['status'] = 'pending'): OrderUpdate {
  return { clientOrderId, serverOrderId: null, status, side: 'buy', quantity: 1, filledQuantity: 0, averageFillPrice: null, t: 0 };
}

/** A live recording of ticks every 5 s from T0 to T0 + 60 s, with the simulated Sierra side. */
function lines(extra: RecordLine[] = []): RecordLine[] {
  const out: RecordLine[] = [{ t: T0, topic: 'meta', payload: { version: 2 } }];
  for (let s = 0; s <= 60; s += 5) out.push({ t: T0 + s * 1000, topic: 'tick', payload: tick(T0 + s * 1000, 100 + s / 20) });
  out.push(...extra);
  return out.sort((a, b) => a.t - b.t);
}

const withSierra = (): RecordLine[] =>
  lines([
    { t: ORDER.t, topic: 'sierra-order', payload: ORDER },
    ...FILLS.map((f) => ({ t: f.t, topic: 'sierra-fill', payload: f })),
  ]);

describe('recording: the simulated Sierra side (sierra-order, sierra-fill, sierra-cancel)', () => {
  it('reads the orders and fills; the market data replays the same with or without them', () => {
    const rec = recordingOf(withSierra());
    assert.deepStrictEqual(rec.sierraOrders, [ORDER]);
    assert.deepStrictEqual(rec.sierraFills, FILLS);
    assert.strictEqual(rec.other, 0);
    const a = new RecordedMarket(rec, { speed: 'max' });
    const b = new RecordedMarket(recordingOf(lines()), { speed: 'max' });
    a.step(40_000);
    b.step(40_000);
    assert.deepStrictEqual(a.esQuote(), b.esQuote());
    assert.deepStrictEqual(a.esBars(T0, T0 + 60_000, 60_000), b.esBars(T0, T0 + 60_000, 60_000));
    assert.deepStrictEqual(recordingOf(lines()).sierraOrders, []);
  });

  it('refuses a malformed order or fill, naming the record', () => {
    const bad = (payload: object, topic = 'sierra-order'): RecordLine[] => lines([{ t: T0 + 1, topic, payload }]);
    assert.throws(() => recordingOf(bad({ ...ORDER, side: 'long' })), /record \d+: payload.side must be "buy" or "sell"/);
    assert.throws(() => recordingOf(bad({ ...ORDER, type: 'moc' })), /payload.type/);
    assert.throws(() => recordingOf(bad({ ...ORDER, quantity: '1' })), /payload.quantity must be a finite number/);
    assert.throws(() => recordingOf(bad({ ...ORDER, bracket: { stop: 99 } })), /payload.bracket/);
    assert.throws(() => recordingOf(bad({ ...ORDER, last: 'x' })), /payload.last must be a number/);
    assert.throws(() => recordingOf(bad({ ...ORDER, dataAt: 'x' })), /payload.dataAt must be epoch ms at or before the order's t/);
    assert.throws(() => recordingOf(bad({ ...ORDER, dataAt: ORDER.t + 1 })), /payload.dataAt must be epoch ms at or before the order's t/);
    assert.throws(() => recordingOf(bad(FILLS[0], 'sierra-fill')), /names no sierra-order recorded before it/);
    assert.throws(() => recordingOf(bad({ t: T0 + 1, n: 1, leg: 0 }, 'sierra-cancel')), /names no sierra-order recorded before it/);
    assert.throws(
      () => recordingOf(lines([{ t: T0 + 1, topic: 'sierra-order', payload: ORDER }, { t: T0 + 2, topic: 'sierra-cancel', payload: { t: T0 + 2, n: 1 } }])),
      /payload.leg must be a finite number/,
    );
    assert.throws(
      () => recordingOf(lines([{ t: T0 + 1, topic: 'sierra-order', payload: ORDER }, { t: T0 + 2, topic: 'sierra-order', payload: { ...ORDER, t: T0 + 2 } }])),
      /payload.n must grow/,
    );
  });
});

describe('order path: which order and leg each ClientOrderID is', () => {
  it("assigns a bracket's three pending ids to its order (parent, target, stop), then the next order's", () => {
    const legs = new OrderLegs();
    const withdrawn = legs.submitted({ side: 'sell', type: 'market', quantity: 1 });
    withdrawn.withdraw(); // refused before it was sent: no id of it ever comes
    const a = legs.submitted({ side: 'buy', type: 'market', quantity: 1, bracket: { stop: 99, targets: [102] } });
    const b = legs.submitted({ side: 'sell', type: 'limit', quantity: 2, price: 101 });
    for (const id of ['p', 't', 's', 'x']) legs.onUpdate(update(id));
    legs.onUpdate(update('p', 'working'));
    assert.deepStrictEqual(['p', 't', 's', 'x'].map((id) => legs.legOf(id)), [
      { n: a.n, leg: 0, tag: undefined },
      { n: a.n, leg: 1, tag: undefined },
      { n: a.n, leg: 2, tag: undefined },
      { n: b.n, leg: 0, tag: undefined },
    ]);
  });
});

describe('order path: recorded live', () => {
  it('writes each order once at its arrival at the simulator, and each fill with its order and leg', () => {
    const written: { topic: string; payload: object; t: number }[] = [];
    const recorder = new OrderPathRecorder((topic, payload, t) => written.push({ topic, payload, t }));
    recorder.submitted(BRACKET, 100); // the risk engine's last trade then
    for (const id of ['p', 't', 's']) recorder.onUpdate(update(id));
    recorder.onArrival(T0 + 12_500, ['p']); // the parent
    recorder.onArrival(T0 + 12_500, ['t', 's']); // its OCO: the same order, not written again
    recorder.onFill({ clientOrderId: 'p', price: 100.25, quantity: 1 }, T0 + 12_500);
    recorder.onFill({ clientOrderId: 't', price: 102, quantity: 1 }, T0 + 31_700); // the clock when it was given
    recorder.onFill({ clientOrderId: 'by-hand', price: 101, quantity: 1 }, T0 + 40_000); // not ours
    recorder.onCancel('s', T0 + 31_700); // the stop, cancelled by the connection (e.g. by hand)
    recorder.onCancel('by-hand', T0 + 41_000); // not ours
    assert.deepStrictEqual(written, [
      { topic: 'sierra-order', payload: { ...ORDER, last: 100 }, t: ORDER.t },
      ...FILLS.map((f) => ({ topic: 'sierra-fill', payload: f, t: f.t })),
      { topic: 'sierra-cancel', payload: { t: T0 + 31_700, n: 1, leg: 2 }, t: T0 + 31_700 },
    ]);
    // What it writes, the format reads back.
    const rec = recordingOf(lines(written.map((w) => ({ t: w.t, topic: w.topic, payload: w.payload }))));
    assert.deepStrictEqual(rec.sierraOrders, [{ ...ORDER, last: 100 }]);
    assert.deepStrictEqual(rec.sierraFills, FILLS);
    assert.deepStrictEqual(rec.sierraCancels, [{ t: T0 + 31_700, n: 1, leg: 2 }]);
  });
});

describe("order path: replayed at 'max'", () => {
  function manualTimers(): ReplayerTimers & { fire(): void; pending: number } {
    let due: (() => void)[] = [];
    return {
      setTimeout: (cb) => {
        due.push(cb);
        return cb;
      },
      clearTimeout: (h) => void (due = due.filter((cb) => cb !== h)),
      fire: () => {
        const run = due;
        due = [];
        for (const cb of run) cb();
      },
      get pending() {
        return due.length;
      },
    };
  }

  function setup(): {
    market: RecordedMarket;
    replayer: OrderPathReplayer;
    timers: ReturnType<typeof manualTimers>;
    scripted: { id: string; fills: readonly { t: number; price: number; quantity: number }[] }[];
    due: number[];
    warnings: string[];
    played: number[];
  } {
    const rec = recordingOf(withSierra());
    const market = new RecordedMarket(rec, { speed: 'max' });
    const timers = manualTimers();
    const scripted: { id: string; fills: readonly { t: number; price: number; quantity: number }[] }[] = [];
    const due: number[] = [];
    const warnings: string[] = [];
    const played: number[] = [];
    market.on('trade', (x: { t: number }) => played.push(x.t));
    const replayer = new OrderPathReplayer(
      rec.sierraOrders,
      rec.sierraFills,
      { atMax: true, now: () => market.now(), hold: () => market.hold(), at: (t, cb) => market.at(t, cb) },
      () => ({ script: (id, fills) => void scripted.push({ id, fills }), fillDue: () => void due.push(market.now()) }),
      { timers, warn: (w) => warnings.push(w) },
    );
    return { market, replayer, timers, scripted, due, warnings, played };
  }

  const turns = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
  };

  it("stands at the recorded order's arrival until the flow sends it, then gives its legs their fills at their times", async () => {
    const { market, replayer, timers, scripted, due, played } = setup();
    market.start();
    await turns(40);
    assert.strictEqual(market.now(), ORDER.t, 'the clock stands at the recorded arrival');
    assert.deepStrictEqual(played, [0, 5, 10].map((s) => T0 + s * 1000), 'nothing after it plays');
    assert.strictEqual(timers.pending, 1, 'the wait is bounded');
    // The flow's order: the same shape; it leaves at once, the replay standing at its time while it does.
    const recorded = replayer.match(BRACKET);
    assert.deepStrictEqual(recorded, ORDER);
    const release = await replayer.whenAt(ORDER.t);
    replayer.submitted(BRACKET, recorded);
    assert.strictEqual(timers.pending, 0, 'no longer waiting');
    for (const id of ['p', 't', 's']) replayer.onUpdate(update(id));
    assert.deepStrictEqual(
      scripted.map((s) => [s.id, s.fills.map((f) => f.price)]),
      [
        ['p', [100.25]],
        ['t', [102]],
        ['s', []],
      ],
    );
    release();
    await new Promise<void>((resolve) => market.once('end', () => resolve()));
    assert.deepStrictEqual(due, [FILLS[1].t], "the replay stood at the target's recorded fill to give it");
    assert.strictEqual(played.length, 13, 'every tick played');
    assert.strictEqual(replayer.matched, 1);
  });

  it('holds an order the flow sends early until the replay has played up to its recorded time', async () => {
    const { market, replayer, played } = setup();
    market.start();
    await turns(1);
    assert.ok(market.now() < ORDER.t);
    const recorded = replayer.match(BRACKET);
    assert.ok(recorded);
    const release = await replayer.whenAt(ORDER.t);
    assert.strictEqual(market.now(), ORDER.t, 'it leaves at its recorded time');
    assert.deepStrictEqual(played, [0, 5, 10].map((s) => T0 + s * 1000), 'after the ticks before it, before those after it');
    release();
    await new Promise<void>((resolve) => market.once('end', () => resolve()));
    assert.strictEqual(played.length, 13);
  });

  it('a closed replay refuses an order still waiting for its time: nothing is sent', async () => {
    const { replayer } = setup();
    const recorded = replayer.match(BRACKET);
    assert.ok(recorded);
    const waiting = replayer.whenAt(ORDER.t); // the replay never runs
    replayer.dispose();
    await assert.rejects(waiting, /replay was closed before the order could leave/);
  });

  it('a recorded cancel: the replay stands at its time until the flow cancels the same leg, which leaves then', async () => {
    const rec = recordingOf(withSierra());
    const market = new RecordedMarket(rec, { speed: 'max' });
    const timers = manualTimers();
    const played: number[] = [];
    market.on('trade', (x: { t: number }) => played.push(x.t));
    const cancelAt = T0 + 41_000;
    const replayer = new OrderPathReplayer(
      rec.sierraOrders,
      rec.sierraFills.filter((f) => f.leg === 0),
      { atMax: true, now: () => market.now(), hold: () => market.hold(), at: (t, cb) => market.at(t, cb) },
      () => ({ script: () => undefined, fillDue: () => undefined }),
      { timers, cancels: [{ t: cancelAt, n: 1, leg: 1 }] },
    );
    market.start();
    await turns(40);
    const recorded = replayer.match(BRACKET);
    (await replayer.whenAt(ORDER.t))();
    replayer.submitted(BRACKET, recorded);
    for (const id of ['p', 't', 's']) replayer.onUpdate(update(id));
    await turns(40);
    assert.strictEqual(market.now(), cancelAt, 'standing at the recorded cancel');
    assert.deepStrictEqual(played, [0, 5, 10, 15, 20, 25, 30, 35, 40].map((s) => T0 + s * 1000));
    assert.strictEqual(replayer.matchCancel('s'), undefined, 'the stop is not the leg cancelled');
    const cancel = replayer.matchCancel('t');
    assert.deepStrictEqual(cancel, { t: cancelAt, n: 1, leg: 1 });
    const release = await replayer.whenAt(cancelAt);
    assert.strictEqual(market.now(), cancelAt, 'it leaves at its recorded time');
    release();
    await new Promise<void>((resolve) => market.once('end', () => resolve()));
    assert.strictEqual(replayer.matched, 2);
  });

  it('an order of another shape is not matched; after the bounded wait the replay goes on, said once', async () => {
    const { market, replayer, timers, scripted, warnings, played } = setup();
    market.start();
    await turns(40);
    assert.strictEqual(replayer.match({ ...BRACKET, quantity: 2 }), undefined);
    replayer.submitted({ ...BRACKET, quantity: 2 });
    for (const id of ['p', 't', 's']) replayer.onUpdate(update(id));
    assert.deepStrictEqual(scripted, [], 'fills on the replayed trades, as before');
    assert.strictEqual(market.now(), ORDER.t, 'still standing');
    timers.fire();
    await new Promise<void>((resolve) => market.once('end', () => resolve()));
    assert.strictEqual(played.length, 13);
    assert.strictEqual(warnings.length, 1);
    assert.match(warnings[0], /did not send recorded order 1 \(buy 1 market\)/);
    assert.strictEqual(replayer.match(BRACKET), undefined, 'given up: nothing matched later');
    assert.strictEqual(replayer.matched, 1);
  });
});

describe("replay: sierra-config's simulated account is ready before the replay runs", () => {
  it("stands the replayed clock until the connection has logged on and reconciled (at 'max' it would be over before)", async function () {
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-ready-'));
    const file = path.join(dir, 'ES-2025-06-11.jsonl.gz');
    fs.writeFileSync(file, encodeRecording(seededRecordLines(5, T0, T0 + 30 * 60_000)));
    const ibkrSide = acquireReplay(file, { speed: 'max' });
    ibkrSide.market.pause();
    const sierra = new SierraConnection({
      client: { tradeAccount: 'Sim1' },
      symbol: { root: 'ES', format: 'sierra-cme' },
      risk: { limits: {}, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 },
      simulator: { seed: 1, speed: 1, replayFile: file },
    });
    let emittedWhenReady = -1;
    sierra.on('status', (s: { state: string }) => {
      if (s.state === 'ready' && emittedWhenReady < 0) emittedWhenReady = ibkrSide.market.status().emitted;
    });
    try {
      const opening = sierra.open();
      ibkrSide.market.resume(); // the flow subscribed: the replay may run
      await opening;
      await sierra.whenReady(10_000);
      assert.strictEqual(emittedWhenReady, 0, 'nothing played before the account was ready');
      await new Promise<void>((resolve) => (ibkrSide.market.status().ended ? resolve() : ibkrSide.market.once('end', () => resolve())));
      assert.ok(ibkrSide.market.status().emitted > 1000, 'then the whole replay plays');
    } finally {
      await sierra.close();
      ibkrSide.release();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("replay: sierra-config's simulator gives a recorded order its recorded time, collar reference and fills", () => {
  it('stamps the bracket at its recorded arrival, fills it at the recorded prices and times, collar as live', async function () {
    this.timeout(20_000);
    const SYMBOL = 'ESU25_FUT_CME';
    const arrival = T0 + 30_500;
    // Live, the order met a last trade of 5891 (the market's own trades); the recording's ticks say 5900: 44 ticks from
    // the order's 5889, beyond a 40-tick collar.
    const order = { t: arrival, n: 1, side: 'sell', type: 'limit', quantity: 1, price: 5889, bracket: { stop: 5892, targets: [5885] }, last: 5891 };
    const fills = [
      { t: arrival, n: 1, leg: 0, price: 5890.5, quantity: 1 },
      { t: T0 + 70_200, n: 1, leg: 1, price: 5885, quantity: 1 },
    ];
    const records: RecordLine[] = [{ t: T0, topic: 'meta', payload: { version: 2 } }];
    for (let s = 0; s <= 120; s++) records.push({ t: T0 + s * 1000, topic: 'tick', payload: { symbol: 'ES', t: T0 + s * 1000, price: 5900, size: 1, bid: 5899.75, ask: 5900 } });
    records.push({ t: arrival, topic: 'sierra-order', payload: order }, ...fills.map((f) => ({ t: f.t, topic: 'sierra-fill', payload: f })));
    records.sort((a, b) => a.t - b.t);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-orders-'));
    const file = path.join(dir, 'ES-2025-06-11.jsonl.gz');
    fs.writeFileSync(file, encodeRecording(records));
    const ibkrSide = acquireReplay(file, { speed: 'max' });
    ibkrSide.market.pause();
    const sierra = new SierraConnection({
      client: { tradeAccount: 'Sim1', tradingEnabled: true },
      symbol: SYMBOL,
      risk: { limits: { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 }, collarTicks: 40, tickSize: 0.25, maxOrdersPerMinute: 0 },
      simulator: { seed: 1, speed: 1, replayFile: file },
      holder: 'replay-orders',
    });
    const updates: OrderUpdate[] = [];
    sierra.on('order-update', (u: OrderUpdate) => updates.push(u));
    try {
      await sierra.open();
      await sierra.whenReady(10_000);
      ibkrSide.market.resume();
      // The flow's signal comes a little before the recorded arrival (the replay plays faster than live went).
      while (ibkrSide.market.now() < T0 + 20_000) await new Promise((r) => setImmediate(r));
      const result = await sierra.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'limit', price: 5889, bracket: { stop: 5892, targets: [5885] } });
      assert.ok(result.order.clientOrderId);
      await new Promise<void>((resolve) => (ibkrSide.market.status().ended ? resolve() : ibkrSide.market.once('end', () => resolve())));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      const at = (t: number) => updates.filter((u) => u.t === t).map((u) => [u.side, u.status, u.averageFillPrice]);
      assert.ok(updates.length > 0);
      assert.deepStrictEqual(new Set(updates.map((u) => u.t)), new Set([arrival, T0 + 70_200]), JSON.stringify(updates.map((u) => [u.t, u.status])));
      assert.deepStrictEqual(at(arrival).filter(([, s]) => s === 'filled'), [['sell', 'filled', 5890.5]], 'the entry filled at its recorded price, at its arrival');
      assert.deepStrictEqual(at(T0 + 70_200), [
        ['buy', 'filled', 5885],
        ['buy', 'cancelled', null],
      ]);
    } finally {
      await sierra.close();
      ibkrSide.release();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a recorded order the stale-data reference it met live (the recording holds a tick per stream update)', async function () {
    this.timeout(30_000);
    const SYMBOL = 'ESU25_FUT_CME';
    // Ticks a minute apart (a stream update every 75 market s at 300×); live the order reached the simulator 15 s after
    // the last one, the data fresh from the simulated market's own trades (dataAt).
    const arrival = T0 + 75_000;
    const run = async (dataAt: number | undefined): Promise<{ updates: OrderUpdate[]; error: string | null }> => {
      resetAccountsForTest(); // each run its own account's risk day (its market data clock included)
      const order = { t: arrival, n: 1, side: 'sell', type: 'limit', quantity: 1, price: 5900, bracket: { stop: 5903, targets: [5896] }, last: 5900, ...(dataAt === undefined ? {} : { dataAt }) };
      const records: RecordLine[] = [{ t: T0, topic: 'meta', payload: { version: 2 } }];
      for (let m = 0; m <= 3; m++) records.push({ t: T0 + m * 60_000, topic: 'tick', payload: { symbol: 'ES', t: T0 + m * 60_000, price: 5900, size: 1, bid: 5899.75, ask: 5900 } });
      records.push({ t: arrival, topic: 'sierra-order', payload: order }, { t: arrival, topic: 'sierra-fill', payload: { t: arrival, n: 1, leg: 0, price: 5900, quantity: 1 } });
      records.sort((a, b) => a.t - b.t);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-stale-'));
      const file = path.join(dir, 'ES-2025-06-11.jsonl.gz');
      fs.writeFileSync(file, encodeRecording(records));
      const ibkrSide = acquireReplay(file, { speed: 'max' });
      ibkrSide.market.pause();
      const sierra = new SierraConnection({
        client: { tradeAccount: 'Sim1', tradingEnabled: true },
        symbol: SYMBOL,
        risk: { limits: { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 }, collarTicks: 40, tickSize: 0.25, maxOrdersPerMinute: 0 },
        simulator: { seed: 1, speed: 1, replayFile: file },
        holder: 'replay-stale',
      });
      const updates: OrderUpdate[] = [];
      sierra.on('order-update', (u: OrderUpdate) => updates.push(u));
      let error: string | null = null;
      try {
        await sierra.open();
        await sierra.whenReady(10_000);
        ibkrSide.market.resume();
        while (ibkrSide.market.now() < T0 + 60_000) await new Promise((r) => setImmediate(r));
        await sierra.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'limit', price: 5900, bracket: { stop: 5903, targets: [5896] } }, { staleAfterSec: 10 }).catch((err: unknown) => {
          error = err instanceof Error ? err.message : String(err);
        });
        await new Promise<void>((resolve) => (ibkrSide.market.status().ended ? resolve() : ibkrSide.market.once('end', () => resolve())));
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      } finally {
        await sierra.close();
        ibkrSide.release();
        fs.rmSync(dir, { recursive: true, force: true });
      }
      return { updates, error };
    };
    const asLive = await run(arrival - 20);
    assert.strictEqual(asLive.error, null);
    assert.deepStrictEqual(asLive.updates.filter((u) => u.status === 'filled').map((u) => [u.t, u.side, u.averageFillPrice]), [[arrival, 'sell', 5900]], 'sent at its arrival and filled as recorded');
    const without = await run(undefined);
    const refused = `${without.error ?? ''} ${JSON.stringify(without.updates.map((u) => u.reason ?? null))}`;
    assert.ok(!without.updates.some((u) => u.status === 'filled'), 'without it: not filled');
    assert.match(refused, /stale/, 'refused by the stale-data rule (the last replayed tick 15 s before)');
  });
});

describe('order path: a live simulator run writes its Sierra side to the shared market tap', () => {
  it('an order as it reached the simulator, its fill, and a cancel, each at the market time it happened', async function () {
    this.timeout(20_000);
    const SYMBOL = 'ESZ25_FUT_CME';
    const lease = acquireSimMarket({ seed: 51, speed: 60 });
    const written: { topic: string; payload: Record<string, unknown>; t: number }[] = [];
    lease.tap.on('record', (topic: string, payload: Record<string, unknown>, t: number) => written.push({ topic, payload, t }));
    const sierra = new SierraConnection({
      client: { tradeAccount: 'Sim1', tradingEnabled: true },
      symbol: SYMBOL,
      risk: { limits: { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 }, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 },
      simulator: { seed: 51, speed: 60 },
      holder: 'order-path-live',
    });
    try {
      await sierra.whenReady(10_000);
      const last = sierra.lastTrade() ?? 0;
      // The newest market data the connection held just before the order: what the order records can only be as new
      // or newer (the market's own trades go on until the order reaches the simulator).
      // (The clock is read before the age: the age is then taken at the same or a later instant, so this is no later
      // than the data's own time.)
      const nowBefore = sierra.now();
      const age = sierra.marketDataAgeMs();
      assert.ok(age !== null, 'market data before the order');
      const dataBefore = nowBefore - age;
      await sierra.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      const resting = await sierra.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: last - 50 });
      await sierra.cancel(resting.order.clientOrderId);
      assert.deepStrictEqual(
        written.map((w) => [w.topic, w.payload.n, w.payload.leg ?? null, w.payload.type ?? null]),
        [
          ['sierra-order', 1, null, 'market'],
          ['sierra-fill', 1, 0, null],
          ['sierra-order', 2, null, 'limit'],
          ['sierra-cancel', 2, 0, null],
        ],
      );
      for (const w of written) assert.strictEqual(w.payload.t, w.t, 'the record is dated at the market time it tells');
      assert.strictEqual(written[0].t, written[1].t, 'the market order filled at the time it arrived');
      assert.strictEqual(written[2].payload.price, last - 50);
      assert.strictEqual(typeof written[0].payload.last, 'number', "the risk engine's last trade then");
      // Its newest market data then (how much market time passed since depends on the machine, not asserted).
      const dataAt = written[0].payload.dataAt as number;
      assert.ok(typeof dataAt === 'number' && dataAt >= dataBefore && dataAt <= written[0].t, `its newest market data then: ${dataAt}, ${dataBefore} just before the order, the order at ${written[0].t}`);
    } finally {
      await sierra.close();
      lease.release();
    }
  });
});
