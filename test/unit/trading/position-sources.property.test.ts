// Positions reach the engine from two sources: the fills (DTC ORDER_UPDATE, IBKR's order stream) and the broker's
// position records (DTC POSITION_UPDATE, IBKR's account reads). A record may arrive before the fill it already
// contains; the fill must not then move the position a second time (the broker's record wins), and the trade it
// opened must still be counted.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { instrumentOf } from '../../../lib/trading/instrument-of';

const T0 = Date.UTC(2026, 2, 10, 15, 0);
const LIMITS = { maxPosition: 10, maxOrderSize: 10, dailyLossLimit: 1e9, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxConsecutiveLosses: 1000 };

function engine(): RiskEngine {
  const e = new RiskEngine({ broker: 'sierra', account: 'POS', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('node', LIMITS);
  e.reconcile({ now: T0, positions: [], working: [] });
  return e;
}

describe('risk engine: fills and broker position records counted once', () => {
  it('a position record that arrives before its fill: the fill does not count again, and its trade is counted', () => {
    const e = engine();
    e.syncPosition({ instrument: 'ESZ6', quantity: 1, averagePrice: 5000 }, T0);
    e.onFill({ instrument: 'ESZ6', side: 'buy', quantity: 1, price: 5000, now: T0 });
    assert.equal(e.position('ES'), 1);
    assert.equal(e.riskState(T0).tradesToday, 1);
    e.onFill({ instrument: 'ESZ6', side: 'sell', quantity: 1, price: 5001, now: T0 + 1 });
    e.syncPosition({ instrument: 'ESZ6', quantity: 0, averagePrice: null }, T0 + 1);
    assert.equal(e.position('ES'), 0);
    assert.equal(e.riskState(T0).tradesToday, 1);
  });

  it('a record holding a trade no fill will report (made by hand): a later fill moves the position', () => {
    const e = engine();
    e.syncPosition({ instrument: 'ESZ6', quantity: 1, averagePrice: 5000 }, T0); // bought by hand at the broker
    e.onFill({ instrument: 'ESZ6', side: 'buy', quantity: 1, price: 5000, now: T0 + 60_000 });
    assert.equal(e.position('ES'), 2);
  });

  it('any interleaving of the two streams ends on the broker position and the trades its fills opened', () => {
    const fillArb = fc.record({ side: fc.constantFrom('buy' as const, 'sell' as const), qty: fc.integer({ min: 1, max: 3 }), inst: fc.constantFrom('ESZ6', 'ESH7') });
    fc.assert(
      fc.property(fc.array(fillArb, { minLength: 1, maxLength: 25 }), fc.array(fc.boolean(), { minLength: 50, maxLength: 50 }), (fills, coin) => {
        const e = engine();
        // The truth: each fill moves the broker's position; the record after it is that position.
        const truth = new Map<string, number>();
        let opened = 0;
        const records = fills.map((f) => {
          const before = truth.get(f.inst) ?? 0;
          const after = before + (f.side === 'buy' ? f.qty : -f.qty);
          if (after !== 0 && (before === 0 || Math.sign(after) !== Math.sign(before))) opened++;
          truth.set(f.inst, after);
          return { instrument: f.inst, quantity: after };
        });
        // Each stream in its own order; the two merged at random: a fill's record comes just before or just after
        // it (DTC: the POSITION_UPDATE beside the fill's ORDER_UPDATE), never beyond the next fill.
        let i = 0;
        let j = 0;
        let k = 0;
        while (i < fills.length || j < records.length) {
          const takeFill = j > i || (j === i && coin[k++ % coin.length]);
          if (takeFill) {
            const f = fills[i++];
            e.onFill({ instrument: f.inst, side: f.side, quantity: f.qty, price: 5000, now: T0 + i });
          } else {
            const r = records[j++];
            e.syncPosition({ instrument: r.instrument, quantity: r.quantity, averagePrice: 5000 }, T0 + j);
          }
          // Never more than the broker held at any moment of what has been delivered: no double count.
          const peak = Math.max(0, ...records.slice(0, Math.max(i, j)).map((_, n) => Math.abs(rootAfter(records, n))));
          assert.ok(Math.abs(e.position('ES')) <= peak, `engine ES position ${e.position('ES')} beyond any the broker held so far (${peak})`);
        }
        assert.equal(e.position('ES'), [...truth.values()].reduce((a, b) => a + b, 0));
        for (const [inst, q] of truth) assert.equal(e.positions().find((p) => p.instrument === inst)?.position ?? 0, q, inst);
        assert.equal(e.riskState(T0).tradesToday, opened, 'trades opened');
      }),
      { numRuns: Number(process.env.RISK_PROPERTY_RUNS ?? 500), seed: Number(process.env.RISK_PROPERTY_SEED ?? 11) },
    );
  });
});

/** The root position after record n (both contracts, each at its last record up to n). */
function rootAfter(records: { instrument: string; quantity: number }[], n: number): number {
  const last = new Map<string, number>();
  for (const r of records.slice(0, n + 1)) last.set(r.instrument, r.quantity);
  return [...last.values()].reduce((a, b) => a + b, 0);
}
