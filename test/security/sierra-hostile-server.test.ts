// Adversarial (issue 11): a hostile or buggy DTC server must never end Node-RED, leave a rejection unhandled, or make
// sierra-order send an order the trader did not mean. sierra-config (mode "sierra") + sierra-order run in the real
// Node-RED runtime against a loopback server (support/hostile-dtc.ts) that records every message leaving the process.
// Generated messages (fast-check) with wrong types in every field, duplicated / reordered / contradictory updates,
// fills for unknown orders, oversized and malformed frames.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import type { SierraConnection } from '../../lib/sierra/connection';
import { MessageType, OrderStatus, OrderUpdateReason } from '../../lib/sierra/protocol';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { acceptAll, useHostileDtcRuntime, type Raw } from './support/hostile-dtc';
import { testTimeLeft } from '../support/budget';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Record<string, unknown>) => void): void };

const SEED = Number(process.env.ADV_SEED ?? 1106);
const RUNS = Number(process.env.ADV_RUNS ?? 300);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for an outcome of real work, bounded by what is left of the test's own timeout. */
async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + testTimeLeft();
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Any JSON value a broken server could put in a field. */
const hostileValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -3, max: 12 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(1e308, -1e308, 1.7976931348623157e308, 2 ** 53, -0, 0.5, 1e21),
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', '5', 'abc', '__proto__', 'constructor', 'ESZ26_FUT_CME', 'S1001', '20260303-mia-1', 'Sim1', 'Other'),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('a', '__proto__', 'toString'), fc.integer(), { maxKeys: 2 }),
);

const FIELDS: Record<number, string[]> = {
  [MessageType.ORDER_UPDATE]: ['RequestID', 'TotalNumMessages', 'MessageNumber', 'Symbol', 'ServerOrderID', 'PreviousServerOrderID', 'ClientOrderID', 'OrderStatus', 'OrderUpdateReason', 'OrderType', 'BuySell', 'Price1', 'Price2', 'OrderQuantity', 'FilledQuantity', 'RemainingQuantity', 'AverageFillPrice', 'LastFillPrice', 'LastFillQuantity', 'LastFillExecutionID', 'LastFillDateTime', 'TradeAccount', 'InfoText', 'NoOrders', 'ParentServerOrderID', 'OCOLinkedOrderServerOrderID'],
  [MessageType.POSITION_UPDATE]: ['RequestID', 'TotalNumberMessages', 'MessageNumber', 'Symbol', 'Quantity', 'AveragePrice', 'TradeAccount', 'NoPositions', 'Unsolicited', 'OpenProfitLoss'],
  [MessageType.ACCOUNT_BALANCE_UPDATE]: ['RequestID', 'CashBalance', 'BalanceAvailableForNewPositions', 'AccountCurrency', 'TradeAccount', 'SecuritiesValue', 'MarginRequirement', 'NoAccountBalances', 'OpenPositionsProfitLoss', 'DailyProfitLoss', 'TradingIsDisabled', 'TotalNumberMessages', 'MessageNumber'],
  [MessageType.HISTORICAL_ORDER_FILL_RESPONSE]: ['RequestID', 'Symbol', 'ServerOrderID', 'BuySell', 'Price', 'DateTime', 'Quantity', 'UniqueExecutionID', 'TradeAccount', 'NoOrderFills'],
  [MessageType.HEARTBEAT]: ['NumDroppedMessages', 'CurrentDateTime'],
  [MessageType.USER_MESSAGE]: ['UserMessage'],
  [MessageType.ALERT_MESSAGE]: ['MessageText', 'TradeAccount'],
  [MessageType.SECURITY_DEFINITION_RESPONSE]: ['RequestID', 'Symbol', 'MinPriceIncrement', 'DisplayPriceMultiplier'],
};

/** A message of a known type whose fields are either plausible or hostile. */
const plausible: Record<string, fc.Arbitrary<unknown>> = {
  Symbol: fc.constantFrom('ESH26_FUT_CME', 'ESM26_FUT_CME', 'NQH26_FUT_CME', 'CLH26_FUT_NYM', ''),
  ClientOrderID: fc.constantFrom('20260303-mia-1', 'foreign-1', 'X', ''),
  ServerOrderID: fc.constantFrom('S1001', 'S1002', 'S9999', ''),
  ParentServerOrderID: fc.constantFrom('S1001', 'S1002', ''),
  OrderStatus: fc.integer({ min: 0, max: 11 }),
  OrderUpdateReason: fc.integer({ min: 0, max: 11 }),
  BuySell: fc.integer({ min: 0, max: 3 }),
  OrderType: fc.integer({ min: 0, max: 8 }),
  OrderQuantity: fc.integer({ min: -2, max: 10 }),
  FilledQuantity: fc.integer({ min: -2, max: 12 }),
  LastFillQuantity: fc.integer({ min: -2, max: 12 }),
  Quantity: fc.integer({ min: -12, max: 12 }),
  TradeAccount: fc.constantFrom('Sim1', 'Sim1', 'Other'),
  LastFillExecutionID: fc.constantFrom('E1', 'E2', 'E3'),
  UniqueExecutionID: fc.constantFrom('E1', 'E2', 'E4'),
};

