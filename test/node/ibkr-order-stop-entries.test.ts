// ibkr-order on the in-process IBKR simulator: a stop that forbids new entries cancels the resting entries AT IBKR
// (seen on the simulator's own order stream), not only refuses the next one; exits and reducing orders stay.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { recordMessages, recordStatuses } from './support/messages';

helper.init(require.resolve('node-red'));

type Payload = Record<string, unknown> & { clientOrderId?: string; status?: string };
type Msg = NodeMessage & { topic: string; payload: Payload };
type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Msg) => void): void };

const OPEN_RISK = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 10, maxOrderSize: 5 };

async function load(order: Record<string, unknown> = {}, cfgSettings: Record<string, unknown> = {}) {
  const flow = [
    { id: 'tab', type: 'tab', label: 'orders' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', name: 'sim', mode: 'simulator', simSeed: 7, simSpeed: 1, simTls: false, trading: true, ...cfgSettings },
    { id: 'order', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, ...OPEN_RISK, ...order, wires: [['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
  ];
  await helper.load([configModule, orderModule], flow);
  const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
  const node = helper.getNode('order') as TestNode;
  const seen = recordStatuses(node);
  const out = recordMessages(helper.getNode('out') as TestNode);
  await cfg.connection();
  const sim = cfg.simulator();
  assert.ok(sim, 'simulator mode starts a simulator');
  const sor: Record<string, unknown>[] = [];
  (await cfg.stream()).subscribeOrders((args) => sor.push(...(args as Record<string, unknown>[])));
  return { node, seen, out, sim, sor };
}

const isUpdate = (cOID: string, status?: string) => (m: Msg) => m.topic === 'order-update' && m.payload.clientOrderId === cOID && (status === undefined || m.payload.status === status);
const tick = (x: number) => Math.round(x / 0.25) * 0.25;

describe('ibkr-order: a risk stop cancels the resting entries at IBKR (simulator)', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('REDUCING set by a message: the resting buy limit far below the market is cancelled at the simulator, one warning names the rule', async () => {
    const { node, out, sim, sor, seen } = await load();
    const below = tick(sim.market.esQuote().last * 0.99);
    node.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: below, clientOrderId: 'rest-1' } });
    const working = await out.first(isUpdate('rest-1', 'working'));
    const orderId = Number(working.payload.serverOrderId);
    node.receive({ topic: 'kill-switch', payload: 'REDUCING' });
    await out.first(isUpdate('rest-1', 'cancelled'));
    assert.ok(sor.some((o) => o.orderId === orderId && /cancel/i.test(String(o.status))), `IBKR itself reports the order cancelled: ${JSON.stringify(sor.filter((o) => o.orderId === orderId))}`);
    const warns = helper.log().args.map((a: unknown[]) => a[0] as { level: number; msg: unknown }).filter((e) => e.level === 30 && /Risk stop/.test(String(e.msg)));
    assert.equal(warns.length, 1, 'one warning line');
    assert.match(String(warns[0].msg), /Risk stop "kill-switch" \(kill switch is REDUCING\).*rest-1/);
    assert.ok(seen.some((s) => /kill-switch: 1 cancelled/.test(String(s.text))), `statuses: ${JSON.stringify(seen)}`);
  });

  it('a signal entry still unfilled after "Cancel an unfilled signal entry after (min)" of MARKET time is cancelled at IBKR, with an info line', async () => {
    // The simulated market runs 60× real time: one market minute is about a second.
    const { node, out, sim } = await load({ entryType: 'limit', signalEntryExpiryMin: 1 }, { simSpeed: 60 });
    const entry = tick(sim.market.esQuote().last * 0.99);
    const sentAt = sim.market.now();
    node.receive({ topic: 'signal', payload: { signal: 'LONG', entry, stop: entry - 2, targets: [entry + 4, entry + 6] } });
    const working = await out.first((m) => m.topic === 'order-update' && /^\d{8}-mia-\d+$/.test(String(m.payload.clientOrderId)) && m.payload.status === 'working');
    const id = String(working.payload.clientOrderId);
    await out.first(isUpdate(id, 'cancelled'));
    assert.ok(sim.market.now() - sentAt >= 60_000, 'not before a minute of market time');
    const infos = helper.log().args.map((a: unknown[]) => a[0] as { level: number; msg: unknown }).filter((e) => e.level === 40 && String(e.msg).includes(`Signal entry ${id}`));
    assert.equal(infos.length, 1, 'one info line');
    assert.match(String(infos[0].msg), /not filled after [\d.]+ min of market time \(limit 1 min\): cancelled/);
  });
});
