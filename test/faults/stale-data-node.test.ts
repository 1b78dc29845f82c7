// sierra-order's stale-data guard in the Node-RED runtime, against a live-mode sierra-config pointed at the DTC
// simulator (so the only market data the node sees is what the flow wires into it).
// The connection's clock (Date.now in live mode) is faked once the connection is ready: it stands still unless the
// test moves it, so the age of the data is what the test says, however slow the machine; timers and sockets stay real.
import { strict as assert } from 'assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import helper from 'node-red-node-test-helper';
import type { SierraConnection } from '../../lib/sierra/connection';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { SYMBOL, TestMarket } from '../unit/sierra/support/harness';
import { nextMessage, nextWarning } from '../node/support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

interface Msg {
  topic?: string;
  payload: Record<string, unknown>;
  error?: { message: string };
}
type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Msg) => void): void };

const STALE_SEC = 0.3;
const LIMITS = { tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 100, maxOrderSize: 5, maxPosition: 5, maxOrdersPerMinute: 0, collarTicks: 40 };


describe('stale market data blocks new entries in sierra-order (Node-RED runtime, live-mode connection)', function () {
  this.timeout(10_000);
  let market: TestMarket;
  let sim: DtcSimulator;
  let order: TestNode;
  let updates: TestNode;
  let caught: TestNode;
  let connection: SierraConnection;
  let clock: FakeTimers.Clock | undefined;
  /** Lets `ms` of the connection's clock pass (nothing else: no timer runs on it). */
  const elapse = (ms: number): void => clock!.setSystemTime(clock!.now + ms);

  beforeEach(async () => {
    market = new TestMarket();
    sim = await startDtcSimulator({ market, host: '127.0.0.1', port: 0, symbol: SYMBOL });
    await helper.startServer();
    const flow = [
      { id: 'tab', type: 'tab', label: 'stale' },
      { id: 'cfg', type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port: sim.port, symbol: SYMBOL, heartbeatSec: 1, ...LIMITS },
      { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', staleAfterSec: STALE_SEC, wires: [['updates'], [], [], []] },
      { id: 'updates', type: 'helper', z: 'tab' },
      { id: 'catcher', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'tab' },
    ];
    await helper.load([configModule, orderModule, catchNode], flow);
    order = helper.getNode('order') as TestNode;
    updates = helper.getNode('updates') as TestNode;
    caught = helper.getNode('caught') as TestNode;
    connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    await connection.whenReady(5000);
    clock = FakeTimers.install({ toFake: ['Date'], now: Date.now() });
  });

  afterEach(async () => {
    clock?.uninstall();
    clock = undefined;
    await helper.unload();
    await helper.stopServer();
    await sim.close();
  });

  // The tick names the contract traded: the price collar only compares a price with the last trade of the same contract.
  const tick = (price = 6000) => order.receive({ topic: 'tick', payload: { symbol: SYMBOL, t: Date.now(), price, size: 1 } });
  const buy = (quantity = 1) => order.receive({ topic: 'order', payload: { action: 'buy', quantity, type: 'market' } });

  async function refused(send: () => void): Promise<string> {
    const before = sim.orders().length;
    let errors = 0;
    const count = () => errors++;
    caught.on('input', count);
    const warned = nextWarning(order);
    send();
    const message = await warned;
    caught.removeListener('input', count);
    assert.equal(errors, 0, 'an expected refusal is one warning, not an error for a Catch node');
    assert.equal(sim.orders().length, before, 'a refused entry never reaches Sierra Chart');
    return message;
  }

  it('refuses an entry before any market data has arrived, and accepts it right after a tick', async () => {
    assert.equal(connection.marketDataAgeMs(), null);
    assert.match(await refused(() => buy()), /risk rule "stale-data": no market data .* has arrived yet/);
    tick();
    const accepted = nextMessage(updates, (m) => m.payload.status === 'filled');
    buy();
    await accepted;
    assert.equal(sim.orders().length, 1);
  });

  it('blocks entries once no tick, quote or bar arrived for the setting, saying how old the data is; a bar or quote lifts it', async () => {
    tick();
    elapse(STALE_SEC * 1000 - 1);
    const fresh = nextMessage(updates, (m) => m.payload.status === 'filled');
    buy();
    await fresh;
    elapse(1);
    const message = await refused(() => buy());
    assert.match(message, /arrived 0\.3 s ago \(limit 0\.3 s\)/, "stale at the setting, never before; the message gives the data's age");
    // A signal entry is refused the same way.
    const signal = { signal: 'LONG', entry: 6000, stop: 5998, targets: [6004, 6006] };
    assert.match(await refused(() => order.receive({ topic: 'signal', payload: signal })), /stale-data/);

    order.receive({ topic: 'bar', payload: { symbol: 'ES', t: Date.now() - 60_000, tf: '1min', o: 6000, h: 6001, l: 5999, c: 6000, v: 10 } });
    const filled = nextMessage(updates, (m) => m.payload.status === 'filled');
    buy();
    await filled;

    elapse(STALE_SEC * 1000);
    assert.match(await refused(() => buy()), /stale-data/);
    order.receive({ topic: 'quote', payload: { symbol: 'ES', conid: 1, t: Date.now(), last: 6000, bid: 5999.75, ask: 6000, bidSize: 1, askSize: 1, volume: 1, delayed: false } });
    const again = nextMessage(updates, (m) => m.payload.status === 'filled');
    buy();
    await again;
  });

  it('judges market data by its own time: a tick stamped hours ago refreshes nothing, one from the future is refused', async () => {
    order.receive({ topic: 'tick', payload: { symbol: 'ES', t: Date.now() - 3 * 3_600_000, price: 6000, size: 1 } });
    assert.match(await refused(() => buy()), /risk rule "stale-data": market data is stale: the last tick, quote or bar arrived 180 min \d+ s ago/);
    const future = nextMessage(caught);
    order.receive({ topic: 'tick', payload: { symbol: 'ES', t: Date.now() + 60_000, price: 6000, size: 1 } });
    assert.match((await future).error?.message ?? '', /ahead of the market clock/);
    assert.match(await refused(() => buy()), /stale-data/, 'the future tick did not make the feed fresh');
    tick();
    const filled = nextMessage(updates, (m) => m.payload.status === 'filled');
    buy();
    await filled;
  });

  it('still lets the trader reduce, cancel and flatten while data is stale', async () => {
    tick();
    const filled = nextMessage(updates, (m) => m.payload.status === 'filled');
    buy(2);
    await filled;
    elapse(STALE_SEC * 1000);
    assert.match(await refused(() => buy()), /stale-data/);
    const reduced = nextMessage(updates, (m) => m.payload.status === 'filled' && m.payload.side === 'sell');
    order.receive({ topic: 'order', payload: { action: 'sell', quantity: 1, type: 'market' } });
    await reduced;
    const flat = nextMessage(updates, (m) => m.payload.status === 'filled' && m.payload.side === 'sell');
    order.receive({ topic: 'order', payload: { action: 'flatten' } });
    await flat;
    const position = sim.positions().reduce((s, p) => s + p.quantity, 0);
    assert.equal(position, 0);
  });

  it('refuses a modify that enlarges a resting entry while data is stale, but lets its price change', async () => {
    tick();
    const resting = nextMessage(updates, (m) => m.payload.status === 'working');
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5995 } });
    const id = String((await resting).payload.clientOrderId);
    elapse(STALE_SEC * 1000);
    const warned = nextWarning(order);
    order.receive({ topic: 'order', payload: { action: 'modify', clientOrderId: id, quantity: 2 } });
    assert.match(await warned, /risk rule "stale-data"/);
    assert.equal(sim.orders().find((o) => o.clientOrderId === id)?.quantity, 1, 'the order at Sierra is unchanged');
    const repriced = nextMessage(updates, (m) => m.payload.clientOrderId === id && m.payload.status === 'working');
    order.receive({ topic: 'order', payload: { action: 'modify', clientOrderId: id, price: 5994 } });
    await repriced;
  });

  it("takes ibkr-quote's gap message without an error and without counting it as data", async () => {
    order.receive({ topic: 'gap', payload: { from: Date.now() - 1000, to: Date.now(), reason: 'socket closed', subscriptions: ['smd+1'] } });
    assert.match(await refused(() => buy()), /no market data .* has arrived yet/);
  });

  it('refuses a malformed bar with a clear error instead of counting it as data', async () => {
    const err = nextMessage(caught);
    order.receive({ topic: 'bar', payload: { t: Date.now(), c: 'n/a' } });
    assert.match((await err).error?.message ?? '', /bar message needs/);
    assert.equal(connection.marketDataAgeMs(), null);
  });
});

describe('stale-data guard in simulator mode', function () {
  this.timeout(10_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('takes the simulated market as the feed: fresh from the start, no wiring needed', async () => {
    const flow = [
      { id: 'tab', type: 'tab', label: 'sim' },
      { id: 'cfg', type: 'sierra-config', mode: 'simulator', heartbeatSec: 1, simSeed: 3, ...LIMITS },
      { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', wires: [['updates'], [], [], []] },
      { id: 'updates', type: 'helper', z: 'tab' },
    ];
    await helper.load([configModule, orderModule], flow);
    const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    await connection.whenReady(5000);
    const age = connection.marketDataAgeMs();
    assert.ok(age !== null && age < 10_000, `the market counts as fresh data (age ${age} ms)`);
    const filled = nextMessage(helper.getNode('updates') as TestNode, (m) => m.payload.status === 'filled');
    (helper.getNode('order') as TestNode).receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    await filled;
  });
});
