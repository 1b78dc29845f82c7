// Adversarial (issue 11): hostile order / signal / modify / cancel / kill / flatten messages into sierra-order, in the
// real Node-RED runtime, against a loopback DTC server that records every message leaving the process. The oracle is
// this file's own strict reading of the `order` contract (not the package's parser): a message it finds bad must send
// nothing (and be answered: an error to the Catch node or a refusal in the log), and an order that leaves must be
// exactly the one asked (side, quantity, type, prices, symbol), never a reinterpretation or a default.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import type { SierraConnection } from '../../lib/sierra/connection';
import { MessageType, OrderStatus, OrderUpdateReason } from '../../lib/sierra/protocol';
import { frontMonthSymbol } from '../../lib/sierra/symbols';
import { frontMonth, nextContract } from '../../lib/trading/instruments';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { useHostileDtcRuntime, type HostileDtc, type Raw } from './support/hostile-dtc';
import { testTimeLeft } from '../support/budget';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const completeNode = require('@node-red/nodes/core/common/24-complete.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Record<string, unknown>) => void): void };

const SEED = Number(process.env.ADV_SEED ?? 1107);
const RUNS = Number(process.env.ADV_RUNS ?? 400);
const MAX_ORDER_SIZE = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const NOW = Date.now();
const FRONT = frontMonthSymbol('ES', NOW, 'sierra-cme');
const front = frontMonth('ES', NOW);
const NEXT = `ES${nextContract(front).monthCode}${String(nextContract(front).year).slice(2)}_FUT_CME`;
/** Contracts that are gone: an order for one is bad input, never a trade. */
const EXPIRED = ['ESH20_FUT_CME', 'ESZ25_FUT_CME', 'ESH26_FUT_CME'];
const GOOD_SYMBOLS = [FRONT, NEXT, 'NQ' + FRONT.slice(2), 'MES' + FRONT.slice(2)];
const BAD_SYMBOLS = [...EXPIRED, 'CLZ26_FUT_NYM', 'ES', 'es', FRONT.toLowerCase(), ` ${FRONT}`, 'ES Z26', '', 'ESF27_FUT_CME', 'ESZ99_FUT_CME'];
/** Well-formed contracts whose listing only the exchange knows (far out): sent exactly as named, or refused. */
const BROKER_DECIDES = ['ESZ99_FUT_CME'];

const hostile = fc.oneof(
  fc.constantFrom(null, true, false, 'true', 'false', '1', '2', '5000', '', 'NaN', 'Infinity', '-1', '1e3', '0x10', ' 1'),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1.5, 1e21, 2 ** 53, 10_001, 5000.1, 5000.13, 4999.9999999),
  fc.constantFrom([], [1], [5000], {}, { valueOf: 1 }),
);
const price = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 19_000, max: 21_000 }).map((t) => t * 0.25) }, { weight: 1, arbitrary: hostile });
const action = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('buy', 'sell') },
  { weight: 2, arbitrary: fc.constantFrom('modify', 'cancel', 'cancel-all', 'flatten') },
  { weight: 2, arbitrary: fc.constantFrom('BUY', 'Buy', 'Sell', ' buy', 'buy ', 'long', 'short', 'b', '', 'kill ', 'KILL', 'Resume') },
  { weight: 1, arbitrary: hostile },
);
const type = fc.oneof({ weight: 5, arbitrary: fc.constantFrom('market', 'limit', 'stop', 'stop-limit') }, { weight: 1, arbitrary: fc.constantFrom('MARKET', 'Limit', 'stoplimit', 'stop_limit', 'mkt', 'moc') }, { weight: 1, arbitrary: hostile });

