// The risk engine of ONE trading account (broker + account id), shared by every order node and config node that
// trades it (lib/trading/accounts.ts hands it out). Both brokers' order paths go through it:
//
//   reserve(request)        synchronous: every rule checked AND the order's exposure recorded in the same call, so a
//                           burst, a duplicate, a fan-out to two nodes or sync delivery meets the exposure of the
//                           orders before it, whatever the callers await afterwards.
//   authorizeSend(id)       synchronous, at the instant of writing to the broker: kill switch and trading switch again,
//                           then the journal is written. An order checked before a kill cannot leave after it.
//   release(id)             the order will not reach the broker (refused, send failed, cancelled before sending).
//   acknowledged / onOrderUpdate / onFill: the broker's news moves exposure from working to position.
//
// Exposure is counted per instrument ROOT (ESZ6 and ESH7 are both ES), worst case both ways: long exposure =
// position + every working entry buy, short exposure = −position + every working entry sell; max position bounds
// both. A bracket's children are exits from the moment they are reserved: never counted as entries of the other side.
// An exit can fill only as much as its parent has filled ("armed"); that much is counted on its side, once per OCO
// pair — a position of long 1 with its stop working is short exposure 0, and a sell entry beside it cannot make the
// account short more than the limit when both the stop and the entry fill.
// An order that can only bring the position toward flat is "reducing"; a bracket on it would re-open the position
// when its exit fills, so it is refused.
//
// The rules and their wording are RiskGuard's (risk-rules.ts); this file adds what needs the account's whole book:
// the exposure, the price collar (per contract, its own tick size), orders per minute, stale data, reconciliation.
//
// Events: 'kill-switch' (KillSwitchState), 'discrepancy' (Discrepancy: journal and broker disagreed; the broker won),
// 'late-ack' ({clientOrderId, brokerOrderId}: an order sent before a kill was acknowledged after it — cancel it),
// 'journal-error' (Error), 'change' (after any state change, for status rings), 'entry-stop' (EntryStop: a stop that
// forbids new entries was reached while orders that can ADD exposure still work: kill-switch.ts cancelEntries takes
// and cancels them), 'entry-fill' ({clientOrderId, quantity}: an entry being cancelled by a stop filled first).
//
// Stops and resting entries: the rules are checked when an order is sent, so a limit entry resting before a stop
// would still fill after it. After every fill, P&L sync, kill switch change and limit change the engine looks again:
// daily loss reached, losing streak reached, REDUCING or HALTED → every working entry that can add exposure;
// max trades reached → every working entry that would open a new trade. Those are handed once (takeEntryStop) to be
// cancelled at the broker; one still in flight is cancelled when it is acknowledged ('late-ack').

import { EventEmitter } from 'events';
import type { OrderType, Side } from '../contracts';
import { InvalidInputError, MiaError, errorMessage } from '../errors';
import { MarketDataClock, checkStaleAfterSec, reducesExposure } from '../strategy/stale-data';
import { DatedIds } from './dated-ids';
import { contractKey, type InstrumentInfo, type InstrumentOf } from './instrument-of';
import { JOURNAL_VERSION, JournalError, journalState, type IntentRecord, type Journal, type JournalState } from './journal';
import type { SharedBudget, SharedFill, SharedOrder } from './shared-budget';
import {
  DEFAULT_RISK_LIMITS,
  RiskGuard,
  describePosition,
  resolveRiskLimits,
  usd,
  type KillSwitchState,
  type RiskLimits,
  type RiskRule,
  type RiskState,
} from './risk-rules';

/** A risk rule said no: nothing was sent. One error for both brokers; `rule` names the rule. */
export class RiskDeniedError extends MiaError {
  readonly rule: RiskRule;

  constructor(rule: RiskRule, reason: string) {
    super('RISK_DENIED', `Order not sent: risk rule "${rule}" refused it: ${reason}.`);
    this.rule = rule;
  }
}

/** What a node or config node contributes to the account's limits; the engine applies the strictest of all. */
export interface EngineLimits extends Partial<RiskLimits> {
  /** Largest distance of a limit or stop price from the last trade, in ticks; 0 = off. */
  collarTicks?: number;
  /** New orders in any rolling 60 s; 0 = off. */
  maxOrdersPerMinute?: number;
}

export interface OrderRequest {
  clientOrderId: string;
  /** The contract the order really trades (after any symbol / conid override). */
  instrument: string;
  side: Side;
  quantity: number;
  type?: OrderType;
  price?: number;
  stopPrice?: number;
  /** Ids of the bracket children (profit target, stop): exits of this order, one OCO quantity. */
  exits?: string[];
  /** The node's "stale data after (s)": new entries refused when market data is older; 0 / absent = off. */
  staleAfterSec?: number;
  now: number;
}

export interface ModifyRequest {
  clientOrderId: string;
  quantity?: number;
  price?: number;
  stopPrice?: number;
  staleAfterSec?: number;
  now: number;
}

/** A stop that forbids new entries, and the working orders of the account that it cancels. */
export interface EntryStop {
  rule: RiskRule;
  reason: string;
  orders: IntentRecord[];
}

export type Verdict = { allowed: true } | { allowed: false; rule: RiskRule; reason: string };

export interface Discrepancy {
  what: 'position' | 'realized-pnl' | 'working-order' | 'unknown-order' | 'trades-today';
  instrument?: string;
  clientOrderId?: string;
  journal: number | string | null;
  broker: number | string | null;
  message: string;
}

export interface BrokerPosition {
  instrument: string;
  quantity: number;
  averagePrice?: number | null;
}

export interface BrokerOrder {
  clientOrderId: string;
  instrument: string;
  side: Side;
  quantity: number;
  filled: number;
  /** The parent's client order id for a bracket child. */
  parent?: string;
  brokerOrderId?: string;
  /** The parent's broker order id (the broker names it even when the parent is done). */
  parentBrokerOrderId?: string;
}

/** One execution the broker lists for the session (DTC: the historical order fills), in the broker's order. */
export interface BrokerFill {
  brokerOrderId: string;
  clientOrderId?: string;
  instrument: string;
  side: Side;
  quantity: number;
  executionId?: string;
}

export interface BrokerState {
  now: number;
  positions: BrokerPosition[];
  working: BrokerOrder[];
  /** The session's executions: the trades they opened that the journal never recorded are counted. */
  fills?: BrokerFill[];
  /** Today's realized P&L ($) as the broker reports it; absent when the broker does not say. */
  realizedPnl?: number;
  unrealizedPnl?: number;
}

export interface FillNews {
  clientOrderId?: string;
  instrument: string;
  side: Side;
  quantity: number;
  price: number;
  now: number;
  realizedPnl?: number;
  /** Fills with the same id are counted once. */
  executionId?: string;
  /** The broker's id of the filled order (Sierra's ServerOrderID): known to the journal from now on. */
  brokerOrderId?: string;
}

export interface RiskEngineOptions {
  broker: string;
  account: string;
  instrumentOf: InstrumentOf;
  journal: Journal;
  /** The state the journal held at start (null: a fresh account). */
  restored?: JournalState | null;
  /** The account's budget shared with other instances (Redis): claimShared must pass before each send. */
  shared?: SharedBudget;
}

const MINUTE_MS = 60_000;
const PRICE_EPSILON = 1e-9;
const USED_ID_TTL_MS = 3 * 24 * 3_600_000;
/** How long a broker position record may run ahead of the fills it contains (DTC: the same instant). */
const RECORD_AHEAD_MS = 5_000;
const NUMERIC_MIN: (keyof RiskLimits)[] = ['dailyLossLimit', 'maxTradesPerDay', 'maxPosition', 'maxOrderSize', 'maxConsecutiveLosses'];

const STRICT: Readonly<Record<KillSwitchState, number>> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

const deny = (rule: RiskRule, reason: string): Verdict => ({ allowed: false, rule, reason });