const message: fc.Arbitrary<Raw> = fc.constantFrom(...Object.keys(FIELDS).map(Number)).chain((type) =>
  fc.record(Object.fromEntries(FIELDS[type].map((f) => [f, fc.oneof({ weight: 3, arbitrary: plausible[f] ?? hostileValue }, { weight: 2, arbitrary: hostileValue })])), { requiredKeys: [] })
    .map((fields) => ({ Type: type, ...fields }) as Raw),
);

const TEXT = new Set(['Symbol', 'ServerOrderID', 'PreviousServerOrderID', 'ClientOrderID', 'LastFillExecutionID', 'TradeAccount', 'InfoText', 'ParentServerOrderID', 'OCOLinkedOrderServerOrderID', 'AccountCurrency', 'UniqueExecutionID', 'UserMessage', 'MessageText']);
const anyNumber = fc.oneof(fc.integer({ min: -3, max: 12 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e308, -1e308, 2 ** 53, -0, 0.5, 1e21, 1.7976931348623157e308));
const anyText = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', '__proto__', 'constructor', 'hasOwnProperty', 'ESZ26_FUT_CME', 'S1001', '20260303-mia-99999999999', '20260303-mia-1', 'Sim1'));
/** Every field of the type DTC gives it (text or number), but any value: what gets past the decoder. */
const wellTyped: fc.Arbitrary<Raw> = fc.constantFrom(...Object.keys(FIELDS).map(Number)).chain((type) =>
  fc.record(Object.fromEntries(FIELDS[type].map((f) => [f, fc.oneof({ weight: 3, arbitrary: plausible[f] ?? (TEXT.has(f) ? anyText : anyNumber) }, { weight: 2, arbitrary: TEXT.has(f) ? anyText : anyNumber })])), { requiredKeys: [] })
    .map((fields) => ({ Type: type, ...fields }) as Raw),
);

function flow(port: number, extra: Record<string, unknown> = {}): Array<Record<string, unknown>> {
  return [
    { id: 'tab', type: 'tab', label: 'adv' },
    {
      id: 'cfg', type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port, handshake: false, symbol: 'ESH26_FUT_CME', heartbeatSec: 1,
      tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxConsecutiveLosses: 1000, dailyLossLimit: 1_000_000,
      maxOrderSize: 2, maxPosition: 2, maxOrdersPerMinute: 0, collarTicks: 0, ...extra,
    },
    { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [['out'], ['out'], ['out'], ['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

describe('adversarial: a hostile DTC server against sierra-order (Node-RED runtime)', function () {
  this.timeout(120_000);
  const runtime = useHostileDtcRuntime();

  async function start(extra: Record<string, unknown> = {}): Promise<{ connection: SierraConnection; order: TestNode }> {
    const server = await runtime.startDtc();
    await helper.load([configModule, orderModule, catchNode], flow(server.port, extra) as never);
    const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    await connection.whenReady(testTimeLeft());
    return { connection, order: helper.getNode('order') as TestNode };
  }

  it(`survives ${RUNS} batches of generated server messages with wrong types in every field, and sends no order of its own`, async () => {
    const { connection, order } = await start();
    const s = runtime.dtc;
    let batches = 0;
    let messages = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(message, wellTyped, wellTyped), { minLength: 1, maxLength: 12 }), async (batch) => {
        batches++;
        messages += batch.length;
        s.push(...batch);
        order.receive({ payload: 'risk' });
        await sleep(2);
        assert.deepEqual(runtime.trap.errors, [], 'nothing escaped to process level');
      }),
      { seed: SEED, numRuns: RUNS },
    );
    await sleep(50);
    assert.deepEqual(runtime.trap.errors, []);
    // Nothing the server said may make the node place an order: only cancels of orphaned exits are allowed.
    const placed = s.orderEntries().filter((m) => m.Type !== MessageType.CANCEL_ORDER);
    assert.deepEqual(placed, [], 'no order left the process on the server\'s word alone');
    process.stdout.write(`      figures hostile-messages: ${JSON.stringify({ batches, messages, cancels: s.orderEntries().length, state: connection.status().state })}\n`);
  });

  it('survives malformed, partial, giant and binary frames', async () => {
    const { connection } = await start();
    const s = runtime.dtc;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
          fc.string({ maxLength: 64 }).map((t) => `${t}\0`),
          fc.constantFrom('{"Type":301,\0', '{"Type":"301"}\0', '[301]\0', 'null\0', '{"Type":301,"F":[1,2,3]}\0', '{"Type":3,"F":"x"}\0', '\0\0\0', '{"Type":1e400}\0', '{"Type":306,"Symbol":{"__proto__":{"x":1}}}\0'),
          fc.constant(`{"Type":301,"InfoText":"${'x'.repeat(2_000_000)}"}\0`),
        ),
        async (bytes) => {
          s.pushRaw(bytes);
          await sleep(1);
          assert.deepEqual(runtime.trap.errors, []);
        },
      ),
      { seed: SEED, numRuns: 150 },
    );
    await sleep(100);
    assert.deepEqual(runtime.trap.errors, []);
    assert.ok(['ready', 'reconciling', 'connecting', 'disconnected'].includes(connection.status().state));
  });

  it('a fill for an unknown ServerOrderID, an oversized fill and a contradicting position do not open the way past max position', async () => {
    const { connection, order } = await start();
    const s = runtime.dtc;
    const caught: string[] = [];
    (helper.getNode('caught') as TestNode).on('input', (m) => caught.push(String((m.error as { message?: string } | undefined)?.message)));
    // A buy of 2 (= max position), accepted.
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 2, type: 'limit', price: 5000 } });
    const submitted = (): Raw | undefined => s.orderEntries().find((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
    await until(() => submitted() !== undefined, 'the buy left');
    const buy = submitted()!;
    const base = { Type: MessageType.ORDER_UPDATE, RequestID: 0, TradeAccount: 'Sim1', Symbol: 'ESH26_FUT_CME' };
    // The server says: the buy filled 5 of 2, a stranger order filled 3, and the position is 0.
    const landed = new Promise((resolve) => connection.once('position', resolve)); // the last of the three
    s.push(
      { ...base, ClientOrderID: buy.ClientOrderID, ServerOrderID: 'S1001', OrderStatus: OrderStatus.FILLED, OrderUpdateReason: OrderUpdateReason.ORDER_FILLED, BuySell: 1, OrderQuantity: 2, FilledQuantity: 5, LastFillQuantity: 5, LastFillPrice: 5000, LastFillExecutionID: 'EX1' },
      { ...base, ClientOrderID: 'stranger', ServerOrderID: 'S7777', OrderStatus: OrderStatus.FILLED, OrderUpdateReason: OrderUpdateReason.ORDER_FILLED, BuySell: 1, OrderQuantity: 3, FilledQuantity: 3, LastFillQuantity: 3, LastFillPrice: 5000, LastFillExecutionID: 'EX2' },
      { Type: MessageType.POSITION_UPDATE, RequestID: 0, TradeAccount: 'Sim1', Symbol: 'ESH26_FUT_CME', Quantity: 0, Unsolicited: 1 },
    );
    await landed;
    const before = s.orderEntries().length;
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    // The server's impossible fill (5 of 2) is not applied, so the buy of 2 still counts as working: the next buy is
    // refused by max position (a warning, the node's refusal), or, had the engine believed the flat position, sent.
    const warned = (): boolean => helper.log().args.some((a: unknown[]) => /risk rule "max-position"/.test(String((a[0] as { msg: unknown }).msg)));
    await until(() => s.orderEntries().length === before + 1 || warned(), 'the buy sent or refused with a reason');
    assert.ok(!caught.length, 'no error: a refusal is a warning');
    assert.deepEqual(runtime.trap.errors, []);
  });
});

