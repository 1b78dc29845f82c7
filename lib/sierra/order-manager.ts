// OrderManager: every order of one DTC connection, from intent to last fill. One per connection (STYLE.md), owned by
// the sierra-config node. It turns intents into DTC messages (order-wire.ts), runs each ORDER_UPDATE through the
// state machine (order-state.ts), reports each fill exactly once, and after every (re)connect reconciles orders,
// fills, positions and balances with the server before it accepts anything new.
//
// Safety decisions (dtc-protocol.md §3 "Disconnect", ARCHITECTURE.md "Orders"):
// - While reconciling (or disconnected) every instruction is REFUSED with OrderManagerNotReadyError, never queued:
//   an order queued during a reconnect would reach the market later, at a price the trader did not see.
// - A ClientOrderID is generated once per intent and never reused, even if nothing was sent.
// - A submit whose answer is lost is never re-sent: it is looked up by ClientOrderID (open orders, then fills) and,
//   if the server cannot say, reported as OrderStateUnknownError while the order stays tracked.
// - The trading gate sits in DtcClient (the only socket writer); the manager checks it first for a clear error.
//
// Events: 'order-update' (OrderUpdate), 'fill' (Fill), 'position' (Position), 'account' (AccountSnapshot),
// 'invalid-transition' (InvalidTransition), 'state' (ManagerState), 'warning' (MiaError).
//
// Time: every `t` this manager emits is `options.now()` when the news arrived (the owning connection passes its own
// clock: the simulated market's in simulator mode, the wall clock live). Sierra Chart's own stamps
// (LastFillDateTime, a historical fill's DateTime) are not used for `t`: they come from another clock (the
// server's, or the exchange's), so a fill would not line up with the order update that announced it, nor with the
// position it changed, nor with the risk rules' clock that counts it. Our clock is the authoritative one.

import { EventEmitter } from 'events';
import type { AccountSnapshot, Fill, OrderType, OrderUpdate, Position, Side } from '../contracts';
import { InvalidInputError, type MiaError } from '../errors';
import {
  MessageType,
  OrderStatus,
  OrderUpdateReason,
  type AccountBalanceUpdate,
  type DtcMessage,
  type HistoricalOrderFillResponse,
  type OrderUpdate as DtcOrderUpdate,
  type PositionUpdate,
} from './protocol';
import type { DtcClient, LogonInfo, SecurityDefinition } from './client';
import { wallClock } from '../clock';
import type { Scheduler } from '../ibkr/scheduler';
import { ClientOrderIdGenerator, type IdSequence } from '../trading/client-order-id';
import { excessExits } from '../trading/orphan-exits';
import { checkTransition, contractStatus, isTerminal, statusName } from './order-state';
import {
  bracketOcoMessage,
  cancelReplaceMessage,
  contractOrderType,
  opposite,
  sideOf,
  singleOrderMessage,
  validateIntent,
  validateModify,
  type SierraModify,
  type SierraOrder,
  type SubmitContext,
} from './order-wire';
import { PriceScale, UNSCALED } from './price-scale';
import {
  DtcError,
  OrderManagerNotReadyError,
  OrderNotFoundError,
  OrderRejectedError,
  OrderStateUnknownError,
  RiskDeniedError,
  TradingDisabledError,
} from './errors';

export type { SierraOrder, SierraModify } from './order-wire';

export type ManagerState = 'disconnected' | 'reconciling' | 'ready';

/** What the risk rules see: a new order, or a modify of a working one. */
export type RiskIntent = ({ action: 'submit' } & SierraOrder) | ({ action: 'modify'; clientOrderId: string; symbol: string; side: Side } & SierraModify);

/** The risk hook's answer. Anything but `{ allowed: true }` is a denial (fail closed). */
export type RiskVerdict = { allowed: true } | { allowed: false; rule: string; reason: string };

/**
 * The account's risk engine as the manager calls it (lib/trading/risk-engine.ts through SierraConnection). `reserve`
 * runs before the manager awaits anything, `authorizeSend` at the instant the message is written, `release` when it
 * will not be (or was refused). Every hook is synchronous.
 */
export interface OrderRiskHooks {
  reserve(intent: RiskIntent, ids: { clientOrderId: string; exits: string[] }): RiskVerdict;
  authorizeSend(clientOrderId: string, action: 'submit' | 'modify'): RiskVerdict;
  release(clientOrderId: string, action: 'submit' | 'modify'): void;
  /** A modify Sierra confirmed (its new total quantity). */
  modified?(clientOrderId: string, quantity: number): void;
  /** A flatten order (no risk rule, a new id) about to be written: its id is journaled first; refused → not sent. */
  journalId?(clientOrderId: string): RiskVerdict;
}

/** One execution in Sierra's answer to the historical fills request of the last reconciliation, in wire order. */
export interface SessionFill {
  serverOrderId: string;
  /** Known when this manager tracks the order (working, or placed by this process). */
  clientOrderId: string | null;
  symbol: string;
  side: Side;
  quantity: number;
  executionId: string;
}

/** An order the manager tracks that is still open, with its symbol (the kill switch and reconciliation need it). */
export interface OpenOrder {
  clientOrderId: string;
  symbol: string;
  side: Side;
  quantity: number;
  filled: number;
  parentClientOrderId: string | null;
  serverOrderId: string | null;
  /** A bracket child's parent as Sierra names it (known even when the parent is done and not tracked here). */
  parentServerOrderId?: string | null;
}

export interface InvalidTransition {
  clientOrderId: string;
  serverOrderId: string | null;
  from: string;
  to: string;
  reason: string;
}

export interface OrderManagerOptions {
  /** Trade account; defaults to the client's, else the only account the server lists. */
  tradeAccount?: string;
  /** ClientOrderID prefix (`YYYYMMDD-<prefix>-<n>`); one per Node-RED instance sharing an account. */
  idPrefix?: string;
  /** The highest n already used (persisted by the caller), so ids continue after it across restarts. */
  lastSequence?: number;
  /** The account's journaled id sequence (its risk engine): every id continues above it and moves it. */
  idSequence?: IdSequence;
  /** Symbols whose security definitions are fetched at every (re)connect, before any update is read. */
  symbols?: string[];
  /** How long a submit, cancel or modify waits for Sierra's answer before looking it up (never re-sending). */
  answerTimeoutMs?: number;
  /** The timers of those answer waits (default setTimeout/clearTimeout); tests give a virtual one. */
  answerTimers?: Scheduler;
  /** Sets IsAutomatedOrder (CME Tag 1028) on every order. Default true: these orders come from a flow. */
  isAutomated?: boolean;
  risk?: OrderRiskHooks;
  now?: () => number;
  /** The wall clock that dates ClientOrderIDs (never a simulated market's clock: ids must not repeat at the server). */
  idClock?: () => number;
}

