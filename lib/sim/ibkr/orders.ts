// The simulated account's orders, executions and positions. Orders fill against the seeded market: market orders at
// the touch, limits when marketable or when a trade prints through the limit, stops when a trade reaches the stop.
// Fills are whole (no partials). Every change is emitted as 'order' with the changed fields, for the `sor` topic.
import { EventEmitter } from 'events';
import type { Market, MarketTrade } from '../market-types';
import { type Instrument, instrumentDescription, instrumentSymbol, multiplier, secType } from './instruments';
import type { MarketView } from './market-view';

export type OrderStatus = 'Inactive' | 'PendingSubmit' | 'PreSubmitted' | 'Submitted' | 'Filled' | 'PendingCancel' | 'Cancelled';
export type OrderType = 'MKT' | 'LMT' | 'STP' | 'STOP_LIMIT';
const ORDER_TYPES: readonly string[] = ['MKT', 'LMT', 'STP', 'STOP_LIMIT'];
const OPEN_STATUSES: readonly OrderStatus[] = ['PendingSubmit', 'PreSubmitted', 'Submitted'];
const CANCEL_DELAY_MS_DEFAULT = 50;
const COMMISSION_PER_CONTRACT = { future: 2.25, option: 0.65, index: 0 };

export interface OrderTicket {
  acctId: string;
  inst: Instrument;
  side: 'BUY' | 'SELL';
  orderType: OrderType;
  quantity: number;
  price?: number;
  auxPrice?: number;
  tif: string;
  cOID?: string;
  /** Bracket child: waits for the parent (by cOID) to fill; siblings are one-cancels-all. */
  parentId?: string;
  outsideRTH: boolean;
}

export interface SimOrder extends OrderTicket {
  orderId: number;
  status: OrderStatus;
  filledQuantity: number;
  avgPrice?: number;
  triggered: boolean;
  lastExecutionTime?: number;
}

export interface Execution {
  executionId: string;
  orderId: number;
  inst: Instrument;
  side: 'BUY' | 'SELL';
  size: number;
  price: number;
  time: number;
  cOID?: string;
  commission: number;
}

export interface Position {
  inst: Instrument;
  position: number;
  avgPrice: number; // per unit of price (not × multiplier)
  realizedPnl: number;
}

/** Parses an IBKR order body into a ticket, or returns the rejection text IBKR would send. */
export function parseTicket(
  raw: Record<string, unknown>,
  acctId: string,
  resolve: (conid: number) => Instrument | undefined,
): OrderTicket | string {
  const conid = Number(raw.conid ?? String(raw.conidex ?? '').split('@')[0]);
  const inst = resolve(conid);
  if (!inst || inst.kind === 'index') return `Invalid contract id ${String(raw.conid ?? raw.conidex)}`;
  const side = String(raw.side ?? '').toUpperCase();
  if (side !== 'BUY' && side !== 'SELL') return 'side must be BUY or SELL';
  const orderType = String(raw.orderType ?? '').toUpperCase();
  if (!ORDER_TYPES.includes(orderType)) return `Order type ${orderType || '(none)'} is not supported by this simulator`;
  const quantity = Number(raw.quantity);
  if (!(quantity > 0) || !Number.isInteger(quantity)) return 'quantity must be a positive whole number';
  const price = raw.price === undefined ? undefined : Number(raw.price);
  const auxPrice = raw.auxPrice === undefined ? undefined : Number(raw.auxPrice);
  if (orderType !== 'MKT' && !(price !== undefined && price > 0)) return `${orderType} order needs a price`;
  if (orderType === 'STOP_LIMIT' && !(auxPrice !== undefined && auxPrice > 0)) return 'STOP_LIMIT order needs auxPrice (the stop price)';
  if (inst.kind === 'future' && (raw.manualIndicator === undefined || raw.extOperator === undefined)) {
    // ibkr-web-api.md §2: required for futures (CME Rule 536-B).
    return 'manualIndicator and extOperator are required for futures orders (CME Rule 536-B)';
  }
  if (raw.acctId !== undefined && String(raw.acctId) !== acctId) return `acctId ${String(raw.acctId)} does not match the account in the path`;
  return {
    acctId,
    inst,
    side,
    orderType: orderType as OrderType,
    quantity,
    price,
    auxPrice,
    tif: String(raw.tif ?? 'DAY').toUpperCase(),
    cOID: raw.cOID === undefined ? undefined : String(raw.cOID),
    parentId: raw.parentId === undefined ? undefined : String(raw.parentId),
    outsideRTH: raw.outsideRTH === true,
  };
}

