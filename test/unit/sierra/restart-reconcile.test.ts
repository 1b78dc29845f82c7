// The restart path of a Sierra account's risk engine (issue 11, findings of test/e2e/crash.test.ts, in process):
// flatten ids are journaled before they leave, orphaned bracket exits are cancelled before the manager says ready,
// and a trade opened by a fill the journal never recorded is counted at the reconcile.
import { strict as assert } from 'assert';
import { SierraConnection, type SierraConnectionOptions } from '../../../lib/sierra/connection';
import { OrderStatus } from '../../../lib/sierra/protocol';
import { DtcClient } from '../../../lib/sierra/client';
import { OrderManager, type ManagerState } from '../../../lib/sierra/order-manager';
import { MemoryJournal } from '../../../lib/trading/journal';
import { SYMBOL, startRig, until, type Rig } from './support/harness';

const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 };

describe('Sierra restart path: every order journaled, no orphan, every trade counted', function () {
  this.timeout(15_000);

  describe('flatten ids are journaled before they leave', () => {
    let connection: SierraConnection | undefined;
    afterEach(async () => {
      await connection?.close();
      connection = undefined;
    });

    async function open(journal: MemoryJournal): Promise<SierraConnection> {
      const options: SierraConnectionOptions = {
        client: { tradeAccount: 'Sim1', heartbeatSec: 1, tradingEnabled: true },
        symbol: 'ESZ25_FUT_CME',
        risk: { limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 },
        simulator: { seed: 3, speed: 0.001 },
        journal,
      };
      connection = new SierraConnection(options);
      await connection.whenReady(10_000);
      return connection;
    }

    const flattenIds = (c: SierraConnection, before: Set<string>): string[] =>
      (c.simulator?.orders() ?? []).map((o) => o.clientOrderId).filter((id) => !before.has(id));

    it('flatten: the flatten order\'s ClientOrderID is among the journal\'s ids in use when it reaches the broker', async () => {
      const journal = new MemoryJournal();
      const c = await open(journal);
      await c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' });
      await until(() => c.simulator?.positions()[0]?.quantity === 1, 3000, 'long 1');
      const before = new Set(c.simulator!.orders().map((o) => o.clientOrderId));
      await c.flatten();
      const sent = flattenIds(c, before);
      assert.equal(sent.length, 1, 'one flatten order reached the broker');
      assert.ok(journal.loadSync()?.usedIds[sent[0]] !== undefined, `flatten id ${sent[0]} is not in the journal's ids in use`);
    });

    it('kill switch: its flatten order\'s ClientOrderID is journaled too', async () => {
      const journal = new MemoryJournal();
      const c = await open(journal);
      await c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' });
      await until(() => c.simulator?.positions()[0]?.quantity === 1, 3000, 'long 1');
      const before = new Set(c.simulator!.orders().map((o) => o.clientOrderId));
      await c.kill();
      const sent = flattenIds(c, before);
      assert.equal(sent.length, 1);
      assert.ok(journal.loadSync()?.usedIds[sent[0]] !== undefined, `kill-switch flatten id ${sent[0]} is not in the journal's ids in use`);
      assert.equal(c.simulator!.orders().filter((o) => o.status === OrderStatus.OPEN).length, 0);
    });

    it('a flatten whose id cannot be journaled is not sent', async () => {
      const journal = new MemoryJournal();
      const c = await open(journal);
      await c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' });
      await until(() => c.simulator?.positions()[0]?.quantity === 1, 3000, 'long 1');
      const before = new Set(c.simulator!.orders().map((o) => o.clientOrderId));
      journal.save = () => {
        throw new Error('disk full');
      };
      await assert.rejects(c.flatten(), /journal could not be written/);
      assert.deepEqual(flattenIds(c, before), []);
    });
  });
  describe('orphaned bracket exits are cancelled before the restarted manager says ready', () => {
    let rig: Rig | undefined;
    let restarted: { client: DtcClient; manager: OrderManager } | undefined;
    afterEach(async () => {
      restarted?.manager.dispose();
      await restarted?.client.close();
      await rig?.close();
      rig = undefined;
      restarted = undefined;
    });

    const workingAtBroker = (r: Rig): string[] => r.sim.orders().filter((o) => o.status === OrderStatus.OPEN).map((o) => o.clientOrderId);

    /** A new process: a new client and manager on the same broker; what works at the broker when it says ready. */
    async function restart(r: Rig): Promise<{ manager: OrderManager; atReady: string[] }> {
      const client = new DtcClient({ port: r.sim.port, tradingEnabled: true, reconnect: { enabled: false } });
      const manager = new OrderManager(client, { symbols: [SYMBOL] });
      restarted = { client, manager };
      let atReady: string[] | null = null;
      manager.on('state', (s: ManagerState) => {
        if (s === 'ready' && atReady === null) atReady = workingAtBroker(r);
      });
      await client.connect();
      await manager.whenReady(5000);
      return { manager, atReady: atReady ?? [] };
    }

    it('entry filled, position flattened just before the kill, stop and target still working: both cancelled before ready', async () => {
      rig = await startRig();
      const r = rig;
      const result = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6020] } });
      await until(() => workingAtBroker(r).length === 2, 2000, 'stop and target working');
      await r.manager.flattenPosition(SYMBOL);
      await until(() => r.sim.positions()[0]?.quantity === 0, 2000, 'flat');
      assert.deepEqual(workingAtBroker(r).sort(), [result.target!.clientOrderId, result.stop!.clientOrderId].sort(), 'the flatten alone leaves them working');
      r.manager.dispose(); // kill -9: nothing more from this process
      await r.client.close();
      const { atReady } = await restart(r);
      assert.deepEqual(atReady, [], 'bracket exits of a flat position were still working when the restarted manager said ready');
    });

    it("lists the session's executions at the reconcile (with the ServerOrderID), for the risk engine to count trades opened while down", async () => {
      rig = await startRig();
      const r = rig;
      const { order } = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      await until(() => r.sim.positions()[0]?.quantity === 1, 2000, 'long 1');
      r.manager.dispose();
      await r.client.close();
      const { manager } = await restart(r);
      const fills = manager.sessionFills();
      assert.equal(fills.length, 1);
      assert.deepEqual({ ...fills[0], executionId: '' }, { serverOrderId: order.serverOrderId, clientOrderId: null, symbol: SYMBOL, side: 'buy', quantity: 1, executionId: '' });
    });

    it('keeps the exits of a position that is still open, and the children of a parent still working', async () => {
      rig = await startRig();
      const r = rig;
      const filled = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6020] } });
      const resting = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5950, bracket: { stop: 5940, targets: [5970] } });
      await until(() => workingAtBroker(r).length >= 3, 2000, 'orders working');
      const before = workingAtBroker(r).sort();
      r.manager.dispose();
      await r.client.close();
      const { atReady } = await restart(r);
      assert.deepEqual(atReady.sort(), before);
      for (const id of [filled.stop!.clientOrderId, filled.target!.clientOrderId, resting.order.clientOrderId]) assert.ok(atReady.includes(id), `${id} kept`);
    });
  });
});
