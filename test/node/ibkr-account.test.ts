// ibkr-account in the Node-RED runtime against the IBKR simulator of its ibkr-config: each view (summary, ledger,
// positions over several pages, live orders, P&L) read on input, lists as one array, polling, malformed input.
import { strict as assert } from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import { optionConid } from '../../lib/sim/ibkr/instruments';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import accountModule = require('../../nodes/ibkr-account/ibkr-account');

// The Catch node is core Node-RED, loaded next to ours so errors are caught as a flow would catch them.
const catchNode = require('@node-red/nodes/core/common/25-catch.js') as typeof configModule;

const injectNode = require('@node-red/nodes/core/common/20-inject.js') as typeof configModule;
const debugNode = require('@node-red/nodes/core/common/21-debug.js') as typeof configModule;

helper.init(require.resolve('node-red'));

type Msg = NodeMessage & { topic: string; payload: Record<string, unknown> & Record<string, unknown>[]; error?: { message: string } };
type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Msg) => void): void };

function flow(account: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'account' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', name: 'sim', mode: 'simulator', simSeed: 5, simSpeed: 1, simTls: false, trading: true },
    { id: 'acct', type: 'ibkr-account', z: 'tab', connection: 'cfg', view: 'summary', pollSec: 0, lists: 'each', ...account, wires: [['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['acct'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

/** Resolves with the next `count` messages of a helper node. */
function next(node: TestNode, count = 1, timeoutMs = 12_000): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const got: Msg[] = [];
    const timer = setTimeout(() => reject(new Error(`expected ${count} messages, got ${JSON.stringify(got)}`)), timeoutMs);
    const listener = (msg: Msg) => {
      got.push(msg);
      if (got.length === count) {
        clearTimeout(timer);
        node.removeListener('input', listener);
        resolve(got);
      }
    };
    node.on('input', listener);
  });
}

async function load(account: Record<string, unknown> = {}) {
  await helper.load([configModule, accountModule, catchNode], flow(account));
  const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
  const connection = await cfg.connection();
  const sim = cfg.simulator();
  assert.ok(sim);
  const esConid = (await connection.client.esFrontMonth(sim.market.now())).conid;
  return { acct: helper.getNode('acct') as TestNode, out: helper.getNode('out') as TestNode, caught: helper.getNode('caught') as TestNode, sim, connection, esConid };
}

describe('ibkr-account node (simulator mode)', function () {
  this.timeout(25_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('reads the account summary: balance, cash and P&L as numbers', async () => {
    const { acct, out } = await load();
    const got = next(out);
    acct.receive({ payload: Date.now() });
    const [msg] = await got;
    assert.equal(msg.topic, 'account');
    assert.equal(msg.payload.account, 'DU1234567');
    for (const key of ['balance', 'cash', 'unrealizedPnl', 'realizedPnl', 'buyingPower']) assert.equal(typeof msg.payload[key], 'number', key);
    assert.ok((msg.payload.balance as number) > 0);
  });

  it('reads the ledger when msg.payload names it, with every currency kept', async () => {
    const { acct, out } = await load();
    const got = next(out);
    acct.receive({ payload: 'ledger' });
    const [msg] = await got;
    assert.equal(msg.topic, 'account');
    assert.equal(msg.payload.view, 'ledger');
    assert.equal(typeof msg.payload.cash, 'number');
    assert.deepEqual(Object.keys(msg.payload.ledger as object).sort(), ['BASE', 'USD']);
  });

  it('reads every position over several pages, one message each, signed quantities', async () => {
    const { acct, out, sim, connection, esConid } = await load();
    sim.control.setPosition(esConid, -2, 5000);
    // 120 option positions: two pages of IBKR's 100.
    const chain = sim.market.spxChain().slice(0, 120);
    assert.equal(chain.length, 120);
    for (const o of chain) sim.control.setPosition(optionConid(o.expiry, o.tradingClass, o.strike, o.right), 1, 2.5);
    assert.ok(connection);
    const got = next(out, 121);
    acct.receive({ what: 'positions' });
    const messages = await got;
    assert.ok(messages.every((m) => m.topic === 'position'));
    const es = messages.find((m) => m.payload.conid === esConid);
    assert.equal(es?.payload.quantity, -2);
    assert.equal(es?.payload.averagePrice, 5000);
  });

  it('sends the positions as one array when the node says so', async () => {
    const { acct, out, sim, esConid } = await load({ lists: 'array' });
    sim.control.setPosition(esConid, 1, 5000);
    const got = next(out);
    acct.receive({ what: 'positions' });
    const [msg] = await got;
    assert.equal(msg.topic, 'positions');
    assert.equal(msg.payload.length, 1);
    assert.equal(msg.payload[0]?.quantity, 1);
  });

  it('reads live orders as order-updates, with their client order ids', async () => {
    const { acct, out, connection, sim, esConid } = await load({ view: 'orders', lists: 'array' });
    const below = Math.round((sim.market.esQuote().last * 0.99) / 0.25) * 0.25;
    await connection.client.placeOrder({ conid: esConid, secType: 'FUT', side: 'BUY', orderType: 'LMT', price: below, quantity: 1, clientOrderId: 'acct-test-1' });
    const got = next(out);
    acct.receive({ payload: 'orders' });
    const [msg] = await got;
    assert.equal(msg.topic, 'order-updates');
    const order = msg.payload.find((o) => o.clientOrderId === 'acct-test-1');
    assert.equal(order?.status, 'working');
    assert.equal(order?.side, 'buy');
  });

  it('reads the P&L of each account segment', async () => {
    const { acct, out } = await load({ view: 'pnl' });
    const got = next(out);
    acct.receive({ payload: true });
    const [msg] = await got;
    assert.equal(msg.topic, 'account');
    assert.equal(msg.payload.segment, 'DU1234567.Core');
    assert.equal(typeof msg.payload.dailyPnl, 'number');
  });

  it('polls on its own every N seconds', async () => {
    const { out } = await load({ view: 'summary', pollSec: 5 });
    const [msg] = await next(out, 1, 8000);
    assert.equal(msg.topic, 'account');
  });

  it('sends a view name it does not know to a Catch node with the list of views', async () => {
    const { acct, caught } = await load();
    const got = next(caught);
    acct.receive({ what: 'balances' });
    const [err] = await got;
    assert.match(String(err.error?.message), /summary, ledger, positions, orders, pnl/);
  });

  it('runs its example flow: the positions inject gives one array', async () => {
    const example = JSON.parse(readFileSync(join(__dirname, '../../flows/nodes/ibkr-account.json'), 'utf8')) as { id: string; type: string }[];
    await helper.load([configModule, accountModule, injectNode, debugNode], example);
    await (helper.getNode('iac-cfg') as unknown as IbkrConfigNode).connection();
    const got = next(helper.getNode('iac-debug') as TestNode);
    (helper.getNode('iac-inject-positions') as TestNode).receive({ payload: 'positions' });
    const [msg] = await got;
    assert.equal(msg.topic, 'positions');
    assert.ok(Array.isArray(msg.payload));
  });
});
