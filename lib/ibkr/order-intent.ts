// What a trader asked for (an `order` message, or a Battle Navale `signal`) → a checked intent → the IBKR order
// bodies that carry it out (ibkr-web-api.md §2, "Place"). Pure: no I/O, time comes in as `now`. Anything malformed
// is refused here with an InvalidInputError naming the field, before any request could be built.
import { randomBytes } from 'node:crypto';
import type { OrderRequest, OrderType, Side, SignalPayload, TimeInForce } from '../contracts';
import { InvalidInputError } from '../errors';
import { findInstrument, instrument } from '../trading/instruments';
import type { OrderRequest as IbkrOrderRequest, TimeInForce as IbkrTif } from './types';

/** ES minimum price increment (lib/trading/instruments.ts). */
export const ES_TICK = instrument('ES').tickSize;

/** The price grid the node checks before sending: every instrument the registry knows; others are left to IBKR. */
export function tickFor(symbol: string): number | null {
  return findInstrument(symbol)?.tickSize ?? null;
}

/** A new order (entry), possibly with a protective bracket. */
export interface EntryIntent {
  kind: 'entry';
  side: Side;
  quantity: number;
  type: OrderType;
  /** Limit price (limit, stop-limit). */
  price?: number;
  /** Trigger price (stop, stop-limit). */
  stopPrice?: number;
  /** One protective stop and one take-profit, both for the whole quantity (IBKR's classic bracket). */
  bracket?: { stop: number; target: number };
  tif: TimeInForce;
  /** The trader's own client order id, used only if never seen before. */
  clientOrderId?: string;
  /** Only ask IBKR for the margin and commission impact; place nothing. */
  whatIf: boolean;
  /** Where it came from, for status and messages ("signal LONG 09:41", "order"). */
  origin: string;
}

export interface ModifyIntent {
  kind: 'modify';
  /** The order to change, by the client order id it was placed with (bracket legs: "<id>:stop", "<id>:target"). */
  clientOrderId?: string;
  /** Or IBKR's order id. */
  orderId?: number;
  quantity?: number;
  price?: number;
  stopPrice?: number;
  tif?: TimeInForce;
}

export interface CancelIntent {
  kind: 'cancel';
  clientOrderId?: string;
  orderId?: number;
}

export interface CancelAllIntent {
  kind: 'cancel-all';
}

export type OrderIntent = EntryIntent | ModifyIntent | CancelIntent | CancelAllIntent;

/** The node's settings that turn a signal into an order. */
export interface SignalOrderSettings {
  quantity: number;
  /** 'market' enters at once; 'limit' rests at the signal's entry price. */
  entryType: 'market' | 'limit';
  /** Which of the signal's targets the take-profit uses (index into targets: 0 = TP1, 1 = TP2). */
  targetIndex: number;
  tif: TimeInForce;
}

export const DEFAULT_SIGNAL_SETTINGS: Readonly<SignalOrderSettings> = Object.freeze({ quantity: 1, entryType: 'market', targetIndex: 0, tif: 'day' });

const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop-limit'];
const TIFS: readonly TimeInForce[] = ['day', 'gtc', 'ioc', 'fok'];
const ACTIONS = ['buy', 'sell', 'modify', 'cancel', 'cancel-all', 'flatten'] as const;

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const show = (v: unknown): string => {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
};

function price(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidInputError(`order ${field} must be a price above 0; got ${show(v)}.`);
  return v;
}

function optionalPrice(v: unknown, field: string): number | undefined {
  return v === undefined || v === null ? undefined : price(v, field);
}

function contracts(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 10_000) {
    throw new InvalidInputError(`order ${field} must be a whole number of contracts above 0; got ${show(v)}.`);
  }
  return v;
}

function orderId(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v > 0) return v;
  if (typeof v === 'string' && /^\d{1,18}$/.test(v) && Number(v) > 0) return Number(v);
  throw new InvalidInputError(`order orderId must be IBKR's order id (a whole number); got ${show(v)}.`);
}

/** Client order ids: IBKR keeps them unique for 24 h; we allow letters, digits and - _ . : only, up to 40. */
export function checkClientOrderId(v: unknown): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.:-]{1,40}$/.test(v)) {
    throw new InvalidInputError(`order clientOrderId must be 1–40 letters, digits or - _ . : ; got ${show(v)}.`);
  }
  return v;
}

function tif(v: unknown): TimeInForce | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !TIFS.includes(v as TimeInForce)) throw new InvalidInputError(`order tif must be one of ${TIFS.join(', ')}; got ${show(v)}.`);
  return v as TimeInForce;
}

