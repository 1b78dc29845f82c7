// The one order intent of both order nodes, and the one parser of what they read (ARCHITECTURE.md, "Message
// contracts"): an `order` message, a Battle Navale `signal`, and the kill switch (`kill` / `resume` / `kill-switch`).
// sierra-order and ibkr-order call this same function, so the same message means the same thing to both and a bad
// one is refused with the same words. The broker-specific translation (DTC messages, IBKR order bodies) comes after,
// in lib/sierra/order-wire.ts and lib/ibkr/order-intent.ts.
//
// Strict: nothing is guessed, dropped or defaulted. A field that does not belong to the action or the order type is
// refused (a price on a market order, a bracket on a cancel), an unknown field is refused, booleans are booleans
// (`msg.whatIf: "true"` is refused, never read as false), an unknown side is an error, quantities are whole numbers
// above 0, prices finite above 0 and on the instrument's tick when it is known, bracket prices on the protective
// side of the entry. Pure: no clock, no I/O, no state.

import type { OrderType, Side, TimeInForce } from '../contracts';
import { InvalidInputError, describeValue } from '../errors';
import type { KillSwitchState } from './risk-rules';
import { checkOwnClientOrderId } from './client-order-id';
import { rootOfSymbol } from './instrument-of';
import { findInstrument } from './instruments';

/** A new order, possibly with a protective bracket (one stop and one take-profit for the whole quantity). */
export interface EntryIntent {
  kind: 'entry';
  side: Side;
  quantity: number;
  type: OrderType;
  /** Limit price: limit and stop-limit orders only. */
  price?: number;
  /** Trigger price: stop and stop-limit orders only. */
  stopPrice?: number;
  bracket?: { stop: number; target: number };
  tif: TimeInForce;
  /** The trader's own client order id (claimed once by the generator), else the node makes one. */
  clientOrderId?: string;
  /** Only ask what the order would cost (IBKR what-if); place nothing. */
  whatIf: boolean;
  /** Where it came from, for status and logs ("order", "signal LONG 14:41Z"). */
  origin: string;
}

/** A change to a working order. Quantity is the new total, filled part included. */
export interface ModifyIntent {
  kind: 'modify';
  clientOrderId: string;
  quantity?: number;
  price?: number;
  stopPrice?: number;
  tif?: TimeInForce;
}

export interface CancelIntent {
  kind: 'cancel';
  clientOrderId: string;
}

/** Cancels every working order (of the instrument when one is named). */
export interface CancelAllIntent {
  kind: 'cancel-all';
}

/** Cancels the instrument's working orders, then closes its position at the market. */
export interface FlattenIntent {
  kind: 'flatten';
}

export type OrderIntent = EntryIntent | ModifyIntent | CancelIntent | CancelAllIntent | FlattenIntent;

/** `payload.symbol` or `payload.conid` of an order: the instrument it really trades, instead of the node's. */
export type InstrumentOverride = { symbol: string } | { conid: number };

export type { KillSwitchState };

/** What one input message asks for. */
export type ParsedMessage =
  /** `instrument` is set only when the message names one (entry, flatten, cancel-all). */
  | { kind: 'order'; intent: OrderIntent; instrument?: InstrumentOverride }
  /** NO_SIGNAL: nothing to do. */
  | { kind: 'ignored'; reason: string }
  /** HALTED (topic 'kill', or 'kill-switch' "HALTED"): no new order, cancel every working order, flatten the account. */
  | { kind: 'kill-switch'; state: KillSwitchState };

/** How a node trades a signal: its settings. */
export interface SignalSettings {
  quantity: number;
  /** 'limit': a limit entry at the signal's entry price; 'market': enter now. */
  entryType: 'market' | 'limit';
  /** Which of the signal's targets [TP1, TP2] the take-profit takes. */
  target: 1 | 2;
  tif: TimeInForce;
}

