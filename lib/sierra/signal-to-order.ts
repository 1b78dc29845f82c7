// What a sierra-order node reads, as commands for the order manager: a Battle Navale `signal` becomes a bracket
// (battle-navale.md, "Orders suggested"), an `order` message (ARCHITECTURE.md, "Message contracts") becomes one of
// buy / sell / cancel / modify / flatten / cancel-all, and `kill` / `resume` drive the kill switch. Pure: no socket,
// no clock. Anything malformed is an InvalidInputError that names the field, so no order leaves on a guess.

import type { OrderAction, OrderRequest, OrderType, SignalPayload, TimeInForce } from '../contracts';
import { InvalidInputError } from '../errors';
import type { ModifyIntent, OrderIntent } from './order-wire';

/** How a signal is traded: the node's settings. */
export interface SignalOrderSettings {
  symbol: string;
  quantity: number;
  /** 'limit': a limit entry at the signal's entry price; 'market': enter now at the market. */
  entry: 'limit' | 'market';
  /** Which of the signal's targets [TP1, TP2] the bracket's profit target takes (a DTC bracket carries one). */
  target: 1 | 2;
}

export type OrderCommand =
  | { action: 'submit'; intent: OrderIntent }
  | { action: 'cancel'; clientOrderId: string }
  | { action: 'modify'; clientOrderId: string; change: ModifyIntent }
  | { action: 'flatten'; symbol: string }
  | { action: 'cancel-all'; symbol?: string };

/** What one input message asks for. */
export type SierraOrderInput =
  | { kind: 'signal'; payload: unknown }
  | { kind: 'order'; payload: unknown }
  | { kind: 'kill' }
  | { kind: 'resume' }
  /** A market price seen upstream (quote / tick): the reference of the price collar. Nothing is sent. */
  | { kind: 'price'; price: number; symbol?: string; t?: number };

