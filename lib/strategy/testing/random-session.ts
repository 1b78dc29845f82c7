// A seeded generator of 1-minute ES bars for tests, replays and benchmarks of the strategy: regimes of trend up,
// trend down and tight consolidation (so bases form and break), prices on the tick grid, whole volumes and deltas.
// Same seed → same bars. Not a market model: the shared simulator (lib/sim) is that.
import { rng } from '../../sim/prng';
import type { BarInput } from '../bar-window';

export interface RandomSessionOptions {
  seed: number;
  bars: number;
  /** Open time of the first bar (epoch ms). */
  start: number;
  barMs?: number;
  startPrice?: number;
  tickSize?: number;
  /** Add delta and buy/sell volume to each bar (default true). */
  orderFlow?: boolean;
}

type Regime = 'up' | 'down' | 'range';

export function randomSession(options: RandomSessionOptions): BarInput[] {
  const random = rng(options.seed).next;
  const tick = options.tickSize ?? 0.25;
  const barMs = options.barMs ?? 60_000;
  const orderFlow = options.orderFlow ?? true;
  const normal = (): number => {
    const u = Math.max(random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  };
  const bars: BarInput[] = [];
  let priceTicks = Math.round((options.startPrice ?? 5000) / tick);
  let regime: Regime = 'range';
  let regimeLeft = 0;
  let center = priceTicks;
  for (let k = 0; k < options.bars; k++) {
    if (regimeLeft-- <= 0) {
      const r = random();
      regime = r < 0.35 ? 'up' : r < 0.7 ? 'down' : 'range';
      regimeLeft = 12 + Math.floor(random() * 30);
      center = priceTicks;
    }
    const o = priceTicks + (random() < 0.15 ? (random() < 0.5 ? -1 : 1) : 0);
    const drift = regime === 'up' ? 2.5 : regime === 'down' ? -2.5 : (center - o) * 0.5;
    const spread = regime === 'range' ? 1.2 : 3;
    const move = Math.round(drift + spread * normal());
    const c = o + move;
    const wickScale = regime === 'range' ? 1 : 3;
    const h = Math.max(o, c) + Math.floor(random() * wickScale + 0.3);
    const l = Math.min(o, c) - Math.floor(random() * wickScale + 0.3);
    const v = 300 + Math.floor(random() * 900) + Math.abs(move) * 60;
    const bar: BarInput = { t: options.start + k * barMs, o: o * tick, h: h * tick, l: l * tick, c: c * tick, v };
    if (orderFlow) {
      const buyShare = Math.min(0.95, Math.max(0.05, 0.5 + 0.06 * Math.sign(move) * Math.min(Math.abs(move), 5) + 0.08 * normal()));
      const buyVolume = Math.round(v * buyShare);
      bar.buyVolume = buyVolume;
      bar.sellVolume = v - buyVolume;
      bar.delta = 2 * buyVolume - v;
    }
    bars.push(bar);
    priceTicks = c;
  }
  return bars;
}

/**
 * The market mirrored around `pivot`: prices p → 2·pivot − p (high and low swap), deltas negated, buy and sell
 * volume swapped. Battle Navale's score must negate on it.
 */
export function mirrorBar(bar: BarInput, pivot: number): BarInput {
  const out: BarInput = { t: bar.t, o: 2 * pivot - bar.o, h: 2 * pivot - bar.l, l: 2 * pivot - bar.h, c: 2 * pivot - bar.c, v: bar.v };
  if (bar.delta !== undefined) out.delta = -bar.delta;
  if (bar.buyVolume !== undefined) out.sellVolume = bar.buyVolume;
  if (bar.sellVolume !== undefined) out.buyVolume = bar.sellVolume;
  if (bar.cumDelta !== undefined) out.cumDelta = -bar.cumDelta;
  return out;
}
