import { strict as assert } from 'assert';
import { KillSwitchIncompleteError, SierraConnection, type SierraConnectionOptions } from '../../../lib/sierra/connection';
import { OrderStatus } from '../../../lib/sierra/protocol';
import type { DtcSimulator } from '../../../lib/sim/dtc';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine, type EngineLimits, type Verdict } from '../../../lib/trading/risk-engine';
import type { KillSwitchState } from '../../../lib/trading/risk-rules';

// The rules RiskGate applied to Sierra orders, now the account risk engine's (lib/trading/risk-engine.ts).
const T0 = Date.UTC(2026, 2, 10, 15, 0); // 11:00 New York
const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 };
const SYMBOL = 'ESZ25_FUT_CME';

let n = 0;
function gate(limits: EngineLimits, killSwitch: KillSwitchState = 'ACTIVE', position = 0): RiskEngine {
  const e = new RiskEngine({ broker: 'sierra', account: 'Sim1', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('cfg', limits);
  e.reconcile({ now: T0, positions: position ? [{ instrument: SYMBOL, quantity: position }] : [], working: [] });
  e.setLastTrade(SYMBOL, 6000, T0);
  e.setKillSwitch(killSwitch);
  return e;
}
function buy(e: RiskEngine, quantity: number, extra: { type?: 'limit' | 'market' | 'stop'; price?: number; stopPrice?: number; now?: number } = { type: 'limit', price: 6000 }): Verdict {
  return e.reserve({ clientOrderId: `b${++n}`, instrument: SYMBOL, side: 'buy', quantity, now: T0, ...extra });
}
function sell(e: RiskEngine, quantity: number): Verdict {
  return e.reserve({ clientOrderId: `s${++n}`, instrument: SYMBOL, side: 'sell', quantity, type: 'market', now: T0 });
}
const ruleOf = (v: Verdict): string | null => (v.allowed ? null : v.rule);

describe('Sierra orders through the account risk engine: the kill switch and the pre-trade rules', () => {
  it('HALTED refuses every new order and every modify, even one that would reduce the position', () => {
    const e = gate({ ...OPEN, collarTicks: 0 });
    const working = `w${++n}`;
    assert.ok(e.reserve({ clientOrderId: working, instrument: SYMBOL, side: 'sell', quantity: 1, type: 'limit', price: 6010, now: T0 }).allowed);
    e.setKillSwitch('HALTED');
    assert.equal(ruleOf(buy(e, 1)), 'kill-switch');
    e.syncPosition({ instrument: SYMBOL, quantity: 2 }, T0);
    assert.equal(ruleOf(sell(e, 1)), 'kill-switch');
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: working, price: 6001, now: T0 })), 'kill-switch');
    e.setKillSwitch('ACTIVE');
    e.syncPosition({ instrument: SYMBOL, quantity: 0 }, T0);
    assert.equal(ruleOf(buy(e, 1)), null);
  });

  it('REDUCING lets an order that shrinks the position through and refuses one that grows it', () => {
    const e = gate({ ...OPEN, collarTicks: 0 }, 'REDUCING', 2);
    assert.equal(ruleOf(sell(e, 1)), null);
    assert.equal(ruleOf(buy(e, 1)), 'kill-switch');
  });

  it('price collar: exactly N ticks from the last trade passes, N + 1 is refused, on both sides', () => {
    const e = gate({ ...OPEN, collarTicks: 8 });
    assert.equal(ruleOf(buy(e, 1, { type: 'limit', price: 6002 })), null);
    assert.equal(ruleOf(buy(e, 1, { type: 'limit', price: 5998 })), null);
    assert.equal(ruleOf(buy(e, 1, { type: 'limit', price: 6002.25 })), 'price-collar');
    assert.equal(ruleOf(buy(e, 1, { type: 'limit', price: 5997.75 })), 'price-collar');
    assert.equal(ruleOf(buy(e, 1, { type: 'stop', stopPrice: 6002.25 })), 'price-collar');
  });

  it('price collar: refuses a priced order when no last trade is known, lets market orders through, and 0 turns it off', () => {
    const e = new RiskEngine({ broker: 'sierra', account: 'Sim1', instrumentOf, journal: new MemoryJournal() });
    e.contributeLimits('cfg', { ...OPEN, collarTicks: 8 });
    e.reconcile({ now: T0, positions: [], working: [] });
    const verdict = buy(e, 1);
    assert.equal(ruleOf(verdict), 'price-collar');
    assert.match((verdict as { reason: string }).reason, /no last trade price/);
    assert.equal(ruleOf(buy(e, 1, { type: 'market' })), null);
    const off = gate({ ...OPEN, collarTicks: 0 });
    assert.equal(ruleOf(buy(off, 1, { type: 'limit', price: 7000 })), null);
  });

  it('orders per minute: N pass, the next is refused, and one passes again once the oldest is a minute old', () => {
    const e = gate({ ...OPEN, maxPosition: 10, maxOrderSize: 1, collarTicks: 0, maxOrdersPerMinute: 3 });
    for (let i = 0; i < 3; i++) assert.equal(ruleOf(buy(e, 1, { type: 'market', now: T0 + i * 1000 })), null);
    assert.equal(ruleOf(buy(e, 1, { type: 'market', now: T0 + 59_999 })), 'max-orders-per-minute');
    assert.equal(ruleOf(buy(e, 1, { type: 'market', now: T0 + 60_000 })), null);
  });

  it('daily loss: at the limit (broker P&L) no new position opens, but an order that reduces still passes', () => {
    const e = gate({ ...OPEN, dailyLossLimit: 500, collarTicks: 0 });
    e.syncAccount({ now: T0, realizedPnl: -400, unrealizedPnl: -99.99 });
    assert.equal(ruleOf(buy(e, 1)), null);
    e.release(`b${n}`);
    e.syncAccount({ now: T0, realizedPnl: -400, unrealizedPnl: -100 });
    assert.equal(ruleOf(buy(e, 1)), 'daily-loss');
    e.syncPosition({ instrument: SYMBOL, quantity: 1 }, T0);
    assert.equal(ruleOf(sell(e, 1)), null);
  });

  it('consecutive losses: the next position after the last allowed loss is refused', () => {
    const e = gate({ ...OPEN, maxConsecutiveLosses: 2, collarTicks: 0 });
    const trade = (t: number): void => {
      e.onFill({ instrument: SYMBOL, side: 'buy', quantity: 1, price: 6000, now: t });
      e.onFill({ instrument: SYMBOL, side: 'sell', quantity: 1, price: 5999, now: t });
    };
    trade(T0);
    assert.equal(ruleOf(buy(e, 1)), null);
    e.release(`b${n}`);
    trade(T0);
    assert.equal(ruleOf(buy(e, 1)), 'consecutive-losses');
  });

  it('checks a modify that enlarges an order like new exposure: order size and position', () => {
    const e = gate({ ...OPEN, maxOrderSize: 2, maxPosition: 3, collarTicks: 0 });
    const a = `a${++n}`;
    assert.ok(e.reserve({ clientOrderId: a, instrument: SYMBOL, side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: a, quantity: 3, now: T0 })), 'max-order-size');
    e.syncPosition({ instrument: SYMBOL, quantity: 2 }, T0);
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: a, quantity: 2, now: T0 })), 'max-position');
    e.syncPosition({ instrument: SYMBOL, quantity: 0 }, T0);
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: a, quantity: 2, now: T0 })), null);
    e.modifyConfirmed(a, 2);
    e.syncPosition({ instrument: SYMBOL, quantity: 3 }, T0);
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: a, quantity: 1, now: T0 })), null, 'shrinking is always allowed');
  });

  it('refuses settings that are not whole numbers ≥ 0', () => {
    const e = gate(OPEN);
    assert.throws(() => e.contributeLimits('x', { ...OPEN, collarTicks: -1 }), /collarTicks/);
    assert.throws(() => e.contributeLimits('x', { ...OPEN, maxOrdersPerMinute: 1.5 }), /maxOrdersPerMinute/);
  });
});

