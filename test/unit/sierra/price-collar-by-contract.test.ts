// The price collar compares an order's price with the last trade of the same contract only: a quote of MES, of
// the next quarter or of NQ is never the reference for an ES order.
import { strict as assert } from 'assert';
import { CHICAGO, zonedTime } from '../../../lib/clock';
import { resolveContract } from '../../../lib/ibkr/contract-resolver';
import { SierraConnection } from '../../../lib/sierra/connection';
import { contractKey } from '../../../lib/trading/instrument-of';
import { readMarketData } from '../../../lib/strategy/stale-data';
import { startDtcSimulator, type DtcSimulator } from '../../../lib/sim/dtc';
import { createMarket } from '../../../lib/sim/market';

const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 };
const chicago = (y: number, m: number, d: number, h = 12): number => zonedTime(CHICAGO, y, m, d, h, 0);

describe('price collar keyed by contract', function () {
  this.timeout(15_000);
  let sim: DtcSimulator | undefined;
  let connection: SierraConnection | undefined;
  afterEach(async () => {
    await connection?.close();
    await sim?.close();
    connection = undefined;
    sim = undefined;
  });

  it('names one contract by every spelling, and a bare root by the front month of the instant', () => {
    const t = chicago(2026, 12, 9);
    for (const s of ['ESZ26_FUT_CME', 'ESZ26-CME', 'F.US.EPZ26', 'ESZ26', 'ES']) assert.equal(contractKey(s, t), 'ESZ26', s);
    assert.equal(contractKey('ES', chicago(2026, 12, 10)), 'ESH27', 'from the roll date on, "ES" is the next contract');
    assert.equal(contractKey('MES', t), 'MESZ26');
    assert.equal(contractKey('XYZ', t), 'XYZ');
  });

  it('keeps the last trade of each contract apart', () => {
    let t = chicago(2026, 12, 9);
    const c = (connection = new SierraConnection({
      client: { tradeAccount: 'Sim1' },
      symbol: { root: 'ES', format: 'sierra-cme' },
      risk: { limits: OPEN, collarTicks: 8, tickSize: 0.25, maxOrdersPerMinute: 0 },
      clock: () => t,
    }));
    c.setLastTrade(6000, 'ESZ26_FUT_CME');
    c.setLastTrade(6080, 'F.US.EPH27');
    c.setLastTrade(21000, 'NQZ26_FUT_CME');
    assert.equal(c.lastTrade('ESZ26_FUT_CME'), 6000);
    assert.equal(c.lastTrade('ESH27_FUT_CME'), 6080);
    assert.equal(c.lastTrade('MESZ26_FUT_CME'), null, 'no MES price was seen');
    assert.equal(c.lastTrade(), 6000, "the connection's own contract now");
    c.setLastTrade(6001, 'ES', t); // IBKR's quote of "ES": the front month at its time
    assert.equal(c.lastTrade('ESZ26_FUT_CME'), 6001);
    t = chicago(2026, 12, 10);
    assert.equal(c.lastTrade(), 6080, 'after the roll the collar prices against ESH27');
  });

  it("reads the month of ibkr-quote's price from its contract field, so an old-contract quote after the roll is not the new one's", async () => {
    const t = chicago(2026, 6, 10, 0); // the roll date: ESU26 is the front month
    const input = readMarketData('quote', { symbol: 'ES', contract: 'ESM26', conid: 1, t, last: 7000, bid: null, ask: null });
    assert.deepEqual(input, { t, from: t, price: 7000, contract: 'ESM26' });
    const c = (connection = new SierraConnection({
      client: { tradeAccount: 'Sim1' },
      symbol: { root: 'ES', format: 'sierra-cme' },
      risk: { limits: OPEN, collarTicks: 8, tickSize: 0.25, maxOrdersPerMinute: 0 },
      clock: () => t,
    }));
    c.setLastTrade(input.price as number, input.contract, input.t);
    assert.equal(c.lastTrade(), null, 'ESU26 has no price yet');
    assert.equal(c.lastTrade('ESM26_FUT_CME'), 7000);
    // What ibkr-quote sends for the front month names it.
    const resolved = await resolveContract(
      { futures: async () => ({ ES: [{ symbol: 'ES', conid: 9, underlyingConid: null, expirationDate: '20260918', lastTradingDate: null }] }), secdefSearch: async () => [], contractInfo: async () => { throw new Error('unused'); } },
      { symbol: 'ES', secType: 'FUT' },
      t,
    );
    assert.equal(resolved.contract, 'ESU26');
  });

  it('refuses a limit order priced off another contract, and accepts it once its own contract traded', async () => {
    const t = chicago(2026, 12, 9, 10);
    const market = createMarket({ seed: 5, speed: 0.001, startTime: t });
    sim = await startDtcSimulator({ market, symbol: 'ESZ26_FUT_CME' });
    const c = (connection = new SierraConnection({
      client: { port: sim.port, tradeAccount: 'Sim1', heartbeatSec: 5, tradingEnabled: true },
      symbol: 'ESZ26_FUT_CME',
      risk: { limits: OPEN, collarTicks: 8, tickSize: 0.25, maxOrdersPerMinute: 0 },
      clock: () => t,
    }));
    await c.whenReady(10_000);
    c.setLastTrade(6000, 'MESZ26_FUT_CME');
    c.setLastTrade(6000, 'ESH27_FUT_CME');
    await assert.rejects(c.submit({ symbol: 'ESZ26_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: 6000 }), /price-collar.*no last trade price/);
    assert.equal(sim.orders().length, 0);
    c.setLastTrade(5990, 'ESZ26_FUT_CME');
    await assert.rejects(c.submit({ symbol: 'ESZ26_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: 6000 }), /40 ticks from the last trade 5990/);
    await c.submit({ symbol: 'ESZ26_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: 5991 });
    assert.equal(sim.orders().length, 1);
  });
});