export interface ParseSettings {
  signal: SignalSettings;
  /** The instrument's minimum price increment when known (ES 0.25); null: checked later by the broker. */
  tickSize: number | null;
  /** The node's what-if setting, used when msg.whatIf is absent. */
  whatIf: boolean;
}

export const ORDER_ACTIONS = ['buy', 'sell', 'modify', 'cancel', 'cancel-all', 'flatten'] as const;
export const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop-limit'];
export const TIFS: readonly TimeInForce[] = ['day', 'gtc', 'ioc', 'fok'];
export const KILL_SWITCH_STATES: readonly KillSwitchState[] = ['ACTIVE', 'REDUCING', 'HALTED'];
/** A sanity bound, far above any risk limit: a quantity above it is a typo, not an order. */
export const MAX_ORDER_QUANTITY = 10_000;
/** Existing orders are named by the id they were placed with; IBKR bracket legs are "<id>:stop" / "<id>:target". */
const ORDER_REF = /^[A-Za-z0-9_.:-]{1,40}$/;
const SYMBOL = /^[A-Za-z0-9_.\-/ #]{1,64}$/;

/** The fields each action takes (besides `action`). Anything else in the payload is refused. */
const FIELDS: Readonly<Record<(typeof ORDER_ACTIONS)[number], readonly string[]>> = {
  buy: ['quantity', 'type', 'price', 'stopPrice', 'bracket', 'tif', 'clientOrderId', 'symbol', 'conid'],
  sell: ['quantity', 'type', 'price', 'stopPrice', 'bracket', 'tif', 'clientOrderId', 'symbol', 'conid'],
  modify: ['clientOrderId', 'quantity', 'price', 'stopPrice', 'tif'],
  cancel: ['clientOrderId'],
  'cancel-all': ['symbol', 'conid'],
  flatten: ['symbol', 'conid'],
};

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const refused = (text: string): InvalidInputError => new InvalidInputError(`Order refused: ${text} Nothing was sent.`);

/** Own, present fields: `undefined` counts as absent (JSON drops it); null is a value, and refused where it does not belong. */
function has(p: Json, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(p, key) && p[key] !== undefined;
}

function quantityOf(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > MAX_ORDER_QUANTITY) {
    throw refused(`${what} ${describeValue(v)} is not valid: use a whole number of contracts from 1 to ${MAX_ORDER_QUANTITY}.`);
  }
  return v;
}

/**
 * The one price check of both brokers' order paths: a finite number of at least one tick, on the instrument's tick
 * (`tickSize` null: not known here, the broker checks). Returns the price on the tick, without floating-point noise.
 */
export function checkPrice(v: unknown, what: string, tickSize: number | null): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw refused(`${what} ${describeValue(v)} is not a price: use a number above 0.`);
  if (tickSize !== null && tickSize > 0) {
    const ticks = Math.round(v / tickSize);
    const onTick = Number((ticks * tickSize).toFixed(10));
    if (ticks < 1) throw refused(`${what} ${v} is below the instrument's ${tickSize} tick: use a price of at least ${tickSize}.`);
    if (Math.abs(v / tickSize - ticks) > 1e-6) {
      throw refused(`${what} ${v} is not on the instrument's ${tickSize} tick: use a multiple of ${tickSize} (e.g. ${onTick}).`);
    }
    // Within a millionth of a tick: the same price as written, without the binary floating-point noise of its decimal.
    return onTick;
  }
  return v;
}

function tifOf(v: unknown): TimeInForce {
  if (typeof v !== 'string' || !(TIFS as readonly string[]).includes(v)) throw refused(`tif ${describeValue(v)} is not valid: use ${TIFS.join(', ')}.`);
  return v as TimeInForce;
}

function orderRef(v: unknown, action: string): string {
  if (v === undefined) throw refused(`a ${action} needs the clientOrderId of the order (from its order-update message): none was given.`);
  if (typeof v !== 'string' || !ORDER_REF.test(v)) throw refused(`${action} clientOrderId ${describeValue(v)} is not an order id: use the clientOrderId from the order's order-update message.`);
  return v;
}

