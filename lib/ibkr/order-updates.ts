// IBKR order state → the suite's `order-update` and `fill` messages (ARCHITECTURE.md, "Message contracts").
// The `sor` stream sends only the fields that changed (ibkr-web-api.md §4), so the tracker keeps each order's merged
// record and reports an update whenever its status or filled quantity moves, and a fill for every increase of the
// filled quantity. It reports only the orders registered with it (the node's own), but remembers the others for a
// while: the stream's first message about an order can arrive before the place request's answer names its id.
// Every status change passes the one order state machine (lib/trading/order-state.ts): a late or reordered message
// (Submitted after Filled, a smaller filled quantity) is reported as invalid and not applied.
import type { Fill, OrderStatus, OrderUpdate, Side } from '../contracts';
import { InvalidInputError } from '../errors';
import { contractStatus, isTerminal, transition, type OrderState } from '../trading/order-state';
import type { LiveOrder } from './types';
import { parseWireInt, parseWireNumber } from './wire';

/** IBKR's order warning (`text` with `warning_message`, e.g. 118) as one line; null when it sent none. */
export function orderWarning(o: Record<string, unknown>): string | null {
  const text = typeof o.text === 'string' ? o.text.trim() : '';
  const code = o.warning_message === undefined || o.warning_message === null ? '' : String(o.warning_message).trim();
  if (!text && !code) return null;
  if (!text) return `IBKR warning ${code}`;
  return code && !text.includes(code) ? `${text} (IBKR warning ${code})` : text;
}

type Json = Record<string, unknown>;

/** An order as we know it, merged from every message about it. */
export interface TrackedOrder {
  orderId: number;
  clientOrderId: string | null;
  ibkrStatus: string;
  /** The order's state under the one state machine; null until IBKR gave a status. */
  state: OrderState | null;
  side: Side | null;
  quantity: number | null;
  filledQuantity: number;
  averageFillPrice: number | null;
  /**
   * The filled quantity `averageFillPrice` covers. IBKR sends avgPrice with the first fill and omits it on later
   * `sor` updates, so fills beyond it have no known price yet: they are held, never priced at a stale average.
   */
  pricedQuantity: number;
  reason?: string;
  warning?: string;
  /** Executions (`str` trades) already counted, and their totals. */
  executionIds: Set<string>;
  executedQuantity: number;
  executedNotional: number;
  /** IBKR's time of the latest execution, when it said. */
  lastExecution?: number;
  /** The filled quantity and average price already reported as fills. */
  reportedFilled: number;
  reportedAverage: number | null;
}

/** A stream message the state machine refused (late, reordered or impossible): reported, not applied. */
export interface InvalidOrderUpdate {
  orderId: number;
  clientOrderId: string | null;
  ibkrStatus: string;
  reason: string;
}

export interface TrackerOutput {
  updates: OrderUpdate[];
  fills: Fill[];
  /** Present when a message was refused by the state machine. */
  invalid?: InvalidOrderUpdate[];
}

/** IBKR's order statuses (fact sheet §2) → the broker-neutral state. Other words (WarnState, ...) are working. */
export function ibkrOrderState(ibkrStatus: string): OrderState {
  switch (ibkrStatus.toLowerCase()) {
    case 'pendingsubmit':
    case 'apipending':
      return 'pending';
    case 'pendingcancel':
      return 'pending-cancel';
    case 'filled':
      return 'filled';
    case 'cancelled':
    case 'apicancelled':
      return 'cancelled';
    case 'inactive':
    case 'rejected':
      return 'rejected';
    default:
      // PreSubmitted, Submitted, WarnState
      return 'working';
  }
}

/** IBKR's order statuses → what a trader sees. PendingCancel stays working: IBKR has only acknowledged it. */
export function orderStatus(ibkrStatus: string, filledQuantity: number): OrderStatus {
  return contractStatus({ state: ibkrOrderState(ibkrStatus), filledQuantity });
}

function reasonFor(ibkrStatus: string): string | undefined {
  switch (ibkrStatus.toLowerCase()) {
    case 'pendingcancel':
      return 'cancel requested, not yet confirmed by IBKR';
    case 'presubmitted':
      return 'held by IBKR until its trigger or the market opens';
    case 'inactive':
      return 'IBKR made the order inactive (rejected, or outside its trading session): check TWS or the Portal';
    case 'warnstate':
      return 'IBKR flagged the order with a warning: check TWS or the Portal';
    default:
      return undefined;
  }
}

function sideOf(v: unknown): Side | null {
  const s = typeof v === 'string' ? v.toUpperCase() : '';
  return s === 'BUY' || s === 'B' ? 'buy' : s === 'SELL' || s === 'S' ? 'sell' : null;
}

