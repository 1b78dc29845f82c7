// The ibkr-order node's engine: one checked intent in → risk rules → contract → client order id → IBKR (answering
// its questions by rule) → `order-update` / `fill` / `what-if` messages out. Every order carries a client order id
// made once for that intent and never reused; a lost answer is resolved by the client looking that id up, never by
// sending again. An order the risk rules, the stale-data guard, the question rules or IBKR refuse is reported
// `rejected` with the reason. Orders sent and fills are logged at info, rejections at warn (never a secret: the log
// lines carry only ids, sides, quantities, types, prices and reasons).
import type { Fill, OrderUpdate, Side } from '../contracts';
import { InvalidInputError, MiaError, errorMessage } from '../errors';
import type { KillSwitchState } from '../trading/risk-rules';
import { RiskDeniedError, type RiskEngine, type Verdict } from '../trading/risk-engine';
import { cancelEntries, kill, type CancelEntriesReport, type ExecutionAdapter, type WorkingOrderRef } from '../trading/kill-switch';
import { checkStaleAfterSec } from '../strategy/stale-data';
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
import { chicagoDate } from './futures';
import { ClientOrderIdGenerator } from '../trading/client-order-id';
import type { CancelIntent, EntryIntent, InstrumentOverride, ModifyIntent, OrderIntent } from '../trading/order-intent';
import { applyModify, planEntry, tickFor, type PlannedLeg } from './order-intent';
import { OrderTracker, orderStatus, rejectedUpdate, type TrackerOutput } from './order-updates';
import { answerRule, describeQuestion, type AnsweredQuestion, type QuestionRuleSettings } from './question-rules';
import type { LiveOrder, OrderRequest as IbkrOrderRequest } from './types';

/** A risk rule said no: nothing was sent (one error for both brokers, lib/trading/risk-engine.ts). */
export { RiskDeniedError };

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
  /** An entry placed: its client order id (the parent's, for a bracket). */
  clientOrderId?: string;
}

/** The client calls the desk makes (IbkrClient has them all; tests may pass a fake). */
export type DeskClient = Pick<
  IbkrClient,
  'tradingEnabled' | 'tradingBlockedReason' | 'placeOrders' | 'modifyOrder' | 'cancelOrder' | 'whatIf' | 'positions' | 'liveOrders' | 'futures' | 'secdefSearch' | 'contractInfo'
> &
  Partial<Pick<IbkrClient, 'recentLiveOrders'>>;

export interface OrderDeskOptions {
  client: DeskClient;
  /** The account's risk engine (lib/trading/accounts.ts), shared with every node trading the account. */
  engine: RiskEngine;
  questions: QuestionRuleSettings;
  /** The contract the node trades: ES front month by default, or a conid. */
  contract: ContractSpec;
  /** The clock of the market traded (the simulated market's in simulator mode): risk rules and time stamps. */
  now: () => number;
  /** "Stale data after (s)": new entries refused once no market data arrived for this long; 0 or absent = off. */
  staleAfterSec?: number;
  /** Where orders sent, fills (info) and rejections (warn) are told; silent without it. */
  log?: DeskLog;
  /** The one client-order-id generator (lib/trading); by default one continuing above the engine's journaled sequence. */
  ids?: ClientOrderIdGenerator;
  /** The wall clock the ids are dated by (never a simulated market's); Date.now by default. */
  idClock?: () => number;
}

export interface DeskLog {
  info(message: string): void;
  warn(message: string): void;
}

const silent: DeskLog = { info: () => undefined, warn: () => undefined };

/** The account read in progress for each engine (shared by every desk of the account). */
const accountReads = new WeakMap<RiskEngine, Promise<void>>();

/**
 * The kill or flatten in progress for each engine: they read the positions and close them at the market, so two at
 * once (two nodes, a kill and a flatten) would both close the same position and open the opposite one. One at a
 * time per account; the next reads the positions the previous one left.
 */