/** msg.whatIf: absent takes the node's setting; otherwise true or false, nothing else. */
export function whatIfOf(v: unknown, nodeDefault: boolean): boolean {
  if (v === undefined) return nodeDefault;
  if (typeof v !== 'boolean') {
    throw refused(`msg.whatIf must be the boolean true or false, not ${describeValue(v)} (a text "true" is not read as a boolean).`);
  }
  return v;
}

function instrumentOf(p: Json): InstrumentOverride | undefined {
  const symbol = has(p, 'symbol');
  const conid = has(p, 'conid');
  if (symbol && conid) throw refused('give the instrument as symbol or as conid, not both.');
  if (symbol) {
    const s = p.symbol;
    if (typeof s !== 'string' || !SYMBOL.test(s.trim()) || s.trim() !== s) {
      throw refused(`symbol ${describeValue(s)} is not an instrument symbol: use text such as "ES" or "ESZ25_FUT_CME", without spaces around it.`);
    }
    return { symbol: s };
  }
  if (conid) {
    const c = p.conid;
    if (typeof c !== 'number' || !Number.isInteger(c) || c <= 0) throw refused(`conid ${describeValue(c)} is not an IBKR contract id: use a whole number above 0.`);
    return { conid: c };
  }
  return undefined;
}

/** Refuses any field the action does not take, naming it and why. */
function checkFields(p: Json, action: (typeof ORDER_ACTIONS)[number]): void {
  const allowed = FIELDS[action];
  for (const key of Object.keys(p)) {
    if (key === 'action' || p[key] === undefined || allowed.includes(key)) continue;
    const known = ['quantity', 'type', 'price', 'stopPrice', 'bracket', 'tif', 'clientOrderId', 'symbol', 'conid'].includes(key);
    if (key === 'whatIf') throw refused(`whatIf belongs on the message (msg.whatIf), not in msg.payload: move it, as a boolean.`);
    throw refused(
      known
        ? `a ${action} takes no ${key} (${describeValue(p[key])} was given): remove it.`
        : `field ${describeValue(key)} is not part of an order message: remove it (a ${action} takes ${allowed.length ? allowed.join(', ') : 'nothing but action'}).`,
    );
  }
}

/** Bracket prices on the protective side: for a buy, stop below every entry price and target above; a sell the mirror. */
function bracketOf(v: unknown, side: Side, references: readonly number[], tickSize: number | null): { stop: number; target: number } {
  if (!isRecord(v)) throw refused(`bracket must be {stop, targets: [price]}, not ${describeValue(v)}.`);
  for (const key of Object.keys(v)) {
    if (key !== 'stop' && key !== 'targets' && v[key] !== undefined) throw refused(`bracket field ${describeValue(key)} is not part of a bracket: it takes stop and targets only.`);
  }
  const stop = checkPrice(v.stop, 'bracket stop', tickSize);
  const targets = v.targets;
  if (!Array.isArray(targets) || targets.length !== 1) {
    throw refused(`bracket targets must hold exactly one take-profit price (one stop and one target for the whole quantity), not ${describeValue(targets)}: send one order per target to scale out.`);
  }
  const target = checkPrice(targets[0], 'bracket target', tickSize);
  const long = side === 'buy';
  if (long ? !(stop < target) : !(stop > target)) {
    throw refused(`bracket stop ${stop} and target ${target} are the wrong way round for a ${side}: its stop must be ${long ? 'below' : 'above'} its target.`);
  }
  for (const ref of references) {
    if (long ? !(stop < ref && ref < target) : !(target < ref && ref < stop)) {
      throw refused(`bracket stop ${stop} and target ${target} must lie on either side of the entry ${ref} (${long ? 'stop below, target above' : 'stop above, target below'} for a ${side}).`);
    }
  }
  return { stop, target };
}