/** A valid order (side, size, type, prices on tick on the right side of a 5000 market, optional bracket, tif, symbol). */
const validOrder = fc
  .record({
    action: fc.constantFrom('buy', 'sell'),
    quantity: fc.integer({ min: 1, max: MAX_ORDER_SIZE }),
    type: fc.constantFrom('market', 'limit', 'stop', 'stop-limit'),
    ticks: fc.integer({ min: 1, max: 40 }),
    bracket: fc.boolean(),
    tif: fc.option(fc.constantFrom('day', 'gtc', 'ioc', 'fok'), { nil: undefined }),
    symbol: fc.option(fc.constantFrom(...GOOD_SYMBOLS), { nil: undefined, freq: 3 }),
    clientOrderId: fc.option(fc.uuid().map((u) => `adv-${u.slice(0, 8)}`), { nil: undefined, freq: 3 }),
  })
  .map((o) => {
    const p: Record<string, unknown> = { action: o.action, quantity: o.quantity, type: o.type };
    const sign = o.action === 'buy' ? 1 : -1;
    if (o.type === 'limit' || o.type === 'stop-limit') p.price = 5000 - sign * o.ticks * 0.25;
    if (o.type === 'stop' || o.type === 'stop-limit') p.stopPrice = 5000 + sign * o.ticks * 0.25;
    if (o.bracket) p.bracket = { stop: 5000 - sign * 100, targets: [5000 + sign * 100] };
    if (o.tif !== undefined) p.tif = o.tif;
    if (o.symbol !== undefined) p.symbol = o.symbol;
    if (o.clientOrderId !== undefined) p.clientOrderId = o.clientOrderId;
    return p;
  });

