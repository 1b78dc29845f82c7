// Sierra Chart's DTC protocol, version 8: message type numbers, enums and the JSON messages a trading client and the
// simulator exchange. Numbers and field names follow DTCProtocol.h as summarised in dtc-protocol.md §2; field names
// are the C struct member names (case-sensitive), which is what Sierra Chart puts in its JSON encoding.
// Every field but `Type` is optional: "unset fields may be omitted" (§1), so a reader must never assume presence.

export const DTC_PROTOCOL_VERSION = 8;

/** DTCProtocol.h message type numbers (uint16 on the wire). */
export const MessageType = {
  LOGON_REQUEST: 1,
  LOGON_RESPONSE: 2,
  HEARTBEAT: 3,
  LOGOFF: 5,
  ENCODING_REQUEST: 6,
  ENCODING_RESPONSE: 7,

  MARKET_DATA_FEED_STATUS: 100,
  MARKET_DATA_REQUEST: 101,
  MARKET_DEPTH_REQUEST: 102,
  MARKET_DATA_REJECT: 103,
  MARKET_DATA_SNAPSHOT: 104,
  MARKET_DATA_UPDATE_TRADE: 107,
  MARKET_DATA_UPDATE_BID_ASK: 108,
  MARKET_DATA_UPDATE_TRADE_COMPACT: 112,
  MARKET_DATA_UPDATE_BID_ASK_COMPACT: 117,
  MARKET_DEPTH_REJECT: 121,

  SUBMIT_NEW_OCO_ORDER: 201,
  CANCEL_ORDER: 203,
  CANCEL_REPLACE_ORDER: 204,
  SUBMIT_NEW_SINGLE_ORDER: 208,
  SUBMIT_FLATTEN_POSITION_ORDER: 209,

  OPEN_ORDERS_REQUEST: 300,
  ORDER_UPDATE: 301,
  OPEN_ORDERS_REJECT: 302,
  HISTORICAL_ORDER_FILLS_REQUEST: 303,
  HISTORICAL_ORDER_FILL_RESPONSE: 304,
  CURRENT_POSITIONS_REQUEST: 305,
  POSITION_UPDATE: 306,
  CURRENT_POSITIONS_REJECT: 307,
  HISTORICAL_ORDER_FILLS_REJECT: 308,

  TRADE_ACCOUNTS_REQUEST: 400,
  TRADE_ACCOUNT_RESPONSE: 401,

  SECURITY_DEFINITION_FOR_SYMBOL_REQUEST: 506,
  SECURITY_DEFINITION_RESPONSE: 507,
  SECURITY_DEFINITION_REJECT: 509,

  ACCOUNT_BALANCE_UPDATE: 600,
  ACCOUNT_BALANCE_REQUEST: 601,
  ACCOUNT_BALANCE_REJECT: 602,

  USER_MESSAGE: 700,
  GENERAL_LOG_MESSAGE: 701,
  ALERT_MESSAGE: 702,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

const MESSAGE_TYPE_NAMES = new Map<number, string>(Object.entries(MessageType).map(([name, type]) => [type, name]));

/** True for the message types this package knows; anything else is skipped (§3: never crash on unknown types). */
export function isKnownMessageType(type: number): type is MessageType {
  return MESSAGE_TYPE_NAMES.has(type);
}

/** 'ORDER_UPDATE' for 301, 'TYPE_999' for an unknown number: for logs and error messages. */
export function messageTypeName(type: number): string {
  return MESSAGE_TYPE_NAMES.get(type) ?? `TYPE_${type}`;
}

export const Encoding = {
  BINARY: 0,
  BINARY_WITH_VARIABLE_LENGTH_STRINGS: 1,
  JSON: 2,
  JSON_COMPACT: 3,
  PROTOCOL_BUFFERS: 4,
} as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

export const LogonStatus = {
  SUCCESS: 1,
  ERROR: 2,
  ERROR_NO_RECONNECT: 3,
  RECONNECT_NEW_ADDRESS: 4,
} as const;
export type LogonStatus = (typeof LogonStatus)[keyof typeof LogonStatus];

/** LOGON_REQUEST.TradeMode (older name of Unused1). */
export const TradeMode = { UNSET: 0, DEMO: 1, SIMULATED: 2, LIVE: 3 } as const;
export type TradeMode = (typeof TradeMode)[keyof typeof TradeMode];

export const OrderStatus = {
  UNSPECIFIED: 0,
  ORDER_SENT: 1,
  PENDING_OPEN: 2,
  PENDING_CHILD: 3,
  OPEN: 4,
  PENDING_CANCEL_REPLACE: 5,
  PENDING_CANCEL: 6,
  FILLED: 7,
  CANCELED: 8,
  REJECTED: 9,
  PARTIALLY_FILLED: 10,
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

export const OrderUpdateReason = {
  UNSET: 0,
  OPEN_ORDERS_REQUEST_RESPONSE: 1,
  NEW_ORDER_ACCEPTED: 2,
  GENERAL_ORDER_UPDATE: 3,
  ORDER_FILLED: 4,
  ORDER_FILLED_PARTIALLY: 5,
  ORDER_CANCELED: 6,
  ORDER_CANCEL_REPLACE_COMPLETE: 7,
  NEW_ORDER_REJECTED: 8,
  ORDER_CANCEL_REJECTED: 9,
  ORDER_CANCEL_REPLACE_REJECTED: 10,
} as const;
export type OrderUpdateReason = (typeof OrderUpdateReason)[keyof typeof OrderUpdateReason];

export const OrderType = {
  UNSET: 0,
  MARKET: 1,
  LIMIT: 2,
  STOP: 3,
  STOP_LIMIT: 4,
  MARKET_IF_TOUCHED: 5,
  LIMIT_IF_TOUCHED: 6,
  MARKET_LIMIT: 7,
} as const;
export type OrderType = (typeof OrderType)[keyof typeof OrderType];

export const BuySell = { UNSET: 0, BUY: 1, SELL: 2 } as const;
export type BuySell = (typeof BuySell)[keyof typeof BuySell];

export const TimeInForce = {
  UNSET: 0,
  DAY: 1,
  GOOD_TILL_CANCELED: 2,
  GOOD_TILL_DATE_TIME: 3,
  IMMEDIATE_OR_CANCEL: 4,
  ALL_OR_NONE: 5,
  FILL_OR_KILL: 6,
} as const;
export type TimeInForce = (typeof TimeInForce)[keyof typeof TimeInForce];

export const OpenClose = { UNSET: 0, OPEN: 1, CLOSE: 2 } as const;
export type OpenClose = (typeof OpenClose)[keyof typeof OpenClose];

export const PartialFillHandling = { UNSET: 0, REDUCE_QUANTITY: 1, IMMEDIATE_CANCEL: 2 } as const;
export type PartialFillHandling = (typeof PartialFillHandling)[keyof typeof PartialFillHandling];

export const AtBidOrAsk = { UNSET: 0, AT_BID: 1, AT_ASK: 2 } as const;
export type AtBidOrAsk = (typeof AtBidOrAsk)[keyof typeof AtBidOrAsk];

/** Flags travel as numbers 0/1, never JSON booleans (§1). */
export type Flag = 0 | 1;

export function flag(value: boolean): Flag {
  return value ? 1 : 0;
}

/** Never set this bit of LOGON_REQUEST.Integer_1: it switches the connection to Relay Server mode (§2). */
export const LOGON_INTEGER_1_RELAY_SERVER_BIT = 0x2;

// ---------------------------------------------------------------------------------------------------------------
// Sentinels and time

/** C's DBL_MAX; JSON renders it as 1.7976931348623157e+308. Servers put it in unset price fields (§3, observed). */
export const DBL_MAX = Number.MAX_VALUE;

/** FLT_MAX, the same sentinel in the float fields of compact market data. Any |x| at or above it is "unset". */
const UNSET_PRICE_THRESHOLD = 3.4e38;

/** A price field as a number, or null when absent, not a finite number, or a DBL_MAX / FLT_MAX "unset" sentinel. */
export function readPrice(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) >= UNSET_PRICE_THRESHOLD) return null;
  return value;
}

