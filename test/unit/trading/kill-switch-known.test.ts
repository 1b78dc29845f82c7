// The broker-neutral kill with `knownWorkingOrders` (IBKR): known orders cancelled first, then the flatten, then one
// sweep read; what each step did is told in order, and every failure is reported, never thrown.
import { strict as assert } from 'assert';
import { kill, type ExecutionAdapter, type PositionRef, type WorkingOrderRef } from '../../../lib/trading/kill-switch';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';

const order = (id: string, extra: Partial<WorkingOrderRef> = {}): WorkingOrderRef => ({ clientOrderId: id, instrument: 'ES@1', side: 'sell', quantity: 1, brokerOrderId: `b-${id}`, ...extra });

/** A broker in memory: orders, one position, and a log of every call in order. */
function broker(options: { known: WorkingOrderRef[]; atSweep: WorkingOrderRef[]; position: number; refuse?: string[]; sweepFails?: boolean; filledSince?: boolean; positionAfterSweep?: number }) {
  const calls: string[] = [];
  let position = options.position;
  let swept = false;
  const adapter: ExecutionAdapter = {
    knownWorkingOrders: () => {
      calls.push('known');
      return options.known;
    },
    workingOrders: async () => {
      calls.push('read-orders');
      if (options.sweepFails) throw new Error('live orders unavailable');
      swept = true;
      return options.atSweep;
    },
    cancel: async (o) => {
      calls.push(`cancel ${o.clientOrderId}`);
      if (options.refuse?.includes(o.clientOrderId)) throw new Error('order already filled or cancelled');
    },
    positions: async (): Promise<PositionRef[]> => {
      calls.push('positions');
      if (swept && options.positionAfterSweep !== undefined) position = options.positionAfterSweep;
      return position ? [{ instrument: 'ES@1', quantity: position }] : [];
    },
    flatten: async (p) => {
      calls.push(`flatten ${p.quantity}`);
      position = 0;
    },
    filledSinceFlatten: () => options.filledSince === true,
  };
  return { adapter, calls };
}

function engine(): RiskEngine {
  return new RiskEngine({ broker: 'ibkr', account: 'A', instrumentOf, journal: new MemoryJournal() });
}

describe('kill switch: known orders first, then the flatten, then one sweep', () => {
  it('cancels the known orders before any read, flattens, and the sweep cancels only what it did not know', async () => {
    const b = broker({ known: [order('a'), order('b')], atSweep: [order('a'), order('hand', { brokerOrderId: 'b-hand' })], position: 2 });
    const steps: string[] = [];
    const r = await kill(engine(), b.adapter, (line) => steps.push(line));
    assert.deepEqual(b.calls, ['known', 'cancel a', 'cancel b', 'positions', 'flatten 2', 'read-orders', 'cancel hand', 'positions']);
    assert.deepEqual(r.cancelled, ['a', 'b', 'hand']);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(steps, r.steps);
    assert.deepEqual(
      steps.map((s) => s.slice(0, 1)),
      ['1', '2', '3'],
    );
    assert.match(steps[2], /cancelled hand; positions read again: flat/);
  });

  it('a known cancel refused for an order the sweep no longer lists is no failure; one still open is cancelled again', async () => {
    const b = broker({ known: [order('done'), order('stuck')], atSweep: [order('stuck')], position: 0, refuse: ['done'] });
    const r = await kill(engine(), b.adapter);
    assert.deepEqual(r.failures, []);
    assert.deepEqual(b.calls.filter((c) => c.startsWith('cancel')), ['cancel done', 'cancel stuck']);
    assert.ok(r.steps?.[2]?.includes('1 refused cancel(s) were of orders already done'), r.steps?.join(' | '));

    const again = broker({ known: [order('stuck')], atSweep: [order('stuck')], position: 0, refuse: ['stuck'] });
    const r2 = await kill(engine(), again.adapter);
    assert.deepEqual(again.calls.filter((c) => c.startsWith('cancel')), ['cancel stuck', 'cancel stuck']);
    assert.deepEqual(r2.failures.map((f) => `${f.action} ${f.target}`), ['cancel stuck']);
    assert.match(r2.summary, /step\(s\) failed/);
  });

  it('the sweep read fails: reported with the refused known cancels, the flatten already done, and kill resolves', async () => {
    const b = broker({ known: [order('x')], atSweep: [], position: -1, refuse: ['x'], sweepFails: true });
    const r = await kill(engine(), b.adapter);
    assert.deepEqual(b.calls, ['known', 'cancel x', 'positions', 'flatten -1', 'read-orders']);
    assert.deepEqual(r.failures.map((f) => f.action).sort(), ['cancel', 'list-orders']);
    assert.deepEqual(r.flattened, [{ instrument: 'ES@1', quantity: -1 }]);
  });

  it('a fill since the flatten: the positions are read again and closed; without one (and nothing swept) they are not', async () => {
    const b = broker({ known: [], atSweep: [], position: 1, filledSince: true, positionAfterSweep: -1 });
    const r = await kill(engine(), b.adapter);
    assert.deepEqual(b.calls, ['known', 'positions', 'flatten 1', 'read-orders', 'positions', 'flatten -1']);
    assert.equal(r.flattened.length, 2);
    const quiet = broker({ known: [], atSweep: [], position: 1 });
    await kill(engine(), quiet.adapter);
    assert.deepEqual(quiet.calls, ['known', 'positions', 'flatten 1', 'read-orders']);
  });

  it('never rejects: the known list throwing, a listener throwing', async () => {
    const b = broker({ known: [], atSweep: [order('h')], position: 0 });
    b.adapter.knownWorkingOrders = () => {
      throw new Error('engine unreadable');
    };
    const r = await kill(engine(), b.adapter, () => {
      throw new Error('listener');
    });
    assert.equal(r.killSwitch, 'HALTED');
    assert.deepEqual(r.cancelled, ['h']);
    assert.deepEqual(r.failures.map((f) => `${f.action} ${f.target}`), ['list-orders known orders']);
  });

  it('without knownWorkingOrders (Sierra) the kill is unchanged: one read, cancels, flatten, no steps', async () => {
    const b = broker({ known: [], atSweep: [order('p'), order('c', { parent: 'p' })], position: 1 });
    delete b.adapter.knownWorkingOrders;
    const r = await kill(engine(), b.adapter);
    assert.deepEqual(b.calls, ['read-orders', 'cancel p', 'positions', 'flatten 1']);
    assert.equal(r.steps, undefined);
  });
});

