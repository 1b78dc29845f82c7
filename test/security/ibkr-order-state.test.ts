// Adversarial suite of issue 11, IBKR side: outcomes IBKR leaves unknown, redeploys in the middle of an order, a
// second connection to the same account, and a Node-RED restart with the journal in the user dir (kill switch and
// exposure survive, the broker's record wins). The real runtime, the simulator behind the recording proxy.
import { strict as assert } from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { findEngine, resetAccountsForTest } from '../../lib/trading/accounts';
import type { RiskEngine } from '../../lib/trading/risk-engine';
import { recordMessages } from '../node/support/messages';
import { adversaryFlow, isOrderPost, startRecorder, trapCrashes, until, type Recorder } from './support/ibkr-recorder';

const catchNode = require('@node-red/nodes/core/common/25-catch.js') as typeof configModule;
const completeNode = require('@node-red/nodes/core/common/24-complete.js') as typeof configModule;
helper.init(require.resolve('node-red'));

type Msg = NodeMessage & { topic: string; payload: Record<string, unknown>; error?: { message: string } };
type TestNode = Node & { receive(msg: object): void };
const WAITS = { timeoutMs: 10_000 };
const ACCOUNT = 'DU1234567';

const engineOf = (): RiskEngine | undefined => findEngine('ibkr', ACCOUNT) ?? findEngine('ibkr', 'connection-cfg');

async function load(rec: Recorder, flow: Parameters<typeof helper.load>[1] = adversaryFlow(rec.baseUrl)) {
  // A Complete node hears each input the order nodes are done with (an error goes to the Catch node instead): what a
  // kill or a flatten sends has left by then.
  const watched = [
    ...(flow as object[]),
    { id: 'handled', type: 'complete', z: 'tab', scope: ['a', 'b'], uncaught: false, wires: [['completed']] },
    { id: 'completed', type: 'helper', z: 'tab' },
  ];
  await helper.load([configModule, orderModule, catchNode, completeNode], watched as Parameters<typeof helper.load>[1]);
  let handled = 0;
  (helper.getNode('completed') as unknown as { on(e: string, f: () => void): void }).on('input', () => handled++);
  (helper.getNode('caught') as unknown as { on(e: string, f: () => void): void }).on('input', () => handled++);
  await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
  await until(() => engineOf()?.reconciled === true, 30_000, 'the account engine reconciled');
  return {
    /** Inputs the order nodes are done with. */
    handled: (): number => handled,
    a: helper.getNode('a') as TestNode,
    out: recordMessages<Msg>('out', WAITS),
    caught: recordMessages<Msg>('caught', WAITS),
    engine: engineOf() as RiskEngine,
  };
}

const price = (rec: Recorder, off: number): number => Math.round(rec.sim.market.esQuote().last * 4) / 4 + off;
const buy = (id: string, quantity: number, limit: number) => ({ topic: 'order', payload: { action: 'buy', quantity, type: 'limit', price: limit, clientOrderId: id } });
const placedIds = (rec: Recorder): string[] => rec.requests.filter(isOrderPost).map((r) => String((r.body as { orders: { cOID?: string }[] }).orders[0]?.cOID));

