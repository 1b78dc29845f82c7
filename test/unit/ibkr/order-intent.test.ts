import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InvalidInputError } from '../../../lib/errors';
import { IbkrOrderDesk, RiskDeniedError, type DeskClient } from '../../../lib/ibkr/order-desk';
import {
  applyModify,
  planEntry,
} from '../../../lib/ibkr/order-intent';
import { parseOrder, parseOrderMessage, parseSignal, type EntryIntent, type OrderIntent, type ParseSettings, type SignalSettings } from '../../../lib/trading/order-intent';
import { RejectedError, TimeoutError } from '../../../lib/ibkr/errors';
import type { LiveOrder, OrderRequest as IbkrOrderRequest, PlacedOrder } from '../../../lib/ibkr/types';
import type { RiskLimits } from '../../../lib/trading/risk-rules';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { MemoryJournal } from '../../../lib/trading/journal';
import { instrumentOf } from '../../../lib/trading/instrument-of';

/** A fresh account risk engine with these limits (what ibkr-order gets from lib/trading/accounts.ts). */
function engineWith(limits: Partial<RiskLimits>): RiskEngine {
  const e = new RiskEngine({ broker: 'ibkr', account: 'DU1', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('node', limits);
  return e;
}

const DEFAULT_SIGNAL_SETTINGS: SignalSettings = { quantity: 1, entryType: 'market', target: 1, tif: 'day' };
const settingsOf = (signal: SignalSettings): ParseSettings => ({ signal, tickSize: null, whatIf: false });
/** The one parser (lib/trading/order-intent.ts), as ibkr-order calls it, for an order payload. */
function parseOrderRequest(payload: unknown): OrderIntent {
  const parsed = parseOrder(payload, settingsOf(DEFAULT_SIGNAL_SETTINGS), false);
  assert.equal(parsed.kind, 'order');
  return (parsed as { intent: OrderIntent }).intent;
}
function signalToIntent(payload: unknown, signal: SignalSettings): EntryIntent | null {
  const parsed = parseSignal(payload, settingsOf(signal), false);
  return parsed.kind === 'order' ? (parsed.intent as EntryIntent) : null;
}

const LONG = { signal: 'LONG', entry: 5000, stop: 4998.25, targets: [5003.5, 5005.25], bar: { t: Date.UTC(2026, 2, 10, 14, 41) } };
const CONTRACT = { conid: 495512557, secType: 'FUT' };

/** A client that records every call the desk makes and answers like IBKR would. */
function recordingClient(options: { trading?: boolean; place?: (orders: IbkrOrderRequest[]) => Promise<PlacedOrder[]>; live?: LiveOrder[]; positions?: { conid: number; quantity: number; assetClass?: string }[] } = {}) {
  const calls: string[] = [];
  const placed: IbkrOrderRequest[] = [];
  let nextId = 1000;
  const client = {
    tradingEnabled: options.trading ?? true,
    async placeOrders(orders: IbkrOrderRequest[]) {
      calls.push('placeOrders');
      placed.push(...orders);
      if (options.place) return options.place(orders);
      return orders.map((o) => {
        const orderId = nextId++;
        // With a book given, a market order fills at once, as IBKR then lists it and holds the position.
        if (o.orderType === 'MKT' && options.live && options.positions) {
          const signed = o.side === 'BUY' ? o.quantity : -o.quantity;
          const held = options.positions.find((p) => p.conid === o.conid);
          if (held) held.quantity += signed;
          else options.positions.push({ conid: o.conid, quantity: signed });
          options.live.push({ accountId: 'DU1', conid: o.conid, orderId, clientOrderId: o.clientOrderId ?? null, status: 'Filled', side: o.side, orderType: 'MKT', quantity: o.quantity, filledQuantity: o.quantity, remainingQuantity: 0, averagePrice: 5000, price: null, timeInForce: 'DAY', lastExecutionTime: null } as LiveOrder);
        }
        return { orderId, status: 'Submitted', clientOrderId: o.clientOrderId ?? null };
      });
    },
    async modifyOrder(orderId: number) {
      calls.push('modifyOrder');
      return { orderId, status: 'Submitted', clientOrderId: null };
    },
    async cancelOrder(orderId: number) {
      calls.push(`cancelOrder ${orderId}`);
      // As IBKR lists it afterwards: a cancelled order is no longer working.
      for (const o of options.live ?? []) if (o.orderId === orderId) o.status = 'Cancelled';
      return { orderId, conid: null, accountId: null, message: 'Request was submitted' };
    },
    async whatIf() {
      calls.push('whatIf');
      throw new Error('not used');
    },
    async liveOrders() {
      calls.push('liveOrders');
      return options.live ?? [];
    },
    async positions() {
      calls.push('positions');
      return (options.positions ?? []).map((p) => ({ accountId: 'DU1', description: `conid ${p.conid}`, marketPrice: null, marketValue: null, currency: 'USD', averageCost: null, averagePrice: 5000, realizedPnl: null, unrealizedPnl: null, assetClass: 'FUT', ...p }));
    },
    async futures() {
      // ESH26, the front month on the tests' 2026-03-10 (the instrument registry picks the conid by contract month).
      return { ES: [{ symbol: 'ES', conid: CONTRACT.conid, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null }] };
    },
    async secdefSearch() {
      return [];
    },
    async contractInfo(conid: number) {
      return { conid, symbol: 'ES', secType: 'FUT', tradingClass: 'ES', localSymbol: 'ESZ9', underlyingConid: null, multiplier: 50, maturityDate: null, exchange: 'CME', currency: 'USD' };
    },
  };
  return { client: client as unknown as DeskClient, calls, placed };
}

function desk(client: DeskClient, engine = engineWith({ tradingHoursEnabled: false, cooldownMin: 0 })) {
  return new IbkrOrderDesk({ client, engine, questions: { accepted: ['o10331'], acceptAll: false }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => Date.UTC(2026, 2, 10, 15) });
}

describe('order intents (signal / order message → IBKR order bodies)', () => {
  it('turns a LONG into a market buy with a sell stop and a sell take-profit at TP1, children tied to the parent cOID', () => {
    const intent = signalToIntent(LONG, DEFAULT_SIGNAL_SETTINGS) as EntryIntent;
    const legs = planEntry(intent, CONTRACT, 'mia-1');
    assert.deepEqual(
      legs.map((l) => [l.role, l.clientOrderId, l.order.side, l.order.orderType, l.order.price, l.order.parentId, l.order.clientOrderId]),
      [
        ['entry', 'mia-1', 'BUY', 'MKT', undefined, undefined, 'mia-1'],
        ['stop', 'mia-1:stop', 'SELL', 'STP', 4998.25, 'mia-1', undefined],
        ['target', 'mia-1:target', 'SELL', 'LMT', 5003.5, 'mia-1', undefined],
      ],
    );
    assert.ok(legs.every((l) => l.order.quantity === 1 && l.order.conid === CONTRACT.conid && l.order.secType === 'FUT'));
  });

  it('mirrors a SHORT, with a limit entry at the signal price and TP2 when the node says so', () => {
    const short = { ...LONG, signal: 'SHORT', stop: 5001.75, targets: [4996.5, 4994.75] };
    const intent = signalToIntent(short, { quantity: 2, entryType: 'limit', target: 2, tif: 'day' }) as EntryIntent;
    const legs = planEntry(intent, CONTRACT, 'mia-2');
    assert.deepEqual(
      legs.map((l) => [l.order.side, l.order.orderType, l.order.price, l.order.quantity]),
      [
        ['SELL', 'LMT', 5000, 2],
        ['BUY', 'STP', 5001.75, 2],
        ['BUY', 'LMT', 4994.75, 2],
      ],
    );
  });

  it('ignores NO_SIGNAL', () => {
    assert.equal(signalToIntent({ signal: 'NO_SIGNAL', entry: null, stop: null, targets: [] }, DEFAULT_SIGNAL_SETTINGS), null);
  });

  it('refuses a signal whose stop is on the wrong side of its entry', () => {
    assert.throws(() => signalToIntent({ ...LONG, stop: 5002 }, DEFAULT_SIGNAL_SETTINGS), /either side of the entry|wrong way round|levels are inconsistent/);
  });

  it('maps a stop-limit order: IBKR takes the limit as price and the trigger as auxPrice', () => {
    const intent = parseOrderRequest({ action: 'sell', quantity: 1, type: 'stop-limit', price: 4990, stopPrice: 4991 }) as EntryIntent;
    const [parent] = planEntry(intent, CONTRACT, 'x');
    assert.deepEqual([parent?.order.orderType, parent?.order.price, parent?.order.auxPrice], ['STOP_LIMIT', 4990, 4991]);
  });

  it('refuses prices off the ES tick grid and a bracket with more than one target', () => {
    const intent = parseOrderRequest({ action: 'buy', quantity: 1, type: 'limit', price: 5000.1 }) as EntryIntent;
    assert.throws(() => planEntry(intent, CONTRACT, 'x'), /not on the instrument.s 0.25 tick: use a multiple of 0.25 \(e.g. 5000\)/);
    assert.throws(() => parseOrderRequest({ action: 'buy', quantity: 1, type: 'market', bracket: { stop: 4990, targets: [5010, 5020] } }), /exactly one take-profit/);
    // With the instrument's tick known, the parser refuses it first, with the same words for both order nodes.
    assert.throws(() => parseOrder({ action: 'buy', quantity: 1, type: 'limit', price: 5000.1 }, { ...settingsOf(DEFAULT_SIGNAL_SETTINGS), tickSize: 0.25 }, false), /not on the instrument's 0.25 tick/);
  });

  it('modifies a stop by moving its price, and never sends the original cOID again', () => {
    const stop: IbkrOrderRequest = { conid: 1, side: 'SELL', orderType: 'STP', price: 4990, quantity: 1, clientOrderId: 'a' };
    const next = applyModify(stop, { kind: 'modify', clientOrderId: 'a', stopPrice: 4992.5 });
    assert.equal(next.price, 4992.5);
    assert.equal(next.clientOrderId, undefined);
    assert.throws(() => applyModify(stop, { kind: 'modify', clientOrderId: 'a', price: 4993 }), /no limit price/);
  });

  it('reads the topic first, the payload shape without a topic, and refuses anything else', () => {
    const read = (topic: unknown, payload: unknown) => parseOrderMessage({ topic, payload }, settingsOf(DEFAULT_SIGNAL_SETTINGS));
    assert.deepEqual(read(undefined, { action: 'cancel-all' }), { kind: 'order', intent: { kind: 'cancel-all' } });
    const signal = read('signal', LONG);
    assert.equal(signal.kind === 'order' && signal.intent.kind, 'entry');
    assert.throws(() => read('quote', { last: 1 }), /not handled/);
  });
});

describe('order desk', () => {
  it('sends nothing while trading is disabled, and says how to enable it', async () => {
    const { client, calls } = recordingClient({ trading: false });
    const outcome = await desk(client).execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market' }));
    assert.match(String(outcome.error?.message), /trading is disabled.*Trading enabled/);
    assert.deepEqual(calls, []);
  });

  it('reports a risk denial as a rejected update naming the rule, without placing', async () => {
    const { client, calls } = recordingClient();
    const outcome = await desk(client, engineWith({ tradingHoursEnabled: false, maxOrderSize: 1 })).execute(parseOrderRequest({ action: 'buy', quantity: 2, type: 'market', clientOrderId: 'r1' }));
    assert.ok(outcome.error instanceof RiskDeniedError);
    assert.equal((outcome.error as RiskDeniedError).rule, 'max-order-size');
    assert.equal((outcome.messages[0]?.payload as { clientOrderId: string }).clientOrderId, 'r1');
    assert.equal((outcome.messages[0]?.payload as { status: string }).status, 'rejected');
    assert.ok(!calls.includes('placeOrders'));
  });

  it('counts working entries against the maximum position', async () => {
    const { client } = recordingClient();
    const d = desk(client, engineWith({ tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 2 }));
    const first = await d.execute(parseOrderRequest({ action: 'buy', quantity: 2, type: 'limit', price: 4990 }));
    assert.equal(first.error, undefined);
    const second = await d.execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'limit', price: 4989 }));
    assert.equal((second.error as RiskDeniedError).rule, 'max-position');
  });

  it('reports an IBKR rejection as a rejected update with IBKR’s text', async () => {
    const { client } = recordingClient({ place: () => Promise.reject(new RejectedError('IBKR rejected the order: Invalid price.', 'Invalid price')) });
    const outcome = await desk(client).execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market', clientOrderId: 'rej' }));
    assert.match(String((outcome.messages[0]?.payload as { reason: string }).reason), /Invalid price/);
  });

  it('does not claim a lost order was rejected: its outcome is unknown and it is never re-sent', async () => {
    let attempts = 0;
    const { client } = recordingClient({
      place: () => {
        attempts += 1;
        return Promise.reject(new TimeoutError('IBKR did not answer the order in time, and it is not in live orders: it was NOT resent.'));
      },
    });
    const outcome = await desk(client).execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market' }));
    assert.equal(attempts, 1);
    assert.deepEqual(outcome.messages, []);
    assert.match(String(outcome.error?.message), /NOT resent/);
  });

  it('cancels a bracket leg by its local id, and cancel-all with -1', async () => {
    const { client, calls } = recordingClient();
    const d = desk(client);
    await d.execute(signalToIntent(LONG, DEFAULT_SIGNAL_SETTINGS) as EntryIntent);
    const placed = await d.execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market', clientOrderId: 'p1', bracket: { stop: 4990, targets: [5010] } }));
    assert.equal(placed.error, undefined);
    await d.execute(parseOrderRequest({ action: 'cancel', clientOrderId: 'p1:stop' }));
    await d.execute(parseOrderRequest({ action: 'cancel-all' }));
    assert.deepEqual(calls.filter((c) => c.startsWith('cancel')), ['cancelOrder 1004', 'cancelOrder -1']);
  });

  it('counts a market order whose fill the stream delivers before IBKR answers the place request (cooldown holds)', async () => {
    const now = Date.UTC(2026, 2, 10, 15);
    const ref: { desk?: IbkrOrderDesk } = {};
    const { client, calls } = recordingClient({
      place: async (orders) => {
        // IBKR fills a market order at once: the sor message, known by its cOID, beats the answer.
        ref.desk!.onStream([{ orderId: 2001, order_ref: orders[0]!.clientOrderId, status: 'Filled', side: 'BUY', totalSize: '1', filledQuantity: '1', avgPrice: '5000.25', lastExecutionTime_r: now }]);
        return [{ orderId: 2001, status: 'Filled', clientOrderId: orders[0]!.clientOrderId ?? null }];
      },
    });
    const d = (ref.desk = desk(client, engineWith({ tradingHoursEnabled: false, cooldownMin: 15 })));
    await d.execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market' }));
    const second = await d.execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market' }));
    assert.ok(second.error instanceof RiskDeniedError, String(second.error));
    assert.equal(second.error.rule, 'cooldown');
    assert.equal(calls.filter((c) => c === 'placeOrders').length, 1);
  });

  it('reports a fill that happened while the stream was down, from IBKR’s live orders', async () => {
    const live: LiveOrder[] = [];
    const { client } = recordingClient({ live });
    const d = desk(client);
    const placed = await d.execute(parseOrderRequest({ action: 'sell', quantity: 1, type: 'limit', price: 5010, clientOrderId: 'gap-1' }));
    const orderId = Number((placed.messages[0]?.payload as { serverOrderId: string }).serverOrderId);
    live.push({ accountId: 'DU1', conid: CONTRACT.conid, orderId, clientOrderId: 'gap-1', status: 'Filled', side: 'SELL', orderType: 'Limit', quantity: 1, filledQuantity: 1, remainingQuantity: 0, averagePrice: 5010, price: 5010, timeInForce: 'DAY', lastExecutionTime: 1_773_000_000_000 });
    const caught = await d.reconcile();
    assert.deepEqual(
      caught.map((m) => [m.topic, (m.payload as { clientOrderId: string }).clientOrderId]),
      [
        ['order-update', 'gap-1'],
        ['fill', 'gap-1'],
      ],
    );
    assert.deepEqual(await d.reconcile(), [], 'nothing twice');
  });

  it('never sends anything to the order endpoints for a malformed order or signal message (property)', async () => {
    const valid = { action: 'buy', quantity: 1, type: 'limit', price: 5000, bracket: { stop: 4990, targets: [5010] } };
    const breakers: fc.Arbitrary<Record<string, unknown>>[] = [
      fc.constantFrom('action', 'quantity', 'type', 'price').map((k) => {
        const copy: Record<string, unknown> = { ...valid };
        delete copy[k];
        return copy;
      }),
      fc.oneof(fc.double(), fc.string(), fc.constant(null), fc.integer({ max: 0 })).filter((q) => !(typeof q === 'number' && Number.isInteger(q) && q > 0 && q <= 10_000)).map((quantity) => ({ ...valid, quantity })),
      fc.oneof(fc.double({ max: 0 }), fc.constant(Number.NaN), fc.constant(Infinity), fc.string()).map((price) => ({ ...valid, price })),
      fc.string().filter((a) => !['buy', 'sell', 'modify', 'cancel', 'cancel-all'].includes(a)).map((action) => ({ ...valid, action })),
      fc.double({ min: 5000, max: 6000, noNaN: true }).map((stop) => ({ ...valid, bracket: { stop, targets: [5010] } })),
      fc.array(fc.double({ min: 4000, max: 6000, noNaN: true }), { minLength: 2, maxLength: 4 }).map((targets) => ({ ...valid, bracket: { stop: 4990, targets } })),
      fc.string({ minLength: 41 }).map((clientOrderId) => ({ ...valid, clientOrderId })),
      fc.constantFrom('modify', 'cancel').map((action) => ({ action })),
    ];
    const malformedSignal = fc.record({
      signal: fc.constantFrom('LONG', 'SHORT', 'long', 'BUY', ''),
      entry: fc.oneof(fc.constant(null), fc.double({ min: -10, max: 0 }), fc.string()),
      stop: fc.oneof(fc.constant(null), fc.double()),
      targets: fc.oneof(fc.constant([]), fc.constant(null), fc.array(fc.string())),
    });
    const message = fc.oneof(
      fc.oneof(...breakers).map((payload) => ({ topic: 'order', payload: payload as unknown })),
      malformedSignal.map((payload) => ({ topic: 'signal', payload: payload as unknown })),
      fc.anything().map((payload) => ({ topic: 'order', payload })),
    );
    await fc.assert(
      fc.asyncProperty(message, async ({ topic, payload }) => {
        const { client, calls } = recordingClient();
        let refusal: unknown;
        try {
          const parsed = parseOrderMessage({ topic, payload }, settingsOf(DEFAULT_SIGNAL_SETTINGS));
          if (parsed.kind === 'order') refusal = (await desk(client).execute(parsed.intent, parsed.instrument)).error;
        } catch (err) {
          refusal = err;
        }
        assert.ok(refusal instanceof InvalidInputError, `refused as invalid input: ${JSON.stringify(payload)} → ${String(refusal)}`);
        assert.ok(!calls.some((c) => c === 'placeOrders' || c === 'modifyOrder' || c.startsWith('cancelOrder') || c === 'whatIf'), JSON.stringify(calls));
      }),
      { numRuns: 300 },
    );
  });
});