export interface SubmitResult {
  order: OrderUpdate;
  /** Bracket children: the profit target (limit) and the stop. */
  target?: OrderUpdate;
  stop?: OrderUpdate;
}

interface TrackedOrder {
  clientOrderId: string;
  serverOrderId: string | null;
  symbol: string;
  side: Side;
  type: OrderType | null;
  status: OrderStatus;
  orderQuantity: number;
  filledQuantity: number;
  averageFillPrice: number | null;
  /** Fills already reported for this order: quantity and quantity × price (for derived fill prices). */
  reportedQuantity: number;
  reportedValue: number;
  /** Quantity reported from an ORDER_UPDATE without an execution id; absorbs the matching execution if it shows up. */
  derivedQuantity: number;
  parentClientOrderId: string | null;
  /** The parent's ServerOrderID as Sierra reports it (a bracket child adopted after a restart; its parent may be done). */
  parentServerOrderId: string | null;
  reason: string | undefined;
  /** Sent by us and not yet answered by the server. */
  unconfirmed: boolean;
  /** Order of creation here; a lookup only judges orders created before its request left (TCP keeps order). */
  seq: number;
}

type Settle = { resolve: (u: OrderUpdate) => void; reject: (e: Error) => void; timer: unknown };

const REAL_ANSWER_TIMERS: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;
const RECONCILE_RETRY_MS = 2_000;

export class OrderManager extends EventEmitter {
  private readonly client: DtcClient;
  private readonly ids: ClientOrderIdGenerator;
  private readonly now: () => number;
  private readonly idClock: () => number;
  private readonly answerTimeoutMs: number;
  private readonly answerTimers: Scheduler;
  private readonly isAutomated: boolean;
  private readonly risk: OrderRiskHooks | undefined;
  private readonly watchedSymbols: string[];
  private account: string | undefined;

  private currentState: ManagerState = 'disconnected';
  private readonly orders = new Map<string, TrackedOrder>(); // by ClientOrderID
  private readonly byServerId = new Map<string, TrackedOrder>();
  private readonly seenExecutions = new Set<string>();
  private readonly definitions = new Map<string, Promise<SecurityDefinition | null>>();
  private readonly scales = new Map<string, PriceScale>();
  private readonly positionBySymbol = new Map<string, number>();
  private readonly acks = new Map<string, Settle>();
  private readonly cancels = new Map<string, Settle>();
  private readonly modifies = new Map<string, Settle>();
  /** True during the first reconciliation: what the server reports then happened before this manager existed. */
  private baselining = true;
  /** During reconciliation, fills implied by solicited ORDER_UPDATEs wait for the historical fills (real prices). */
  private deferDerivedFills = false;
  private generation = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private lookupChain: Promise<void> = Promise.resolve();
  private trackSeq = 0;
  /** Fills (from the historical answer) whose ServerOrderID no tracked order has, grouped by ServerOrderID. */
  /** The last reconciliation's historical fills (the session's executions at the broker). */
  private historicalAnswer: SessionFill[] = [];
  private readonly unmatchedFills = new Map<string, { symbol: string; side: Side; quantity: number; fills: { quantity: number; price: number; t: number }[] }>();
  private readonly onMessage = (m: DtcMessage): void => this.route(m);
  private readonly onLogon = (info: LogonInfo): void => void this.reconcile(info);
  private readonly onDisconnected = (): void => this.setState('disconnected');

  constructor(client: DtcClient, options: OrderManagerOptions = {}) {
    super();
    this.client = client;
    this.ids = new ClientOrderIdGenerator(options.idPrefix ?? 'mia', options.lastSequence ?? 0, options.idSequence);
    this.now = options.now ?? Date.now;
    this.idClock = options.idClock ?? wallClock;
    this.answerTimeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    this.answerTimers = options.answerTimers ?? REAL_ANSWER_TIMERS;
    this.isAutomated = options.isAutomated ?? true;
    this.risk = options.risk;
    this.watchedSymbols = options.symbols ?? [];
    this.account = options.tradeAccount ?? client.tradeAccount;
    client.on('message', this.onMessage);
    client.on('logon', this.onLogon);
    client.on('disconnected', this.onDisconnected);
    if (client.isLoggedOn && client.logonInfo) void this.reconcile(client.logonInfo);
  }

  get state(): ManagerState {
    return this.currentState;
  }

  get tradeAccount(): string | undefined {
    return this.account;
  }

  /** The highest ClientOrderID sequence issued or seen: persist it to continue after a restart. */
  get lastSequence(): number {
    return this.ids.lastSequence;
  }