const FIELD_NAMES = ['action', 'quantity', 'type', 'price', 'stopPrice', 'tif', 'bracket', 'symbol', 'clientOrderId'];
/** One change to a valid order: a field set to a hostile or wrong value, removed, or one that does not belong added. */
const mutation: fc.Arbitrary<(p: Record<string, unknown>) => Record<string, unknown>> = fc.oneof(
  fc.tuple(fc.constantFrom(...FIELD_NAMES), hostile).map(([k, v]) => (p: Record<string, unknown>) => ({ ...p, [k]: v })),
  fc.constantFrom(...FIELD_NAMES).map((k) => (p: Record<string, unknown>) => {
    const { [k]: _gone, ...rest } = p;
    return rest;
  }),
  action.map((a) => (p: Record<string, unknown>) => ({ ...p, action: a })),
  type.map((t) => (p: Record<string, unknown>) => ({ ...p, type: t })),
  price.map((v) => (p: Record<string, unknown>) => ({ ...p, price: v })),
  price.map((v) => (p: Record<string, unknown>) => ({ ...p, stopPrice: v })),
  fc.oneof(fc.constantFrom(...BAD_SYMBOLS), hostile).map((v) => (p: Record<string, unknown>) => ({ ...p, symbol: v })),
  fc.constantFrom('adv-1', 'my.id_2', 'x'.repeat(33), 'a b', '', 'ok:1').map((v) => (p: Record<string, unknown>) => ({ ...p, clientOrderId: v })),
  fc.record({ stop: price, targets: fc.oneof(fc.array(price, { maxLength: 3 }), hostile) }, { requiredKeys: [] }).map((b) => (p: Record<string, unknown>) => ({ ...p, bracket: b })),
  fc.tuple(price, price).map(([x, y]) => (p: Record<string, unknown>) => ({ ...p, bracket: { stop: x, targets: [y] } })),
  fc.constantFrom<[string, unknown]>(['tradeAccount', 'Other'], ['tradeAccount', 'Sim1'], ['account', 'Other'], ['Quantity', 5], ['side', 'buy'], ['whatIf', true], ['conid', 495512563], ['TradeAccount', 'Other'], ['orderType', 'market'], ['bracket', { stop: 4900, targets: [5100], trail: 1 }])
    .map(([k, v]) => (p: Record<string, unknown>) => ({ ...p, [k]: v })),
  // Keys as JSON.parse makes them (own properties named __proto__ / constructor), as a flow fed from HTTP would carry.
  fc.constantFrom('{"__proto__":{"quantity":1,"type":"market"},', '{"constructor":{"x":1},', '{"__proto__":{"action":"buy"},').map((prefix) => (p: Record<string, unknown>) => JSON.parse(JSON.stringify(p).replace(/^\{/, prefix)) as Record<string, unknown>),
);

const payload = fc.tuple(validOrder, fc.array(mutation, { maxLength: 2 })).map(([p, ms]) => ms.reduce((acc, m) => m(acc), p));

const message = fc.oneof(
  { weight: 8, arbitrary: fc.record({ topic: fc.constantFrom('order', 'order', 'order', 'order', undefined, undefined, 'ORDER', 'Order', ' order', 'orders'), payload, whatIf: fc.constantFrom(undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, false, true, 'true', 'false', 0, 1, null) }, { requiredKeys: ['payload'] }) },
  { weight: 1, arbitrary: fc.record({ topic: fc.constantFrom('signal', 'battle-navale', 'Signal'), payload: fc.record({ signal: fc.constantFrom('LONG', 'SHORT', 'long', 'BUY', 'NO_SIGNAL', 'no_signal', null), entry: price, stop: price, targets: fc.oneof(fc.array(price, { maxLength: 3 }), hostile) }, { requiredKeys: [] }) }) },
  { weight: 1, arbitrary: fc.record({ topic: fc.constantFrom('kill-switch', 'Kill', 'KILL', 'resume '), payload: fc.oneof(fc.constantFrom('HALTED', 'halted', 'ACTIVE', 'active', 'REDUCING', 'STOP', ''), hostile) }) },
);

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const onTick = (v: unknown): boolean => isNum(v) && v > 0 && Math.abs(v / 0.25 - Math.round(v / 0.25)) < 1e-9;
const own = (p: Record<string, unknown>, k: string): boolean => Object.prototype.hasOwnProperty.call(p, k) && p[k] !== undefined;

/**
 * This suite's own reading of a new order (buy / sell): the exact order that may leave, or null when the message is
 * bad. Deliberately written from ARCHITECTURE.md's `order` contract, not from the parser.
 */
function strictEntry(msg: Record<string, unknown>): { side: string; quantity: number; type: string; price?: number; stopPrice?: number; symbol: string; bracket?: { stop: number; target: number } } | null {
  const topic = msg.topic;
  if (topic === 'signal' || topic === 'battle-navale') return strictSignal(msg.payload);
  if (!(topic === 'order' || topic === undefined)) return null;
  if (own(msg, 'whatIf') && msg.whatIf !== false) return null; // sierra-order has no what-if; a text "true" is not a boolean
  const p = msg.payload as Record<string, unknown>;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return null;
  const allowed = new Set(['action', 'quantity', 'type', 'price', 'stopPrice', 'bracket', 'tif', 'clientOrderId', 'symbol']);
  if (Object.keys(p).some((k) => !allowed.has(k) && p[k] !== undefined)) return null;
  if (p.action !== 'buy' && p.action !== 'sell') return null;
  const q = p.quantity;
  if (!(typeof q === 'number' && Number.isInteger(q) && q >= 1 && q <= MAX_ORDER_SIZE)) return null;
  const t = p.type;
  if (t !== 'market' && t !== 'limit' && t !== 'stop' && t !== 'stop-limit') return null;
  const needPrice = t === 'limit' || t === 'stop-limit';
  const needStop = t === 'stop' || t === 'stop-limit';
  if (own(p, 'price') !== needPrice || (needPrice && !onTick(p.price))) return null;
  if (own(p, 'stopPrice') !== needStop || (needStop && !onTick(p.stopPrice))) return null;
  if (own(p, 'tif') && !['day', 'gtc', 'ioc', 'fok'].includes(p.tif as string)) return null;
  if (own(p, 'clientOrderId') && !(typeof p.clientOrderId === 'string' && /^[A-Za-z0-9_.-]{1,32}$/.test(p.clientOrderId))) return null;
  let symbol = FRONT;
  if (own(p, 'symbol')) {
    if (!GOOD_SYMBOLS.includes(p.symbol as string) && !BROKER_DECIDES.includes(p.symbol as string)) return null;
    symbol = p.symbol as string;
  }
  let bracket: { stop: number; target: number } | undefined;
  if (own(p, 'bracket')) {
    const b = p.bracket as Record<string, unknown>;
    if (typeof b !== 'object' || b === null || Array.isArray(b) || Object.keys(b).some((k) => k !== 'stop' && k !== 'targets')) return null;
    if (!onTick(b.stop) || !Array.isArray(b.targets) || b.targets.length !== 1 || !onTick(b.targets[0])) return null;
    const stop = b.stop as number;
    const target = b.targets[0] as number;
    const refs = [p.price, p.stopPrice].filter(isNum);
    const long = p.action === 'buy';
    if (long ? !(stop < target) : !(stop > target)) return null;
    if (refs.some((r) => (long ? !(stop < r && r < target) : !(target < r && r < stop)))) return null;
    bracket = { stop, target };
  }
  const out: ReturnType<typeof strictEntry> = { side: p.action, quantity: q, type: t, symbol };
  if (needPrice) out.price = p.price as number;
  if (needStop) out.stopPrice = p.stopPrice as number;
  if (bracket) out.bracket = bracket;
  return out;
}

/** A Battle Navale LONG / SHORT: the node's quantity (1) at the market (its entry setting) with stop and TP1. */
function strictSignal(p: unknown): ReturnType<typeof strictEntry> {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return null;
  const { signal, entry, stop, targets } = p as Record<string, unknown>;
  if (signal !== 'LONG' && signal !== 'SHORT') return null;
  if (!onTick(entry) || !onTick(stop) || !Array.isArray(targets) || !onTick(targets[0])) return null;
  const e = entry as number;
  const st = stop as number;
  const target = targets[0] as number;
  if (signal === 'LONG' ? !(st < e && e < target) : !(target < e && e < st)) return null;
  return { side: signal === 'LONG' ? 'buy' : 'sell', quantity: 1, type: 'market', symbol: FRONT, bracket: { stop: st, target } };
}

/** Every new order is refused by the server (as Sierra would reject it), so exposure never builds up between cases. */
function rejectAll(m: Raw, server: HostileDtc): Raw[] {
  const base = { Type: MessageType.ORDER_UPDATE, RequestID: 0, TotalNumMessages: 1, MessageNumber: 1, TradeAccount: server.book.account, OrderStatus: OrderStatus.REJECTED, OrderUpdateReason: OrderUpdateReason.NEW_ORDER_REJECTED, InfoText: 'adversarial server: rejected', Symbol: m.Symbol };
  if (m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER || m.Type === MessageType.SUBMIT_FLATTEN_POSITION_ORDER) return [{ ...base, ClientOrderID: m.ClientOrderID, BuySell: m.BuySell ?? 1, OrderQuantity: m.Quantity ?? 0 }];
  if (m.Type === MessageType.SUBMIT_NEW_OCO_ORDER) return [1, 2].map((leg) => ({ ...base, ClientOrderID: m[`ClientOrderID_${leg}`], BuySell: m[`BuySell_${leg}`], OrderQuantity: m[`Quantity_${leg}`] }));
  return [];
}

const WIRE_TYPE: Record<string, number> = { market: 1, limit: 2, stop: 3, 'stop-limit': 4 };

describe('adversarial: hostile input messages into sierra-order (Node-RED runtime, recording DTC server)', function () {
  this.timeout(300_000);
  const runtime = useHostileDtcRuntime();

  async function load(): Promise<{ connection: SierraConnection; order: TestNode; answered: Map<string, 'error' | 'done'>; errors: Map<string, string> }> {
    const server = await runtime.startDtc({ onOrder: rejectAll });
    const flow = [
      { id: 'tab', type: 'tab', label: 'adv' },
      {
        id: 'cfg', type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port: server.port, handshake: false, root: 'ES', symbolFormat: 'sierra-cme', heartbeatSec: 2,
        tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxConsecutiveLosses: 1000, dailyLossLimit: 1_000_000,
        maxOrderSize: MAX_ORDER_SIZE, maxPosition: 1000, maxOrdersPerMinute: 0, collarTicks: 0,
      },
      { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
      { id: 'catcher', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['answered']] },
      { id: 'completer', type: 'complete', z: 'tab', scope: ['order'], uncaught: false, wires: [['answered']] },
      { id: 'answered', type: 'helper', z: 'tab' },
    ];
    await helper.load([configModule, orderModule, catchNode, completeNode], flow as never);
    const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    await connection.whenReady(10_000);
    const order = helper.getNode('order') as TestNode;
    const answered = new Map<string, 'error' | 'done'>();
    const errors = new Map<string, string>();
    (helper.getNode('answered') as TestNode).on('input', (m) => {
      answered.set(String(m._msgid), m.error ? 'error' : 'done');
      if (m.error) errors.set(String(m._msgid), String((m.error as { message?: unknown }).message));
    });
    return { connection, order, answered, errors };
  }

  it('refuses a symbol override naming an expired, unlisted or unspelled contract, with the reason', async () => {
    const { order, answered, errors } = await load();
    const s = runtime.dtc;
    const cases = ['ESH20_FUT_CME', 'ESZ25_FUT_CME', 'ESH26_FUT_CME', 'ESF27_FUT_CME', 'ES', 'es', FRONT.toLowerCase()];
    for (const symbol of cases) {
      const id = `sym-${symbol}`;
      order.receive({ _msgid: id, topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market', symbol } });
      while (!answered.has(id) && testTimeLeft() > 1) await sleep(1);
      assert.equal(answered.get(id), 'error', symbol);
      assert.match(String(errors.get(id)), /Order refused: symbol .*(expired|not a listed contract|as Sierra Chart spells it).*Nothing was sent/, symbol);
    }
    assert.deepEqual(s.orderEntries(), [], 'nothing left for any of them');
    // The front month and the next contract still trade.
    order.receive({ _msgid: 'front', topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market', symbol: NEXT } });
    while (!answered.has('front') && testTimeLeft() > 1) await sleep(1);
    assert.equal(s.orderEntries()[0]?.Symbol, NEXT);
    assert.deepEqual(runtime.trap.errors, []);
  });

  it(`sends exactly the order asked, or nothing with an answer, for ${RUNS} generated messages`, async () => {
    const { connection, order, answered } = await load();
    const s = runtime.dtc;
    const tally = { messages: 0, strictValid: 0, sent: 0, refusedBeforeSending: 0, killSwitch: 0 };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(message, async (msg) => {
        const id = `adv-${++n}`;
        tally.messages++;
        const before = s.orderEntries().length;
        const expected = strictEntry(msg);
        order.receive({ ...msg, _msgid: id });
        while (!answered.has(id) && testTimeLeft() > 1) await sleep(1);
        assert.ok(answered.has(id), `every message is answered (done or an error): ${JSON.stringify(msg)}`);
        await sleep(2);
        const left = s.orderEntries().slice(before);
        const topic = msg.topic;
        if (topic === 'kill-switch' || topic === 'Kill' || topic === 'KILL' || topic === 'resume ') tally.killSwitch++;
        // The kill switch and resume leave the account as it was for the next case.
        if (connection.riskEngine.killSwitch !== 'ACTIVE') connection.resume();
        const entries = left.filter((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER || m.Type === MessageType.SUBMIT_NEW_OCO_ORDER);
        if (expected === null) {
          assert.deepEqual(entries, [], `nothing may leave for ${JSON.stringify(msg)} (answered ${answered.get(id)})`);
          return;
        }
        tally.strictValid++;
        if (entries.length === 0) {
          tally.refusedBeforeSending++;
          if (process.env.ADV_DEBUG) process.stdout.write(`refused ${JSON.stringify(msg)} ${JSON.stringify(helper.log().args.slice(-2).map((a: unknown[]) => (a[0] as { msg: unknown }).msg))}\n`);
          return;
        }
        tally.sent++;
        const single = entries[0];
        assert.equal(single.Type, MessageType.SUBMIT_NEW_SINGLE_ORDER);
        assert.equal(single.BuySell, expected.side === 'buy' ? 1 : 2, 'side as asked');
        assert.equal(single.Quantity, expected.quantity, 'quantity as asked');
        assert.equal(single.OrderType, WIRE_TYPE[expected.type], 'type as asked');
        assert.equal(single.Symbol, expected.symbol, 'symbol as asked');
        assert.equal(single.TradeAccount, 'Sim1', 'the configured account only');
        if (expected.type === 'limit') assert.equal(single.Price1, expected.price);
        if (expected.type === 'stop') assert.equal(single.Price1, expected.stopPrice);
        if (expected.type === 'stop-limit') assert.deepEqual([single.Price1, single.Price2], [expected.stopPrice, expected.price]);
        assert.equal(entries.length, expected.bracket ? 2 : 1, 'a bracket exactly when asked');
        if (expected.bracket) {
          const oco = entries[1];
          const legs = [1, 2].map((l) => ({ type: oco[`OrderType_${l}`], price: oco[`Price1_${l}`], qty: oco[`Quantity_${l}`], side: oco[`BuySell_${l}`] }));
          assert.deepEqual(legs.map((l) => l.qty), [expected.quantity, expected.quantity]);
          assert.ok(legs.every((l) => l.side === (expected.side === 'buy' ? 2 : 1)), 'exits on the opposite side');
          assert.deepEqual(legs.map((l) => l.price).sort(), [expected.bracket.stop, expected.bracket.target].sort());
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
    assert.deepEqual(runtime.trap.errors, [], 'nothing escaped to process level');
    assert.ok(tally.sent > 10, 'enough valid orders were sent to check the wire');
    process.stdout.write(`      figures hostile-input: ${JSON.stringify(tally)}\n`);
  });
});