/**
 * Below this a DTC date-time is in seconds, at or above it in milliseconds. 1e11 s is the year 5138 and 1e11 ms is
 * March 1973, so no real timestamp is ambiguous. LastFillDateTime is ms in the current header, s in older docs (§2).
 */
const SECONDS_MS_BOUNDARY = 1e11;

/**
 * A DTC date-time (seconds, seconds with a fraction, or milliseconds) as epoch milliseconds; null when absent, zero,
 * negative, not finite or a DBL_MAX sentinel.
 */
export function toEpochMs(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= UNSET_PRICE_THRESHOLD) return null;
  return value < SECONDS_MS_BOUNDARY ? Math.round(value * 1000) : Math.round(value);
}

/** Epoch milliseconds as a DTC t_DateTime (whole seconds). */
export function toDtcSeconds(epochMs: number): number {
  return Math.floor(epochMs / 1000);
}

// ---------------------------------------------------------------------------------------------------------------
// Messages. `Type` is the discriminant; the rest follows the C structs.

export interface EncodingRequest {
  Type: typeof MessageType.ENCODING_REQUEST;
  ProtocolVersion?: number;
  Encoding?: Encoding;
  ProtocolType?: string;
}

export interface EncodingResponse {
  Type: typeof MessageType.ENCODING_RESPONSE;
  ProtocolVersion?: number;
  Encoding?: Encoding;
  ProtocolType?: string;
}