describe('adversary: ibkr-order, unknown outcomes, redeploys and restarts', function () {
  this.timeout(120_000);
  let rec: Recorder;
  let crashes: ReturnType<typeof trapCrashes>;
  let userDir: string;
  beforeEach(async () => {
    crashes = trapCrashes();
    rec = await startRecorder();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'advibkr-'));
    helper.settings({ userDir });
    await helper.startServer();
  });
  afterEach(async () => {
    rec.hook = undefined;
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    await rec.close();
    fs.rmSync(userDir, { recursive: true, force: true });
    crashes.stop();
    assert.deepEqual(crashes.errors, [], 'nothing escaped to the process');
  });

  it('a 500 on the order request after IBKR took it (outcome unknown): the order stays counted, the next entry meets max position', async () => {
    const { a, out, handled } = await load(rec);
    rec.hook = (r) => (isOrderPost(r) ? rec.forward(r).then(() => ({ status: 500, body: { error: 'internal error' } })) : undefined);
    a.receive(buy('adv-u1', 2, price(rec, -20)));
    await until(() => placedIds(rec).includes('adv-u1'), 10_000, 'adv-u1 sent');
    rec.hook = undefined;
    await until(() => handled() === 1, 10_000, 'the node done with adv-u1 (its 500 taken in)');
    a.receive(buy('adv-u2', 1, price(rec, -20)));
    const refused = await out.first((m: Msg) => m.topic === 'order-update' && m.payload.clientOrderId === 'adv-u2');
    assert.equal(refused.payload.status, 'rejected');
    assert.match(String(refused.payload.reason), /max-position/);
    assert.ok(!placedIds(rec).includes('adv-u2'));
  });

  it('a Deploy while the order request is on the wire: after the deploy the order is still counted', async () => {
    const first = await load(rec);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    rec.hook = (r) => (isOrderPost(r) ? held.then(() => undefined) : undefined);
    first.a.receive(buy('adv-d1', 2, price(rec, -20)));
    await until(() => placedIds(rec).includes('adv-d1'), 10_000, 'adv-d1 on the wire');
    await helper.unload(); // Deploy (full): the nodes close while IBKR has not answered
    release();
    rec.hook = undefined;
    const again = await load(rec);
    await new Promise((r) => setTimeout(r, 300));
    again.a.receive(buy('adv-d2', 1, price(rec, -20)));
    const refused = await again.out.first((m: Msg) => m.topic === 'order-update' && m.payload.clientOrderId === 'adv-d2');
    assert.equal(refused.payload.status, 'rejected', 'two were working at IBKR: a third would pass max position 2');
    assert.ok(!placedIds(rec).includes('adv-d2'));
  });

  it('two connections (config nodes) to one IBKR account share one risk engine: max position holds across them', async () => {
    const flow = [
      ...adversaryFlow(rec.baseUrl).filter((n) => n.id !== 'b'),
      { id: 'cfg2', type: 'ibkr-config', z: 'tab', name: 'gw2', mode: 'gateway', baseUrl: rec.baseUrl, trading: true },
      { id: 'b', type: 'ibkr-order', z: 'tab', connection: 'cfg2', quantity: 1, tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 2, maxPosition: 2, staleAfterSec: 0, acceptAll: true, wires: [['out']] },
    ];
    const { a, out } = await load(rec, flow);
    await (helper.getNode('cfg2') as unknown as IbkrConfigNode).connection();
    const b = helper.getNode('b') as TestNode;
    a.receive(buy('adv-t1', 2, price(rec, -20)));
    await out.first((m: Msg) => m.topic === 'order-update' && m.payload.clientOrderId === 'adv-t1' && m.payload.status === 'working');
    b.receive(buy('adv-t2', 2, price(rec, -20)));
    const second = await out.first((m: Msg) => m.topic === 'order-update' && m.payload.clientOrderId === 'adv-t2', 40_000);
    assert.equal(second.payload.status, 'rejected', 'long 4 working with max position 2 on one account');
    assert.ok(!placedIds(rec).includes('adv-t2'));
  });

  it('a restart keeps the kill switch (journal in the user dir), and the broker\'s position wins over the journal', async () => {
    const first = await load(rec);
    first.a.receive({ topic: 'kill-switch', payload: 'REDUCING' });
    await until(() => first.engine.killSwitch === 'REDUCING', 5000, 'REDUCING');
    await helper.unload();
    resetAccountsForTest({ keepMemoryJournals: false }); // the process restarts: only the user dir remains
    // While Node-RED was down, the position changed at IBKR (by hand in TWS): long 2.
    rec.sim.control.setPosition(rec.sim.market.esContracts()[0].conid, 2, price(rec, 0));
    const again = await load(rec);
    assert.equal(again.engine.killSwitch, 'REDUCING', 'the kill switch survived the restart');
    again.a.receive({ topic: 'kill-switch', payload: 'ACTIVE' });
    again.a.receive(buy('adv-r1', 1, price(rec, -20)));
    const refused = await again.out.first((m: Msg) => m.topic === 'order-update' && m.payload.clientOrderId === 'adv-r1');
    assert.equal(refused.payload.status, 'rejected', 'long 2 at the broker: one more passes max position 2');
    assert.match(String(refused.payload.reason), /max-position/);
  });

  it('the kill switch flattens what IBKR holds now, not its cached positions: no market order opens a position', async () => {
    const { a, engine, handled } = await load(rec);
    const conid = rec.sim.market.esContracts()[0].conid;
    // IBKR's /portfolio positions answer is cached: long 1 is what the cache holds...
    rec.sim.control.setPosition(conid, 1, price(rec, 0));
    const acct = `/v1/api/portfolio/${ACCOUNT}/positions`;
    await rec.forward({ method: 'POST', path: `${acct}/invalidate`, body: {}, seq: -1 });
    await rec.forward({ method: 'GET', path: `${acct}/0`, body: null, seq: -1 });
    // ...but the position was closed since (the stop filled): the account is flat.
    rec.sim.control.setPosition(conid, 0, 0);
    const before = rec.requests.length;
    a.receive({ topic: 'kill' });
    await until(() => engine.killSwitch === 'HALTED', 5000, 'HALTED');
    await until(() => rec.requests.slice(before).some((r) => r.path.includes('/positions/')), 10_000, 'the kill read the positions');
    await until(() => handled() === 1, 10_000, 'the node done with the kill');
    const sent = rec.requests.slice(before).filter(isOrderPost).map((r) => JSON.stringify(r.body));
    assert.deepEqual(sent, [], 'a flat account: the kill sends no order (a sell here would open short 1)');
  });

  const flatten = (rec: Recorder) => ({ topic: 'order', payload: { action: 'flatten', conid: rec.sim.market.esContracts()[0].conid } });
  for (const [label, first, second] of [
    ['the kill pressed on both nodes of the account at once', () => ({ topic: 'kill' }), () => ({ topic: 'kill' })],
    ['a kill and a flatten at once', () => ({ topic: 'kill' }), flatten],
    ['a flatten on both nodes at once', flatten, flatten],
  ] as const) {
    it(`${label}: long 1 is closed by one sell, never turned short`, async () => {
      const { a, handled } = await load(rec);
      const b = helper.getNode('b') as TestNode;
      const conid = rec.sim.market.esContracts()[0].conid;
      rec.sim.control.setPosition(conid, 1, price(rec, 0));
      const before = rec.requests.length;
      a.receive(first(rec));
      b.receive(second(rec));
      // IBKR allows one live-orders read per 5 s: a kill lists the orders, cancels, then reads the positions.
      await until(() => rec.requests.slice(before).filter((r) => r.path.includes('/positions/0')).length >= 2, 60_000, 'both read the positions');
      await until(() => handled() === 2, 60_000, 'both nodes done');
      const sells = rec.requests.slice(before).filter(isOrderPost).map((r) => (r.body as { orders: { side: string; quantity: number }[] }).orders[0]!).filter((o) => o.side === 'SELL');
      const sold = sells.reduce((n, o) => n + o.quantity, 0);
      assert.equal(sold, 1, `sold ${sold} to close long 1`);
    });
  }

  it('a kill, then a Deploy, while the order request is on the wire: the order IBKR took is cancelled, not left working', async () => {
    const first = await load(rec);
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    rec.hook = (r) => (isOrderPost(r) && JSON.stringify(r.body).includes('adv-kd1') ? held.then(() => undefined) : undefined);
    first.a.receive(buy('adv-kd1', 1, price(rec, -20)));
    await until(() => placedIds(rec).includes('adv-kd1'), 10_000, 'adv-kd1 on the wire');
    first.a.receive({ topic: 'kill' });
    await until(() => first.engine.killSwitch === 'HALTED', 5000, 'HALTED');
    await helper.unload(); // Deploy
    release();
    rec.hook = undefined;
    await load(rec);
    const working = (): boolean => rec.sim.control.stats() !== undefined && rec.requests.some((r) => r.method === 'DELETE' && /\/order\/\d+$/.test(r.path));
    await until(working, 30_000, 'a cancel of the order taken after the kill');
  });

  it('two kills while the first flatten order is slow to reach IBKR: long 1 is closed by one sell, never turned short', async () => {
    const { a, handled } = await load(rec);
    const b = helper.getNode('b') as TestNode;
    rec.sim.control.setPosition(rec.sim.market.esContracts()[0].conid, 1, price(rec, 0));
    let held = false;
    // The first flatten order takes 8 s to reach IBKR (longer than the 5 s live-orders slot the second kill waits for).
    rec.hook = (r) => {
      if (!isOrderPost(r) || held) return undefined;
      held = true;
      return new Promise((resolve) => setTimeout(() => resolve(undefined), 8000));
    };
    const before = rec.requests.length;
    a.receive({ topic: 'kill' });
    b.receive({ topic: 'kill' });
    await until(() => rec.requests.slice(before).filter((r) => r.path.includes('/positions/0')).length >= 2, 30_000, 'both read the positions');
    await until(() => handled() === 2, 60_000, 'both nodes done (the held flatten order answered)');
    const sold = rec.requests.slice(before).filter(isOrderPost).map((r) => (r.body as { orders: { side: string; quantity: number }[] }).orders[0]!).filter((o) => o.side === 'SELL').reduce((n, o) => n + o.quantity, 0);
    assert.equal(sold, 1, `sold ${sold} to close long 1`);
  });
});
