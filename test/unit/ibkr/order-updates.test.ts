import { strict as assert } from 'assert';
import { OrderTracker, ibkrOrderState, liveOrderUpdate, orderStatus } from '../../../lib/ibkr/order-updates';

const T = 1_773_000_000_000;

describe('IBKR order updates (sor stream → order-update / fill)', () => {
  it('maps IBKR statuses, keeping PendingCancel working until IBKR confirms', () => {
    assert.deepEqual(
      ['PendingSubmit', 'PreSubmitted', 'Submitted', 'PendingCancel', 'Filled', 'Cancelled', 'Inactive'].map((s) => orderStatus(s, 0)),
      ['pending', 'working', 'working', 'working', 'filled', 'cancelled', 'rejected'],
    );
    assert.equal(orderStatus('Submitted', 1), 'partially-filled');
  });

  it('merges changed-fields-only messages and reports one update per change of status or filled quantity', () => {
    const tracker = new OrderTracker();
    tracker.register(11, { clientOrderId: 'c1', side: 'buy', quantity: 2 }, T);
    const first = tracker.applyStream([{ orderId: 11, status: 'Submitted', side: 'BUY', totalSize: 2, filledQuantity: 0 }], T);
    assert.deepEqual(first.updates.map((u) => [u.clientOrderId, u.status]), [['c1', 'working']]);
    const same = tracker.applyStream([{ orderId: 11, price: '5000.25' }], T + 1);
    assert.deepEqual(same.updates, [], 'a price change alone is not a status change');
    const part = tracker.applyStream([{ orderId: 11, filledQuantity: 1, avgPrice: '5000.00', lastExecutionTime_r: T + 5 }], T + 5);
    assert.deepEqual(part.updates.map((u) => [u.status, u.filledQuantity, u.averageFillPrice]), [['partially-filled', 1, 5000]]);
    assert.deepEqual(part.fills.map((f) => [f.quantity, f.price, f.t, f.side]), [[1, 5000, T + 5, 'buy']]);
    const done = tracker.applyStream([{ orderId: 11, status: 'Filled', filledQuantity: 2, avgPrice: '5000.25' }], T + 9);
    // Second fill's own price from the moving average: (5000.25·2 − 5000·1) / 1.
    assert.deepEqual(done.fills.map((f) => [f.quantity, f.price]), [[1, 5000.5]]);
    assert.equal(done.updates[0]?.status, 'filled');
  });

  it('reports nothing about orders that are not its own', () => {
    const tracker = new OrderTracker();
    const out = tracker.applyStream([{ orderId: 99, status: 'Filled', side: 'SELL', totalSize: 1, filledQuantity: 1, avgPrice: '10', order_ref: 'someone-else' }], T);
    assert.deepEqual(out, { updates: [], fills: [] });
  });

  it('catches up when the stream beat the place answer: the fill is reported once the order id is known', () => {
    const tracker = new OrderTracker();
    tracker.expect({ clientOrderId: 'p1', side: 'sell', quantity: 1 });
    // The parent carries its cOID as order_ref: recognised at once.
    const parent = tracker.applyStream([{ orderId: 1, status: 'Submitted', side: 'SELL', totalSize: 1, order_ref: 'p1' }], T);
    assert.equal(parent.updates[0]?.clientOrderId, 'p1');
    // A bracket child has no cOID: it fills before the answer names it.
    const early = tracker.applyStream([{ orderId: 2, status: 'Filled', side: 'BUY', totalSize: 1, filledQuantity: 1, avgPrice: '4990' }], T + 1);
    assert.deepEqual(early, { updates: [], fills: [] });
    const late = tracker.register(2, { clientOrderId: 'p1:stop', side: 'buy', quantity: 1 }, T + 2);
    assert.deepEqual(late.updates.map((u) => [u.clientOrderId, u.status]), [['p1:stop', 'filled']]);
    assert.deepEqual(late.fills.map((f) => [f.clientOrderId, f.price]), [['p1:stop', 4990]]);
    assert.deepEqual(tracker.register(2, { clientOrderId: 'p1:stop', side: 'buy', quantity: 1 }, T + 3), { updates: [], fills: [] }, 'never twice');
  });

  it('turns a live order into an order-update, naming orders placed elsewhere by IBKR id', () => {
    const update = liveOrderUpdate(
      { accountId: 'DU1', conid: 1, orderId: 77, clientOrderId: null, status: 'PreSubmitted', side: 'SELL', orderType: 'Stop', quantity: 1, filledQuantity: 0, remainingQuantity: 1, averagePrice: null, price: 4990, timeInForce: 'GTC', lastExecutionTime: null },
      T,
    );
    assert.deepEqual([update.clientOrderId, update.status, update.side, update.quantity, update.t], ['ibkr-77', 'working', 'sell', 1, T]);
    assert.match(String(update.reason), /held by IBKR/);
  });

  it('refuses to report a live order whose side is neither BUY nor SELL (never a buy by default)', () => {
    const odd = { accountId: 'DU1', conid: 1, orderId: 78, clientOrderId: null, status: 'Submitted', side: 'SSHORT?', orderType: 'Limit', quantity: 1, filledQuantity: 0, remainingQuantity: 1, averagePrice: null, price: 4990, timeInForce: 'DAY', lastExecutionTime: null };
    assert.throws(() => liveOrderUpdate(odd, T), /side "SSHORT\?", neither BUY nor SELL/);
  });

  it('maps IBKR words onto the one state machine: PendingCancel is pending-cancel there, working to a trader', () => {
    assert.deepEqual(['PendingSubmit', 'Submitted', 'PendingCancel', 'Filled', 'ApiCancelled', 'Inactive'].map(ibkrOrderState), ['pending', 'working', 'pending-cancel', 'filled', 'cancelled', 'rejected']);
  });
});