  /** Resolves when the manager is ready (reconciled), or rejects after `timeoutMs`. */
  whenReady(timeoutMs = 30_000): Promise<void> {
    if (this.currentState === 'ready') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onState = (s: ManagerState): void => {
        if (s !== 'ready') return;
        clearTimeout(timer);
        this.off('state', onState);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('state', onState);
        reject(new OrderManagerNotReadyError(`Sierra Chart orders were not reconciled within ${timeoutMs / 1000} s: check the connection status.`));
      }, timeoutMs);
      this.on('state', onState);
    });
  }

  /** Every order known, as contract updates (dashboards, status). */
  snapshot(): OrderUpdate[] {
    return [...this.orders.values()].map((o) => this.toContract(o));
  }

  /**
   * The executions Sierra listed at the last reconciliation (today's historical fills, whoever placed the orders):
   * the risk engine counts the trades they opened that its journal never recorded (a fill while Node-RED was down).
   */
  sessionFills(): SessionFill[] {
    return this.historicalAnswer.map((f) => ({ ...f }));
  }

  /** Open orders with their symbols and parents. */
  openOrders(): OpenOrder[] {
    return [...this.orders.values()]
      .filter((o) => !isTerminal(o.status))
      .map((o) => ({ clientOrderId: o.clientOrderId, symbol: o.symbol, side: o.side, quantity: o.orderQuantity, filled: o.filledQuantity, parentClientOrderId: o.parentClientOrderId, serverOrderId: o.serverOrderId, parentServerOrderId: o.parentServerOrderId ?? (o.parentClientOrderId ? this.orders.get(o.parentClientOrderId)?.serverOrderId ?? null : null) }));
  }

  /** The positions Sierra Chart reported, by symbol (zero included). */
  positions(): { symbol: string; quantity: number }[] {
    return [...this.positionBySymbol].map(([symbol, quantity]) => ({ symbol, quantity }));
  }

  order(clientOrderId: string): OrderUpdate | undefined {
    const o = this.orders.get(clientOrderId);
    return o ? this.toContract(o) : undefined;
  }

  /** The symbol an order was sent for (OrderUpdate and Fill carry none). */
  symbolOf(clientOrderId: string): string | undefined {
    return this.orders.get(clientOrderId)?.symbol;
  }

  /**
   * Reconciles again now, as after a reconnect (open orders, fills, positions, balances; new instructions refused
   * until ready): e.g. when Sierra reports a working order that nobody here placed. Only when ready and logged on.
   */
  resync(): void {
    const info = this.client.logonInfo;
    if (this.currentState !== 'ready' || !this.client.isLoggedOn || !info) return;
    void this.reconcile(info);
  }

  /** Detaches from the client and releases every timer. Pending answers are rejected. */
  dispose(): void {
    this.client.off('message', this.onMessage);
    this.client.off('logon', this.onLogon);
    this.client.off('disconnected', this.onDisconnected);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const closed = new OrderManagerNotReadyError('The Sierra Chart order manager was closed before Sierra answered.');
    for (const table of [this.acks, this.cancels, this.modifies]) {
      for (const s of table.values()) {
        if (s.timer) this.answerTimers.clearTimeout(s.timer);
        s.reject(closed);
      }
      table.clear();
    }
    this.setState('disconnected');
  }

  // -------------------------------------------------------------------------------------------------------------
  // Instructions

  /** Places a single order or a bracket; resolves when Sierra accepts it (all three orders for a bracket). */
  async submit(intent: SierraOrder): Promise<SubmitResult> {
    validateIntent(intent);
    this.assertCanTrade('place an order');
    // Ids first, then the risk reservation, both before any await: a burst meets the exposure of the orders before it.
    const now = this.idClock();
    const parentId = intent.clientOrderId !== undefined ? this.ids.claim(intent.clientOrderId) : this.ids.next(now);
    const childIds = intent.bracket ? { target: this.ids.next(now), stop: this.ids.next(now) } : null;
    this.reserveRisk({ action: 'submit', ...intent }, parentId, childIds ? [childIds.target, childIds.stop] : []);
    try {
      const definition = await this.definition(intent.symbol);
      validateIntent(intent, definition?.minPriceIncrement ?? 0);
      this.assertCanTrade('place an order'); // the state may have changed while the definition was awaited
    } catch (err) {
      this.risk?.release(parentId, 'submit');
      throw err;
    }

    const ctx: SubmitContext = { tradeAccount: this.account, scale: this.scaleOf(intent.symbol), isAutomated: this.isAutomated };
    const messages: DtcMessage[] = [singleOrderMessage(intent, parentId, ctx, intent.bracket !== undefined)];
    if (childIds) messages.push(bracketOcoMessage(intent, parentId, childIds, ctx));
    this.authorizeRisk(parentId, 'submit');
    const tracked: TrackedOrder[] = [this.track(parentId, intent.symbol, intent.side, intent.type, intent.quantity, null)];
    if (childIds) {
      const exit = opposite(intent.side);
      tracked.push(this.track(childIds.target, intent.symbol, exit, 'limit', intent.quantity, parentId));
      tracked.push(this.track(childIds.stop, intent.symbol, exit, 'stop', intent.quantity, parentId));
    }
    const answers = tracked.map((o) => this.expectAnswer(this.acks, o.clientOrderId));
    try {
      // Parent and OCO in one write: nothing may come between them (§3).
      this.client.send(...messages);
    } catch (err) {
      for (const o of tracked) this.forget(o, err as Error);
      this.risk?.release(parentId, 'submit');
      await Promise.allSettled(answers);
      throw err;
    }
    for (const o of tracked) this.emitUpdate(o);
    const settled = await Promise.allSettled(answers);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [order, target, stop] = settled.map((s) => (s as PromiseFulfilledResult<OrderUpdate>).value);
    return childIds ? { order, target, stop } : { order };
  }

  /** Cancels a working order; resolves with its final update (cancelled, or filled if the fill won the race). */
  async cancel(clientOrderId: string): Promise<OrderUpdate> {
    const order = this.workingOrder(clientOrderId, 'cancel');
    if (isTerminal(order.status)) return this.toContract(order);
    this.assertCanTrade('cancel an order');
    return this.sendCancel(order);
  }

  private async sendCancel(order: TrackedOrder): Promise<OrderUpdate> {
    const clientOrderId = order.clientOrderId;
    const answer = this.expectAnswer(this.cancels, clientOrderId);
    try {
      this.client.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: order.serverOrderId ?? '', ClientOrderID: order.clientOrderId, TradeAccount: this.account });
    } catch (err) {
      this.settle(this.cancels, clientOrderId, err as Error);
      await answer.catch(() => undefined);
      throw err;
    }
    return answer;
  }

  /** Changes price(s) and/or quantity of a working order (cancel-replace); resolves when Sierra confirms. */
  async modify(clientOrderId: string, change: SierraModify): Promise<OrderUpdate> {
    const order = this.workingOrder(clientOrderId, 'modify');
    if (isTerminal(order.status)) throw new InvalidInputError(`Order ${clientOrderId} is already ${contractStatus(order.status, order.filledQuantity)}: nothing to modify.`);
    validateModify(order.type, change, order.filledQuantity, 0);
    this.assertCanTrade('modify an order');
    this.reserveRisk({ action: 'modify', clientOrderId, symbol: order.symbol, side: order.side, ...change }, clientOrderId, []);
    let answer: Promise<OrderUpdate>;
    try {
      const definition = await this.definition(order.symbol);
      validateModify(order.type, change, order.filledQuantity, definition?.minPriceIncrement ?? 0);
      this.assertCanTrade('modify an order');
      const message = cancelReplaceMessage(
        { serverOrderId: order.serverOrderId ?? '', clientOrderId, type: order.type },
        change,
        { tradeAccount: this.account, scale: this.scaleOf(order.symbol) },
      );
      this.authorizeRisk(clientOrderId, 'modify');
      answer = this.expectAnswer(this.modifies, clientOrderId);
      try {
        this.client.send(message);
      } catch (err) {
        this.settle(this.modifies, clientOrderId, err as Error);
        await answer.catch(() => undefined);
        throw err;
      }
    } catch (err) {
      this.risk?.release(clientOrderId, 'modify');
      throw err;
    }
    try {
      const done = await answer;
      this.risk?.modified?.(clientOrderId, done.quantity);
      return done;
    } catch (err) {
      this.risk?.release(clientOrderId, 'modify');
      throw err;
    }
  }

  /**
   * Flattens `symbol`: cancels its working orders (so no bracket stop can re-open a position), then sends
   * SUBMIT_FLATTEN_POSITION_ORDER when a position is known or not known to be zero. Resolves with what it did.
   */
  async flatten(symbol: string): Promise<{ cancelled: OrderUpdate[]; flatten: OrderUpdate | null }> {
    if (!symbol) throw new InvalidInputError('Flatten needs the symbol to flatten.');
    this.assertCanTrade('flatten a position');
    // Both started together and both awaited to the end: a failure of one never leaves the other's rejection
    // unhandled (that would end Node-RED), and both failures are told.
    const [cancelled, flatten] = await Promise.allSettled([this.cancelWorking((o) => o.symbol === symbol), this.flattenPosition(symbol)]);
    if (cancelled.status === 'rejected' || flatten.status === 'rejected') {
      const reasons = [cancelled, flatten].filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason instanceof Error ? r.reason : new Error(String(r.reason))));
      if (reasons.length === 1) throw reasons[0];
      throw new AggregateError(reasons, reasons.map((e) => e.message).join(' Also: '));
    }
    return { cancelled: cancelled.value, flatten: flatten.value };
  }

  /** Sends SUBMIT_FLATTEN_POSITION_ORDER for `symbol` unless its position is known to be zero; resolves with its answer. */
  async flattenPosition(symbol: string): Promise<OrderUpdate | null> {
    this.assertCanTrade('flatten a position');
    const position = this.positionBySymbol.get(symbol);
    if (position === 0) return null;
    const id = this.ids.next(this.idClock());
    const side: Side = position !== undefined && position < 0 ? 'buy' : 'sell';
    this.journalId(id);
    const o = this.track(id, symbol, side, 'market', Math.abs(position ?? 0), null);
    const answer = this.expectAnswer(this.acks, id);
    try {
      this.client.send({ Type: MessageType.SUBMIT_FLATTEN_POSITION_ORDER, Symbol: symbol, Exchange: '', TradeAccount: this.account, ClientOrderID: id, IsAutomatedOrder: this.isAutomated ? 1 : 0 });
    } catch (err) {
      this.forget(o, err as Error);
      await answer.catch(() => undefined);
      throw err;
    }
    return answer;
  }

  /** Cancels every working order (of `symbol` when given). Resolves with their final updates. */
  async cancelAll(symbol?: string): Promise<OrderUpdate[]> {
    this.assertCanTrade('cancel orders');
    return this.cancelWorking((o) => symbol === undefined || o.symbol === symbol);
  }

  private async cancelWorking(match: (o: TrackedOrder) => boolean): Promise<OrderUpdate[]> {
    const working = [...this.orders.values()].filter((o) => !isTerminal(o.status) && o.serverOrderId && match(o));
    const ids = new Set(working.map((o) => o.clientOrderId));
    // A bracket child goes with its parent (§3: cancelling the parent cancels the children).
    const roots = working.filter((o) => !(o.parentClientOrderId && ids.has(o.parentClientOrderId)));
    const results = await Promise.allSettled(roots.map((o) => this.cancel(o.clientOrderId)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return results.map((r) => (r as PromiseFulfilledResult<OrderUpdate>).value);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Gates

  private assertCanTrade(what: string): void {
    if (!this.client.tradingEnabled) {
      throw new TradingDisabledError(`Trading is disabled in the Sierra Chart connection settings: cannot ${what}, nothing was sent. Turn "Trading" on in sierra-config to trade.`);
    }
    if (this.currentState !== 'ready') {
      const lost = this.client.lastFailure;
      const why = this.currentState === 'reconciling'
        ? 'orders, fills and positions are being reconciled after a (re)connect'
        : `Sierra Chart is not connected${lost ? ` (${lost.message})` : ''}`;
      throw new OrderManagerNotReadyError(`Cannot ${what} now: ${why}. Nothing was sent (instructions are refused, not queued); send it again once the status shows ready.`);
    }
    if (this.client.logonInfo && !this.client.logonInfo.tradingSupported) {
      throw new TradingDisabledError(`Sierra Chart's DTC server does not allow trading (TradingIsSupported 0): cannot ${what}. Enable "Allow Trading" in Sierra Chart › Global Settings › Sierra Chart Server Settings › DTC Protocol Server.`);
    }
  }

  /** Synchronous: the reservation is recorded (or refused) before the caller awaits anything. Fails closed. */
  private reserveRisk(intent: RiskIntent, clientOrderId: string, exits: string[]): void {
    if (!this.risk) return;
    let verdict: RiskVerdict;
    try {
      verdict = this.risk.reserve(intent, { clientOrderId, exits });
    } catch (err) {
      throw new RiskDeniedError('risk-check-failed', `The risk check failed (${err instanceof Error ? err.message : String(err)}): order not sent.`);
    }
    this.throwIfDenied(verdict);
  }

  /** At the instant of writing: refused → released and nothing is sent. */
  private authorizeRisk(clientOrderId: string, action: 'submit' | 'modify'): void {
    if (!this.risk) return;
    let verdict: RiskVerdict;
    try {
      verdict = this.risk.authorizeSend(clientOrderId, action);
    } catch (err) {
      verdict = { allowed: false, rule: 'risk-check-failed', reason: err instanceof Error ? err.message : String(err) };
    }
    if (!verdict || verdict.allowed !== true) this.risk.release(clientOrderId, action);
    this.throwIfDenied(verdict);
  }

  /** A flatten's id is journaled before it leaves, like every order's. Fails closed. */
  private journalId(clientOrderId: string): void {
    if (!this.risk?.journalId) return;
    let verdict: RiskVerdict;
    try {
      verdict = this.risk.journalId(clientOrderId);
    } catch (err) {
      verdict = { allowed: false, rule: 'risk-check-failed', reason: err instanceof Error ? err.message : String(err) };
    }
    this.throwIfDenied(verdict);
  }

  private throwIfDenied(verdict: RiskVerdict | undefined): void {
    if (verdict && verdict.allowed === true) return;
    const denied = verdict as { rule?: string; reason?: string } | undefined;
    throw new RiskDeniedError(denied?.rule ?? 'unknown', `Order refused by the risk rule "${denied?.rule ?? 'unknown'}": ${denied?.reason ?? 'no reason given'}. Nothing was sent.`);
  }

  private workingOrder(clientOrderId: string, what: string): TrackedOrder {
    const order = this.orders.get(clientOrderId);
    if (!order) throw new OrderNotFoundError(`No order ${clientOrderId} is known on this Sierra Chart connection: cannot ${what} it. Check the clientOrderId.`);
    if (!isTerminal(order.status) && !order.serverOrderId) {
      throw new OrderManagerNotReadyError(`Order ${clientOrderId} is not yet acknowledged by Sierra Chart (no ServerOrderID): cannot ${what} it yet; try again in a moment.`);
    }
    return order;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Security definitions and price scales (§3: once per connection)

  private definition(symbol: string): Promise<SecurityDefinition | null> {
    let pending = this.definitions.get(symbol);
    if (!pending) {
      const supported = this.client.logonInfo?.securityDefinitionsSupported ?? false;
      pending = supported
        ? this.client.securityDefinition(symbol).then((d) => {
            this.scales.set(symbol, d.scale);
            return d;
          })
        : Promise.resolve(null);
      pending.catch(() => this.definitions.delete(symbol));
      this.definitions.set(symbol, pending);
    }
    return pending;
  }

  private scaleOf(symbol: string | undefined): PriceScale {
    return (symbol && this.scales.get(symbol)) || UNSCALED;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Reconciliation (§3 "Disconnect": trade accounts, open orders, positions, recent fills, then resume)

  private async reconcile(info: LogonInfo): Promise<void> {
    const generation = ++this.generation;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState('reconciling');
    this.definitions.clear();
    try {
      const accounts = await this.client.tradeAccounts();
      if (!this.account) {
        if (accounts.length !== 1) {
          throw new InvalidInputError(`Sierra Chart lists ${accounts.length} trade accounts (${accounts.map((a) => a.account).join(', ') || 'none'}): set the trade account in sierra-config.`);
        }
        this.account = accounts[0].account;
      } else if (accounts.length > 0 && !accounts.some((a) => a.account === this.account)) {
        throw new InvalidInputError(`Trade account "${this.account}" is not one Sierra Chart lists (${accounts.map((a) => a.account).join(', ')}): fix the trade account in sierra-config.`);
      }
      const symbols = new Set([...this.watchedSymbols, ...[...this.orders.values()].map((o) => o.symbol)]);
      await Promise.all([...symbols].map((s) => this.definition(s).catch(() => null)));
      if (generation !== this.generation) return;

      await this.lookup();
      if (generation !== this.generation) return;
      const held = await this.client.positions(this.account);
      if (generation !== this.generation) return;
      const positions = new Map<string, number>();
      for (const p of held) if (p.Symbol) positions.set(p.Symbol, (positions.get(p.Symbol) ?? 0) + (p.Quantity ?? 0));
      await this.cancelOrphanedExits(positions);
      if (generation !== this.generation) return;
      await this.client.balances(this.account).catch((err: unknown) => this.warn(err));
      if (generation !== this.generation) return;
      this.baselining = false;
      this.setState('ready');
    } catch (err) {
      this.deferDerivedFills = false;
      if (generation !== this.generation) return;
      this.warn(err);
      if (this.client.isLoggedOn) this.retryTimer = setTimeout(() => void this.reconcile(info), RECONCILE_RETRY_MS);
    }
  }

  /**
   * Bracket exits (a stop, a target: children of a parent) still working after their parent ended that the broker's
   * position does not account for — the position was closed or reduced (a flatten, by hand) while this process was
   * away or before it could cancel them. Against the broker's position (it wins): exits while flat, exits on the side
   * that adds to the position, and OCO pairs beyond the position's size (the oldest pairs are kept) would open or flip
   * a position when they fill: each is cancelled before the manager says ready, and reported. A cancel that fails
   * fails the reconciliation (retried; never ready with such an exit working).
   */
  private async cancelOrphanedExits(held: ReadonlyMap<string, number>): Promise<void> {
    const working = (o: TrackedOrder | undefined): boolean => o !== undefined && !isTerminal(o.status);
    const candidates = [...this.orders.values()].filter((o) => {
      if (isTerminal(o.status) || !o.serverOrderId) return false;
      if (o.parentClientOrderId) return !working(this.orders.get(o.parentClientOrderId));
      if (o.parentServerOrderId) return !working(this.byServerId.get(o.parentServerOrderId));
      return false;
    });
    const excess = excessExits(
      candidates
        .sort((a, b) => a.seq - b.seq)
        .map((o) => ({ id: o.clientOrderId, instrument: o.symbol, side: o.side, remaining: o.orderQuantity - o.filledQuantity, pair: o.parentClientOrderId ?? o.parentServerOrderId ?? o.clientOrderId })),
      (symbol) => held.get(symbol) ?? 0,
    );
    const cancel = new Set(excess.flatMap((p) => p.ids));
    const orphans = candidates.filter((o) => cancel.has(o.clientOrderId));
    const why = excess.map((p) => {
      const described = p.position > 0 ? `long ${p.position}` : p.position < 0 ? `short ${-p.position}` : 'flat';
      const reason = p.reason === 'flat' ? 'the position is flat' : p.reason === 'wrong-side' ? 'on the side that adds to the position' : `beyond the position (${Math.abs(p.position)} in all)`;
      return `${p.ids.join(' + ')} (${p.side} ${p.remaining} ${p.instrument}; Sierra Chart holds ${described}: ${reason})`;
    });
    if (orphans.length === 0) return;
    const ids = orphans.map((o) => o.clientOrderId).join(', ');
    if (!this.client.tradingEnabled) {
      this.emit('warning', new TradingDisabledError(`Bracket exit(s) work in Sierra Chart that its position does not account for: ${why.join('; ')}. Filling, they would open or flip a position. Trading is off here, so they were not cancelled: cancel them in Sierra Chart now.`));
      return;
    }
    const results = await Promise.allSettled(orphans.map((o) => this.sendCancel(o)));
    const failed = orphans.filter((o, i) => results[i].status === 'rejected' && !isTerminal(o.status));
    if (failed.length > 0) {
      const cause = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
      throw new OrderManagerNotReadyError(`Bracket exit(s) ${failed.map((o) => o.clientOrderId).join(', ')} work beyond what their position accounts for and could not be cancelled (${cause instanceof Error ? cause.message : String(cause)}): not ready until they are; retrying.`);
    }
    this.emit('warning', new DtcError('DTC_ORPHAN_CANCELLED', `Cancelled bracket exit(s) ${ids}, found working after their parent ended, which Sierra Chart's position does not account for (it was closed or reduced while Node-RED was away; the broker's position wins): ${why.join('; ')}. Filling, they would have opened or flipped a position.`));
  }

  /**
   * Asks the server what it holds: open orders, then today's fills (both applied by route() as they arrive, in wire
   * order with live updates), then settles what neither names. One lookup at a time.
   */
  private lookup(): Promise<void> {
    const run = async (): Promise<void> => {
      this.deferDerivedFills = true;
      try {
        const horizon = this.trackSeq;
        this.historicalAnswer = [];
        const openAnswer = await this.client.openOrders(this.account);
        await this.client.historicalFills(this.account, 1);
        const listed = new Set(openAnswer.map((m) => m.ClientOrderID ?? ''));
        for (const o of this.orders.values()) this.reportDerivedFill(o);
        this.resolveUnlisted(listed, horizon);
      } finally {
        this.deferDerivedFills = false;
      }
    };
    const next = this.lookupChain.then(run, run);
    this.lookupChain = next.catch(() => undefined);
    return next;
  }

  /**
   * Orders the server no longer lists as working. A tracked order that is gone finished while we were away (filled if
   * its fills add up, else cancelled). A submit never answered is matched to fills no tracked order claims (DTC
   * fills carry no ClientOrderID): none → it never reached the market; exactly one candidate for exactly one such
   * order → it is that order; anything ambiguous → reported unknown, never guessed, never re-sent.
   */
  private resolveUnlisted(listed: ReadonlySet<string>, horizon: number): void {
    const judged = [...this.orders.values()].filter((o) => o.seq <= horizon && !isTerminal(o.status) && !listed.has(o.clientOrderId));
    const orphans = judged.filter((o) => o.unconfirmed);
    for (const o of orphans) {
      const groups = [...this.unmatchedFills.entries()].filter(([, g]) => g.symbol === o.symbol && g.side === o.side && g.quantity <= o.orderQuantity);
      const rivals = orphans.filter((r) => r.unconfirmed && r.symbol === o.symbol && r.side === o.side);
      if (groups.length === 0) {
        this.failUnconfirmed(o);
      } else if (groups.length === 1 && rivals.length === 1) {
        const [serverOrderId, group] = groups[0];
        this.unmatchedFills.delete(serverOrderId);
        o.unconfirmed = false;
        this.indexServerId(o, serverOrderId, undefined);
        for (const f of group.fills) this.emitFill(o, f.quantity, f.price, f.t);
        o.filledQuantity = o.reportedQuantity;
        this.applyLocal(o, o.filledQuantity >= o.orderQuantity ? OrderStatus.FILLED : OrderStatus.CANCELED, 'confirmed from its fills after its answer was lost');
      } else {
        this.settle(this.acks, o.clientOrderId, this.unknownState(o.clientOrderId));
      }
    }
    // Fills of orders nobody here placed or can name: still reported, once.
    for (const [serverOrderId, group] of this.unmatchedFills) {
      for (const f of group.fills) this.emit('fill', { clientOrderId: '', serverOrderId, side: group.side, quantity: f.quantity, price: f.price, t: f.t } satisfies Fill);
    }
    this.unmatchedFills.clear();
    for (const o of judged) {
      if (o.unconfirmed || isTerminal(o.status) || this.baselining) continue;
      if (o.reportedQuantity >= o.orderQuantity && o.orderQuantity > 0) {
        o.filledQuantity = o.reportedQuantity;
        this.applyLocal(o, OrderStatus.FILLED, 'filled while disconnected');
      } else {
        this.applyLocal(o, OrderStatus.CANCELED, 'no longer working at Sierra Chart (finished while disconnected)');
      }
    }
  }

  /** A sent order the server neither lists nor filled: nothing of it is in the market. Reported, never re-sent. */
  private failUnconfirmed(o: TrackedOrder): void {
    o.unconfirmed = false;
    this.applyLocal(o, OrderStatus.REJECTED, 'not received by Sierra Chart (its answer was lost); not re-sent');
    this.settle(this.acks, o.clientOrderId, new OrderRejectedError(o.clientOrderId, `Order ${o.clientOrderId} is not at Sierra Chart (no working order, no fill) after its answer was lost: nothing is in the market for it and it was NOT re-sent. Send it again if you still want it.`));
  }

  private unknownState(clientOrderId: string): OrderStateUnknownError {
    return new OrderStateUnknownError(clientOrderId,
      `Sierra Chart did not confirm order ${clientOrderId} and it could not be identified yet. It was NOT re-sent; it stays tracked and its updates will be reported when Sierra answers. Check Sierra's Trade Orders window before sending it again.`);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Incoming messages

  private route(m: DtcMessage): void {
    const account = (m as { TradeAccount?: string }).TradeAccount;
    if (account && this.account && account !== this.account) return;
    switch (m.Type) {
      case MessageType.ORDER_UPDATE:
        this.onOrderUpdate(m);
        break;
      case MessageType.HISTORICAL_ORDER_FILL_RESPONSE:
        this.onHistoricalFill(m);
        break;
      case MessageType.POSITION_UPDATE:
        this.onPosition(m);
        break;
      case MessageType.ACCOUNT_BALANCE_UPDATE:
        this.onBalance(m);
        break;
      default:
        break;
    }
  }

  private onOrderUpdate(m: DtcOrderUpdate): void {
    if (m.NoOrders === 1) return;
    this.ids.observe(m.ClientOrderID);
    const reason = m.OrderUpdateReason ?? OrderUpdateReason.UNSET;
    const order = this.findOrder(m);
    if (reason === OrderUpdateReason.ORDER_CANCEL_REJECTED || reason === OrderUpdateReason.ORDER_CANCEL_REPLACE_REJECTED) {
      this.onActionRejected(order, m, reason);
      return;
    }
    const solicited = (m.RequestID ?? 0) !== 0;
    const target = order ?? this.adopt(m);
    if (!target) return;
    const status = (m.OrderStatus ?? OrderStatus.UNSPECIFIED) as OrderStatus;
    const next = {
      status,
      orderQuantity: m.OrderQuantity ?? target.orderQuantity,
      filledQuantity: m.FilledQuantity ?? target.filledQuantity,
    };
    const verdict = checkTransition(order, next);
    if (verdict.kind === 'duplicate') return;
    if (verdict.kind === 'invalid') {
      if (!order) this.orders.delete(target.clientOrderId);
      const report: InvalidTransition = {
        clientOrderId: target.clientOrderId,
        serverOrderId: m.ServerOrderID || target.serverOrderId,
        from: order ? statusName(order.status) : 'none',
        to: statusName(status),
        reason: verdict.reason,
      };
      this.emit('invalid-transition', report);
      return;
    }
    const scale = this.scaleOf(m.Symbol || target.symbol);
    target.unconfirmed = false;
    target.status = status;
    target.orderQuantity = next.orderQuantity;
    target.filledQuantity = next.filledQuantity;
    target.averageFillPrice = scale.fromWire(m.AverageFillPrice) ?? target.averageFillPrice;
    target.type = contractOrderType(m.OrderType) ?? target.type;
    if (status === OrderStatus.REJECTED || reason === OrderUpdateReason.ORDER_CANCELED || reason === OrderUpdateReason.NEW_ORDER_REJECTED) {
      target.reason = m.InfoText || target.reason;
    }
    this.indexServerId(target, m.ServerOrderID, m.PreviousServerOrderID);

    this.reportFillFromUpdate(target, m, scale, solicited);
    this.emitUpdate(target);
    this.answer(target, status, reason, m.InfoText);
  }

  /** The answer to one of our pending submits, cancels or modifies, if this update settles it. */
  private answer(o: TrackedOrder, status: OrderStatus, reason: number, infoText: string | undefined): void {
    const id = o.clientOrderId;
    if (status === OrderStatus.REJECTED) {
      const text = infoText ? `: "${infoText}"` : '';
      const error = new OrderRejectedError(id, `Sierra Chart rejected order ${id}${text}. Nothing was placed for it.`);
      this.settle(this.acks, id, error);
      this.settle(this.cancels, id, error);
      this.settle(this.modifies, id, error);
      return;
    }
    if (status !== OrderStatus.ORDER_SENT) this.settle(this.acks, id, this.toContract(o));
    if (isTerminal(status)) this.settle(this.cancels, id, this.toContract(o));
    if (reason === OrderUpdateReason.ORDER_CANCEL_REPLACE_COMPLETE) this.settle(this.modifies, id, this.toContract(o));
    else if (isTerminal(status)) {
      this.settle(this.modifies, id, new OrderRejectedError(id, `Order ${id} was ${contractStatus(status, o.filledQuantity)} before the modify took effect.`));
    }
  }

  /** A refused cancel or modify (reason 9 / 10): the order itself is unchanged unless the server says otherwise. */
  private onActionRejected(order: TrackedOrder | undefined, m: DtcOrderUpdate, reason: number): void {
    const id = order?.clientOrderId ?? m.ClientOrderID ?? '';
    const what = reason === OrderUpdateReason.ORDER_CANCEL_REJECTED ? 'cancel' : 'modify';
    const text = m.InfoText ? `: "${m.InfoText}"` : '';
    const status = m.OrderStatus as OrderStatus | undefined;
    if (order && status !== undefined && status !== OrderStatus.REJECTED && status !== order.status) {
      // e.g. cancel of an already cancelled order: reason 9 with status 8 (§4.5) — the order's real state.
      const verdict = checkTransition(order, { status, orderQuantity: m.OrderQuantity ?? order.orderQuantity, filledQuantity: m.FilledQuantity ?? order.filledQuantity });
      if (verdict.kind === 'apply') {
        order.status = status;
        this.emitUpdate(order);
      }
    }
    const table = what === 'cancel' ? this.cancels : this.modifies;
    if (what === 'cancel' && order && isTerminal(order.status)) {
      this.settle(table, id, this.toContract(order));
      return;
    }
    this.settle(table, id, new OrderRejectedError(id, `Sierra Chart refused to ${what} order ${id}${text}. The order is unchanged.`));
  }

  private findOrder(m: { ClientOrderID?: string; ServerOrderID?: string; PreviousServerOrderID?: string }): TrackedOrder | undefined {
    return (m.ClientOrderID ? this.orders.get(m.ClientOrderID) : undefined)
      ?? (m.ServerOrderID ? this.byServerId.get(m.ServerOrderID) : undefined)
      ?? (m.PreviousServerOrderID ? this.byServerId.get(m.PreviousServerOrderID) : undefined);
  }

  /** An order we did not place (entered in Sierra, or by an earlier run): tracked from now on. */
  private adopt(m: DtcOrderUpdate): TrackedOrder | undefined {
    const side = sideOf(m.BuySell);
    if (!m.ClientOrderID || !side) return undefined;
    const parent = m.ParentServerOrderID ? this.byServerId.get(m.ParentServerOrderID) : undefined;
    const o = this.track(m.ClientOrderID, m.Symbol ?? '', side, contractOrderType(m.OrderType), m.OrderQuantity ?? 0, parent?.clientOrderId ?? null);
    o.parentServerOrderId = m.ParentServerOrderID || null;
    o.unconfirmed = false;
    if (this.baselining) {
      // Fills from before this manager existed are history, not news.
      o.reportedQuantity = m.FilledQuantity ?? 0;
      o.reportedValue = (m.FilledQuantity ?? 0) * (this.scaleOf(m.Symbol).fromWire(m.AverageFillPrice) ?? 0);
    }
    return o;
  }

  private indexServerId(o: TrackedOrder, serverOrderId: string | undefined, previous: string | undefined): void {
    if (!serverOrderId || serverOrderId === o.serverOrderId) return;
    if (o.serverOrderId) this.byServerId.delete(o.serverOrderId);
    if (previous) this.byServerId.delete(previous);
    o.serverOrderId = serverOrderId;
    this.byServerId.set(serverOrderId, o);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Fills: each exactly once, by execution id, with the order's reported quantity as the backstop

  private reportFillFromUpdate(o: TrackedOrder, m: DtcOrderUpdate, scale: PriceScale, solicited: boolean): void {
    const execId = m.LastFillExecutionID;
    const lastQty = m.LastFillQuantity ?? 0;
    if (execId && lastQty > 0 && !this.seenExecutions.has(execId) && !solicited) {
      this.seenExecutions.add(execId);
      const qty = Math.min(lastQty, o.filledQuantity - o.reportedQuantity);
      const price = scale.fromWire(m.LastFillPrice);
      if (qty > 0 && price !== null) this.emitFill(o, qty, price, this.now());
    }
    if (!(solicited && this.deferDerivedFills)) this.reportDerivedFill(o);
  }

  /** Fills the order's FilledQuantity implies but no execution reported (missed while away): priced from averages. */
  private reportDerivedFill(o: TrackedOrder): void {
    const missing = o.filledQuantity - o.reportedQuantity;
    if (missing <= 0 || o.averageFillPrice === null) return;
    const price = roundPrice((o.averageFillPrice * o.filledQuantity - o.reportedValue) / missing);
    o.derivedQuantity += missing;
    this.emitFill(o, missing, price, this.now());
  }

  private onHistoricalFill(m: HistoricalOrderFillResponse): void {
    if (m.NoOrderFills === 1 || !m.UniqueExecutionID) return;
    const fillSide = sideOf(m.BuySell);
    if (fillSide && (m.Quantity ?? 0) > 0 && !this.historicalAnswer.some((f) => f.executionId === m.UniqueExecutionID)) {
      this.historicalAnswer.push({
        serverOrderId: m.ServerOrderID ?? '',
        clientOrderId: (m.ServerOrderID ? this.byServerId.get(m.ServerOrderID)?.clientOrderId : undefined) ?? null,
        symbol: m.Symbol ?? '',
        side: fillSide,
        quantity: m.Quantity ?? 0,
        executionId: m.UniqueExecutionID,
      });
    }
    if (this.seenExecutions.has(m.UniqueExecutionID)) return;
    this.seenExecutions.add(m.UniqueExecutionID);
    if (this.baselining) return; // before this manager existed: history, not news
    const price = this.scaleOf(m.Symbol).fromWire(m.Price);
    const side = sideOf(m.BuySell);
    let qty = m.Quantity ?? 0;
    if (price === null || qty <= 0 || !side) return;
    const t = this.now();
    const o = m.ServerOrderID ? this.byServerId.get(m.ServerOrderID) : undefined;
    if (!o) {
      const key = m.ServerOrderID ?? '';
      const group = this.unmatchedFills.get(key) ?? { symbol: m.Symbol ?? '', side, quantity: 0, fills: [] };
      group.quantity += qty;
      group.fills.push({ quantity: qty, price, t });
      this.unmatchedFills.set(key, group);
      return;
    }
    // A fill already reported as derived from an update is absorbed here, not reported twice.
    const absorbed = Math.min(o.derivedQuantity, qty);
    o.derivedQuantity -= absorbed;
    qty = Math.min(qty - absorbed, o.orderQuantity - o.reportedQuantity);
    if (qty <= 0) return;
    o.filledQuantity = Math.max(o.filledQuantity, o.reportedQuantity + qty);
    this.emitFill(o, qty, price, t);
  }

  private emitFill(o: TrackedOrder, quantity: number, price: number, t: number): void {
    o.reportedQuantity += quantity;
    o.reportedValue += quantity * price;
    const fill: Fill = { clientOrderId: o.clientOrderId, serverOrderId: o.serverOrderId, side: o.side, quantity, price, t };
    this.emit('fill', fill);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Positions and balances

  private onPosition(m: PositionUpdate): void {
    if (m.NoPositions === 1 || !m.Symbol) return;
    const quantity = m.Quantity ?? 0;
    this.positionBySymbol.set(m.Symbol, quantity);
    const position: Position = {
      symbol: m.Symbol,
      quantity,
      averagePrice: quantity === 0 ? null : this.scaleOf(m.Symbol).fromWire(m.AveragePrice),
      t: this.now(),
    };
    if (m.OpenProfitLoss !== undefined) position.unrealizedPnl = m.OpenProfitLoss;
    this.emit('position', position);
  }

  private onBalance(m: AccountBalanceUpdate): void {
    if (m.NoAccountBalances === 1) return;
    const cash = m.CashBalance ?? null;
    const open = m.OpenPositionsProfitLoss ?? null;
    const snapshot: AccountSnapshot = {
      account: m.TradeAccount ?? this.account ?? '',
      balance: m.SecuritiesValue ?? (cash !== null ? cash + (open ?? 0) : null),
      cash,
      unrealizedPnl: open,
      realizedPnl: m.DailyProfitLoss ?? null,
      currency: m.AccountCurrency ?? '',
      availableForNewPositions: m.BalanceAvailableForNewPositions ?? null,
      marginRequirement: m.MarginRequirement ?? null,
      tradingDisabled: m.TradingIsDisabled === 1,
      t: this.now(),
    };
    this.emit('account', snapshot);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Bookkeeping

  private track(id: string, symbol: string, side: Side, type: OrderType | null, quantity: number, parent: string | null): TrackedOrder {
    const o: TrackedOrder = {
      clientOrderId: id,
      serverOrderId: null,
      symbol,
      side,
      type,
      status: OrderStatus.ORDER_SENT,
      orderQuantity: quantity,
      filledQuantity: 0,
      averageFillPrice: null,
      reportedQuantity: 0,
      reportedValue: 0,
      derivedQuantity: 0,
      parentClientOrderId: parent,
      parentServerOrderId: null,
      reason: undefined,
      unconfirmed: true,
      seq: ++this.trackSeq,
    };
    this.orders.set(id, o);
    return o;
  }

  /** An order whose message never left (send threw): removed; its id stays used. */
  private forget(o: TrackedOrder, error: Error): void {
    this.orders.delete(o.clientOrderId);
    this.settle(this.acks, o.clientOrderId, error);
  }

  /** A state change concluded locally (after a reconnect), still through the state machine. */
  private applyLocal(o: TrackedOrder, status: OrderStatus, reason: string): void {
    const verdict = checkTransition(o, { status, orderQuantity: o.orderQuantity, filledQuantity: o.filledQuantity });
    if (verdict.kind !== 'apply') {
      this.emit('invalid-transition', { clientOrderId: o.clientOrderId, serverOrderId: o.serverOrderId, from: statusName(o.status), to: statusName(status), reason: verdict.kind === 'invalid' ? verdict.reason : 'duplicate' } satisfies InvalidTransition);
      return;
    }
    o.status = status;
    o.reason = reason;
    if (o.reportedQuantity > 0) o.averageFillPrice = roundPrice(o.reportedValue / o.reportedQuantity);
    this.emitUpdate(o);
    this.answer(o, status, OrderUpdateReason.UNSET, reason);
  }

  private expectAnswer(table: Map<string, Settle>, clientOrderId: string): Promise<OrderUpdate> {
    return new Promise<OrderUpdate>((resolve, reject) => {
      const entry: Settle = { resolve, reject, timer: null };
      entry.timer = this.answerTimers.setTimeout(() => this.onAnswerTimeout(table, clientOrderId), this.answerTimeoutMs);
      table.set(clientOrderId, entry);
    });
  }

  private settle(table: Map<string, Settle>, clientOrderId: string, outcome: OrderUpdate | Error): void {
    const entry = table.get(clientOrderId);
    if (!entry) return;
    table.delete(clientOrderId);
    if (entry.timer) this.answerTimers.clearTimeout(entry.timer);
    if (outcome instanceof Error) entry.reject(outcome);
    else entry.resolve(outcome);
  }

  /** No answer in time: ask the server by ClientOrderID instead of guessing or re-sending. */
  private onAnswerTimeout(table: Map<string, Settle>, clientOrderId: string): void {
    const entry = table.get(clientOrderId);
    if (!entry) return;
    entry.timer = null;
    if (!this.client.isLoggedOn || this.currentState !== 'ready') {
      // The reconnect's reconciliation will resolve the order; the caller hears now that it is not confirmed.
      this.settle(table, clientOrderId, this.unknownState(clientOrderId));
      return;
    }
    // Same connection: the server read our instruction before this lookup (TCP keeps order), so its answer counts.
    this.lookup().then(
      () => {
        const o = this.orders.get(clientOrderId);
        if (o && table === this.acks && !o.unconfirmed) this.settle(table, clientOrderId, this.toContract(o));
        else this.settle(table, clientOrderId, this.unknownState(clientOrderId));
      },
      () => this.settle(table, clientOrderId, this.unknownState(clientOrderId)),
    );
  }

  private emitUpdate(o: TrackedOrder): void {
    this.emit('order-update', this.toContract(o));
  }

  private toContract(o: TrackedOrder): OrderUpdate {
    const update: OrderUpdate = {
      clientOrderId: o.clientOrderId,
      serverOrderId: o.serverOrderId,
      status: contractStatus(o.status, o.filledQuantity),
      side: o.side,
      quantity: o.orderQuantity,
      filledQuantity: o.filledQuantity,
      averageFillPrice: o.averageFillPrice,
      t: this.now(),
    };
    if (o.reason) update.reason = o.reason;
    return update;
  }

  private setState(state: ManagerState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private warn(err: unknown): void {
    const error: MiaError = err instanceof DtcError || err instanceof InvalidInputError
      ? err
      : new OrderManagerNotReadyError(`Reconciling Sierra Chart orders failed: ${err instanceof Error ? err.message : String(err)}. Retrying.`);
    this.emit('warning', error);
  }
}

function roundPrice(x: number): number {
  return Number(x.toPrecision(12));
}