describe('adversarial: a server that answers with the wrong ClientOrderID (Node-RED runtime)', function () {
  this.timeout(60_000);
  const runtime = useHostileDtcRuntime();

  it('an order the server reports under another ClientOrderID still counts against max position', async () => {
    let n = 0;
    const s = await runtime.startDtc({
      onOrder: (m, s) => {
        const answers = acceptAll(m, s);
        // The acknowledgement names a ClientOrderID the client never sent (a buggy bridge).
        if (m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER) for (const a of answers) a.ClientOrderID = `bridge-${++n}`;
        s.book.openOrders.push(...answers);
        return answers;
      },
    });
    s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Sim1' }];
    await helper.load([configModule, orderModule, catchNode], flow(s.port, { symbol: '', root: 'ES', symbolFormat: 'sierra-cme', maxPosition: 1, maxOrderSize: 1 }) as never);
    const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    await connection.whenReady(testTimeLeft());
    const order = helper.getNode('order') as TestNode;
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    // The client never hears of its own id: after the answer timeout (10 s) it looks the order up.
    await sleep(12_000);
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    await sleep(300);
    const working = s.book.openOrders.filter((o) => o.BuySell === 1).reduce((q, o) => q + Number(o.OrderQuantity), 0);
    assert.ok(working <= 1, `the broker holds ${working} working buys with max position 1`);
  });
});
