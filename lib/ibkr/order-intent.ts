// A checked order intent (lib/trading/order-intent.ts: the one parser of both order nodes) → the IBKR order bodies
// that carry it out (ibkr-web-api.md §2, "Place"). Pure: no I/O. Only what is IBKR's lives here: its order types and
// time-in-force words, the bracket as parent and children, and a modify repeating every original field.
import type { TimeInForce } from '../contracts';
import { InvalidInputError } from '../errors';
import { findInstrument, instrument } from '../trading/instruments';
import { checkPrice, type EntryIntent, type ModifyIntent } from '../trading/order-intent';
import type { OrderRequest as IbkrOrderRequest, TimeInForce as IbkrTif } from './types';

/** ES minimum price increment (lib/trading/instruments.ts). */
export const ES_TICK = instrument('ES').tickSize;

/** The price grid the node checks before sending: every instrument the registry knows; others are left to IBKR. */
export function tickFor(symbol: string): number | null {
  return findInstrument(symbol)?.tickSize ?? null;
}

const IBKR_TIF: Record<TimeInForce, IbkrTif> = { day: 'DAY', gtc: 'GTC', ioc: 'IOC', fok: 'IOC' };

/** IBKR has no FOK on the Web API order ticket (fact sheet: GTC, OPG, DAY, IOC, PAX, OVT, OND). */
export function ibkrTif(t: TimeInForce): IbkrTif {
  if (t === 'fok') throw new InvalidInputError('tif "fok" (fill or kill) is not offered by the IBKR Web API: use "ioc" or "day".');
  return IBKR_TIF[t];
}

/** One leg of what goes to IBKR, with the local id the node reports it under. */
export interface PlannedLeg {
  role: 'entry' | 'stop' | 'target';
  /** The cOID for the parent; "<cOID>:stop" / "<cOID>:target" for bracket legs (IBKR takes no cOID on children). */
  clientOrderId: string;
  order: IbkrOrderRequest;
}

export interface ContractRef {
  conid: number;
  /** "FUT" for futures: the order then carries CME Rule 536-B tags. */
  secType?: string;
}

/** `tick` null: the contract's grid is not known here, IBKR checks it (question o382 or a rejection). */
function checkTick(x: number, field: string, tick: number | null): number {
  return checkPrice(x, `order ${field}`, tick);
}

/** The IBKR order bodies of an entry: the parent, then (bracket) its stop and take-profit, children by parentId. */
export function planEntry(intent: EntryIntent, contract: ContractRef, clientOrderId: string, tick: number | null = ES_TICK): PlannedLeg[] {
  const side = intent.side === 'buy' ? 'BUY' : 'SELL';
  const exit = intent.side === 'buy' ? 'SELL' : 'BUY';
  const tifCode = ibkrTif(intent.tif);
  const base = { conid: contract.conid, secType: contract.secType, quantity: intent.quantity, tif: tifCode };
  const parent: IbkrOrderRequest = { ...base, side, orderType: 'MKT', clientOrderId };
  switch (intent.type) {
    case 'market':
      break;
    case 'limit':
      Object.assign(parent, { orderType: 'LMT', price: checkTick(intent.price as number, 'price', tick) });
      break;
    case 'stop':
      // IBKR: for STP the stop price travels as `price`.
      Object.assign(parent, { orderType: 'STP', price: checkTick(intent.stopPrice as number, 'stopPrice', tick) });
      break;
    case 'stop-limit':
      Object.assign(parent, { orderType: 'STOP_LIMIT', price: checkTick(intent.price as number, 'price', tick), auxPrice: checkTick(intent.stopPrice as number, 'stopPrice', tick) });
      break;
  }
  const legs: PlannedLeg[] = [{ role: 'entry', clientOrderId, order: parent }];
  if (intent.bracket) {
    // Protective legs stay working until filled or cancelled, whatever the entry's time in force.
    const child = { conid: contract.conid, secType: contract.secType, quantity: intent.quantity, side: exit, parentId: clientOrderId, tif: 'GTC' } as const;
    legs.push({ role: 'stop', clientOrderId: `${clientOrderId}:stop`, order: { ...child, orderType: 'STP', price: checkTick(intent.bracket.stop, 'bracket stop', tick) } });
    legs.push({ role: 'target', clientOrderId: `${clientOrderId}:target`, order: { ...child, orderType: 'LMT', price: checkTick(intent.bracket.target, 'bracket target', tick) } });
  }
  return legs;
}

/** Applies a modification to the order as placed (IBKR wants every original field repeated, changes applied). */
export function applyModify(original: IbkrOrderRequest, change: ModifyIntent, tick: number | null = ES_TICK): IbkrOrderRequest {
  const next: IbkrOrderRequest = { ...original };
  delete next.clientOrderId; // the cOID belongs to the original placement and is never sent twice
  if (change.quantity !== undefined) next.quantity = change.quantity;
  if (change.tif !== undefined) next.tif = ibkrTif(change.tif);
  const type = original.orderType;
  if (change.price !== undefined) {
    if (type === 'MKT' || type === 'STP') throw new InvalidInputError(`a ${type === 'MKT' ? 'market' : 'stop'} order has no limit price to modify: change its stopPrice${type === 'MKT' ? ' (none either) or cancel it' : ''}.`);
    next.price = checkTick(change.price, 'price', tick);
  }
  if (change.stopPrice !== undefined) {
    if (type === 'STP') next.price = checkTick(change.stopPrice, 'stopPrice', tick);
    else if (type === 'STOP_LIMIT') next.auxPrice = checkTick(change.stopPrice, 'stopPrice', tick);
    else throw new InvalidInputError(`a ${type === 'LMT' ? 'limit' : 'market'} order has no stop price to modify.`);
  }
  return next;
}

