// mia-vwap-delta → mia-battle-navale, as the shipped pipeline wires them (VWAP sent on every closed bar, both outputs
// into Battle Navale): the same market gives the same evaluations, bar for bar, whether the ticks arrive one message
// each or in batches that close several bars at once. Each bar must be evaluated with the VWAP of its own close.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { SignalPayload, Tick } from '../../lib/contracts';
import { createMarket } from '../../lib/sim/market';
import vwapModule = require('../../nodes/mia-vwap-delta/mia-vwap-delta');
import battleModule = require('../../nodes/mia-battle-navale/mia-battle-navale');

helper.init(require.resolve('node-red'));

type Flow = Parameters<typeof helper.load>[1];
type TestNode = { on(event: 'input', cb: (msg: { topic?: string; payload: unknown }) => void): void; receive(msg: object): void };
const at = { x: 0, y: 0 };

// Wednesday 11 June 2025: 40 minutes of the seeded market's ES trades from the 09:30 New York open, every 40th.
const OPEN = Date.UTC(2025, 5, 11, 13, 30);
function marketTicks(): Tick[] {
  const market = createMarket({ seed: 7, startTime: OPEN + 3_600_000, speed: 0 }) as unknown as {
    tradesBetween(from: number, to: number): { t: number; price: number; size: number; side: 'buy' | 'sell'; bid: number; ask: number }[];
  };
  return market
    .tradesBetween(OPEN, OPEN + 40 * 60_000)
    .filter((_, k) => k % 40 === 0)
    .map((x) => ({ symbol: 'ES', t: x.t, price: x.price, size: x.size, side: x.side, bid: x.bid, ask: x.ask }));
}

async function evaluations(messages: object[]): Promise<SignalPayload[]> {
  await helper.load([vwapModule, battleModule], [
    { id: 'tab', type: 'tab' },
    { id: 'vwap', z: 'tab', type: 'mia-vwap-delta', anchor: 'rth', timeframe: '1min', emit: 'bar', wires: [['bn'], ['bn']], ...at },
    { id: 'bn', z: 'tab', type: 'mia-battle-navale', cooldownMin: 0, tradingHoursEnabled: false, wires: [[], ['evals']], ...at },
    { id: 'evals', z: 'tab', type: 'helper', ...at },
  ] as Flow);
  const got: SignalPayload[] = [];
  (helper.getNode('evals') as unknown as TestNode).on('input', (m) => got.push(m.payload as SignalPayload));
  const vwap = helper.getNode('vwap') as unknown as TestNode;
  for (const m of messages) vwap.receive(m);
  await new Promise((r) => setTimeout(r, 300));
  await helper.unload();
  return got;
}

describe('flow: Battle Navale gives the same signals for per-tick and batched input', function () {
  this.timeout(60_000);
  beforeEach(() => helper.startServer());
  afterEach(() => helper.stopServer());

  it('evaluates every bar with the VWAP of its own close, one tick per message or 500 per message', async () => {
    const ticks = marketTicks();
    const perTick = await evaluations(ticks.map((t) => ({ topic: 'tick', payload: t })));
    const batches: object[] = [];
    for (let i = 0; i < ticks.length; i += 500) batches.push({ topic: 'tick', payload: ticks.slice(i, i + 500) });
    const batched = await evaluations(batches);
    assert.ok(ticks.length > 1000 && batches.length >= 4, `${ticks.length} ticks`);
    assert.ok(perTick.length >= 35, `only ${perTick.length} bars evaluated`);
    assert.ok(perTick.some((p) => p.components.vwap !== 0), 'the VWAP context reached Battle Navale');
    assert.deepEqual(batched, perTick);
  });
});
