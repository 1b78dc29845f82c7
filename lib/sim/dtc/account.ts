// The AMP-like futures account behind the DTC simulator: orders, fills, positions, cash and P&L. A pure core: it
// knows nothing of sockets or wire formats; every call takes the simulated time `now` and returns the events it
// caused, in the order a Sierra Chart server reports them (dtc-protocol.md §3: every fill is followed by a position
// and a balance update). Prices here are display prices (ES 4000.50); scaling to the wire is the server's job.

import { lastDailyAnchor, CHICAGO } from '../../clock';
import {
  BuySell,
  OrderStatus,
  OrderType,
  OrderUpdateReason,
  PartialFillHandling,
  TimeInForce,
  OpenClose,
} from '../../sierra/protocol';

export interface SimOrder {
  serverOrderId: string;
  clientOrderId: string;
  symbol: string;
  account: string;
  orderType: OrderType;
  side: BuySell;
  /** Limit, stop or trigger price; null for a market order. */
  price1: number | null;
  /** Limit of a stop-limit; null otherwise. */
  price2: number | null;
  quantity: number;
  filledQuantity: number;
  averageFillPrice: number | null;
  lastFill: { price: number; quantity: number; t: number; executionId: string } | null;
  status: OrderStatus;
  timeInForce: TimeInForce;
  receivedAt: number;
  updatedAt: number;
  freeFormText: string;
  openOrClose: OpenClose;
  previousServerOrderId: string;
  parentServerOrderId: string;
  ocoLinkedServerOrderId: string;
  partialFillHandling: PartialFillHandling;
  /** A stop-limit whose stop has traded: it now works as a limit at price2. */
  triggered: boolean;
  infoText: string;
}

export interface SimFill {
  executionId: string;
  serverOrderId: string;
  clientOrderId: string;
  symbol: string;
  account: string;
  side: BuySell;
  price: number;
  quantity: number;
  t: number;
  openClose: OpenClose;
}

export interface SimPosition {
  symbol: string;
  account: string;
  /** Signed: negative is short. */
  quantity: number;
  averagePrice: number;
  entryAt: number;
  /** Open P&L in $ at the last trade price. */
  openProfitLoss: number;
}

export interface SimBalance {
  account: string;
  currency: string;
  /** Starting balance plus realized P&L net of commissions. */
  cashBalance: number;
  openProfitLoss: number;
  /** Realized P&L (net) since the last 17:00 Chicago session start. */
  dailyProfitLoss: number;
  marginRequirement: number;
  availableForNewPositions: number;
}

export type AccountEvent =
  | { kind: 'order'; order: SimOrder; reason: OrderUpdateReason; previousClientOrderId?: string }
  | { kind: 'position'; position: SimPosition }
  | { kind: 'balance'; balance: SimBalance };

export interface NewOrder {
  clientOrderId: string;
  symbol: string;
  account: string;
  orderType: OrderType;
  side: BuySell;
  price1: number | null;
  price2: number | null;
  quantity: number;
  timeInForce: TimeInForce;
  freeFormText: string;
  openOrClose: OpenClose;
}

export interface OcoLegs {
  legs: [NewOrder, NewOrder];
  partialFillHandling: PartialFillHandling;
}

/** A fill a replay gives a matched order (lib/replay/order-path.ts): at market time t, this price and quantity. */
export interface ScriptedFill {
  t: number;
  price: number;
  quantity: number;
}

export interface Touch {
  bid: number;
  ask: number;
}

export interface AccountSettings {
  account: string;
  /** The symbol new positions may open in now (the front month: it changes when the contract rolls). */
  symbol: string | (() => string);
  startingBalance: number;
  /** $ per point: ES $50. */
  pointValue: number;
  /** Intraday margin per contract, $ (AMP's ES day margin is in the hundreds). */
  marginPerContract: number;
  /** $ per contract per side. */
  commissionPerContract: number;
  currency: string;
}

/** CME's trading day starts at 17:00 Chicago: daily P&L resets there. */
const SESSION_START_MINUTE = 17 * 60;