const ORDER_ACTIONS: readonly OrderAction[] = ['buy', 'sell', 'cancel', 'modify', 'flatten', 'cancel-all'];
const ORDER_TYPES: readonly OrderType[] = ['market', 'limit', 'stop', 'stop-limit'];
const TIFS: readonly TimeInForce[] = ['day', 'gtc', 'ioc', 'fok'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function finitePrice(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0;
}

/** Sorts an input message by msg.topic first, then by the payload's shape. Throws on anything it cannot place. */
export function classifyInput(msg: { topic?: unknown; payload?: unknown }): SierraOrderInput {
  const topic = typeof msg.topic === 'string' ? msg.topic : '';
  const payload = msg.payload;
  const action = isRecord(payload) && typeof payload.action === 'string' ? payload.action : '';
  if (topic === 'kill' || action === 'kill') return { kind: 'kill' };
  if (topic === 'resume' || action === 'resume') return { kind: 'resume' };
  if (topic === 'signal' || topic === 'battle-navale') return { kind: 'signal', payload };
  if (topic === 'order') return { kind: 'order', payload };
  if (topic === 'quote' || topic === 'tick') {
    const price = isRecord(payload) ? (topic === 'quote' ? payload.last : payload.price) : undefined;
    if (!finitePrice(price)) throw new InvalidInputError(`A ${topic} message needs a positive ${topic === 'quote' ? 'last' : 'price'}: got ${JSON.stringify(price)}.`);
    // The contract and time the price belongs to, so the collar keys it by contract (SierraConnection.setLastTrade).
    // `contract` ('ESM26', from ibkr-quote) names the month; a bare `symbol` such as 'ES' is read as the front month.
    const named = isRecord(payload) ? [payload.contract, payload.symbol].find((v) => typeof v === 'string' && v.trim() !== '') : undefined;
    const symbol = typeof named === 'string' ? named : undefined;
    const t = isRecord(payload) && typeof payload.t === 'number' && Number.isFinite(payload.t) ? payload.t : undefined;
    return { kind: 'price', price, ...(symbol === undefined ? {} : { symbol }), ...(t === undefined ? {} : { t }) };
  }
  if (topic === '' && isRecord(payload)) {
    if (typeof payload.signal === 'string') return { kind: 'signal', payload };
    if (action) return { kind: 'order', payload };
  }
  throw new InvalidInputError(
    `sierra-order cannot read this message (topic ${JSON.stringify(msg.topic ?? null)}): send a signal (topic 'signal'), an order ` +
      "(topic 'order', payload.action buy | sell | cancel | modify | flatten | cancel-all), or topic 'kill' / 'resume'.",
  );
}

/**
 * A LONG or SHORT signal → the bracket it suggests: entry, stop, and target TP1 or TP2, with the node's quantity.
 * NO_SIGNAL → null (nothing to do). A signal whose levels are missing or on the wrong side throws.
 */
export function signalToIntent(payload: unknown, settings: SignalOrderSettings): OrderIntent | null {
  if (!isRecord(payload)) throw new InvalidInputError('A signal message needs an object payload from mia-battle-navale ({signal, entry, stop, targets, ...}).');
  const signal = payload.signal as SignalPayload['signal'] | unknown;
  if (signal === 'NO_SIGNAL') return null;
  if (signal !== 'LONG' && signal !== 'SHORT') {
    throw new InvalidInputError(`Signal ${JSON.stringify(signal)} is not LONG, SHORT or NO_SIGNAL: nothing was sent.`);
  }
  const { entry, stop, targets } = payload;
  if (!finitePrice(entry)) throw new InvalidInputError(`${signal} signal has no valid entry price (got ${JSON.stringify(entry)}): nothing was sent.`);
  if (!finitePrice(stop)) throw new InvalidInputError(`${signal} signal has no valid stop price (got ${JSON.stringify(stop)}): nothing was sent.`);
  if (!Array.isArray(targets) || !finitePrice(targets[settings.target - 1])) {
    throw new InvalidInputError(`${signal} signal has no valid TP${settings.target} in targets (got ${JSON.stringify(targets)}): nothing was sent.`);
  }
  const target = targets[settings.target - 1] as number;
  const long = signal === 'LONG';
  if (long ? !(stop < entry && entry < target) : !(target < entry && entry < stop)) {
    throw new InvalidInputError(
      `${signal} signal levels are inconsistent (stop ${stop}, entry ${entry}, TP${settings.target} ${target}): a LONG needs stop < entry < target, ` +
        'a SHORT target < entry < stop. Nothing was sent.',
    );
  }
  checkQuantity(settings.quantity, 'The node quantity');
  const intent: OrderIntent = {
    symbol: settings.symbol,
    side: long ? 'buy' : 'sell',
    quantity: settings.quantity,
    type: settings.entry,
    bracket: { stop, targets: [target] },
  };
  if (settings.entry === 'limit') intent.price = entry;
  return intent;
}

/**
 * An OrderRequest → the order manager's command. `defaults` are the node's settings: the symbol and quantity used
 * when the message leaves them out. Order type is never assumed: a buy or sell must say market, limit, stop or
 * stop-limit.
 */
export function orderRequestToCommand(payload: unknown, defaults: { symbol: string; quantity: number }): OrderCommand {
  if (!isRecord(payload)) throw new InvalidInputError('An order message needs an object payload: {action, quantity, type, price?, ...}.');
  const request = payload as Partial<OrderRequest> & Record<string, unknown>;
  const action = request.action;
  if (typeof action !== 'string' || !ORDER_ACTIONS.includes(action as OrderAction)) {
    throw new InvalidInputError(`Order action ${JSON.stringify(action)} is not valid: use ${ORDER_ACTIONS.join(', ')}.`);
  }
  const symbol = request.symbol === undefined || request.symbol === '' ? defaults.symbol : request.symbol;
  if (typeof symbol !== 'string' || symbol.trim() === '') throw new InvalidInputError('Order symbol must be the Sierra Chart symbol text (e.g. ESZ25_FUT_CME).');

  switch (action as OrderAction) {
    case 'flatten':
      return { action: 'flatten', symbol };
    case 'cancel-all':
      return request.symbol === undefined || request.symbol === '' ? { action: 'cancel-all' } : { action: 'cancel-all', symbol };
    case 'cancel':
      return { action: 'cancel', clientOrderId: requireClientOrderId(request.clientOrderId, 'cancel') };
    case 'modify': {
      const clientOrderId = requireClientOrderId(request.clientOrderId, 'modify');
      const change: ModifyIntent = {};
      if (request.price !== undefined) change.price = request.price;
      if (request.stopPrice !== undefined) change.stopPrice = request.stopPrice;
      if (request.quantity !== undefined) {
        checkQuantity(request.quantity, 'Modify quantity');
        change.quantity = request.quantity;
      }
      if (Object.keys(change).length === 0) throw new InvalidInputError(`Modify of ${clientOrderId} changes nothing: give price, stopPrice or quantity.`);
      return { action: 'modify', clientOrderId, change };
    }
    default:
      return { action: 'submit', intent: submitIntent(request, action as 'buy' | 'sell', symbol, defaults.quantity) };
  }
}

function submitIntent(request: Partial<OrderRequest> & Record<string, unknown>, side: 'buy' | 'sell', symbol: string, defaultQuantity: number): OrderIntent {
  if (request.clientOrderId !== undefined) {
    throw new InvalidInputError(`A ${side} order must not carry a clientOrderId: Sierra order ids are assigned once by the connection. Remove it (it is for cancel and modify).`);
  }
  const type = request.type;
  if (typeof type !== 'string' || !ORDER_TYPES.includes(type as OrderType)) {
    throw new InvalidInputError(`A ${side} order needs type market, limit, stop or stop-limit: got ${JSON.stringify(type)}. Nothing was sent.`);
  }
  // Only an absent quantity takes the node's default; null or any other non-number is refused, never guessed.
  const quantity = request.quantity === undefined ? defaultQuantity : request.quantity;
  checkQuantity(quantity, 'Order quantity');
  if (request.tif !== undefined && !TIFS.includes(request.tif)) throw new InvalidInputError(`Time in force ${JSON.stringify(request.tif)} is not valid: use ${TIFS.join(', ')}.`);
  const intent: OrderIntent = { symbol, side, quantity, type: type as OrderType };
  if (request.price !== undefined) intent.price = request.price;
  if (request.stopPrice !== undefined) intent.stopPrice = request.stopPrice;
  if (request.tif !== undefined) intent.tif = request.tif;
  if (request.bracket !== undefined) intent.bracket = request.bracket;
  return intent;
}

function requireClientOrderId(id: unknown, action: string): string {
  if (typeof id !== 'string' || id.trim() === '') {
    throw new InvalidInputError(`A ${action} needs the clientOrderId of the order (from its order-update message): none was given.`);
  }
  return id;
}

function checkQuantity(quantity: unknown, what: string): asserts quantity is number {
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity <= 0) {
    throw new InvalidInputError(`${what} ${JSON.stringify(quantity)} is not valid: use a whole number of contracts ≥ 1.`);
  }
}