describe('order desk: stale market data and the trade log', () => {
  const T0 = Date.UTC(2026, 2, 10, 15);
  const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 5, maxOrderSize: 5 };

  function clockedDesk(staleAfterSec: number) {
    const clock = { now: T0 };
    const logs: string[] = [];
    const { client, calls } = recordingClient();
    const d = new IbkrOrderDesk({
      client,
      engine: engineWith(OPEN),
      questions: { accepted: ['o10331'], acceptAll: false },
      contract: { symbol: 'ES', secType: 'FUT' },
      now: () => clock.now,
      staleAfterSec,
      log: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`) },
    });
    const placements = () => calls.filter((c) => c === 'placeOrders').length;
    return { d, clock, logs, placements };
  }
  const buy = (id: string) => parseOrderRequest({ action: 'buy', quantity: 1, type: 'market', clientOrderId: id });

  it('allows a new entry until the last market data is exactly "Stale data after (s)" old, then refuses it without sending', async () => {
    const { d, clock, placements } = clockedDesk(10);
    d.noteMarketData();
    clock.now = T0 + 9_999;
    assert.equal((await d.execute(buy('fresh'))).error, undefined);
    clock.now = T0 + 10_000;
    const stale = await d.execute(buy('stale'));
    assert.ok(stale.error instanceof RiskDeniedError);
    assert.equal(stale.error.rule, 'stale-data');
    assert.match(stale.error.message, /last tick, quote or bar arrived 10\.0 s ago \(limit 10 s\)/);
    const update = stale.messages[0]?.payload as { clientOrderId: string; status: string; reason: string };
    assert.deepEqual([update.clientOrderId, update.status], ['stale', 'rejected']);
    assert.match(update.reason, /stale-data/);
    assert.equal(placements(), 1, 'the stale entry was never sent');
    d.noteMarketData();
    assert.equal((await d.execute(buy('fresh-again'))).error, undefined, 'fresh data lifts the block');
  });

  it('refuses entries when no market data has arrived since it started, unless the guard is off (0)', async () => {
    const guarded = clockedDesk(10);
    assert.equal(((await guarded.d.execute(buy('none'))).error as RiskDeniedError).rule, 'stale-data');
    assert.equal(guarded.placements(), 0);
    const off = clockedDesk(0);
    assert.equal((await off.d.execute(buy('off'))).error, undefined);
    assert.equal(off.placements(), 1);
  });

  it('never blocks an order that reduces the position, a cancel or cancel-all on stale data', async () => {
    const { d, clock, placements } = clockedDesk(10);
    d.noteMarketData();
    await d.execute(buy('long-1'));
    d.onStream([{ orderId: 1000, order_ref: 'long-1', status: 'Filled', side: 'BUY', totalSize: '1', filledQuantity: '1', avgPrice: '5000.25', lastExecutionTime_r: T0 }]);
    clock.now = T0 + 60_000;
    assert.equal(((await d.execute(buy('add'))).error as RiskDeniedError).rule, 'stale-data');
    const exit = await d.execute(parseOrderRequest({ action: 'sell', quantity: 1, type: 'market', clientOrderId: 'exit' }));
    assert.equal(exit.error, undefined, 'selling the long goes through');
    assert.equal((await d.execute(parseOrderRequest({ action: 'cancel', clientOrderId: 'exit' }))).error, undefined);
    assert.equal((await d.execute(parseOrderRequest({ action: 'cancel-all' }))).error, undefined);
    assert.equal(placements(), 2);
  });

  it('logs each order sent (cOID, side, quantity, type) and each fill at info, each rejection at warn', async () => {
    const { d, clock, logs } = clockedDesk(10);
    d.noteMarketData();
    await d.execute(parseOrderRequest({ action: 'buy', quantity: 2, type: 'limit', price: 4990, clientOrderId: 'log-1' }));
    d.onStream([{ orderId: 1000, order_ref: 'log-1', status: 'Filled', side: 'BUY', totalSize: '2', filledQuantity: '2', avgPrice: '4990', lastExecutionTime_r: T0 }]);
    clock.now = T0 + 30_000;
    await d.execute(buy('log-2'));
    assert.match(logs[0] ?? '', /^info IBKR order sent: log-1 buy 2 limit @ 4990 \(/);
    assert.equal(logs[1], 'info IBKR order filled: log-1 buy 2 @ 4990');
    assert.match(logs[2] ?? '', /^warn IBKR order rejected: log-2 buy 1: risk rule stale-data/);
    assert.equal(logs.length, 3);
  });
});

describe('order desk: flatten and the kill switch (the same meaning as sierra-order)', () => {
  const LIVE = (conid: number, orderId: number, status = 'Submitted'): LiveOrder =>
    ({ accountId: 'DU1', conid, orderId, clientOrderId: null, status, side: 'BUY', orderType: 'LMT', quantity: 1, filledQuantity: 0, remainingQuantity: 1, averagePrice: null, price: 4990, timeInForce: 'DAY', lastExecutionTime: null }) as LiveOrder;

  it('flatten cancels the contract’s working orders, then closes the position with one market order', async () => {
    const { client, calls, placed } = recordingClient({ positions: [{ conid: CONTRACT.conid, quantity: 3 }], live: [LIVE(CONTRACT.conid, 7), LIVE(CONTRACT.conid, 8, 'Filled'), LIVE(999, 9)] });
    const outcome = await desk(client).execute({ kind: 'flatten' });
    assert.equal(outcome.error, undefined);
    assert.deepEqual(calls.filter((c) => c.startsWith('cancelOrder')), ['cancelOrder 7'], 'only the working order of this contract');
    assert.ok(calls.indexOf('cancelOrder 7') < calls.indexOf('placeOrders'), 'cancels first, so no bracket leg re-opens');
    assert.deepEqual(placed.map((o) => [o.side, o.orderType, o.quantity, o.conid]), [['SELL', 'MKT', 3, CONTRACT.conid]]);
  });

  it('flatten with no position sends no order', async () => {
    const { client, calls } = recordingClient();
    assert.equal((await desk(client).execute({ kind: 'flatten' })).error, undefined);
    assert.ok(!calls.includes('placeOrders'));
  });

  it('kill: HALTED first, cancels every order of the account, flattens every position; new entries refused after', async () => {
    const engine = engineWith({ tradingHoursEnabled: false, cooldownMin: 0 });
    const live = (orderId: number, conid: number): LiveOrder => ({ accountId: 'DU1', conid, orderId, clientOrderId: null, status: 'Submitted', side: 'BUY', orderType: 'LMT', quantity: 1, filledQuantity: 0, remainingQuantity: 1, averagePrice: null, price: 4990, timeInForce: 'DAY', lastExecutionTime: null });
    const { client, calls, placed } = recordingClient({ positions: [{ conid: CONTRACT.conid, quantity: -2 }, { conid: 555, quantity: 1 }], live: [live(71, CONTRACT.conid), live(72, 555)] });
    const d = desk(client, engine);
    const outcome = await d.kill();
    assert.equal(outcome.error, undefined);
    assert.equal(engine.killSwitch, 'HALTED');
    // Every working order of the account, whatever its contract (lib/trading/kill-switch.ts: one cancel per order).
    assert.ok(calls.includes('cancelOrder 71') && calls.includes('cancelOrder 72'), calls.join(', '));
    assert.deepEqual(placed.map((o) => [o.side, o.quantity, o.conid]).sort(), [['BUY', 2, CONTRACT.conid], ['SELL', 1, 555]].sort());
    const after = await d.execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market' }));
    assert.match(String(after.error?.message), /kill-switch/);
  });

  it('kill never throws: with trading off it stays HALTED and says what did not happen', async () => {
    const engine = engineWith({ tradingHoursEnabled: false, cooldownMin: 0 });
    const { client, calls } = recordingClient({ trading: false });
    const outcome = await desk(client, engine).kill();
    assert.equal(engine.killSwitch, 'HALTED');
    const message = String(outcome.error?.message);
    assert.match(message, /HALTED \(no new orders\).*but 2 step\(s\) failed: /);
    assert.match(message, /list-orders account: [^;]*trading is disabled/);
    assert.match(message, /list-positions account: [^;]*trading is disabled/);
    assert.ok(!calls.some((c) => c === 'placeOrders' || c.startsWith('cancelOrder')));
  });
});


describe('order desk: a symbol override names exactly the contract the node trades', () => {
  it('accepts the root or the root with the traded month, refuses another month or another root that starts alike', async () => {
    for (const symbol of ['ES', 'es', 'ESH6', 'ESH26']) {
      const { client, calls } = recordingClient();
      const parsed = parseOrderMessage({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market', symbol } }, settingsOf(DEFAULT_SIGNAL_SETTINGS));
      assert.equal(parsed.kind, 'order');
      const outcome = await desk(client).execute((parsed as { intent: OrderIntent }).intent, (parsed as { instrument?: { symbol: string } }).instrument);
      assert.equal(outcome.error, undefined, `${symbol}: ${String(outcome.error)}`);
      assert.ok(calls.includes('placeOrders'));
    }
    for (const symbol of ['ESM6', 'ESTX50', 'MES', 'ESZ5']) {
      const { client, calls } = recordingClient();
      const outcome = await desk(client).execute(parseOrderRequest({ action: 'buy', quantity: 1, type: 'market' }), { symbol });
      assert.match(String(outcome.error?.message), /is not the contract this node trades/, symbol);
      assert.ok(!calls.includes('placeOrders'), `${symbol} never sent`);
    }
  });
});