const WORKING_STATUSES: ReadonlySet<OrderStatus> = new Set<OrderStatus>([
  OrderStatus.ORDER_SENT,
  OrderStatus.PENDING_OPEN,
  OrderStatus.PENDING_CHILD,
  OrderStatus.OPEN,
  OrderStatus.PENDING_CANCEL_REPLACE,
  OrderStatus.PENDING_CANCEL,
  OrderStatus.PARTIALLY_FILLED,
]);

export function isWorking(order: SimOrder): boolean {
  return WORKING_STATUSES.has(order.status);
}

/** Why an order request was refused: the trader-readable text that goes to InfoText. */
export class OrderRefusal {
  constructor(
    readonly infoText: string,
    readonly order?: SimOrder,
  ) {}
}

export class SimAccount {
  private readonly orders = new Map<string, SimOrder>(); // by ServerOrderID, every order ever accepted
  /**
   * The orders that may still fill, in the order of `orders` (a modified order moves to the end there, and here).
   * Every trade is matched against them: against every order ever accepted it cost a copy of the whole book per
   * trade, thousands a second at the simulator's speeds. An order that stops working never works again: it leaves
   * this list at the next trade.
   */
  private mayFill: SimOrder[] = [];
  private readonly usedClientOrderIds = new Set<string>();
  /** Recorded fills to give, by ClientOrderID (script()). */
  private readonly scripts = new Map<string, ScriptedFill[]>();
  private readonly fillLog: SimFill[] = [];
  private readonly positionBySymbol = new Map<string, SimPosition>();
  private realizedTotal = 0;
  private lastPrice: number | null = null;
  private nextServerOrderId = 1;
  private nextExecutionId = 1;

  constructor(private readonly settings: AccountSettings) {}

  /** The symbol tradable now, and every symbol already traded (a rolled-out position can still be closed). */
  knowsSymbol(symbol: string): boolean {
    const current = typeof this.settings.symbol === 'function' ? this.settings.symbol() : this.settings.symbol;
    return symbol === current || this.positionBySymbol.has(symbol);
  }

  get accountName(): string {
    return this.settings.account;
  }

  // ---- inspection -------------------------------------------------------------------------------------------

  allOrders(): SimOrder[] {
    return [...this.orders.values()].map(copy);
  }

  workingOrders(): SimOrder[] {
    return this.allOrders().filter(isWorking);
  }

  order(serverOrderId: string): SimOrder | undefined {
    const order = this.orders.get(serverOrderId);
    return order ? copy(order) : undefined;
  }

  fills(): SimFill[] {
    return this.fillLog.map((f) => ({ ...f }));
  }

  /** Every symbol traded, flat ones included (the zero-quantity rows of a positions answer). */
  positions(): SimPosition[] {
    return [...this.positionBySymbol.values()].map((p) => this.withOpenPnl(p));
  }

  balance(now: number): SimBalance {
    const open = this.positions().reduce((sum, p) => sum + p.openProfitLoss, 0);
    const since = lastDailyAnchor(now, CHICAGO, SESSION_START_MINUTE);
    const daily = this.fillLog.filter((f) => f.t >= since).reduce((sum, f) => sum + (this.realizedByExecution.get(f.executionId) ?? 0), 0);
    const contracts = this.positions().reduce((sum, p) => sum + Math.abs(p.quantity), 0);
    const margin = contracts * this.settings.marginPerContract;
    const cash = this.settings.startingBalance + this.realizedTotal;
    return {
      account: this.settings.account,
      currency: this.settings.currency,
      cashBalance: round2(cash),
      openProfitLoss: round2(open),
      dailyProfitLoss: round2(daily),
      marginRequirement: margin,
      availableForNewPositions: round2(cash + open - margin),
    };
  }

  hasUsedClientOrderId(clientOrderId: string): boolean {
    return this.usedClientOrderIds.has(clientOrderId);
  }

  // ---- order entry ------------------------------------------------------------------------------------------

