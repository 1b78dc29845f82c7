// In simulator mode the connection takes the collar's last trade from the simulated market's own trades. The market
// emits them in bursts (every trade since its last pump, in one synchronous loop); the connection records the newest
// of each burst once, before anything else can run.
import assert from 'assert';
import type { MarketTrade } from '../../../lib/sim/market-types';
import { SierraConnection } from '../../../lib/sierra/connection';
import { acquireEngine } from '../../../lib/trading/accounts';
const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 5, maxPosition: 5 };

describe('simulated market → last trade', function () {
  this.timeout(15_000);
  let connection: SierraConnection | undefined;
  afterEach(async () => {
    await connection?.close();
    connection = undefined;
  });

  it("holds the newest trade of each burst as soon as the burst's turn ends", async () => {
    // 600× real time: a few trades every 20-ms pump.
    const risk = { limits: OPEN, collarTicks: 40, tickSize: 0.25, maxOrdersPerMinute: 0 };
    const c = (connection = new SierraConnection({ client: { tradeAccount: 'Sim1' }, symbol: 'ESZ25_FUT_CME', risk, simulator: { seed: 5, speed: 600 }, holder: 'sim-last-trade' }));
    await c.whenReady(10_000);
    // The account's engine (what the price collar reads), as another holder of the same account sees it.
    const reader = acquireEngine({ broker: 'sierra', account: 'Sim1@simulator-sim-last-trade', holder: 'reader', limits: { ...OPEN, collarTicks: 40, maxOrdersPerMinute: 0 } });
    const market = c.simulator!.market;
    const checks: { expected: number; seen: number | null; age: number | null }[] = [];
    let burst: MarketTrade[] = [];
    const onTrade = (trade: MarketTrade): void => {
      if (burst.length === 0) {
        // Runs after the market's pump and the microtasks it queued, before any timer or I/O.
        setImmediate(() => {
          checks.push({ expected: burst[burst.length - 1]!.price, seen: reader.engine.lastTradeOf('ESZ25_FUT_CME', c.now()), age: c.marketDataAgeMs() });
          burst = [];
        });
      }
      burst.push(trade);
    };
    market.on('trade', onTrade);
    try {
      while (checks.length < 20) await new Promise((r) => setTimeout(r, 20));
    } finally {
      market.off('trade', onTrade);
      reader.release();
    }
    for (const { expected, seen, age } of checks) {
      assert.strictEqual(seen, expected);
      assert.ok(age !== null && age >= 0 && age < 600 * 500, `market data age ${age} ms of market time (600× real time)`);
    }
    assert.ok(new Set(checks.map((x) => x.expected)).size > 1, 'the price moved across the bursts');
  });
});