const accountCloses = new WeakMap<RiskEngine, Promise<unknown>>();

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
  private readonly engine: RiskEngine;
  private readonly questions: QuestionRuleSettings;
  private readonly spec: ContractSpec;
  private readonly now: () => number;
  private readonly staleAfterSec: number;
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
  /** The root of each conid this desk traded: the engine counts exposure per root. */
  private readonly roots = new Map<number, string>();
  private queue: Promise<void> = Promise.resolve();

  constructor(options: OrderDeskOptions) {
    this.client = options.client;
    this.engine = options.engine;
    this.questions = options.questions;
    this.spec = options.contract;
    this.now = options.now;
    this.staleAfterSec = checkStaleAfterSec(options.staleAfterSec ?? 0);
    this.log = options.log ?? silent;
    // Ids continue above the account's journaled sequence (every node and restart of the account), and move it.
    this.ids = options.ids ?? new ClientOrderIdGenerator('mia', options.engine.lastIdSequence, options.engine);
    this.idClock = options.idClock ?? Date.now;
  }

  /**
   * Market data arrived: the stale-data guard judges it by its own time (`point`, from readMarketData); without one
   * (the simulated market's own trades) it is data of this instant. Throws on data stamped in the future.
   */
  noteMarketData(point?: { t: number; from: number }): void {
    this.engine.noteMarketData(this.now(), point);
  }

  /** Age of the newest market data (ms, on the desk's clock), or null when none has arrived. */
  marketDataAgeMs(): number | null {
    return this.engine.marketDataAgeMs(this.now());
  }

  /** The engine's name of a contract: "<root>@<conid>" (ESZ6 and ESH7 are two contracts of one root, ES). */
  private instrumentOf(conid: number, symbol?: string): string {
    const root = symbol ?? this.roots.get(conid) ?? '?';
    if (symbol) this.roots.set(conid, symbol);
    return `${root}@${conid}`;
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
      // The contract that filled (its root and point value: MES 5, not ES 50), even before IBKR answered the placement.
      const contract = this.legs.get(fill.clientOrderId)?.contract ?? this.contractOfOrder.get(fill.clientOrderId.split(':')[0] ?? fill.clientOrderId) ?? this.contractCache?.contract;
      try {
        this.engine.onFill({ clientOrderId: fill.clientOrderId, instrument: this.instrumentOf(contract?.conid ?? 0, contract?.symbol), side: fill.side, quantity: fill.quantity, price: fill.price, now: fill.t });
      } catch (err) {
        this.log.warn(`IBKR fill ${fill.clientOrderId} could not be counted by the risk rules: ${asError(err).message}`);
      }
      this.log.info(`IBKR order filled: ${fill.clientOrderId} ${fill.side} ${fill.quantity} @ ${fill.price}`);
    }
    for (const update of out.updates) {
      // A fill IBKR has not priced yet is not in the engine's position yet: the order stays counted as working until
      // its fills are priced (they end it then), so no limit is passed meanwhile.
      const held = update.status === 'filled' && this.tracker.unpricedQuantityOf(update.clientOrderId) > 0;
      if (!held) this.engine.onOrderUpdate(update.clientOrderId, { status: update.status, quantity: update.quantity, filled: update.filledQuantity, brokerOrderId: update.serverOrderId });
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
    this.engine.setKillSwitch(state);
    return state;
  }

  /**
   * What the account's kill switch drives on IBKR: its live orders and positions; a position is closed by this desk's
   * market order (its fill reported like any other, IBKR's questions answered by the node's rules), collected in
   * `messages` / `questions`. Nothing is sent while trading is off (paper/live mismatch, trading switch).
   */
  executionAdapter(messages: DeskMessage[] = [], questions: AnsweredQuestion[] = []): ExecutionAdapter {
    const base = ibkrExecutionAdapter(this.client, (conid) => this.roots.get(conid));
    const held = new Map<number, { assetClass: string; description: string }>();
    const tradingOn = (what: string): void => {
      if (!this.client.tradingEnabled) throw new TradingDisabledError(`kill switch (${what})`, this.client.tradingBlockedReason ?? undefined);
    };
    // The last live-orders answer when the kill starts (inside the account's close guard), and what each order had
    // filled by then, by IBKR order id.
    let filledBefore = new Map<number, number>();
    /** The kill's own closing orders (never swept; a second close waits until IBKR lists them filled). */
    const closing = new Set<number>();
    let sweep: LiveOrder[] | undefined;
    return {
      knownWorkingOrders: () => {
        const recent = this.client.recentLiveOrders?.() ?? [];
        filledBefore = new Map(recent.map((o) => [o.orderId, o.filledQuantity ?? 0]));
        const known = new Map<string, WorkingOrderRef>();
        const engineOrders = this.engine.openOrders();
        // IBKR cancels a bracket child with its parent only while the parent works: a parent the last answer lists as
        // done (filled before the engine heard it) leaves its children to be cancelled one by one.
        const parentWorks = (parent: string): boolean => {
          const id = engineOrders.find((p) => p.clientOrderId === parent)?.brokerOrderId;
          const listed = recent.find((r) => String(r.orderId) === id);
          return id !== undefined && (listed === undefined || IBKR_OPEN.has(String(listed.status)));
        };
        // The engine's orders (every desk of the account); then the last answer's still open.
        for (const o of engineOrders) {
          if (!o.brokerOrderId || !/^\d+$/.test(o.brokerOrderId)) continue;
          known.set(o.brokerOrderId, { clientOrderId: o.clientOrderId, instrument: `${o.instrument}#${o.brokerOrderId}`, side: o.side, quantity: o.quantity - o.filled, brokerOrderId: o.brokerOrderId, ...(o.parent && parentWorks(o.parent) ? { parent: o.parent } : {}) });
        }
        for (const o of recent) {
          if (!IBKR_OPEN.has(String(o.status)) || known.has(String(o.orderId))) continue;
          known.set(String(o.orderId), liveOrderRef(o, (conid) => this.roots.get(conid)));
        }
        return [...known.values()];
      },
      filledSinceFlatten: () => (sweep ?? []).some((o) => !closing.has(o.orderId) && (o.filledQuantity ?? 0) > (filledBefore.get(o.orderId) ?? 0)),
      workingOrders: async () => {
        tradingOn('cancel');
        sweep = await this.client.liveOrders({ priority: 'order' });
        return sweep.filter((o) => IBKR_OPEN.has(String(o.status)) && !closing.has(o.orderId)).map((o) => liveOrderRef(o, (conid) => this.roots.get(conid)));
      },
      positions: async () => {
        tradingOn('flatten');
        // Closing again (after the sweep): only once IBKR lists this kill's closing orders filled, or it would sell twice.
        const pending = [...closing].filter((id) => sweep?.find((o) => o.orderId === id)?.status !== 'Filled');
        if (pending.length) throw new MiaError('KILL_CLOSE_PENDING', `this kill's closing order(s) ${pending.join(', ')} are not listed filled by IBKR yet: the positions are not closed again`);
        const positions = await this.client.positions(undefined, 'order', { fresh: true });
        for (const p of positions) held.set(p.conid, { assetClass: p.assetClass, description: p.description });
        return positions.filter((p) => p.quantity !== 0).map((p) => ({ instrument: `${this.roots.get(p.conid) ?? (/^[A-Z]+/.exec(p.description)?.[0] ?? '?')}@${p.conid}`, quantity: p.quantity }));
      },
      cancel: async (o) => {
        tradingOn('cancel');
        await base.cancel(o);
      },
      flatten: async (p) => {
        tradingOn('flatten');
        const conid = Number(p.instrument.slice(p.instrument.lastIndexOf('@') + 1));
        const own = this.contractCache?.contract.conid === conid ? this.contractCache.contract : undefined;
        const info = held.get(conid);
        const secType = own ? own.secType || undefined : /^FUT/i.test(info?.assetClass ?? '') ? 'FUT' : undefined;
        const contract: ResolvedContract = own ?? { conid, symbol: p.instrument.slice(0, p.instrument.lastIndexOf('@')), secType: secType ?? '', expiry: null, description: info?.description || `conid ${conid}` };
        messages.push(...(await this.close({ conid, secType }, p.quantity, contract, questions, (orderId) => closing.add(orderId))));
      },
    };
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
    await this.reconcileEngine();
    const refuse = (verdict: { rule: RiskDeniedError['rule']; reason: string }): DeskOutcome => {
      const err = new RiskDeniedError(verdict.rule, verdict.reason);
      return { messages: [rejected(`risk rule ${verdict.rule}: ${verdict.reason}`)], status: `refused: ${verdict.rule}`, questions, error: err };
    };
    // Reserved with the account's engine in one synchronous call: exposure counted before anything is awaited.
    const reserved = this.engine.reserve({
      clientOrderId,
      instrument: this.instrumentOf(contract.conid, contract.symbol),
      side: intent.side,
      quantity: intent.quantity,
      type: intent.type,
      price: intent.price,
      stopPrice: intent.stopPrice,
      exits: legs.slice(1).map((l) => l.clientOrderId),
      staleAfterSec: this.staleAfterSec,
      now: this.now(),
    });
    if (!reserved.allowed) return refuse(reserved);
    // Instances sharing the account's budget over Redis: claimed there atomically (nothing else awaited before sending).
    const claimed = await this.engine.claimShared(clientOrderId, this.now());
    if (!claimed.allowed) {
      this.engine.release(clientOrderId);
      return refuse(claimed);
    }
    // The kill switch and the trading switch once more, at the instant of sending (journaled before it leaves).
    const authorized = this.engine.authorizeSend(clientOrderId, this.client.tradingEnabled);
    if (!authorized.allowed) {
      this.engine.release(clientOrderId);
      return refuse(authorized);
    }

    this.tracker.expect({ clientOrderId, side: intent.side, quantity: intent.quantity });
    this.contractOfOrder.set(clientOrderId, contract);
    // Logged before the request: a fill on the stream can arrive before IBKR's answer to it.
    for (const leg of legs) this.log.info(`IBKR order sent: ${describeLeg(leg)} (${contract.description})`);
    let placed;
    let denied: Verdict | undefined;
    try {
      placed = await this.client.placeOrders(
        legs.map((l) => l.order),
        answerRule(this.questions, questions),
        // Asked again as the order really leaves (after a wait in the limiter, and before each confirmation IBKR asks).
        () => this.stillAuthorized((denied = this.engine.authorizeSend(clientOrderId, this.client.tradingEnabled))),
      );
    } catch (err) {
      if (err instanceof RiskDeniedError && denied && !denied.allowed) {
        this.engine.release(clientOrderId);
        return refuse(denied);
      }
      // Not certainly refused: the order may be at IBKR, so it stays counted until the stream or a reconcile says.
      if (!certainlyNotPlaced(err)) throw err;
      this.engine.release(clientOrderId);
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
      this.engine.acknowledged(leg.clientOrderId, String(p.orderId));
      const side: Side = leg.order.side === 'BUY' ? 'buy' : 'sell';
      messages.push(...this.report(this.tracker.register(p.orderId, { clientOrderId: leg.clientOrderId, side, quantity: leg.order.quantity }, placedAt)));
      messages.push(...this.report(this.tracker.acknowledge(p.orderId, p.status, placedAt, p.warning)));
    });
    return { messages, status: `placed ${what}`, questions, clientOrderId };
  }

  /** The engine's verdict at a departure: a refusal stops the request unsent. */
  private stillAuthorized(verdict: Verdict): void {
    if (!verdict.allowed) throw new RiskDeniedError(verdict.rule, verdict.reason);
  }

  private async modify(intent: ModifyIntent, questions: AnsweredQuestion[]): Promise<DeskOutcome> {
    if (!this.client.tradingEnabled) throw new TradingDisabledError('order modification', this.client.tradingBlockedReason ?? undefined);
    const leg = this.findLeg(intent);
    const next: IbkrOrderRequest = applyModify(leg.order, intent, tickFor(leg.contract.symbol));
    // Every modify passes the engine: HALTED allows only a smaller quantity, a larger one is new exposure.
    const reserved = this.engine.reserveModify({ clientOrderId: leg.clientOrderId, quantity: intent.quantity, price: intent.price, stopPrice: intent.stopPrice, staleAfterSec: this.staleAfterSec, now: this.now() });
    if (!reserved.allowed) return { messages: [], status: `refused: ${reserved.rule}`, questions, error: new RiskDeniedError(reserved.rule, reserved.reason) };
    const claimed = await this.engine.claimShared(leg.clientOrderId, this.now());
    if (!claimed.allowed) {
      this.engine.releaseModify(leg.clientOrderId);
      return { messages: [], status: `refused: ${claimed.rule}`, questions, error: new RiskDeniedError(claimed.rule, claimed.reason) };
    }
    const authorized = this.engine.authorizeModify(leg.clientOrderId, this.client.tradingEnabled);
    if (!authorized.allowed) {
      this.engine.releaseModify(leg.clientOrderId);
      return { messages: [], status: `refused: ${authorized.rule}`, questions, error: new RiskDeniedError(authorized.rule, authorized.reason) };
    }
    try {
      await this.client.modifyOrder(leg.orderId, next, answerRule(this.questions, questions), () => this.stillAuthorized(this.engine.authorizeModify(leg.clientOrderId, this.client.tradingEnabled)));
    } catch (err) {
      this.engine.releaseModify(leg.clientOrderId);
      if (err instanceof RiskDeniedError) return { messages: [], status: `refused: ${err.rule}`, questions, error: err };
      throw err;
    }
    this.engine.modifyConfirmed(leg.clientOrderId, next.quantity);
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
  private flatten(overrides: { conid?: number; symbol?: string }): Promise<DeskOutcome> {
    return this.oneCloseAtATime(() => this.flattenNow(overrides));
  }

  private oneCloseAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = (accountCloses.get(this.engine) ?? Promise.resolve()).then(work);
    accountCloses.set(
      this.engine,
      run.catch(() => undefined),
    );
    return run;
  }

  private async flattenNow(overrides: { conid?: number; symbol?: string }): Promise<DeskOutcome> {
    if (!this.client.tradingEnabled) throw new TradingDisabledError('flatten', this.client.tradingBlockedReason ?? undefined);
    const contract = await this.contract(overrides);
    const cancelled = await this.cancelWorking(contract.conid);
    const positions = await this.client.positions(undefined, 'order', { fresh: true });
    const held = positions.find((p) => p.conid === contract.conid);
    this.engine.syncPosition({ instrument: this.instrumentOf(contract.conid, contract.symbol), quantity: held?.quantity ?? 0, averagePrice: held?.averagePrice ?? null }, this.now());
    if (!held || held.quantity === 0) return { messages: [], status: `flat (${cancelled} cancel(s))`, questions: [] };
    const questions: AnsweredQuestion[] = [];
    const messages = await this.close({ conid: contract.conid, secType: contract.secType || undefined }, held.quantity, contract, questions);
    return { messages, status: `flatten ${held.quantity > 0 ? 'sell' : 'buy'} ${Math.abs(held.quantity)}`, questions };
  }

  /** A market order that closes `held` contracts of `ref` (never checked by the risk rules: it only reduces). */
  private async close(ref: { conid: number; secType?: string }, held: number, contract: ResolvedContract, questions: AnsweredQuestion[], onPlaced?: (orderId: number) => void): Promise<DeskMessage[]> {
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
      onPlaced?.(p.orderId);
      this.legs.set(clientOrderId, { ...leg, orderId: p.orderId, contract });
      messages.push(...this.report(this.tracker.register(p.orderId, { clientOrderId, side, quantity }, this.now())));
      messages.push(...this.report(this.tracker.acknowledge(p.orderId, p.status, this.now())));
    }
    return messages;
  }

  /**
   * The kill switch, the same meaning as sierra-order's and the same code (lib/trading/kill-switch.ts kill): HALTED
   * first (journaled: no new order passes from this instant), then every working order of the ACCOUNT is cancelled and
   * every position of the account closed at the market. Not queued behind the intents waiting: a kill does not wait.
   * Never throws: what failed is in `error`, and the switch stays HALTED.
   */
  async kill(onStep?: (line: string) => void): Promise<DeskOutcome> {
    const messages: DeskMessage[] = [];
    const questions: AnsweredQuestion[] = [];
    // HALTED at once, whatever close is in progress; the cancels and the flatten wait for it.
    try {
      this.engine.setKillSwitch('HALTED', { byKill: true });
    } catch {
      // kill() below sets it again and reports a journal failure.
    }
    const report = await this.oneCloseAtATime(() => kill(this.engine, this.executionAdapter(messages, questions), onStep));
    if (report.failures.length) {
      const error = new MiaError('KILL_SWITCH_INCOMPLETE', `${report.summary} Check TWS or the Portal now.`);
      return { messages, status: 'HALTED: cancel/flatten failed', questions, error };
    }
    const steps = report.steps?.length ? ` (${report.steps.join('; ')})` : '';
    return { messages, status: `HALTED: ${report.cancelled.length} order(s) cancelled, ${report.flattened.length} position(s) flattened${steps}`, questions };
  }

  /**
   * A risk stop was reached (RiskEngine 'entry-stop'): the account's working entries that can add exposure are
   * cancelled through the kill switch's adapter (lib/trading/kill-switch.ts cancelEntries). Never rejects.
   */
  cancelStoppedEntries(): Promise<CancelEntriesReport> {
    const base = this.executionAdapter();
    // The engine knows every acknowledged order's IBKR order id (this desk's, other desks', and what the reconcile
    // read): no live-orders read (paced to one per 5 s) stands between the stop and its cancels.
    const known: ExecutionAdapter = {
      ...base,
      workingOrders: async () => {
        if (!this.client.tradingEnabled) throw new TradingDisabledError('risk stop (cancel entries)', this.client.tradingBlockedReason ?? undefined);
        return this.engine
          .openOrders()
          .filter((o) => o.phase === 'working' && o.brokerOrderId !== undefined && /^\d+$/.test(o.brokerOrderId))
          .map((o) => ({ clientOrderId: o.clientOrderId, instrument: `${o.instrument}#${o.brokerOrderId}`, side: o.side, quantity: o.quantity - o.filled }));
      },
    };
    return cancelEntries(this.engine, known);
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

  /**
   * Once per account (and after the engine lost its reconciliation): IBKR's positions and live orders become the
   * engine's truth, so a restart or a second node starts from what the account really holds.
   */
  reconcileEngine(): Promise<void> {
    if (this.engine.reconciled) return Promise.resolve();
    // One read per account, whichever desk asks first (IBKR allows one live-orders read per 5 s).
    let reading = accountReads.get(this.engine);
    if (!reading) {
      reading = this.readAccount().finally(() => accountReads.delete(this.engine));
      accountReads.set(this.engine, reading);
    }
    return reading;
  }

  private async readAccount(): Promise<void> {
    const [positions, live] = await Promise.all([this.client.positions(undefined, 'account', { fresh: true }), this.client.liveOrders({ priority: 'account' })]);
    if (this.engine.reconciled) return;
    await this.resolveRoots([...positions.filter((p) => p.quantity !== 0).map((p) => p.conid), ...live.map((o) => o.conid)]);
    // An order the journal had on the wire and IBKR now lists was acknowledged while no desk listened (a Deploy or a
    // restart in between): told as an acknowledgement, so one that arrived after a kill is cancelled now.
    const inFlight = new Set(this.engine.openOrders().filter((o) => o.phase !== 'working').map((o) => o.clientOrderId));
    for (const o of live) if (o.clientOrderId && inFlight.has(o.clientOrderId)) this.engine.acknowledged(o.clientOrderId, String(o.orderId));
    const rootOf = (conid: number): string | undefined => this.roots.get(conid);
    const open = new Set(['PreSubmitted', 'Submitted', 'PendingSubmit', 'PendingCancel', 'Inactive']);
    this.engine.reconcile({
      now: this.now(),
      positions: positions.filter((p) => p.quantity !== 0).map((p) => ({ instrument: `${rootOf(p.conid) ?? '?'}@${p.conid}`, quantity: p.quantity, averagePrice: p.averagePrice })),
      working: live
        .filter((o) => open.has(String(o.status)))
        .map((o) => ({
          clientOrderId: o.clientOrderId ?? this.legIdOf(o.orderId) ?? `ibkr-${o.orderId}`,
          instrument: `${rootOf(o.conid) ?? '?'}@${o.conid}`,
          side: (String(o.side).toUpperCase() === 'BUY' ? 'buy' : 'sell') as Side,
          quantity: o.quantity ?? 0,
          filled: o.filledQuantity ?? 0,
          brokerOrderId: String(o.orderId),
        })),
    });
  }

  /**
   * The root of every conid the account holds or works that this desk has not traded, from IBKR's contract info (a
   * live order names only its conid; a position's description is not its root). One that cannot be resolved would be
   * counted under no root, under-counting its root's exposure: new entries are refused until it is.
   */
  private async resolveRoots(conids: number[]): Promise<void> {
    const unknown = [...new Set(conids)].filter((c) => Number.isInteger(c) && c > 0 && !this.roots.has(c));
    const failed: string[] = [];
    for (const conid of unknown) {
      try {
        const info = await this.client.contractInfo(conid, 'account');
        const root = info.symbol.trim().toUpperCase();
        if (root) this.roots.set(conid, root);
        else failed.push(`${conid} (IBKR's contract info names no symbol)`);
      } catch (err) {
        failed.push(`${conid} (${errorMessage(err)})`);
      }
    }
    if (failed.length) {
      throw new RiskDeniedError(
        'not-reconciled',
        `the account holds or works contract(s) whose instrument could not be resolved from IBKR, so their exposure cannot be counted: conid ${failed.join(', ')}; new entries are refused until they are (tried again with the next order)`,
      );
    }
  }

  private legIdOf(orderId: number): string | undefined {
    for (const leg of this.legs.values()) if (leg.orderId === orderId) return leg.clientOrderId;
    return undefined;
  }
}