function entryOf(p: Json, side: Side, settings: ParseSettings, whatIf: boolean): EntryIntent {
  if (!has(p, 'quantity')) throw refused(`a ${side} needs quantity (a whole number of contracts): none was given.`);
  const quantity = quantityOf(p.quantity, 'quantity');
  const type = p.type;
  if (typeof type !== 'string' || !ORDER_TYPES.includes(type as OrderType)) {
    throw refused(`a ${side} needs type ${ORDER_TYPES.join(', ')}: ${type === undefined ? 'none was given' : `${describeValue(type)} is not one`} (the order type is never assumed).`);
  }
  const t = type as OrderType;
  const needsPrice = t === 'limit' || t === 'stop-limit';
  const needsStop = t === 'stop' || t === 'stop-limit';
  const entry: EntryIntent = { kind: 'entry', side, quantity, type: t, tif: has(p, 'tif') ? tifOf(p.tif) : 'day', whatIf, origin: 'order' };
  if (has(p, 'price')) {
    if (!needsPrice) throw refused(`a ${t} order takes no price (${describeValue(p.price)} was given): remove it or use a limit or stop-limit order.`);
    entry.price = checkPrice(p.price, 'price', settings.tickSize);
  } else if (needsPrice) throw refused(`a ${t} order needs price (its limit price): none was given.`);
  if (has(p, 'stopPrice')) {
    if (!needsStop) throw refused(`a ${t} order takes no stopPrice (${describeValue(p.stopPrice)} was given): remove it or use a stop or stop-limit order.`);
    entry.stopPrice = checkPrice(p.stopPrice, 'stopPrice', settings.tickSize);
  } else if (needsStop) throw refused(`a ${t} order needs stopPrice (its trigger price): none was given.`);
  if (has(p, 'clientOrderId')) {
    try {
      entry.clientOrderId = checkOwnClientOrderId(p.clientOrderId);
    } catch (err) {
      throw refused((err as Error).message);
    }
  }
  if (has(p, 'bracket')) {
    const refs = [entry.price, entry.stopPrice].filter((x): x is number => x !== undefined);
    entry.bracket = bracketOf(p.bracket, side, refs, settings.tickSize);
  }
  return entry;
}

function modifyOf(p: Json, tickSize: number | null): ModifyIntent {
  const intent: ModifyIntent = { kind: 'modify', clientOrderId: orderRef(p.clientOrderId, 'modify') };
  if (has(p, 'quantity')) intent.quantity = quantityOf(p.quantity, 'modify quantity');
  if (has(p, 'price')) intent.price = checkPrice(p.price, 'modify price', tickSize);
  if (has(p, 'stopPrice')) intent.stopPrice = checkPrice(p.stopPrice, 'modify stopPrice', tickSize);
  if (has(p, 'tif')) intent.tif = tifOf(p.tif);
  if (intent.quantity === undefined && intent.price === undefined && intent.stopPrice === undefined && intent.tif === undefined) {
    throw refused(`modify of ${intent.clientOrderId} changes nothing: give a new quantity, price, stopPrice or tif.`);
  }
  return intent;
}

