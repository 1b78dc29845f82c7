// A whole flow on the simulator: ibkr-config (simulator) → ibkr-quote (stream ES) → helper. For a simulated trading
// minute, every trade the simulated market made after the stream's first volume reaches the flow as ticks, in
// order, with no volume lost or invented: IBKR folds trades into ~250 ms updates, so a tick stands for the trades
// since the previous update (its size is their total, its price the last of them).
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Quote, Tick } from '../../lib/contracts';
import type { MarketTrade } from '../../lib/sim/market-types';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import quoteModule = require('../../nodes/ibkr-quote/ibkr-quote');

helper.init(require.resolve('node-red'));

type Flow = Parameters<typeof helper.load>[1];

type TestNode = { on(event: 'input', cb: (msg: { topic?: string; payload: unknown }) => void): void };
const at = { x: 0, y: 0 };
const SPEED = 10;
const SIMULATED_MINUTE_MS = 60_000;

describe('flow: ES streamed from the IBKR simulator', function () {
  this.timeout(30_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('delivers every trade of a simulated minute as ticks, in order, volume for volume', async () => {
    await helper.load(
      [configModule, quoteModule],
      [
        { id: 'tab', type: 'tab' },
        { id: 'cfg', type: 'ibkr-config', z: 'tab', mode: 'simulator', simSeed: 9, simSpeed: SPEED, simTls: true },
        { id: 'q', z: 'tab', type: 'ibkr-quote', connection: 'cfg', symbol: 'ES', secType: 'FUT', mode: 'stream', wires: [['quotes'], ['ticks']], ...at },
        { id: 'quotes', z: 'tab', type: 'helper', ...at },
        { id: 'ticks', z: 'tab', type: 'helper', ...at },
      ] as Flow,
    );
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await cfg.connection();
    const sim = cfg.simulator() as IbkrSimulator;
    const trades: MarketTrade[] = [];
    const onTrade = (t: MarketTrade): void => void trades.push(t);
    sim.market.on('trade', onTrade);
    // The session volume and the time it is counted at, from one reading (trades up to startT are in it).
    const { volume: startVolume, t: startT } = sim.market.esQuote();

    // Each tick follows the quote of the same stream update: that quote's volume is the volume after the tick.
    let lastQuote: Quote | undefined;
    const ticks: Array<{ tick: Tick; volumeAfter: number }> = [];
    (helper.getNode('quotes') as unknown as TestNode).on('input', (m) => {
      if (m.topic === 'quote') lastQuote = m.payload as Quote;
    });
    (helper.getNode('ticks') as unknown as TestNode).on('input', (m) => {
      ticks.push({ tick: m.payload as Tick, volumeAfter: lastQuote?.volume ?? Number.NaN });
    });
    await new Promise((resolve) => setTimeout(resolve, SIMULATED_MINUTE_MS / SPEED + 500));
    const stopT = sim.market.now();
    const observed = ticks.filter((t) => t.volumeAfter - t.tick.size >= startVolume);
    // The stream reads the market's volume as of its clock; let the market publish the trades up to then (bounded).
    const lastStreamed = observed.at(-1)?.volumeAfter ?? startVolume;
    const published = (): number => startVolume + trades.filter((t) => t.t > startT).reduce((sum, t) => sum + t.size, 0);
    for (let waited = 0; published() < lastStreamed && waited < 5000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    sim.market.off('trade', onTrade);
    assert.ok(stopT - startT >= SIMULATED_MINUTE_MS, 'a whole simulated minute went by');
    assert.ok(observed.length >= 10, `ticks seen: ${observed.length}`);

    // The session volume after each market trade; trades up to startT are already in startVolume.
    const after = trades.filter((t) => t.t > startT);
    const priceAtVolume = new Map<number, number>();
    let volume = startVolume;
    for (const t of after) {
      volume += t.size;
      priceAtVolume.set(volume, t.price);
    }
    for (let i = 0; i < observed.length; i += 1) {
      const { tick, volumeAfter } = observed[i]!;
      assert.equal(priceAtVolume.get(volumeAfter), tick.price, `tick ${i} ends on a market trade, at that volume and price (volume ${volumeAfter}, size ${tick.size}, t ${tick.t}, start ${startVolume} at ${startT}, first trade ${JSON.stringify(after[0])}, trades ${after.length})`);
      if (i > 0) {
        assert.equal(volumeAfter - tick.size, observed[i - 1]!.volumeAfter, `no trade lost or doubled before tick ${i}`);
        assert.ok(tick.t >= observed[i - 1]!.tick.t, 'in time order');
      }
      assert.ok(tick.bid !== undefined && tick.ask !== undefined && tick.bid <= tick.ask);
    }
    // Nothing stalls: the ticks reach the trades of the minute's last few simulated seconds (updates every 250 ms).
    const dueVolume = startVolume + after.filter((t) => t.t <= stopT - 5_000).reduce((sum, t) => sum + t.size, 0);
    assert.ok(observed.at(-1)!.volumeAfter >= dueVolume, `streamed up to volume ${observed.at(-1)!.volumeAfter}, market at ${dueVolume}`);
  });
});
