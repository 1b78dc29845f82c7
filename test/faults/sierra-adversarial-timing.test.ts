// Adversarial (issue 11), timing and state: sierra-order in the real Node-RED runtime against a loopback DTC server
// that records every message leaving the process and holds answers on demand. What must hold: nothing leaves after
// the kill switch or without the risk engine's yes at the instant of sending; an order in flight at a kill is
// cancelled once acknowledged; bursts into two nodes of one account (runtimeSyncDelivery) never pass max position;
// a server that never answers a cancel does not hang or end anything; the kill switch and the day's counts survive a
// restart (journal in the user dir); nothing escapes to the process.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import fs from 'fs';
import os from 'os';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { SierraConnection } from '../../lib/sierra/connection';
import { MessageType, OrderStatus, OrderUpdateReason } from '../../lib/sierra/protocol';
import { resetAccountsForTest } from '../../lib/trading/accounts';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { acceptAll, holdNewOrders, useHostileDtcRuntime, type HostileDtc, type Raw } from '../security/support/hostile-dtc';
import { sleep, until } from './support';
import { testTimeLeft } from '../support/budget';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const completeNode = require('@node-red/nodes/core/common/24-complete.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; send(msg: object): void; on(event: string, fn: (msg: Record<string, unknown>) => void): void };

const SEED = Number(process.env.ADV_SEED ?? 1108);

const LIMITS = {
  tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxConsecutiveLosses: 1000, dailyLossLimit: 1_000_000,
  maxOrderSize: 2, maxPosition: 2, maxOrdersPerMinute: 0, collarTicks: 0,
};

function flow(port: number, options: { nodes?: number; cfg?: Record<string, unknown> } = {}): Array<Record<string, unknown>> {
  const orders = Array.from({ length: options.nodes ?? 1 }, (_, i) => `order${i}`);
  return [
    { id: 'tab', type: 'tab', label: 'adv' },
    { id: 'cfg', type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port, handshake: false, root: 'ES', symbolFormat: 'sierra-cme', heartbeatSec: 1, ...LIMITS, ...options.cfg },
    { id: 'src', type: 'helper', z: 'tab', wires: [orders] },
    ...orders.map((id) => ({ id, type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] })),
    { id: 'catcher', type: 'catch', z: 'tab', scope: orders, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
    { id: 'handled', type: 'complete', z: 'tab', scope: orders, uncaught: false, wires: [['completed']] },
    { id: 'completed', type: 'helper', z: 'tab' },
  ];
}

/**
 * How many inputs the order nodes of the loaded flow are done with: sent (and acknowledged), refused, or failed (a
 * Complete node hears the first two, the Catch node the last). What a node sends leaves before it is done, so once
 * this count has grown by the messages given, nothing more of theirs can reach the server.
 */
function countHandled(): () => number {
  let n = 0;
  (helper.getNode('completed') as TestNode).on('input', () => n++);
  (helper.getNode('caught') as TestNode).on('input', () => n++);
  return () => n;
}

const newOrders = (s: HostileDtc): Raw[] => s.received.filter((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
const cancels = (s: HostileDtc): Raw[] => s.received.filter((m) => m.Type === MessageType.CANCEL_ORDER);

describe('adversarial: timing, kill switch and restart of sierra-order (Node-RED runtime, recording DTC server)', function () {
  this.timeout(120_000);
  const runtime = useHostileDtcRuntime();

  async function load(f: Array<Record<string, unknown>>): Promise<SierraConnection> {
    await helper.load([configModule, orderModule, catchNode, completeNode], f as never);
    const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
    await connection.whenReady(testTimeLeft());
    return connection;
  }

  it('an order on the wire when kill is pressed is cancelled as soon as Sierra acknowledges it', async () => {
    const held: Raw[] = [];
    const s = await runtime.startDtc({ onOrder: holdNewOrders(held) });
    s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Sim1' }];
    const connection = await load(flow(s.port));
    const handled = countHandled();
    const order = helper.getNode('order0') as TestNode;
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    await until(() => held.length === 1, testTimeLeft(), 'the buy left');
    order.receive({ topic: 'kill' });
    await until(() => connection.riskEngine.killSwitch === 'HALTED', testTimeLeft(), 'HALTED');
    await sleep(50);
    // Sierra now acknowledges the order that was on the wire.
    s.push(...acceptAll(held[0], s));
    await until(() => cancels(s).some((c) => c.ClientOrderID === held[0].ClientOrderID), testTimeLeft(), 'the late order is cancelled');
    // And nothing new leaves while HALTED.
    const before = newOrders(s).length;
    const done = handled();
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    order.receive({ topic: 'signal', payload: { signal: 'LONG', entry: 5000, stop: 4990, targets: [5010, 5020] } });
    await until(() => handled() === done + 2, testTimeLeft(), 'the order node done with both');
    assert.equal(newOrders(s).length, before, 'nothing new while HALTED');
    assert.deepEqual(runtime.trap.errors, []);
  });

  it('an order checked before a kill but still waiting for its security definition never leaves', async () => {
    const pendingDefinitions: Raw[] = [];
    const s = await runtime.startDtc({ securityDefinitions: true });
    const connection = await load(flow(s.port));
    const handled = countHandled();
    // From now on the server answers definitions only when told: a symbol override needs a new one.
    const answer = s.onDefinition;
    s.onDefinition = (m) => {
      pendingDefinitions.push(m);
      return [];
    };
    const order = helper.getNode('order0') as TestNode;
    const next = connection.symbol.replace(/^ES(.)(\d\d)/, (_all, _m: string, yy: string) => `ESH${String(Number(yy) + 1).padStart(2, '0')}`);
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market', symbol: next } });
    await until(() => pendingDefinitions.length === 1, testTimeLeft(), 'definition asked');
    order.receive({ topic: 'kill' });
    await until(() => connection.riskEngine.killSwitch === 'HALTED', testTimeLeft(), 'HALTED');
    s.push(...answer(pendingDefinitions[0], s));
    await until(() => handled() === 2, testTimeLeft(), 'the order node done with the order and the kill');
    assert.deepEqual(newOrders(s), [], 'the order reserved before the kill did not leave after it');
    assert.deepEqual(runtime.trap.errors, []);
  });

  it('generated bursts of signals and orders into two nodes of one account (runtimeSyncDelivery) never exceed max position', async () => {
    helper.settings({ runtimeSyncDelivery: true } as Parameters<typeof helper.settings>[0]);
    const s = await runtime.startDtc();
    const connection = await load(flow(s.port, { nodes: 2 }));
    const handled = countHandled();
    const src = helper.getNode('src') as TestNode;
    let bursts = 0;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ topic: fc.constant('order'), payload: fc.record({ action: fc.constantFrom('buy', 'sell'), quantity: fc.integer({ min: 1, max: 2 }), type: fc.constant('market') }) }),
            fc.record({ topic: fc.constant('order'), payload: fc.record({ action: fc.constantFrom('buy', 'sell'), quantity: fc.constant(1), type: fc.constant('limit'), price: fc.constant(5000) }).map((p) => ({ ...p, bracket: { stop: p.action === 'buy' ? 4990 : 5010, targets: [p.action === 'buy' ? 5010 : 4990] } })) }),
            fc.record({ topic: fc.constant('signal'), payload: fc.constantFrom({ signal: 'LONG', entry: 5000, stop: 4990, targets: [5010, 5020] }, { signal: 'SHORT', entry: 5000, stop: 5010, targets: [4990, 4980] }) }),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        async (burst) => {
          bursts++;
          const before = s.received.length;
          const handledBefore = handled();
          for (const m of burst) src.send(m); // one output wired to both nodes: each message reaches both, synchronously
          // Every order of this burst that leaves is acknowledged before its node is done with it.
          await until(() => handled() === handledBefore + 2 * burst.length, testTimeLeft(), `both nodes done with the burst of ${burst.length}`);
          const left = s.received.slice(before);
          // Worst case per side: every new entry leaving in this burst on top of what was working before it.
          let buys = 0;
          let sells = 0;
          for (const m of left) {
            if (m.Type !== MessageType.SUBMIT_NEW_SINGLE_ORDER) continue;
            sent++;
            if (m.BuySell === 1) buys += Number(m.Quantity);
            else sells += Number(m.Quantity);
          }
          assert.ok(buys <= LIMITS.maxPosition && sells <= LIMITS.maxPosition, `at most max position per side left in one burst (buys ${buys}, sells ${sells})`);
          // Clean slate for the next burst: cancel what works (the server cancels at once).
          connection.riskEngine.setKillSwitch('ACTIVE');
          await connection.cancelAll().catch(() => undefined);
        },
      ),
      { seed: SEED, numRuns: 40 },
    );
    process.stdout.write(`      figures sync-bursts: ${JSON.stringify({ bursts, ordersSent: sent })}\n`);
    assert.ok(sent > 0);
    assert.deepEqual(runtime.trap.errors, []);
  });

  it('a server that never answers a cancel: kill reports it, stays HALTED, nothing ends', async function () {
    this.timeout(60_000);
    const s = await runtime.startDtc({
      onOrder: (m, s) => {
        if (m.Type === MessageType.CANCEL_ORDER) return [];
        const answers = acceptAll(m, s);
        s.book.openOrders.push(...answers); // still working whenever it is asked
        return answers;
      },
    });
    s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Sim1' }];
    const connection = await load(flow(s.port));
    const order = helper.getNode('order0') as TestNode;
    const caught: string[] = [];
    (helper.getNode('caught') as TestNode).on('input', (m) => caught.push(String((m.error as { message?: unknown }).message)));
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    await until(() => newOrders(s).length === 1 && connection.riskEngine.openOrders().some((o) => o.phase === 'working'), testTimeLeft(), 'working');
    order.receive({ topic: 'kill' });
    await until(() => caught.length > 0, testTimeLeft(), 'kill reported');
    assert.match(caught[0], /Kill switch HALTED.*failed/);
    assert.equal(connection.riskEngine.killSwitch, 'HALTED');
    assert.deepEqual(runtime.trap.errors, []);
  });

  it('kill while the server went silent (heartbeat loss): HALTED, the failure reported, nothing ends, nothing leaves later', async () => {
    const s = await runtime.startDtc({
      onOrder: (m, srv) => {
        const answers = acceptAll(m, srv);
        if (m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER) srv.book.openOrders.push(...answers); // Sierra keeps it working
        return answers;
      },
    });
    s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Sim1' }];
    const connection = await load(flow(s.port));
    const order = helper.getNode('order0') as TestNode;
    const caught: string[] = [];
    (helper.getNode('caught') as TestNode).on('input', (m) => caught.push(String((m.error as { message?: unknown }).message)));
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    await until(() => newOrders(s).length === 1, testTimeLeft(), 'working');
    s.frozen = true;
    await until(() => connection.status().state !== 'ready', testTimeLeft(), 'heartbeat loss noticed');
    order.receive({ topic: 'kill' });
    await until(() => caught.length > 0, testTimeLeft(), 'kill reported');
    assert.match(caught[0], /Kill switch HALTED.*failed/);
    assert.equal(connection.riskEngine.killSwitch, 'HALTED');
    s.frozen = false;
    await connection.whenReady(testTimeLeft());
    const before = newOrders(s).length;
    const handled = countHandled();
    order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    await until(() => handled() === 1, testTimeLeft(), 'the order node done with the buy');
    assert.equal(newOrders(s).length, before, 'still HALTED after the reconnect');
    // The kill could not cancel the working buy while the server was silent: it is cancelled once Sierra is back.
    await until(() => cancels(s).some((c) => c.ClientOrderID === newOrders(s)[0].ClientOrderID), testTimeLeft(), 'the order the kill could not reach is cancelled after the reconnect');
    assert.deepEqual(runtime.trap.errors, []);
  });

  it('kill switch, trades today and the day\'s loss survive a restart (journal in the user dir); nothing leaves after it', async () => {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'adv-sierra-'));
    helper.settings({ userDir });
    try {
      const s = await runtime.startDtc({
        onOrder: (m, s) => {
          if (m.Type !== MessageType.SUBMIT_NEW_SINGLE_ORDER) return acceptAll(m, s);
          // Filled at once at 5000.
          const [ack] = acceptAll(m, s);
          return [ack, { ...ack, OrderStatus: OrderStatus.FILLED, OrderUpdateReason: OrderUpdateReason.ORDER_FILLED, FilledQuantity: m.Quantity, AverageFillPrice: 5000, LastFillPrice: 5000, LastFillQuantity: m.Quantity, LastFillExecutionID: `E-${String(ack.ServerOrderID)}` }];
        },
      });
      let connection = await load(flow(s.port, { cfg: { maxTradesPerDay: 1 } }));
      let handled = countHandled();
      let order = helper.getNode('order0') as TestNode;
      order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      await until(() => connection.riskState().tradesToday === 1, testTimeLeft(), 'one trade counted');
      order.receive({ topic: 'kill' });
      await until(() => connection.riskEngine.killSwitch === 'HALTED', testTimeLeft(), 'HALTED');
      await until(() => handled() === 2, testTimeLeft(), 'the order node done with the buy and the kill');
      // Restart: the flow goes, the process's engines go (as in a new process), the journal stays.
      await helper.unload();
      resetAccountsForTest();
      s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Sim1' }];
      const before = newOrders(s).length;
      connection = await load(flow(s.port, { cfg: { maxTradesPerDay: 1 } }));
      order = helper.getNode('order0') as TestNode;
      handled = countHandled();
      assert.equal(connection.riskEngine.killSwitch, 'HALTED', 'the kill switch came back HALTED');
      assert.equal(connection.riskState().tradesToday, 1, 'trades today came back');
      order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      await until(() => handled() === 1, testTimeLeft(), 'the order node done with the buy');
      assert.equal(newOrders(s).length, before, 'nothing leaves while HALTED after the restart');
      order.receive({ topic: 'resume' });
      order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      await until(() => handled() === 3, testTimeLeft(), 'the order node done with the resume and the buy');
      assert.equal(newOrders(s).length, before, 'max trades per day (1) still holds after the restart');
      assert.deepEqual(runtime.trap.errors, []);
    } finally {
      fs.rmSync(userDir, { recursive: true, force: true });
    }
  });
});