  /** Validates without side effects: the InfoText of the refusal, or null when the order can be accepted. */
  refusalOf(order: NewOrder, alsoUsed: readonly string[] = []): string | null {
    if (!order.clientOrderId) return 'ClientOrderID is required';
    if (order.clientOrderId.length > 32) return 'ClientOrderID is longer than 32 characters';
    if (this.usedClientOrderIds.has(order.clientOrderId) || alsoUsed.includes(order.clientOrderId)) {
      return `Duplicate ClientOrderID ${order.clientOrderId}: it was already used in this trading session`;
    }
    if (order.account !== this.settings.account) return `Unknown trade account ${order.account || '(empty)'}`;
    if (!this.knowsSymbol(order.symbol)) return `Unknown symbol ${order.symbol || '(empty)'}`;
    if (!(order.quantity > 0) || !Number.isInteger(order.quantity)) return `Invalid order quantity ${order.quantity}`;
    if (order.side !== BuySell.BUY && order.side !== BuySell.SELL) return 'BuySell must be BUY (1) or SELL (2)';
    const needsPrice1 = order.orderType !== OrderType.MARKET;
    if (!SUPPORTED_TYPES.has(order.orderType)) return `Unsupported order type ${order.orderType}`;
    if (needsPrice1 && order.price1 === null) return 'Price1 is required for this order type';
    if (order.orderType === OrderType.STOP_LIMIT && order.price2 === null) return 'Price2 (limit) is required for a stop-limit order';
    return null;
  }

  /** Records a refused order (status REJECTED, reason NEW_ORDER_REJECTED); it takes no ServerOrderID slot. */
  rejected(order: NewOrder, infoText: string, now: number): AccountEvent {
    const rejected = this.build(order, now, '');
    rejected.status = OrderStatus.REJECTED;
    rejected.infoText = infoText;
    return { kind: 'order', order: rejected, reason: OrderUpdateReason.NEW_ORDER_REJECTED };
  }

  submit(order: NewOrder, touch: Touch, now: number): AccountEvent[] {
    const refusal = this.refusalOf(order);
    if (refusal) return [this.rejected(order, refusal, now)];
    const accepted = this.accept(order, now);
    return [{ kind: 'order', order: copy(accepted), reason: OrderUpdateReason.NEW_ORDER_ACCEPTED }, ...this.fillAtTouch(accepted, touch, now)];
  }

  /** A plain OCO (no parent): both legs accepted and working, linked to each other. */
  submitOco(oco: OcoLegs, touch: Touch, now: number): AccountEvent[] {
    const [a, b] = oco.legs;
    const refusal = this.refusalOf(a) ?? this.refusalOf(b, [a.clientOrderId]);
    if (refusal) return [this.rejected(a, refusal, now), this.rejected(b, refusal, now)];
    const legA = this.accept(a, now);
    const legB = this.accept(b, now);
    this.link(legA, legB, oco.partialFillHandling);
    return [
      { kind: 'order', order: copy(legA), reason: OrderUpdateReason.NEW_ORDER_ACCEPTED },
      { kind: 'order', order: copy(legB), reason: OrderUpdateReason.NEW_ORDER_ACCEPTED },
      ...this.fillAtTouch(legA, touch, now),
      ...this.fillAtTouch(legB, touch, now),
    ];
  }