export interface LogonRequest {
  Type: typeof MessageType.LOGON_REQUEST;
  ProtocolVersion?: number;
  Username?: string;
  Password?: string;
  GeneralTextData?: string;
  Integer_1?: number;
  Integer_2?: number;
  HeartbeatIntervalInSeconds?: number;
  TradeMode?: TradeMode;
  TradeAccount?: string;
  HardwareIdentifier?: string;
  ClientName?: string;
  MarketDataTransmissionInterval?: number;
}

export interface LogonResponse {
  Type: typeof MessageType.LOGON_RESPONSE;
  ProtocolVersion?: number;
  Result?: LogonStatus;
  ResultText?: string;
  ReconnectAddress?: string;
  Integer_1?: number;
  ServerName?: string;
  MarketDepthUpdatesBestBidAndAsk?: Flag;
  TradingIsSupported?: Flag;
  OCOOrdersSupported?: Flag;
  OrderCancelReplaceSupported?: Flag;
  SymbolExchangeDelimiter?: string;
  SecurityDefinitionsSupported?: Flag;
  HistoricalPriceDataSupported?: Flag;
  ResubscribeWhenMarketDataFeedAvailable?: Flag;
  MarketDepthIsSupported?: Flag;
  OneHistoricalPriceDataRequestPerConnection?: Flag;
  BracketOrdersSupported?: Flag;
  UseIntegerPriceOrderMessages?: Flag;
  UsesMultiplePositionsPerSymbolAndTradeAccount?: Flag;
  MarketDataSupported?: Flag;
}

export interface Heartbeat {
  Type: typeof MessageType.HEARTBEAT;
  NumDroppedMessages?: number;
  /** Seconds. */
  CurrentDateTime?: number;
}

export interface Logoff {
  Type: typeof MessageType.LOGOFF;
  Reason?: string;
  DoNotReconnect?: Flag;
}

interface TextMessage<T extends MessageType> {
  Type: T;
  UserMessage?: string;
  MessageText?: string;
  PopupMessage?: Flag;
}
export type UserMessage = TextMessage<typeof MessageType.USER_MESSAGE>;
export type GeneralLogMessage = TextMessage<typeof MessageType.GENERAL_LOG_MESSAGE>;
export type AlertMessage = TextMessage<typeof MessageType.ALERT_MESSAGE> & { TradeAccount?: string };

