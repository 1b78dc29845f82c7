// The message contracts every node reads and writes (ARCHITECTURE.md, "Message contracts").
// Times are epoch milliseconds; prices are numbers, never strings. `msg.topic` names the shape.

export type Topic =
  | 'quote'
  | 'tick'
  | 'bar'
  | 'bars'
  | 'vwap'
  | 'chain'
  | 'gamma'
  | 'vix'
  | 'signal'
  | 'battle-navale'
  | 'order'
  | 'order-update'
  | 'fill'
  | 'position'
  | 'account';

export interface Quote {
  symbol: string;
  /** The futures contract the price is of ('ESM26'), when the registry knows it: 'ES' alone is ambiguous across a roll. */
  contract?: string;
  conid: number;
  t: number;
  last: number | null;
  bid: number | null;
  ask: number | null;
  bidSize: number | null;
  askSize: number | null;
  volume: number | null;
  delayed: boolean;
}

export type Side = 'buy' | 'sell';

export interface Tick {
  symbol: string;
  /** As Quote.contract. */
  contract?: string;
  t: number;
  price: number;
  size: number;
  bid?: number;
  ask?: number;
  side?: Side;
}

export type Timeframe = string; // '1min', '5min', '15min', '1h', '1d', ...

export interface Bar {
  symbol: string;
  t: number; // bar open
  tf: Timeframe;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  delta?: number;
  buyVolume?: number;
  sellVolume?: number;
  approxDelta?: boolean;
  /** In a 'bars' batch from mia-vwap-delta: the session VWAP, σ and cumulative delta at this bar's close. */
  vwap?: number;
  sigma?: number;
  cumDelta?: number;
}

export interface VwapBands {
  upper1: number;
  lower1: number;
  upper2: number;
  lower2: number;
  upper3: number;
  lower3: number;
}

export interface Imbalance {
  price: number;
  side: Side;
  ratio: number;
  stacked: boolean;
}

export interface VwapPayload {
  symbol: string;
  t: number;
  anchor: number; // epoch ms of the anchor the sums started at
  vwap: number;
  sigma: number;
  bands: VwapBands;
  barDelta: number;
  cumDelta: number;
  buyPressure: number;
  imbalances: Imbalance[];
}

export type Right = 'C' | 'P';
export type Settlement = 'AM' | 'PM';

export interface OptionQuote {
  conid: number;
  expiry: string; // YYYYMMDD
  settlement: Settlement;
  tradingClass: string;
  strike: number;
  right: Right;
  bid: number | null;
  ask: number | null;
  last: number | null;
  iv: number | null; // annualised, as a fraction (0.18 = 18 %)
  delta: number | null;
  gamma: number | null;
  openInterest: number | null;
  volume: number | null;
}

/**
 * What part of the listed chain a `chain` message holds, as its producer chose it: the fetcher's scope. Consumers use
 * it to say what was left out and whether the levels may be cut.
 */
export interface ChainScope {
  /** The rule in words, e.g. "all expiries within 62 days, AM monthlies within 12 months, ...". */
  rule: string;
  /** Trading classes asked for (SPX = AM monthlies and quarterlies, SPXW = PM weeklies and dailies). */
  classes: string[];
  /** Expiries taken, 'YYYYMMDD CLASS'. */
  expiries: string[];
  /** Expiries listed (as far as the producer looked) but not taken, 'YYYYMMDD CLASS'. */
  leftOut: string[];
  /** Strikes taken lie within [lo, hi]. */
  strikeBand: { lo: number; hi: number };
  /** Distinct strikes taken, and listed for the expiries looked at. */
  strikes: { taken: number; listed: number };
  /**
   * The scope's share of the whole chain's open interest and of its gamma (Σ Γ·OI), when the producer saw the whole
   * chain (applyScope on a file). A live fetch does not quote what it leaves out, so it cannot say.
   */
  measured?: { openInterest: number; gamma: number };
}

export interface Chain {
  underlying: string;
  spot: number;
  t: number;
  contracts: OptionQuote[];
  /** What the producer left out (absent: the producer did not say; taken for a whole chain). */
  scope?: ChainScope;
}

export interface GammaByStrike {
  strike: number;
  callGex: number;
  putGex: number;
  netGex: number;
}