/** The strictest of several nodes' limits: the smaller cap, the longer cooldown, the narrower trading window. */
export function strictestLimits(all: EngineLimits[]): { limits: RiskLimits; collarTicks: number; maxOrdersPerMinute: number; hoursConflict: string | null } {
  const resolved = all.map((l) => resolveRiskLimits(withoutGate(l)));
  const limits: RiskLimits = { ...(resolved[0] ?? DEFAULT_RISK_LIMITS) };
  let hoursConflict: string | null = null;
  for (const r of resolved.slice(1)) {
    for (const key of NUMERIC_MIN) (limits[key] as number) = Math.min(limits[key] as number, r[key] as number);
    limits.cooldownMin = Math.max(limits.cooldownMin, r.cooldownMin);
    if (r.tradingHoursEnabled) {
      if (!limits.tradingHoursEnabled) {
        limits.tradingHoursEnabled = true;
        limits.tradingStart = r.tradingStart;
        limits.tradingEnd = r.tradingEnd;
      } else {
        const start = r.tradingStart > limits.tradingStart ? r.tradingStart : limits.tradingStart;
        const end = r.tradingEnd < limits.tradingEnd ? r.tradingEnd : limits.tradingEnd;
        if (end <= start) hoursConflict = `the order nodes of this account set trading hours that do not overlap (${limits.tradingStart}–${limits.tradingEnd} and ${r.tradingStart}–${r.tradingEnd})`;
        else {
          limits.tradingStart = start;
          limits.tradingEnd = end;
        }
      }
    }
  }
  const gate = (key: 'collarTicks' | 'maxOrdersPerMinute'): number => {
    const set = all.map((l) => l[key] ?? 0);
    for (const v of set) {
      if (!Number.isInteger(v) || v < 0) throw new InvalidInputError(`risk setting ${key} must be a whole number ≥ 0 (0 = off); got ${JSON.stringify(v)}.`);
    }
    const on = set.filter((v) => v > 0);
    return on.length ? Math.min(...on) : 0;
  };
  return { limits, collarTicks: gate('collarTicks'), maxOrdersPerMinute: gate('maxOrdersPerMinute'), hoursConflict };
}

function withoutGate(l: EngineLimits): Partial<RiskLimits> {
  const { collarTicks: _c, maxOrdersPerMinute: _m, ...rest } = l;
  return rest;
}

interface WorkingOrder extends IntentRecord {
  /** A modify that grows the order, reserved and not yet confirmed: the quantity before it. */
  modifyFrom?: number;
}

export class RiskEngine extends EventEmitter {
  readonly broker: string;
  readonly account: string;
  private readonly instrumentOf: InstrumentOf;
  private readonly journal: Journal;
  private readonly guard = new RiskGuard();
  private readonly orders = new Map<string, WorkingOrder>();
  private readonly usedIds = new DatedIds(USED_ID_TTL_MS);
  /** Flattens sent (journalOrderId) and not yet ended: until they end, any position may be flat at the broker. */
  private readonly flattening = new Set<string>();
  /** The broker's order ids seen here or at a reconcile (journaled, kept like usedIds). */
  private readonly brokerIds = new DatedIds(USED_ID_TTL_MS);
  /**
   * Whether brokerIds holds every order this account's journal has seen: false for a fresh account and a journal
   * written before they were kept, until the first reconcile (the day's fills seen then are history, not news).
   */
  private brokerIdsComplete = false;
  private readonly executions = new Set<string>();
  private readonly contributors = new Map<string, EngineLimits>();
  private readonly lastTrade = new Map<string, number>();
  /**
   * Per contract: how far the broker's last position record is ahead of the fills seen here — fills it already
   * contains that have not arrived yet (DTC may send a POSITION_UPDATE before its fill's ORDER_UPDATE). Such a fill
   * counts its trade and P&L but does not move the position again: the broker's record wins. Only for a few seconds:
   * what a record holds beyond the fills seen by then is a trade no fill here will report (made by hand, by another
   * instance), and a later fill must move the position.
   */
  private readonly recordAhead = new Map<string, { q: number; at: number }>();
  private readonly marketData = new MarketDataClock();
  private readonly sentAt: number[] = [];
  private collarTicks = 0;
  private maxOrdersPerMinute = 0;
  private hoursConflict: string | null = null;
  private idSequence = 0;
  private reconciledFlag = false;
  private readonly unheardLateAcks: { clientOrderId: string; brokerOrderId?: string }[] = [];
  /** Set when the journal could not be read: nothing new until it is fixed. */
  private journalFault: string | null = null;
  /** An asynchronous journal (Redis) is still being read: no new entries until its state is in. */
  private loading = false;
  private readonly shared: SharedBudget | null;
  /** Orders (and larger modifies) reserved here but not yet claimed in the shared budget: never sent until they are. */
  private readonly unclaimed = new Set<string>();
  /** What the shared budget holds of this instance's orders (JSON per id), to send only what changed. */
  private readonly mirrored = new Map<string, string>();
  private sharedQueue: Promise<void> = Promise.resolve();
  /** Entries handed out to be cancelled by a stop (or the kill switch): not handed out again while they are. */
  private readonly cancelling = new Set<string>();
  /** The stop found by the last look, with the orders not yet handed out; null when none. */
  private pendingStop: EntryStop | null = null;
  /** The latest market time the engine was told (fills, syncs, orders): a kill switch change is judged at it. */
  private lastNow = -Infinity;

