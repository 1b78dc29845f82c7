import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import type { OrderUpdate } from '../../lib/contracts';
import type { SierraConnection } from '../../lib/sierra/connection';
import type { DtcSimulator } from '../../lib/sim/dtc';
import { OrderStatus } from '../../lib/sierra/protocol';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { nextMessage } from './support/messages';
import { testTimeLeft } from '../support/budget';

// sierra-order on the in-process DTC simulator: a resting buy limit far below the market, then losses take the day to
// its daily loss limit: the limit is cancelled AT THE SIMULATOR (not only refused next time), with one warning.

helper.init(require.resolve('node-red'));

interface Msg {
  topic?: string;
  payload: Record<string, unknown>;
}
type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Msg) => void): void; warn: (m: unknown) => void };

/** A market that barely moves: the resting limit rests, market orders fill at the touch. */
const FROZEN = { simSpeed: 0.001 };
const LIMITS = { tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 100, maxOrderSize: 5, maxPosition: 5, maxOrdersPerMinute: 0, collarTicks: 40 };
const WORKING: readonly OrderStatus[] = [OrderStatus.OPEN, OrderStatus.PENDING_OPEN, OrderStatus.PENDING_CHILD, OrderStatus.PARTIALLY_FILLED];

async function load(config: Record<string, unknown>, orderSettings: Record<string, unknown> = {}) {
  const flow = [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'cfg', type: 'sierra-config', mode: 'simulator', heartbeatSec: 1, simSeed: 7, ...config },
    { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'limit', target: '1', ...orderSettings, wires: [['updates'], [], [], []] },
    { id: 'updates', type: 'helper', z: 'tab' },
  ];
  await helper.load([configModule, orderModule], flow);
  const order = helper.getNode('order') as TestNode;
  const statuses: NodeStatus[] = [];
  const origStatus = order.status.bind(order);
  order.status = (s: NodeStatus) => {
    statuses.push(s);
    return origStatus(s);
  };
  const connection: SierraConnection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
  await connection.whenReady(testTimeLeft());
  const sim = connection.simulator as DtcSimulator;
  const warnings: string[] = [];
  connection.on('risk-warning', (t: string) => warnings.push(t));
  return { order, updates: helper.getNode('updates') as TestNode, connection, sim, statuses, warnings };
}

async function until(condition: () => boolean, timeoutMs = testTimeLeft()): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const update = (m: Msg): OrderUpdate => m.payload as unknown as OrderUpdate;

describe('sierra-order: a risk stop cancels the resting entries at Sierra Chart (DTC simulator)', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('a resting buy limit far below the market is cancelled at the simulator once losses reach the daily loss limit', async () => {
    // $10 daily loss limit: one round trip at the market (bought at the ask, sold at the bid) loses more.
    const l = await load({ ...FROZEN, ...LIMITS, dailyLossLimit: 10 });
    const last = l.connection.lastTrade();
    assert.ok(last !== null);
    const resting = nextMessage(l.updates, (m: Msg) => update(m).status === 'working' && update(m).side === 'buy');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: last - 8 } });
    const restingId = update(await resting).clientOrderId;
    const bought = nextMessage(l.updates, (m: Msg) => update(m).status === 'filled' && update(m).side === 'buy');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    await bought;
    const sold = nextMessage(l.updates, (m: Msg) => update(m).status === 'filled' && update(m).side === 'sell');
    l.order.receive({ topic: 'order', payload: { action: 'sell', quantity: 1, type: 'market' } });
    await sold;
    await until(() => l.connection.riskState().dailyPnl <= -10);
    // Cancelled at Sierra Chart, without any message from the flow.
    await until(() => !l.sim.orders().some((o) => o.clientOrderId === restingId && WORKING.includes(o.status)));
    await until(() => l.warnings.some((w) => /Risk stop "daily-loss"/.test(w)));
    const warning = l.warnings.find((w) => /Risk stop "daily-loss"/.test(w)) ?? '';
    assert.match(warning, new RegExp(`cancelled \\(${restingId}\\)`));
    assert.equal(l.warnings.filter((w) => /Risk stop/.test(w)).length, 1, 'one warning line');
    await until(() => l.statuses.some((s) => /^daily-loss: 1 cancelled$/.test(String(s.text))));
    assert.equal(l.connection.riskEngine.openOrders().length, 0, 'the engine counts no working entry any more');
  });

  it('a signal entry still unfilled after "Cancel an unfilled signal entry after (min)" of MARKET time is cancelled, with an info line', async () => {
    // The simulated market runs 60× real time: half a market minute passes in about half a second.
    const l = await load({ simSpeed: 60, ...LIMITS }, { signalEntryExpiryMin: 0.5 });
    const infos: string[] = [];
    const origLog = l.order.log.bind(l.order);
    l.order.log = (m: unknown) => {
      infos.push(String(m));
      return origLog(m);
    };
    const p = l.connection.lastTrade();
    assert.ok(p !== null);
    const entry = Math.round((p - 8) * 4) / 4;
    const resting = nextMessage(l.updates, (m: Msg) => update(m).status === 'working' && update(m).side === 'buy');
    const sentAt = l.connection.now();
    l.order.receive({ topic: 'signal', payload: { signal: 'LONG', entry, stop: entry - 2, targets: [entry + 4, entry + 6] } });
    const id = update(await resting).clientOrderId;
    const cancelled = nextMessage(l.updates, (m: Msg) => update(m).clientOrderId === id && update(m).status === 'cancelled');
    await cancelled;
    assert.ok(l.connection.now() - sentAt >= 30_000, 'not before half a minute of market time');
    await until(() => infos.some((t) => t.includes(`Signal entry ${id}`)));
    assert.match(infos.find((t) => t.includes(`Signal entry ${id}`)) ?? '', /not filled after [\d.]+ min of market time \(limit 0\.5 min\): cancelled/);
    assert.ok(!l.sim.orders().some((o) => o.clientOrderId === id && WORKING.includes(o.status)), 'cancelled at the simulator');
  });

  it('an order message (not a signal) never expires', async () => {
    // The market runs at 60×: between reading the last trade and the order's risk check it moves, so the collar gets
    // room (a limit 9.5 points under the market with a 10-point collar was refused by it in 1 run of 4).
    const l = await load({ simSpeed: 60, ...LIMITS, collarTicks: 200 }, { signalEntryExpiryMin: 0.1 });
    const p = l.connection.lastTrade();
    assert.ok(p !== null);
    const resting = nextMessage(l.updates, (m: Msg) => update(m).status === 'working' && update(m).side === 'buy');
    const sentAt = l.connection.now();
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: Math.round((p - 20) * 4) / 4 } });
    const id = update(await resting).clientOrderId;
    await until(() => l.connection.now() - sentAt > 60_000);
    await new Promise((r) => setTimeout(r, 1100)); // one more poll of the expiry
    assert.ok(l.sim.orders().some((o) => o.clientOrderId === id && WORKING.includes(o.status)), 'still working');
  });
});