export interface TradeAccountsRequest {
  Type: typeof MessageType.TRADE_ACCOUNTS_REQUEST;
  RequestID?: number;
}

export interface TradeAccountResponse {
  Type: typeof MessageType.TRADE_ACCOUNT_RESPONSE;
  TotalNumberMessages?: number;
  MessageNumber?: number;
  TradeAccount?: string;
  RequestID?: number;
  TradingIsDisabled?: Flag;
}

export interface SubmitNewSingleOrder {
  Type: typeof MessageType.SUBMIT_NEW_SINGLE_ORDER;
  Symbol?: string;
  Exchange?: string;
  TradeAccount?: string;
  /** Chosen by the client, ≤ 32 chars, unique for the server's trading session (§3). */
  ClientOrderID?: string;
  OrderType?: OrderType;
  BuySell?: BuySell;
  /** Limit, stop or trigger price. */
  Price1?: number;
  /** Limit of a stop-limit. */
  Price2?: number;
  Quantity?: number;
  TimeInForce?: TimeInForce;
  GoodTillDateTime?: number;
  IsAutomatedOrder?: Flag;
  IsParentOrder?: Flag;
  /** ≤ 48 chars. */
  FreeFormText?: string;
  OpenOrClose?: OpenClose;
  MaxShowQuantity?: number;
}

export interface SubmitNewOcoOrder {
  Type: typeof MessageType.SUBMIT_NEW_OCO_ORDER;
  Symbol?: string;
  Exchange?: string;
  ClientOrderID_1?: string;
  OrderType_1?: OrderType;
  BuySell_1?: BuySell;
  Price1_1?: number;
  Price2_1?: number;
  Quantity_1?: number;
  ClientOrderID_2?: string;
  OrderType_2?: OrderType;
  BuySell_2?: BuySell;
  Price1_2?: number;
  Price2_2?: number;
  Quantity_2?: number;
  TimeInForce?: TimeInForce;
  GoodTillDateTime?: number;
  TradeAccount?: string;
  IsAutomatedOrder?: Flag;
  /** The parent's ClientOrderID when this OCO is the two legs of a bracket (§3). */
  ParentTriggerClientOrderID?: string;
  FreeFormText?: string;
  OpenOrClose?: OpenClose;
  PartialFillHandling?: PartialFillHandling;
  UseOffsets?: Flag;
  OffsetFromParent1?: number;
  OffsetFromParent2?: number;
  MaintainSamePricesOnParentFill?: Flag;
}

export interface CancelOrder {
  Type: typeof MessageType.CANCEL_ORDER;
  ServerOrderID?: string;
  ClientOrderID?: string;
  TradeAccount?: string;
}

export interface CancelReplaceOrder {
  Type: typeof MessageType.CANCEL_REPLACE_ORDER;
  ServerOrderID?: string;
  /** Sent unchanged: modify is keyed by ServerOrderID (§2). */
  ClientOrderID?: string;
  Price1?: number;
  Price2?: number;
  /** 0 = keep; a new quantity includes what has already filled. */
  Quantity?: number;
  Price1IsSet?: Flag;
  Price2IsSet?: Flag;
  Unused?: number;
  TimeInForce?: TimeInForce;
  GoodTillDateTime?: number;
  UpdatePrice1OffsetToParent?: Flag;
  TradeAccount?: string;
}

export interface SubmitFlattenPositionOrder {
  Type: typeof MessageType.SUBMIT_FLATTEN_POSITION_ORDER;
  Symbol?: string;
  Exchange?: string;
  TradeAccount?: string;
  ClientOrderID?: string;
  FreeFormText?: string;
  IsAutomatedOrder?: Flag;
}

export interface OpenOrdersRequest {
  Type: typeof MessageType.OPEN_ORDERS_REQUEST;
  RequestID?: number;
  RequestAllOrders?: Flag;
  ServerOrderID?: string;
  TradeAccount?: string;
}

