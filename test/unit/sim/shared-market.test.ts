// One seeded market per (seed, speed) in a Node-RED: ibkr-config's simulator and sierra-config's simulator of the
// shipped flow (same seed, same speed) quote and fill on ONE market with ONE clock (lib/sim/shared-market.ts). Before,
// each created its own: the same prices by seed, but two clocks each running from its own start, so a live simulator
// run's orders filled on another moment of the day than the one the flow and the dashboard showed.
import { strict as assert } from 'assert';
import { acquireSimMarket, runningSimMarket } from '../../../lib/sim/shared-market';
import { IbkrLink } from '../../../lib/ibkr/link';
import { SierraConnection } from '../../../lib/sierra/connection';
import { planConnection } from '../../../nodes/ibkr-config/settings';

const quiet = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const RISK = { limits: {}, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 };

describe('simulators: one seeded market per seed and speed', function () {
  this.timeout(20_000);

  it('gives every user of a seed and speed the same market, another seed or speed another one', () => {
    const a = acquireSimMarket({ seed: 41, speed: 7 });
    const b = acquireSimMarket({ seed: 41, speed: 7 });
    const otherSeed = acquireSimMarket({ seed: 42, speed: 7 });
    const otherSpeed = acquireSimMarket({ seed: 41, speed: 8 });
    try {
      assert.strictEqual(b.market, a.market);
      assert.strictEqual(b.tap, a.tap);
      assert.notStrictEqual(otherSeed.market, a.market);
      assert.notStrictEqual(otherSpeed.market, a.market);
      assert.strictEqual(runningSimMarket(41, 7), a.market);
    } finally {
      for (const lease of [a, b, otherSeed, otherSpeed]) lease.release();
    }
  });

  it('runs it from the first acquire to the last release (a release is idempotent), then a new one', () => {
    const a = acquireSimMarket({ seed: 43, speed: 5 });
    const b = acquireSimMarket({ seed: 43, speed: 5 });
    const market = a.market;
    let stops = 0;
    const stop = market.stop.bind(market);
    market.stop = () => {
      stops++;
      stop();
    };
    let tapped = 0;
    a.tap.on('record', () => tapped++);
    a.release();
    a.release();
    assert.strictEqual(stops, 0, 'still used by b');
    assert.strictEqual(runningSimMarket(43, 5), market);
    b.release();
    assert.strictEqual(stops, 1);
    assert.strictEqual(runningSimMarket(43, 5), undefined);
    b.tap.emit('record', 'x', {}, 0);
    assert.strictEqual(tapped, 0, 'the listeners of a stopped market are dropped');
    const c = acquireSimMarket({ seed: 43, speed: 5 });
    try {
      assert.notStrictEqual(c.market, market);
    } finally {
      c.release();
    }
  });

  it('ibkr-config and sierra-config simulators of one seed and speed are one market, one clock; released on close', async () => {
    const plan = planConnection({ mode: 'simulator', simSeed: 44, simSpeed: 300, simTls: false });
    const link = new IbkrLink(plan, { logger: quiet, tickleIntervalMs: 60_000 });
    const sierra = new SierraConnection({ client: { tradeAccount: 'Sim1' }, symbol: { root: 'ES', format: 'sierra-cme' }, risk: RISK, simulator: { seed: 44, speed: 300 }, holder: 'shared-market-test' });
    const other = new SierraConnection({ client: { tradeAccount: 'Sim1' }, symbol: { root: 'ES', format: 'sierra-cme' }, risk: RISK, simulator: { seed: 45, speed: 300 }, holder: 'shared-market-test-2' });
    try {
      await Promise.all([link.open(), sierra.open(), other.open()]);
      const market = link.simulator?.market;
      assert.ok(market);
      assert.strictEqual(sierra.simulator?.market, market, 'the DTC simulator fills on the market the IBKR simulator quotes');
      assert.notStrictEqual(other.simulator?.market, market, 'another seed is another market');
      await link.close();
      assert.strictEqual(runningSimMarket(44, 300), market, 'still used by sierra-config');
    } finally {
      await link.close();
      await sierra.close();
      await other.close();
    }
    assert.strictEqual(runningSimMarket(44, 300), undefined);
    assert.strictEqual(runningSimMarket(45, 300), undefined);
  });
});