export class OrderBook extends EventEmitter {
  private readonly orders = new Map<number, SimOrder>();
  private readonly usedCoids = new Map<string, number>();
  readonly executions: Execution[] = [];
  readonly positions = new Map<number, Position>();
  private nextOrderId = 1_402_000_001;
  private nextExecution = 1;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly onTrade = (trade: MarketTrade): void => this.matchTrade(trade);
  private lastOptionSweep = 0;

  constructor(
    private readonly market: Market,
    private readonly view: MarketView,
    private readonly cancelDelayMs = CANCEL_DELAY_MS_DEFAULT,
  ) {
    super();
    market.on('trade', this.onTrade);
  }

  close(): void {
    this.market.off('trade', this.onTrade);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  all(): SimOrder[] {
    return [...this.orders.values()];
  }

  get(orderId: number): SimOrder | undefined {
    return this.orders.get(orderId);
  }

  /** IBKR: cOID must be unique for 24 h. */
  coidTaken(cOID: string | undefined, now: number): boolean {
    if (cOID === undefined) return false;
    const at = this.usedCoids.get(cOID);
    return at !== undefined && now - at < 86_400_000;
  }

  place(ticket: OrderTicket, now: number): SimOrder {
    if (ticket.cOID !== undefined) this.usedCoids.set(ticket.cOID, now);
    const order: SimOrder = {
      ...ticket,
      orderId: this.nextOrderId++,
      status: ticket.orderType === 'STP' || ticket.orderType === 'STOP_LIMIT' ? 'PreSubmitted' : 'Submitted',
      filledQuantity: 0,
      triggered: false,
    };
    this.orders.set(order.orderId, order);
    this.emit('order', this.wire(order));
    return order;
  }

  /** After the place response is built: a marketable order fills at once. */
  activate(order: SimOrder, now: number): void {
    this.tryFillAtQuote(order, now);
  }

  private parentFilled(order: SimOrder): boolean {
    if (order.parentId === undefined) return true;
    const parent = [...this.orders.values()].find((o) => o.cOID === order.parentId);
    return parent?.status === 'Filled';
  }

  modify(order: SimOrder, changes: Partial<Pick<OrderTicket, 'price' | 'auxPrice' | 'quantity' | 'orderType' | 'tif'>>, now: number): void {
    Object.assign(order, Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)));
    this.emit('order', { orderId: order.orderId, ...this.changedWire(order, Object.keys(changes)) });
    this.tryFillAtQuote(order, now);
  }

  /** Acknowledged at once (PendingCancel); cancelled a moment later, as IBKR only acknowledges the request. */
  cancel(order: SimOrder): void {
    if (!isOpen(order)) return;
    this.setStatus(order, 'PendingCancel');
    for (const child of this.orders.values()) if (order.cOID !== undefined && child.parentId === order.cOID) this.cancel(child);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (order.status === 'PendingCancel') this.setStatus(order, 'Cancelled');
    }, this.cancelDelayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private setStatus(order: SimOrder, status: OrderStatus): void {
    order.status = status;
    this.emit('order', { orderId: order.orderId, acct: order.acctId, conid: order.inst.conid, status, order_ccp_status: status });
  }

  /**
   * A market order, a marketable limit, or a triggered stop fills at the touch when the instrument is trading: up to
   * the size shown at the touch, the rest one tick through it (within the limit, else it keeps working partly
   * filled). A large order so fills in several executions, as IBKR reports them (partial fills, avgPrice first).
   */
  private tryFillAtQuote(order: SimOrder, now: number): void {
    if (!isOpen(order) || !this.parentFilled(order)) return;
    const q = this.view.quote(order.inst);
    if (!q || !q.trading || q.bid === undefined || q.ask === undefined) return;
    const buy = order.side === 'BUY';
    const touch = buy ? q.ask : q.bid;
    if (!order.triggered && (order.orderType === 'STP' || order.orderType === 'STOP_LIMIT')) return;
    const limit = order.orderType === 'STP' || order.orderType === 'MKT' ? undefined : order.price;
    const within = (px: number): boolean => limit === undefined || (buy ? px <= limit : px >= limit);
    if (!within(touch)) return;
    const shown = buy ? q.askSize : q.bidSize;
    const remaining = order.quantity - order.filledQuantity;
    const atTouch = shown !== undefined && shown > 0 ? Math.min(remaining, shown) : remaining;
    this.execute(order, atTouch, touch, now);
    const through = touch + (buy ? 1 : -1) * tickOf(order.inst);
    if (order.quantity > order.filledQuantity && within(through)) this.execute(order, order.quantity - order.filledQuantity, through, now);
  }

  private matchTrade(trade: MarketTrade): void {
    for (const order of this.orders.values()) {
      if (!isOpen(order) || order.inst.kind !== 'future' || !this.parentFilled(order)) continue;
      const buy = order.side === 'BUY';
      if ((order.orderType === 'STP' || order.orderType === 'STOP_LIMIT') && !order.triggered) {
        const stop = order.orderType === 'STP' ? (order.price as number) : (order.auxPrice as number);
        if (buy ? trade.price >= stop : trade.price <= stop) {
          order.triggered = true;
          if (order.orderType === 'STP') {
            this.execute(order, order.quantity - order.filledQuantity, trade.price, trade.t);
            continue;
          }
          this.setStatus(order, 'Submitted');
        } else continue;
      }
      if (order.orderType === 'MKT') this.execute(order, order.quantity - order.filledQuantity, buy ? trade.ask : trade.bid, trade.t);
      else if (order.price !== undefined && (buy ? trade.price < order.price : trade.price > order.price)) {
        // Traded through the limit: a resting limit at that price was certainly filled.
        this.execute(order, order.quantity - order.filledQuantity, order.price, trade.t);
      }
    }
    if (trade.t - this.lastOptionSweep >= 1000) {
      this.lastOptionSweep = trade.t;
      for (const order of this.orders.values()) if (order.inst.kind === 'option') this.tryFillAtQuote(order, trade.t);
    }
  }

  /** One execution of `size` at `price`; the order is Filled when nothing remains. */
  private execute(order: SimOrder, size: number, price: number, now: number): void {
    if (!(size > 0)) return;
    const before = order.filledQuantity;
    order.filledQuantity = before + size;
    order.avgPrice = before === 0 || order.avgPrice === undefined ? price : (order.avgPrice * before + price * size) / order.filledQuantity;
    const done = order.filledQuantity >= order.quantity;
    if (done) order.status = 'Filled';
    order.lastExecutionTime = now;
    const commission = COMMISSION_PER_CONTRACT[order.inst.kind] * size;
    const execution: Execution = {
      executionId: `0000e0d5.${(this.nextExecution++).toString(16).padStart(8, '0')}.01.01`,
      orderId: order.orderId,
      inst: order.inst,
      side: order.side,
      size,
      price,
      time: now,
      cOID: order.cOID,
      commission,
    };
    this.executions.push(execution);
    this.applyToPosition(order.inst, order.side === 'BUY' ? size : -size, price, commission);
    // IBKR's sor: avgPrice comes with the first fill only; later fill updates omit it (websocket docs' sample).
    const changed = ['status', 'filledQuantity', 'remainingQuantity', 'lastExecutionTime_r', ...(before === 0 ? ['avgPrice'] : [])];
    this.emit('order', { orderId: order.orderId, ...this.changedWire(order, changed) });
    this.emit('execution', execution);
    this.emit('fill');
    if (!done) return;
    for (const other of this.orders.values()) {
      if (order.parentId !== undefined && other !== order && other.parentId === order.parentId) this.cancel(other);
      if (order.cOID !== undefined && other.parentId === order.cOID) this.tryFillAtQuote(other, now);
    }
  }

  private applyToPosition(inst: Instrument, qty: number, price: number, commission: number): void {
    const p = this.positions.get(inst.conid) ?? { inst, position: 0, avgPrice: 0, realizedPnl: 0 };
    p.realizedPnl -= commission;
    if (p.position === 0 || Math.sign(p.position) === Math.sign(qty)) {
      p.avgPrice = (p.avgPrice * Math.abs(p.position) + price * Math.abs(qty)) / (Math.abs(p.position) + Math.abs(qty));
      p.position += qty;
    } else {
      const closing = Math.min(Math.abs(qty), Math.abs(p.position));
      p.realizedPnl += closing * (price - p.avgPrice) * Math.sign(p.position) * multiplier(inst);
      const rest = qty + Math.sign(p.position) * closing;
      p.position += qty;
      if (p.position === 0) p.avgPrice = 0;
      else if (rest !== 0 && Math.sign(rest) === Math.sign(p.position) && Math.abs(qty) > closing) p.avgPrice = price;
    }
    this.positions.set(inst.conid, p);
  }

  /** For tests and demos: sets a position directly (e.g. many option positions to exercise paging). */
  setPosition(inst: Instrument, position: number, avgPrice: number): void {
    this.positions.set(inst.conid, { inst, position, avgPrice, realizedPnl: 0 });
  }

  /** The live-orders record IBKR returns (ibkr-web-api.md §2). */
  wire(order: SimOrder): Record<string, unknown> {
    const inst = order.inst;
    return {
      acct: order.acctId,
      conidex: String(inst.conid),
      conid: inst.conid,
      account: order.acctId,
      orderId: order.orderId,
      cashCcy: 'USD',
      sizeAndFills: `${order.filledQuantity}/${order.quantity}`,
      orderDesc: `${order.side === 'BUY' ? 'Buy' : 'Sell'} ${order.quantity} ${order.orderType}${order.price !== undefined ? ` ${order.price}` : ''}, ${order.tif}`,
      description1: instrumentDescription(inst),
      ticker: instrumentSymbol(inst),
      secType: secType(inst),
      listingExchange: inst.kind === 'future' ? 'CME' : 'CBOE',
      remainingQuantity: order.quantity - order.filledQuantity,
      filledQuantity: order.filledQuantity,
      totalSize: order.quantity,
      companyName: inst.kind === 'future' ? 'E-mini S&P 500' : 'S&P 500 Stock Index',
      status: order.status,
      order_ccp_status: order.status,
      avgPrice: order.avgPrice === undefined ? undefined : String(order.avgPrice),
      origOrderType: order.orderType === 'LMT' ? 'LIMIT' : order.orderType === 'MKT' ? 'MARKET' : order.orderType === 'STP' ? 'STOP' : 'STOP LIMIT',
      orderType: order.orderType === 'LMT' ? 'Limit' : order.orderType === 'MKT' ? 'Market' : order.orderType === 'STP' ? 'Stop' : 'Stop Limit',
      price: order.price === undefined ? undefined : String(order.price),
      auxPrice: order.auxPrice === undefined ? undefined : String(order.auxPrice),
      timeInForce: order.tif,
      lastExecutionTime_r: order.lastExecutionTime,
      side: order.side,
      order_ref: order.cOID,
    };
  }

  private changedWire(order: SimOrder, keys: string[]): Record<string, unknown> {
    const full = this.wire(order);
    const aliases: Record<string, string[]> = {
      quantity: ['totalSize', 'remainingQuantity', 'sizeAndFills'],
      filledQuantity: ['filledQuantity', 'sizeAndFills'],
      orderType: ['orderType', 'origOrderType'],
      tif: ['timeInForce'],
      status: ['status', 'order_ccp_status'],
    };
    const out: Record<string, unknown> = { acct: order.acctId, conid: order.inst.conid };
    for (const k of keys) for (const field of aliases[k] ?? [k]) out[field] = full[field];
    return out;
  }
}

/** The price step the simulator's fills walk through the book by: ES 0.25, SPX options 0.05. */
function tickOf(inst: Instrument): number {
  return inst.kind === 'future' ? 0.25 : 0.05;
}

export function isOpen(order: SimOrder): boolean {
  return OPEN_STATUSES.includes(order.status);
}
