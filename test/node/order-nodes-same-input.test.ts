// sierra-order and ibkr-order side by side in one flow, each on its own simulator: the same `order` or `signal`
// message means the same to both, and a bad one is refused by both with the same words, nothing sent to either broker.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import ibkrConfigModule = require('../../nodes/ibkr-config/ibkr-config');
import ibkrOrderModule = require('../../nodes/ibkr-order/ibkr-order');
import sierraConfigModule = require('../../nodes/sierra-config/sierra-config');
import sierraOrderModule = require('../../nodes/sierra-order/sierra-order');
import { testTimeLeft } from '../support/budget';

/**
 * Every refusal a node reports, in order: through done(err) (what a Catch node gets) or, for an expected risk
 * refusal such as the kill switch's, as its one warning.
 */
function errors(node: TestNode): { all: string[]; first(match: (text: string) => boolean, timeoutMs?: number): Promise<string> } {
  const all: string[] = [];
  const record = (call: { args: unknown[] }): void => {
    const err = call.args[0];
    all.push(err instanceof Error ? err.message : String(err));
  };
  const spied = node as unknown as { on(e: string, f: (call: { args: unknown[] }) => void): void };
  spied.on('call:error', record);
  spied.on('call:warn', record);
  return {
    all,
    async first(match, timeoutMs = testTimeLeft()) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const hit = all.find(match);
        if (hit !== undefined) return hit;
        if (Date.now() > end) throw new Error(`no matching error within ${timeoutMs} ms; got ${JSON.stringify(all)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

helper.init(require.resolve('node-red'));

type TestNode = Node & { receive(msg: object): void };

const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 100, maxOrderSize: 5, maxPosition: 5 };

function flow() {
  return [
    { id: 'tab', type: 'tab', label: 'both' },
    { id: 'icfg', type: 'ibkr-config', z: 'tab', name: 'sim', mode: 'simulator', simSeed: 7, simSpeed: 1, simTls: false, trading: true },
    { id: 'ibkr', type: 'ibkr-order', z: 'tab', connection: 'icfg', quantity: 1, staleAfterSec: 0, ...OPEN, wires: [['iout']] },
    { id: 'iout', type: 'helper', z: 'tab' },
    { id: 'scfg', type: 'sierra-config', mode: 'simulator', heartbeatSec: 1, simSeed: 7, simSpeed: 0.001, tradingEnabled: true, maxOrdersPerMinute: 0, collarTicks: 40, ...OPEN },
    { id: 'sierra', type: 'sierra-order', z: 'tab', connection: 'scfg', quantity: 1, entry: 'limit', target: '1', staleAfterSec: 0, wires: [['sout'], [], [], []] },
    { id: 'sout', type: 'helper', z: 'tab' },
  ];
}

const BUY = { action: 'buy', quantity: 1, type: 'market' };
/** Bad messages, each refused by the shared parser: the same text must reach both Catch nodes. */
const BAD: { name: string; msg: Record<string, unknown>; words: RegExp }[] = [
  { name: 'whatIf as the text "true"', msg: { topic: 'order', whatIf: 'true', payload: BUY }, words: /msg\.whatIf must be the boolean true or false, not "true"/ },
  { name: 'a price on a market order', msg: { topic: 'order', payload: { ...BUY, price: 6000 } }, words: /a market order takes no price/ },
  { name: 'a stopPrice on a limit order', msg: { topic: 'order', payload: { action: 'sell', quantity: 1, type: 'limit', price: 7000, stopPrice: 7001 } }, words: /a limit order takes no stopPrice/ },
  { name: 'a bracket on a cancel', msg: { topic: 'order', payload: { action: 'cancel', clientOrderId: 'x-1', bracket: { stop: 1, targets: [2] } } }, words: /a cancel takes no bracket/ },
  { name: 'an unknown side', msg: { topic: 'order', payload: { action: 'long', quantity: 1, type: 'market' } }, words: /action "long" is not valid/ },
  { name: 'an unknown field', msg: { topic: 'order', payload: { ...BUY, leverage: 20 } }, words: /field "leverage" is not part of an order message/ },
  { name: 'a fractional quantity', msg: { topic: 'order', payload: { ...BUY, quantity: 0.5 } }, words: /quantity 0\.5 is not valid/ },
  { name: 'a price off the ES tick', msg: { topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000.3 } }, words: /not on the instrument's 0\.25 tick/ },
  { name: 'a bracket stop on the wrong side', msg: { topic: 'order', payload: { ...BUY, bracket: { stop: 7010, targets: [7000] } } }, words: /wrong way round for a buy/ },
  { name: 'an inconsistent signal', msg: { topic: 'signal', payload: { signal: 'LONG', entry: 6000, stop: 6010, targets: [6020, 6030] } }, words: /levels are inconsistent/ },
];

describe('sierra-order and ibkr-order read the same message the same way', function () {
  this.timeout(30_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('refuses each bad message in both nodes with the same error text, and neither broker sees an order', async () => {
    await helper.load([ibkrConfigModule, ibkrOrderModule, sierraConfigModule, sierraOrderModule], flow());
    const icfg = helper.getNode('icfg') as unknown as IbkrConfigNode;
    await icfg.connection();
    const sim = icfg.simulator();
    assert.ok(sim);
    const sierra = await (helper.getNode('scfg') as unknown as SierraConfigNode).connection();
    await sierra.whenReady(testTimeLeft());
    const ibkrNode = helper.getNode('ibkr') as TestNode;
    const sierraNode = helper.getNode('sierra') as TestNode;
    const icaught = errors(ibkrNode);
    const scaught = errors(sierraNode);
    for (const [k, bad] of BAD.entries()) {
      ibkrNode.receive(bad.msg);
      sierraNode.receive(bad.msg);
      await icaught.first(() => icaught.all.length > k);
      await scaught.first(() => scaught.all.length > k);
      const iText = String(icaught.all[k]);
      const sText = String(scaught.all[k]);
      assert.match(iText, bad.words, `ibkr-order, ${bad.name}`);
      assert.equal(sText, iText, `the same refusal from both nodes for ${bad.name}`);
    }
    assert.equal(sim.control.stats().requests['/iserver/account/DU1234567/orders'] ?? 0, 0, 'IBKR saw no order');
    assert.equal(sierra.simulator?.orders().length ?? 0, 0, 'Sierra saw no order');
  });

  it('gives a kill the same meaning in both spellings: HALTED, then new entries are refused by both', async () => {
    await helper.load([ibkrConfigModule, ibkrOrderModule, sierraConfigModule, sierraOrderModule], flow());
    const icfg = helper.getNode('icfg') as unknown as IbkrConfigNode;
    await icfg.connection();
    const sierra = await (helper.getNode('scfg') as unknown as SierraConfigNode).connection();
    await sierra.whenReady(testTimeLeft());
    const ibkrNode = helper.getNode('ibkr') as TestNode;
    const sierraNode = helper.getNode('sierra') as TestNode;
    const icaught = errors(ibkrNode);
    const scaught = errors(sierraNode);
    // ibkr-order's old spelling is new to sierra-order, and the other way round.
    sierraNode.receive({ topic: 'kill-switch', payload: 'HALTED' });
    ibkrNode.receive({ topic: 'kill' });
    sierraNode.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    ibkrNode.receive({ topic: 'order', payload: BUY });
    const s = await scaught.first((m) => /kill-switch/i.test(m));
    const i = await icaught.first((m) => /kill-switch/i.test(m));
    assert.match(s, /HALTED/);
    assert.match(i, /HALTED/);
    assert.equal(sierra.status().killSwitch, 'HALTED');
  });
});
