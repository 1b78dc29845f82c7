import { strict as assert } from 'assert';
import fc from 'fast-check';
import { ORDER_STATES, isTerminal, transition, type OrderProgress, type OrderState } from '../../../lib/trading/order-state';
import { OrderTracker } from '../../../lib/ibkr/order-updates';
import { checkTransition } from '../../../lib/sierra/order-state';
import { OrderStatus } from '../../../lib/sierra/protocol';

const RANK: Record<OrderState, number> = { pending: 0, working: 1, 'pending-cancel': 1, 'pending-replace': 1, 'partially-filled': 1, filled: 2, cancelled: 2, rejected: 2 };
const at = (state: OrderState, filledQuantity = 0, quantity = 3): OrderProgress => ({ state, quantity, filledQuantity });

/** A true life of an order of `quantity`: pending, working, fills one by one, then an end. */
const lifecycle = fc.record({ quantity: fc.integer({ min: 1, max: 5 }), end: fc.constantFrom<OrderState>('filled', 'cancelled', 'rejected'), cancelAsked: fc.boolean() }).chain(({ quantity, end, cancelAsked }) =>
  fc.integer({ min: 0, max: quantity }).map((fills) => {
    const steps: OrderProgress[] = [at('pending', 0, quantity)];
    if (end === 'rejected') return [...steps, at('rejected', 0, quantity)];
    steps.push(at('working', 0, quantity));
    const filledAtEnd = end === 'filled' ? quantity : Math.min(fills, quantity - 1);
    for (let f = 1; f <= filledAtEnd; f++) steps.push(at(f === quantity ? 'filled' : 'partially-filled', f, quantity));
    if (end === 'cancelled') {
      if (cancelAsked) steps.push(at('pending-cancel', filledAtEnd, quantity));
      steps.push(at('cancelled', filledAtEnd, quantity));
    }
    return steps;
  }),
);

/** The updates as the broker's wire may deliver them: delayed (reordered), duplicated, lost. */
const delivered = lifecycle.chain((steps) =>
  fc
    .array(fc.record({ index: fc.nat({ max: steps.length - 1 }), delay: fc.nat({ max: 5 }) }), { maxLength: steps.length * 3 })
    .map((extra) => {
      const sent = steps.map((_, index) => ({ index, delay: 0 })).concat(extra);
      return { steps, arrivals: sent.map((s) => ({ ...s, at: s.index + s.delay })).sort((a, b) => a.at - b.at).map((s) => steps[s.index] as OrderProgress) };
    })
    .chain(({ steps, arrivals }) => fc.subarray(arrivals, { minLength: 1 }).map((kept) => ({ steps, arrivals: kept }))),
);

