// The restart path of a Sierra account's risk engine (issue 11, findings of test/e2e/crash.test.ts, in process):
// flatten ids are journaled before they leave, orphaned bracket exits are cancelled before the manager says ready,
// and a trade opened by a fill the journal never recorded is counted at the reconcile.
import { strict as assert } from 'assert';
import { SierraConnection, type SierraConnectionOptions } from '../../../lib/sierra/connection';
import { OrderStatus } from '../../../lib/sierra/protocol';
import { MemoryJournal } from '../../../lib/trading/journal';
import { SYMBOL, restartOnBroker, startRig, until, workingAtBroker, type Rig } from './support/harness';

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
      await until(() => c.simulator?.positions()[0]?.quantity === 1, undefined, 'long 1');
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
      await until(() => c.simulator?.positions()[0]?.quantity === 1, undefined, 'long 1');
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
      await until(() => c.simulator?.positions()[0]?.quantity === 1, undefined, 'long 1');
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
    afterEach(async () => {
      await rig?.close();
      rig = undefined;
    });

    it('entry filled, position flattened just before the kill, stop and target still working: both cancelled before ready', async () => {
      rig = await startRig();
      const r = rig;
      const result = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6020] } });
      await until(() => workingAtBroker(r).length === 2, undefined, 'stop and target working');
      await r.manager.flattenPosition(SYMBOL);
      await until(() => r.sim.positions()[0]?.quantity === 0, undefined, 'flat');
      assert.deepEqual(workingAtBroker(r).sort(), [result.target!.clientOrderId, result.stop!.clientOrderId].sort(), 'the flatten alone leaves them working');
      const { atReady } = await restartOnBroker(r); // kill -9 of this process, then a new one
      assert.deepEqual(atReady, [], 'bracket exits of a flat position were still working when the restarted manager said ready');
    });

    it("lists the session's executions at the reconcile (with the ServerOrderID), for the risk engine to count trades opened while down", async () => {
      rig = await startRig();
      const r = rig;
      const { order } = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      await until(() => r.sim.positions()[0]?.quantity === 1, undefined, 'long 1');
      const { manager } = await restartOnBroker(r);
      const fills = manager.sessionFills();
      assert.equal(fills.length, 1);
      assert.deepEqual({ ...fills[0], executionId: '' }, { serverOrderId: order.serverOrderId, clientOrderId: null, symbol: SYMBOL, side: 'buy', quantity: 1, executionId: '' });
    });

    it('keeps the exits of a position that is still open, and the children of a parent still working', async () => {
      rig = await startRig();
      const r = rig;
      const filled = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6020] } });
      const resting = await r.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5950, bracket: { stop: 5940, targets: [5970] } });
      await until(() => workingAtBroker(r).length >= 3, undefined, 'orders working');
      const before = workingAtBroker(r).sort();
      const { atReady } = await restartOnBroker(r);
      assert.deepEqual(atReady.sort(), before);
      for (const id of [filled.stop!.clientOrderId, filled.target!.clientOrderId, resting.order.clientOrderId]) assert.ok(atReady.includes(id), `${id} kept`);
    });
  });
});
