import { strict as assert } from 'assert';
import { NEW_YORK, zonedTime } from '../../../lib/clock';
import { RiskGuard, resolveRiskLimits, type OrderIntent } from '../../../lib/trading/risk-rules';

const MIN = 60_000;
// Tuesday 10 March 2026, 11:00 New York (10:00 Chicago), inside 09:35–15:45.
const T = zonedTime(NEW_YORK, 2026, 3, 10, 11, 0);
const buy = (quantity = 1, position = 0, now = T, workingQuantity?: number): OrderIntent => ({ side: 'buy', quantity, position, now, workingQuantity });
const sell = (quantity = 1, position = 0, now = T): OrderIntent => ({ side: 'sell', quantity, position, now });
const denied = (guard: RiskGuard, intent: OrderIntent) => {
  const d = guard.check(intent);
  assert.equal(d.allowed, false, 'expected a denial');
  return d as { allowed: false; rule: string; reason: string };
};
/** Opens and closes one 1-lot trade with the given P&L in points (ES: $50 a point). */
const roundTrip = (guard: RiskGuard, points: number, at: number) => {
  guard.recordFill({ side: 'buy', quantity: 1, price: 5000, now: at });
  guard.recordFill({ side: 'sell', quantity: 1, price: 5000 + points, now: at + MIN });
};

