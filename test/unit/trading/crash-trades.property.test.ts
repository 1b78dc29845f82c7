// Model-based property test of "max trades per day survives kill -9" (crash-test finding: the journal one trade
// behind the broker after a restart, then 21 trades at the broker with a maximum of 20). A simulated broker runs a
// session of market bracket entries, flattens and stop fills; the engine reads the broker's news with a lag (as a
// busy Node-RED does), and is killed at random points: only what its journal last wrote survives, the broker goes on
// (its orders already arrived), and a new engine restored from the journal reconciles with what Sierra reports after
// a restart (positions, working orders with their parents' server ids, the session's fills — named only when their
// order still works — after the restarted order manager cancelled bracket exits that a flat position no longer
// accounts for). Properties: after every reconcile the engine's trades today is the number of trades the broker's
// fills opened (flat → not flat, or through flat: counted as test/e2e/crash.test.ts counts them), and an entry that
// would open a trade is refused once the maximum is reached.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine, type BrokerFill, type BrokerOrder, type BrokerState } from '../../../lib/trading/risk-engine';

const T0 = Date.UTC(2026, 2, 10, 15, 0); // a Tuesday, 11:00 New York
const ES = 'ESZ6';
const MAX_TRADES = 6;
const LIMITS = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 2, maxTradesPerDay: MAX_TRADES, maxConsecutiveLosses: 1000, dailyLossLimit: 1_000_000 };

type Side = 'buy' | 'sell';
type Op = { k: 'buy' | 'sell' | 'flatten' | 'read' | 'readAll' | 'stop' | 'kill' } | { k: 'read'; n: number };

/** One message of the broker's stream, in the order Sierra sends them. */
type News =
  | { k: 'ack'; id: string; server: string; child: boolean }
  | { k: 'fill'; id: string; server: string; side: Side; qty: number; price: number }
  | { k: 'done'; id: string; server: string; status: 'filled' | 'cancelled' | 'rejected'; filled: number }
  | { k: 'working'; id: string; server: string; qty: number }
  | { k: 'position'; q: number };

interface SimOrder {
  id: string;
  server: string;
  side: Side;
  quantity: number;
  filled: number;
  status: 'pending-child' | 'working' | 'filled' | 'cancelled';
  parent?: SimOrder;
  sibling?: SimOrder;
  stop?: boolean;
}

class Broker {
  position = 0;
  readonly orders: SimOrder[] = [];
  readonly fills: (BrokerFill & { id: string })[] = [];
  readonly stream: News[] = [];
  private serverSeq = 100;

  private fill(o: SimOrder, qty: number): void {
    o.filled += qty;
    o.status = 'filled';
    const signed = o.side === 'buy' ? qty : -qty;
    this.position += signed;
    this.fills.push({ id: o.id, brokerOrderId: o.server, instrument: ES, side: o.side, quantity: qty, executionId: `E${this.fills.length + 1}` });
    this.stream.push({ k: 'fill', id: o.id, server: o.server, side: o.side, qty, price: 6000 }, { k: 'done', id: o.id, server: o.server, status: 'filled', filled: o.filled }, { k: 'position', q: this.position });
  }

  private accept(id: string, side: Side, quantity: number, child: boolean): SimOrder {
    const o: SimOrder = { id, server: `S${++this.serverSeq}`, side, quantity, filled: 0, status: child ? 'pending-child' : 'working' };
    this.orders.push(o);
    this.stream.push({ k: 'ack', id, server: o.server, child });
    return o;
  }

  /** A market bracket entry: filled at once, its target and stop work from then on. */
  bracket(id: string, side: Side, exits: [string, string]): void {
    const parent = this.accept(id, side, 1, false);
    const exit: Side = side === 'buy' ? 'sell' : 'buy';
    const [target, stop] = exits.map((e) => this.accept(e, exit, 1, true));
    target.parent = parent;
    stop.parent = parent;
    stop.stop = true;
    target.sibling = stop;
    stop.sibling = target;
    this.fill(parent, 1);
    for (const c of [target, stop]) {
      c.status = 'working';
      this.stream.push({ k: 'working', id: c.id, server: c.server, qty: 1 });
    }
  }

  /** SUBMIT_FLATTEN_POSITION_ORDER: a market order for the opposite of the position, or rejected when flat. */
  flatten(id: string): void {
    const o = this.accept(id, this.position > 0 ? 'sell' : 'buy', Math.abs(this.position) || 1, false);
    if (this.position === 0) {
      o.status = 'cancelled';
      this.stream.push({ k: 'done', id, server: o.server, status: 'rejected', filled: 0 });
      return;
    }
    this.fill(o, o.quantity);
  }

  /**
   * The market reaches the oldest working stop that protects the position: it fills, its OCO sibling is cancelled.
   * (A stop left working on a flat position would open a trade no entry check can stop: sierra-order's flatten
   * cancels the working orders first, and the restart's reconcile cancels such exits.)
   */
  stopHit(): void {
    const protects = (o: SimOrder): boolean => (o.side === 'sell' ? this.position > 0 : this.position < 0);
    const stop = this.orders.find((o) => o.stop && o.status === 'working' && protects(o));
    if (!stop) return;
    this.fill(stop, 1);
    this.cancel(stop.sibling!);
  }

  cancel(o: SimOrder): void {
    if (o.status !== 'working' && o.status !== 'pending-child') return;
    o.status = 'cancelled';
    this.stream.push({ k: 'done', id: o.id, server: o.server, status: 'cancelled', filled: o.filled });
  }

