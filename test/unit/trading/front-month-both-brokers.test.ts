// Both brokers ask the instrument registry: for the same instant IBKR's conid and Sierra's symbol are one contract,
// and a session that crosses the roll date moves both to the next contract together (virtual clock, no waiting).
import { strict as assert } from 'assert';
import { CHICAGO, zonedTime } from '../../../lib/clock';
import { frontMonth as ibkrFrontMonth } from '../../../lib/ibkr/futures';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';
import type { EntryIntent } from '../../../lib/trading/order-intent';
import type { FutureContract, OrderRequest as IbkrOrderRequest } from '../../../lib/ibkr/types';
import { SierraConnection } from '../../../lib/sierra/connection';
import { frontMonthSymbol, parseSymbol } from '../../../lib/sierra/symbols';
import { startDtcSimulator, type DtcSimulator } from '../../../lib/sim/dtc';
import { createMarket } from '../../../lib/sim/market';
import { thirdFriday, yyyymmdd } from '../../../lib/trading/cme-calendar';
import { contractCode, contractDates, QUARTERLY_MONTH_CODES, type FuturesContract } from '../../../lib/trading/instruments';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { MemoryJournal } from '../../../lib/trading/journal';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import type { RiskLimits } from '../../../lib/trading/risk-rules';
import { testTimeLeft } from '../../support/budget';