  constructor(options: RiskEngineOptions) {
    super();
    this.setMaxListeners(0); // one set of listeners per node and connection trading the account
    this.broker = options.broker;
    this.account = options.account;
    this.instrumentOf = options.instrumentOf;
    this.journal = options.journal;
    if (options.restored) this.restore(options.restored);
    this.shared = options.shared ?? null;
    if (this.shared) {
      const shared = this.shared;
      shared.onKillSwitch((state) => this.takeSharedKillSwitch(state));
      shared.killSwitch().then(
        (state) => {
          if (STRICT[state] > STRICT[this.killSwitch]) this.takeSharedKillSwitch(state);
        },
        (err: unknown) => this.emit('journal-error', err instanceof Error ? err : new JournalError(errorMessage(err))),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Limits

  /** Adds (or replaces) one node's limits; the strictest of all apply. Returns the function that removes them. */
  contributeLimits(source: string, limits: EngineLimits): () => void {
    const next = new Map(this.contributors).set(source, limits);
    this.applyLimits([...next.values()]); // throws before anything changes when a setting is invalid
    this.contributors.set(source, limits);
    this.lookForStops(this.lastNow);
    return () => {
      if (this.contributors.get(source) !== limits) return;
      this.contributors.delete(source);
      this.applyLimits([...this.contributors.values()]);
    };
  }

  private applyLimits(all: EngineLimits[]): void {
    const s = strictestLimits(all);
    this.guard.setLimits(s.limits);
    this.collarTicks = s.collarTicks;
    this.maxOrdersPerMinute = s.maxOrdersPerMinute;
    this.hoursConflict = s.hoursConflict;
  }

  get limits(): RiskLimits {
    return { ...this.guard.limits };
  }

  // ---------------------------------------------------------------------------------------------------------------
  // State

  get killSwitch(): KillSwitchState {
    return this.guard.state().killSwitch;
  }

  get reconciled(): boolean {
    return this.reconciledFlag;
  }

  /**
   * Sets the kill switch; journaled before it takes effect for anyone else. Cancels and flattens are kill-switch.ts.
   * `byKill`: the kill switch's own kill() cancels every order, so no 'entry-stop' is raised for the orders now open.
   */
  setKillSwitch(state: KillSwitchState, options: { byKill?: boolean } = {}): void {
    if (options.byKill) for (const id of this.orders.keys()) this.cancelling.add(id);
    const before = this.killSwitch;
    this.guard.setKillSwitch(state);
    try {
      this.persist();
    } catch (err) {
      // HALTED / REDUCING stay in force in memory even when the journal fails; ACTIVE must not: it would be lost.
      if (state === 'ACTIVE') {
        this.guard.setKillSwitch(before);
        throw err;
      }
    }
    if (before !== state) this.emit('kill-switch', state);
    this.emit('change');
    this.toShared((b) => b.setKillSwitch(state));
    this.lookForStops(this.lastNow);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Stops and the entries still working

  /**
   * Whether an order can add exposure: an entry (or the unfilled rest of one) that was not reducing when sent, or one
   * sent to reduce whose position has since shrunk below it (closed by another order or by hand: it would now open one).
   */
  private adds(o: WorkingOrder): boolean {
    const rest = o.quantity - o.filled;
    if (o.role !== 'entry' || rest <= 0) return false;
    if (!o.reducing) return true;
    const position = this.position(o.root);
    return o.side === 'sell' ? rest > position : rest > -position;
  }

  /** The stop in force at `now` that forbids new entries, with the working orders it forbids (all, not only new ones). */
  entryStop(now: number): EntryStop | null {
    const adding = [...this.orders.values()].filter((o) => this.adds(o));
    if (adding.length === 0) return null;
    const copy = (list: WorkingOrder[]): IntentRecord[] => list.map((o) => ({ ...o }));
    const ks = this.killSwitch;
    if (ks !== 'ACTIVE') return { rule: 'kill-switch', reason: `kill switch is ${ks}`, orders: copy(adding) };
    const s = this.guard.state(Number.isFinite(now) ? now : undefined);
    const l = s.limits;
    if (s.dailyPnl <= -l.dailyLossLimit) {
      return { rule: 'daily-loss', reason: `daily loss limit reached: today's P&L ${usd(s.dailyPnl)} is at or below the ${usd(-l.dailyLossLimit)} limit`, orders: copy(adding) };
    }
    if (s.consecutiveLosses >= l.maxConsecutiveLosses) {
      return { rule: 'consecutive-losses', reason: `${s.consecutiveLosses} losing trades in a row (halt at ${l.maxConsecutiveLosses})`, orders: copy(adding) };
    }
    if (s.tradesToday >= l.maxTradesPerDay) {
      // Only an entry that would open a trade (from flat, or through the position) is beyond the limit.
      const opens = adding.filter((o) => {
        const position = this.position(o.root);
        const signed = o.side === 'buy' ? 1 : -1;
        return position === 0 || (Math.sign(position) !== signed && o.quantity - o.filled > Math.abs(position));
      });
      if (opens.length) return { rule: 'max-trades', reason: `${s.tradesToday} trades today, the maximum is ${l.maxTradesPerDay}`, orders: copy(opens) };
    }
    return null;
  }

  /** Looks for a stop with entries not yet handed out; raises 'entry-stop' when there are. Never throws. */
  private lookForStops(now: number): void {
    if (Number.isFinite(now) && now > this.lastNow) this.lastNow = now;
    for (const id of this.cancelling) if (!this.orders.has(id)) this.cancelling.delete(id);
    let stop: EntryStop | null;
    try {
      stop = this.entryStop(this.lastNow);
    } catch {
      return;
    }
    const fresh = stop ? stop.orders.filter((o) => !this.cancelling.has(o.clientOrderId)) : [];
    if (!stop || fresh.length === 0) {
      this.pendingStop = null;
      return;
    }
    this.pendingStop = { ...stop, orders: fresh };
    this.emit('entry-stop', this.pendingStop);
  }

  /**
   * The stop's entries to cancel, handed out once (the first of the account's connections to ask gets them; the
   * others get null). They count as working until the broker says cancelled or filled.
   */
  takeEntryStop(): EntryStop | null {
    const stop = this.pendingStop;
    this.pendingStop = null;
    if (!stop) return null;
    const orders = stop.orders.filter((o) => this.orders.has(o.clientOrderId) && !this.cancelling.has(o.clientOrderId));
    for (const o of orders) this.cancelling.add(o.clientOrderId);
    return orders.length ? { ...stop, orders } : null;
  }

  /** A stop's cancel failed: the order may be handed out again at the next look. */
  cancelFailed(clientOrderId: string): void {
    this.cancelling.delete(clientOrderId);
  }

  /** The order as the engine counts it now (null: done, cancelled or never counted). */
  /** Marks an entry the engine counts as a signal's, sent at `sentAt` (market time); journaled with it. */
  markSignalEntry(clientOrderId: string, sentAt: number, origin: string): void {
    const o = this.orders.get(clientOrderId);
    if (!o || o.role !== 'entry') return;
    o.signal = { sentAt, origin };
    this.persistQuietly();
  }

  /** The signal entries the engine still counts (not yet wholly filled, cancelled or rejected). */
  signalEntries(): { clientOrderId: string; sentAt: number; origin: string }[] {
    const entries: { clientOrderId: string; sentAt: number; origin: string }[] = [];
    for (const o of this.orders.values()) if (o.signal) entries.push({ clientOrderId: o.clientOrderId, ...o.signal });
    return entries;
  }

  orderOf(clientOrderId: string): IntentRecord | null {
    const o = this.orders.get(clientOrderId);
    return o ? { ...o } : null;
  }

  riskState(now: number): RiskState {
    return this.guard.state(now);
  }

  /** Signed position of one root (all its contracts). */
  position(root: string): number {
    let sum = 0;
    for (const p of this.guard.positions()) if (this.rootOf(p.instrument) === root) sum += p.position;
    return sum;
  }

  positions(): { instrument: string; position: number; averagePrice: number | null }[] {
    return this.guard.positions();
  }

  /** Worst-case exposure of a root: position, and the remaining quantity of every working entry per side. */
  exposure(root: string): { position: number; buys: number; sells: number; long: number; short: number } {
    const position = this.position(root);
    let buys = 0;
    let sells = 0;
    const pairs = new Set<string>();
    for (const o of this.orders.values()) {
      if (o.root !== root) continue;
      let open: number;
      if (o.role === 'entry') open = Math.max(0, o.quantity - o.filled);
      else {
        const pair = o.parent ?? o.clientOrderId;
        if (pairs.has(pair)) continue;
        pairs.add(pair);
        open = Math.max(0, (o.armed ?? o.quantity) - o.filled);
      }
      if (o.side === 'buy') buys += open;
      else sells += open;
    }
    return { position, buys, sells, long: position + buys, short: -position + sells };
  }

  /** Orders the engine counts (reserved, sent or working). */
  openOrders(): IntentRecord[] {
    return [...this.orders.values()].map((o) => ({ ...o }));
  }

  isUsedId(id: string): boolean {
    return this.usedIds.has(id);
  }

  get lastIdSequence(): number {
    return this.idSequence;
  }

  /** A generator issued (or the broker showed) id sequence n: kept so ids continue above it after a restart. */
  noteIdSequence(n: number): void {
    if (Number.isFinite(n) && n > this.idSequence) this.idSequence = Math.floor(n);
  }

  /**
   * Market data arrived: judged by its own time (`point`, from readMarketData: a message stamped long ago does not
   * make the feed look fresh); without one (a simulated market's own trades) it is data of this instant.
   */
  noteMarketData(now: number, point?: { t: number; from: number }): void {
    this.marketData.observe(point?.t ?? now, now, point?.from ?? point?.t ?? now);
  }

  marketDataAgeMs(now: number): number | null {
    return this.marketData.ageMs(now);
  }

  /** The last trade of a contract (kept per contract, any spelling: the collar never prices one by another); `t` dates a bare root. */
  setLastTrade(instrument: string, price: number, t: number): void {
    if (Number.isFinite(price) && price > 0) this.lastTrade.set(contractKey(instrument, t), price);
  }

  lastTradeOf(instrument: string, t: number): number | null {
    return this.lastTrade.get(contractKey(instrument, t)) ?? null;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // The order path

  /** Checks every rule and, when allowed, records the order's exposure in the same synchronous call. */
  reserve(req: OrderRequest): Verdict {
    const { side, quantity, now } = req;
    if (Number.isFinite(now) && now > this.lastNow) this.lastNow = now;
    if (side !== 'buy' && side !== 'sell') return deny('invalid-order', `order side must be 'buy' or 'sell'; got ${JSON.stringify(side)}`);
    if (!Number.isInteger(quantity) || quantity <= 0) return deny('invalid-order', `order quantity must be a whole number of contracts above 0; got ${JSON.stringify(quantity)}`);
    const ids = [req.clientOrderId, ...(req.exits ?? [])];
    if (ids.some((id) => typeof id !== 'string' || id === '') || new Set(ids).size !== ids.length) return deny('invalid-order', 'every order needs its own client order id');
    const reused = ids.find((id) => this.usedIds.has(id));
    if (reused) return deny('invalid-order', `client order id "${reused}" was already used on this account: an id is never reused`);
    let info: InstrumentInfo;
    try {
      info = this.instrumentOf(req.instrument);
    } catch (err) {
      return deny('invalid-order', errorMessage(err));
    }
    if (this.journalFault) return deny('kill-switch', this.journalFault);

    const e = this.exposure(info.root);
    const working = side === 'buy' ? e.buys : -e.sells;
    const change = { side, quantity, position: e.position, workingQuantity: working };
    const reducing = reducesExposure(change);
    if (reducing && req.exits?.length) {
      return deny(
        'invalid-order',
        `${side} ${quantity} only reduces the ${info.root} position (${describePosition(e.position)}): a bracket on it would re-open the position when its exit fills. Send it without a bracket`,
      );
    }
    // Until an asynchronous journal is read, even the kill switch is not known: only reducing orders pass.
    if (this.loading && !reducing) return deny('not-reconciled', `the risk journal of the ${this.broker} account ${this.account} (${this.journal.where}) is still being read: new entries wait`);
    const decision = this.guard.check({ side, quantity, now, position: e.position, workingQuantity: working });
    if (!decision.allowed) return decision;
    const opens = !reducing && this.mayOpenTrade(side, e);
    if (opens) {
      const s = this.guard.state(now);
      const coming = [...this.orders.values()].filter((o) => o.opens && o.role === 'entry' && o.filled === 0).length;
      if (s.tradesToday + coming >= s.limits.maxTradesPerDay) {
        const why = coming ? ` and ${coming} more on their way (entries sent that may open one, not filled yet)` : '';
        const how = e.position === 0 ? 'it opens a trade' : `it may open a trade (${describePosition(e.position)} may be flat before it fills: ${this.flattening.size ? 'a flatten is on its way' : 'working orders of the other side'})`;
        return deny('max-trades', `${s.tradesToday} trades today${why}, the maximum is ${s.limits.maxTradesPerDay}; ${how}`);
      }
    }
    if (!this.reconciledFlag && !reducing) {
      return deny('not-reconciled', `the ${this.broker} account ${this.account} is not yet reconciled with the broker (positions, working orders, the day's P&L): new entries wait; orders that reduce the position and cancels still pass`);
    }
    if (!reducing && this.hoursConflict && this.guard.limits.tradingHoursEnabled) return deny('trading-hours', this.hoursConflict);
    if (!reducing && req.staleAfterSec) {
      const stale = this.marketData.check(change, now, checkStaleAfterSec(req.staleAfterSec));
      if (!stale.allowed) return deny('stale-data', stale.reason);
    }
    const collar = this.checkCollar(req.instrument, info, [req.price, req.stopPrice], now);
    if (collar) return collar;
    const recent = this.recentOrders(now);
    if (this.maxOrdersPerMinute > 0 && recent >= this.maxOrdersPerMinute) {
      return deny('max-orders-per-minute', `${recent} orders in the last minute, the maximum is ${this.maxOrdersPerMinute}: wait until the oldest is a minute old`);
    }

    this.sentAt.push(now);
    const base = { instrument: req.instrument, root: info.root, quantity, filled: 0, phase: 'reserved' as const };
    this.orders.set(req.clientOrderId, { ...base, clientOrderId: req.clientOrderId, side, role: 'entry', reducing, ...(opens ? { opens } : {}) });
    const exitSide: Side = side === 'buy' ? 'sell' : 'buy';
    for (const id of req.exits ?? []) this.orders.set(id, { ...base, clientOrderId: id, side: exitSide, role: 'exit', reducing: true, parent: req.clientOrderId, armed: 0 });
    for (const id of ids) this.usedIds.set(id, Date.now());
    if (this.shared) for (const id of ids) this.unclaimed.add(id);
    // Written now (a failure refuses the order here), flushed to the disk by authorizeSend's save, which every order
    // passes before its bytes leave: one data flush on the order's way out instead of two.
    return this.persistOrDeny(ids, { flushLater: true });
  }

  /**
   * Whether an entry may open a trade when it fills: the position then may be flat, or on the other side, whatever
   * the engine has read by now — a flatten on its way, or the other side's working orders (entries, armed exits)
   * filling first. Entries of its own side that work are no cover: they may never fill (a limit resting far away, one
   * being cancelled). The news of those fills may come after this order's: the max-trades rule is judged on this.
   */
  private mayOpenTrade(side: Side, e: { position: number; buys: number; sells: number }): boolean {
    if (this.flattening.size > 0) return true;
    return side === 'buy' ? e.position - e.sells <= 0 : e.position + e.buys >= 0;
  }

  /**
   * An order that passes no risk rule but still leaves under a new client order id (a flatten: Sierra's
   * SUBMIT_FLATTEN_POSITION_ORDER, sent by `flatten` and by the kill switch): its id is journaled before it leaves,
   * like every other order's, so the journal knows every id the account used. Refused when the id was used before or
   * the journal cannot be written (then nothing is sent).
   */
  journalOrderId(clientOrderId: string): Verdict {
    if (typeof clientOrderId !== 'string' || clientOrderId === '') return deny('invalid-order', 'every order needs its own client order id');
    if (this.usedIds.has(clientOrderId)) return deny('invalid-order', `client order id "${clientOrderId}" was already used on this account: an id is never reused`);
    this.usedIds.set(clientOrderId, Date.now());
    try {
      this.persist();
    } catch (err) {
      this.usedIds.delete(clientOrderId);
      return deny('kill-switch', `the risk journal could not be written, so the order was not sent: ${errorMessage(err)}`);
    }
    this.flattening.add(clientOrderId);
    return { allowed: true };
  }

  /**
   * A modify of a working order. HALTED allows only a quantity decrease with no price change; REDUCING allows
   * changes to exits and reducing orders, and decreases; a larger quantity is new exposure (every rule), recorded now.
   */
  reserveModify(req: ModifyRequest): Verdict {
    const o = this.orders.get(req.clientOrderId);
    if (!o) return deny('invalid-order', `order ${req.clientOrderId} is not one the risk engine counts on this account (not placed through it, or already done): it cannot be modified`);
    if (o.modifyFrom !== undefined) return deny('invalid-order', `order ${req.clientOrderId} has a modify in flight: wait for its answer`);
    if (req.quantity !== undefined && (!Number.isInteger(req.quantity) || req.quantity <= o.filled)) {
      return deny('invalid-order', `modified quantity must be a whole number above the ${o.filled} already filled; got ${JSON.stringify(req.quantity)}`);
    }
    const total = req.quantity ?? o.quantity;
    const increase = total - o.quantity;
    const priced = req.price !== undefined || req.stopPrice !== undefined;
    const ks = this.killSwitch;
    if (ks === 'HALTED' && !(increase < 0 && !priced)) {
      return deny('kill-switch', `kill switch is HALTED: the only modify allowed is a smaller quantity (${req.clientOrderId} refused). Set it to ACTIVE to trade again`);
    }
    if (ks === 'REDUCING' && (increase > 0 || (priced && o.role === 'entry' && !o.reducing))) {
      return deny('kill-switch', `kill switch is REDUCING: ${req.clientOrderId} adds to the position; only exits, reducing orders and smaller quantities may be modified`);
    }
    const info = this.instrumentOf(o.instrument);
    if (increase > 0) {
      if (total > this.guard.limits.maxOrderSize) return deny('max-order-size', `modify to ${total} contracts exceeds the maximum order size of ${this.guard.limits.maxOrderSize}`);
      const e = this.exposure(info.root);
      const working = o.side === 'buy' ? e.buys : -e.sells;
      const change = { side: o.side, quantity: increase, position: e.position, workingQuantity: working };
      if (!this.reconciledFlag) return deny('not-reconciled', `the ${this.broker} account ${this.account} is not yet reconciled with the broker: a larger order waits`);
      const decision = this.guard.check({ ...change, now: req.now });
      if (!decision.allowed) return decision;
      if (req.staleAfterSec) {
        const stale = this.marketData.check(change, req.now, checkStaleAfterSec(req.staleAfterSec));
        if (!stale.allowed) return deny('stale-data', stale.reason);
      }
    }
    const collar = this.checkCollar(o.instrument, info, [req.price, req.stopPrice], req.now);
    if (collar) return collar;
    if (increase > 0) {
      o.modifyFrom = o.quantity;
      o.quantity = total; // counted from now; releaseModify puts it back if the broker says no
      if (this.shared) this.unclaimed.add(o.clientOrderId);
      const saved = this.persistOrDeny([]);
      if (!saved.allowed) this.releaseModify(req.clientOrderId);
      return saved;
    }
    return { allowed: true };
  }

  /** A modify that did not happen (refused, failed): a reserved increase is given back. */
  releaseModify(clientOrderId: string): void {
    const o = this.orders.get(clientOrderId);
    if (!o || o.modifyFrom === undefined) return;
    o.quantity = o.modifyFrom;
    delete o.modifyFrom;
    this.unclaimed.delete(clientOrderId);
    this.persistQuietly();
  }

  /** The broker confirmed a modify (its new total quantity). */
  modifyConfirmed(clientOrderId: string, quantity?: number): void {
    const o = this.orders.get(clientOrderId);
    if (!o) return;
    delete o.modifyFrom;
    if (quantity !== undefined && Number.isFinite(quantity)) o.quantity = quantity;
    if (o.filled >= o.quantity) this.orders.delete(clientOrderId);
    this.persistQuietly();
  }

  /**
   * At the instant of writing to the broker: the kill switch and trading switch again (they may have moved while the
   * caller awaited), then the journal. Refused → the caller releases and sends nothing.
   */
  authorizeSend(clientOrderId: string, tradingEnabled = true): Verdict {
    const o = this.orders.get(clientOrderId);
    if (!o) return deny('invalid-order', `order ${clientOrderId} was not reserved with the risk engine (or was released): not sent`);
    if (!tradingEnabled) return deny('trading-disabled', 'trading is turned off in the connection settings: nothing was sent');
    if (this.unclaimed.has(clientOrderId)) return deny('invalid-order', `order ${clientOrderId} was not claimed in the account's shared risk budget (${this.shared?.where}): not sent`);
    const verdict = this.switchAllows(o);
    if (!verdict.allowed) return verdict;
    if (this.adds(o)) {
      // A stop reached while the order waited to be sent (a fill in between): it does not leave.
      const stop = this.entryStop(this.lastNow);
      if (stop?.orders.some((s) => s.clientOrderId === clientOrderId)) return deny(stop.rule, `${stop.reason}: ${o.side} ${o.quantity} was not sent`);
    }
    const family = [o, ...[...this.orders.values()].filter((c) => c.parent === clientOrderId)];
    for (const f of family) if (f.phase === 'reserved') f.phase = 'sent';
    try {
      this.persist();
    } catch (err) {
      for (const f of family) f.phase = 'reserved';
      return deny('kill-switch', `the risk journal could not be written, so the order was not sent: ${errorMessage(err)}`);
    }
    return { allowed: true };
  }

  /**
   * With a shared budget (several instances on one account): the order reserved here (and its bracket exits, or a
   * modify's larger quantity) is claimed in the account's budget in one atomic step — exposure across every
   * instance's orders and the account's positions, trades today, the day's loss, the kill switch. Call it after
   * reserve / reserveModify and right before authorizeSend / authorizeModify (nothing else awaited between); refused:
   * release as for any refusal. Without a shared budget it allows at once.
   */
  async claimShared(clientOrderId: string, now: number): Promise<Verdict> {
    const shared = this.shared;
    if (!shared) return { allowed: true };
    const family = [...this.orders.values()].filter((o) => (o.clientOrderId === clientOrderId || o.parent === clientOrderId) && this.unclaimed.has(o.clientOrderId));
    if (family.length === 0) return { allowed: true };
    const records = family.map((o) => this.sharedRecord(o));
    const l = this.guard.limits;
    let verdict;
    try {
      await this.sharedQueue; // after this instance's earlier news (fills, releases), so the budget is current
      const fresh = family.filter((o) => o.phase === 'reserved' && o.modifyFrom === undefined).map((o) => o.clientOrderId);
      verdict = await shared.claim(records, { maxPosition: l.maxPosition, maxTradesPerDay: l.maxTradesPerDay, dailyLossLimit: l.dailyLossLimit, session: this.sessionOf(now), fresh });
    } catch (err) {
      // An order that only brings the position toward flat cannot breach the budget: it still passes (mirrored later).
      if (family.every((o) => o.role === 'entry' && o.reducing && o.modifyFrom === undefined) && this.orders.has(clientOrderId)) {
        for (const o of family) this.unclaimed.delete(o.clientOrderId);
        this.mirrorShared();
        return { allowed: true };
      }
      return deny('not-reconciled', `the account's shared risk budget (${shared.where}) could not be checked, so no new entry was sent (orders that reduce the position still pass): ${errorMessage(err)}`);
    }
    if (STRICT[verdict.killSwitch] > STRICT[this.killSwitch]) this.takeSharedKillSwitch(verdict.killSwitch);
    if (!verdict.allowed) return deny(verdict.rule, verdict.reason);
    for (const r of records) {
      this.unclaimed.delete(r.id);
      this.mirrored.set(r.id, JSON.stringify(r));
    }
    // Released or changed while the claim was on its way: the budget follows.
    this.mirrorShared();
    return { allowed: true };
  }

  /** Resolves once every change this engine sent to the shared budget has reached it. */
  flushShared(): Promise<void> {
    return this.sharedQueue;
  }

  /** The same test for a modify about to be written. */
  authorizeModify(clientOrderId: string, tradingEnabled = true): Verdict {
    const o = this.orders.get(clientOrderId);
    if (!tradingEnabled) return deny('trading-disabled', 'trading is turned off in the connection settings: nothing was sent');
    if (!o) return deny('invalid-order', `order ${clientOrderId} is not counted by the risk engine`);
    if (this.unclaimed.has(clientOrderId)) return deny('invalid-order', `the larger quantity for ${clientOrderId} was not claimed in the account's shared risk budget (${this.shared?.where}): not sent`);
    const ks = this.killSwitch;
    if (ks === 'HALTED' && o.modifyFrom !== undefined) return deny('kill-switch', `kill switch is HALTED: the larger quantity for ${clientOrderId} was not sent`);
    if (ks !== 'ACTIVE' && o.modifyFrom !== undefined) return deny('kill-switch', `kill switch is ${ks}: the larger quantity for ${clientOrderId} was not sent`);
    return { allowed: true };
  }

  private switchAllows(o: WorkingOrder): Verdict {
    const ks = this.killSwitch;
    const order = `${o.side} ${o.quantity}`;
    if (ks === 'HALTED') return deny('kill-switch', `kill switch is HALTED: no new orders (${order} refused at sending). Set it to ACTIVE to trade again`);
    if (ks === 'REDUCING' && !o.reducing) return deny('kill-switch', `kill switch is REDUCING: only orders that shrink the position are allowed; ${order} adds to it`);
    return { allowed: true };
  }

  /** The order (and its bracket children) will not reach the broker, or is done: its exposure is given back. */
  release(clientOrderId: string): void {
    let changed = this.orders.delete(clientOrderId);
    for (const [id, c] of this.orders) {
      if (c.parent === clientOrderId) {
        this.orders.delete(id);
        changed = true;
      }
    }
    if (changed) {
      this.persistQuietly();
      this.emit('change');
    }
  }

  /** The broker acknowledged the order. Acknowledged while HALTED (sent before the kill): reported for cancelling. */
  acknowledged(clientOrderId: string, brokerOrderId?: string): void {
    const o = this.orders.get(clientOrderId);
    if (!o) return;
    const wasInFlight = o.phase !== 'working';
    o.phase = 'working';
    if (brokerOrderId) {
      o.brokerOrderId = brokerOrderId;
      this.seeBrokerId(brokerOrderId);
    }
    this.persistQuietly();
    const stopped = this.cancelling.has(clientOrderId) && this.adds(o);
    if (wasInFlight && ((this.killSwitch === 'HALTED' && !(o.role === 'exit')) || stopped)) {
      const ack = { clientOrderId, brokerOrderId: o.brokerOrderId };
      // No guard listening (its node closed by a Deploy): kept for the next guard, which cancels it.
      if (this.listenerCount('late-ack') === 0) this.unheardLateAcks.push(ack);
      else this.emit('late-ack', ack);
    }
  }

  /** Orders acknowledged after the kill while no guard listened; handed over once (lib/trading/kill-switch.ts). */
  takeUnheardLateAcks(): { clientOrderId: string; brokerOrderId?: string }[] {
    return this.unheardLateAcks.splice(0);
  }

  /** An order update: a terminal status gives back what is left of the order; a new total quantity is taken. */
  onOrderUpdate(clientOrderId: string, update: { status: 'pending' | 'working' | 'partially-filled' | 'filled' | 'cancelled' | 'rejected'; quantity?: number; filled?: number; brokerOrderId?: string | null }): void {
    const o = this.orders.get(clientOrderId);
    if (!o) {
      if (update.status === 'cancelled' || update.status === 'rejected' || update.status === 'filled') this.flattening.delete(clientOrderId);
      // Not counted here (a flatten, an order placed by hand): its fills are still ones this account has seen.
      if (update.brokerOrderId && !this.brokerIds.has(update.brokerOrderId)) {
        this.seeBrokerId(update.brokerOrderId);
        this.persistQuietly();
      }
      return;
    }
    if (update.brokerOrderId) this.seeBrokerId(update.brokerOrderId);
    if (update.status === 'cancelled' || update.status === 'rejected' || update.status === 'filled') {
      if (update.status === 'filled' && update.filled !== undefined && update.filled > o.filled) this.arm(o, update.filled - o.filled);
      this.drop(clientOrderId);
      if (o.role === 'entry' && update.status !== 'filled') {
        // The parent ended: its exits stay only for what it filled (they protect that position).
        for (const [id, c] of this.orders) {
          if (c.parent !== clientOrderId) continue;
          if ((c.armed ?? 0) <= c.filled) this.orders.delete(id);
          else c.quantity = c.armed ?? 0;
        }
        this.persistQuietly();
      }
      return;
    }
    if (update.status !== 'pending' || update.brokerOrderId) this.acknowledged(clientOrderId, update.brokerOrderId ?? undefined);
    if (update.quantity !== undefined && update.quantity > 0 && o.modifyFrom === undefined && update.quantity !== o.quantity) {
      o.quantity = update.quantity;
      this.persistQuietly();
    }
  }

  /** The parent filled `q` more: its exits may now fill that much more. */
  private arm(parent: WorkingOrder, q: number): void {
    for (const c of this.orders.values()) {
      if (c.parent !== parent.clientOrderId) continue;
      // A parent modified to a larger quantity may take its exits with it (the broker decides): the worst case.
      c.quantity = Math.max(c.quantity, parent.quantity);
      c.armed = Math.min(c.quantity, (c.armed ?? 0) + q);
    }
  }

  private drop(clientOrderId: string): void {
    if (this.orders.delete(clientOrderId)) {
      this.persistQuietly();
      this.emit('change');
    }
  }

  /** A fill: position (per contract, priced with its own point value), P&L, trades; working → position. */
  onFill(fill: FillNews): void {
    if (fill.executionId) {
      if (this.executions.has(fill.executionId)) return;
      this.executions.add(fill.executionId);
    }
    const info = this.instrumentOf(fill.instrument);
    const own = fill.clientOrderId ? this.orders.get(fill.clientOrderId) : undefined;
    // Counted once in the shared budget: by the broker's execution id, else by this instance's own order and the
    // quantity filled so far (another instance never reports this instance's order).
    const key = fill.executionId ?? (own ? `${own.clientOrderId}#${own.filled}+${fill.quantity}` : fill.clientOrderId ? `${fill.clientOrderId}@${fill.now}#${fill.quantity}@${fill.price}` : undefined);
    const signed = fill.side === 'buy' ? fill.quantity : -fill.quantity;
    const pending = this.recordAhead.get(fill.instrument);
    const ahead = pending && fill.now - pending.at <= RECORD_AHEAD_MS ? pending.q : 0;
    if (pending && ahead === 0) this.recordAhead.delete(fill.instrument);
    const absorbed = ahead !== 0 && Math.sign(ahead) === Math.sign(signed) ? Math.sign(ahead) * Math.min(Math.abs(ahead), fill.quantity) : 0;
    const sharedFill: SharedFill | undefined = key
      ? { key, instrument: fill.instrument, root: info.root, side: fill.side, quantity: fill.quantity, price: fill.price, pointValue: info.pointValue, session: this.sessionOf(fill.now), absorbed, ...(fill.realizedPnl !== undefined ? { realizedPnl: fill.realizedPnl } : {}) }
      : undefined;
    // A fill the broker's record already contains: replayed from the position before the record (its trade and P&L
    // counted), then the record's position stands, moved only by the part of the fill it did not contain.
    if (ahead !== 0) this.guard.syncBroker({ now: fill.now, instrument: fill.instrument, position: this.guard.positionOf(fill.instrument) - ahead });
    this.guard.recordFill({ instrument: fill.instrument, pointValue: info.pointValue, side: fill.side, quantity: fill.quantity, price: fill.price, now: fill.now, realizedPnl: fill.realizedPnl });
    if (ahead !== 0) {
      const rest = ahead - absorbed;
      if (rest === 0) this.recordAhead.delete(fill.instrument);
      else this.recordAhead.set(fill.instrument, { q: rest, at: pending?.at ?? fill.now });
      this.guard.syncBroker({ now: fill.now, instrument: fill.instrument, position: this.guard.positionOf(fill.instrument) + rest });
    }
    this.setLastTrade(fill.instrument, fill.price, fill.now);
    const o = fill.clientOrderId ? this.orders.get(fill.clientOrderId) : undefined;
    // Journaled with the fill it counts: a reconcile never counts this order's fills as unseen.
    if (fill.brokerOrderId) this.seeBrokerId(fill.brokerOrderId);
    if (o?.brokerOrderId) this.seeBrokerId(o.brokerOrderId);
    if (o && this.cancelling.has(o.clientOrderId) && o.role === 'entry') this.emit('entry-fill', { clientOrderId: o.clientOrderId, quantity: fill.quantity });
    if (o) {
      const q = Math.min(fill.quantity, o.quantity - o.filled);
      o.filled += q;
      if (o.role === 'entry') this.arm(o, q);
      if (o.phase !== 'working') o.phase = 'working';
      if (o.filled >= o.quantity) this.orders.delete(o.clientOrderId);
      if (o.role === 'exit' && o.parent) {
        // One OCO quantity: a fill of one exit is a fill of the pair.
        for (const s of this.orders.values()) if (s.parent === o.parent && s !== o) s.filled = Math.min(s.quantity, s.filled + fill.quantity);
      }
    }
    // The position and the orders it moved (the entry filled, its exits armed) change together in the shared budget:
    // a claim between the two would see the position without the exits that now protect it.
    this.mirrorShared(sharedFill);
    this.persistQuietly();
    this.emit('change');
    this.lookForStops(fill.now);
  }

  /** The broker's account figures (P&L) as they come: the broker is the truth; a disagreement is reported. */
  syncAccount(figures: { now: number; realizedPnl?: number | null; unrealizedPnl?: number | null }): void {
    const realized = figures.realizedPnl ?? undefined;
    const before = this.guard.state(figures.now).realizedPnl;
    if (realized !== undefined && Number.isFinite(realized) && Math.abs(realized - before) > 0.005) {
      this.report({ what: 'realized-pnl', journal: before, broker: realized, message: `today's realized P&L: the risk engine counted ${usd(before)}, the broker says ${usd(realized)}; the broker's figure is used` });
    }
    this.guard.syncBroker({ now: figures.now, realizedPnl: realized, unrealizedPnl: figures.unrealizedPnl ?? undefined });
    if (realized !== undefined && Number.isFinite(realized)) {
      const session = this.sessionOf(figures.now);
      this.toShared((b) => b.setRealizedPnl(realized, session));
    }
    this.persistQuietly();
    this.emit('change');
    this.lookForStops(figures.now);
  }

  /** A position as the broker reports it (one contract). */
  syncPosition(p: BrokerPosition, now: number): void {
    const known = this.guard.positionOf(p.instrument);
    if (known !== p.quantity && this.reconciledFlag) {
      this.report({ what: 'position', instrument: p.instrument, journal: known, broker: p.quantity, message: `${p.instrument}: the risk engine counted ${describePosition(known)}, the broker says ${describePosition(p.quantity)}; the broker's position is used` });
    }
    const pending = this.recordAhead.get(p.instrument);
    const ahead = p.quantity - (known - (pending && now - pending.at <= RECORD_AHEAD_MS ? pending.q : 0));
    if (ahead === 0) this.recordAhead.delete(p.instrument);
    else this.recordAhead.set(p.instrument, { q: ahead, at: now });
    this.guard.syncBroker({ now, instrument: p.instrument, position: p.quantity, averagePrice: p.averagePrice ?? undefined });
    this.sharePosition(p.instrument, p.quantity, p.averagePrice);
    this.persistQuietly();
    this.emit('change');
    this.lookForStops(now);
  }

  /**
   * At connect: the broker's positions, working orders and the day's P&L replace what the journal says, every
   * difference reported. Until the first reconcile, new entries are refused (reducing orders and cancels pass).
   */
  reconcile(broker: BrokerState): Discrepancy[] {
    const found: Discrepancy[] = [];
    const note = (d: Discrepancy): void => {
      found.push(d);
      this.report(d);
    };
    this.countUnrecordedTrades(broker, note);
    this.recordAhead.clear(); // the broker's figures, whole: what they contain is settled by the reconcile
    const brokerPos = new Map(broker.positions.map((p) => [p.instrument, p]));
    for (const p of this.guard.positions()) {
      if (!brokerPos.has(p.instrument)) {
        note({ what: 'position', instrument: p.instrument, journal: p.position, broker: 0, message: `${p.instrument}: the journal had ${describePosition(p.position)}, the broker says flat; flat is used` });
        this.guard.syncBroker({ now: broker.now, instrument: p.instrument, position: 0, averagePrice: null });
        this.sharePosition(p.instrument, 0, null);
      }
    }
    for (const p of broker.positions) {
      const known = this.guard.positionOf(p.instrument);
      if (known !== p.quantity) {
        note({ what: 'position', instrument: p.instrument, journal: known, broker: p.quantity, message: `${p.instrument}: the journal had ${describePosition(known)}, the broker says ${describePosition(p.quantity)}; the broker's position is used` });
      }
      this.guard.syncBroker({ now: broker.now, instrument: p.instrument, position: p.quantity, averagePrice: p.averagePrice ?? undefined });
      this.sharePosition(p.instrument, p.quantity, p.averagePrice);
    }
    const brokerOrders = new Map(broker.working.map((o) => [o.clientOrderId, o]));
    for (const [id, o] of this.orders) {
      if (brokerOrders.has(id)) continue;
      if (o.phase !== 'reserved') {
        note({ what: 'working-order', clientOrderId: id, journal: `${o.side} ${o.quantity - o.filled}`, broker: null, message: `order ${id} (${o.side} ${o.quantity - o.filled} ${o.instrument}) is in the journal but not working at the broker: no longer counted` });
      }
      this.orders.delete(id);
    }
    for (const b of broker.working) {
      let info: InstrumentInfo;
      try {
        info = this.instrumentOf(b.instrument);
      } catch {
        continue;
      }
      const known = this.orders.get(b.clientOrderId);
      this.usedIds.set(b.clientOrderId, Date.now());
      if (known) {
        // A larger quantity sent before a restart may still take effect at the broker: counted until it ends.
        if (known.modifyFrom !== undefined) {
          known.modifyFrom = b.quantity;
          known.quantity = Math.max(known.quantity, b.quantity);
        } else known.quantity = b.quantity;
        known.filled = b.filled;
        if (known.role === 'exit') {
          // Armed as the broker's parent has filled (its fills may not have been read): wholly once it no longer works.
          const parent = known.parent !== undefined ? brokerOrders.get(known.parent) : undefined;
          known.armed = Math.min(known.quantity, parent ? Math.max(parent.filled, known.armed ?? 0) : known.quantity);
        }
        known.phase = 'working';
        if (b.brokerOrderId) known.brokerOrderId = b.brokerOrderId;
        continue;
      }
      const parent = b.parent && (this.orders.has(b.parent) || brokerOrders.has(b.parent)) ? b.parent : undefined;
      note({ what: 'unknown-order', clientOrderId: b.clientOrderId, journal: null, broker: `${b.side} ${b.quantity - b.filled}`, message: `order ${b.clientOrderId} (${b.side} ${b.quantity - b.filled} ${b.instrument}) works at the broker but not in the journal: counted ${parent ? 'as a bracket exit' : 'as an entry'}` });
      this.orders.set(b.clientOrderId, {
        clientOrderId: b.clientOrderId,
        instrument: b.instrument,
        root: info.root,
        side: b.side,
        quantity: b.quantity,
        filled: b.filled,
        role: parent ? 'exit' : 'entry',
        reducing: Boolean(parent),
        ...(parent ? { armed: brokerOrders.has(parent) ? (brokerOrders.get(parent)?.filled ?? 0) : b.quantity } : {}),
        phase: 'working',
        ...(parent ? { parent } : {}),
        ...(b.brokerOrderId ? { brokerOrderId: b.brokerOrderId } : {}),
      });
    }
    if (broker.realizedPnl !== undefined || broker.unrealizedPnl !== undefined) this.syncAccount({ now: broker.now, realizedPnl: broker.realizedPnl, unrealizedPnl: broker.unrealizedPnl });
    // Every order the broker names now is settled by this reconcile: its fills are never counted as unseen again.
    for (const b of broker.working) for (const id of [b.brokerOrderId, b.parentBrokerOrderId]) if (id) this.seeBrokerId(id);
    for (const f of broker.fills ?? []) if (f.brokerOrderId) this.seeBrokerId(f.brokerOrderId);
    this.brokerIdsComplete = true;
    this.flattening.clear(); // the broker's position now holds whatever a flatten sent before did
    this.reconciledFlag = true;
    this.persistQuietly();
    this.emit('change');
    // The broker's own list is the truth now: an entry still working there is cancelled again, whatever was sent before.
    this.cancelling.clear();
    this.lookForStops(broker.now);
    return found;
  }

  /**
   * Fills of orders the journal counts (its intents, matched by client order id or broker order id; an intent that was
   * never acknowledged, by its contract and side when exactly one unnamed order fits) beyond what the journal recorded
   * of them, and every fill of an order no journal of this account ever saw (its broker order id unknown: its news was
   * never read — an order acknowledged and filled after the last write, whose bracket exits no longer work to name it —
   * or it was placed while Node-RED was down), happened while the process was down, or just before it died: replayed
   * in the broker's order over the journal's positions, every one that opened a position (from flat, or through it)
   * is a trade the day's count lacks. The higher count wins: the broker's.
   */
  private countUnrecordedTrades(broker: BrokerState, note: (d: Discrepancy) => void): void {
    const fills = broker.fills ?? [];
    if (fills.length === 0 || (this.orders.size === 0 && !this.brokerIdsComplete)) return;
    const byBrokerId = new Map<string, WorkingOrder>();
    for (const o of this.orders.values()) if (o.brokerOrderId) byBrokerId.set(o.brokerOrderId, o);
    // A parent killed before its acknowledgement was read: its working children at the broker name it.
    for (const b of broker.working) {
      const parent = b.parentBrokerOrderId ? this.orders.get(this.orders.get(b.clientOrderId)?.parent ?? '') : undefined;
      if (parent && b.parentBrokerOrderId && !parent.brokerOrderId && !byBrokerId.has(b.parentBrokerOrderId)) byBrokerId.set(b.parentBrokerOrderId, parent);
    }
    const owner = new Map<BrokerFill, WorkingOrder>();
    const unnamed = new Map<string, BrokerFill[]>();
    for (const f of fills) {
      const o = (f.clientOrderId ? this.orders.get(f.clientOrderId) : undefined) ?? (f.brokerOrderId ? byBrokerId.get(f.brokerOrderId) : undefined);
      if (o) owner.set(f, o);
      // An order the account has seen (known to be another's, or history) is no candidate for an unacknowledged intent.
      else if (f.brokerOrderId && !(f.clientOrderId && this.usedIds.has(f.clientOrderId)) && !(this.brokerIdsComplete && this.brokerIds.has(f.brokerOrderId))) {
        unnamed.set(f.brokerOrderId, [...(unnamed.get(f.brokerOrderId) ?? []), f]);
      }
    }
    const linked = new Set(byBrokerId.values());
    const unacked = [...this.orders.values()].filter((o) => !o.brokerOrderId && !linked.has(o) && o.phase !== 'reserved');
    for (const o of unacked) {
      const fits = [...unnamed.values()].filter((g) => g[0].instrument === o.instrument && g[0].side === o.side && g.reduce((q, f) => q + f.quantity, 0) <= o.quantity);
      const rivals = unacked.filter((r) => r.instrument === o.instrument && r.side === o.side);
      if (fits.length !== 1 || rivals.length !== 1) continue;
      for (const f of fits[0]) owner.set(f, o);
      unnamed.delete(fits[0][0].brokerOrderId);
    }
    // What each fill adds that the journal never saw: the part of an intent's fills beyond what it recorded, and,
    // from the first such fill on, every fill of an order the journal does not count (it moved the position too).
    const recorded = new Map<WorkingOrder, number>();
    const steps: { instrument: string; signed: number; counts: boolean }[] = [];
    for (const f of fills) {
      const o = owner.get(f);
      const unseen = !o && this.brokerIdsComplete && f.brokerOrderId !== '' && !this.brokerIds.has(f.brokerOrderId);
      let q = f.quantity;
      if (o) {
        const seen = recorded.get(o) ?? 0;
        q -= Math.min(f.quantity, Math.max(0, o.filled - seen));
        recorded.set(o, seen + f.quantity);
      } else if (steps.length === 0 && !unseen) continue;
      if (q > 0) steps.push({ instrument: o?.instrument ?? f.instrument, signed: f.side === 'buy' ? q : -q, counts: Boolean(o) || unseen });
    }
    // Replayed from the position before them: the broker's position now (which they reached; this connection's live
    // position updates may already have brought it into the engine) less what they added.
    const position = new Map<string, number>();
    for (const u of steps) {
      const now = position.get(u.instrument) ?? broker.positions.filter((p) => p.instrument === u.instrument).reduce((q, p) => q + p.quantity, 0);
      position.set(u.instrument, now - u.signed);
    }
    let missed = 0;
    for (const u of steps) {
      const before = position.get(u.instrument) ?? 0;
      const after = before + u.signed;
      if (u.counts && after !== 0 && (before === 0 || Math.sign(after) !== Math.sign(before))) missed++;
      position.set(u.instrument, after);
    }
    if (missed === 0) return;
    const journal = this.guard.state(broker.now).tradesToday;
    this.guard.countMissedTrades(missed, broker.now);
    const counted = this.guard.state(broker.now).tradesToday;
    note({ what: 'trades-today', journal, broker: counted, message: `trades today: the journal counted ${journal}, the broker's fills opened ${missed} more that no fill here recorded (while Node-RED was down or just before it stopped); ${counted} is used` });
  }

  /** The connection to the broker was lost: new entries wait for the next reconcile. */
  markUnreconciled(): void {
    this.reconciledFlag = false;
    this.emit('change');
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Journal

  snapshot(now: number): JournalState {
    this.usedIds.expire(now, (id) => this.orders.has(id));
    this.brokerIds.expire(now);
    return journalState(
      { version: JOURNAL_VERSION, broker: this.broker, account: this.account, savedAt: now, ledger: this.guard.ledger(), idSequence: this.idSequence },
      // The seen ids only once they are whole (a reconcile took every order the broker names): a part would pass for the whole.
      { usedIds: this.usedIds.toJson(), ...(this.brokerIdsComplete ? { brokerOrderIds: this.brokerIds.toJson() } : {}) },
      [...this.orders.values()].map((o) => ({ ...o })),
    );
  }

  private restore(s: JournalState): void {
    this.guard.restore(s.ledger);
    this.idSequence = s.idSequence ?? 0;
    for (const [id, t] of Object.entries(s.usedIds ?? {})) this.usedIds.set(id, t);
    this.brokerIds.clear();
    for (const [id, t] of Object.entries(s.brokerOrderIds ?? {})) this.brokerIds.set(id, t);
    this.brokerIdsComplete = s.brokerOrderIds !== undefined;
    for (const i of s.intents) this.orders.set(i.clientOrderId, { ...i });
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Shared budget

  private sharedRecord(o: WorkingOrder): SharedOrder {
    const exit = o.role === 'exit';
    return { id: o.clientOrderId, root: o.root, side: o.side, q: o.quantity, f: o.filled, role: o.role, pair: exit ? (o.parent ?? o.clientOrderId) : o.clientOrderId, armed: exit ? (o.armed ?? o.quantity) : o.quantity };
  }

  private sessionOf(now: number): number {
    const start = this.guard.state(now).sessionStart;
    return Number.isFinite(start) ? start : 0;
  }

  /** Sends one change to the shared budget, in order after the others; a failure is reported, never thrown. */
  private toShared(send: (b: SharedBudget) => Promise<void>): void {
    const shared = this.shared;
    if (!shared) return;
    this.sharedQueue = this.sharedQueue
      .then(() => send(shared))
      .catch((err: unknown) => {
        this.emit('journal-error', err instanceof Error ? err : new JournalError(errorMessage(err)));
      });
  }

  /** This instance's claimed orders as they are now: what changed is sent, what ended removed (with a fill: in its step). */
  private mirrorShared(fill?: SharedFill): void {
    if (!this.shared) return;
    for (const id of this.unclaimed) if (!this.orders.has(id)) this.unclaimed.delete(id);
    const put: SharedOrder[] = [];
    for (const o of this.orders.values()) {
      if (this.unclaimed.has(o.clientOrderId)) continue; // a modify's larger quantity waits for its claim
      const r = this.sharedRecord(o);
      const text = JSON.stringify(r);
      if (this.mirrored.get(r.id) === text) continue;
      this.mirrored.set(r.id, text);
      put.push(r);
    }
    const remove = [...this.mirrored.keys()].filter((id) => !this.orders.has(id));
    for (const id of remove) this.mirrored.delete(id);
    if (fill) this.toShared((b) => b.fill(fill, put, remove));
    else if (put.length || remove.length) this.toShared((b) => b.mirror(put, remove));
  }

  /** Another instance moved the account's kill switch (or a claim found it moved): taken here, not sent back. */
  private takeSharedKillSwitch(state: KillSwitchState): void {
    const before = this.killSwitch;
    if (before === state) return;
    this.guard.setKillSwitch(state);
    this.persistQuietly();
    this.emit('kill-switch', state);
    this.emit('change');
    this.lookForStops(this.lastNow);
  }

  private sharePosition(instrument: string, quantity: number, averagePrice: number | null | undefined): void {
    const root = this.rootOf(instrument);
    this.toShared((b) => b.setPosition({ instrument, root, quantity, averagePrice: averagePrice ?? null }));
  }

  /** An asynchronous journal is read: until `finishLoad`, new entries are refused. */
  beginLoad(): void {
    this.loading = true;
  }

  /** The asynchronous journal's state (null: none): taken, with what was reserved meanwhile kept. */
  finishLoad(state: JournalState | null): void {
    this.loading = false;
    if (!state) return;
    const meanwhile = [...this.orders.values()];
    const killSwitch = this.killSwitch;
    this.restore(state);
    for (const o of meanwhile) this.orders.set(o.clientOrderId, o);
    if (STRICT[killSwitch] > STRICT[this.killSwitch]) this.guard.setKillSwitch(killSwitch);
    this.persistQuietly();
    this.emit('change');
  }

  /** The journal could not be read at start: HALTED in memory, every new order refused with this reason. */
  faultJournal(reason: string): void {
    this.loading = false;
    this.journalFault = reason;
    this.guard.setKillSwitch('HALTED');
    this.emit('kill-switch', 'HALTED');
  }

  private persist(): void {
    this.journal.save(this.snapshot(Date.now()));
    this.mirrorShared();
  }

  /** A reservation whose journal write failed is undone: the order does not exist for anyone. */
  private persistOrDeny(ids: string[], options: { flushLater?: boolean } = {}): Verdict {
    try {
      if (options.flushLater && this.journal.saveSoon) {
        this.journal.saveSoon(this.snapshot(Date.now()));
        this.mirrorShared();
      } else this.persist();
      return { allowed: true };
    } catch (err) {
      for (const id of ids) this.orders.delete(id);
      return deny('kill-switch', `the risk journal could not be written, so nothing was sent: ${errorMessage(err)}`);
    }
  }

  /**
   * After news from the broker: the journal is brought up to date (safe from a process crash at once, on the disk a
   * moment later: Journal.saveSoon; the save before the next order flushes it); a failure is reported, never thrown at
   * the broker's news.
   */
  private persistQuietly(): void {
    try {
      const snapshot = this.snapshot(Date.now());
      if (this.journal.saveSoon) this.journal.saveSoon(snapshot);
      else this.journal.save(snapshot);
      this.mirrorShared();
    } catch (err) {
      this.emit('journal-error', err instanceof Error ? err : new JournalError(errorMessage(err)));
    }
  }

  private seeBrokerId(brokerOrderId: string): void {
    if (brokerOrderId && !this.brokerIds.has(brokerOrderId)) this.brokerIds.set(brokerOrderId, Date.now());
  }

  private report(d: Discrepancy): void {
    this.emit('discrepancy', d);
  }

  // ---------------------------------------------------------------------------------------------------------------

  private rootOf(instrument: string): string {
    try {
      return this.instrumentOf(instrument).root;
    } catch {
      return instrument;
    }
  }

  private checkCollar(instrument: string, info: InstrumentInfo, prices: (number | undefined)[], now: number): Verdict | null {
    const priced = prices.filter((p): p is number => typeof p === 'number');
    if (this.collarTicks === 0 || priced.length === 0) return null;
    const last = this.lastTradeOf(instrument, now);
    if (last === null) {
      return deny('price-collar', `no last trade price of ${instrument} is known to check the price against: wire quotes (topic quote or tick) into the order node, or set the price collar to 0`);
    }
    const width = this.collarTicks * info.tickSize;
    for (const price of priced) {
      if (Math.abs(price - last) > width + PRICE_EPSILON) {
        const ticks = Math.round(Math.abs(price - last) / info.tickSize);
        return deny('price-collar', `price ${price} is ${ticks} ticks from the last trade ${last}, beyond the ${this.collarTicks}-tick collar (${last - width} to ${last + width})`);
      }
    }
    return null;
  }

  private recentOrders(now: number): number {
    while (this.sentAt.length > 0 && now - this.sentAt[0] >= MINUTE_MS) this.sentAt.shift();
    return this.sentAt.length;
  }
}
