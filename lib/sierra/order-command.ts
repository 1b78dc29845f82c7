// A checked order intent (lib/trading/order-intent.ts: the one parser of both order nodes) → the order manager's
// command for Sierra Chart. Pure: no socket, no clock. Only what is Sierra's lives here: the instrument is a Sierra
// symbol (a conid means nothing to DTC), DTC has no what-if, and a cancel-replace carries no time in force.

import { InvalidInputError } from '../errors';
import type { InstrumentOverride, OrderIntent } from '../trading/order-intent';
import type { SierraModify, SierraOrder } from './order-wire';
import { checkTradableSymbol } from './symbols';

export type OrderCommand =
  | { action: 'submit'; intent: SierraOrder }
  | { action: 'cancel'; clientOrderId: string }
  | { action: 'modify'; clientOrderId: string; change: SierraModify }
  | { action: 'flatten'; symbol: string }
  | { action: 'cancel-all'; symbol?: string };

function symbolOf(instrument: InstrumentOverride | undefined, nodeSymbol: string): string {
  if (instrument === undefined) return nodeSymbol;
  if ('conid' in instrument) {
    throw new InvalidInputError(`Order refused: conid ${instrument.conid} is an IBKR contract id, which sierra-order cannot trade: give the Sierra Chart symbol (e.g. ESZ25_FUT_CME) as symbol, or leave it out for the node's. Nothing was sent.`);
  }
  return instrument.symbol;
}

/**
 * `nodeSymbol`: the connection's symbol, traded when the message names none. `now` (the connection's clock): a new
 * order's symbol override must name a contract that is still listed then (symbols.ts, checkTradableSymbol).
 */
export function toSierraCommand(intent: OrderIntent, instrument: InstrumentOverride | undefined, nodeSymbol: string, now?: number): OrderCommand {
  switch (intent.kind) {
    case 'entry': {
      if (instrument !== undefined && now !== undefined) checkTradableSymbol(symbolOf(instrument, nodeSymbol), now);
      if (intent.whatIf) {
        throw new InvalidInputError(
          "Order refused: sierra-order has no what-if (Sierra Chart's DTC server cannot price an order without placing it). Nothing was sent: send it to ibkr-order for a what-if, or leave msg.whatIf out to trade.",
        );
      }
      const order: SierraOrder = { symbol: symbolOf(instrument, nodeSymbol), side: intent.side, quantity: intent.quantity, type: intent.type, tif: intent.tif };
      if (intent.price !== undefined) order.price = intent.price;
      if (intent.stopPrice !== undefined) order.stopPrice = intent.stopPrice;
      if (intent.bracket) order.bracket = { stop: intent.bracket.stop, targets: [intent.bracket.target] };
      if (intent.clientOrderId !== undefined) order.clientOrderId = intent.clientOrderId;
      return { action: 'submit', intent: order };
    }
    case 'modify': {
      if (intent.tif !== undefined) {
        throw new InvalidInputError(`Order refused: a Sierra Chart modify (DTC cancel-replace) cannot change the time in force (tif ${intent.tif} was given): cancel the order and place a new one. Nothing was sent.`);
      }
      const change: SierraModify = {};
      if (intent.price !== undefined) change.price = intent.price;
      if (intent.stopPrice !== undefined) change.stopPrice = intent.stopPrice;
      if (intent.quantity !== undefined) change.quantity = intent.quantity;
      return { action: 'modify', clientOrderId: intent.clientOrderId, change };
    }
    case 'cancel':
      return { action: 'cancel', clientOrderId: intent.clientOrderId };
    case 'flatten':
      return { action: 'flatten', symbol: symbolOf(instrument, nodeSymbol) };
    case 'cancel-all':
      return instrument === undefined ? { action: 'cancel-all' } : { action: 'cancel-all', symbol: symbolOf(instrument, nodeSymbol) };
  }
}