  /** A bracket (§3): parent plus OCO children, all accepted or all rejected; children wait in PENDING_CHILD. */
  submitBracket(parent: NewOrder, children: OcoLegs, touch: Touch, now: number): AccountEvent[] {
    const [a, b] = children.legs;
    const refusal =
      this.refusalOf(parent) ?? this.refusalOf(a, [parent.clientOrderId]) ?? this.refusalOf(b, [parent.clientOrderId, a.clientOrderId]);
    if (refusal) return [parent, a, b].map((o) => this.rejected(o, refusal, now));
    const parentOrder = this.accept(parent, now);
    const legA = this.accept(a, now, OrderStatus.PENDING_CHILD);
    const legB = this.accept(b, now, OrderStatus.PENDING_CHILD);
    this.link(legA, legB, children.partialFillHandling);
    legA.parentServerOrderId = parentOrder.serverOrderId;
    legB.parentServerOrderId = parentOrder.serverOrderId;
    return [
      { kind: 'order', order: copy(parentOrder), reason: OrderUpdateReason.NEW_ORDER_ACCEPTED },
      { kind: 'order', order: copy(legA), reason: OrderUpdateReason.NEW_ORDER_ACCEPTED },
      { kind: 'order', order: copy(legB), reason: OrderUpdateReason.NEW_ORDER_ACCEPTED },
      ...this.fillAtTouch(parentOrder, touch, now),
    ];
  }

  /** Cancels a working order: PENDING_CANCEL then CANCELED; cascades to bracket children and the OCO sibling. */
  cancel(serverOrderId: string, now: number, options: { pendingStatus: boolean }): AccountEvent[] | OrderRefusal {
    const order = this.orders.get(serverOrderId);
    if (!order) return new OrderRefusal(`Order ${serverOrderId || '(empty ServerOrderID)'} not found`);
    if (!isWorking(order)) return new OrderRefusal(`Order ${serverOrderId} is no longer working (${statusWord(order.status)})`, copy(order));
    const events: AccountEvent[] = [];
    if (options.pendingStatus) {
      order.status = OrderStatus.PENDING_CANCEL;
      order.updatedAt = now;
      events.push({ kind: 'order', order: copy(order), reason: OrderUpdateReason.GENERAL_ORDER_UPDATE });
    }
    events.push(this.terminate(order, now, 'Canceled by request'));
    for (const child of this.childrenOf(order)) {
      if (child.status === OrderStatus.PENDING_CHILD) events.push(this.terminate(child, now, 'Parent order canceled'));
    }
    const sibling = this.siblingOf(order);
    if (sibling && isWorking(sibling)) events.push(this.terminate(sibling, now, 'OCO linked order canceled'));
    return events;
  }

  /**
   * Modifies a working order (§2: keyed by ServerOrderID, quantity 0 keeps it, a new quantity includes what has
   * filled). Sierra may give the order a new ServerOrderID and report the old one in PreviousServerOrderID: this
   * simulator always does, so a client that keys on a stale id is caught.
   */
  cancelReplace(
    serverOrderId: string,
    change: { price1: number | null; price2: number | null; quantity: number; timeInForce: TimeInForce | null },
    touch: Touch,
    now: number,
    options: { pendingStatus: boolean },
  ): AccountEvent[] | OrderRefusal {
    const order = this.orders.get(serverOrderId);
    if (!order) return new OrderRefusal(`Order ${serverOrderId || '(empty ServerOrderID)'} not found`);
    if (!isWorking(order)) return new OrderRefusal(`Order ${serverOrderId} is no longer working (${statusWord(order.status)})`, copy(order));
    if (change.quantity !== 0 && (!Number.isInteger(change.quantity) || change.quantity <= order.filledQuantity)) {
      return new OrderRefusal(`New quantity ${change.quantity} must exceed the filled quantity ${order.filledQuantity}`, copy(order));
    }
    if (change.price1 !== null && order.orderType === OrderType.MARKET) return new OrderRefusal('A market order has no price to modify', copy(order));
    const events: AccountEvent[] = [];
    if (options.pendingStatus) {
      order.status = OrderStatus.PENDING_CANCEL_REPLACE;
      order.updatedAt = now;
      events.push({ kind: 'order', order: copy(order), reason: OrderUpdateReason.GENERAL_ORDER_UPDATE });
    }
    const previous = order.serverOrderId;
    this.orders.delete(previous);
    order.previousServerOrderId = previous;
    order.serverOrderId = this.newServerOrderId();
    this.orders.set(order.serverOrderId, order);
    this.mayFill = [...this.mayFill.filter((o) => o !== order), order];
    for (const other of this.orders.values()) {
      if (other.parentServerOrderId === previous) other.parentServerOrderId = order.serverOrderId;
      if (other.ocoLinkedServerOrderId === previous) other.ocoLinkedServerOrderId = order.serverOrderId;
    }
    if (change.price1 !== null) order.price1 = change.price1;
    if (change.price2 !== null) order.price2 = change.price2;
    if (change.quantity !== 0) order.quantity = change.quantity;
    if (change.timeInForce !== null) order.timeInForce = change.timeInForce;
    order.status = order.parentServerOrderId && this.isPendingChild(order) ? OrderStatus.PENDING_CHILD : workingStatus(order);
    order.updatedAt = now;
    events.push({ kind: 'order', order: copy(order), reason: OrderUpdateReason.ORDER_CANCEL_REPLACE_COMPLETE });
    if (order.status !== OrderStatus.PENDING_CHILD) events.push(...this.fillAtTouch(order, touch, now));
    return events;
  }

