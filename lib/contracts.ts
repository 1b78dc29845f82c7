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

export interface Chain {
  underlying: string;
  spot: number;
  t: number;
  contracts: OptionQuote[];
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
  method: 'observed-basis' | 'fair-value' | 'none';
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