describe('adversarial: one trade account through two sierra-config nodes (Node-RED runtime)', function () {
  this.timeout(60_000);
  const runtime = useHostileDtcRuntime();

  for (const [broadcast, tradingOnA] of [[true, true], [false, true], [true, false]]) {
    it(`kill through one connection cancels the account's orders placed through the other (server ${broadcast ? 'tells every connection' : 'answers only the sender'}${tradingOnA ? '' : '; trading off on the one pressed'})`, async () => {
      const s = await runtime.startDtc({
        account: 'Acct1',
        onOrder: (m, s) => {
          const answers = acceptAll(m, s);
          if (m.Type !== MessageType.CANCEL_ORDER) s.book.openOrders.push(...answers);
          else s.book.openOrders = s.book.openOrders.filter((o) => o.ClientOrderID !== m.ClientOrderID);
          if (!broadcast) return answers;
          s.push(...answers);
          return [];
        },
      });
      s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Acct1' }];
      const cfg = (id: string) => ({ id, type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port: s.port, handshake: false, root: 'ES', symbolFormat: 'sierra-cme', heartbeatSec: 1, tradeAccount: 'Acct1', ...LIMITS });
      const flowDef = [
        { id: 'tab', type: 'tab', label: 'adv' },
        { ...cfg('cfgA'), tradingEnabled: tradingOnA },
        cfg('cfgB'),
        { id: 'orderA', type: 'sierra-order', z: 'tab', connection: 'cfgA', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
        { id: 'orderB', type: 'sierra-order', z: 'tab', connection: 'cfgB', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['orderA', 'orderB'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper', z: 'tab' },
      ];
      await helper.load([configModule, orderModule, catchNode], flowDef as never);
      const a = await (helper.getNode('cfgA') as unknown as SierraConfigNode).connection();
      const b = await (helper.getNode('cfgB') as unknown as SierraConfigNode).connection();
      await a.whenReady(testTimeLeft());
      await b.whenReady(testTimeLeft());
      assert.equal(a.riskEngine, b.riskEngine, 'one engine for the account');
      (helper.getNode('orderB') as TestNode).receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
      await until(() => newOrders(s).length === 1 && a.riskEngine.openOrders().some((o) => o.phase === 'working'), testTimeLeft(), 'B\'s order working');
      const placed = newOrders(s)[0];
      (helper.getNode('orderA') as TestNode).receive({ topic: 'kill' });
      await until(() => a.riskEngine.killSwitch === 'HALTED', testTimeLeft(), 'HALTED');
      const cancelled = (): boolean => cancels(s).some((c) => c.ClientOrderID === placed.ClientOrderID);
      await until(cancelled, testTimeLeft(), `the kill cancelled ${String(placed.ClientOrderID)}, placed through the other connection`).catch((err: Error) => {
        if (process.env.ADV_DEBUG) process.stdout.write(`${JSON.stringify(helper.log().args.map((x: unknown[]) => String((x[0] as { msg: unknown }).msg)).filter((t: string) => /kill|cancel/i.test(t)))}\n`);
        throw err;
      });
      assert.ok(cancelled());
      assert.deepEqual(runtime.trap.errors, []);
    });
  }

  it('an order on the wire through one connection at a kill through the other is cancelled once, with no false alarm', async () => {
    const held: Raw[] = [];
    const s = await runtime.startDtc({ account: 'Acct1', onOrder: holdNewOrders(held) });
    s.book.positions = [{ Type: MessageType.POSITION_UPDATE, Symbol: 'ESZ26_FUT_CME', Quantity: 0, TradeAccount: 'Acct1' }];
    const cfg = (id: string) => ({ id, type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port: s.port, handshake: false, root: 'ES', symbolFormat: 'sierra-cme', heartbeatSec: 1, tradeAccount: 'Acct1', ...LIMITS });
    await helper.load([configModule, orderModule, catchNode], [
      { id: 'tab', type: 'tab', label: 'adv' },
      cfg('cfgA'),
      cfg('cfgB'),
      { id: 'orderA', type: 'sierra-order', z: 'tab', connection: 'cfgA', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
      { id: 'orderB', type: 'sierra-order', z: 'tab', connection: 'cfgB', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
    ] as never);
    const a = await (helper.getNode('cfgA') as unknown as SierraConfigNode).connection();
    const b = await (helper.getNode('cfgB') as unknown as SierraConfigNode).connection();
    await a.whenReady(testTimeLeft());
    await b.whenReady(testTimeLeft());
    const warnings: string[] = [];
    a.on('risk-warning', (w: string) => warnings.push(w));
    b.on('risk-warning', (w: string) => warnings.push(w));
    (helper.getNode('orderB') as TestNode).receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 5000 } });
    await until(() => held.length === 1, testTimeLeft(), 'the buy left through B');
    (helper.getNode('orderA') as TestNode).receive({ topic: 'kill' });
    await until(() => a.riskEngine.killSwitch === 'HALTED', testTimeLeft(), 'HALTED');
    await sleep(100);
    s.push(...acceptAll(held[0], s)); // acknowledged to B's socket only... and to A's: push goes to every connection
    await until(() => cancels(s).some((c) => c.ClientOrderID === held[0].ClientOrderID), testTimeLeft(), 'the late order is cancelled');
    await sleep(300);
    assert.deepEqual(warnings.filter((w) => /could not be cancelled/.test(w)), [], 'no connection claims a cancel failed');
    assert.deepEqual(runtime.trap.errors, []);
  });
});
