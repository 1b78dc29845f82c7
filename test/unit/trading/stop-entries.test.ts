import { strict as assert } from 'assert';
import { cancelEntries, guardInFlight, kill, type ExecutionAdapter, type WorkingOrderRef } from '../../../lib/trading/kill-switch';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { MemoryJournal } from '../../../lib/trading/journal';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import type { RiskLimits } from '../../../lib/trading/risk-rules';

// A stop that forbids new entries cancels every working order that can ADD exposure (entries, the unfilled rest of a
// partly filled entry, bracket parents not yet filled), never the bracket exits protecting a position nor reducing
// orders. The adapter below is a broker: its working orders are what the engine sent and the broker acknowledged.

const T0 = Date.UTC(2026, 2, 10, 15, 0); // Tuesday 11:00 New York
const OPEN: Partial<RiskLimits> = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 3, maxOrderSize: 3, maxTradesPerDay: 10, maxConsecutiveLosses: 4, dailyLossLimit: 500 };

let seq = 0;
const id = (): string => `s-${++seq}`;

function fresh(limits: Partial<RiskLimits> = OPEN): RiskEngine {
  const engine = new RiskEngine({ broker: 'sierra', account: 'T', instrumentOf, journal: new MemoryJournal() });
  engine.contributeLimits('node', limits);
  engine.reconcile({ now: T0, positions: [], working: [] });
  return engine;
}

/** A broker that lists the engine's acknowledged orders (remaining quantity) and records each cancel. */
function broker(engine: RiskEngine, cancel?: (o: WorkingOrderRef) => Promise<void>): ExecutionAdapter & { cancels: string[] } {
  const cancels: string[] = [];
  return {
    cancels,
    workingOrders: async () =>
      engine
        .openOrders()
        .filter((o) => o.phase === 'working')
        .map((o) => ({ clientOrderId: o.clientOrderId, instrument: o.instrument, side: o.side, quantity: o.quantity - o.filled, ...(o.parent ? { parent: o.parent } : {}) })),
    positions: async () => [],
    cancel: async (o) => {
      cancels.push(o.clientOrderId);
      if (cancel) await cancel(o);
      else engine.onOrderUpdate(o.clientOrderId, { status: 'cancelled' });
    },
    flatten: async () => undefined,
  };
}

/** Sends an order through the engine and has the broker acknowledge it. */
function place(e: RiskEngine, side: 'buy' | 'sell', quantity: number, opts: { exits?: number; now?: number; instrument?: string } = {}): { id: string; exits: string[] } {
  const parent = id();
  const exits = Array.from({ length: opts.exits ?? 0 }, () => id());
  const v = e.reserve({ clientOrderId: parent, instrument: opts.instrument ?? 'ESZ6', side, quantity, type: 'limit', exits, now: opts.now ?? T0 });
  assert.ok(v.allowed, JSON.stringify(v));
  assert.ok(e.authorizeSend(parent).allowed);
  e.acknowledged(parent, `b-${parent}`);
  for (const x of exits) e.acknowledged(x, `b-${x}`);
  return { id: parent, exits };
}

/** A round trip of one contract, filled at once: entry then exit, `pnlPoints` per contract (ES: $50 a point). */
function trade(e: RiskEngine, pnlPoints: number, now: number): void {
  const o = place(e, 'buy', 1, { now });
  e.onFill({ clientOrderId: o.id, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 6000, now });
  const x = place(e, 'sell', 1, { now });
  e.onFill({ clientOrderId: x.id, instrument: 'ESZ6', side: 'sell', quantity: 1, price: 6000 + pnlPoints, now });
}

/** Collects the stops the engine raises, each cancelled through the adapter as the connections do. */
function hook(e: RiskEngine, a: ExecutionAdapter): Promise<Awaited<ReturnType<typeof cancelEntries>>>[] {
  const runs: Promise<Awaited<ReturnType<typeof cancelEntries>>>[] = [];
  e.on('entry-stop', () => runs.push(cancelEntries(e, a)));
  return runs;
}

async function settled<T>(runs: Promise<T>[]): Promise<T[]> {
  return Promise.all(runs);
}