interface OwnOrder {
  clientOrderId: string;
  side: Side;
  quantity: number;
}

interface Reported {
  status: OrderStatus;
  filled: number;
  priced: number;
  warning: string | undefined;
}

const MAX_REMEMBERED = 2000;

export class OrderTracker {
  private readonly orders = new Map<number, TrackedOrder>();
  /** The node's own orders by IBKR order id, and the parents by cOID until their id is known. */
  private readonly own = new Map<number, OwnOrder>();
  private readonly ownByCoid = new Map<string, OwnOrder>();
  private readonly reported = new Map<number, Reported>();

  /** Marks an order as ours once IBKR gave its id; reports what the stream already said about it. */
  register(orderId: number, own: OwnOrder, now: number): TrackerOutput {
    this.own.set(orderId, own);
    this.ownByCoid.set(own.clientOrderId, own);
    const order = this.orders.get(orderId);
    if (order) {
      order.clientOrderId = own.clientOrderId;
      order.side ??= own.side;
      order.quantity ??= own.quantity;
    }
    return { updates: this.report(orderId, now).updates, fills: this.newFills(orderId, order?.lastExecution ?? now) };
  }

  /**
   * Registers a parent's client order id before it is sent, so the stream's first message (which carries the cOID
   * as order_ref) is recognised even when it beats the place request's answer.
   */
  expect(own: OwnOrder): void {
    this.ownByCoid.set(own.clientOrderId, own);
  }

  /** A fill for every increase of the filled quantity of one of our orders not reported yet. */
  private newFills(orderId: number, t: number): Fill[] {
    const own = this.own.get(orderId);
    const order = this.orders.get(orderId);
    if (!own || !order || order.averageFillPrice === null || order.pricedQuantity <= order.reportedFilled) return [];
    const before = order.reportedFilled;
    const size = order.pricedQuantity - before;
    // The price of this fill, from the change of the average: (avg·priced − avg₀·filled₀) / size.
    const px = before > 0 && order.reportedAverage !== null ? (order.averageFillPrice * order.pricedQuantity - order.reportedAverage * before) / size : order.averageFillPrice;
    order.reportedFilled = order.pricedQuantity;
    order.reportedAverage = order.averageFillPrice;
    return [{ clientOrderId: own.clientOrderId, serverOrderId: String(orderId), side: order.side ?? own.side, quantity: size, price: Number(px.toFixed(8)), t }];
  }

  /** The status IBKR gave in its answer to the place request (order_status). */
  acknowledge(orderId: number, ibkrStatus: string, now: number, warning?: string | null): TrackerOutput {
    const order = this.record(orderId);
    if (ibkrStatus && order.state === null) {
      order.ibkrStatus = ibkrStatus;
      order.state = ibkrOrderState(ibkrStatus);
    }
    if (warning) order.warning = warning;
    return this.report(orderId, now);
  }

  /** The client order id an IBKR order id stands for, if it is one of ours. */
  clientOrderIdOf(orderId: number): string | undefined {
    return this.own.get(orderId)?.clientOrderId;
  }

  /** IBKR's order id for a client order id, if known. */
  orderIdOf(clientOrderId: string): number | undefined {
    for (const [orderId, own] of this.own) if (own.clientOrderId === clientOrderId) return orderId;
    return undefined;
  }

  /** The present state of one of our orders as an update, with `reason` (e.g. what a modification changed). */
  current(orderId: number, reason: string, t: number): OrderUpdate | undefined {
    const own = this.own.get(orderId);
    const order = this.orders.get(orderId);
    if (!own || !order) return undefined;
    return {
      clientOrderId: own.clientOrderId,
      serverOrderId: String(orderId),
      status: contractStatus({ state: order.state ?? 'pending', filledQuantity: order.filledQuantity }),
      side: order.side ?? own.side,
      quantity: order.quantity ?? own.quantity,
      filledQuantity: order.filledQuantity,
      averageFillPrice: order.averageFillPrice,
      reason,
      t,
    };
  }

  /** True while one of our orders has fills IBKR has not priced yet (it omits avgPrice on later `sor` updates). */
  awaitingFillPrices(): boolean {
    for (const id of this.own.keys()) {
      const o = this.orders.get(id);
      if (o && o.filledQuantity > o.pricedQuantity) return true;
    }
    return false;
  }

  /**
   * The signed quantity of our orders' fills IBKR has not priced yet (buys +, sells −): filled at IBKR, but not yet
   * reported as fills, so not yet in the risk rules' position. Position checks must add it.
   */
  /** Filled but not yet priced, of this desk's order `clientOrderId` (0 when none or unknown). */
  unpricedQuantityOf(clientOrderId: string): number {
    for (const [id, own] of this.own) {
      if (own.clientOrderId !== clientOrderId) continue;
      const o = this.orders.get(id);
      return o ? Math.max(0, o.filledQuantity - o.pricedQuantity) : 0;
    }
    return 0;
  }

