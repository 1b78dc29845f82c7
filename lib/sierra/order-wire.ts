// From a trader's order intent to DTC order-entry messages, and the checks that come first. Pure: no socket, no
// clock. Prices go out through the symbol's PriceScale (dtc-protocol.md §3, DisplayPriceMultiplier).

import type { OrderType, Side, TimeInForce } from '../contracts';
import { InvalidInputError } from '../errors';
import { checkNewOrder, checkPrice } from '../trading/order-intent';
import {
  BuySell,
  MessageType,
  OrderType as DtcOrderType,
  PartialFillHandling,
  TimeInForce as DtcTimeInForce,
  type CancelReplaceOrder,
  type SubmitNewOcoOrder,
  type SubmitNewSingleOrder,
} from './protocol';
import type { PriceScale } from './price-scale';

/**
 * One new order in DTC's terms, made from the one entry intent (lib/trading/order-intent.ts) by order-command.ts.
 * Prices are display prices (ES 6012.25).
 */
export interface SierraOrder {
  symbol: string;
  side: Side;
  quantity: number;
  type: OrderType;
  /** Limit price: limit and stop-limit orders. */
  price?: number;
  /** Trigger price: stop and stop-limit orders. */
  stopPrice?: number;
  tif?: TimeInForce;
  /** A bracket: the parent, then an OCO of one profit target (limit) and one stop (stop), §3. */
  bracket?: { stop: number; targets: number[] };
  /** The trader's own ClientOrderID for the parent, claimed once by the generator. */
  clientOrderId?: string;
}

/** A change to a working order (cancel-replace). Quantity is the new total, filled part included (§2). */
export interface SierraModify {
  price?: number;
  stopPrice?: number;
  quantity?: number;
}

export const DTC_ORDER_TYPE: Readonly<Record<OrderType, DtcOrderType>> = {
  market: DtcOrderType.MARKET,
  limit: DtcOrderType.LIMIT,
  stop: DtcOrderType.STOP,
  'stop-limit': DtcOrderType.STOP_LIMIT,
};

const DTC_TIF: Readonly<Record<TimeInForce, DtcTimeInForce>> = {
  day: DtcTimeInForce.DAY,
  gtc: DtcTimeInForce.GOOD_TILL_CANCELED,
  ioc: DtcTimeInForce.IMMEDIATE_OR_CANCEL,
  fok: DtcTimeInForce.FILL_OR_KILL,
};

export function dtcSide(side: Side): BuySell {
  return side === 'buy' ? BuySell.BUY : BuySell.SELL;
}

export function sideOf(buySell: number | undefined): Side | null {
  return buySell === BuySell.BUY ? 'buy' : buySell === BuySell.SELL ? 'sell' : null;
}

export function opposite(side: Side): Side {
  return side === 'buy' ? 'sell' : 'buy';
}

/**
 * Checks an order before anything else happens, by the one set of rules of lib/trading/order-intent.ts (the same
 * words as the order nodes' parser); `tickSize` from the symbol's security definition (0: not known). Throws
 * InvalidInputError naming the field and what is expected.
 */
export function validateIntent(intent: SierraOrder, tickSize = 0): void {
  if (typeof intent.symbol !== 'string' || intent.symbol.trim() === '') {
    throw new InvalidInputError('Order symbol is missing: set the Sierra Chart symbol exactly as File › Find Symbol shows it (e.g. ESZ25_FUT_CME).');
  }
  const { symbol: _symbol, ...order } = intent;
  checkNewOrder(order as unknown as Record<string, unknown>, tickSize > 0 ? tickSize : null);
}

export interface SubmitContext {
  tradeAccount: string | undefined;
  scale: PriceScale;
  isAutomated: boolean;
}

function prices(intent: Pick<SierraOrder, 'type' | 'price' | 'stopPrice'>, scale: PriceScale): { Price1?: number; Price2?: number } {
  switch (intent.type) {
    case 'limit':
      return { Price1: scale.toWire(intent.price as number) };
    case 'stop':
      return { Price1: scale.toWire(intent.stopPrice as number) };
    case 'stop-limit':
      return { Price1: scale.toWire(intent.stopPrice as number), Price2: scale.toWire(intent.price as number) };
    default:
      return {};
  }
}

export function singleOrderMessage(intent: SierraOrder, clientOrderId: string, ctx: SubmitContext, isParent: boolean): SubmitNewSingleOrder {
  return {
    Type: MessageType.SUBMIT_NEW_SINGLE_ORDER,
    Symbol: intent.symbol,
    Exchange: '', // §3: ignored by Sierra Chart; the symbol says it all
    TradeAccount: ctx.tradeAccount,
    ClientOrderID: clientOrderId,
    OrderType: DTC_ORDER_TYPE[intent.type],
    BuySell: dtcSide(intent.side),
    ...prices(intent, ctx.scale),
    Quantity: intent.quantity,
    TimeInForce: DTC_TIF[intent.tif ?? 'day'],
    IsAutomatedOrder: ctx.isAutomated ? 1 : 0,
    IsParentOrder: isParent ? 1 : 0,
  };
}