/** The kill switch's view of IBKR: every live order and position of the account; a market order closes a position. */
export function ibkrExecutionAdapter(client: DeskClient, rootOf: (conid: number) => string | undefined = () => undefined): ExecutionAdapter {
  const conidOf = (instrument: string): number => Number(instrument.slice(instrument.lastIndexOf('@') + 1));
  return {
    workingOrders: async () => (await client.liveOrders()).filter((o) => IBKR_OPEN.has(String(o.status))).map((o) => liveOrderRef(o, rootOf)),
    positions: async () => (await client.positions(undefined, 'order', { fresh: true })).filter((p) => p.quantity !== 0).map((p) => ({ instrument: `${rootOf(p.conid) ?? (/^[A-Z]+/.exec(p.description)?.[0] ?? '?')}@${p.conid}`, quantity: p.quantity })),
    cancel: async (o) => void (await client.cancelOrder(Number(o.brokerOrderId ?? o.instrument.slice(o.instrument.lastIndexOf('#') + 1)), { futures: true })),
    flatten: async (p) =>
      void (await client.placeOrders([{ conid: conidOf(p.instrument), side: p.quantity > 0 ? 'SELL' : 'BUY', orderType: 'MKT', quantity: Math.abs(p.quantity), tif: 'DAY', secType: 'FUT' }])),
  };
}

/** IBKR statuses of an order that can still fill (PendingCancel is being cancelled already). */
const IBKR_OPEN = new Set(['PreSubmitted', 'Submitted', 'PendingSubmit', 'Inactive']);

function liveOrderRef(o: LiveOrder, rootOf: (conid: number) => string | undefined): WorkingOrderRef {
  return {
    clientOrderId: o.clientOrderId ?? `ibkr-${o.orderId}`,
    instrument: `${rootOf(o.conid) ?? '?'}@${o.conid}#${o.orderId}`,
    side: (String(o.side).toUpperCase() === 'BUY' ? 'buy' : 'sell') as Side,
    quantity: o.remainingQuantity ?? o.quantity ?? 0,
    brokerOrderId: String(o.orderId),
  };
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