  /** What the restarted order manager hands the engine: exits a flat position does not account for are cancelled first. */
  reconcileState(now: number): BrokerState {
    for (const o of this.orders) if (o.parent && this.position === 0) this.cancel(o);
    const working = this.orders.filter((o) => o.status === 'working' || o.status === 'pending-child');
    const named = new Map(working.map((o) => [o.server, o.id]));
    return {
      now,
      positions: this.position ? [{ instrument: ES, quantity: this.position }] : [],
      working: working.map(
        (o): BrokerOrder => ({
          clientOrderId: o.id,
          instrument: ES,
          side: o.side,
          quantity: o.quantity,
          filled: o.filled,
          brokerOrderId: o.server,
          ...(o.parent && named.has(o.parent.server) ? { parent: o.parent.id } : {}),
          ...(o.parent ? { parentBrokerOrderId: o.parent.server } : {}),
        }),
      ),
      fills: this.fills.map(({ id, ...f }) => ({ ...f, ...(named.has(f.brokerOrderId) ? { clientOrderId: id } : {}) })),
    };
  }

  /** Trades the fills opened, counted as the crash test counts them. */
  tradesOpened(): number {
    let position = 0;
    let opened = 0;
    for (const f of this.fills) {
      const before = position;
      position += f.side === 'buy' ? f.quantity : -f.quantity;
      if (position !== 0 && (before === 0 || Math.sign(before) !== Math.sign(position))) opened++;
    }
    return opened;
  }
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom({ k: 'buy' as const }, { k: 'sell' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'flatten' as const }) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 6 }).map((n) => ({ k: 'read' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ k: 'readAll' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'stop' as const }) },
  { weight: 2, arbitrary: fc.constant({ k: 'kill' as const }) },
);

function run(ops: Op[]): void {
  const broker = new Broker();
  const journal = new MemoryJournal();
  let now = T0;
  let seq = 0;
  let cursor = 0; // the next stream message this engine reads
  const start = (): RiskEngine => {
    const e = new RiskEngine({ broker: 'sierra', account: 'P', instrumentOf, journal, restored: journal.loadSync() });
    e.contributeLimits('node', LIMITS);
    return e;
  };
  let e = start();
  const reconcile = (): void => {
    now += 1000;
    e.reconcile(broker.reconcileState(now));
    cursor = broker.stream.length; // the restarted process hears only what comes after
    const opened = broker.tradesOpened();
    assert.equal(e.riskState(now).tradesToday, opened, `after a reconcile: the engine counts ${e.riskState(now).tradesToday} trades today, the broker's fills opened ${opened}`);
  };
  reconcile();
  const read = (n: number): void => {
    for (let i = 0; i < n && cursor < broker.stream.length; i++) {
      const m = broker.stream[cursor++];
      now += 10;
      switch (m.k) {
        case 'ack':
          e.onOrderUpdate(m.id, { status: m.child ? 'pending' : 'working', brokerOrderId: m.server });
          break;
        case 'working':
          e.onOrderUpdate(m.id, { status: 'working', quantity: m.qty, brokerOrderId: m.server });
          break;
        case 'fill':
          e.onFill({ clientOrderId: m.id, brokerOrderId: m.server, instrument: ES, side: m.side, quantity: m.qty, price: m.price, now });
          break;
        case 'done':
          e.onOrderUpdate(m.id, { status: m.status, filled: m.filled, brokerOrderId: m.server });
          break;
        case 'position':
          e.syncPosition({ instrument: ES, quantity: m.q }, now);
          break;
      }
    }
  };
  for (const op of ops) {
    now += 50;
    switch (op.k) {
      case 'buy':
      case 'sell': {
        const [id, target, stop] = [`P${++seq}`, `P${++seq}`, `P${++seq}`];
        const position = e.position('ES');
        const verdict = e.reserve({ clientOrderId: id, instrument: ES, side: op.k, quantity: 1, exits: [target, stop], now });
        const opens = position === 0;
        if (opens && e.riskState(now).tradesToday >= MAX_TRADES) assert.ok(!verdict.allowed, `an entry from flat with ${e.riskState(now).tradesToday} trades today must be refused: ${JSON.stringify(verdict)}`);
        if (!verdict.allowed) break;
        if (!e.authorizeSend(id).allowed) {
          e.release(id);
          break;
        }
        broker.bracket(id, op.k, [target, stop]);
        break;
      }
      case 'flatten': {
        const id = `F${++seq}`;
        if (e.journalOrderId(id).allowed) broker.flatten(id);
        break;
      }
      case 'stop':
        broker.stopHit();
        break;
      case 'read':
        read('n' in op ? op.n : 1);
        break;
      case 'readAll':
        read(Infinity);
        break;
      case 'kill':
        // kill -9: this engine is gone (its listeners and memory with it); the journal holds what it last wrote.
        e.removeAllListeners();
        e = start();
        reconcile();
        break;
    }
    assert.ok(broker.tradesOpened() <= MAX_TRADES, `${broker.tradesOpened()} trades opened at the broker, the maximum is ${MAX_TRADES}`);
  }
}

describe('RiskEngine across kill -9: trades today equals the trades the broker saw opened (model-based, virtual time)', () => {
  it('after every restart and reconcile, and never more than max trades per day at the broker', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 120, size: 'max' }), (ops) => run(ops)), {
      numRuns: Number(process.env.RISK_PROPERTY_RUNS ?? 500),
      seed: Number(process.env.RISK_PROPERTY_SEED ?? 11),
    });
  });
});