describe('risk guard', () => {
  it('allows an ordinary order inside every limit', () => {
    assert.deepEqual(new RiskGuard().check(buy()), { allowed: true });
  });

  it('daily loss limit $500: a loss of $499.99 still trades, exactly $500 stops new positions', () => {
    const g = new RiskGuard({ cooldownMin: 0 });
    g.syncBroker({ now: T, realizedPnl: -499.99 });
    assert.equal(g.check(buy()).allowed, true);
    g.syncBroker({ now: T, realizedPnl: -450, unrealizedPnl: -50 });
    const d = denied(g, buy());
    assert.equal(d.rule, 'daily-loss');
    assert.match(d.reason, /today's P&L −\$500.00 \(realized −\$450.00, open −\$50.00\) is at or below the −\$500.00 limit/);
  });

  it('computes the realized loss from fills at $50 a point', () => {
    const g = new RiskGuard({ cooldownMin: 0 });
    roundTrip(g, -10, T - 30 * MIN); // −$500
    assert.equal(g.state().realizedPnl, -500);
    assert.equal(denied(g, buy()).rule, 'daily-loss');
  });

  it('max 10 trades a day: the 10th trade opens, the 11th is refused', () => {
    const g = new RiskGuard({ cooldownMin: 0, maxConsecutiveLosses: 100 });
    for (let k = 0; k < 9; k++) roundTrip(g, 1, T - 60 * MIN + k * 2 * MIN);
    assert.equal(g.check(buy()).allowed, true);
    roundTrip(g, 1, T - 10 * MIN);
    const d = denied(g, buy());
    assert.deepEqual([d.rule, g.state().tradesToday], ['max-trades', 10]);
    assert.match(d.reason, /10 trades today, the maximum is 10/);
  });

  it('cooldown 15 min after a trade: 14:59 refused, 15:00 allowed', () => {
    const g = new RiskGuard();
    roundTrip(g, 1, T - 16 * MIN); // closed at T − 15 min
    const d = denied(g, buy(1, 0, T - 1000));
    assert.equal(d.rule, 'cooldown');
    assert.match(d.reason, /14.9 min since the last trade, 15 min required \(until 11:00 New York\)/);
    assert.equal(g.check(buy(1, 0, T)).allowed, true);
  });

  it('trading hours 09:35–15:45 New York: 09:35 allowed, 09:34 and 15:45 refused', () => {
    const g = new RiskGuard();
    const at = (h: number, m: number) => g.check(buy(1, 0, zonedTime(NEW_YORK, 2026, 3, 10, h, m)));
    assert.equal(at(9, 35).allowed, true);
    assert.equal(at(15, 44).allowed, true);
    assert.equal((at(9, 34) as { rule: string }).rule, 'trading-hours');
    assert.match((at(15, 45) as { reason: string }).reason, /outside trading hours 09:35–15:45 New York \(now 15:45 New York\)/);
  });

  it('max position 2 contracts, working orders included: long 1 + buy 1 allowed, long 1 + working 1 + buy 1 refused', () => {
    const g = new RiskGuard();
    assert.equal(g.check(buy(1, 1)).allowed, true);
    const d = denied(g, buy(1, 1, T, 1));
    assert.equal(d.rule, 'max-position');
    assert.match(d.reason, /buy 1 would take the position to long 3 \(now long 1, working \+1\); the maximum is 2 contracts/);
    assert.equal(denied(g, sell(3, 0)).rule, 'max-order-size');
  });

  it('max order size 2: 2 allowed, 3 refused', () => {
    const g = new RiskGuard({ maxPosition: 5 });
    assert.equal(g.check(buy(2)).allowed, true);
    assert.match(denied(g, buy(3)).reason, /order of 3 contracts exceeds the maximum order size of 2/);
  });

  it('halts new positions after 4 losing trades in a row; a win resets the streak', () => {
    const g = new RiskGuard({ cooldownMin: 0, dailyLossLimit: 10_000 });
    for (let k = 0; k < 3; k++) roundTrip(g, -1, T - 60 * MIN + k * 2 * MIN);
    roundTrip(g, 2, T - 50 * MIN);
    for (let k = 0; k < 3; k++) roundTrip(g, -1, T - 40 * MIN + k * 2 * MIN);
    assert.equal(g.check(buy()).allowed, true, '3 in a row since the win');
    roundTrip(g, -1, T - 20 * MIN);
    const d = denied(g, buy());
    assert.deepEqual([d.rule, g.state().consecutiveLosses], ['consecutive-losses', 4]);
  });

  it('never blocks an order that only shrinks the position, even past the daily loss', () => {
    const g = new RiskGuard();
    g.syncBroker({ now: T, realizedPnl: -2000 });
    assert.equal(g.check(sell(1, 2)).allowed, true);
    assert.equal(g.check(sell(2, 2, zonedTime(NEW_YORK, 2026, 3, 10, 16, 30))).allowed, true, 'also outside hours');
    assert.equal(denied(g, sell(3, 2)).rule, 'daily-loss', 'reversing is not shrinking');
  });

  describe('kill switch', () => {
    it('HALTED refuses every order, even a reducing one', () => {
      const g = new RiskGuard();
      g.setKillSwitch('HALTED');
      const d = denied(g, sell(1, 2));
      assert.deepEqual([d.rule, g.state().killSwitch], ['kill-switch', 'HALTED']);
      assert.match(d.reason, /kill switch is HALTED: no new orders \(sell 1 refused\)/);
    });

    it('REDUCING allows only orders that shrink the position, never a flip or an add', () => {
      const g = new RiskGuard();
      g.setKillSwitch('REDUCING');
      assert.equal(g.check(sell(1, 2)).allowed, true);
      assert.equal(g.check(sell(2, 2)).allowed, true, 'to flat');
      assert.match(denied(g, sell(3, 2)).reason, /REDUCING.*would take long 2 to short 1/);
      assert.equal(denied(g, buy(1, 2)).rule, 'kill-switch');
      assert.equal(denied(g, buy(1, 0)).rule, 'kill-switch', 'flat: nothing to reduce');
      assert.equal(g.check(buy(1, -1)).allowed, true, 'covering a short');
    });

    it('ACTIVE trades again, and refuses an unknown state', () => {
      const g = new RiskGuard();
      g.setKillSwitch('HALTED');
      g.setKillSwitch('ACTIVE');
      assert.equal(g.check(buy()).allowed, true);
      assert.throws(() => g.setKillSwitch('OFF' as 'ACTIVE'), /ACTIVE, REDUCING or HALTED/);
    });
  });

  it('resets the daily counters at the 17:00 Chicago session boundary, keeping the kill switch', () => {
    const g = new RiskGuard({ cooldownMin: 0 });
    roundTrip(g, -10, T);
    g.setKillSwitch('REDUCING');
    const nextDay = zonedTime(NEW_YORK, 2026, 3, 11, 10, 0);
    const s = g.state(nextDay);
    assert.deepEqual([s.realizedPnl, s.tradesToday, s.consecutiveLosses, s.killSwitch], [0, 0, 0, 'REDUCING']);
    assert.equal(new Date(s.sessionStart).toISOString(), '2026-03-10T22:00:00.000Z');
  });

  it('tracks a reversal as one trade closed and one opened, with the P&L of the closed part', () => {
    const g = new RiskGuard({ cooldownMin: 0 });
    g.recordFill({ side: 'buy', quantity: 1, price: 5000, now: T });
    g.recordFill({ side: 'sell', quantity: 2, price: 4999, now: T + MIN });
    const s = g.state();
    assert.deepEqual([s.position, s.averagePrice, s.realizedPnl, s.tradesToday, s.consecutiveLosses], [-1, 4999, -50, 2, 1]);
  });

  it('refuses a malformed order and bad limits with a clear message', () => {
    assert.equal(denied(new RiskGuard(), buy(0)).rule, 'invalid-order');
    assert.equal(denied(new RiskGuard(), buy(1.5)).rule, 'invalid-order');
    assert.throws(() => resolveRiskLimits({ maxPosition: -1 }), /maxPosition must be a whole number > 0/);
    assert.throws(() => resolveRiskLimits({ tradingStart: '25:00' }), /tradingStart must be a time of day/);
    assert.equal(resolveRiskLimits({}).dailyLossLimit, 500);
  });
});
