import { strict as assert } from 'assert';
import fc from 'fast-check';
import { TradeBook } from '../../../lib/stats/trades';

// Cash-flow accounting as the independent check: when the position ends flat, the P&L of all closed trades equals
// Σ (sells − buys) of quantity × price × point value over every fill, however the fills split, add and reverse.
describe('trade book properties', () => {
  it('closed-trade P&L equals the fills cash flow, and a trade closes each time the position reaches or crosses zero', () => {
    const fillArb = fc.record({ buy: fc.boolean(), quantity: fc.integer({ min: 1, max: 3 }), ticks: fc.integer({ min: -400, max: 400 }) });
    fc.assert(
      fc.property(fc.array(fillArb, { minLength: 1, maxLength: 60 }), fc.constantFrom(5, 50), (fills, pointValue) => {
        const book = new TradeBook({ pointValue });
        let cash = 0;
        let position = 0;
        let crossings = 0;
        let t = 1_000;
        const apply = (buy: boolean, quantity: number, price: number): void => {
          book.fill({ clientOrderId: 'p', serverOrderId: null, side: buy ? 'buy' : 'sell', quantity, price, t: (t += 1_000) });
          cash += (buy ? -1 : 1) * quantity * price * pointValue;
          const before = position;
          position += buy ? quantity : -quantity;
          if (before !== 0 && (position === 0 || Math.sign(position) !== Math.sign(before))) crossings++;
          assert.equal(book.position(), position);
        };
        for (const f of fills) apply(f.buy, f.quantity, 5000 + f.ticks * 0.25);
        if (position !== 0) apply(position < 0, Math.abs(position), 5000);
        const trades = book.trades();
        assert.equal(trades.length, crossings);
        const pnl = trades.reduce((a, tr) => a + tr.pnl, 0);
        assert.ok(Math.abs(pnl - cash) < 1e-6, `trades ${pnl} ≠ cash flow ${cash}`);
        for (const tr of trades) {
          assert.ok(tr.quantity > 0 && tr.exitTime >= tr.entryTime);
          // A trade with no scale-in after a partial exit: P&L is exactly its points × quantity × point value.
          assert.ok(Math.abs(tr.pnl - tr.points * tr.quantity * pointValue) < 1e-6 || tr.quantity > 1);
        }
      }),
      { numRuns: 500 },
    );
  });
});