export interface OrderUpdate {
  Type: typeof MessageType.ORDER_UPDATE;
  RequestID?: number;
  /** (sic) ORDER_UPDATE spells it TotalNumMessages, every other batch TotalNumberMessages. */
  TotalNumMessages?: number;
  MessageNumber?: number;
  Symbol?: string;
  Exchange?: string;
  PreviousServerOrderID?: string;
  ServerOrderID?: string;
  ClientOrderID?: string;
  ExchangeOrderID?: string;
  OrderStatus?: OrderStatus;
  OrderUpdateReason?: OrderUpdateReason;
  OrderType?: OrderType;
  BuySell?: BuySell;
  Price1?: number;
  Price2?: number;
  TimeInForce?: TimeInForce;
  GoodTillDateTime?: number;
  OrderQuantity?: number;
  FilledQuantity?: number;
  RemainingQuantity?: number;
  AverageFillPrice?: number;
  LastFillPrice?: number;
  /** Milliseconds in the current header, seconds in older docs: read with toEpochMs. */
  LastFillDateTime?: number;
  LastFillQuantity?: number;
  LastFillExecutionID?: string;
  TradeAccount?: string;
  InfoText?: string;
  NoOrders?: Flag;
  ParentServerOrderID?: string;
  OCOLinkedOrderServerOrderID?: string;
  OpenOrClose?: OpenClose;
  PreviousClientOrderID?: string;
  FreeFormText?: string;
  OrderReceivedDateTime?: number;
  LatestTransactionDateTime?: number;
  Username?: string;
}

export interface OpenOrdersReject {
  Type: typeof MessageType.OPEN_ORDERS_REJECT;
  RequestID?: number;
  RejectText?: string;
}

export interface HistoricalOrderFillsRequest {
  Type: typeof MessageType.HISTORICAL_ORDER_FILLS_REQUEST;
  RequestID?: number;
  ServerOrderID?: string;
  NumberOfDays?: number;
  TradeAccount?: string;
  /** Seconds. */
  StartDateTime?: number;
}

export interface HistoricalOrderFillResponse {
  Type: typeof MessageType.HISTORICAL_ORDER_FILL_RESPONSE;
  RequestID?: number;
  TotalNumberMessages?: number;
  MessageNumber?: number;
  Symbol?: string;
  Exchange?: string;
  ServerOrderID?: string;
  BuySell?: BuySell;
  Price?: number;
  /** Seconds (t_DateTime); read with toEpochMs. */
  DateTime?: number;
  Quantity?: number;
  UniqueExecutionID?: string;
  TradeAccount?: string;
  OpenClose?: OpenClose;
  NoOrderFills?: Flag;
  InfoText?: string;
  HighPriceDuringPosition?: number;
  LowPriceDuringPosition?: number;
  PositionQuantity?: number;
  Username?: string;
  ExchangeOrderID?: string;
  SenderSubID?: string;
}

export interface HistoricalOrderFillsReject {
  Type: typeof MessageType.HISTORICAL_ORDER_FILLS_REJECT;
  RequestID?: number;
  RejectText?: string;
}

export interface CurrentPositionsRequest {
  Type: typeof MessageType.CURRENT_POSITIONS_REQUEST;
  RequestID?: number;
  TradeAccount?: string;
}

export interface PositionUpdate {
  Type: typeof MessageType.POSITION_UPDATE;
  RequestID?: number;
  TotalNumberMessages?: number;
  MessageNumber?: number;
  Symbol?: string;
  Exchange?: string;
  /** Signed: negative is short. */
  Quantity?: number;
  AveragePrice?: number;
  PositionIdentifier?: string;
  TradeAccount?: string;
  NoPositions?: Flag;
  Unsolicited?: Flag;
  MarginRequirement?: number;
  /** Seconds. */
  EntryDateTime?: number;
  OpenProfitLoss?: number;
  HighPriceDuringPosition?: number;
  LowPriceDuringPosition?: number;
  QuantityLimit?: number;
  MaxPotentialPostionQuantity?: number;
}

