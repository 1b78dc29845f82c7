// Typed records the client returns: numbers, not strings; names a trader reads.

import type { Availability, FieldName, PriceFlag } from './wire';

export interface AuthStatus {
  authenticated: boolean;
  competing: boolean;
  connected: boolean;
  message: string;
  fail: string;
}

export interface TickleResult {
  /** The session id the WebSocket authenticates with. */
  session: string;
  ssoExpiresMs: number | null;
  /** iserver.authStatus of the answer, when present. */
  status: AuthStatus | null;
  hmdsError: string | null;
}

export interface BrokerageAccounts {
  accounts: string[];
  selectedAccount: string | null;
  isPaper: boolean;
  aliases: Record<string, string>;
  /** allowCustomerTime per account: manualOrderTime is then mandatory. */
  allowCustomerTime: Record<string, boolean>;
}

export interface PortfolioAccount {
  accountId: string;
  currency: string;
  type: string;
  tradingType: string;
  description: string;
}

export interface SummaryItem {
  amount: number | null;
  currency: string | null;
  value: string | null;
  timestamp: number | null;
}

export interface LedgerEntry {
  currency: string;
  cashBalance: number | null;
  settledCash: number | null;
  netLiquidationValue: number | null;
  unrealizedPnl: number | null;
  realizedPnl: number | null;
  exchangeRate: number | null;
}

export interface Position {
  accountId: string;
  conid: number;
  description: string;
  quantity: number;
  marketPrice: number | null;
  marketValue: number | null;
  currency: string;
  averageCost: number | null;
  averagePrice: number | null;
  realizedPnl: number | null;
  unrealizedPnl: number | null;
  assetClass: string;
}

export interface PnlRow {
  /** "U1234567.Core" */
  key: string;
  dailyPnl: number | null;
  netLiquidation: number | null;
  unrealizedPnl: number | null;
  excessLiquidity: number | null;
  marketValue: number | null;
}

export type IbkrOrderStatus =
  | 'Inactive'
  | 'PendingSubmit'
  | 'PreSubmitted'
  | 'Submitted'
  | 'Filled'
  | 'PendingCancel'
  | 'Cancelled'
  | 'WarnState'
  | string;

export interface LiveOrder {
  accountId: string;
  conid: number;
  orderId: number;
  clientOrderId: string | null;
  status: IbkrOrderStatus;
  side: 'BUY' | 'SELL' | string;
  orderType: string;
  quantity: number | null;
  filledQuantity: number | null;
  remainingQuantity: number | null;
  averagePrice: number | null;
  price: number | null;
  timeInForce: string;
  lastExecutionTime: number | null;
}

export type OrderType = 'LMT' | 'MKT' | 'STP' | 'STOP_LIMIT' | 'MIDPRICE' | 'TRAIL' | 'TRAILLMT';
export type TimeInForce = 'GTC' | 'OPG' | 'DAY' | 'IOC' | 'PAX' | 'OVT' | 'OND';

export interface OrderRequest {
  conid: number;
  side: 'BUY' | 'SELL';
  orderType: OrderType;
  quantity: number;
  /** Limit price; for STP and TRAIL the stop price (IBKR's convention). */
  price?: number;
  /** Stop price of STOP_LIMIT and TRAILLMT. */
  auxPrice?: number;
  tif?: TimeInForce;
  /** Client order id: unique for 24 h, generated once by the caller, never reused. Not set on bracket children. */
  clientOrderId?: string;
  /** The parent's client order id (bracket children). */
  parentId?: string;
  isSingleGroup?: boolean;
  outsideRth?: boolean;
  /** "FUT" marks a futures order: it then carries manualIndicator/extOperator (CME Rule 536-B). */
  secType?: string;
  listingExchange?: string;
  ticker?: string;
  referrer?: string;
}

export interface PlacedOrder {
  orderId: number;
  status: string;
  clientOrderId: string | null;
  /** IBKR's warning on the acknowledgement (`text` / `warning_message`), or null: never dropped. */
  warning?: string | null;
  /** Which of the orders sent this acknowledges (IBKR's `local_order_id` = its cOID), when known. */
  requestIndex?: number;
}

export interface CancelAck {
  orderId: number;
  conid: number | null;
  accountId: string | null;
  message: string;
}

export interface WhatIfFigure {
  current: number | null;
  change: number | null;
  after: number | null;
}

export interface WhatIfResult {
  commission: number | null;
  amount: number | null;
  total: number | null;
  equity: WhatIfFigure;
  initialMargin: WhatIfFigure;
  maintenanceMargin: WhatIfFigure;
  position: WhatIfFigure;
  warning: string | null;
  error: string | null;
}

/** Answer rule for IBKR's order confirmation questions: true accepts, false refuses (the order is then dropped). */
export type AnswerRule = (messageId: string, text: string) => boolean;

export interface SnapshotRow {
  conid: number;
  updated: number | null;
  availability: Availability;
  /** The last price's prefix: prior close ("C") or halted ("H"). */
  lastFlag: PriceFlag | null;
  values: Partial<Record<FieldName, number | null>>;
  /** Fields asked for by numeric id that have no name in FIELD_IDS. */
  other: Record<string, number | null>;
}

export interface HistoryBar {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

export interface HistoryResult {
  symbol: string;
  description: string;
  bars: HistoryBar[];
  barLengthSec: number | null;
  priceFactor: number | null;
  volumeFactor: number | null;
  points: number;
}

export interface FutureContract {
  symbol: string;
  conid: number;
  underlyingConid: number | null;
  /** YYYYMMDD */
  expirationDate: string;
  lastTradingDate: string | null;
}

export interface SecdefSection {
  secType: string;
  months: string[];
  exchange: string;
}

export interface SecdefSearchResult {
  conid: number;
  symbol: string;
  companyName: string;
  description: string;
  sections: SecdefSection[];
}

export interface OptionStrikes {
  call: number[];
  put: number[];
}

export interface SecdefInfo {
  conid: number;
  symbol: string;
  secType: string;
  right: 'C' | 'P' | null;
  strike: number | null;
  maturityDate: string | null;
  multiplier: number | null;
  tradingClass: string;
  validExchanges: string[];
}

export interface ContractInfo {
  conid: number;
  symbol: string;
  secType: string;
  tradingClass: string;
  localSymbol: string;
  underlyingConid: number | null;
  multiplier: number | null;
  maturityDate: string | null;
  exchange: string;
  currency: string;
}
