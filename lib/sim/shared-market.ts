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
import { createMarket, type SimMarket as SeededMarket } from './market';

interface Entry {
  market: SeededMarket;
  users: number;
  tap: EventEmitter;
}

const markets = new Map<string, Entry>();

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
  const key = keyOf(seed, speed);
  let entry = markets.get(key);
  if (!entry) {
    entry = { market: createMarket({ seed, speed }), users: 0, tap: new EventEmitter() };
    markets.set(key, entry);
    entry.market.start();
  }
  entry.users++;
  const e = entry;
  let released = false;
  return {
    market: e.market,
    tap: e.tap,
    release: () => {
      if (released) return;
      released = true;
      e.users--;
      if (e.users === 0) {
        e.market.stop();
        e.tap.removeAllListeners();
        if (markets.get(key) === e) markets.delete(key);
      }
    },
  };
}

/** The running seeded market of `seed` at `speed`, if any. */
export function runningSimMarket(seed = 1, speed = 1): SeededMarket | undefined {
  return markets.get(keyOf(seed, speed))?.market;
}
