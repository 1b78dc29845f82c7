import { strict as assert } from 'assert';
import type { Fill, OrderUpdate, Position } from '../../../lib/contracts';
import { InvalidInputError } from '../../../lib/errors';
import { MessageType, OrderStatus, OrderUpdateReason } from '../../../lib/sierra/protocol';
import { OrderManager, type InvalidTransition, type ManagerState } from '../../../lib/sierra/order-manager';
import { testTimeLeft } from '../../support/budget';
import { DtcClient } from '../../../lib/sierra/client';
import { OrderNotFoundError, OrderRejectedError, RiskDeniedError, TradingDisabledError } from '../../../lib/sierra/errors';
import { SYMBOL, collect, nextEvent, sleep, startRig, until, type Rig } from './support/harness';

describe('sierra order manager', function () {
  this.timeout(10000);
  let rig: Rig;
  afterEach(async () => rig?.close());

  describe('single orders', () => {
    beforeEach(async () => {
      rig = await startRig();
    });

    it('places a market order: accepted, filled once, position and account reported', async () => {
      const fills = collect<Fill>(rig.manager, 'fill');
      const positions = collect<Position>(rig.manager, 'position');
      const accounts = collect<Record<string, unknown>>(rig.manager, 'account');
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 2, type: 'market' });
      assert.match(order.clientOrderId, /^\d{8}-mia-\d+$/);
      await until(() => fills.length === 1 && positions.length > 0 && accounts.length > 0, undefined, 'fill');
      assert.deepEqual({ ...fills[0], t: 0 }, { clientOrderId: order.clientOrderId, serverOrderId: order.serverOrderId, side: 'buy', quantity: 2, price: 6000, t: 0 });
      assert.equal(positions.at(-1)!.quantity, 2);
      assert.equal(rig.manager.order(order.clientOrderId)!.status, 'filled');
      await sleep(30);
      assert.equal(fills.length, 1);
    });

    it("sends a trader's own clientOrderId once, as the DTC ClientOrderID; a second use is refused before anything is sent", async () => {
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', clientOrderId: 'my-entry-1' });
      assert.equal(order.clientOrderId, 'my-entry-1');
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', clientOrderId: 'my-entry-1' }), /already used/);
      assert.equal(rig.manager.snapshot().filter((o) => o.clientOrderId === 'my-entry-1').length, 1);
    });

    it('works a limit order through a partial fill to the full fill, each fill reported once', async () => {
      const fills = collect<Fill>(rig.manager, 'fill');
      const updates = collect<OrderUpdate>(rig.manager, 'order-update');
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 3, type: 'limit', price: 5990 });
      assert.equal(order.status, 'working');
      rig.market.trade(5989.75, 1);
      await until(() => fills.length === 1, undefined, 'partial fill');
      assert.equal(rig.manager.order(order.clientOrderId)!.status, 'partially-filled');
      rig.market.trade(5989.75, 10);
      await until(() => fills.length === 2, undefined, 'full fill');
      assert.deepEqual(fills.map((f) => [f.quantity, f.price]), [[1, 5990], [2, 5990]]);
      const last = updates.at(-1)!;
      assert.equal(last.status, 'filled');
      assert.equal(last.filledQuantity, 3);
      assert.equal(last.averageFillPrice, 5990);
    });

    it('places stop and stop-limit orders with their trigger and limit', async () => {
      const stop = await rig.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'stop', stopPrice: 5980 });
      const stopLimit = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'stop-limit', stopPrice: 6010, price: 6011 });
      const atSim = rig.sim.orders();
      assert.deepEqual(atSim.map((o) => [o.clientOrderId, o.price1, o.price2]), [
        [stop.order.clientOrderId, 5980, null],
        [stopLimit.order.clientOrderId, 6010, 6011],
      ]);
    });

    it('cancels a working order, and a second cancel is harmless', async () => {
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
      const cancelled = await rig.manager.cancel(order.clientOrderId);
      assert.equal(cancelled.status, 'cancelled');
      assert.equal((await rig.manager.cancel(order.clientOrderId)).status, 'cancelled');
      await assert.rejects(rig.manager.cancel('20250101-mia-999'), OrderNotFoundError);
    });

    it('modifies price and quantity by ServerOrderID and follows a new ServerOrderID', async () => {
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
      const modified = await rig.manager.modify(order.clientOrderId, { price: 5905, quantity: 2 });
      assert.equal(modified.quantity, 2);
      const atSim = rig.sim.orders().find((o) => o.clientOrderId === order.clientOrderId && o.status === OrderStatus.OPEN)!;
      assert.equal(atSim.price1, 5905);
      assert.equal(modified.serverOrderId, atSim.serverOrderId);
      assert.equal((await rig.manager.cancel(order.clientOrderId)).status, 'cancelled');
    });

    it('rejects invalid intents before anything is sent', async () => {
      const sent = rig.sim.orders().length;
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 0, type: 'market' }), InvalidInputError);
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit' }), /needs price/);
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5990.1 }), /is not on the instrument's 0.25 tick/);
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 6010, targets: [5990] } }), /wrong way round for a buy/);
      await assert.rejects(rig.manager.modify('nope', { price: 1 }), OrderNotFoundError);
      assert.equal(rig.sim.orders().length, sent);
    });

    it('reports Sierra\'s reject of an unknown symbol with its text', async () => {
      const updates = collect<OrderUpdate>(rig.manager, 'order-update');
      await assert.rejects(rig.manager.submit({ symbol: 'NQZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' }), OrderRejectedError);
      assert.equal(updates.at(-1)!.status, 'rejected');
      assert.ok(updates.at(-1)!.reason);
    });

    it('a cancel that loses the race to a fill resolves as filled', async () => {
      const fills = collect<Fill>(rig.manager, 'fill');
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5990 });
      rig.sim.delayAnswers(40); // the fill is on its way when the cancel leaves
      rig.market.trade(5989.75, 5);
      const final = await rig.manager.cancel(order.clientOrderId);
      rig.sim.delayAnswers(0);
      assert.equal(final.status, 'filled');
      assert.equal(fills.length, 1);
    });

    it('a modify that loses the race to a fill is reported as not applied', async () => {
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5990 });
      rig.sim.delayAnswers(40);
      rig.market.trade(5989.75, 5);
      await assert.rejects(rig.manager.modify(order.clientOrderId, { price: 5985 }), OrderRejectedError);
      rig.sim.delayAnswers(0);
      assert.equal(rig.manager.order(order.clientOrderId)!.status, 'filled');
    });

    it('refuses to modify a filled order, sending nothing', async () => {
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      await until(() => rig.manager.order(order.clientOrderId)!.status === 'filled');
      await assert.rejects(rig.manager.modify(order.clientOrderId, { quantity: 3 }), /already filled/);
    });

    it('lets the risk hook deny an order, naming the rule, with nothing sent', async () => {
      rig.manager.dispose();
      const released: string[] = [];
      const manager = new OrderManager(rig.client, {
        risk: {
          reserve: (i) => (i.action === 'submit' && i.quantity > 2 ? { allowed: false, rule: 'max-contracts', reason: 'at most 2 contracts' } : { allowed: true }),
          authorizeSend: () => ({ allowed: true }),
          release: (id) => void released.push(id),
        },
      });
      await manager.whenReady();
      const sent = rig.sim.orders().length;
      const err = await manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 3, type: 'market' }).catch((e: unknown) => e);
      assert.ok(err instanceof RiskDeniedError);
      assert.equal(err.rule, 'max-contracts');
      assert.equal(err.code, 'RISK_DENIED');
      assert.equal(rig.sim.orders().length, sent);
      await manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 2, type: 'market' });
      assert.deepEqual(released, []);
      manager.dispose();
    });

    it('checks again at the instant of sending: refused there, the reservation is released and nothing is sent', async () => {
      rig.manager.dispose();
      const log: string[] = [];
      const manager = new OrderManager(rig.client, {
        risk: {
          reserve: (_i, ids) => (log.push(`reserve ${ids.exits.length}`), { allowed: true }),
          authorizeSend: () => ({ allowed: false, rule: 'kill-switch', reason: 'kill switch is HALTED' }),
          release: () => void log.push('release'),
        },
      });
      await manager.whenReady();
      const sent = rig.sim.orders().length;
      const err = await manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5990, targets: [6010] } }).catch((e: unknown) => e);
      assert.ok(err instanceof RiskDeniedError);
      assert.equal(err.rule, 'kill-switch');
      assert.deepEqual(log, ['reserve 2', 'release']);
      assert.equal(rig.sim.orders().length, sent);
      manager.dispose();
    });

    it('flatten while Sierra refuses a cancel: rejects once, naming the refusal, with no rejection left unhandled (issue 11)', async () => {
      await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      await until(() => rig.manager.positions().some((p) => p.quantity === 1));
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
      // Sierra answers the cancel with "cancel rejected" (reason 9) instead of cancelling.
      const send = rig.client.send.bind(rig.client);
      rig.client.send = (...messages) => {
        const cancel = messages.find((m) => m.Type === MessageType.CANCEL_ORDER);
        if (!cancel) return send(...messages);
        setImmediate(() => rig.client.emit('message', { Type: MessageType.ORDER_UPDATE, ClientOrderID: order.clientOrderId, ServerOrderID: order.serverOrderId ?? '', OrderStatus: OrderStatus.OPEN, OrderUpdateReason: OrderUpdateReason.ORDER_CANCEL_REJECTED, InfoText: 'Order cannot be cancelled' }));
      };
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
      process.prependListener('unhandledRejection', onUnhandled);
      try {
        await assert.rejects(rig.manager.flatten(SYMBOL), /refused to cancel/);
        await sleep(50);
      } finally {
        process.off('unhandledRejection', onUnhandled);
        rig.client.send = send;
      }
      assert.deepEqual(unhandled, []);
      // The flatten itself still went out: the position is closed even though the cancel was refused.
      await until(() => rig.sim.positions().reduce((q, p) => q + p.quantity, 0) === 0);
    });

    it('flattens: cancels the working orders of the symbol, then closes the position', async () => {
      await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 2, type: 'market' });
      await rig.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 2, type: 'limit', price: 6050 });
      await until(() => rig.sim.positions()[0]?.quantity === 2);
      await sleep(20);
      const result = await rig.manager.flatten(SYMBOL);
      assert.equal(result.cancelled.length, 1);
      await until(() => rig.sim.positions()[0].quantity === 0, undefined, 'flat');
      assert.equal(rig.sim.orders().filter((o) => o.status === OrderStatus.OPEN).length, 0);
    });

    it('cancel-all cancels every working order', async () => {
      await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
      await rig.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'limit', price: 6100 });
      const results = await rig.manager.cancelAll();
      assert.deepEqual(results.map((r) => r.status), ['cancelled', 'cancelled']);
    });

    it('reports an impossible transition instead of applying it', async () => {
      const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      await until(() => rig.manager.order(order.clientOrderId)!.status === 'filled');
      const invalid = nextEvent<InvalidTransition>(rig.manager, 'invalid-transition');
      rig.client.emit('message', { Type: 301, RequestID: 0, ClientOrderID: order.clientOrderId, ServerOrderID: order.serverOrderId!, OrderStatus: OrderStatus.OPEN, OrderUpdateReason: 3, OrderQuantity: 1, FilledQuantity: 0, BuySell: 1, Symbol: SYMBOL });
      const report = await invalid;
      assert.equal(report.from, 'FILLED');
      assert.equal(report.to, 'OPEN');
      assert.equal(rig.manager.order(order.clientOrderId)!.status, 'filled');
    });
  });

  describe('brackets', () => {
    beforeEach(async () => {
      rig = await startRig();
    });

    it('keeps the children pending until the parent fills, then the target fill cancels the stop', async () => {
      const fills = collect<Fill>(rig.manager, 'fill');
      const result = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 2, type: 'limit', price: 5990, bracket: { stop: 5980, targets: [6010] } });
      assert.equal(result.target!.status, 'pending');
      assert.equal(result.stop!.status, 'pending');
      rig.market.trade(5989.75, 10);
      await until(() => rig.manager.order(result.target!.clientOrderId)!.status === 'working', undefined, 'children open');
      rig.market.trade(6010.25, 10);
      await until(() => rig.manager.order(result.stop!.clientOrderId)!.status === 'cancelled', undefined, 'stop cancelled');
      assert.equal(rig.manager.order(result.target!.clientOrderId)!.status, 'filled');
      assert.deepEqual(fills.map((f) => [f.side, f.quantity, f.price]), [['buy', 2, 5990], ['sell', 2, 6010]]);
      assert.equal(rig.sim.positions()[0].quantity, 0);
    });

    it('cancelling the parent cancels the children', async () => {
      const result = await rig.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'limit', price: 6020, bracket: { stop: 6030, targets: [6000] } });
      await rig.manager.cancel(result.order.clientOrderId);
      await until(() => rig.manager.order(result.stop!.clientOrderId)!.status === 'cancelled', undefined, 'children cancelled');
      assert.equal(rig.manager.order(result.target!.clientOrderId)!.status, 'cancelled');
    });

    it('a partial fill of the target reduces the stop (OCO)', async () => {
      const result = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 3, type: 'market', bracket: { stop: 5980, targets: [6010] } });
      await until(() => rig.manager.order(result.stop!.clientOrderId)!.status === 'working', undefined, 'children open');
      rig.market.trade(6010.25, 1);
      await until(() => rig.manager.order(result.target!.clientOrderId)!.filledQuantity === 1, undefined, 'target partial');
      await until(() => rig.manager.order(result.stop!.clientOrderId)!.quantity === 2, undefined, 'stop reduced');
    });

    it('is all-or-none: a rejected bracket rejects all three', async () => {
      const updates = collect<OrderUpdate>(rig.manager, 'order-update');
      await assert.rejects(rig.manager.submit({ symbol: 'NQZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market', bracket: { stop: 5980, targets: [6010] } }), OrderRejectedError);
      assert.equal(updates.filter((u) => u.status === 'rejected').length, 3);
    });
  });

  describe('trading gates', () => {
    it('refuses to trade when the server does not allow trading', async () => {
      rig = await startRig({ sim: { allowTrading: false } });
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' }), /does not allow trading/);
      assert.equal(rig.sim.orders().length, 0);
    });

    it('refuses with a clear error while the trading switch is off', async () => {
      rig = await startRig({ client: { tradingEnabled: false } });
      await assert.rejects(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' }), TradingDisabledError);
      await assert.rejects(rig.manager.cancelAll(), /Trading is disabled in the Sierra Chart connection settings/);
    });

    it('refuses (never queues) instructions while reconciling after a reconnect', async () => {
      rig = await startRig({ client: { reconnect: { initialDelayMs: 200, maxDelayMs: 200 } } });
      // Submitted the moment the manager starts reconciling (a poll could miss a reconcile that is quickly over).
      const outcome = new Promise<unknown>((resolve) => {
        const on = (state: ManagerState): void => {
          if (state !== 'reconciling') return;
          rig.manager.off('state', on);
          resolve(rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' }).then(() => 'placed', (err: unknown) => err));
        };
        rig.manager.on('state', on);
      });
      rig.sim.dropConnections();
      assert.match(String(await outcome), /refused, not queued/);
      await rig.manager.whenReady(testTimeLeft());
      assert.equal(rig.sim.orders().length, 0);
    });
  });

  describe('ClientOrderID continuation', () => {
    it('continues after the highest id the server lists at logon (restart with working orders)', async () => {
      rig = await startRig();
      const working = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
      await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5901 });
      // A restart: a new client and manager with the same prefix and no persisted sequence.
      const client = new DtcClient({ port: rig.sim.port, tradingEnabled: true, reconnect: { enabled: false } });
      const manager = new OrderManager(client, { symbols: [SYMBOL] });
      try {
        await client.connect();
        await manager.whenReady();
        const next = await manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5902 });
        const sequence = (id: string): number => Number(id.split('-')[2]);
        assert.ok(sequence(next.order.clientOrderId) > sequence(working.order.clientOrderId));
        assert.equal(manager.order(working.order.clientOrderId)!.status, 'working');
      } finally {
        manager.dispose();
        await client.close();
      }
    });

    it('issues a fresh id after a restart that persisted nothing and sees nothing working (DTC fills carry no ClientOrderID)', async () => {
      rig = await startRig();
      const first = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
      await until(() => rig.manager.order(first.order.clientOrderId)!.status === 'filled');
      for (const lastSequence of [0, rig.manager.lastSequence]) {
        const client = new DtcClient({ port: rig.sim.port, tradingEnabled: true, reconnect: { enabled: false } });
        const manager = new OrderManager(client, { symbols: [SYMBOL], lastSequence });
        try {
          await client.connect();
          await manager.whenReady();
          const next = await manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 1, type: 'market' });
          assert.notEqual(next.order.clientOrderId, first.order.clientOrderId); // Sierra would reject a duplicate
        } finally {
          manager.dispose();
          await client.close();
        }
      }
    });
  });
});