  /** A market order for the opposite of the position (§2 SUBMIT_FLATTEN_POSITION_ORDER). */
  flatten(
    request: { clientOrderId: string; symbol: string; account: string; freeFormText: string },
    touch: Touch,
    now: number,
  ): AccountEvent[] {
    const position = this.positionBySymbol.get(request.symbol);
    const quantity = position ? Math.abs(position.quantity) : 0;
    const order: NewOrder = {
      clientOrderId: request.clientOrderId,
      symbol: request.symbol,
      account: request.account,
      orderType: OrderType.MARKET,
      side: position && position.quantity < 0 ? BuySell.BUY : BuySell.SELL,
      price1: null,
      price2: null,
      quantity: quantity || 1,
      timeInForce: TimeInForce.DAY,
      freeFormText: request.freeFormText,
      openOrClose: OpenClose.CLOSE,
    };
    const refusal = this.refusalOf(order) ?? (quantity === 0 ? `No ${request.symbol} position to flatten` : null);
    if (refusal) return [this.rejected({ ...order, quantity }, refusal, now)];
    return this.submit(order, touch, now);
  }

  // ---- the market ---------------------------------------------------------------------------------------------

  /**
   * One trade of the market: stops trigger when the trade reaches them; limits fill at their price when the trade
   * goes through them (a trade at the limit may be someone ahead in the queue), up to the traded size.
   */
  onTrade(trade: { price: number; size: number; bid: number; ask: number; t: number }): AccountEvent[] {
    this.lastPrice = trade.price;
    const events: AccountEvent[] = [];
    let available = trade.size;
    let ended = false;
    // fill() changes orders' states, never which orders there are: the list is walked as it stands.
    for (const order of this.mayFill) {
      if (!isWorking(order)) {
        ended = true;
        continue;
      }
      // One simulated price series stands for every contract of the root, so orders of a rolled-out contract fill too.
      if (order.status === OrderStatus.PENDING_CHILD) continue;
      // A trade printed before the order reached the market cannot fill it (the seeded market emits its trades up to
      // one pump after their time: an order sent in between must not fill on what was already past).
      if (trade.t < order.receivedAt) continue;
      if (this.scripts.has(order.clientOrderId)) continue;
      const remaining = order.quantity - order.filledQuantity;
      if (remaining <= 0) continue;
      const fill = this.fillOnTrade(order, trade, remaining, available);
      if (!fill) continue;
      if (fill.fromBook) available -= fill.quantity;
      events.push(...this.fill(order, fill.price, fill.quantity, trade.t));
    }
    if (ended || events.length > 0) this.mayFill = this.mayFill.filter(isWorking);
    return events;
  }

  /**
   * A replay of a live simulator run (lib/replay/order-path.ts): the order with this ClientOrderID, when it comes, is
   * filled with these recorded fills at their times (fillDue), never on the replayed trades nor at the touch.
   */
  script(clientOrderId: string, fills: readonly ScriptedFill[]): void {
    this.scripts.set(clientOrderId, [...fills].sort((a, b) => a.t - b.t));
  }

