import { strict as assert } from 'assert';
import fc from 'fast-check';
import { FUTURE_TOLERANCE_MS, MarketDataClock, readMarketData, checkBarPayload, checkStaleAfterSec, describeAge, isMarketDataTopic, reducesExposure } from '../../lib/strategy/stale-data';

const T0 = Date.UTC(2025, 10, 24, 15, 0, 0);
const entry = { side: 'buy' as const, quantity: 1, position: 0, workingQuantity: 0 };

describe('stale market data guard (lib/strategy/stale-data)', () => {
  it('allows a new entry at 9.999 s without data and blocks it at exactly 10 s, saying how old the data is', () => {
    const clock = new MarketDataClock();
    clock.observe(T0, T0);
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
    clock.observe(T0, T0);
    assert.equal(clock.check(entry, T0 + 30_000, 10).allowed, false);
    clock.observe(T0 + 30_000, T0 + 30_000);
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
    clock.observe(T0, T0);
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
    clock.observe(T0 + 5_000, T0 + 5_000);
    clock.observe(T0, T0 + 6_000);
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

  it('judges data by its own time stamp: a message stamped hours ago does not make the feed fresh', () => {
    const clock = new MarketDataClock();
    const now = T0 + 3 * 3_600_000;
    clock.observe(T0, now); // a tick stamped three hours before the market clock, arriving now
    const decision = clock.check(entry, now, 10);
    assert.ok(!decision.allowed, 'an old message is not fresh data');
    assert.equal(decision.ageMs, 3 * 3_600_000);
    clock.observe(now - 9_000, now); // within the window: fresh
    assert.equal(clock.check(entry, now, 10).allowed, true);
  });

  it('refuses data stamped in the future beyond the tolerance, and takes a small skew as now', () => {
    const clock = new MarketDataClock();
    assert.throws(() => clock.observe(T0 + FUTURE_TOLERANCE_MS + 1, T0), /ahead of the market clock/);
    assert.equal(clock.lastUpdate(), null, 'a refused message refreshes nothing');
    clock.observe(T0 + FUTURE_TOLERANCE_MS, T0);
    assert.equal(clock.lastUpdate(), T0, 'a small skew counts as now, never later');
    assert.equal(clock.check(entry, T0 + 10_000, 10).allowed, false, 'so it cannot keep the feed fresh past the window');
  });

  it('reads the own time of ticks, quotes and bars (a bar by its close), and refuses one without it', () => {
    assert.deepEqual(readMarketData('tick', { t: T0, price: 6000.25, size: 1 }), { t: T0, from: T0, price: 6000.25 });
    assert.deepEqual(readMarketData('quote', { t: T0, bid: 6000, ask: 6000.25 }), { t: T0, from: T0, price: null });
    assert.deepEqual(readMarketData('bar', { t: T0, tf: '5min', o: 1, h: 2, l: 1, c: 2, v: 10 }), { t: T0 + 300_000, from: T0, price: 2 });
    assert.throws(() => readMarketData('tick', { price: 6000.25 }), /needs its time t/);
    assert.throws(() => readMarketData('quote', { t: '2025-11-24', last: 1 }), /needs its time t/);
    assert.throws(() => readMarketData('bar', { t: T0, tf: 5, c: 2 }), /tf must be a timeframe/);
  });
});
