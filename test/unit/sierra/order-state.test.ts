import { strict as assert } from 'assert';
import fc from 'fast-check';
import { OrderStatus } from '../../../lib/sierra/protocol';
import { checkTransition, contractStatus, isTerminal } from '../../../lib/sierra/order-state';

const at = (status: OrderStatus, filledQuantity = 0, orderQuantity = 2) => ({ status, filledQuantity, orderQuantity });
const ALL = Object.values(OrderStatus) as OrderStatus[];

describe('sierra order state machine', () => {
  it('accepts the DTC lifecycles: accept → partial → fill, cancel, modify, bracket child', () => {
    const paths: OrderStatus[][] = [
      [OrderStatus.ORDER_SENT, OrderStatus.PENDING_OPEN, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED],
      [OrderStatus.ORDER_SENT, OrderStatus.OPEN, OrderStatus.PENDING_CANCEL, OrderStatus.CANCELED],
      [OrderStatus.ORDER_SENT, OrderStatus.OPEN, OrderStatus.PENDING_CANCEL_REPLACE, OrderStatus.OPEN, OrderStatus.FILLED],
      [OrderStatus.ORDER_SENT, OrderStatus.PENDING_CHILD, OrderStatus.OPEN, OrderStatus.FILLED],
      [OrderStatus.ORDER_SENT, OrderStatus.PENDING_CHILD, OrderStatus.CANCELED],
      [OrderStatus.ORDER_SENT, OrderStatus.REJECTED],
      [OrderStatus.ORDER_SENT, OrderStatus.FILLED], // a market order whose accept was lost
      [OrderStatus.OPEN, OrderStatus.PENDING_CANCEL, OrderStatus.FILLED], // the fill won the race
    ];
    for (const path of paths) {
      for (let i = 1; i < path.length; i++) {
        const filled = (s: OrderStatus) => (s === OrderStatus.FILLED ? 2 : s === OrderStatus.PARTIALLY_FILLED ? 1 : 0);
        assert.deepEqual(checkTransition(at(path[i - 1], filled(path[i - 1])), at(path[i], filled(path[i]))), { kind: 'apply' }, `${path[i - 1]} → ${path[i]}`);
      }
    }
  });

  it('refuses to reopen a finished order', () => {
    for (const terminal of [OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED]) {
      for (const next of [OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_OPEN, OrderStatus.PENDING_CANCEL]) {
        assert.equal(checkTransition(at(terminal), at(next)).kind, 'invalid');
      }
    }
    assert.equal(checkTransition(at(OrderStatus.CANCELED), at(OrderStatus.FILLED, 2)).kind, 'invalid');
  });

  it('treats the same final report twice (a resync) as a duplicate, not a change', () => {
    assert.deepEqual(checkTransition(at(OrderStatus.FILLED, 2), at(OrderStatus.FILLED, 2)), { kind: 'duplicate' });
  });

  it('refuses filled quantity going down or above the order quantity, and unknown statuses', () => {
    assert.equal(checkTransition(at(OrderStatus.PARTIALLY_FILLED, 2, 3), at(OrderStatus.PARTIALLY_FILLED, 1, 3)).kind, 'invalid');
    assert.equal(checkTransition(at(OrderStatus.OPEN), at(OrderStatus.PARTIALLY_FILLED, 3, 2)).kind, 'invalid');
    assert.equal(checkTransition(at(OrderStatus.OPEN), at(OrderStatus.UNSPECIFIED)).kind, 'invalid');
    assert.equal(checkTransition(at(OrderStatus.OPEN), at(42 as OrderStatus)).kind, 'invalid');
    assert.equal(checkTransition(undefined, at(OrderStatus.UNSPECIFIED)).kind, 'invalid');
  });

  it('never lets any sequence of reports leave a terminal state (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ALL), { minLength: 1, maxLength: 30 }), (statuses) => {
        let state = at(OrderStatus.ORDER_SENT);
        let finished = false;
        for (const s of statuses) {
          const next = at(s, Math.max(state.filledQuantity, s === OrderStatus.FILLED ? 2 : state.filledQuantity));
          const v = checkTransition(state, next);
          if (finished && v.kind === 'apply') return false;
          if (v.kind === 'apply') state = next;
          finished = isTerminal(state.status);
        }
        return true;
      }),
    );
  });

  it('maps DTC statuses to what a trader sees', () => {
    assert.equal(contractStatus(OrderStatus.PENDING_CHILD, 0), 'pending');
    assert.equal(contractStatus(OrderStatus.OPEN, 0), 'working');
    assert.equal(contractStatus(OrderStatus.PENDING_CANCEL, 1), 'partially-filled');
    assert.equal(contractStatus(OrderStatus.PARTIALLY_FILLED, 1), 'partially-filled');
    assert.equal(contractStatus(OrderStatus.FILLED, 2), 'filled');
    assert.equal(contractStatus(OrderStatus.CANCELED, 0), 'cancelled');
    assert.equal(contractStatus(OrderStatus.REJECTED, 0), 'rejected');
  });
});