describe('SierraConnection.kill against the DTC simulator', function () {
  this.timeout(15_000);
  let connection: SierraConnection | undefined;
  afterEach(async () => {
    await connection?.close();
    connection = undefined;
  });

  async function open(tradingEnabled: boolean): Promise<{ c: SierraConnection; sim: DtcSimulator }> {
    const options: SierraConnectionOptions = {
      client: { tradeAccount: 'Sim1', heartbeatSec: 1, tradingEnabled },
      symbol: 'ESZ25_FUT_CME',
      risk: { limits: OPEN, collarTicks: 40, tickSize: 0.25, maxOrdersPerMinute: 0 },
      simulator: { seed: 3, speed: 0.001 },
    };
    connection = new SierraConnection(options);
    await connection.whenReady(10_000);
    assert.ok(connection.simulator);
    return { c: connection, sim: connection.simulator };
  }

  it('halts, cancels the working bracket exits and flattens the position', async () => {
    const { c, sim } = await open(true);
    const last = c.lastTrade() ?? 0;
    await c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market', bracket: { stop: last - 5, targets: [last + 5] } });
    await c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: last - 3 });
    assert.equal(sim.positions()[0]?.quantity, 1);
    const result = await c.kill();
    assert.equal(result.killSwitch, 'HALTED');
    assert.equal(result.flattened.length, 1);
    assert.equal(sim.orders().filter((o) => o.status === OrderStatus.OPEN || o.status === OrderStatus.PENDING_CHILD).length, 0);
    assert.equal(sim.positions().reduce((s, p) => s + p.quantity, 0), 0);
    assert.equal(c.status().killSwitch, 'HALTED');
    await assert.rejects(c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' }), /risk rule "kill-switch"/);
  });

  it('stays HALTED and says what to check when trading is disabled and nothing can be cancelled', async () => {
    const { c, sim } = await open(false);
    await assert.rejects(c.kill(), (err: unknown) => err instanceof KillSwitchIncompleteError && /HALTED/.test(err.message) && /Trading is disabled/.test(err.message));
    assert.equal(c.status().killSwitch, 'HALTED');
    assert.equal(sim.orders().length, 0);
    c.resume();
    assert.equal(c.status().killSwitch, 'ACTIVE');
  });
});
