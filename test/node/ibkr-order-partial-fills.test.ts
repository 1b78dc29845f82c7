// ibkr-order against the IBKR simulator when an order fills in several executions, as IBKR streams them (issue 12):
// `sor` sends avgPrice with the first fill only. The node must report every fill at its real price (none at a stale
// average) and the fills must add up to the order and to IBKR's own average price.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { recordMessages } from './support/messages';

helper.init(require.resolve('node-red'));

type Payload = Record<string, unknown> & { clientOrderId?: string; status?: string; quantity?: number; price?: number };
type Msg = NodeMessage & { topic: string; payload: Payload };
type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Msg) => void): void };

/** The simulator fills at most 120 contracts at the touch in RTH (25 outside): 150 always takes several executions. */
const SIZE = 150;

describe('ibkr-order node: partial fills as IBKR streams them (simulator mode)', function () {
  this.timeout(30_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('reports every fill of a multi-execution order at its price, adding up to IBKR\'s average', async () => {
    const flow = [
        { id: 'tab', type: 'tab', label: 'orders' },
        { id: 'cfg', type: 'ibkr-config', z: 'tab', name: 'sim', mode: 'simulator', simSeed: 7, simSpeed: 1, simTls: false, trading: true },
        { id: 'order', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, tradingHoursEnabled: false, cooldownMin: 0, maxPosition: SIZE, maxOrderSize: SIZE, acceptAll: true, wires: [['out']] },
        { id: 'out', type: 'helper', z: 'tab' },
    ];
    await helper.load([configModule, orderModule], flow);
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    const node = helper.getNode('order') as TestNode;
    const out = recordMessages(helper.getNode('out') as TestNode, { timeoutMs: 20_000 });
    const connection = await cfg.connection();
    const sor: Array<Record<string, unknown>> = [];
    (await cfg.stream()).subscribeOrders((args) => sor.push(...(args as Array<Record<string, unknown>>)));

    node.receive({ topic: 'order', payload: { action: 'buy', quantity: SIZE, type: 'market', clientOrderId: 'big-1' } });
    await out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === 'big-1' && m.payload.status === 'filled');
    const fills = (): Msg[] => (out.all as Msg[]).filter((m) => m.topic === 'fill' && m.payload.clientOrderId === 'big-1');
    const deadline = Date.now() + 15_000;
    while (fills().reduce((s, f) => s + Number(f.payload.quantity), 0) < SIZE && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const withFills = sor.filter((u) => typeof u.filledQuantity === 'number' && (u.filledQuantity as number) > 0);
    assert.ok(withFills.length >= 2, 'IBKR (simulated) reported the order in several fill updates');
    assert.ok(withFills.slice(1).every((u) => !('avgPrice' in u)), 'later updates carry no avgPrice, as IBKR sends them');

    const got = fills();
    assert.equal(got.reduce((s, f) => s + Number(f.payload.quantity), 0), SIZE, 'every contract reported filled');
    const [live] = (await connection.client.liveOrders()).filter((o) => o.clientOrderId === 'big-1');
    assert.ok(live?.averagePrice, 'IBKR lists the order with its average price');
    const notional = got.reduce((s, f) => s + Number(f.payload.quantity) * Number(f.payload.price), 0);
    assert.ok(Math.abs(notional / SIZE - live.averagePrice) < 1e-6, `fills average ${notional / SIZE} = IBKR's ${live.averagePrice}`);
    const prices = new Set(got.map((f) => f.payload.price));
    assert.ok(got.length === 1 || prices.size > 1 || withFills.length === 1, 'the later fills are not all reported at the first fill\'s price');
  });
});
