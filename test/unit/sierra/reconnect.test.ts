import { strict as assert } from 'assert';
import fc from 'fast-check';
import type { Fill, OrderUpdate } from '../../../lib/contracts';
import { MessageType } from '../../../lib/sierra/protocol';
import { OrderRejectedError, OrderStateUnknownError, TradingDisabledError } from '../../../lib/sierra/errors';
import type { ManagerState } from '../../../lib/sierra/order-manager';
import { testTimeLeft } from '../../support/budget';
import { SYMBOL, collect, sleep, startRig, until, type Rig } from './support/harness';
import { FakeScheduler } from '../ibkr/loopback';

describe('sierra order manager across disconnects', function () {
  this.timeout(30000);
  let rig: Rig;
  afterEach(async () => rig?.close());

  it('keeps working orders and positions across a reconnect and reports a fill made while away exactly once', async () => {
    rig = await startRig({ client: { reconnect: { initialDelayMs: 150, maxDelayMs: 150 } } });
    const fills = collect<Fill>(rig.manager, 'fill');
    // Every state the manager goes through: a reconnect may be over before a poll would see it down.
    const states = collect<ManagerState>(rig.manager, 'state');
    const wentDown = (from: number) => (): boolean => states.slice(from).some((s) => s !== 'ready');
    await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
    const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'sell', quantity: 2, type: 'limit', price: 6005 });
    const resting = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
    await until(() => fills.length === 1);
    let from = states.length;
    rig.sim.dropConnections();
    await until(wentDown(from), undefined, 'disconnect seen');
    rig.market.trade(6005.25, 10); // fills the sell limit while the client is away
    await until(() => rig.sim.fills().length === 2, undefined, 'fill at the server');
    await rig.manager.whenReady(testTimeLeft());
    await until(() => fills.length === 2, undefined, 'the fill made while away reported');
    assert.deepEqual(fills.map((f) => [f.clientOrderId, f.quantity, f.price]).slice(1), [[order.clientOrderId, 2, 6005]]);
    assert.equal(rig.manager.order(order.clientOrderId)!.status, 'filled');
    assert.equal(rig.manager.order(resting.order.clientOrderId)!.status, 'working');
    // Another reconnect: nothing reported twice.
    from = states.length;
    rig.sim.dropConnections();
    await until(wentDown(from), undefined, 'disconnect seen');
    await rig.manager.whenReady(testTimeLeft());
    // The cancel's answer comes after everything the reconnect asked for (one socket, answered in order).
    assert.equal((await rig.manager.cancel(resting.order.clientOrderId)).status, 'cancelled');
    assert.equal(fills.length, 2);
  });

  it('resolves a market order whose every answer was lost from its fill, without re-sending it', async () => {
    rig = await startRig({ manager: { answerTimeoutMs: 200 }, proxy: true });
    const fills = collect<Fill>(rig.manager, 'fill');
    rig.sim.loseNextAnswer((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
    const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
    assert.equal(order.status, 'filled');
    assert.deepEqual(fills.map((f) => [f.clientOrderId, f.quantity]), [[order.clientOrderId, 1]]);
    const submits = rig.proxy!.messages().filter((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
    assert.equal(submits.length, 1);
  });

  it('resolves a limit order whose accept was lost from the open orders', async () => {
    rig = await startRig({ manager: { answerTimeoutMs: 200 } });
    rig.sim.loseNextAnswer((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
    const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
    assert.equal(order.status, 'working');
    assert.ok(order.serverOrderId);
  });

  it('resolves a cancel whose answer was lost from the open orders, without re-sending it', async () => {
    rig = await startRig({ manager: { answerTimeoutMs: 200 }, proxy: true });
    const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
    rig.sim.loseNextAnswer((m) => m.Type === MessageType.CANCEL_ORDER);
    const final = await rig.manager.cancel(order.clientOrderId);
    assert.equal(final.status, 'cancelled');
    assert.equal(rig.proxy!.messages().filter((m) => m.Type === MessageType.CANCEL_ORDER).length, 1);
  });

  it('says the state is unknown (and re-sends nothing) when a lost answer cannot be matched', async () => {
    // The answer timeouts run on virtual time: both orders are at the server, unanswered, before either times out.
    const answerTimers = new FakeScheduler();
    rig = await startRig({ manager: { answerTimeoutMs: 200, answerTimers } });
    rig.sim.loseNextAnswer((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
    rig.sim.delayAnswers(0);
    // Two identical market orders both lose their answers: their fills cannot be told apart.
    const a = rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
    // The simulator loses one answer at a time: the second loss is armed once the first order has taken the first.
    await until(() => rig.sim.orders().length === 1, undefined, 'the first order at the server');
    rig.sim.loseNextAnswer((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
    const b = rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market' });
    const settled = Promise.allSettled([a, b]);
    await until(() => rig.sim.orders().length === 2, undefined, 'the second order at the server');
    await answerTimers.advance(199);
    assert.deepEqual(answerTimers.delays(), [1, 1], 'both still waiting for their answers');
    await answerTimers.advance(1);
    const results = await settled;
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok((r as PromiseRejectedResult).reason instanceof OrderStateUnknownError);
    }
    assert.equal(rig.sim.orders().length, 2);
  });

  it('never places the same intent twice in 100 disconnect-during-submit cases', async () => {
    rig = await startRig({ client: { reconnect: { initialDelayMs: 5, maxDelayMs: 20 } } });
    const outcomes: Array<{ id: string | null; placed: boolean }> = [];
    for (let i = 0; i < 100; i++) {
      await rig.manager.whenReady(testTimeLeft());
      const submit = rig.manager.submit({ symbol: SYMBOL, side: i % 2 ? 'buy' : 'sell', quantity: 1, type: 'limit', price: i % 2 ? 5900 : 6100 });
      // Cut the wire at a different moment each time: before, during or after the server reads the order.
      await sleep(i % 3);
      rig.sim.dropConnections();
      const r = await submit.then((x) => ({ id: x.order.clientOrderId, placed: true }), (e: unknown) => ({ id: (e as { clientOrderId?: string }).clientOrderId ?? null, placed: false, e }));
      if (!r.placed && !(('e' in r) && (r.e instanceof OrderRejectedError || r.e instanceof OrderStateUnknownError))) throw (r as { e: unknown }).e;
      outcomes.push({ id: r.id, placed: r.placed });
    }
    await rig.manager.whenReady(testTimeLeft());
    const atServer = rig.sim.orders().map((o) => o.clientOrderId);
    assert.equal(new Set(atServer).size, atServer.length, 'a ClientOrderID reached the server twice');
    assert.ok(atServer.length <= 100);
    // Both sides of the race were exercised: some orders got through before the cut, some did not.
    const placed = outcomes.filter((o) => o.placed).length;
    assert.ok(placed > 0 && placed < 100, `placed ${placed} of 100`);
    assert.equal(atServer.length, placed);
    // The manager's view matches the server: every order it calls working is there, and nothing else is.
    const working = rig.manager.snapshot().filter((u) => u.status === 'working').map((u) => u.clientOrderId).sort();
    assert.deepEqual(working, [...atServer].sort());
    assert.ok(rig.sim.orders().every((o) => !/Duplicate/.test(o.infoText)));
  });

  it('with trading disabled, no order-entry byte ever leaves the client, whatever is asked (property)', async () => {
    rig = await startRig({ client: { tradingEnabled: false }, proxy: true });
    const action = fc.oneof(
      fc.record({
        kind: fc.constant('submit' as const),
        side: fc.constantFrom('buy' as const, 'sell' as const),
        quantity: fc.integer({ min: -2, max: 50 }),
        type: fc.constantFrom('market' as const, 'limit' as const, 'stop' as const, 'stop-limit' as const),
        price: fc.option(fc.integer({ min: 23000, max: 25000 }).map((t) => t * 0.25), { nil: undefined }),
        stopPrice: fc.option(fc.integer({ min: 23000, max: 25000 }).map((t) => t * 0.25), { nil: undefined }),
        bracket: fc.option(fc.record({ stop: fc.integer({ min: 23000, max: 25000 }).map((t) => t * 0.25), targets: fc.array(fc.integer({ min: 23000, max: 25000 }).map((t) => t * 0.25), { minLength: 1, maxLength: 2 }) }), { nil: undefined }),
      }),
      fc.record({ kind: fc.constantFrom('cancel' as const, 'flatten' as const, 'cancel-all' as const, 'modify' as const), id: fc.string() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
        for (const a of actions) {
          const run = (): Promise<unknown> => {
            switch (a.kind) {
              case 'submit':
                return rig.manager.submit({ symbol: SYMBOL, side: a.side, quantity: a.quantity, type: a.type, price: a.price, stopPrice: a.stopPrice, bracket: a.bracket });
              case 'cancel':
                return rig.manager.cancel(a.id);
              case 'modify':
                return rig.manager.modify(a.id, { price: 6000 });
              case 'flatten':
                return rig.manager.flatten(SYMBOL);
              case 'cancel-all':
                return rig.manager.cancelAll();
            }
          };
          await assert.rejects(run());
          // Raw client use is gated too.
          assert.throws(() => rig.client.send({ Type: MessageType.SUBMIT_NEW_SINGLE_ORDER, Symbol: SYMBOL, ClientOrderID: 'raw', Quantity: 1 }), TradingDisabledError);
        }
      }),
      { numRuns: 60 },
    );
    await rig.client.tradeAccounts(); // a round trip: anything written before has reached the proxy
    const orderEntry = rig.proxy!.messages().filter((m) => (m.Type as number) >= 200 && (m.Type as number) < 300);
    assert.deepEqual(orderEntry, []);
    assert.equal(rig.sim.orders().length, 0);
  });

  it('reports order updates during a WebSocket session the same way', async () => {
    rig = await startRig({ client: { transport: 'websocket' } });
    const updates = collect<OrderUpdate>(rig.manager, 'order-update');
    const { order } = await rig.manager.submit({ symbol: SYMBOL, side: 'buy', quantity: 1, type: 'limit', price: 5900 });
    assert.equal(order.status, 'working');
    assert.equal((await rig.manager.cancel(order.clientOrderId)).status, 'cancelled');
    assert.deepEqual([...new Set(updates.map((u) => u.status))], ['pending', 'working', 'cancelled']);
  });
});
