// From the simulated account to DTC messages and back: price scaling (DisplayPriceMultiplier), DBL_MAX sentinels for
// unset prices (dtc-protocol.md §3, observed), and the batch fields of §2 (TotalNumMessages / MessageNumber, No*).

import {
  DBL_MAX,
  MessageType,
  OrderStatus,
  OrderUpdateReason,
  flag,
  readPrice,
  toDtcSeconds,
  type AccountBalanceUpdate,
  type HistoricalOrderFillResponse,
  type OrderUpdate,
  type PositionUpdate,
} from '../../sierra/protocol';
import type { SimBalance, SimFill, SimOrder, SimPosition } from './account';

/** Wire price = display price ÷ multiplier (0.01 → ES 4000.50 travels as 400050). */
export class WirePrices {
  constructor(private readonly displayPriceMultiplier: number) {}

  toWire(price: number | null): number {
    return price === null ? DBL_MAX : Number((price / this.displayPriceMultiplier).toPrecision(12));
  }

  fromWire(wire: unknown): number | null {
    const price = readPrice(wire);
    return price === null ? null : Number((price * this.displayPriceMultiplier).toPrecision(12));
  }
}

export interface Batch {
  requestId: number;
  number: number;
  total: number;
}

/** Unsolicited updates: RequestID 0 and a batch of one (§2). */
export const UNSOLICITED: Batch = { requestId: 0, number: 1, total: 1 };

export function orderUpdate(
  order: SimOrder,
  reason: OrderUpdateReason,
  batch: Batch,
  prices: WirePrices,
  extra: { previousClientOrderId?: string } = {},
): OrderUpdate {
  return {
    Type: MessageType.ORDER_UPDATE,
    RequestID: batch.requestId,
    TotalNumMessages: batch.total,
    MessageNumber: batch.number,
    Symbol: order.symbol,
    Exchange: '',
    PreviousServerOrderID: order.previousServerOrderId,
    ServerOrderID: order.serverOrderId,
    ClientOrderID: order.clientOrderId,
    ExchangeOrderID: order.serverOrderId ? `X${order.serverOrderId}` : '',
    OrderStatus: order.status,
    OrderUpdateReason: reason,
    OrderType: order.orderType,
    BuySell: order.side,
    Price1: prices.toWire(order.price1),
    Price2: prices.toWire(order.price2),
    TimeInForce: order.timeInForce,
    GoodTillDateTime: 0,
    OrderQuantity: order.quantity,
    FilledQuantity: order.filledQuantity,
    RemainingQuantity: isDone(order.status) ? 0 : order.quantity - order.filledQuantity,
    AverageFillPrice: prices.toWire(order.averageFillPrice),
    LastFillPrice: prices.toWire(order.lastFill?.price ?? null),
    LastFillDateTime: order.lastFill ? order.lastFill.t : 0,
    LastFillQuantity: order.lastFill?.quantity ?? 0,
    LastFillExecutionID: order.lastFill?.executionId ?? '',
    TradeAccount: order.account,
    InfoText: order.infoText,
    NoOrders: 0,
    ParentServerOrderID: order.parentServerOrderId,
    OCOLinkedOrderServerOrderID: order.ocoLinkedServerOrderId,
    OpenOrClose: order.openOrClose,
    PreviousClientOrderID: extra.previousClientOrderId ?? '',
    FreeFormText: order.freeFormText,
    // t_DateTimeWithMilliseconds: seconds with a fraction (LastFillDateTime above is whole milliseconds)
    OrderReceivedDateTime: order.receivedAt / 1000,
    LatestTransactionDateTime: order.updatedAt / 1000,
  };
}

/** The cancel reject for an id the server never issued (§4.5: reason 9, status 9, empty ServerOrderID). */
export function unknownOrderCancelReject(
  request: { ServerOrderID?: string; ClientOrderID?: string; TradeAccount?: string },
  reason: OrderUpdateReason,
  infoText: string,
): OrderUpdate {
  return {
    Type: MessageType.ORDER_UPDATE,
    RequestID: 0,
    TotalNumMessages: 1,
    MessageNumber: 1,
    ServerOrderID: '',
    ClientOrderID: request.ClientOrderID ?? '',
    OrderStatus: OrderStatus.REJECTED,
    OrderUpdateReason: reason,
    Price1: DBL_MAX,
    Price2: DBL_MAX,
    AverageFillPrice: DBL_MAX,
    LastFillPrice: DBL_MAX,
    TradeAccount: request.TradeAccount ?? '',
    InfoText: infoText,
  };
}

export function positionUpdate(
  position: SimPosition,
  batch: Batch,
  prices: WirePrices,
  marginPerContract: number,
): PositionUpdate {
  return {
    Type: MessageType.POSITION_UPDATE,
    RequestID: batch.requestId,
    TotalNumberMessages: batch.total,
    MessageNumber: batch.number,
    Symbol: position.symbol,
    Exchange: '',
    Quantity: position.quantity,
    AveragePrice: position.quantity === 0 ? DBL_MAX : prices.toWire(position.averagePrice),
    PositionIdentifier: '',
    TradeAccount: position.account,
    NoPositions: 0,
    Unsolicited: flag(batch.requestId === 0),
    MarginRequirement: Math.abs(position.quantity) * marginPerContract,
    EntryDateTime: position.quantity === 0 ? 0 : toDtcSeconds(position.entryAt),
    OpenProfitLoss: position.openProfitLoss,
  };
}

export function balanceUpdate(balance: SimBalance, batch: Batch, tradingDisabled: boolean): AccountBalanceUpdate {
  return {
    Type: MessageType.ACCOUNT_BALANCE_UPDATE,
    RequestID: batch.requestId,
    CashBalance: balance.cashBalance,
    BalanceAvailableForNewPositions: balance.availableForNewPositions,
    AccountCurrency: balance.currency,
    TradeAccount: balance.account,
    SecuritiesValue: round2(balance.cashBalance + balance.openProfitLoss),
    MarginRequirement: balance.marginRequirement,
    TotalNumberMessages: batch.total,
    MessageNumber: batch.number,
    NoAccountBalances: 0,
    Unsolicited: flag(batch.requestId === 0),
    OpenPositionsProfitLoss: balance.openProfitLoss,
    DailyProfitLoss: balance.dailyProfitLoss,
    InfoText: '',
    TradingIsDisabled: flag(tradingDisabled),
  };
}

export function fillResponse(fill: SimFill, batch: Batch, prices: WirePrices): HistoricalOrderFillResponse {
  return {
    Type: MessageType.HISTORICAL_ORDER_FILL_RESPONSE,
    RequestID: batch.requestId,
    TotalNumberMessages: batch.total,
    MessageNumber: batch.number,
    Symbol: fill.symbol,
    Exchange: '',
    ServerOrderID: fill.serverOrderId,
    BuySell: fill.side,
    Price: prices.toWire(fill.price),
    DateTime: toDtcSeconds(fill.t),
    Quantity: fill.quantity,
    UniqueExecutionID: fill.executionId,
    TradeAccount: fill.account,
    OpenClose: fill.openClose,
    NoOrderFills: 0,
  };
}

function isDone(status: OrderStatus): boolean {
  return status === OrderStatus.FILLED || status === OrderStatus.CANCELED || status === OrderStatus.REJECTED;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
