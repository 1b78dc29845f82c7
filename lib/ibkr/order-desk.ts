// The ibkr-order node's engine: one checked intent in → risk rules → contract → client order id → IBKR (answering
// its questions by rule) → `order-update` / `fill` / `what-if` messages out. Every order carries a client order id
// made once for that intent and never reused; a lost answer is resolved by the client looking that id up, never by
// sending again. An order the risk rules, the stale-data guard, the question rules or IBKR refuse is reported
// `rejected` with the reason. Orders sent and fills are logged at info, rejections at warn (never a secret: the log
// lines carry only ids, sides, quantities, types, prices and reasons).
import type { Fill, OrderUpdate, Side } from '../contracts';
import { InvalidInputError, MiaError } from '../errors';
import type { KillSwitchState, RiskGuard, RiskRule } from '../strategy/risk';
import { checkStaleAfterSec, MarketDataClock, type ExposureChange } from '../strategy/stale-data';
import type { IbkrClient, WhatIfQuote } from './client';
import { resolveContract, type ContractSpec, type ResolvedContract } from './contract-resolver';
import {
  BadRequestError,
  NoBridgeError,
  NotAuthenticatedError,
  RateLimitedError,
  RejectedError,
  SessionExpiredError,
  TradingDisabledError,
} from './errors';
import { findInstrument } from '../trading/instruments';
import { chicagoDate } from './futures';
import { ClientOrderIdGenerator } from '../trading/client-order-id';
import type { CancelIntent, EntryIntent, InstrumentOverride, ModifyIntent, OrderIntent } from '../trading/order-intent';
import { applyModify, planEntry, tickFor, type PlannedLeg } from './order-intent';
import { OrderTracker, orderStatus, rejectedUpdate, type TrackerOutput } from './order-updates';
import { answerRule, describeQuestion, type AnsweredQuestion, type QuestionRuleSettings } from './question-rules';
import type { OrderRequest as IbkrOrderRequest } from './types';

/** A risk rule said no: nothing was sent. `rule` names it (daily-loss, max-position, stale-data, ...). */
export class RiskDeniedError extends MiaError {
  readonly rule: RiskRule | 'stale-data';

  constructor(rule: RiskRule | 'stale-data', reason: string) {
    super('RISK_DENIED', `Order not sent: risk rule "${rule}" refused it: ${reason}.`);
    this.rule = rule;
  }
}

export type DeskMessage =
  | { topic: 'order-update'; payload: OrderUpdate }
  | { topic: 'fill'; payload: Fill }
  | { topic: 'what-if'; payload: WhatIfQuote & { side: Side; quantity: number; conid: number; contract: string } };

/** What one intent produced: messages to send, a short status, and the failure (reported after the messages). */
export interface DeskOutcome {
  messages: DeskMessage[];
  status: string;
  /** The questions IBKR asked and how they were answered. */
  questions: AnsweredQuestion[];
  error?: Error;
}

/** The client calls the desk makes (IbkrClient has them all; tests may pass a fake). */
export type DeskClient = Pick<
  IbkrClient,
  'tradingEnabled' | 'tradingBlockedReason' | 'placeOrders' | 'modifyOrder' | 'cancelOrder' | 'whatIf' | 'positions' | 'liveOrders' | 'futures' | 'secdefSearch' | 'contractInfo'
>;

export interface OrderDeskOptions {
  client: DeskClient;
  risk: RiskGuard;
  questions: QuestionRuleSettings;
  /** The contract the node trades: ES front month by default, or a conid. */
  contract: ContractSpec;
  /** The clock of the market traded (the simulated market's in simulator mode): risk rules and time stamps. */
  now: () => number;
  /** "Stale data after (s)": new entries refused once no market data arrived for this long; 0 or absent = off. */
  staleAfterSec?: number;
  /** Where orders sent, fills (info) and rejections (warn) are told; silent without it. */
  log?: DeskLog;
  /** The one client-order-id generator (lib/trading); a fresh one continuing above the wall clock by default. */
  ids?: ClientOrderIdGenerator;
  /** The wall clock the ids are dated by (never a simulated market's); Date.now by default. */
  idClock?: () => number;
}

export interface DeskLog {
  info(message: string): void;
  warn(message: string): void;
}

