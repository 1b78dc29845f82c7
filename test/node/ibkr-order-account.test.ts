// Two ibkr-order nodes on one IBKR account in the Node-RED runtime: one risk engine for the account, the strictest
// limits of the two, and a kill switch that holds across a redeploy (issue 11: "long 4 with max 2", "Deploy undoes a
// stop-for-the-day").
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { recordMessages } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js') as typeof configModule;
helper.init(require.resolve('node-red'));

type Msg = NodeMessage & { topic: string; payload: Record<string, unknown>; error?: { message: string } };
type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Msg) => void): void };

const ORDERS_PATH = '/iserver/account/DU1234567/orders';
const RISK = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 2, staleAfterSec: 0, acceptAll: true };
const WAITS = { timeoutMs: 8000 };

function flow(maxA: number, maxB: number) {
  return [
    { id: 'tab', type: 'tab', label: 'orders' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', name: 'sim', mode: 'simulator', simSeed: 7, simSpeed: 1, simTls: false, trading: true },
    { id: 'a', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, ...RISK, maxPosition: maxA, wires: [['out']] },
    { id: 'b', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, ...RISK, maxPosition: maxB, wires: [['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['a', 'b'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

async function load(maxA: number, maxB: number) {
  await helper.load([configModule, orderModule, catchNode], flow(maxA, maxB));
  const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
  await cfg.connection();
  const sim = cfg.simulator();
  assert.ok(sim);
  return {
    a: helper.getNode('a') as TestNode,
    b: helper.getNode('b') as TestNode,
    out: recordMessages(helper.getNode('out') as TestNode, WAITS),
    caught: recordMessages(helper.getNode('caught') as TestNode, WAITS),
    posts: () => sim.control.stats().requests[ORDERS_PATH] ?? 0,
  };
}

const farBuy = (id: string, quantity: number) => ({ topic: 'order', payload: { action: 'buy', quantity, type: 'limit', price: 1000, clientOrderId: id } });

describe('ibkr-order: two nodes on one account share one risk engine', function () {
  this.timeout(30_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('the stricter node\'s max position bounds both: 2 working from node a, node b refused (each had its own budget before)', async () => {
    const { a, b, out, caught, posts } = await load(2, 4);
    a.receive(farBuy('acct-a1', 2));
    await out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === 'acct-a1' && m.payload.status === 'working');
    b.receive(farBuy('acct-b1', 2));
    // A risk refusal is the rules at work: a 'rejected' update and one warning, not a Catch error (nodes/shared/node-kit.ts).
    const refused = await out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === 'acct-b1');
    assert.equal(refused.payload.status, 'rejected');
    assert.match(String(refused.payload.reason), /risk rule max-position/);
    assert.equal(posts(), 1);
    assert.deepEqual(caught.all, []);
  });

  it('a kill switch set through one node refuses the other node\'s orders, and holds across a redeploy', async () => {
    const first = await load(2, 2);
    first.a.receive({ topic: 'kill-switch', payload: 'REDUCING' });
    first.b.receive(farBuy('acct-b2', 1));
    const refusedFirst = await first.out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === 'acct-b2');
    assert.equal(refusedFirst.payload.status, 'rejected');
    assert.match(String(refusedFirst.payload.reason), /risk rule kill-switch.*REDUCING/);
    await helper.unload(); // Deploy: the nodes are closed and created again, the account's engine lives on
    const again = await load(2, 2);
    again.a.receive(farBuy('acct-a3', 1));
    const refusedAgain = await again.out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === 'acct-a3');
    assert.equal(refusedAgain.payload.status, 'rejected');
    assert.match(String(refusedAgain.payload.reason), /risk rule kill-switch.*REDUCING/);
    assert.equal(again.posts(), 0);
  });
});