  unpricedPosition(): number {
    let sum = 0;
    for (const [id, own] of this.own) {
      const o = this.orders.get(id);
      if (!o || o.filledQuantity <= o.pricedQuantity) continue;
      const side = o.side ?? own.side;
      sum += (side === 'buy' ? 1 : -1) * (o.filledQuantity - o.pricedQuantity);
    }
    return sum;
  }

  get(orderId: number): TrackedOrder | undefined {
    return this.orders.get(orderId);
  }

  /** Our orders that are still working (not filled, cancelled or rejected). */
  working(): TrackedOrder[] {
    return [...this.own.keys()]
      .map((id) => this.orders.get(id))
      .filter((o): o is TrackedOrder => o !== undefined && !(o.state !== null && isTerminal(o.state)));
  }

  /** One `sor` message: IBKR's array of changed order fields. */
  applyStream(args: readonly unknown[], now: number): TrackerOutput {
    const out: TrackerOutput = { updates: [], fills: [] };
    for (const raw of args) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) continue;
      const o = raw as Json;
      const orderId = parseWireInt(o.orderId);
      if (orderId === null || orderId <= 0) continue;
      const order = this.record(orderId);
      if (typeof o.order_ref === 'string' && o.order_ref) {
        order.clientOrderId = o.order_ref;
        const own = this.ownByCoid.get(o.order_ref);
        if (own && !this.own.has(orderId)) this.own.set(orderId, own);
      }
      const status = typeof o.status === 'string' && o.status ? o.status : null;
      const total = parseWireNumber(o.totalSize);
      const filled = parseWireNumber(o.filledQuantity);
      const avg = parseWireNumber(o.avgPrice);
      const warning = orderWarning(o);
      if (warning) order.warning = warning;
      const executed = parseWireNumber(o.lastExecutionTime_r);
      // The state machine judges status and quantities together; a refused message changes nothing of the order.
      const state = status !== null ? ibkrOrderState(status) : order.state;
      const quantity = total ?? order.quantity ?? this.own.get(orderId)?.quantity ?? 0;
      const filledNow = filled ?? order.filledQuantity;
      if (state !== null) {
        const verdict = transition(order.state === null ? undefined : { state: order.state, quantity: order.quantity ?? quantity, filledQuantity: order.filledQuantity }, { state, quantity, filledQuantity: filledNow });
        if (verdict.kind === 'invalid') {
          (out.invalid ??= []).push({ orderId, clientOrderId: this.own.get(orderId)?.clientOrderId ?? order.clientOrderId, ibkrStatus: status ?? order.ibkrStatus, reason: verdict.reason });
          continue;
        }
        order.state = state;
      } else if (filled !== null && filled < order.filledQuantity) {
        (out.invalid ??= []).push({ orderId, clientOrderId: order.clientOrderId, ibkrStatus: order.ibkrStatus, reason: `filled quantity cannot go down (from ${order.filledQuantity} to ${filled})` });
        continue;
      }
      if (status !== null) order.ibkrStatus = status;
      const side = sideOf(o.side);
      if (side) order.side = side;
      if (total !== null) order.quantity = total;
      const t = executed ?? now;
      if (filled !== null && filled > order.filledQuantity) order.filledQuantity = filled;
      if (avg !== null) {
        order.averageFillPrice = avg;
        order.pricedQuantity = order.filledQuantity;
      }
      if (executed !== null) order.lastExecution = executed;
      out.fills.push(...this.newFills(orderId, t));
      const r = this.report(orderId, t);
      out.updates.push(...r.updates);
    }
    this.forgetOld();
    return out;
  }

  /**
   * One `str` message: IBKR's executions (trades). They price the fills IBKR's `sor` updates left without an
   * average: an order's executions are matched by `order_ref` (its cOID) and counted once each (`execution_id`).
   */
  applyTrades(args: readonly unknown[], now: number): TrackerOutput {
    const out: TrackerOutput = { updates: [], fills: [] };
    for (const raw of args) {
      if (!raw || typeof raw !== 'object' || Array.isArray(raw)) continue;
      const x = raw as Json;
      const ref = typeof x.order_ref === 'string' ? x.order_ref : '';
      const id = typeof x.execution_id === 'string' ? x.execution_id : '';
      const size = parseWireNumber(x.size);
      const price = parseWireNumber(x.price);
      const orderId = ref ? this.orderIdOf(ref) : undefined;
      if (orderId === undefined || !id || size === null || !(size > 0) || price === null) continue;
      const order = this.record(orderId);
      if (order.executionIds.has(id)) continue;
      order.executionIds.add(id);
      order.executedQuantity += size;
      order.executedNotional += size * price;
      const t = parseWireNumber(x.trade_time_r) ?? now;
      if (order.executedQuantity > order.pricedQuantity) {
        order.averageFillPrice = order.executedNotional / order.executedQuantity;
        order.pricedQuantity = order.executedQuantity;
        if (order.executedQuantity > order.filledQuantity) order.filledQuantity = order.executedQuantity;
      }
      out.fills.push(...this.newFills(orderId, t));
      out.updates.push(...this.report(orderId, t).updates);
    }
    return out;
  }

  private record(orderId: number): TrackedOrder {
    let order = this.orders.get(orderId);
    if (!order) {
      order = {
        orderId,
        clientOrderId: null,
        ibkrStatus: '',
        state: null,
        side: null,
        quantity: null,
        filledQuantity: 0,
        averageFillPrice: null,
        pricedQuantity: 0,
        executionIds: new Set(),
        executedQuantity: 0,
        executedNotional: 0,
        reportedFilled: 0,
        reportedAverage: null,
      };
      this.orders.set(orderId, order);
    }
    return order;
  }

  /** An update for one of our orders when its status or filled quantity changed since the last report. */
  private report(orderId: number, t: number): TrackerOutput {
    const own = this.own.get(orderId);
    const order = this.orders.get(orderId);
    if (!own || !order || order.state === null) return { updates: [], fills: [] };
    const status = contractStatus({ state: order.state, filledQuantity: order.filledQuantity });
    const last = this.reported.get(orderId);
    if (last && last.status === status && last.filled === order.filledQuantity && last.priced === order.pricedQuantity && last.warning === order.warning) {
      return { updates: [], fills: [] };
    }
    this.reported.set(orderId, { status, filled: order.filledQuantity, priced: order.pricedQuantity, warning: order.warning });
    const unpriced = order.filledQuantity - order.pricedQuantity;
    const reason =
      unpriced > 0 && order.averageFillPrice !== null
        ? `IBKR has not sent the price of the last ${unpriced} filled: the average shown covers the first ${order.pricedQuantity}`
        : (order.reason ?? reasonFor(order.ibkrStatus));
    const update: OrderUpdate = {
      clientOrderId: own.clientOrderId,
      serverOrderId: String(orderId),
      status,
      side: order.side ?? own.side,
      quantity: order.quantity ?? own.quantity,
      filledQuantity: order.filledQuantity,
      averageFillPrice: order.averageFillPrice,
      ...(reason ? { reason } : {}),
      ...(order.warning ? { warning: order.warning } : {}),
      t,
    };
    return { updates: [update], fills: [] };
  }

  /** Keeps memory bounded: forgets the oldest orders that are not ours. */
  private forgetOld(): void {
    if (this.orders.size <= MAX_REMEMBERED) return;
    for (const id of this.orders.keys()) {
      if (this.orders.size <= MAX_REMEMBERED) break;
      if (!this.own.has(id)) this.orders.delete(id);
    }
  }
}

