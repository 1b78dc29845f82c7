// What the seeded market offers the two simulators (IBKR Web API and Sierra Chart DTC), so both quote, stream and
// fill against the same prices. Same seed → same data. Time is simulated: `now()` advances at `speed` × real time.
import type { EventEmitter } from 'events';

export interface MarketTrade {
  t: number; // simulated epoch ms
  price: number; // ES, on the 0.25 grid
  size: number;
  side: 'buy' | 'sell'; // aggressor
  bid: number; // touch just before the trade
  ask: number;
}

export interface MarketQuote {
  t: number;
  last: number;
  bid: number;
  ask: number;
  bidSize: number;
  askSize: number;
  volume: number; // session volume so far
}

export interface MarketBar {
  t: number; // bar open, epoch ms
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

export interface MarketOption {
  expiry: string; // YYYYMMDD
  settlement: 'AM' | 'PM';
  tradingClass: 'SPX' | 'SPXW';
  strike: number;
  right: 'C' | 'P';
  bid: number;
  ask: number;
  last: number;
  iv: number; // fraction
  delta: number;
  gamma: number;
  openInterest: number;
  volume: number;
}

/**
 * The seeded market. Emits 'trade' (MarketTrade) for every ES trade while running, in time order.
 * Implemented by lib/sim/market.ts.
 */
export interface ListedOption {
  expiry: string;
  tradingClass: 'SPX' | 'SPXW';
  strike: number;
}

export interface Market extends EventEmitter {
  readonly seed: number;
  /** Simulated time now (epoch ms). */
  now(): number;
  /** ES quote at simulated time now. */
  esQuote(): MarketQuote;
  /** SPX index level now (ES minus the fair-value basis). */
  spxSpot(): number;
  /** ES bars of `barMs` covering [from, to), from the same path the trades follow. */
  esBars(from: number, to: number, barMs: number): MarketBar[];
  /** The SPX option chain now for the listed expiries (strikes every 5 points). */
  spxChain(expiries?: string[]): MarketOption[];
  /** The SPX contracts listed for the given expiries, without pricing them (strikes every 5 points). */
  spxListing(expiries: string[]): ListedOption[];
  /** Listed SPX/SPXW expiries from now on (YYYYMMDD). */
  spxExpiries(): { expiry: string; tradingClass: 'SPX' | 'SPXW' }[];
  /** ES quarterly futures not yet expired: [{ month code, expiry YYYYMMDD }]. */
  esContracts(): { localSymbol: string; expiry: string; conid: number }[];
  start(): void;
  stop(): void;
  /**
   * Stands the clock still until the returned release is called (lib/sim/market.ts): what a simulated order's way
   * through the DTC socket takes, it takes in no market time.
   */
  hold(): () => void;
}