/** An `order` message payload (ARCHITECTURE.md, "order") → what it asks. */
export function parseOrder(payload: unknown, settings: ParseSettings, whatIf: boolean): ParsedMessage {
  if (!isRecord(payload)) throw refused(`an order message needs an object payload {action, quantity, type, ...}, not ${describeValue(payload)}.`);
  const action = payload.action;
  // A kill is never refused, whatever else the message carries; a resume must say nothing else.
  if (action === 'kill') return { kind: 'kill-switch', state: 'HALTED' };
  if (action === 'resume') {
    const extra = Object.keys(payload).filter((k) => k !== 'action' && payload[k] !== undefined);
    if (extra.length) throw refused(`resume acts on the whole account and takes nothing but action: remove ${extra.join(', ')}.`);
    return { kind: 'kill-switch', state: 'ACTIVE' };
  }
  if (typeof action !== 'string' || !(ORDER_ACTIONS as readonly string[]).includes(action)) {
    throw refused(`action ${describeValue(action)} is not valid: use ${ORDER_ACTIONS.join(', ')} (or kill, resume).`);
  }
  const a = action as (typeof ORDER_ACTIONS)[number];
  checkFields(payload, a);
  if (whatIf && a !== 'buy' && a !== 'sell') throw refused(`a what-if prices a new order only: a ${a} with what-if on would act for real. Send it without msg.whatIf (and from a node whose what-if setting is off).`);
  switch (a) {
    case 'buy':
    case 'sell': {
      const instrument = instrumentOf(payload);
      const intent = entryOf(payload, a, settings, whatIf);
      return instrument ? { kind: 'order', intent, instrument } : { kind: 'order', intent };
    }
    case 'modify':
      return { kind: 'order', intent: modifyOf(payload, settings.tickSize) };
    case 'cancel':
      return { kind: 'order', intent: { kind: 'cancel', clientOrderId: orderRef(payload.clientOrderId, 'cancel') } };
    case 'cancel-all':
    case 'flatten': {
      const instrument = instrumentOf(payload);
      const intent: OrderIntent = { kind: a };
      return instrument ? { kind: 'order', intent, instrument } : { kind: 'order', intent };
    }
  }
}

/**
 * Re-checks a new order built outside the parser (a library caller, or an adapter that learns the instrument's tick
 * only later, e.g. from a DTC security definition) by the same rules and with the same words as parseOrderMessage.
 * `order` is in the `order` message's shape: {side, quantity, type, price?, stopPrice?, bracket?: {stop, targets}, tif?,
 * clientOrderId?}.
 */
export function checkNewOrder(order: Record<string, unknown>, tickSize: number | null): void {
  const { side, ...fields } = order;
  if (side !== 'buy' && side !== 'sell') throw refused(`side ${describeValue(side)} is not valid: use "buy" or "sell".`);
  const p: Json = { action: side, ...fields };
  checkFields(p, side);
  entryOf(p, side, { signal: { quantity: 1, entryType: 'market', target: 1, tif: 'day' }, tickSize, whatIf: false }, false);
}

const clock = (t: number): string => new Date(t).toISOString().slice(11, 16);

/** A Battle Navale signal → an entry with a bracket from its stop and chosen target, or 'ignored' for NO_SIGNAL. */
export function parseSignal(payload: unknown, settings: ParseSettings, whatIf: boolean): ParsedMessage {
  if (!isRecord(payload)) throw refused(`a signal message needs the Battle Navale payload {signal, entry, stop, targets, ...}, not ${describeValue(payload)}.`);
  const signal = payload.signal;
  if (signal === 'NO_SIGNAL') return { kind: 'ignored', reason: 'NO_SIGNAL' };
  if (signal !== 'LONG' && signal !== 'SHORT') throw refused(`signal ${describeValue(signal)} is not LONG, SHORT or NO_SIGNAL.`);
  const s = settings.signal;
  const side: Side = signal === 'LONG' ? 'buy' : 'sell';
  const entry = checkPrice(payload.entry, `${signal} signal entry`, settings.tickSize);
  const stop = checkPrice(payload.stop, `${signal} signal stop`, settings.tickSize);
  const targets = payload.targets;
  if (!Array.isArray(targets) || targets[s.target - 1] === undefined) {
    throw refused(`${signal} signal has no TP${s.target} in targets (${describeValue(targets)}): choose another take-profit in the node.`);
  }
  const target = checkPrice(targets[s.target - 1], `${signal} signal TP${s.target}`, settings.tickSize);
  const long = side === 'buy';
  if (long ? !(stop < entry && entry < target) : !(target < entry && entry < stop)) {
    throw refused(`${signal} signal levels are inconsistent (stop ${stop}, entry ${entry}, TP${s.target} ${target}): a LONG needs stop < entry < target, a SHORT target < entry < stop.`);
  }
  const bar = payload.bar;
  const t = isRecord(bar) && typeof bar.t === 'number' && Number.isFinite(bar.t) ? bar.t : undefined;
  const intent: EntryIntent = {
    kind: 'entry',
    side,
    quantity: quantityOf(s.quantity, 'the node quantity'),
    type: s.entryType,
    bracket: { stop, target },
    tif: s.tif,
    whatIf,
    origin: `signal ${signal}${t === undefined ? '' : ` ${clock(t)}Z`}`,
  };
  if (s.entryType === 'limit') intent.price = entry;
  return { kind: 'order', intent };
}

