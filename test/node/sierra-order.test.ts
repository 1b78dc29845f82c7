import { strict as assert } from 'assert';
import { readFileSync } from 'fs';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import type { OrderUpdate } from '../../lib/contracts';
import type { SierraConnection } from '../../lib/sierra/connection';
import type { DtcSimulator } from '../../lib/sim/dtc';
import { OrderStatus } from '../../lib/sierra/protocol';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { nextMessage, nextWarning } from './support/messages';
import { testTimeLeft } from '../support/budget';
import { deployFull } from '../support/deploy';

// The core Catch node, so errors are caught as a flow would catch them.
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

interface Msg {
  topic?: string;
  payload: Record<string, unknown>;
  error?: { message: string };
}
type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Msg) => void): void };

/** A market that barely moves (1 simulated ms per real s): resting orders rest, market orders fill at the touch. */
const FROZEN = { simSpeed: 0.001 };
/** No trading-hours, cooldown or trade-count limits in the way unless a test sets them. */
const OPEN_LIMITS = { tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 100, maxOrderSize: 5, maxPosition: 5, maxOrdersPerMinute: 0, collarTicks: 40 };

function flow(config: Record<string, unknown>, order: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'cfg', type: 'sierra-config', mode: 'simulator', heartbeatSec: 1, simSeed: 7, ...config },
    { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'limit', target: '1', ...order, wires: [['updates'], ['fills'], ['positions'], ['accounts']] },
    { id: 'updates', type: 'helper', z: 'tab' },
    { id: 'fills', type: 'helper', z: 'tab' },
    { id: 'positions', type: 'helper', z: 'tab' },
    { id: 'accounts', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

interface Loaded {
  order: TestNode;
  updates: TestNode;
  fills: TestNode;
  positions: TestNode;
  caught: TestNode;
  connection: SierraConnection;
  sim: DtcSimulator;
  statuses: NodeStatus[];
}

async function load(config: Record<string, unknown>, order: Record<string, unknown> = {}): Promise<Loaded> {
  await helper.load([configModule, orderModule, catchNode], flow(config, order));
  const get = (id: string) => helper.getNode(id) as TestNode;
  const orderNode = get('order');
  const statuses: NodeStatus[] = [];
  const origStatus = orderNode.status.bind(orderNode);
  orderNode.status = (s: NodeStatus) => {
    statuses.push(s);
    return origStatus(s);
  };
  const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
  await connection.whenReady(testTimeLeft());
  const sim = connection.simulator;
  assert.ok(sim, 'simulator mode starts a simulator');
  return { order: orderNode, updates: get('updates'), fills: get('fills'), positions: get('positions'), caught: get('caught'), connection, sim, statuses };
}

/** Polls `condition` every 10 ms for at most `timeoutMs`; resolves with the time it took, or rejects. */
async function until(condition: () => boolean, timeoutMs = testTimeLeft()): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

const update = (m: Msg): OrderUpdate => m.payload as unknown as OrderUpdate;
const last = (l: Loaded): number => {
  const price = l.connection.lastTrade();
  assert.ok(price !== null, 'the simulated market has traded');
  return price;
};
const WORKING: readonly OrderStatus[] = [OrderStatus.OPEN, OrderStatus.PENDING_OPEN, OrderStatus.PENDING_CHILD, OrderStatus.PARTIALLY_FILLED];
const working = (sim: DtcSimulator) => sim.orders().filter((o) => WORKING.includes(o.status));
const position = (sim: DtcSimulator): number => sim.positions().reduce((sum, p) => sum + p.quantity, 0);

async function denial(l: Loaded, payload: Record<string, unknown>, rule: string): Promise<void> {
  const warned = nextWarning(l.order);
  let errors = 0;
  l.caught.on('input', () => errors++);
  const before = l.sim.orders().length;
  l.order.receive({ topic: 'order', payload });
  assert.match(await warned, new RegExp(`risk rule "${rule}"`));
  assert.equal(errors, 0, 'an expected refusal is a warning, not an error for a Catch node');
  assert.equal(l.sim.orders().length, before, 'a denied order never reaches Sierra Chart');
}

describe('sierra-order node (against the in-process DTC simulator)', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('logs on and shows the connection ready with the position and P&L', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    assert.equal(l.connection.status().state, 'ready');
    assert.equal(l.sim.sessionCount(), 1);
    await until(() => l.statuses.some((s) => s.fill === 'green' && /flat/.test(String(s.text))));
  });

  it('places a market buy, reports it filled, the fill, and the new position', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    const filled = nextMessage(l.updates, (m) => update(m).status === 'filled');
    const fill = nextMessage(l.fills);
    const pos = nextMessage(l.positions, (m) => m.payload.quantity === 1);
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    assert.equal(update(await filled).side, 'buy');
    assert.equal((await fill).payload.quantity, 1);
    assert.equal((await pos).topic, 'position');
    assert.equal(position(l.sim), 1);
  });

  it('sells at the market, and a limit order rests until it is modified and cancelled', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    const sold = nextMessage(l.updates, (m) => update(m).status === 'filled' && update(m).side === 'sell');
    l.order.receive({ topic: 'order', payload: { action: 'sell', quantity: 1, type: 'market' } });
    await sold;
    assert.equal(position(l.sim), -1);

    const price = last(l) - 10 * 0.25;
    const resting = nextMessage(l.updates, (m) => update(m).status === 'working');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price } });
    const id = update(await resting).clientOrderId;
    assert.equal(working(l.sim).length, 1);

    const modified = nextMessage(l.updates, (m) => update(m).clientOrderId === id && update(m).status === 'working' && update(m).quantity === 2);
    l.order.receive({ topic: 'order', payload: { action: 'modify', clientOrderId: id, quantity: 2, price: price - 0.25 } });
    await modified;
    assert.equal(working(l.sim)[0].price1, price - 0.25);

    const cancelled = nextMessage(l.updates, (m) => update(m).clientOrderId === id && update(m).status === 'cancelled');
    l.order.receive({ topic: 'order', payload: { action: 'cancel', clientOrderId: id } });
    await cancelled;
    assert.equal(working(l.sim).length, 0);
  });

  it('cancel-all cancels every working order and flatten closes the position', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    const bought = nextMessage(l.updates, (m) => update(m).status === 'filled');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 2, type: 'market' } });
    await bought;
    const p = last(l);
    for (const price of [p - 2, p - 3]) {
      const w = nextMessage(l.updates, (m) => update(m).status === 'working');
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price } });
      await w;
    }
    assert.equal(working(l.sim).length, 2);
    l.order.receive({ topic: 'order', payload: { action: 'cancel-all' } });
    await until(() => working(l.sim).length === 0);

    l.order.receive({ topic: 'order', payload: { action: 'flatten' } });
    await until(() => position(l.sim) === 0);
  });

  it('turns a LONG signal into a bracket: entry filled, target and stop working, then one of them fills', async () => {
    const l = await load({ simSpeed: 60, ...OPEN_LIMITS }, { entry: 'market' });
    const p = last(l);
    const childrenWorking = new Set<string>();
    const updates: OrderUpdate[] = [];
    l.updates.on('input', (m: Msg) => {
      updates.push(update(m));
      if (update(m).status === 'working' && update(m).side === 'sell') childrenWorking.add(update(m).clientOrderId);
    });
    const exitFilled = nextMessage(l.updates, (m) => update(m).side === 'sell' && update(m).status === 'filled');
    l.order.receive({ topic: 'signal', payload: { signal: 'LONG', entry: p, stop: p - 1, targets: [p + 1, p + 2], score: 0.4 } });
    await exitFilled;
    assert.equal(childrenWorking.size, 2, 'both children worked after the parent filled');
    assert.ok(updates.some((u) => u.side === 'buy' && u.status === 'filled'), 'the entry filled');
    await until(() => position(l.sim) === 0 && working(l.sim).length === 0);
    assert.equal(l.sim.orders().length, 3, 'one parent and one OCO pair, nothing else');
  });

  it('logs "order sent" once per bracket leg, and stamps updates, fills and positions with the simulated market clock', async () => {
    const l = await load({ simSpeed: 60, ...OPEN_LIMITS }, { entry: 'market' });
    const stamps: { what: string; t: number; to: number }[] = [];
    const stamp = (what: string) => (m: Msg): void => {
      stamps.push({ what, t: Number(m.payload.t), to: l.connection.now() });
    };
    const fromBefore = l.connection.now();
    l.updates.on('input', stamp('order-update'));
    l.fills.on('input', stamp('fill'));
    l.positions.on('input', stamp('position'));
    const p = last(l);
    const exitFilled = nextMessage(l.updates, (m) => update(m).side === 'sell' && update(m).status === 'filled');
    const flat = nextMessage(l.positions, (m) => m.payload.quantity === 0);
    l.order.receive({ topic: 'signal', payload: { signal: 'LONG', entry: p, stop: p - 1, targets: [p + 1, p + 2], score: 0.4 } });
    await exitFilled;
    await flat;

    const sent = helper.log().args.map((a) => a[0] as { type?: string; level?: number; msg?: unknown })
      .filter((e) => e.type === 'sierra-order' && /^Sierra order sent/.test(String(e.msg)));
    const legs = l.sim.orders().map((o) => o.clientOrderId);
    assert.equal(legs.length, 3, 'one entry and an OCO pair');
    for (const id of legs) assert.equal(sent.filter((e) => String(e.msg).includes(`(${id})`)).length, 1, `"order sent" logged once for ${id}`);

    // In simulator mode the connection's clock is the market's: every time sits between the market time before the
    // signal and the market time it was received, whatever output it left on, and fills come from the same clock.
    for (const kind of ['order-update', 'fill', 'position']) assert.ok(stamps.some((x) => x.what === kind), `a ${kind} came out`);
    for (const x of stamps) assert.ok(x.t >= fromBefore && x.t <= x.to, `${x.what}.t ${new Date(x.t).toISOString()} is on the market clock (${new Date(x.to).toISOString()})`);
  });

  it('ignores NO_SIGNAL: nothing reaches Sierra Chart and no error', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    let errors = 0;
    l.caught.on('input', () => errors++);
    l.order.receive({ topic: 'signal', payload: { signal: 'NO_SIGNAL', entry: null, stop: null, targets: [] } });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(l.sim.orders().length, 0);
    assert.equal(errors, 0);
  });

  describe('risk rules deny at their edge and name the rule', () => {
    it('max-order-size: the maximum passes, one more is refused', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, maxOrderSize: 2 });
      const price = last(l) - 5;
      const ok = nextMessage(l.updates, (m) => update(m).status === 'working');
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 2, type: 'limit', price } });
      await ok;
      await denial(l, { action: 'buy', quantity: 3, type: 'limit', price }, 'max-order-size');
    });

    it('max-order-size also holds for a modify that enlarges a working order', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, maxOrderSize: 2 });
      const ok = nextMessage(l.updates, (m) => update(m).status === 'working');
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: last(l) - 5 } });
      const id = update(await ok).clientOrderId;
      const warned = nextWarning(l.order);
      l.order.receive({ topic: 'order', payload: { action: 'modify', clientOrderId: id, quantity: 3 } });
      assert.match(await warned, /risk rule "max-order-size"/);
      assert.equal(working(l.sim)[0].quantity, 1, 'the working order is unchanged');
    });

    it('max-position: working orders count; the order past the maximum is refused', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, maxPosition: 2 });
      const price = last(l) - 5;
      const ok = nextMessage(l.updates, (m) => update(m).status === 'working');
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 2, type: 'limit', price } });
      await ok;
      await denial(l, { action: 'buy', quantity: 1, type: 'limit', price }, 'max-position');
    });

    it('price-collar: a limit beyond the collar around the last trade is refused', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, collarTicks: 8 });
      await denial(l, { action: 'buy', quantity: 1, type: 'limit', price: last(l) - 20 * 0.25 }, 'price-collar');
    });

    it('max-orders-per-minute: the next order after the cap is refused', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, maxOrdersPerMinute: 2 });
      const price = last(l) - 5;
      for (let i = 0; i < 2; i++) {
        const ok = nextMessage(l.updates, (m) => update(m).status === 'working');
        l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price } });
        await ok;
      }
      await denial(l, { action: 'buy', quantity: 1, type: 'limit', price }, 'max-orders-per-minute');
    });

    it('max-trades: a new trade after the last one allowed today is refused', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, maxTradesPerDay: 1 });
      const filled = nextMessage(l.fills);
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      await filled; // the fill output comes after the risk rules counted the trade
      // Flat as the node sees it (its position output comes after the risk rules took the position), not only at
      // Sierra Chart: while the node still holds the long, this sell would close it and rightly pass.
      const flat = nextMessage(l.positions, (m) => m.payload.quantity === 0);
      l.order.receive({ topic: 'order', payload: { action: 'flatten' } });
      await flat;
      await until(() => position(l.sim) === 0);
      await denial(l, { action: 'sell', quantity: 1, type: 'market' }, 'max-trades');
    });

    it('cooldown: a new position inside the cooldown after a trade is refused', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, cooldownMin: 5 });
      const filled = nextMessage(l.fills);
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      await filled; // the fill output comes after the risk rules started the cooldown
      await denial(l, { action: 'buy', quantity: 1, type: 'market' }, 'cooldown');
    });

    it('trading-hours: outside the window nothing opens', async () => {
      // The simulated market starts at 10:00 New York: a 13:00–14:00 window is closed.
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, tradingHoursEnabled: true, tradingStart: '13:00', tradingEnd: '14:00' });
      await denial(l, { action: 'buy', quantity: 1, type: 'market' }, 'trading-hours');
    });

    it('kill-switch set to HALTED in the config refuses every new order', async () => {
      const l = await load({ ...FROZEN, ...OPEN_LIMITS, killSwitch: 'HALTED' });
      await denial(l, { action: 'buy', quantity: 1, type: 'market' }, 'kill-switch');
      await until(() => l.statuses.some((s) => s.fill === 'red' && /HALTED/.test(String(s.text))));
    });
  });

  it('with trading disabled sends nothing and says so through done(err)', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS, tradingEnabled: false });
    const caught = nextMessage(l.caught);
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    assert.match((await caught).error?.message ?? '', /Trading is disabled/);
    const signalCaught = nextMessage(l.caught);
    l.order.receive({ topic: 'signal', payload: { signal: 'SHORT', entry: 6000, stop: 6001.75, targets: [5996.5, 5994.75] } });
    assert.match((await signalCaught).error?.message ?? '', /Trading is disabled/);
    assert.equal(l.sim.orders().length, 0, 'nothing reached the simulator');
    assert.ok(l.statuses.some((s) => /trading off/.test(String(s.text))));
  });

  it('kill halts, cancels working orders and flattens within 1 s; resume trades again', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    const filled = nextMessage(l.updates, (m) => update(m).status === 'filled');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 2, type: 'market' } });
    await filled;
    const resting = nextMessage(l.updates, (m) => update(m).status === 'working');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: last(l) - 3 } });
    await resting;
    assert.equal(position(l.sim), 2);
    assert.equal(working(l.sim).length, 1);

    l.order.receive({ topic: 'kill' });
    await until(() => working(l.sim).length === 0 && position(l.sim) === 0);
    assert.equal(l.connection.status().killSwitch, 'HALTED');
    await denial(l, { action: 'buy', quantity: 1, type: 'market' }, 'kill-switch');

    l.order.receive({ payload: { action: 'resume' } });
    const again = nextMessage(l.updates, (m) => update(m).status === 'filled');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    await again;
    assert.equal(position(l.sim), 1);
  });

  it('stays HALTED across a redeploy after a kill, until resumed', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    l.order.receive({ topic: 'kill' });
    await until(() => l.connection.status().killSwitch === 'HALTED');
    await deployFull(flow({ ...FROZEN, ...OPEN_LIMITS }));
    const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    assert.notEqual(connection, l.connection, 'a new connection after the redeploy');
    assert.equal(connection.status().killSwitch, 'HALTED');
    (helper.getNode('order') as TestNode).receive({ topic: 'resume' });
    await until(() => connection.status().killSwitch === 'ACTIVE');
  });

  it('after a dropped connection reconciles, then a new order goes out once', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    const first = nextMessage(l.updates, (m) => update(m).status === 'working');
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: last(l) - 4 } });
    const firstId = update(await first).clientOrderId;
    // From the status events: with a full-jitter backoff the reconnect can be over before a poll would see it down.
    const wentDown = new Promise<void>((resolve) => {
      const on = (status: { state: string }): void => {
        if (status.state === 'ready') return;
        l.connection.off('status', on);
        resolve();
      };
      l.connection.on('status', on);
    });
    l.sim.dropConnections();
    await wentDown;
    await l.connection.whenReady(testTimeLeft());
    const second = nextMessage(l.updates, (m) => update(m).status === 'working' && update(m).clientOrderId !== firstId);
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: last(l) - 5 } });
    await second;
    await new Promise((r) => setTimeout(r, 100));
    const ids = l.sim.orders().map((o) => o.clientOrderId);
    assert.equal(ids.length, 2, 'exactly the two orders sent, none re-sent');
    assert.equal(new Set(ids).size, 2, 'no ClientOrderID reused');
  });

  it('reports malformed input to a Catch node with a clear error and a red ring', async () => {
    const l = await load({ ...FROZEN, ...OPEN_LIMITS });
    const caught = nextMessage(l.caught);
    l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1 } });
    assert.match((await caught).error?.message ?? '', /needs type market, limit, stop, stop-limit: none was given/);
    const caught2 = nextMessage(l.caught);
    l.order.receive({ topic: 'weather', payload: 'sunny' });
    assert.match((await caught2).error?.message ?? '', /is not handled/);
    assert.ok(l.statuses.some((s) => s.fill === 'red' && s.shape === 'ring'));
    assert.equal(l.sim.orders().length, 0);
  });

  it('the example flow deploys on the simulator and its orders go through', async () => {
    const example = JSON.parse(readFileSync(path.join(__dirname, '../../flows/nodes/sierra-order.json'), 'utf8')) as Record<string, unknown>[];
    const flowNodes = example
      .filter((n) => n.type !== 'inject')
      .map((n) => (n.type === 'debug' ? { id: n.id, type: 'helper', z: n.z } : n.type === 'sierra-config' ? { ...n, simSpeed: 0.001 } : n));
    const buy = example.find((n) => n.id === 'sierra-example-buy');
    assert.ok(buy);
    await helper.load([configModule, orderModule], flowNodes as Parameters<typeof helper.load>[1]);
    const connection = await (helper.getNode('sierra-example-config') as unknown as SierraConfigNode).connection();
    await connection.whenReady(testTimeLeft());
    const updates = helper.getNode('sierra-example-updates') as TestNode;
    const filled = nextMessage(updates, (m) => update(m).status === 'filled');
    (helper.getNode('sierra-example-order') as TestNode).receive({ topic: buy.topic, payload: JSON.parse(String(buy.payload)) });
    await filled;
    assert.equal(position(connection.simulator as DtcSimulator), 1);
  });
});