describe('the one order state machine (both brokers)', () => {
  it('never moves an order backwards, never lowers the filled quantity, keeps a terminal state (property)', () => {
    fc.assert(
      fc.property(delivered, ({ arrivals }) => {
        let order: OrderProgress | undefined;
        for (const update of arrivals) {
          const verdict = transition(order, update);
          if (verdict.kind !== 'apply') continue;
          if (order) {
            assert.ok(RANK[verdict.next.state] >= RANK[order.state], `${order.state} → ${verdict.next.state}`);
            assert.ok(verdict.next.filledQuantity >= order.filledQuantity, 'filled quantity never goes down');
            if (isTerminal(order.state)) {
              assert.equal(verdict.next.state, order.state, `a ${order.state} order stays ${order.state}`);
              assert.ok(verdict.next.filledQuantity > order.filledQuantity, 'only late fill details complete a finished order');
            }
          }
          order = verdict.next;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('ends where the broker ended when the final update arrives, however the others were delayed or duplicated (property)', () => {
    fc.assert(
      fc.property(delivered, ({ steps, arrivals }) => {
        const last = steps[steps.length - 1] as OrderProgress;
        let order: OrderProgress | undefined;
        for (const update of [...arrivals, last]) {
          const verdict = transition(order, update);
          if (verdict.kind === 'apply') order = verdict.next;
        }
        assert.equal(order?.state, last.state);
        assert.equal(order?.filledQuantity, last.filledQuantity);
      }),
      { numRuns: 1000 },
    );
  });

  it('recognises a duplicate and reports an invalid move instead of applying it', () => {
    assert.deepEqual(transition(at('working'), at('working')), { kind: 'duplicate' });
    assert.deepEqual(transition(at('filled', 3), at('filled', 3)), { kind: 'duplicate' });
    for (const [from, to] of [
      [at('filled', 3), at('working', 3)],
      [at('filled', 3), at('partially-filled', 2)],
      [at('cancelled', 1), at('filled', 3)],
      [at('rejected', 0), at('rejected', 1)],
      [at('filled', 3), at('filled', 2)],
      [at('working'), at('pending')],
      [at('partially-filled', 2), at('partially-filled', 1)],
      [at('working'), at('partially-filled', 4)],
    ] as const) {
      const v = transition(from, to);
      assert.equal(v.kind, 'invalid', `${from.state}/${from.filledQuantity} → ${to.state}/${to.filledQuantity}`);
    }
    assert.deepEqual(transition(at('working'), { state: 'working', quantity: 3, filledQuantity: 1 }), { kind: 'apply', next: at('partially-filled', 1) }, 'working with a fill is partially filled');
    assert.equal(transition(at('working'), { state: 'lost' as OrderState, quantity: 3, filledQuantity: 0 }).kind, 'invalid');
    assert.equal(ORDER_STATES.length, 8);
  });

  it('takes the fill details that arrive after the final status: the state stays, the filled quantity completes', () => {
    assert.deepEqual(transition(at('filled', 2), at('filled', 3)), { kind: 'apply', next: at('filled', 3) });
    assert.deepEqual(transition(at('cancelled', 0), at('cancelled', 1)), { kind: 'apply', next: at('cancelled', 1) });
  });

  it('IBKR: Filled first, its filled quantity in a later message: the fill is still reported, once', () => {
    const tracker = new OrderTracker();
    tracker.register(9, { clientOrderId: 'c9', side: 'buy', quantity: 2 }, 0);
    tracker.applyStream([{ orderId: 9, status: 'Submitted', totalSize: 2, filledQuantity: 0 }], 0);
    const status = tracker.applyStream([{ orderId: 9, status: 'Filled' }], 1);
    assert.equal(status.updates[0]?.status, 'filled');
    const details = tracker.applyStream([{ orderId: 9, filledQuantity: 2, avgPrice: '5000.25' }], 2);
    assert.deepEqual(details.fills.map((f) => [f.quantity, f.price]), [[2, 5000.25]]);
    assert.equal(details.invalid, undefined);
    assert.deepEqual(tracker.applyStream([{ orderId: 9, filledQuantity: 2, avgPrice: '5000.25' }], 3).fills, [], 'never twice');
  });

  it('DTC: a late OPEN after FILLED is reported, never applied', () => {
    const filled = { status: OrderStatus.FILLED, orderQuantity: 2, filledQuantity: 2 };
    assert.equal(checkTransition(filled, { status: OrderStatus.OPEN, orderQuantity: 2, filledQuantity: 0 }).kind, 'invalid');
    assert.equal(checkTransition(filled, { status: OrderStatus.PARTIALLY_FILLED, orderQuantity: 2, filledQuantity: 1 }).kind, 'invalid');
  });

  it('IBKR: a late Submitted after Filled does not reopen the order; a lower filled quantity is ignored', () => {
    const T = 1_773_000_000_000;
    const tracker = new OrderTracker();
    tracker.register(7, { clientOrderId: 'c7', side: 'buy', quantity: 2 }, T);
    tracker.applyStream([{ orderId: 7, status: 'Submitted', side: 'BUY', totalSize: 2, filledQuantity: 0 }], T);
    const done = tracker.applyStream([{ orderId: 7, status: 'Filled', filledQuantity: 2, avgPrice: '5000' }], T + 1);
    assert.equal(done.updates[0]?.status, 'filled');
    const late = tracker.applyStream([{ orderId: 7, status: 'Submitted', filledQuantity: 1 }], T + 2);
    assert.deepEqual(late.updates, [], 'no update moves it back');
    assert.deepEqual(late.fills, []);
    assert.match(String(late.invalid?.[0]?.reason), /already filled/);
    assert.equal(tracker.current(7, 'now', T + 3)?.status, 'filled');
    assert.equal(tracker.current(7, 'now', T + 3)?.filledQuantity, 2);
    assert.deepEqual(tracker.working(), []);
  });

  it('IBKR: reported statuses never go backwards over random delayed, duplicated and lost sor messages (property)', () => {
    const word: Record<OrderState, string> = { pending: 'PendingSubmit', working: 'Submitted', 'pending-cancel': 'PendingCancel', 'pending-replace': 'Submitted', 'partially-filled': 'Submitted', filled: 'Filled', cancelled: 'Cancelled', rejected: 'Inactive' };
    const contractRank: Record<string, number> = { pending: 0, working: 1, 'partially-filled': 1, filled: 2, cancelled: 2, rejected: 2 };
    fc.assert(
      fc.property(delivered, ({ arrivals }) => {
        const tracker = new OrderTracker();
        tracker.register(1, { clientOrderId: 'c1', side: 'sell', quantity: 5 }, 0);
        let rank = -1;
        let filled = 0;
        let finished = false;
        let fillTotal = 0;
        for (const u of arrivals) {
          const out = tracker.applyStream([{ orderId: 1, status: word[u.state], totalSize: u.quantity, filledQuantity: u.filledQuantity, avgPrice: '5000' }], 0);
          for (const f of out.fills) fillTotal += f.quantity;
          for (const update of out.updates) {
            assert.ok(!finished, 'nothing after a final update');
            assert.ok((contractRank[update.status] as number) >= rank, `status went back to ${update.status}`);
            assert.ok(update.filledQuantity >= filled);
            rank = contractRank[update.status] as number;
            filled = update.filledQuantity;
            finished = ['filled', 'cancelled', 'rejected'].includes(update.status);
          }
        }
        assert.equal(fillTotal, filled, 'each contract filled is reported once as a fill');
      }),
      { numRuns: 1000 },
    );
  });
});