/** A bracket's prices must sit on the protective side: for a buy, stop below the target; for a sell, above. */
function checkBracket(side: Side, stop: number, target: number, reference: number | undefined): void {
  const below = side === 'buy' ? stop < target : stop > target;
  if (!below) {
    throw new InvalidInputError(
      `bracket stop ${stop} and target ${target} are the wrong way round for a ${side}: a ${side}'s stop must be ${side === 'buy' ? 'below' : 'above'} its target.`,
    );
  }
  if (reference !== undefined) {
    const ok = side === 'buy' ? stop < reference && reference < target : stop > reference && reference > target;
    if (!ok) {
      throw new InvalidInputError(
        `bracket stop ${stop} / target ${target} must lie on either side of the entry ${reference} (${side === 'buy' ? 'stop below, target above' : 'stop above, target below'}).`,
      );
    }
  }
}

/** Parses an `order` message payload (ARCHITECTURE.md, "order") into an intent; `whatIf` comes from msg.whatIf. */
export function parseOrderRequest(payload: unknown, options: { whatIf?: boolean } = {}): OrderIntent {
  if (!isRecord(payload)) throw new InvalidInputError(`an 'order' message needs an object payload {action, quantity, type, ...}; got ${show(payload)}.`);
  const p = payload as Partial<OrderRequest> & Json;
  const action = p.action;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) {
    throw new InvalidInputError(`order action must be one of buy, sell, modify, cancel, cancel-all; got ${show(action)}.`);
  }
  if (action === 'flatten') {
    throw new InvalidInputError('order action "flatten" is not done by ibkr-order: send "cancel-all", then a market order for the open position (ibkr-account shows it).');
  }
  if (action === 'cancel-all') return { kind: 'cancel-all' };
  const clientOrderId = checkClientOrderId(p.clientOrderId);
  if (action === 'cancel' || action === 'modify') {
    const id = orderId(p.orderId);
    if (!clientOrderId && id === undefined) {
      throw new InvalidInputError(`order ${action} needs the clientOrderId the order was placed with (or IBKR's orderId).`);
    }
    if (action === 'cancel') return { kind: 'cancel', clientOrderId, orderId: id };
    const modify: ModifyIntent = {
      kind: 'modify',
      clientOrderId,
      orderId: id,
      quantity: p.quantity === undefined ? undefined : contracts(p.quantity, 'quantity'),
      price: optionalPrice(p.price, 'price'),
      stopPrice: optionalPrice(p.stopPrice, 'stopPrice'),
      tif: tif(p.tif),
    };
    if (modify.quantity === undefined && modify.price === undefined && modify.stopPrice === undefined && modify.tif === undefined) {
      throw new InvalidInputError('order modify changes nothing: give a new quantity, price, stopPrice or tif.');
    }
    return modify;
  }
  const side: Side = action;
  const quantity = contracts(p.quantity, 'quantity');
  const type = p.type;
  if (typeof type !== 'string' || !ORDER_TYPES.includes(type as OrderType)) {
    throw new InvalidInputError(`order type must be one of ${ORDER_TYPES.join(', ')}; got ${show(type)}.`);
  }
  const entry: EntryIntent = { kind: 'entry', side, quantity, type: type as OrderType, tif: tif(p.tif) ?? 'day', clientOrderId, whatIf: options.whatIf === true, origin: 'order' };
  if (type === 'limit' || type === 'stop-limit') entry.price = price(p.price, 'price');
  if (type === 'stop' || type === 'stop-limit') entry.stopPrice = price(p.stopPrice, 'stopPrice');
  if (p.bracket !== undefined && p.bracket !== null) {
    if (!isRecord(p.bracket)) throw new InvalidInputError(`order bracket must be {stop, targets: [price]}; got ${show(p.bracket)}.`);
    const stop = price(p.bracket.stop, 'bracket.stop');
    const targets = p.bracket.targets;
    if (!Array.isArray(targets) || targets.length !== 1) {
      throw new InvalidInputError(
        `order bracket.targets must hold exactly one take-profit price (an IBKR bracket is one stop and one target for the whole quantity); got ${show(targets)}. Send one order per target to scale out.`,
      );
    }
    const target = price(targets[0], 'bracket.targets[0]');
    checkBracket(side, stop, target, entry.price ?? entry.stopPrice);
    entry.bracket = { stop, target };
  }
  return entry;
}

const clock = (t: number): string => new Date(t).toISOString().slice(11, 16);

/**
 * A Battle Navale signal → an entry with a bracket from its stop and chosen target, or null for NO_SIGNAL (ignored,
 * as the help says). A LONG/SHORT without entry, stop or the chosen target is refused.
 */