export interface CurrentPositionsReject {
  Type: typeof MessageType.CURRENT_POSITIONS_REJECT;
  RequestID?: number;
  RejectText?: string;
}

export interface AccountBalanceRequest {
  Type: typeof MessageType.ACCOUNT_BALANCE_REQUEST;
  RequestID?: number;
  TradeAccount?: string;
}

export interface AccountBalanceUpdate {
  Type: typeof MessageType.ACCOUNT_BALANCE_UPDATE;
  RequestID?: number;
  CashBalance?: number;
  BalanceAvailableForNewPositions?: number;
  AccountCurrency?: string;
  TradeAccount?: string;
  SecuritiesValue?: number;
  MarginRequirement?: number;
  TotalNumberMessages?: number;
  MessageNumber?: number;
  NoAccountBalances?: Flag;
  Unsolicited?: Flag;
  OpenPositionsProfitLoss?: number;
  DailyProfitLoss?: number;
  InfoText?: string;
  TransactionIdentifier?: number;
  DailyNetLossLimit?: number;
  TrailingAccountValueToLimitPositions?: number;
  DailyNetLossLimitReached?: Flag;
  IsUnderRequiredMargin?: Flag;
  ClosePositionsAtEndOfDay?: Flag;
  TradingIsDisabled?: Flag;
  Description?: string;
  IsUnderRequiredAccountValue?: Flag;
  TransactionDateTime?: number;
}

export interface AccountBalanceReject {
  Type: typeof MessageType.ACCOUNT_BALANCE_REJECT;
  RequestID?: number;
  RejectText?: string;
}

export interface SecurityDefinitionForSymbolRequest {
  Type: typeof MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST;
  RequestID?: number;
  Symbol?: string;
  Exchange?: string;
}

export interface SecurityDefinitionResponse {
  Type: typeof MessageType.SECURITY_DEFINITION_RESPONSE;
  RequestID?: number;
  Symbol?: string;
  Exchange?: string;
  /** SecurityTypeEnum: FUTURES 1. */
  SecurityType?: number;
  Description?: string;
  MinPriceIncrement?: number;
  PriceDisplayFormat?: number;
  CurrencyValuePerIncrement?: number;
  IsFinalMessage?: Flag;
  FloatToIntPriceMultiplier?: number;
  IntToFloatPriceDivisor?: number;
  UnderlyingSymbol?: string;
  UpdatesBidAskOnly?: Flag;
  StrikePrice?: number;
  PutOrCall?: number;
  ShortInterest?: number;
  SecurityExpirationDate?: number;
  BuyRolloverInterest?: number;
  SellRolloverInterest?: number;
  EarningsPerShare?: number;
  SharesOutstanding?: number;
  IntToFloatQuantityDivisor?: number;
  HasMarketDepthData?: Flag;
  DisplayPriceMultiplier?: number;
  ExchangeSymbol?: string;
  InitialMarginRequirement?: number;
  MaintenanceMarginRequirement?: number;
  Currency?: string;
  ContractSize?: number;
  OpenInterest?: number;
  RolloverDate?: number;
  IsDelayed?: Flag;
}

export interface SecurityDefinitionReject {
  Type: typeof MessageType.SECURITY_DEFINITION_REJECT;
  RequestID?: number;
  RejectText?: string;
}

export interface MarketDataRequest {
  Type: typeof MessageType.MARKET_DATA_REQUEST;
  /** RequestActionEnum: SUBSCRIBE 1, UNSUBSCRIBE 2, SNAPSHOT 3. */
  RequestAction?: number;
  SymbolID?: number;
  Symbol?: string;
  Exchange?: string;
  IntervalForSnapshotUpdatesInMilliseconds?: number;
}

export interface MarketDataReject {
  Type: typeof MessageType.MARKET_DATA_REJECT;
  SymbolID?: number;
  RejectText?: string;
}