/** The kill switch by topic: 'kill' / 'resume', or 'kill-switch' with the state as payload. Any payload of kill is fine. */
function parseKillSwitch(topic: string, payload: unknown): ParsedMessage {
  if (topic === 'kill') return { kind: 'kill-switch', state: 'HALTED' };
  if (topic === 'resume') return { kind: 'kill-switch', state: 'ACTIVE' };
  if (typeof payload !== 'string' || !(KILL_SWITCH_STATES as readonly string[]).includes(payload)) {
    // Refusing a kill would be the worst answer: a 'kill-switch' message that says nothing else halts.
    throw new InvalidInputError(`kill-switch payload must be "HALTED", "REDUCING" or "ACTIVE", not ${describeValue(payload)}: nothing changed. (Topic 'kill' halts whatever the payload.)`);
  }
  return { kind: 'kill-switch', state: payload as KillSwitchState };
}

/** The topics this parser reads; a node handles market data ('tick', 'quote', 'bar') and 'gap' itself, before. */
export const ORDER_TOPICS: readonly string[] = ['order', 'signal', 'battle-navale', 'kill', 'resume', 'kill-switch'];

/**
 * One input message of an order node → what it asks: by msg.topic first; without a topic, by the payload's shape
 * ({signal} or {action}). Throws InvalidInputError with the same words for both nodes.
 */
export function parseOrderMessage(msg: { topic?: unknown; payload?: unknown; whatIf?: unknown }, settings: ParseSettings): ParsedMessage {
  const topic = msg.topic === undefined || msg.topic === null ? '' : msg.topic;
  if (typeof topic !== 'string') throw refused(`msg.topic ${describeValue(topic)} is not text.`);
  const payload = msg.payload;
  if (topic === 'kill' || topic === 'resume' || topic === 'kill-switch') return parseKillSwitch(topic, payload);
  const isSignal = topic === 'signal' || topic === 'battle-navale' || (topic === '' && isRecord(payload) && has(payload, 'signal'));
  const isOrder = topic === 'order' || (topic === '' && isRecord(payload) && has(payload, 'action'));
  if (!isSignal && !isOrder) {
    throw refused(
      `msg.topic ${describeValue(topic)} is not handled: send an 'order' {action, quantity, type, ...}, a 'signal' (Battle Navale), or 'kill' / 'resume' / 'kill-switch'.`,
    );
  }
  if (isOrder && isRecord(payload) && payload.action === 'kill') return { kind: 'kill-switch', state: 'HALTED' };
  const whatIf = whatIfOf(msg.whatIf, settings.whatIf);
  return isSignal ? parseSignal(payload, settings, whatIf) : parseOrder(payload, settings, whatIf);
}

/** The tick of the instrument a symbol names (any broker spelling), from the registry; null when it is not there (the broker checks). */
export function knownTickSize(symbolOrRoot: string): number | null {
  const root = rootOfSymbol(symbolOrRoot);
  return (root === null ? undefined : findInstrument(root))?.tickSize ?? null;
}