export function signalToIntent(payload: unknown, settings: SignalOrderSettings, options: { whatIf?: boolean } = {}): EntryIntent | null {
  if (!isRecord(payload)) throw new InvalidInputError(`a 'signal' message needs the Battle Navale payload {signal, entry, stop, targets}; got ${show(payload)}.`);
  const s = payload as Partial<SignalPayload> & Json;
  if (s.signal === 'NO_SIGNAL') return null;
  if (s.signal !== 'LONG' && s.signal !== 'SHORT') throw new InvalidInputError(`signal must be LONG, SHORT or NO_SIGNAL; got ${show(s.signal)}.`);
  const side: Side = s.signal === 'LONG' ? 'buy' : 'sell';
  const entry = price(s.entry, 'signal entry');
  const stop = price(s.stop, 'signal stop');
  if (!Array.isArray(s.targets)) throw new InvalidInputError(`signal targets must be a list of prices; got ${show(s.targets)}.`);
  const wanted = s.targets[settings.targetIndex];
  if (wanted === undefined) throw new InvalidInputError(`signal has no TP${settings.targetIndex + 1} (targets ${show(s.targets)}): choose another take-profit in the node.`);
  const target = price(wanted, `signal TP${settings.targetIndex + 1}`);
  checkBracket(side, stop, target, entry);
  const t = isRecord(s.bar) && typeof s.bar.t === 'number' ? s.bar.t : undefined;
  return {
    kind: 'entry',
    side,
    quantity: contracts(settings.quantity, 'quantity (node setting)'),
    type: settings.entryType,
    ...(settings.entryType === 'limit' ? { price: entry } : {}),
    bracket: { stop, target },
    tif: settings.tif,
    whatIf: options.whatIf === true,
    origin: `signal ${s.signal}${t === undefined ? '' : ` ${clock(t)}Z`}`,
  };
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

function onTick(x: number, tick: number): number {
  return Math.round(x / tick) * tick;
}

/** `tick` null: the contract's grid is not known here, IBKR checks it (question o382 or a rejection). */
function checkTick(x: number, field: string, tick: number | null): number {
  if (tick === null) return x;
  const r = onTick(x, tick);
  if (Math.abs(r - x) > 1e-9) throw new InvalidInputError(`order ${field} ${x} is not on the ${tick} price grid: use ${r}.`);
  return Number(r.toFixed(10));
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

/** A fresh client order id: "mia-" + time + random, never handed out twice by one generator. */
export class ClientOrderIds {
  private readonly seen = new Set<string>();
  private counter = 0;

  constructor(private readonly prefix = 'mia', private readonly random: () => string = () => randomBytes(4).toString('hex')) {}

  /** A new id, unique in this process and, through time and randomness, across restarts. */
  next(now: number): string {
    for (;;) {
      this.counter = (this.counter + 1) % 1296;
      const id = `${this.prefix}-${now.toString(36)}-${this.counter.toString(36)}${this.random()}`;
      if (!this.seen.has(id)) {
        this.seen.add(id);
        return id;
      }
    }
  }

  /** Honours a trader's own id once: a second use is refused (IBKR would reject it for 24 h anyway). */
  claim(id: string): string {
    if (this.seen.has(id)) {
      throw new InvalidInputError(`clientOrderId "${id}" was already used: a client order id is never reused. Leave it out and the node makes a new one.`);
    }
    this.seen.add(id);
    return id;
  }
}

/** A message as ibkr-order reads it: what it asks (null for NO_SIGNAL) and a per-message contract override. */
export interface MessageIntent {
  intent: OrderIntent | null;
  conid?: number;
  symbol?: string;
}

/**
 * Reads a Node-RED message: topic 'signal' (or 'battle-navale') → signalToIntent; topic 'order' → parseOrderRequest;
 * without a topic, the payload's shape decides ({signal} or {action}). Anything else is refused.
 */
export function intentFromMessage(topic: unknown, payload: unknown, signals: SignalOrderSettings, whatIf: boolean): MessageIntent {
  const t = typeof topic === 'string' ? topic : '';
  const isObject = isRecord(payload);
  const isSignal = t === 'signal' || t === 'battle-navale' || (t === '' && isObject && 'signal' in payload);
  const isOrder = t === 'order' || (t === '' && isObject && 'action' in payload);
  if (!isSignal && !isOrder) {
    throw new InvalidInputError(`msg.topic ${show(t)} is not handled: send an 'order' {action, quantity, type, ...} or a 'signal' (Battle Navale) message.`);
  }
  if (isSignal) return { intent: signalToIntent(payload, signals, { whatIf }) };
  const intent = parseOrderRequest(payload, { whatIf });
  const raw = payload as Json;
  let conid: number | undefined;
  if (raw.conid !== undefined) {
    conid = typeof raw.conid === 'number' ? raw.conid : NaN;
    if (!Number.isInteger(conid) || conid <= 0) throw new InvalidInputError(`order conid must be an IBKR contract id (a whole number); got ${show(raw.conid)}.`);
  }
  if (raw.symbol !== undefined && (typeof raw.symbol !== 'string' || raw.symbol.trim() === '')) {
    throw new InvalidInputError(`order symbol must be text such as "ES"; got ${show(raw.symbol)}.`);
  }
  return { intent, conid, symbol: raw.symbol as string | undefined };
}