export interface MarketDataSnapshot {
  Type: typeof MessageType.MARKET_DATA_SNAPSHOT;
  SymbolID?: number;
  SessionSettlementPrice?: number;
  SessionOpenPrice?: number;
  SessionHighPrice?: number;
  SessionLowPrice?: number;
  SessionVolume?: number;
  SessionNumTrades?: number;
  OpenInterest?: number;
  BidPrice?: number;
  AskPrice?: number;
  AskQuantity?: number;
  BidQuantity?: number;
  LastTradePrice?: number;
  LastTradeVolume?: number;
  LastTradeDateTime?: number;
  BidAskDateTime?: number;
  SessionSettlementDateTime?: number;
  TradingSessionDate?: number;
  TradingStatus?: number;
  MarketDepthUpdateDateTime?: number;
}

export interface MarketDataUpdateTrade {
  Type: typeof MessageType.MARKET_DATA_UPDATE_TRADE;
  SymbolID?: number;
  AtBidOrAsk?: AtBidOrAsk;
  Price?: number;
  Volume?: number;
  DateTime?: number;
}

export interface MarketDataUpdateBidAsk {
  Type: typeof MessageType.MARKET_DATA_UPDATE_BID_ASK;
  SymbolID?: number;
  BidPrice?: number;
  BidQuantity?: number;
  AskPrice?: number;
  AskQuantity?: number;
  DateTime?: number;
}

export interface MarketDataUpdateTradeCompact {
  Type: typeof MessageType.MARKET_DATA_UPDATE_TRADE_COMPACT;
  Price?: number;
  Volume?: number;
  DateTime?: number;
  SymbolID?: number;
  AtBidOrAsk?: AtBidOrAsk;
}

export interface MarketDataUpdateBidAskCompact {
  Type: typeof MessageType.MARKET_DATA_UPDATE_BID_ASK_COMPACT;
  BidPrice?: number;
  BidQuantity?: number;
  AskPrice?: number;
  AskQuantity?: number;
  DateTime?: number;
  SymbolID?: number;
}

/** A known message whose struct this module does not model field by field (e.g. market depth). */
export interface OtherMessage {
  Type:
    | typeof MessageType.MARKET_DATA_FEED_STATUS
    | typeof MessageType.MARKET_DEPTH_REQUEST
    | typeof MessageType.MARKET_DEPTH_REJECT;
  [field: string]: unknown;
}

/** Every message this package reads or writes, discriminated by `Type`. */
export type DtcMessage =
  | EncodingRequest
  | EncodingResponse
  | LogonRequest
  | LogonResponse
  | Heartbeat
  | Logoff
  | UserMessage
  | GeneralLogMessage
  | AlertMessage
  | TradeAccountsRequest
  | TradeAccountResponse
  | SubmitNewSingleOrder
  | SubmitNewOcoOrder
  | CancelOrder
  | CancelReplaceOrder
  | SubmitFlattenPositionOrder
  | OpenOrdersRequest
  | OrderUpdate
  | OpenOrdersReject
  | HistoricalOrderFillsRequest
  | HistoricalOrderFillResponse
  | HistoricalOrderFillsReject
  | CurrentPositionsRequest
  | PositionUpdate
  | CurrentPositionsReject
  | AccountBalanceRequest
  | AccountBalanceUpdate
  | AccountBalanceReject
  | SecurityDefinitionForSymbolRequest
  | SecurityDefinitionResponse
  | SecurityDefinitionReject
  | MarketDataRequest
  | MarketDataReject
  | MarketDataSnapshot
  | MarketDataUpdateTrade
  | MarketDataUpdateBidAsk
  | MarketDataUpdateTradeCompact
  | MarketDataUpdateBidAskCompact
  | OtherMessage;

/** The message of a given type number: `MessageOf<typeof MessageType.ORDER_UPDATE>` is OrderUpdate. */
export type MessageOf<T extends MessageType> = Extract<DtcMessage, { Type: T }>;

/** Narrows a decoded message by type: `if (isMessage(m, MessageType.ORDER_UPDATE)) m.ServerOrderID`. */
export function isMessage<T extends MessageType>(message: DtcMessage, type: T): message is MessageOf<T> {
  return message.Type === type;
}
