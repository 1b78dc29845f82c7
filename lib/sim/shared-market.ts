// One seeded market per (seed, speed) in the process, shared by the IBKR simulator (ibkr-config, simulator mode) and
// the DTC simulator (sierra-config, simulator mode): the shipped flow's two simulators (same seed, same speed) are
// then ONE market with ONE clock, so an order fills on the very prices the flow and the dashboard show, at the market
// time the flow sees. Before, each created its own market: same prices by seed, but each clock ran from its own start,
// so a signal's order filled on another moment of the day. Reference-counted like the replay registry
// (lib/replay/registry.ts): the first user creates and starts it, the last release stops it.
//
// The entry also carries what the DTC simulator's side of a live simulator run tells a recorder of the same market
// (lib/replay/order-path.ts): 'sierra' events, (topic, payload, t) as the recording format documents them.
import { EventEmitter } from 'events';
import { LeaseRegistry } from '../leases';
import { createMarket, type SimMarket as SeededMarket } from './market';

interface Shared {
  market: SeededMarket;
  tap: EventEmitter;
}

const markets = new LeaseRegistry<Shared>((shared) => {
  shared.market.stop();
  shared.tap.removeAllListeners();
});

export interface SimMarketLease {
  market: SeededMarket;
  /**
   * The market's record tap: the DTC simulator's side emits 'record' (topic, payload, t) on it, an IBKR recorder on the
   * same market listens (lib/ibkr/link.ts). Nothing listens unless a recorder runs.
   */
  tap: EventEmitter;
  release(): void;
}

function keyOf(seed: number, speed: number): string {
  return `${seed >>> 0}|${speed}`;
}

/** The seeded market of `seed` at `speed`: the running one if any, or a new one, started. */
export function acquireSimMarket(options: { seed?: number; speed?: number }): SimMarketLease {
  const seed = options.seed ?? 1;
  const speed = options.speed ?? 1;
  const lease = markets.acquire(keyOf(seed, speed), () => {
    const market = createMarket({ seed, speed });
    market.start();
    return { market, tap: new EventEmitter() };
  });
  return { market: lease.value.market, tap: lease.value.tap, release: lease.release };
}

/** The running seeded market of `seed` at `speed`, if any. */
export function runningSimMarket(seed = 1, speed = 1): SeededMarket | undefined {
  return markets.get(keyOf(seed, speed))?.market;
}