  /** The scripted fills due by `now` of the working orders (a bracket's children once their parent filled). */
  fillDue(now: number): AccountEvent[] {
    const events: AccountEvent[] = [];
    if (this.scripts.size === 0) return events;
    for (const order of this.mayFill) {
      if (!isWorking(order) || order.status === OrderStatus.PENDING_CHILD || !this.scripts.has(order.clientOrderId)) continue;
      events.push(...this.fillScripted(order, now));
    }
    return events;
  }

  private fillScripted(order: SimOrder, now: number): AccountEvent[] {
    const due = this.scripts.get(order.clientOrderId) ?? [];
    const events: AccountEvent[] = [];
    while (due.length > 0 && due[0].t <= now && isWorking(order) && order.status !== OrderStatus.PENDING_CHILD) {
      const fill = due.shift() as ScriptedFill;
      const quantity = Math.min(fill.quantity, order.quantity - order.filledQuantity);
      if (quantity > 0) events.push(...this.fill(order, fill.price, quantity, now));
    }
    return events;
  }

  /** Marks positions to `price` without filling anything (open P&L between trades). */
  mark(price: number): void {
    this.lastPrice = price;
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private readonly realizedByExecution = new Map<string, number>();

  private fillOnTrade(
    order: SimOrder,
    trade: { price: number; size: number; bid: number; ask: number },
    remaining: number,
    available: number,
  ): { price: number; quantity: number; fromBook: boolean } | null {
    const buy = order.side === BuySell.BUY;
    const reached = (level: number): boolean => (buy ? trade.price >= level : trade.price <= level);
    const through = (limit: number): boolean => (buy ? trade.price < limit : trade.price > limit);
    const touchedFromAbove = (level: number): boolean => (buy ? trade.price <= level : trade.price >= level);
    switch (order.orderType) {
      case OrderType.MARKET:
        return { price: buy ? trade.ask : trade.bid, quantity: remaining, fromBook: false };
      case OrderType.STOP:
      case OrderType.MARKET_IF_TOUCHED:
        if (order.price1 === null) return null;
        // A stop triggers when the trade reaches it; a market-if-touched when the price comes back to it.
        if (order.orderType === OrderType.STOP ? reached(order.price1) : touchedFromAbove(order.price1)) {
          return { price: trade.price, quantity: remaining, fromBook: false };
        }
        return null;
      case OrderType.STOP_LIMIT:
        if (order.price1 === null || order.price2 === null) return null;
        if (!order.triggered && reached(order.price1)) order.triggered = true;
        if (order.triggered && through(order.price2) && available > 0) {
          return { price: order.price2, quantity: Math.min(remaining, available), fromBook: true };
        }
        return null;
      case OrderType.LIMIT:
        if (order.price1 !== null && through(order.price1) && available > 0) {
          return { price: order.price1, quantity: Math.min(remaining, available), fromBook: true };
        }
        return null;
      default:
        return null;
    }
  }

  /** Market orders fill at once at the touch (buy at the ask, sell at the bid); marketable limits at their limit. */
  private fillAtTouch(order: SimOrder, touch: Touch, now: number): AccountEvent[] {
    if (!isWorking(order) || order.status === OrderStatus.PENDING_CHILD) return [];
    if (this.scripts.has(order.clientOrderId)) return this.fillScripted(order, now);
    const buy = order.side === BuySell.BUY;
    const remaining = order.quantity - order.filledQuantity;
    if (order.orderType === OrderType.MARKET) return this.fill(order, buy ? touch.ask : touch.bid, remaining, now);
    if (order.orderType === OrderType.LIMIT && order.price1 !== null) {
      const marketable = buy ? touch.ask <= order.price1 : touch.bid >= order.price1;
      if (marketable) return this.fill(order, buy ? touch.ask : touch.bid, remaining, now);
    }
    return [];
  }

  private fill(order: SimOrder, price: number, quantity: number, t: number): AccountEvent[] {
    const executionId = `E${this.nextExecutionId++}`;
    const previousFilled = order.filledQuantity;
    order.filledQuantity += quantity;
    order.averageFillPrice = ((order.averageFillPrice ?? 0) * previousFilled + price * quantity) / order.filledQuantity;
    order.lastFill = { price, quantity, t, executionId };
    order.updatedAt = t;
    const complete = order.filledQuantity >= order.quantity;
    order.status = complete ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED;
    const fill: SimFill = {
      executionId,
      serverOrderId: order.serverOrderId,
      clientOrderId: order.clientOrderId,
      symbol: order.symbol,
      account: order.account,
      side: order.side,
      price,
      quantity,
      t,
      openClose: OpenClose.UNSET,
    };
    const position = this.applyToPosition(fill);
    this.fillLog.push(fill);
    const events: AccountEvent[] = [
      { kind: 'order', order: copy(order), reason: complete ? OrderUpdateReason.ORDER_FILLED : OrderUpdateReason.ORDER_FILLED_PARTIALLY },
      { kind: 'position', position: this.withOpenPnl(position) },
      { kind: 'balance', balance: this.balance(t) },
    ];
    events.push(...this.afterFill(order, t));
    return events;
  }

  /** §3: bracket children follow the parent's filled quantity; an OCO fill cancels or reduces the other leg. */
  private afterFill(order: SimOrder, t: number): AccountEvent[] {
    const events: AccountEvent[] = [];
    for (const child of this.childrenOf(order)) {
      if (!isWorking(child)) continue;
      child.quantity = order.filledQuantity;
      child.status = workingStatus(child);
      child.updatedAt = t;
      events.push({ kind: 'order', order: copy(child), reason: OrderUpdateReason.GENERAL_ORDER_UPDATE });
    }
    const sibling = this.siblingOf(order);
    if (sibling && isWorking(sibling) && sibling.status !== OrderStatus.PENDING_CHILD) {
      const remaining = order.quantity - order.filledQuantity;
      if (order.status === OrderStatus.FILLED || order.partialFillHandling === PartialFillHandling.IMMEDIATE_CANCEL) {
        events.push(this.terminate(sibling, t, 'OCO linked order filled'));
      } else {
        sibling.quantity = sibling.filledQuantity + remaining;
        sibling.updatedAt = t;
        events.push({ kind: 'order', order: copy(sibling), reason: OrderUpdateReason.GENERAL_ORDER_UPDATE });
      }
    }
    return events;
  }

  private applyToPosition(fill: SimFill): SimPosition {
    const signed = fill.side === BuySell.BUY ? fill.quantity : -fill.quantity;
    const position = this.positionBySymbol.get(fill.symbol) ?? {
      symbol: fill.symbol,
      account: fill.account,
      quantity: 0,
      averagePrice: 0,
      entryAt: fill.t,
      openProfitLoss: 0,
    };
    let realized = -this.settings.commissionPerContract * fill.quantity;
    if (position.quantity === 0 || Math.sign(position.quantity) === Math.sign(signed)) {
      const total = position.quantity + signed;
      position.averagePrice = (position.averagePrice * Math.abs(position.quantity) + fill.price * fill.quantity) / Math.abs(total);
      if (position.quantity === 0) position.entryAt = fill.t;
      position.quantity = total;
      fill.openClose = OpenClose.OPEN;
    } else {
      const closing = Math.min(Math.abs(signed), Math.abs(position.quantity));
      realized += closing * (fill.price - position.averagePrice) * Math.sign(position.quantity) * this.settings.pointValue;
      const total = position.quantity + signed;
      if (total !== 0 && Math.sign(total) !== Math.sign(position.quantity)) {
        position.averagePrice = fill.price; // reversed through flat: the new position opened at this fill
        position.entryAt = fill.t;
      }
      if (total === 0) position.averagePrice = 0;
      position.quantity = total;
      fill.openClose = OpenClose.CLOSE;
    }
    this.realizedTotal += realized;
    this.realizedByExecution.set(fill.executionId, realized);
    this.positionBySymbol.set(fill.symbol, position);
    return position;
  }

  private withOpenPnl(position: SimPosition): SimPosition {
    const mark = this.lastPrice;
    const open = mark === null || position.quantity === 0 ? 0 : (mark - position.averagePrice) * position.quantity * this.settings.pointValue;
    return { ...position, openProfitLoss: round2(open) };
  }

  private accept(order: NewOrder, now: number, status?: OrderStatus): SimOrder {
    const accepted = this.build(order, now, this.newServerOrderId());
    accepted.status = status ?? OrderStatus.OPEN;
    this.orders.set(accepted.serverOrderId, accepted);
    this.mayFill.push(accepted);
    this.usedClientOrderIds.add(order.clientOrderId);
    return accepted;
  }

  private build(order: NewOrder, now: number, serverOrderId: string): SimOrder {
    return {
      serverOrderId,
      clientOrderId: order.clientOrderId,
      symbol: order.symbol,
      account: order.account,
      orderType: order.orderType,
      side: order.side,
      price1: order.orderType === OrderType.MARKET ? null : order.price1,
      price2: order.orderType === OrderType.STOP_LIMIT ? order.price2 : null,
      quantity: order.quantity,
      filledQuantity: 0,
      averageFillPrice: null,
      lastFill: null,
      status: OrderStatus.PENDING_OPEN,
      timeInForce: order.timeInForce || TimeInForce.DAY,
      receivedAt: now,
      updatedAt: now,
      freeFormText: order.freeFormText,
      openOrClose: order.openOrClose,
      previousServerOrderId: '',
      parentServerOrderId: '',
      ocoLinkedServerOrderId: '',
      partialFillHandling: PartialFillHandling.UNSET,
      triggered: false,
      infoText: '',
    };
  }

  private link(a: SimOrder, b: SimOrder, handling: PartialFillHandling): void {
    a.ocoLinkedServerOrderId = b.serverOrderId;
    b.ocoLinkedServerOrderId = a.serverOrderId;
    a.partialFillHandling = handling || PartialFillHandling.REDUCE_QUANTITY;
    b.partialFillHandling = handling || PartialFillHandling.REDUCE_QUANTITY;
  }

  private terminate(order: SimOrder, now: number, infoText: string): AccountEvent {
    order.status = OrderStatus.CANCELED;
    order.infoText = infoText;
    order.updatedAt = now;
    return { kind: 'order', order: copy(order), reason: OrderUpdateReason.ORDER_CANCELED };
  }

  private childrenOf(order: SimOrder): SimOrder[] {
    return [...this.orders.values()].filter((o) => o.parentServerOrderId === order.serverOrderId);
  }

  private siblingOf(order: SimOrder): SimOrder | undefined {
    return order.ocoLinkedServerOrderId ? this.orders.get(order.ocoLinkedServerOrderId) : undefined;
  }

  private isPendingChild(order: SimOrder): boolean {
    const parent = this.orders.get(order.parentServerOrderId);
    return parent !== undefined && parent.filledQuantity === 0;
  }

  private newServerOrderId(): string {
    return String(this.nextServerOrderId++);
  }
}

const SUPPORTED_TYPES: ReadonlySet<OrderType> = new Set<OrderType>([
  OrderType.MARKET,
  OrderType.LIMIT,
  OrderType.STOP,
  OrderType.STOP_LIMIT,
  OrderType.MARKET_IF_TOUCHED,
]);

function workingStatus(order: SimOrder): OrderStatus {
  return order.filledQuantity > 0 ? OrderStatus.PARTIALLY_FILLED : OrderStatus.OPEN;
}

function statusWord(status: OrderStatus): string {
  switch (status) {
    case OrderStatus.FILLED:
      return 'filled';
    case OrderStatus.CANCELED:
      return 'canceled';
    case OrderStatus.REJECTED:
      return 'rejected';
    default:
      return `status ${status}`;
  }
}

function copy(order: SimOrder): SimOrder {
  return { ...order, lastFill: order.lastFill ? { ...order.lastFill } : null };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
