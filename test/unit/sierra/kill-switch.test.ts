import { strict as assert } from 'assert';
import { KillSwitchIncompleteError, RiskGate, SierraConnection, type RiskContext, type SierraConnectionOptions } from '../../../lib/sierra/connection';
import type { RiskIntent } from '../../../lib/sierra/order-manager';
import { OrderStatus } from '../../../lib/sierra/protocol';
import type { DtcSimulator } from '../../../lib/sim/dtc';

const T0 = Date.UTC(2026, 2, 10, 15, 0); // 11:00 New York
const CTX: RiskContext = { now: T0, position: 0, workingQuantity: 0, lastTrade: 6000 };
const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 };

function buy(quantity: number, extra: Partial<RiskIntent> = {}): RiskIntent {
  return { action: 'submit', symbol: 'ESZ25_FUT_CME', side: 'buy', quantity, type: 'limit', price: 6000, ...extra } as RiskIntent;
}
function sell(quantity: number): RiskIntent {
  return { action: 'submit', symbol: 'ESZ25_FUT_CME', side: 'sell', quantity, type: 'market' };
}
function ruleOf(verdict: ReturnType<RiskGate['check']>): string | null {
  return verdict.allowed === true ? null : (verdict as { rule: string }).rule;
}

describe('RiskGate: the kill switch and the pre-trade rules of a Sierra connection', () => {
  it('HALTED refuses every new order and every modify, even one that would reduce the position', () => {
    const gate = new RiskGate({ limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0, killSwitch: 'HALTED' });
    assert.equal(ruleOf(gate.check(buy(1), CTX)), 'kill-switch');
    assert.equal(ruleOf(gate.check(sell(1), { ...CTX, position: 2 })), 'kill-switch');
    assert.equal(ruleOf(gate.check({ action: 'modify', clientOrderId: 'a', symbol: 'ES', side: 'sell', price: 6001 }, CTX)), 'kill-switch');
    gate.guard.setKillSwitch('ACTIVE');
    assert.equal(ruleOf(gate.check(buy(1), CTX)), null);
  });

  it('REDUCING lets an order that shrinks the position through and refuses one that grows it', () => {
    const gate = new RiskGate({ limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0, killSwitch: 'REDUCING' });
    assert.equal(ruleOf(gate.check(sell(1), { ...CTX, position: 2 })), null);
    assert.equal(ruleOf(gate.check(buy(1), { ...CTX, position: 2 })), 'kill-switch');
  });

  it('price collar: exactly N ticks from the last trade passes, N + 1 is refused, on both sides', () => {
    const gate = new RiskGate({ limits: OPEN, collarTicks: 8, tickSize: 0.25, maxOrdersPerMinute: 0 });
    assert.equal(ruleOf(gate.check(buy(1, { price: 6002 }), CTX)), null);
    assert.equal(ruleOf(gate.check(buy(1, { price: 5998 }), CTX)), null);
    assert.equal(ruleOf(gate.check(buy(1, { price: 6002.25 }), CTX)), 'price-collar');
    assert.equal(ruleOf(gate.check(buy(1, { price: 5997.75 }), CTX)), 'price-collar');
    assert.equal(ruleOf(gate.check(buy(1, { type: 'stop', price: undefined, stopPrice: 6002.25 }), CTX)), 'price-collar');
  });

  it('price collar: refuses a priced order when no last trade is known, lets market orders through, and 0 turns it off', () => {
    const gate = new RiskGate({ limits: OPEN, collarTicks: 8, tickSize: 0.25, maxOrdersPerMinute: 0 });
    const verdict = gate.check(buy(1), { ...CTX, lastTrade: null });
    assert.equal(ruleOf(verdict), 'price-collar');
    assert.match((verdict as { reason: string }).reason, /no last trade price/);
    assert.equal(ruleOf(gate.check(buy(1, { type: 'market', price: undefined }), { ...CTX, lastTrade: null })), null);
    const off = new RiskGate({ limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 });
    assert.equal(ruleOf(off.check(buy(1, { price: 7000 }), CTX)), null);
  });

  it('orders per minute: N pass, the next is refused, and one passes again once the oldest is a minute old', () => {
    const gate = new RiskGate({ limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 3 });
    for (let i = 0; i < 3; i++) assert.equal(ruleOf(gate.check(buy(1), { ...CTX, now: T0 + i * 1000 })), null);
    assert.equal(ruleOf(gate.check(buy(1), { ...CTX, now: T0 + 59_999 })), 'max-orders-per-minute');
    assert.equal(ruleOf(gate.check(buy(1), { ...CTX, now: T0 + 60_000 })), null);
  });

  it('daily loss: at the limit (broker P&L) no new position opens, but an order that reduces still passes', () => {
    const gate = new RiskGate({ limits: { ...OPEN, dailyLossLimit: 500 }, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 });
    gate.guard.syncBroker({ now: T0, realizedPnl: -400, unrealizedPnl: -99.99 });
    assert.equal(ruleOf(gate.check(buy(1), CTX)), null);
    gate.guard.syncBroker({ now: T0, realizedPnl: -400, unrealizedPnl: -100 });
    assert.equal(ruleOf(gate.check(buy(1), CTX)), 'daily-loss');
    assert.equal(ruleOf(gate.check(sell(1), { ...CTX, position: 1 })), null);
  });

  it('consecutive losses: the next position after the last allowed loss is refused', () => {
    const gate = new RiskGate({ limits: { ...OPEN, maxConsecutiveLosses: 2 }, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 });
    gate.guard.recordTradeClosed(-50, T0);
    assert.equal(ruleOf(gate.check(buy(1), CTX)), null);
    gate.guard.recordTradeClosed(-50, T0);
    assert.equal(ruleOf(gate.check(buy(1), CTX)), 'consecutive-losses');
  });

  it('checks a modify that enlarges an order like new exposure: order size and position', () => {
    const gate = new RiskGate({ limits: { ...OPEN, maxOrderSize: 2, maxPosition: 3 }, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 });
    const modify = (quantity: number): RiskIntent => ({ action: 'modify', clientOrderId: 'a', symbol: 'ES', side: 'buy', quantity });
    assert.equal(ruleOf(gate.check(modify(2), { ...CTX, workingQuantity: 1, orderQuantity: 1 })), null);
    assert.equal(ruleOf(gate.check(modify(3), { ...CTX, workingQuantity: 1, orderQuantity: 1 })), 'max-order-size');
    assert.equal(ruleOf(gate.check(modify(2), { ...CTX, position: 2, workingQuantity: 1, orderQuantity: 1 })), 'max-position');
    assert.equal(ruleOf(gate.check(modify(1), { ...CTX, position: 3, workingQuantity: 2, orderQuantity: 2 })), null, 'shrinking is always allowed');
  });

  it('refuses settings that are not whole numbers ≥ 0', () => {
    assert.throws(() => new RiskGate({ limits: OPEN, collarTicks: -1, tickSize: 0.25, maxOrdersPerMinute: 0 }), /price collar/);
    assert.throws(() => new RiskGate({ limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 1.5 }), /orders per minute/);
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
