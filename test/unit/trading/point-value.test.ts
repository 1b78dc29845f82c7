// Point value and tick size come from the contract traded (lib/trading/instruments.ts), not from an ES default.
import { strict as assert } from 'assert';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';
import { tickFor } from '../../../lib/ibkr/order-intent';
import type { EntryIntent } from '../../../lib/trading/order-intent';
import type { OrderRequest as IbkrOrderRequest } from '../../../lib/ibkr/types';
import { DtcClient } from '../../../lib/sierra/client';
import { startDtcSimulator } from '../../../lib/sim/dtc';
import { createMarket } from '../../../lib/sim/market';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { MemoryJournal } from '../../../lib/trading/journal';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import type { RiskLimits } from '../../../lib/trading/risk-rules';

/** An IBKR account's risk engine with these limits (what ibkr-order gets from lib/trading/accounts.ts). */
function ibkrEngine(limits: Partial<RiskLimits>): RiskEngine {
  const e = new RiskEngine({ broker: 'ibkr', account: 'DU1', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('node', limits);
  return e;
}


const marketOrder = (side: 'buy' | 'sell'): EntryIntent => ({ kind: 'entry', side, quantity: 1, type: 'market', tif: 'day', whatIf: false, origin: 'order' });

const NOW = Date.UTC(2026, 2, 10, 15);

function client(symbol: string): { client: DeskClient; placed: IbkrOrderRequest[] } {
  const placed: IbkrOrderRequest[] = [];
  let id = 500;
  const fake = {
    tradingEnabled: true,
    placeOrders: async (orders: IbkrOrderRequest[]) => {
      placed.push(...orders);
      return orders.map((o) => ({ orderId: id++, status: 'Submitted', clientOrderId: o.clientOrderId ?? null }));
    },
    positions: async () => [],
    liveOrders: async () => [],
    contractInfo: async (conid: number) => ({ conid, symbol, secType: 'FUT', tradingClass: symbol, localSymbol: `${symbol}H6`, underlyingConid: null, multiplier: null, maturityDate: '20260320', exchange: 'CME', currency: 'USD' }),
  };
  return { client: fake as unknown as DeskClient, placed };
}

async function roundTrip(symbol: string, entry: number, exit: number): Promise<number> {
  const { client: c, placed } = client(symbol);
  const engine = ibkrEngine({ tradingHoursEnabled: false, cooldownMin: 0 });
  const desk = new IbkrOrderDesk({ client: c, engine, questions: { accepted: [], acceptAll: false }, contract: { conid: 730283085 }, now: () => NOW });
  const fill = (side: 'BUY' | 'SELL', orderId: number, price: number) =>
    desk.onStream([{ orderId, order_ref: placed.at(-1)?.clientOrderId, status: 'Filled', side, totalSize: '1', filledQuantity: '1', avgPrice: String(price), lastExecutionTime_r: NOW }]);
  assert.equal((await desk.execute(marketOrder('buy'))).error, undefined);
  fill('BUY', 500, entry);
  assert.equal((await desk.execute(marketOrder('sell'))).error, undefined);
  fill('SELL', 501, exit);
  return engine.riskState(NOW).realizedPnl;
}

describe('point value and tick size by instrument', () => {
  it('counts an MES round trip at $5 a point on IBKR (ten times less than ES)', async () => {
    assert.equal(await roundTrip('MES', 5000, 5010), 50);
    assert.equal(await roundTrip('ES', 5000, 5010), 500);
    assert.equal(await roundTrip('MNQ', 20000, 19990), -20);
  });

  it('checks the tick grid of every registry instrument', () => {
    assert.equal(tickFor('ES'), 0.25);
    assert.equal(tickFor('MES'), 0.25);
    assert.equal(tickFor('NQ'), 0.25);
    assert.equal(tickFor('CL'), null, 'outside the registry the grid is left to IBKR');
  });
});

describe('the DTC simulator describes the contract it trades from the registry', function () {
  this.timeout(15_000);
  it('answers MES with a $1.25 tick and a $5 contract', async () => {
    const market = createMarket({ seed: 2, speed: 0.001, startTime: Date.UTC(2026, 2, 10, 15) });
    const sim = await startDtcSimulator({ market, symbol: 'MESH26_FUT_CME' });
    const c = new DtcClient({ port: sim.port, heartbeatSec: 5, reconnect: { enabled: false } });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const mes = await c.securityDefinition('MESH26_FUT_CME');
      assert.equal(mes.minPriceIncrement, 0.25);
      assert.equal(mes.currencyValuePerIncrement, 1.25);
      assert.equal(mes.raw.ContractSize, 5);
      assert.match(mes.description, /Micro E-mini S&P 500/);
    } finally {
      await c.close('test');
      await sim.close();
    }
  });
});