/** The OCO of a bracket: leg 1 the profit target (limit), leg 2 the stop, both closing the parent's side (§3). */
export function bracketOcoMessage(
  intent: SierraOrder,
  parentClientOrderId: string,
  ids: { target: string; stop: string },
  ctx: SubmitContext,
): SubmitNewOcoOrder {
  const bracket = intent.bracket as { stop: number; targets: number[] };
  const exit = dtcSide(opposite(intent.side));
  return {
    Type: MessageType.SUBMIT_NEW_OCO_ORDER,
    Symbol: intent.symbol,
    Exchange: '',
    ClientOrderID_1: ids.target,
    OrderType_1: DtcOrderType.LIMIT,
    BuySell_1: exit,
    Price1_1: ctx.scale.toWire(bracket.targets[0]),
    Quantity_1: intent.quantity,
    ClientOrderID_2: ids.stop,
    OrderType_2: DtcOrderType.STOP,
    BuySell_2: exit,
    Price1_2: ctx.scale.toWire(bracket.stop),
    Quantity_2: intent.quantity,
    TimeInForce: DTC_TIF[intent.tif ?? 'day'],
    TradeAccount: ctx.tradeAccount,
    IsAutomatedOrder: ctx.isAutomated ? 1 : 0,
    ParentTriggerClientOrderID: parentClientOrderId,
    PartialFillHandling: PartialFillHandling.REDUCE_QUANTITY,
  };
}

/** CANCEL_REPLACE_ORDER for a working order of `type`; fields not in `change` keep their value (…IsSet 0). */
export function cancelReplaceMessage(
  order: { serverOrderId: string; clientOrderId: string; type: OrderType | null },
  change: SierraModify,
  ctx: Pick<SubmitContext, 'tradeAccount' | 'scale'>,
): CancelReplaceOrder {
  const msg: CancelReplaceOrder = {
    Type: MessageType.CANCEL_REPLACE_ORDER,
    ServerOrderID: order.serverOrderId,
    ClientOrderID: order.clientOrderId,
    Price1IsSet: 0,
    Price2IsSet: 0,
    Quantity: change.quantity ?? 0,
    TradeAccount: ctx.tradeAccount,
  };
  const setPrice1 = (p: number): void => {
    msg.Price1 = ctx.scale.toWire(p);
    msg.Price1IsSet = 1;
  };
  const setPrice2 = (p: number): void => {
    msg.Price2 = ctx.scale.toWire(p);
    msg.Price2IsSet = 1;
  };
  if (order.type === 'limit' && change.price !== undefined) setPrice1(change.price);
  if (order.type === 'stop' && change.stopPrice !== undefined) setPrice1(change.stopPrice);
  if (order.type === 'stop-limit') {
    if (change.stopPrice !== undefined) setPrice1(change.stopPrice);
    if (change.price !== undefined) setPrice2(change.price);
  }
  return msg;
}

/** Checks a modify against the order it changes: only the prices that order type has, a sane quantity. */
export function validateModify(type: OrderType | null, change: SierraModify, filledQuantity: number, tickSize: number): void {
  if (change.price === undefined && change.stopPrice === undefined && change.quantity === undefined) {
    throw new InvalidInputError('Modify needs a new price, stopPrice or quantity: none was given.');
  }
  if (change.price !== undefined) {
    if (type !== 'limit' && type !== 'stop-limit') throw new InvalidInputError(`A ${type ?? 'market'} order has no limit price to modify.`);
    checkPrice(change.price, 'modify price', tickSize > 0 ? tickSize : null);
  }
  if (change.stopPrice !== undefined) {
    if (type !== 'stop' && type !== 'stop-limit') throw new InvalidInputError(`A ${type ?? 'market'} order has no stop price to modify.`);
    checkPrice(change.stopPrice, 'modify stopPrice', tickSize > 0 ? tickSize : null);
  }
  if (change.quantity !== undefined && (!Number.isInteger(change.quantity) || change.quantity <= filledQuantity)) {
    throw new InvalidInputError(`New quantity ${change.quantity} is not valid: it is the new total including the ${filledQuantity} already filled, so use a whole number above ${filledQuantity}.`);
  }
}

export function contractOrderType(type: number | undefined): OrderType | null {
  for (const [name, value] of Object.entries(DTC_ORDER_TYPE)) if (value === type) return name as OrderType;
  return null;
}
