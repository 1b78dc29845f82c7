// Trades opened by fills the journal never recorded (a fill while Node-RED was down, or just before kill -9) are
// counted at the reconcile from the broker's session fills (crash-test finding: 21 trades at the broker, limit 20).
import { strict as assert } from 'assert';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine, type BrokerFill, type Discrepancy, type Verdict } from '../../../lib/trading/risk-engine';

const T0 = Date.UTC(2026, 2, 10, 15, 0); // Tuesday 11:00 New York
const ES = 'ESZ6';
const LIMITS = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 2, maxTradesPerDay: 20 };
const ruleOf = (v: Verdict): string | null => (v.allowed ? null : v.rule);

let seq = 0;
const id = (): string => `rt-${++seq}`;

function engine(journal: MemoryJournal, limits = LIMITS): RiskEngine {
  const e = new RiskEngine({ broker: 'sierra', account: 'T', instrumentOf, journal, restored: journal.loadSync() });
  e.contributeLimits('node', limits);
  return e;
}

/** A fresh account, reconciled flat. */
function open(limits = LIMITS): { e: RiskEngine; journal: MemoryJournal } {
  const journal = new MemoryJournal();
  const e = engine(journal, limits);
  e.reconcile({ now: T0, positions: [], working: [] });
  return { e, journal };
}

/** kill -9 and a restart: a new engine from what the journal holds, then the reconcile with the broker. */
function restart(journal: MemoryJournal, broker: { position: number; fills: BrokerFill[] }, limits = LIMITS): { e: RiskEngine; found: Discrepancy[] } {
  const e = engine(journal, limits);
  const found = e.reconcile({ now: T0 + 60_000, positions: broker.position ? [{ instrument: ES, quantity: broker.position }] : [], working: [], fills: broker.fills });
  return { e, found };
}

const trades = (e: RiskEngine): number => e.riskState(T0 + 60_000).tradesToday;
const buy = (q = 1): Omit<BrokerFill, 'brokerOrderId'> => ({ instrument: ES, side: 'buy', quantity: q });

describe('RiskEngine reconcile: trades the broker saw opened that the journal never recorded', () => {
  it('an entry acknowledged, then filled while Node-RED was down: counted (matched by broker order id)', () => {
    const { e, journal } = open();
    const a = id();
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 1, type: 'limit', price: 5990, now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    e.acknowledged(a, 'S1');
    const { e: after, found } = restart(journal, { position: 1, fills: [{ brokerOrderId: 'S1', ...buy() }] });
    assert.equal(trades(after), 1);
    assert.ok(found.some((d) => d.what === 'trades-today' && d.journal === 0 && d.broker === 1));
  });

  it('an entry written to the journal and filled, killed before its acknowledgement was read: counted (the one unnamed fill that fits)', () => {
    const { e, journal } = open();
    const a = id();
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    const { e: after } = restart(journal, { position: 1, fills: [{ brokerOrderId: 'S7', ...buy() }] });
    assert.equal(trades(after), 1);
  });

  it('a bracket entry killed before its acknowledgement was read, among earlier fills of the day: its working children name it', () => {
    const { e, journal } = open();
    const [a, t, s] = [id(), id(), id()];
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'sell', quantity: 1, exits: [t, s], now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    e.acknowledged(t, 'S22');
    e.acknowledged(s, 'S23');
    const earlier: BrokerFill[] = [{ brokerOrderId: 'S7', instrument: ES, side: 'sell', quantity: 1 }, { brokerOrderId: 'S8', ...buy() }, { brokerOrderId: 'S10', instrument: ES, side: 'sell', quantity: 1 }, { brokerOrderId: 'S11', ...buy() }];
    const after = engine(journal);
    after.reconcile({
      now: T0 + 60_000,
      positions: [{ instrument: ES, quantity: -1 }],
      working: [t, s].map((c, i) => ({ clientOrderId: c, instrument: ES, side: 'buy' as const, quantity: 1, filled: 0, brokerOrderId: `S2${2 + i}`, parentBrokerOrderId: 'S21' })),
      fills: [...earlier, { brokerOrderId: 'S21', instrument: ES, side: 'sell', quantity: 1 }],
    });
    assert.equal(trades(after), 1);
  });

  it("counted even when the broker's live position update reached the engine before the reconcile (as Sierra's does)", () => {
    const { e, journal } = open();
    const a = id();
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'sell', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    e.acknowledged(a, 'S30');
    const after = engine(journal);
    after.syncPosition({ instrument: ES, quantity: -1 }, T0 + 59_000);
    after.reconcile({ now: T0 + 60_000, positions: [{ instrument: ES, quantity: -1 }], working: [], fills: [{ brokerOrderId: 'S29', ...buy() }, { brokerOrderId: 'S28', instrument: ES, side: 'sell', quantity: 1 }, { brokerOrderId: 'S30', instrument: ES, side: 'sell', quantity: 1 }] });
    assert.equal(trades(after), 1);
  });

  it('the trade that reaches the daily maximum across a kill: the next entry is refused (max-trades)', () => {
    const { e, journal } = open({ ...LIMITS, maxTradesPerDay: 1 });
    const a = id();
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    e.acknowledged(a, 'S2');
    // Filled and closed by its stop while Node-RED was down: flat again, one trade.
    const { e: after } = restart(journal, { position: 0, fills: [{ brokerOrderId: 'S2', ...buy() }, { brokerOrderId: 'S3', instrument: ES, side: 'sell', quantity: 1 }] }, { ...LIMITS, maxTradesPerDay: 1 });
    assert.equal(ruleOf(after.reserve({ clientOrderId: id(), instrument: ES, side: 'buy', quantity: 1, now: T0 + 61_000 })), 'max-trades');
  });

  it('a fill the journal recorded is not counted again, and an exit that closed while down opens nothing', () => {
    const { e, journal } = open();
    const a = id();
    const [t, s] = [id(), id()];
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 1, exits: [t, s], now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    e.acknowledged(a, 'S4');
    e.onFill({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 1, price: 6000, now: T0 });
    e.acknowledged(s, 'S5');
    e.acknowledged(t, 'S6');
    assert.equal(e.riskState(T0).tradesToday, 1);
    const { e: after, found } = restart(journal, { position: 0, fills: [{ brokerOrderId: 'S4', clientOrderId: a, ...buy() }, { brokerOrderId: 'S5', instrument: ES, side: 'sell', quantity: 1 }] });
    assert.equal(trades(after), 1);
    assert.ok(!found.some((d) => d.what === 'trades-today'));
  });

  it('a partially recorded entry: only what the journal lacks is replayed (adding to a position opens no trade)', () => {
    const { e, journal } = open();
    const a = id();
    assert.ok(e.reserve({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 2, type: 'limit', price: 5990, now: T0 }).allowed);
    assert.ok(e.authorizeSend(a).allowed);
    e.acknowledged(a, 'S8');
    e.onFill({ clientOrderId: a, instrument: ES, side: 'buy', quantity: 1, price: 5990, now: T0 });
    const { e: after } = restart(journal, { position: 2, fills: [{ brokerOrderId: 'S8', ...buy() }, { brokerOrderId: 'S8', ...buy() }] });
    assert.equal(trades(after), 1);
  });
});