describe('Risk stops cancel the working entries that can add exposure (both brokers, one engine)', () => {
  it('losing streak reaches its halt: the resting buy limit is cancelled, the bracket exits of the open position are not', async () => {
    const e = fresh({ ...OPEN, maxConsecutiveLosses: 2 });
    const a = broker(e);
    const runs = hook(e, a);
    const resting = place(e, 'buy', 1); // far below the market: rests
    const held = place(e, 'sell', 1, { exits: 2, instrument: 'MESZ6' }); // short 1 MES with its target and stop
    e.onFill({ clientOrderId: held.id, instrument: 'MESZ6', side: 'sell', quantity: 1, price: 6000, now: T0 });
    trade(e, -2, T0 + 60_000);
    await settled(runs);
    assert.equal(a.cancels.length, 0, 'one loss: nothing cancelled');
    trade(e, -2, T0 + 120_000);
    const reports = await settled(runs);
    assert.deepEqual(a.cancels, [resting.id]);
    const r = reports.filter((x) => x.rule);
    assert.equal(r.length, 1);
    assert.equal(r[0].rule, 'consecutive-losses');
    assert.match(r[0].summary, new RegExp(`consecutive-losses.*${resting.id}`));
    assert.ok(e.orderOf(held.exits[0]) && e.orderOf(held.exits[1]), 'the bracket exits still protect the position');
  });

  it('daily loss limit reached (through the broker P&L): every adding entry cancelled, reducing order kept', async () => {
    const e = fresh();
    e.syncPosition({ instrument: 'ESZ6', quantity: 2 }, T0);
    const a = broker(e);
    const runs = hook(e, a);
    const buy = place(e, 'buy', 1);
    const reduce = place(e, 'sell', 1); // reduces the long 2
    const reverse = place(e, 'sell', 2); // takes long 1 (after the reducing sell) through flat: adds short exposure
    e.syncAccount({ now: T0 + 1000, realizedPnl: -300, unrealizedPnl: -250 });
    await settled(runs);
    assert.deepEqual([...a.cancels].sort(), [buy.id, reverse.id].sort());
    assert.ok(e.orderOf(reduce.id));
  });

  it('max trades reached: the entries that would open another trade are cancelled once the account is flat', async () => {
    const e = fresh({ ...OPEN, maxTradesPerDay: 2 });
    const a = broker(e);
    const runs = hook(e, a);
    trade(e, 1, T0);
    const o = place(e, 'buy', 1, { now: T0 + 2000 });
    e.onFill({ clientOrderId: o.id, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 6000, now: T0 + 2000 });
    // Second trade open (long 1, the maximum): a buy would scale in and a resting sell 1 would close it — no new trade.
    // (In this order: with the sell already working the buy is refused, as the sell may leave it opening a third.)
    const scale = place(e, 'buy', 1, { now: T0 + 3000 });
    const close = place(e, 'sell', 1, { now: T0 + 3000 });
    e.syncAccount({ now: T0 + 3500, unrealizedPnl: -10 });
    await settled(runs);
    assert.deepEqual(a.cancels, []);
    // Flat at the maximum (closed in the broker's platform): both resting entries would open a third trade.
    e.syncPosition({ instrument: 'ESZ6', quantity: 0 }, T0 + 4000);
    await settled(runs);
    assert.deepEqual([...a.cancels].sort(), [close.id, scale.id].sort());
  });

  it('REDUCING set by anything: the unfilled rest of a partly filled entry and an unfilled bracket parent are cancelled', async () => {
    const e = fresh();
    const a = broker(e);
    const runs = hook(e, a);
    const partial = place(e, 'buy', 2);
    e.onFill({ clientOrderId: partial.id, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 6000, now: T0 });
    const bracket = place(e, 'buy', 1, { exits: 2 });
    e.setKillSwitch('REDUCING');
    const [report] = await settled(runs);
    assert.deepEqual([...a.cancels].sort(), [partial.id, bracket.id].sort());
    assert.equal(report.rule, 'kill-switch');
    assert.match(report.reason, /REDUCING/);
  });

  it('HALTED set by the dialog or another instance (not kill()): entries cancelled, exits of the held position kept', async () => {
    const e = fresh();
    const a = broker(e);
    const runs = hook(e, a);
    const held = place(e, 'buy', 1, { exits: 2 });
    e.onFill({ clientOrderId: held.id, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 6000, now: T0 });
    const entry = place(e, 'sell', 1, { exits: 2 }); // would take long 1 to flat then its bracket re-open: entry
    const resting = place(e, 'buy', 1);
    e.setKillSwitch('HALTED');
    await settled(runs);
    assert.ok(a.cancels.includes(resting.id));
    assert.ok(!a.cancels.includes(held.exits[0]) && !a.cancels.includes(held.exits[1]));
    void entry;
  });

  it('kill() cancels everything itself: no second cancel of the same entries by the stop', async () => {
    const e = fresh();
    const a = broker(e);
    const runs = hook(e, a);
    const resting = place(e, 'buy', 1);
    await kill(e, a);
    await settled(runs);
    assert.deepEqual(a.cancels, [resting.id]);
  });

  it('a cancel that races a fill: the fill counts (broker wins) and the report says the entry filled before its cancel', async () => {
    const e = fresh({ ...OPEN, maxConsecutiveLosses: 1 });
    const resting = place(e, 'buy', 1);
    const a = broker(e, async (o) => {
      // The broker filled it just before the cancel arrived, and refuses the cancel.
      e.onFill({ clientOrderId: o.clientOrderId, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 5990, now: T0 + 5000 });
      throw new Error('order already filled');
    });
    const runs = hook(e, a);
    trade(e, -1, T0 + 1000);
    const reports = await settled(runs);
    const r = reports.find((x) => x.rule);
    assert.ok(r);
    assert.deepEqual(r.filledBeforeCancel, [{ clientOrderId: resting.id, quantity: 1 }]);
    assert.deepEqual(r.failures, []);
    assert.match(r.summary, /filled before its cancel/);
    assert.equal(e.position('ES'), 1, 'the fill is counted as any fill');
  });

  it('a cancel that fails is reported (never thrown) and the order is handed out again at the next look', async () => {
    const e = fresh({ ...OPEN, maxConsecutiveLosses: 1 });
    const resting = place(e, 'buy', 1);
    let refuse = true;
    const a = broker(e, async (o) => {
      if (refuse) throw new Error('link down');
      e.onOrderUpdate(o.clientOrderId, { status: 'cancelled' });
    });
    const runs = hook(e, a);
    trade(e, -1, T0 + 1000);
    const first = (await settled(runs)).find((x) => x.rule);
    assert.equal(first?.failures[0]?.target, resting.id);
    assert.match(first?.summary ?? '', /link down/);
    refuse = false;
    e.syncAccount({ now: T0 + 2000, realizedPnl: -50 });
    await settled(runs);
    assert.equal(e.orderOf(resting.id), null);
  });

  it('an entry still in flight at the stop is refused at sending, or cancelled when acknowledged', async () => {
    const e = fresh({ ...OPEN, maxConsecutiveLosses: 1 });
    const a = broker(e);
    const runs = hook(e, a);
    const waiting = id();
    assert.ok(e.reserve({ clientOrderId: waiting, instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
    const flying = id();
    assert.ok(e.reserve({ clientOrderId: flying, instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend(flying).allowed);
    const late: string[] = [];
    const stop = guardInFlight(e, async (o) => late.push(o.clientOrderId));
    trade(e, -1, T0 + 1000);
    const r = (await settled(runs)).find((x) => x.rule);
    assert.ok(r?.inFlight.includes(flying));
    const v = e.authorizeSend(waiting);
    assert.equal(v.allowed ? null : v.rule, 'consecutive-losses');
    e.acknowledged(flying, 'b-late');
    await Promise.resolve();
    assert.deepEqual(late, [flying]);
    stop();
  });

  it('no stop, no cancel: entries rest untouched while every limit holds', async () => {
    const e = fresh();
    const a = broker(e);
    const runs = hook(e, a);
    place(e, 'buy', 1);
    trade(e, -2, T0 + 1000);
    e.syncAccount({ now: T0 + 2000, realizedPnl: -100 });
    await settled(runs);
    assert.deepEqual(a.cancels, []);
  });
});
