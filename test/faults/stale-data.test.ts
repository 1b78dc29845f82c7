import { strict as assert } from 'assert';
import fc from 'fast-check';
import { MarketDataClock, checkBarPayload, checkStaleAfterSec, describeAge, isMarketDataTopic, reducesExposure } from '../../lib/strategy/stale-data';

const T0 = Date.UTC(2025, 10, 24, 15, 0, 0);
const entry = { side: 'buy' as const, quantity: 1, position: 0, workingQuantity: 0 };

describe('stale market data guard (lib/strategy/stale-data)', () => {
  it('allows a new entry at 9.999 s without data and blocks it at exactly 10 s, saying how old the data is', () => {
    const clock = new MarketDataClock();
    clock.observe(T0);
    assert.deepEqual(clock.check(entry, T0 + 9_999, 10), { allowed: true });
    const at10 = clock.check(entry, T0 + 10_000, 10);
    assert.ok(!at10.allowed);
    assert.equal(at10.rule, 'stale-data');
    assert.equal(at10.ageMs, 10_000);
    assert.match(at10.reason, /arrived 10\.0 s ago \(limit 10 s\)/);
    const later = clock.check(entry, T0 + 125_000, 10);
    assert.ok(!later.allowed);
    assert.match(later.reason, /2 min 5 s ago/);
  });

  it('lifts the block the instant fresh data arrives', () => {
    const clock = new MarketDataClock();
    clock.observe(T0);
    assert.equal(clock.check(entry, T0 + 30_000, 10).allowed, false);
    clock.observe(T0 + 30_000);
    assert.equal(clock.check(entry, T0 + 30_000, 10).allowed, true);
  });

  it('fails closed when no data has ever arrived, and says to wire a feed', () => {
    const decision = new MarketDataClock().check(entry, T0, 10);
    assert.ok(!decision.allowed);
    assert.equal(decision.ageMs, null);
    assert.match(decision.reason, /no market data .* has arrived yet/);
  });

  it('never blocks with the setting at 0 (off)', () => {
    assert.equal(new MarketDataClock().check(entry, T0, 0).allowed, true);
  });

  it('lets orders that only reduce the position through while data is stale, never ones that add or reverse', () => {
    const clock = new MarketDataClock();
    clock.observe(T0);
    const late = T0 + 60_000;
    assert.equal(clock.check({ side: 'sell', quantity: 2, position: 2, workingQuantity: 0 }, late, 10).allowed, true, 'closing a long');
    assert.equal(clock.check({ side: 'buy', quantity: 1, position: -3, workingQuantity: 0 }, late, 10).allowed, true, 'covering part of a short');
    assert.equal(clock.check({ side: 'sell', quantity: 3, position: 2, workingQuantity: 0 }, late, 10).allowed, false, 'a reversal is a new entry');
    assert.equal(clock.check({ side: 'buy', quantity: 1, position: 2, workingQuantity: 0 }, late, 10).allowed, false, 'adding is a new entry');
    assert.equal(clock.check({ side: 'sell', quantity: 1, position: 0, workingQuantity: 1 }, late, 10).allowed, true, 'shrinks the working exposure');
  });

  it('reducesExposure: an order never both reduces and is mirrored by its opposite reducing (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10, max: 10 }), fc.integer({ min: 1, max: 10 }), (position, quantity) => {
        const buy = reducesExposure({ side: 'buy', quantity, position, workingQuantity: 0 });
        const sell = reducesExposure({ side: 'sell', quantity, position, workingQuantity: 0 });
        assert.ok(!(buy && sell));
        if (position === 0) assert.ok(!buy && !sell, 'nothing reduces a flat book');
      }),
    );
  });

  it('a late message never moves the clock back', () => {
    const clock = new MarketDataClock();
    clock.observe(T0 + 5_000);
    clock.observe(T0);
    assert.equal(clock.lastUpdate(), T0 + 5_000);
  });

  it('validates the setting, the bar shape and the topics it counts', () => {
    assert.equal(checkStaleAfterSec(0.5), 0.5);
    assert.throws(() => checkStaleAfterSec(-1), /Stale data after/);
    assert.throws(() => checkStaleAfterSec(Number.NaN), /seconds ≥ 0/);
    assert.doesNotThrow(() => checkBarPayload({ t: T0, o: 1, h: 2, l: 1, c: 2, v: 10 }));
    assert.throws(() => checkBarPayload({ t: T0, c: 'x' }), /positive close c/);
    assert.throws(() => checkBarPayload([1, 2]), /bar message/);
    assert.deepEqual(['tick', 'quote', 'bar', 'vwap', 7].map(isMarketDataTopic), [true, true, true, false, false]);
    assert.equal(describeAge(3_240), '3.2 s');
  });
});