/** An IBKR account's risk engine with these limits (what ibkr-order gets from lib/trading/accounts.ts). */
function ibkrEngine(limits: Partial<RiskLimits>): RiskEngine {
  const e = new RiskEngine({ broker: 'ibkr', account: 'DU1', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('node', limits);
  return e;
}


const marketOrder = (side: 'buy' | 'sell'): EntryIntent => ({ kind: 'entry', side, quantity: 1, type: 'market', tif: 'day', whatIf: false, origin: 'order' });

const chicago = (y: number, m: number, d: number, h = 12, min = 0): number => zonedTime(CHICAGO, y, m, d, h, min);
const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 3, maxTradesPerDay: 100 };

async function waitFor(check: () => boolean, timeoutMs = testTimeLeft()): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** IBKR's /trsrv/futures for ES, 2024-2031: conid = yyyymm; expiry as IBKR gives it, or the bare third Friday. */
function listing(expiry: (c: FuturesContract) => string): FutureContract[] {
  const out: FutureContract[] = [];
  for (let year = 2024; year <= 2031; year++) {
    for (const monthCode of QUARTERLY_MONTH_CODES) {
      const c = { root: 'ES', monthCode, year };
      const date = expiry(c);
      out.push({ symbol: 'ES', conid: Number(date.slice(0, 6)), underlyingConid: 11004968, expirationDate: date, lastTradingDate: date });
    }
  }
  return out.reverse(); // IBKR does not sort it
}
const REAL = listing((c) => contractDates(c).expiry);
const BARE_THIRD_FRIDAY = listing((c) => yyyymmdd(thirdFriday(c.year, 'FGHJKMNQUVXZ'.indexOf(c.monthCode) + 1)));

const monthOfConid = (conid: number): string => String(conid);
const monthOfSymbol = (symbol: string): string => {
  const c = parseSymbol(symbol);
  return `${c.year}${String('FGHJKMNQUVXZ'.indexOf(c.monthCode) + 1).padStart(2, '0')}`;
};

describe('one front month for both brokers', () => {
  it('IBKR and Sierra trade the same contract at every instant from 2024 to 2030', () => {
    let t = 0;
    const sierra = new SierraConnection({
      client: { tradeAccount: 'Sim1' },
      symbol: { root: 'ES', format: 'sierra-cme' },
      risk: { limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 },
      clock: () => t,
    });
    for (t = chicago(2024, 1, 1, 0, 30); t < chicago(2030, 12, 31); t += 17 * 3600_000) { // 17 h: every day, at hours that drift round the clock
      const sierraMonth = monthOfSymbol(sierra.symbol);
      assert.equal(monthOfConid(ibkrFrontMonth(REAL, t).conid), sierraMonth, new Date(t).toISOString());
      assert.equal(monthOfConid(ibkrFrontMonth(BARE_THIRD_FRIDAY, t).conid), sierraMonth, `${new Date(t).toISOString()} (listing without holidays)`);
    }
  });

  it('rolls both on 2026-06-10, 8 days before the Juneteenth-adjusted expiry (Thursday 2026-06-18)', () => {
    const before = chicago(2026, 6, 9, 23, 59);
    const after = chicago(2026, 6, 10, 0, 1);
    assert.equal(frontMonthSymbol('ES', before, 'sierra-cme'), 'ESM26_FUT_CME');
    assert.equal(frontMonthSymbol('ES', after, 'sierra-cme'), 'ESU26_FUT_CME');
    assert.equal(ibkrFrontMonth(REAL, before).expirationDate, '20260618');
    assert.equal(ibkrFrontMonth(REAL, after).expirationDate, '20260918');
  });

  describe('a session that crosses the roll date', function () {
    this.timeout(20_000);
    let sim: DtcSimulator | undefined;
    let connections: SierraConnection[] = [];
    afterEach(async () => {
      for (const c of connections) await c.close();
      connections = [];
      await sim?.close();
      sim = undefined;
    });

    it('sends the next contract to both brokers from the roll date on, and keeps a typed symbol fixed', async () => {
      let t = chicago(2026, 6, 9, 15, 30); // Tuesday, the last afternoon of ESM26 as the front month
      const market = createMarket({ seed: 5, speed: 0.001, startTime: t });
      // The DTC simulator accepts the front month of the same virtual clock (and any contract already traded).
      sim = await startDtcSimulator({ market, symbol: () => frontMonthSymbol('ES', t, 'sierra-cme') });
      const logged: string[] = [];
      const open = async (symbol: string | { root: string; format: 'sierra-cme' }): Promise<SierraConnection> => {
        const c = new SierraConnection({
          log: (level, text) => logged.push(`${level} ${text}`),
          client: { port: sim!.port, tradeAccount: 'Sim1', heartbeatSec: 5, tradingEnabled: true },
          symbol,
          risk: { limits: OPEN, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 },
          clock: () => t,
        });
        connections.push(c);
        await c.whenReady(10_000);
        return c;
      };
      const front = await open({ root: 'ES', format: 'sierra-cme' });
      const fixed = await open('ESM26_FUT_CME');

      const placed: IbkrOrderRequest[] = [];
      let nextId = 1;
      const client = {
        tradingEnabled: true,
        placeOrders: async (orders: IbkrOrderRequest[]) => {
          placed.push(...orders);
          return orders.map((o) => ({ orderId: nextId++, status: 'Submitted', clientOrderId: o.clientOrderId ?? null }));
        },
        positions: async () => [],
        liveOrders: async () => [],
        futures: async () => ({ ES: REAL }),
        secdefSearch: async () => [],
      } as unknown as DeskClient;
      const desk = new IbkrOrderDesk({ client, engine: ibkrEngine(OPEN), questions: { accepted: [], acceptAll: false }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => t });

      const sendBoth = async (): Promise<void> => {
        await front.submit({ symbol: front.symbol, side: 'buy', quantity: 1, type: 'market' });
        const outcome = await desk.execute(marketOrder('buy'));
        assert.equal(outcome.error, undefined, String(outcome.error));
      };
      await sendBoth();
      t = chicago(2026, 6, 10, 0, 5); // past midnight in Chicago: the roll date
      await sendBoth();
      await fixed.submit({ symbol: fixed.symbol, side: 'buy', quantity: 1, type: 'market' });

      assert.deepEqual(sim.orders().map((o) => o.symbol), ['ESM26_FUT_CME', 'ESU26_FUT_CME', 'ESM26_FUT_CME'], 'Sierra: front month rolled, typed symbol kept');
      assert.deepEqual(placed.map((o) => o.conid), [202606, 202609], 'IBKR: the conid of the same contracts');
      assert.equal(contractCode(parseSymbol(front.symbol)), 'ESU26');
      assert.deepEqual(logged.filter((l) => /rolled/.test(l)), ['info Front month rolled: new orders now go to ESU26_FUT_CME (was ESM26_FUT_CME); positions in ESM26_FUT_CME stay until closed.']);

      // Both contracts are one ES exposure: 2 ESM26 + 1 ESU26 fill the maximum of 3, whatever the month.
      await waitFor(() => front.status().position === 3);
      await assert.rejects(front.submit({ symbol: front.symbol, side: 'buy', quantity: 1, type: 'market' }), /risk rule "max-position"/);
      // Flatten without a symbol closes the rolled-out contract too.
      const done = await front.flatten();
      assert.deepEqual(done.flattened.length, 2);
      await waitFor(() => sim!.positions().every((p) => p.quantity === 0));
    });
  });
});