/** An order the node never got to send, or IBKR refused: reported as rejected with the reason. */
export function rejectedUpdate(clientOrderId: string, side: Side, quantity: number, reason: string, t: number): OrderUpdate {
  return { clientOrderId, serverOrderId: null, status: 'rejected', side, quantity, filledQuantity: 0, averageFillPrice: null, reason, t };
}

/** A live order (GET /iserver/account/orders) as an `order-update`; orders without a cOID get "ibkr-<orderId>". */
export function liveOrderUpdate(order: LiveOrder, now: number): OrderUpdate {
  const side = sideOf(order.side);
  // Never guessed: a side that is neither BUY nor SELL is an error, not a buy.
  if (side === null) throw new InvalidInputError(`IBKR live order ${order.orderId} has side ${JSON.stringify(order.side)}, neither BUY nor SELL: it cannot be reported as an order-update. Check it in TWS or the Portal.`);
  const filled = order.filledQuantity ?? 0;
  const quantity = order.quantity ?? filled + (order.remainingQuantity ?? 0);
  const reason = reasonFor(order.status);
  return {
    clientOrderId: order.clientOrderId ?? `ibkr-${order.orderId}`,
    serverOrderId: String(order.orderId),
    status: orderStatus(order.status, filled),
    side,
    quantity,
    filledQuantity: filled,
    averageFillPrice: order.averagePrice,
    ...(reason ? { reason } : {}),
    t: order.lastExecutionTime ?? now,
  };
}