const silent: DeskLog = { info: () => undefined, warn: () => undefined };

/** IBKR's order types in the words of the `order` message (lib/contracts.ts OrderType). */
const TYPE_WORDS: Partial<Record<string, string>> = { MKT: 'market', LMT: 'limit', STP: 'stop', STOP_LIMIT: 'stop-limit' };

/** What the desk remembers of each leg it placed, by local client order id. */
interface PlacedLeg extends PlannedLeg {
  orderId: number;
  contract: ResolvedContract;
}

/** Failures where IBKR certainly did not take the order: reported `rejected` as well as raised. */
function certainlyNotPlaced(err: unknown): boolean {
  return (
    err instanceof RejectedError ||
    err instanceof RateLimitedError ||
    err instanceof NotAuthenticatedError ||
    err instanceof SessionExpiredError ||
    err instanceof NoBridgeError ||
    err instanceof BadRequestError ||
    err instanceof TradingDisabledError ||
    err instanceof InvalidInputError
  );
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** Says plainly that the order did not go out, keeping the failure's code (a Catch node branches on it) and cause. */
function notPlaced(err: unknown, clientOrderId: string, what: string): Error {
  if (err instanceof RejectedError || err instanceof TradingDisabledError || err instanceof InvalidInputError) return asError(err);
  const code = err instanceof MiaError ? err.code : 'IBKR_ORDER_NOT_PLACED';
  return new MiaError(code, `IBKR order ${clientOrderId} (${what}) was not placed: ${asError(err).message}`, { cause: err });
}

export class IbkrOrderDesk {
  private readonly client: DeskClient;
  private readonly risk: RiskGuard;
  private readonly questions: QuestionRuleSettings;
  private readonly spec: ContractSpec;
  private readonly now: () => number;
  private readonly staleAfterSec: number;
  /** When market data (tick, quote, bar, or the simulated market's trades) last arrived, on `now`'s clock. */
  private readonly marketData = new MarketDataClock();
  private readonly log: DeskLog;
  private readonly ids: ClientOrderIdGenerator;
  private readonly idClock: () => number;
  readonly tracker = new OrderTracker();
  private readonly legs = new Map<string, PlacedLeg>();
  /** Order warnings already told (order|warning), so each is logged once. */
  private readonly warned = new Set<string>();
  private contractCache: { key: string; contract: ResolvedContract } | undefined;
  /** The contract of each entry sent, by its cOID (bracket legs are `<cOID>:stop` / `<cOID>:target`). */
  private readonly contractOfOrder = new Map<string, ResolvedContract>();
  private positionSynced = false;
  private queue: Promise<void> = Promise.resolve();

  constructor(options: OrderDeskOptions) {
    this.client = options.client;
    this.risk = options.risk;
    this.questions = options.questions;
    this.spec = options.contract;
    this.now = options.now;
    this.staleAfterSec = checkStaleAfterSec(options.staleAfterSec ?? 0);
    this.log = options.log ?? silent;
    this.ids = options.ids ?? new ClientOrderIdGenerator();
    this.idClock = options.idClock ?? Date.now;
  }

  /**
   * Market data arrived: the stale-data guard judges it by its own time (`point`, from readMarketData); without one
   * (the simulated market's own trades) it is data of this instant. Throws on data stamped in the future.
   */
  noteMarketData(point?: { t: number; from: number }): void {
    const now = this.now();
    this.marketData.observe(point?.t ?? now, now, point?.from ?? point?.t ?? now);
  }

  /** Age of the newest market data (ms, on the desk's clock), or null when none has arrived. */
  marketDataAgeMs(): number | null {
    return this.marketData.ageMs(this.now());
  }

  /**
   * Carries out one intent; never throws: a failure comes back in `error`, after any `rejected` update. Intents run
   * one at a time, in arrival order: IBKR wants each order fully acknowledged before the next (fact sheet §2), and a
   * modify or cancel must find the order its placement just registered.
   */
  execute(intent: OrderIntent, instrument?: InstrumentOverride): Promise<DeskOutcome> {
    const overrides: { conid?: number; symbol?: string } = instrument ?? {};
    const run = this.queue.then(() => this.run(intent, overrides));
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async run(intent: OrderIntent, overrides: { conid?: number; symbol?: string }): Promise<DeskOutcome> {
    const questions: AnsweredQuestion[] = [];
    try {
      switch (intent.kind) {
        case 'entry':
          return await this.entry(intent, overrides, questions);
        case 'modify':
          return await this.modify(intent, questions);
        case 'cancel':
          return await this.cancel(intent);
        case 'cancel-all':
          return await this.cancelAll(overrides);
        case 'flatten':
          return await this.flatten(overrides);
      }
    } catch (err) {
      return { messages: [], status: `${intent.kind} failed`, questions, error: asError(err) };
    }
  }

  /**
   * True while IBKR streamed fills without their price (it omits avgPrice on later `sor` updates): a `reconcile()`
   * reads live orders, whose avgPrice covers every fill, so the held fills are reported at their real price.
   */
  get awaitingFillPrices(): boolean {
    return this.tracker.awaitingFillPrices();
  }

  /** One `sor` stream message: updates and fills of this desk's orders; fills also feed the risk rules. */
  onStream(args: readonly unknown[]): DeskMessage[] {
    for (const raw of args) {
      const ref = raw && typeof raw === 'object' ? (raw as { order_ref?: unknown }).order_ref : undefined;
      if (typeof ref === 'string') this.ids.observe(ref);
    }
    return this.report(this.tracker.applyStream(args, this.now()));
  }

  /**
   * The tracker's output as messages. Every fill it reports is of this desk's orders and reported once, and each
   * feeds the risk rules — including a market order's fill that the stream delivers before IBKR's answer to the
   * place request (the tracker knows the order by its cOID from then on; this desk's legs only after the answer).
   */
  private report(out: TrackerOutput): DeskMessage[] {
    for (const fill of out.fills) {
      // $ per point of the contract that filled (MES 5, not ES 50); a contract outside the registry keeps the limits'.
      const contract = this.contractOfOrder.get(fill.clientOrderId.split(':')[0] ?? fill.clientOrderId) ?? this.contractCache?.contract;
      const pointValue = contract ? findInstrument(contract.symbol)?.pointValue : undefined;
      this.risk.recordFill({ side: fill.side, quantity: fill.quantity, price: fill.price, now: fill.t, ...(pointValue === undefined ? {} : { pointValue }) });
      this.log.info(`IBKR order filled: ${fill.clientOrderId} ${fill.side} ${fill.quantity} @ ${fill.price}`);
    }
    for (const update of out.updates) {
      if (update.status === 'rejected') this.warnRejected(update);
      const key = `${update.serverOrderId ?? update.clientOrderId}|${update.warning ?? ''}`;
      if (update.warning && !this.warned.has(key)) {
        this.warned.add(key);
        this.log.warn(`IBKR order warning: ${update.clientOrderId}: ${update.warning}`);
      }
    }
    for (const bad of out.invalid ?? []) {
      this.log.warn(`IBKR order update ignored for ${bad.clientOrderId ?? `order ${bad.orderId}`} (IBKR status ${bad.ibkrStatus || 'none'}): ${bad.reason}`);
    }
    return toMessages(out);
  }

  private warnRejected(update: OrderUpdate): void {
    this.log.warn(`IBKR order rejected: ${update.clientOrderId} ${update.side} ${update.quantity}${update.reason ? `: ${update.reason}` : ''}`);
  }

  /**
   * The kill switch of the risk rules: ACTIVE trades, REDUCING allows only orders that shrink the position, HALTED
   * sends no new order. Cancels are never blocked.
   */
  setKillSwitch(state: unknown): KillSwitchState {
    if (state !== 'ACTIVE' && state !== 'REDUCING' && state !== 'HALTED') {
      throw new InvalidInputError(`kill switch must be "ACTIVE", "REDUCING" or "HALTED"; got ${JSON.stringify(state) ?? String(state)}.`);
    }
    this.risk.setKillSwitch(state);
    return state;
  }

  /**
   * After a stream gap (reconnect): IBKR's live orders, read once, bring this desk's orders up to date — a fill
   * that happened while the stream was down is reported, not lost.
   */
  async reconcile(): Promise<DeskMessage[]> {
    if (this.legs.size === 0 && !this.tracker.awaitingFillPrices()) return [];
    const live = await this.client.liveOrders({ priority: 'order' });
    return this.onStream(
      live.map((o) => ({
        orderId: o.orderId,
        status: o.status,
        side: o.side,
        totalSize: o.quantity,
        filledQuantity: o.filledQuantity,
        avgPrice: o.averagePrice,
        lastExecutionTime_r: o.lastExecutionTime,
        ...(o.clientOrderId ? { order_ref: o.clientOrderId } : {}),
      })),
    );
  }

  /** The contract for an order: the node's, or msg.payload.conid; a symbol that does not match is refused. */
  private async contract(overrides: { conid?: number; symbol?: string }): Promise<ResolvedContract> {
    const now = this.now();
    const spec: ContractSpec = overrides.conid !== undefined ? { conid: overrides.conid } : this.spec;
    // Re-resolved each Chicago day, so the front month rolls without a redeploy.
    const key = `${JSON.stringify(spec)}@${chicagoDate(now)}`;
    if (this.contractCache?.key !== key) this.contractCache = { key, contract: await resolveContract(this.client, spec, now, 'order') };
    const contract = this.contractCache.contract;
    if (overrides.symbol !== undefined && overrides.conid === undefined) {
      const asked = overrides.symbol.trim().toUpperCase();
      if (!symbolNames(contract).includes(asked)) {
        throw new InvalidInputError(
          `order symbol "${overrides.symbol}" is not the contract this node trades (${contract.description}): set the node's contract, or send msg.payload.conid.`,
        );
      }
    }
    return contract;
  }

  private async entry(intent: EntryIntent, overrides: { conid?: number; symbol?: string }, questions: AnsweredQuestion[]): Promise<DeskOutcome> {
    const what = `${intent.side} ${intent.quantity}${intent.bracket ? ' + bracket' : ''}`;
    if (!intent.whatIf && !this.client.tradingEnabled) throw new TradingDisabledError(`order (${what}, from ${intent.origin})`, this.client.tradingBlockedReason ?? undefined);
    const contract = await this.contract(overrides);
    const clientOrderId = intent.clientOrderId ? this.ids.claim(intent.clientOrderId) : this.ids.next(this.idClock());
    const legs = planEntry(intent, { conid: contract.conid, secType: contract.secType || undefined }, clientOrderId, tickFor(contract.symbol));
    const parent = legs[0] as PlannedLeg;

    if (intent.whatIf) {
      const result = await this.client.whatIf(parent.order);
      const payload = { ...result, side: intent.side, quantity: intent.quantity, conid: contract.conid, contract: contract.description };
      const msg: DeskMessage = { topic: 'what-if', payload };
      return { messages: [msg], status: `what-if ${what}`, questions };
    }

    const rejected = (reason: string): DeskMessage => {
      const payload = rejectedUpdate(clientOrderId, intent.side, intent.quantity, reason, this.now());
      this.warnRejected(payload);
      return { topic: 'order-update', payload };
    };
    await this.syncPosition(contract.conid);
    const now = this.now();
    // Fills IBKR has not priced yet are not in the risk position yet: counted here, so no limit is passed meanwhile.
    const position = this.risk.state().position + this.tracker.unpricedPosition();
    const exposure: ExposureChange = { side: intent.side, quantity: intent.quantity, position, workingQuantity: this.workingEntries() };
    const decision = this.risk.check({ ...exposure, now });
    // Stale data blocks only what adds exposure: an order that brings the position back toward flat always passes.
    const verdict = decision.allowed ? this.marketData.check(exposure, now, this.staleAfterSec) : decision;
    if (!verdict.allowed) {
      const err = new RiskDeniedError(verdict.rule, verdict.reason);
      return { messages: [rejected(`risk rule ${verdict.rule}: ${verdict.reason}`)], status: `refused: ${verdict.rule}`, questions, error: err };
    }

    this.tracker.expect({ clientOrderId, side: intent.side, quantity: intent.quantity });
    this.contractOfOrder.set(clientOrderId, contract);
    // Logged before the request: a fill on the stream can arrive before IBKR's answer to it.
    for (const leg of legs) this.log.info(`IBKR order sent: ${describeLeg(leg)} (${contract.description})`);
    let placed;
    try {
      placed = await this.client.placeOrders(
        legs.map((l) => l.order),
        answerRule(this.questions, questions),
      );
    } catch (err) {
      if (!certainlyNotPlaced(err)) throw err;
      const refused = questions.find((q) => !q.accepted);
      const reason = refused ? `IBKR asked ${refused.id} (${describeQuestion(refused.id)}): "${refused.text}" — refused by the node's question rules` : asError(err).message;
      return { messages: [rejected(reason)], status: refused ? `rejected: ${refused.id}` : 'rejected', questions, error: notPlaced(err, clientOrderId, what) };
    }

    const messages: DeskMessage[] = [];
    const placedAt = this.now();
    placed.forEach((p, k) => {
      const leg = legs[p.requestIndex ?? k];
      if (!leg || !p.orderId) return;
      this.legs.set(leg.clientOrderId, { ...leg, orderId: p.orderId, contract });
      const side: Side = leg.order.side === 'BUY' ? 'buy' : 'sell';
      messages.push(...this.report(this.tracker.register(p.orderId, { clientOrderId: leg.clientOrderId, side, quantity: leg.order.quantity }, placedAt)));
      messages.push(...this.report(this.tracker.acknowledge(p.orderId, p.status, placedAt, p.warning)));
    });
    return { messages, status: `placed ${what}`, questions };
  }

  private async modify(intent: ModifyIntent, questions: AnsweredQuestion[]): Promise<DeskOutcome> {
    if (!this.client.tradingEnabled) throw new TradingDisabledError('order modification', this.client.tradingBlockedReason ?? undefined);
    const leg = this.findLeg(intent);
    if (intent.quantity !== undefined && intent.quantity > this.risk.limits.maxOrderSize) {
      const reason = `order of ${intent.quantity} contracts exceeds the maximum order size of ${this.risk.limits.maxOrderSize}`;
      return { messages: [], status: 'refused: max-order-size', questions, error: new RiskDeniedError('max-order-size', reason) };
    }
    const next: IbkrOrderRequest = applyModify(leg.order, intent, tickFor(leg.contract.symbol));
    await this.client.modifyOrder(leg.orderId, next, answerRule(this.questions, questions));
    this.legs.set(leg.clientOrderId, { ...leg, order: { ...next, clientOrderId: leg.order.clientOrderId } });
    const changed = [
      intent.quantity !== undefined ? `quantity ${intent.quantity}` : '',
      intent.price !== undefined ? `price ${intent.price}` : '',
      intent.stopPrice !== undefined ? `stop ${intent.stopPrice}` : '',
      intent.tif !== undefined ? `tif ${intent.tif}` : '',
    ].filter(Boolean);
    const update = this.tracker.current(leg.orderId, `modified: ${changed.join(', ')}`, this.now());
    const messages: DeskMessage[] = update ? [{ topic: 'order-update', payload: update }] : [];
    return { messages, status: `modified ${leg.clientOrderId}`, questions };
  }

  private async cancel(intent: CancelIntent): Promise<DeskOutcome> {
    if (!this.client.tradingEnabled) throw new TradingDisabledError('order cancel', this.client.tradingBlockedReason ?? undefined);
    const orderId = this.findLeg(intent).orderId;
    await this.client.cancelOrder(orderId, { futures: this.tradesFutures() });
    return { messages: [], status: `cancel sent ${intent.clientOrderId}`, questions: [] };
  }

  /** Every working order of the account; with a symbol or conid, every working order of that contract only. */
  private async cancelAll(overrides: { conid?: number; symbol?: string }): Promise<DeskOutcome> {
    if (!this.client.tradingEnabled) throw new TradingDisabledError('cancel-all', this.client.tradingBlockedReason ?? undefined);
    if (overrides.conid === undefined && overrides.symbol === undefined) {
      await this.client.cancelOrder(-1, { futures: true });
      return { messages: [], status: 'cancel-all sent', questions: [] };
    }
    const contract = await this.contract(overrides);
    const n = await this.cancelWorking(contract.conid);
    return { messages: [], status: `cancel sent for ${n} order(s)`, questions: [] };
  }

  /** Cancels every live order of the account on `conid`; returns how many cancels were sent. */
  private async cancelWorking(conid: number): Promise<number> {
    const live = await this.client.liveOrders({ force: true });
    const working = live.filter((o) => o.conid === conid && !['filled', 'cancelled', 'rejected'].includes(orderStatus(o.status, o.filledQuantity ?? 0)));
    for (const o of working) await this.client.cancelOrder(o.orderId, { futures: this.tradesFutures() });
    return working.length;
  }

  /**
   * Flatten (the same meaning as sierra-order's): cancels the contract's working orders (so no bracket leg re-opens
   * the position), then closes the broker's position with a market order. Allowed when HALTED or REDUCING: it only
   * reduces.
   */
  private async flatten(overrides: { conid?: number; symbol?: string }): Promise<DeskOutcome> {
    if (!this.client.tradingEnabled) throw new TradingDisabledError('flatten', this.client.tradingBlockedReason ?? undefined);
    const contract = await this.contract(overrides);
    const cancelled = await this.cancelWorking(contract.conid);
    const positions = await this.client.positions();
    const held = positions.find((p) => p.conid === contract.conid);
    this.risk.syncBroker({ now: this.now(), position: held?.quantity ?? 0, averagePrice: held?.averagePrice ?? null });
    this.positionSynced = true;
    if (!held || held.quantity === 0) return { messages: [], status: `flat (${cancelled} cancel(s))`, questions: [] };
    const questions: AnsweredQuestion[] = [];
    const messages = await this.close({ conid: contract.conid, secType: contract.secType || undefined }, held.quantity, contract, questions);
    return { messages, status: `flatten ${held.quantity > 0 ? 'sell' : 'buy'} ${Math.abs(held.quantity)}`, questions };
  }

  /** A market order that closes `held` contracts of `ref` (never checked by the risk rules: it only reduces). */
  private async close(ref: { conid: number; secType?: string }, held: number, contract: ResolvedContract, questions: AnsweredQuestion[]): Promise<DeskMessage[]> {
    const side: Side = held > 0 ? 'sell' : 'buy';
    const quantity = Math.abs(held);
    const clientOrderId = this.ids.next(this.idClock());
    const intent: EntryIntent = { kind: 'entry', side, quantity, type: 'market', tif: 'day', whatIf: false, origin: 'flatten' };
    const leg = planEntry(intent, ref, clientOrderId, null)[0] as PlannedLeg;
    this.tracker.expect({ clientOrderId, side, quantity });
    this.log.info(`IBKR order sent: ${describeLeg(leg)} (${contract.description}, flatten)`);
    const placed = await this.client.placeOrders([leg.order], answerRule(this.questions, questions));
    const messages: DeskMessage[] = [];
    const p = placed[0];
    if (p?.orderId) {
      this.legs.set(clientOrderId, { ...leg, orderId: p.orderId, contract });
      messages.push(...this.report(this.tracker.register(p.orderId, { clientOrderId, side, quantity }, this.now())));
      messages.push(...this.report(this.tracker.acknowledge(p.orderId, p.status, this.now())));
    }
    return messages;
  }

  /**
   * The kill switch, the same meaning as sierra-order's: HALTED first (no new order passes from this instant), then
   * every working order of the account is cancelled and every position of the account closed at the market. Never
   * throws: what failed is in `error`, and the switch stays HALTED.
   */
  async kill(): Promise<DeskOutcome> {
    this.risk.setKillSwitch('HALTED');
    const run = this.queue.then(async (): Promise<DeskOutcome> => {
      const messages: DeskMessage[] = [];
      const questions: AnsweredQuestion[] = [];
      try {
        if (!this.client.tradingEnabled) throw new TradingDisabledError('kill switch (cancel and flatten)', this.client.tradingBlockedReason ?? undefined);
        await this.client.cancelOrder(-1, { futures: true });
        const positions = (await this.client.positions()).filter((p) => p.quantity !== 0);
        const own = await this.contract({});
        const failures: string[] = [];
        for (const p of positions) {
          const secType = p.conid === own.conid ? own.secType || undefined : /^FUT/i.test(p.assetClass) ? 'FUT' : undefined;
          const contract: ResolvedContract = p.conid === own.conid ? own : { ...own, conid: p.conid, description: p.description || `conid ${p.conid}` };
          try {
            messages.push(...(await this.close({ conid: p.conid, secType }, p.quantity, contract, questions)));
          } catch (err) {
            failures.push(`${p.description || p.conid} (${p.quantity}): ${asError(err).message}`);
          }
        }
        if (failures.length) throw new Error(`could not flatten ${failures.join('; ')}`);
        return { messages, status: `HALTED: ${positions.length} position(s) flattened`, questions };
      } catch (err) {
        const error = new MiaError('KILL_SWITCH_INCOMPLETE', `Kill switch is HALTED (no new orders), but cancelling and flattening did not complete: ${asError(err).message}. Check TWS or the Portal now.`, { cause: err });
        return { messages, status: 'HALTED: cancel/flatten failed', questions, error };
      }
    });
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }

  private tradesFutures(): boolean {
    const secType = this.contractCache?.contract.secType ?? 'FUT';
    return secType === '' || secType.toUpperCase().startsWith('FUT');
  }

  /** A leg this desk placed, by client order id ("<id>", "<id>:stop", "<id>:target"). */
  private findLeg(ref: { clientOrderId: string }): PlacedLeg {
    const leg = this.legs.get(ref.clientOrderId);
    if (!leg) {
      throw new InvalidInputError(
        `no order with clientOrderId "${ref.clientOrderId}" was placed by this node since the flow was deployed: check the id (bracket legs are "<id>:stop" and "<id>:target").`,
      );
    }
    return leg;
  }

  /** Signed remaining quantity of this desk's entry orders still working (bracket exits left out, as the rules ask). */
  private workingEntries(): number {
    let sum = 0;
    for (const order of this.tracker.working()) {
      const id = this.tracker.clientOrderIdOf(order.orderId);
      const leg = id === undefined ? undefined : this.legs.get(id);
      if (!leg || leg.role !== 'entry') continue;
      const remaining = (order.quantity ?? leg.order.quantity) - order.filledQuantity;
      sum += leg.order.side === 'BUY' ? remaining : -remaining;
    }
    return sum;
  }

  /** The broker's position for the contract, read once; the fills this node sees keep it current afterwards. */
  private async syncPosition(conid: number): Promise<void> {
    if (this.positionSynced) return;
    const positions = await this.client.positions(undefined, 'order');
    const held = positions.find((p) => p.conid === conid);
    this.risk.syncBroker({ now: this.now(), position: held?.quantity ?? 0, averagePrice: held?.averagePrice ?? null });
    this.positionSynced = true;
  }
}

const MONTH_CODES = 'FGHJKMNQUVXZ';

/**
 * The names a message may use for the contract the node trades: its root ("ES"), or root, month code and year
 * ("ESZ6", "ESZ26") of exactly that expiry. "ESH7" while the node trades ESZ6, or "ESTX50", is another contract.
 */
function symbolNames(contract: ResolvedContract): string[] {
  const root = contract.symbol.toUpperCase();
  if (!contract.expiry || !/^\d{8}$/.test(contract.expiry)) return [root];
  const month = MONTH_CODES[Number(contract.expiry.slice(4, 6)) - 1] ?? '';
  return [root, `${root}${month}${contract.expiry.slice(3, 4)}`, `${root}${month}${contract.expiry.slice(2, 4)}`];
}

/** "mia-…:stop sell 1 stop @ 4990": the cOID, side, quantity, type and price of one leg, for the log. */
function describeLeg(leg: PlannedLeg): string {
  const { side, quantity, orderType, price, auxPrice } = leg.order;
  const at = price !== undefined ? ` @ ${price}` : '';
  const trigger = auxPrice !== undefined ? ` trigger ${auxPrice}` : '';
  return `${leg.clientOrderId} ${side === 'BUY' ? 'buy' : 'sell'} ${quantity} ${TYPE_WORDS[orderType] ?? orderType}${at}${trigger}`;
}

function toMessages(out: TrackerOutput): DeskMessage[] {
  return [...out.updates.map((payload) => ({ topic: 'order-update' as const, payload })), ...out.fills.map((payload) => ({ topic: 'fill' as const, payload }))];
}
