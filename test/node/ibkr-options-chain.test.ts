// ibkr-options-chain in the Node-RED runtime against ibkr-config in simulator mode.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Chain } from '../../lib/contracts';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import nodeModule = require('../../nodes/ibkr-options-chain/ibkr-options-chain');
import { anyMessage, loadWithIbkrConfig, nextMessage, testBudget, type TestMessage } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type Flow = Parameters<typeof helper.load>[1];

type TestNode = { receive(msg: unknown): void };
type StatusNode = { on(event: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void };
const at = { x: 0, y: 0 };
/** A chain is paced by the real IBKR limiter: it may take the test's whole budget on a busy machine. */
const budget = testBudget();

function flow(chain: Record<string, unknown> = {}, config: Record<string, unknown> = {}): object[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', mode: 'simulator', simSeed: 5, simTls: false, ...config },
    { id: 'c', z: 'tab', type: 'ibkr-options-chain', connection: 'cfg', classes: 'SPXW', expiryMode: 'next', nextCount: 1, from: '', to: '', windowMode: 'strikes', windowPct: 2, windowStrikes: 4, refreshSec: 0, wires: [['out']], ...at, ...chain },
    { id: 'out', z: 'tab', type: 'helper', ...at },
    { id: 'catch', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', z: 'tab', type: 'helper', ...at },
  ];
}

const load = (chain: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<IbkrSimulator> =>
  loadWithIbkrConfig([configModule, nodeModule, catchNode], flow(chain, config));

describe('ibkr-options-chain node', function () {
  this.timeout(30_000);
  beforeEach(async function () {
    await helper.startServer();
    budget.start(this);
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('sends one chain message for the next expiry, 4 strikes each side of spot, calls and puts, with greeks', async () => {
    const sim = await load();
    const statuses: string[] = [];
    (helper.getNode('c') as unknown as StatusNode).on('call:status', (s) => statuses.push(s.args[0].text ?? ''));
    const out = nextMessage('out', anyMessage, budget.left());
    (helper.getNode('c') as unknown as TestNode).receive({ payload: 1 });
    const msg = await out;
    assert.equal(msg.topic, 'chain');
    const chain = msg.payload as Chain;
    assert.equal(chain.underlying, 'SPX');
    assert.equal(chain.contracts.length, 16);
    assert.equal(new Set(chain.contracts.map((c) => c.expiry)).size, 1);
    assert.equal(chain.contracts[0]!.expiry, sim.market.spxExpiries()[0]!.expiry);
    assert.ok(chain.contracts.every((c) => c.gamma !== null && c.openInterest !== null));
    assert.ok(statuses.some((s) => /^chain \d+ %$/.test(s)));
    assert.match(statuses.at(-1) ?? '', /16 options/);
  });

  it('says when the chain is delayed data', async () => {
    const sim = await load({ windowStrikes: 1 });
    sim.control.setMarketDataAvailability('D');
    const statuses: Array<{ fill?: string; text?: string }> = [];
    (helper.getNode('c') as unknown as StatusNode).on('call:status', (s) => statuses.push(s.args[0]));
    const out = nextMessage('out', anyMessage, budget.left());
    (helper.getNode('c') as unknown as TestNode).receive({ payload: 1 });
    assert.equal(((await out) as TestMessage & { stats: { delayed: boolean } }).stats.delayed, true);
    assert.equal(statuses.at(-1)?.fill, 'yellow');
    assert.match(statuses.at(-1)?.text ?? '', /delayed/);
  });

  it('reports an expired session to Catch', async () => {
    const sim = await load();
    sim.control.expireSession();
    const caught = nextMessage('caught', anyMessage, budget.left());
    (helper.getNode('c') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught).error?.message ?? '', /IBKR/);
  });

  it('runs its example flow: an SPXW chain at deploy', async () => {
    const example = require('../../flows/nodes/ibkr-options-chain.json') as object[];
    await helper.load([configModule, nodeModule, require('@node-red/nodes/core/common/20-inject.js'), require('@node-red/nodes/core/common/21-debug.js')], example as Flow);
    const msg = await nextMessage('chain-out', anyMessage, budget.left());
    assert.equal(msg.topic, 'chain');
    assert.equal(new Set((msg.payload as Chain).contracts.map((c) => c.expiry)).size, 2);
  });

  it('lists the expiries for the editor, PM and AM', async () => {
    await load();
    const res = await helper.request().get('/ibkr-options-chain/expiries').query({ config: 'cfg' }).expect(200);
    const expiries = (res.body as { expiries: Array<{ expiry: string; tradingClass: string; settlement: string }> }).expiries;
    assert.ok(expiries.some((e) => e.tradingClass === 'SPX' && e.settlement === 'AM'));
    assert.ok(expiries.some((e) => e.tradingClass === 'SPXW' && e.settlement === 'PM'));
  });

  it('requests nothing when market data is off', async () => {
    const sim = await load({}, { marketData: false });
    const caught = nextMessage('caught', anyMessage, budget.left());
    (helper.getNode('c') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught).error?.message ?? '', /market data is switched off/);
    assert.equal(sim.control.stats().requests['/iserver/secdef/search'] ?? 0, 0);
  });

  it('sends malformed input to Catch and turns the ring red', async () => {
    await load();
    const statuses: Array<{ fill?: string }> = [];
    (helper.getNode('c') as unknown as StatusNode).on('call:status', (s) => statuses.push(s.args[0]));
    const caught = nextMessage('caught', anyMessage, budget.left());
    (helper.getNode('c') as unknown as TestNode).receive({ expiries: 'soon' });
    assert.match((await caught).error?.message ?? '', /msg.expiries must be/);
    assert.equal(statuses.at(-1)?.fill, 'red');
  });
});