export interface GammaLevelsEs {
  callWall: number | null;
  putWall: number | null;
  absGammaStrike: number | null;
  flip: number | null;
  basis: number;
  /**
   * observed-basis: a live ES price; parity-forward: the chain's put-call-parity forward for the SPX AM series that
   * settles with the ES front month; fixed-rate: SPX·e^((r − q)·T) with the node's rate and dividend settings (a
   * guess: used only when neither exists); none: the chain is on ES itself.
   */
  method: 'observed-basis' | 'parity-forward' | 'fixed-rate' | 'none';
  /** The ES contract's expiry the mapping carries to ('YYYYMMDD'), when the mapping depends on it. */
  expiry?: string;
  /** The forward (parity-forward) or ES price (observed-basis) the levels were mapped by. */
  reference?: number;
}

export interface GammaPayload {
  underlying: string;
  t: number;
  spot: number;
  unit: 'per-1pct' | 'per-point';
  convention: 'dealer-long-calls' | 'dealer-short-calls';
  totalGex: number;
  callWall: number | null;
  putWall: number | null;
  absGammaStrike: number | null;
  flip: number | null;
  byStrike: GammaByStrike[];
  profile: { spot: number; gex: number }[];
  es: GammaLevelsEs;
  /** What share of the chain the levels stand on, and whether its scope may cut them. */
  coverage?: GammaCoverage;
}

export type GammaCoverageWarningCode = 'no-am-series' | 'no-am-quarterly' | 'narrow-strike-band' | 'wall-at-band-edge' | 'low-coverage';

export interface GammaCoverage {
  /**
   * The share of open interest and of gamma (Σ Γ·OI, the chain's gammas) the levels use. Of the whole listed chain
   * when the chain's scope was measured against it (`of: 'whole-chain'`); else of the chain received (`'chain-received'`):
   * a live fetch does not quote what it leaves out, so its cut shows only in `scope` and `warnings`.
   */
  openInterest: number;
  gamma: number;
  of: 'whole-chain' | 'chain-received';
  /** The chain's scope as its producer reported it (null: not reported). */
  scope: ChainScope | null;
  /** Strikes the levels stand on, lowest and highest with open interest. */
  strikes: { lo: number; hi: number } | null;
  /** Days to the furthest expiry used, and whether AM-settled series (and an AM quarterly) are among them. */
  furthestDays: number | null;
  amSeries: boolean;
  amQuarterly: boolean;
  warnings: { code: GammaCoverageWarningCode; message: string }[];
}

export type SignalKind = 'LONG' | 'SHORT' | 'NO_SIGNAL';

/** The Battle Navale output (battle-navale.md, "Output message"). */
export interface SignalPayload {
  signal: SignalKind;
  score: number;
  confidence: number;
  components: { battle: number; trend: number; base: number; vwap: number; orderflow: number; gamma: number };
  base: { type: 'green' | 'red' | 'neutral'; high: number; low: number; quality: number } | null;
  goldenRule: { state: 'intact' | 'violated' | 'none'; side: 'green' | 'red' | null };
  patterns: { name: string; direction: 'bullish' | 'bearish'; strength: number; t: number }[];
  entry: number | null;
  stop: number | null;
  targets: number[];
  reasons: string[];
  bar: { t: number; o: number; h: number; l: number; c: number; v: number };
  symbol?: string;
}

export type OrderAction = 'buy' | 'sell' | 'cancel' | 'modify' | 'flatten' | 'cancel-all';
export type OrderType = 'market' | 'limit' | 'stop' | 'stop-limit';
export type TimeInForce = 'day' | 'gtc' | 'ioc' | 'fok';

export interface OrderRequest {
  action: OrderAction;
  symbol?: string;
  quantity: number;
  type: OrderType;
  price?: number;
  stopPrice?: number;
  bracket?: { stop: number; targets: number[] };
  tif?: TimeInForce;
  clientOrderId?: string;
}

export type OrderStatus = 'pending' | 'working' | 'partially-filled' | 'filled' | 'cancelled' | 'rejected';

export interface OrderUpdate {
  clientOrderId: string;
  serverOrderId: string | null;
  status: OrderStatus;
  side: Side;
  quantity: number;
  filledQuantity: number;
  averageFillPrice: number | null;
  reason?: string;
  /** IBKR's warning on the order (its `text` / `warning_message`, e.g. code 118), when it sent one. */
  warning?: string;
  t: number;
}

export interface Fill {
  clientOrderId: string;
  serverOrderId: string | null;
  side: Side;
  quantity: number;
  price: number;
  t: number;
}

export interface Position {
  symbol: string;
  quantity: number; // signed: > 0 long, < 0 short
  averagePrice: number | null;
  unrealizedPnl?: number;
  t: number;
}

export interface AccountSnapshot {
  account: string;
  balance: number | null;
  cash: number | null;
  unrealizedPnl: number | null;
  realizedPnl: number | null;
  [extra: string]: unknown;
}