describe('IBKR desk kill: its own closing order', () => {
  it('is never swept, and the position is not closed again while IBKR does not list it filled (no second sell)', async () => {
    const e = engine();
    e.reconcile({ now: 0, positions: [], working: [] });
    const calls: string[] = [];
    const live = (orderId: number, status: string, filled = 0) => ({ accountId: 'A', conid: 1, orderId, clientOrderId: null, status, side: 'SELL', orderType: 'Limit', quantity: 1, filledQuantity: filled, remainingQuantity: 1 - filled, averagePrice: null, price: null, timeInForce: 'DAY', lastExecutionTime: null });
    const client = {
      tradingEnabled: true,
      tradingBlockedReason: null,
      recentLiveOrders: () => [live(500, 'Submitted')],
      liveOrders: async () => {
        calls.push('live-orders');
        // The sweep: the kill's closing order (900) still working, and an order placed by hand (600).
        return [live(500, 'Cancelled'), live(900, 'Submitted'), live(600, 'Submitted')];
      },
      cancelOrder: async (id: number) => {
        calls.push(`cancel ${id}`);
        return { orderId: id, conid: 1, accountId: 'A', message: 'Request was submitted' };
      },
      positions: async () => {
        calls.push('positions');
        return [{ conid: 1, quantity: 1, averagePrice: 5000, assetClass: 'FUT', description: 'ES DEC26' }];
      },
      placeOrders: async (orders: { side: string; quantity: number }[]) => {
        calls.push(`place ${orders[0]?.side} ${orders[0]?.quantity}`);
        return [{ orderId: 900, status: 'Submitted', clientOrderId: null, warning: null }];
      },
    } as unknown as DeskClient;
    const desk = new IbkrOrderDesk({ client, engine: e, questions: { accepted: [], acceptAll: true }, contract: { conid: 1 }, now: () => 0, idClock: () => Date.UTC(2026, 11, 7) });
    const steps: string[] = [];
    const outcome = await desk.kill((line) => steps.push(line));
    assert.deepEqual(calls, ['cancel 500', 'positions', 'place SELL 1', 'live-orders', 'cancel 600']);
    assert.match(String(outcome.error), /closing order\(s\) 900 are not listed filled/);
    assert.match(steps[2] ?? '', /cancelled ibkr-600/);
  });
  it('a fill since the flatten by an order nothing knew (by hand): once the closing order is filled, the rest is closed', async () => {
    const e = engine();
    e.reconcile({ now: 0, positions: [], working: [] });
    const calls: string[] = [];
    const live = (orderId: number, status: string, filled = 0) => ({ accountId: 'A', conid: 1, orderId, clientOrderId: null, status, side: 'SELL', orderType: 'Limit', quantity: 1, filledQuantity: filled, remainingQuantity: 1 - filled, averagePrice: null, price: null, timeInForce: 'DAY', lastExecutionTime: null });
    let held = 1;
    const client = {
      tradingEnabled: true,
      tradingBlockedReason: null,
      recentLiveOrders: () => [live(500, 'Filled', 1)],
      liveOrders: async () => {
        calls.push('live-orders');
        held = -1; // a sell placed by hand (700) filled after the close: short 1
        return [live(500, 'Filled', 1), live(900, 'Filled', 1), live(700, 'Filled', 1)];
      },
      cancelOrder: async (id: number) => {
        calls.push(`cancel ${id}`);
        return { orderId: id, conid: 1, accountId: 'A', message: 'Request was submitted' };
      },
      positions: async () => {
        calls.push('positions');
        return [{ conid: 1, quantity: held, averagePrice: 5000, assetClass: 'FUT', description: 'ES DEC26' }];
      },
      placeOrders: async (orders: { side: string; quantity: number }[]) => {
        calls.push(`place ${orders[0]?.side} ${orders[0]?.quantity}`);
        held = 0;
        return [{ orderId: calls.filter((c) => c.startsWith('place')).length === 1 ? 900 : 901, status: 'Submitted', clientOrderId: null, warning: null }];
      },
    } as unknown as DeskClient;
    const desk = new IbkrOrderDesk({ client, engine: e, questions: { accepted: [], acceptAll: true }, contract: { conid: 1 }, now: () => 0, idClock: () => Date.UTC(2026, 11, 7) });
    const steps: string[] = [];
    const outcome = await desk.kill((line) => steps.push(line));
    assert.equal(outcome.error, undefined, String(outcome.error));
    assert.deepEqual(calls, ['positions', 'place SELL 1', 'live-orders', 'positions', 'place BUY 1']);
    assert.match(steps[2] ?? '', /a fill since the flatten; positions read again: closed .*-1/);
  });
});
