// Issue 11: "kill switch ... done in < 1 s on the simulators", on IBKR whose live-orders read is limited to one per
// 5 s. In the Node-RED runtime, the simulator behind the recording proxy: a kill pressed right after a live-orders
// read (an account poll) leaves the account flat, with no working order, before IBKR's next live-orders slot — the
// cancels and the close do not wait for it; the sweep read comes after. The wall-clock figure is printed, not asserted
// (a loaded machine); what is asserted is the order of events on the wire and in IBKR's book.
import { strict as assert } from 'assert';
import os from 'os';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { findEngine, resetAccountsForTest } from '../../lib/trading/accounts';
import { adversaryFlow, startRecorder, trapCrashes, until, type Recorder } from './support/ibkr-recorder';

const catchNode = require('@node-red/nodes/core/common/25-catch.js') as typeof configModule;
helper.init(require.resolve('node-red'));

type TestNode = Node & { receive(msg: object): void };
const OPEN = ['PendingSubmit', 'PreSubmitted', 'Submitted'];
const isLiveOrdersRead = (r: { method: string; path: string }): boolean => r.method === 'GET' && r.path.endsWith('/iserver/account/orders');

describe('IBKR kill switch right after a live-orders read (Node-RED runtime, simulator)', function () {
  this.timeout(120_000);
  let rec: Recorder;
  let crashes: ReturnType<typeof trapCrashes>;
  beforeEach(async () => {
    crashes = trapCrashes();
    resetAccountsForTest();
    rec = await startRecorder({ cancelDelayMs: 1 });
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await rec.close();
    resetAccountsForTest();
    crashes.stop();
    assert.deepEqual(crashes.errors, [], 'nothing escaped to the process');
  });

  it('leaves the account flat with no working order before the next live-orders slot; the sweep reads after', async () => {
    await helper.load([configModule, orderModule, catchNode], adversaryFlow(rec.baseUrl));
    const connection = await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
    await until(() => findEngine('ibkr', 'DU1234567')?.reconciled === true, 30_000, 'the account engine reconciled');
    const a = helper.getNode('a') as TestNode;
    const last = Math.round(rec.sim.market.esQuote().last * 4) / 4;
    // Long 1 with its OCO exits working, and a resting buy (max position 2).
    a.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market', bracket: { stop: last - 20, targets: [last + 20] }, clientOrderId: 'kf-1' } });
    await until(() => rec.sim.control.book().positions.length === 1 && rec.sim.control.book().orders.filter((o) => OPEN.includes(o.status)).length === 2, 30_000, 'long 1 with two exits');
    a.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: last - 40, clientOrderId: 'kf-2' } });
    await until(() => rec.sim.control.book().orders.filter((o) => OPEN.includes(o.status)).length === 3, 30_000, 'the resting buy');

    // An account poll reads the live orders: IBKR's next live-orders slot is 5 s away.
    await connection.client.liveOrders();
    const before = rec.requests.length;
    const pressed = performance.now();
    a.receive({ topic: 'kill' });
    const flatNow = (): boolean => rec.sim.control.book().positions.length === 0 && rec.sim.control.book().orders.every((o) => !OPEN.includes(o.status));
    await until(flatNow, 30_000, 'flat with no working order');
    const flatMs = performance.now() - pressed;
    const atFlat = rec.requests.slice(before);
    assert.equal(atFlat.filter(isLiveOrdersRead).length, 0, 'flat before any new live-orders read: the kill did not wait for the slot');
    assert.ok(atFlat.some((r) => r.method === 'DELETE'), 'cancelled');
    // The sweep comes as soon as the slot frees, and finds nothing left.
    await until(() => rec.requests.slice(before).some(isLiveOrdersRead), 30_000, 'the sweep read');
    await until(() => findEngine('ibkr', 'DU1234567')?.killSwitch === 'HALTED', 1_000, 'HALTED');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(flatNow(), 'still flat after the sweep');
    const sweepMs = performance.now() - pressed;
    console.log(`      kill → flat, no working order: ${flatMs.toFixed(0)} ms wall clock (load average ${os.loadavg()[0]?.toFixed(1)}); sweep read by ${sweepMs.toFixed(0)} ms`);
  });
});
