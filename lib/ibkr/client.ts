// Typed methods over IBKR's real Web API paths (fact sheet, section 2). Wire strings become numbers here, once.
// The client relies on a Primer (the session keeper) for the "GET /iserver/accounts first" rule, refuses every
// order call while trading is disabled, answers IBKR's order questions by the caller's rule, and never resends an
// order whose outcome is unknown: it looks the client order id up in live orders instead.

import { InvalidInputError, errorMessage } from '../errors';
import {
  AccountsNotPrimedError,
  BadRequestError,
  IbkrError,
  NotFoundError,
  RejectedError,
  ServerError,
  TimeoutError,
  TradingDisabledError,
  rejectionFromBody,
  serverText,
} from './errors';
import { frontMonth } from './futures';
import { orderWarning } from './order-updates';
import { formatStartTime, validateHistoryRequest } from './history';
import { sleep, realScheduler, type Scheduler } from './scheduler';
import type { Priority } from './limits';
import type { IbkrRequest, QueryValue } from './transport';
import type {
  AnswerRule,
  AuthStatus,
  BrokerageAccounts,
  CancelAck,
  ContractInfo,
  FutureContract,
  HistoryResult,
  LedgerEntry,
  LiveOrder,
  OptionStrikes,
  OrderRequest,
  PlacedOrder,
  PnlRow,
  PortfolioAccount,
  Position,
  SecdefInfo,
  SecdefSearchResult,
  SnapshotRow,
  SummaryItem,
  TickleResult,
  WhatIfFigure,
  WhatIfResult,
} from './types';
import { FIELD_IDS, fieldId, fieldName, parseAvailability, parseWireInt, parseWireMoney, parseWireNumber, parseWirePrice, parseYyyymmdd } from './wire';

type Json = Record<string, unknown>;

/** What the client needs from the transport: one typed request. */
export interface Requester {
  request<T = unknown>(req: IbkrRequest): Promise<T>;
}

/** The session keeper's account priming ("GET /iserver/accounts" before snapshot, orders, modify, cancel). */
export interface Primer {
  ensurePrimed(): Promise<void>;
  invalidatePriming(): void;
  /**
   * How many times the accounts were primed. Priming is redone for every new brokerage session, so a new count
   * means IBKR's live-orders feed is closed again and needs its pre-flight call.
   */
  readonly primings: number;
}

/**
 * A client order id looked up in IBKR's live orders. 'unknown' means IBKR's answer could not be trusted to be
 * complete (its order feed was just reopened, or the read failed): never treat it as absent, never resend on it.
 */
export type OrderLookup =
  | { state: 'found'; order: LiveOrder }
  | { state: 'not-found' }
  | { state: 'unknown'; reason: string };

export interface ClientOptions {
  accountId?: string;
  tradingEnabled?: boolean;
  /** CME Rule 536-B: futures orders say whether a human entered them and who operates the system. */
  extOperator?: string;
  /** Rounds of confirmation questions before giving up (ibind allows 20; 10 is plenty in practice). */
  maxReplyRounds?: number;
  /** Wait between the snapshot pre-flight and the call that returns data (IBKR refreshes every 500 ms). */
  snapshotRetryMs?: number;
  snapshotRetries?: number;
  scheduler?: Scheduler;
}

/** Refuses every question: the safe default, an order IBKR questions is not sent. */
export const refuseAllQuestions: AnswerRule = () => false;

const num = parseWireNumber;
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const asObject = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const bool = (v: unknown): boolean => v === true || v === 'true';
/** A conid as IBKR names it: `conid` in most answers, `conId` in some reference lists, `con_id` in contract info. */
const conidOf = (o: Json): number | null => parseWireInt(o.conid ?? o.conId ?? o.con_id);


const LIVE_ORDERS_PATH = '/iserver/account/orders';
/** Pre-flight plus data call, and one more round if the brokerage session was reset in between. */
const LIVE_ORDERS_ATTEMPTS = 2;

interface LiveOrdersRead {
  orders: LiveOrder[];
  /** False when the answer may be IBKR's empty pre-flight list. */
  complete: boolean;
  reason: string;
}

/** "PreSubmitted", "pre_submitted" and "presubmitted" name the same status. */
const statusKey = (status: string): string => status.toLowerCase().replace(/[^a-z]/g, '');

function parseLiveOrders(raw: unknown): LiveOrder[] {
  return asArray(asObject(raw).orders).map((item) => {
    const v = asObject(item);
    return {
      accountId: str(v.acct),
      conid: parseWireInt(v.conid) ?? 0,
      orderId: parseWireInt(v.orderId) ?? 0,
      clientOrderId: v.order_ref ? str(v.order_ref) : null,
      status: str(v.status),
      side: str(v.side),
      orderType: str(v.orderType),
      quantity: num(v.totalSize),
      filledQuantity: num(v.filledQuantity),
      remainingQuantity: num(v.remainingQuantity),
      averagePrice: num(v.avgPrice),
      price: num(v.price),
      timeInForce: str(v.timeInForce),
      lastExecutionTime: num(v.lastExecutionTime_r),
    };
  });
}

function parseAuthStatus(raw: unknown): AuthStatus {
  const o = asObject(raw);
  return {
    authenticated: bool(o.authenticated),
    competing: bool(o.competing),
    connected: bool(o.connected),
    message: str(o.message),
    fail: str(o.fail),
  };
}

/** What-if figures may carry a currency like the amounts do ("1,000 USD"); plain numbers read the same. */
const money = (v: unknown): number | null => parseWireMoney(v)?.amount ?? null;

function figure(raw: unknown): WhatIfFigure {
  const o = asObject(raw);
  return { current: money(o.current), change: money(o.change), after: money(o.after) };
}

/** A what-if's impact, with the currency IBKR states its money in ("2.25 USD"): null when it names none. */
export interface WhatIfQuote extends WhatIfResult {
  currency: string | null;
}

/** IBKR's what-if answer (fact sheet §2, "What-if"): `amount` holds amount, commission and total as "2.25 USD". */
export function parseWhatIf(raw: unknown): WhatIfQuote {
  const o = asObject(raw);
  const amount = asObject(o.amount);
  const commission = parseWireMoney(amount.commission);
  const value = parseWireMoney(amount.amount);
  const total = parseWireMoney(amount.total);
  return {
    commission: commission?.amount ?? null,
    amount: value?.amount ?? null,
    total: total?.amount ?? null,
    currency: total?.currency ?? commission?.currency ?? value?.currency ?? null,
    equity: figure(o.equity),
    initialMargin: figure(o.initial),
    maintenanceMargin: figure(o.maintenance),
    position: figure(o.position),
    warning: o.warn ? str(o.warn) : null,
    error: o.error ? str(o.error) : null,
  };
}

/**
 * The questions one reply asks: IBKR may put several message ids on one reply ("messageIds":["o163","o354"]), each
 * with its text in `message[]` at the same place. One `confirmed:true` answers them all, so every one must be asked
 * of the rule; a reply without ids is one question with an empty id (refused unless the rule accepts anything).
 */
function questionsOf(question: Json): Array<{ messageId: string; text: string }> {
  const texts = asArray(question.message).map(str);
  const whole = texts.join(' ').trim() || str(question.message);
  const ids = asArray(question.messageIds).map(str);
  if (ids.length === 0) return [{ messageId: '', text: whole }];
  const aligned = texts.length === ids.length;
  return ids.map((messageId, k) => ({ messageId, text: (aligned ? texts[k]?.trim() : '') || whole }));
}

/**
 * IBKR's acknowledgements matched to the orders sent: by `local_order_id` (IBKR echoes the cOID there) where it is
 * given, the others in the order sent among the orders not matched yet (bracket children carry no cOID).
 */
function matchAcks(acks: Json[], clientOrderIds: Array<string | null>): PlacedOrder[] {
  const unmatched = clientOrderIds.map((id, k) => ({ id, k }));
  const take = (pred: (u: { id: string | null; k: number }) => boolean): { id: string | null; k: number } | undefined => {
    const at = unmatched.findIndex(pred);
    return at < 0 ? undefined : unmatched.splice(at, 1)[0];
  };
  const local = acks.map((a) => (typeof a.local_order_id === 'string' && a.local_order_id ? a.local_order_id : null));
  const byLocal = local.map((id) => (id === null ? undefined : (take((u) => u.id === id) ?? { id, k: -1 })));
  return acks.map((a, k) => {
    const hit = byLocal[k] ?? take((u) => u.id === null || !local.includes(u.id));
    const warning = orderWarning(a);
    return {
      orderId: parseWireInt(a.order_id) ?? 0,
      status: str(a.order_status),
      clientOrderId: hit?.id ?? null,
      ...(warning ? { warning } : {}),
      ...(hit && hit.k >= 0 && local.some((id) => id !== null) ? { requestIndex: hit.k } : {}),
    };
  });
}

export class IbkrClient {
  private readonly http: Requester;
  private readonly primer: Primer;
  private readonly options: ClientOptions;
  private readonly scheduler: Scheduler;
  private selectedAccount: string | undefined;
  private tradingBlock: string | null = null;
  /** The priming count for which IBKR's live-orders feed was opened by its pre-flight call. */
  private ordersFeedPriming: number | undefined;
  private ordersFeedOpening: Promise<number> | undefined;
  private lastLiveOrders: readonly LiveOrder[] = [];
  /** The priming count for which GET /portfolio/accounts was called (fact sheet §1.9: before other /portfolio calls). */
  private portfolioPriming: number | undefined;
  private portfolioPrimingCall: Promise<void> | undefined;
  /** Futures conids seen in /trsrv/futures, by symbol: their snapshots need a secdef/search in the session. */
  private readonly futuresSymbols = new Map<number, string>();
  private readonly derivativeSearches = new Map<string, { session: number; search: Promise<void> }>();

  constructor(http: Requester, primer: Primer, options: ClientOptions = {}) {
    this.http = http;
    this.primer = primer;
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.selectedAccount = options.accountId;
  }

  /** Orders may leave: trading is switched on in the settings and no check has turned it off (blockTrading). */
  get tradingEnabled(): boolean {
    return this.options.tradingEnabled === true && this.tradingBlock === null;
  }

  /** Why trading is off although the settings switch it on (paper/live mismatch, unknown account), or null. */
  get tradingBlockedReason(): string | null {
    return this.tradingBlock;
  }

  /** Turns trading off with the reason (null turns it back to the settings' switch). */
  blockTrading(reason: string | null): void {
    this.tradingBlock = reason;
  }

  // ---- session ----

  async authStatus(): Promise<AuthStatus> {
    return parseAuthStatus(await this.http.request({ method: 'POST', path: '/iserver/auth/status', idempotent: true, priority: 'session' }));
  }

  async tickle(): Promise<TickleResult> {
    const o = asObject(await this.http.request({ method: 'POST', path: '/tickle', idempotent: true, priority: 'session' }));
    const iserver = asObject(o.iserver);
    const hmds = asObject(o.hmds);
    return {
      session: str(o.session),
      ssoExpiresMs: num(o.ssoExpires),
      status: iserver.authStatus ? parseAuthStatus(iserver.authStatus) : null,
      hmdsError: hmds.error ? str(hmds.error) : null,
    };
  }

  /** Opens the brokerage session (publish and compete: with publish:false IBKR answers 500). */
  async ssodhInit(): Promise<AuthStatus> {
    return parseAuthStatus(
      await this.http.request({ method: 'POST', path: '/iserver/auth/ssodh/init', body: { publish: true, compete: true }, idempotent: true, priority: 'session' }),
    );
  }

  /** Deprecated by IBKR in favour of ssodh/init, still the fallback when ssodh/init answers 410/503 (ibeam #174). */
  async reauthenticate(): Promise<string> {
    return str(asObject(await this.http.request({ method: 'POST', path: '/iserver/reauthenticate', idempotent: true, priority: 'session' })).message);
  }

  async logout(): Promise<boolean> {
    return bool(asObject(await this.http.request({ method: 'POST', path: '/logout', idempotent: true, priority: 'session' })).status);
  }

  // ---- accounts and portfolio ----

  async accounts(): Promise<BrokerageAccounts> {
    const o = asObject(await this.http.request({ method: 'GET', path: '/iserver/accounts', priority: 'session' }));
    const props = asObject(o.acctProps);
    const allowCustomerTime: Record<string, boolean> = {};
    for (const [acct, p] of Object.entries(props)) allowCustomerTime[acct] = bool(asObject(p).allowCustomerTime);
    const aliases: Record<string, string> = {};
    for (const [k, v] of Object.entries(asObject(o.aliases))) aliases[k] = str(v);
    const accounts = asArray(o.accounts).map(str);
    const selected = str(o.selectedAccount) || null;
    if (!this.selectedAccount) this.selectedAccount = selected ?? accounts[0];
    return { accounts, selectedAccount: selected, isPaper: bool(o.isPaper), aliases, allowCustomerTime };
  }

  /** The account the orders and portfolio calls use: the configured one, else IBKR's selected account. */
  async accountId(): Promise<string> {
    if (!this.selectedAccount) await this.primer.ensurePrimed();
    if (!this.selectedAccount) await this.accounts();
    if (!this.selectedAccount) {
      throw new NotFoundError('IBKR reports no brokerage account for this login: check that the user has a trading account.');
    }
    return this.selectedAccount;
  }

  /** Also IBKR's portfolio priming for the session it is called in (the limiter keeps its 1-per-5-s rule). */
  async portfolioAccounts(): Promise<PortfolioAccount[]> {
    const session = this.primer.primings;
    const answer = await this.http.request({ method: 'GET', path: '/portfolio/accounts', priority: 'account' });
    this.portfolioPriming = session;
    return asArray(answer).map((raw) => {
      const o = asObject(raw);
      return {
        accountId: str(o.accountId ?? o.id),
        currency: str(o.currency),
        type: str(o.type),
        tradingType: str(o.tradingType),
        description: str(o.desc),
      };
    });
  }

  async accountSummary(accountId?: string, priority: Priority = 'account'): Promise<Record<string, SummaryItem>> {
    const acct = accountId ?? (await this.accountId());
    const o = asObject(await this.portfolioRead(`/portfolio/${encodeURIComponent(acct)}/summary`, priority));
    const out: Record<string, SummaryItem> = {};
    for (const [key, raw] of Object.entries(o)) {
      const v = asObject(raw);
      out[key] = {
        amount: bool(v.isNull) ? null : num(v.amount),
        currency: v.currency ? str(v.currency) : null,
        value: v.value === undefined || v.value === null ? null : str(v.value),
        timestamp: num(v.timestamp),
      };
    }
    return out;
  }

  async ledger(accountId?: string, priority: Priority = 'account'): Promise<LedgerEntry[]> {
    const acct = accountId ?? (await this.accountId());
    const o = asObject(await this.portfolioRead(`/portfolio/${encodeURIComponent(acct)}/ledger`, priority));
    return Object.entries(o).map(([currency, raw]) => {
      const v = asObject(raw);
      return {
        currency,
        cashBalance: num(v.cashbalance),
        settledCash: num(v.settledcash),
        netLiquidationValue: num(v.netliquidationvalue),
        unrealizedPnl: num(v.unrealizedpnl),
        realizedPnl: num(v.realizedpnl),
        exchangeRate: num(v.exchangerate),
      };
    });
  }

  /**
   * Every position: pages of 100 until a page holds fewer (fact sheet: pages start at 0). IBKR answers from a cache;
   * `fresh` invalidates it first (POST …/positions/invalidate): what the risk rules and the kill switch act on must be
   * what the account holds now, not a position closed or opened since the cache was filled.
   */
  async positions(accountId?: string, priority: Priority = 'account', options: { fresh?: boolean } = {}): Promise<Position[]> {
    const acct = accountId ?? (await this.accountId());
    if (options.fresh) {
      await this.primePortfolio();
      await this.http.request({ method: 'POST', path: `/portfolio/${encodeURIComponent(acct)}/positions/invalidate`, body: {}, idempotent: true, priority });
    }
    const all: Position[] = [];
    for (let page = 0; page < 1000; page += 1) {
      const rows = asArray(await this.portfolioRead(`/portfolio/${encodeURIComponent(acct)}/positions/${page}`, priority));
      for (const raw of rows) {
        const o = asObject(raw);
        all.push({
          accountId: str(o.acctId),
          conid: parseWireInt(o.conid) ?? 0,
          description: str(o.contractDesc),
          quantity: num(o.position) ?? 0,
          marketPrice: num(o.mktPrice),
          marketValue: num(o.mktValue),
          currency: str(o.currency),
          averageCost: num(o.avgCost),
          averagePrice: num(o.avgPrice),
          realizedPnl: num(o.realizedPnl),
          unrealizedPnl: num(o.unrealizedPnl),
          assetClass: str(o.assetClass),
        });
      }
      if (rows.length < 100) break;
    }
    return all;
  }

  async pnl(priority: Priority = 'account'): Promise<PnlRow[]> {
    const o = asObject(await this.primed(() => this.http.request({ method: 'GET', path: '/iserver/account/pnl/partitioned', priority })));
    return Object.entries(asObject(o.upnl)).map(([key, raw]) => {
      const v = asObject(raw);
      return { key, dailyPnl: num(v.dpl), netLiquidation: num(v.nl), unrealizedPnl: num(v.upl), excessLiquidity: num(v.el), marketValue: num(v.mv) };
    });
  }

  // ---- orders ----

  /**
   * IBKR's live orders, after its pre-flight: the first call of a brokerage session only opens IBKR's order feed
   * and answers an empty list (fact sheet §2), so it is made here and the list comes from the next call (the
   * limiter spaces them by the 1-per-5-s rule). `force` clears IBKR's cache first (that call answers an empty
   * list too). `statuses` keeps only those IBKR statuses; it is applied here, because IBKR's own `filters`
   * parameter stops the `sor` order stream until a later force call. Throws when IBKR's order feed was reopened
   * under the read (session reset) more times than it was worth asking again: an empty list would be a lie.
   */
  async liveOrders(options: { force?: boolean; statuses?: readonly string[]; priority?: Priority } = {}): Promise<LiveOrder[]> {
    const read = await this.readLiveOrders(options.force === true, options.priority ?? 'account');
    if (!read.complete) {
      throw new IbkrError(
        'IBKR_LIVE_ORDERS_UNCONFIRMED',
        `IBKR's live orders are not available yet (${read.reason}): no list was returned. Ask again in a few seconds.`,
        { path: LIVE_ORDERS_PATH },
      );
    }
    if (!options.statuses) return read.orders;
    const wanted = new Set(options.statuses.map(statusKey));
    return read.orders.filter((o) => wanted.has(statusKey(o.status)));
  }

  /**
   * The most recent complete live-orders answer, without asking IBKR (the kill switch cancels these at once instead
   * of waiting up to 5 s for the next read): it may be seconds old, so an order in it may be done by now.
   */
  recentLiveOrders(): readonly LiveOrder[] {
    return this.lastLiveOrders;
  }

  /**
   * Looks a client order id (cOID) up in IBKR's live orders: how a lost answer is resolved. Says 'unknown', not
   * 'not-found', whenever the answer could be IBKR's empty pre-flight list or the read failed.
   */
  async lookupOrderByClientId(clientOrderId: string): Promise<OrderLookup> {
    let read: LiveOrdersRead;
    try {
      read = await this.readLiveOrders(false, 'order');
    } catch (err) {
      return { state: 'unknown', reason: `IBKR's live orders could not be read: ${errorMessage(err)}` };
    }
    const order = read.orders.find((o) => o.clientOrderId === clientOrderId);
    if (order) return { state: 'found', order };
    return read.complete ? { state: 'not-found' } : { state: 'unknown', reason: read.reason };
  }

  /**
   * The live order with this client order id, or undefined when IBKR's complete live orders do not hold it.
   * Throws (never answers "absent") when that cannot be known; see lookupOrderByClientId.
   */
  async findOrderByClientId(clientOrderId: string): Promise<LiveOrder | undefined> {
    const lookup = await this.lookupOrderByClientId(clientOrderId);
    if (lookup.state === 'found') return lookup.order;
    if (lookup.state === 'not-found') return undefined;
    throw new IbkrError(
      'IBKR_ORDER_STATUS_UNKNOWN',
      `Cannot tell whether order ${clientOrderId} exists at IBKR (${lookup.reason}): do not send it again before checking TWS or the Portal.`,
      { path: LIVE_ORDERS_PATH },
    );
  }

  /**
   * One read of the live orders with IBKR's pre-flight made first (once per brokerage session, shared by
   * concurrent callers). `complete` is false when the brokerage session changed under every attempt, so the
   * answer may be a pre-flight's empty list.
   */
  private async readLiveOrders(force: boolean, priority: Priority): Promise<LiveOrdersRead> {
    if (force) {
      await this.primed(() => this.requestLiveOrders({ force: true }, priority));
      // Whether the call after a force answers data is not documented: open the feed again, to be safe.
      this.ordersFeedPriming = undefined;
    }
    let orders: LiveOrder[] = [];
    for (let attempt = 0; attempt < LIVE_ORDERS_ATTEMPTS; attempt += 1) {
      const feed = await this.openOrdersFeed(priority);
      orders = parseLiveOrders(await this.primed(() => this.requestLiveOrders({}, priority)));
      // Same priming before and after: no session reset in between, so this was not a pre-flight answer.
      if (this.ordersFeedPriming === feed && this.primer.primings === feed) {
        this.lastLiveOrders = orders;
        return { orders, complete: true, reason: '' };
      }
    }
    return {
      orders,
      complete: false,
      reason: 'the IBKR brokerage session was reset while reading them, so the answer may be the empty first call IBKR makes after each login',
    };
  }

  /** IBKR's pre-flight live-orders call, once per priming; resolves with the priming the feed is open for. */
  private async openOrdersFeed(priority: Priority): Promise<number> {
    await this.primer.ensurePrimed();
    if (this.ordersFeedPriming === this.primer.primings) return this.ordersFeedPriming;
    if (!this.ordersFeedOpening) {
      this.ordersFeedOpening = this.primed(() => this.requestLiveOrders({}, priority))
        .then(() => {
          this.ordersFeedPriming = this.primer.primings;
          return this.ordersFeedPriming;
        })
        .finally(() => {
          this.ordersFeedOpening = undefined;
        });
    }
    return this.ordersFeedOpening;
  }

  private requestLiveOrders(flags: { force?: true }, priority: Priority): Promise<unknown> {
    const query: Record<string, QueryValue> = { ...flags };
    if (this.selectedAccount) query.accountId = this.selectedAccount;
    return this.http.request({ method: 'GET', path: LIVE_ORDERS_PATH, query, priority });
  }

  private wireOrder(order: OrderRequest, accountId: string): Json {
    if (!Number.isInteger(order.conid) || order.conid <= 0) throw new InvalidInputError(`Order conid must be a positive integer (got ${String(order.conid)}).`);
    if (!(order.quantity > 0)) throw new InvalidInputError(`Order quantity must be positive (got ${String(order.quantity)}).`);
    if (order.side !== 'BUY' && order.side !== 'SELL') throw new InvalidInputError(`Order side must be BUY or SELL (got ${String(order.side)}).`);
    const needsPrice = ['LMT', 'STP', 'STOP_LIMIT', 'TRAILLMT'].includes(order.orderType);
    if (needsPrice && !Number.isFinite(order.price)) throw new InvalidInputError(`A ${order.orderType} order needs a price.`);
    if ((order.orderType === 'STOP_LIMIT' || order.orderType === 'TRAILLMT') && !Number.isFinite(order.auxPrice)) {
      throw new InvalidInputError(`A ${order.orderType} order needs auxPrice (the stop price).`);
    }
    const wire: Json = {
      acctId: accountId,
      conid: order.conid,
      orderType: order.orderType,
      side: order.side,
      quantity: order.quantity,
      tif: order.tif ?? 'DAY',
    };
    if (order.price !== undefined) wire.price = order.price;
    if (order.auxPrice !== undefined) wire.auxPrice = order.auxPrice;
    if (order.clientOrderId) wire.cOID = order.clientOrderId;
    if (order.parentId) wire.parentId = order.parentId;
    if (order.isSingleGroup !== undefined) wire.isSingleGroup = order.isSingleGroup;
    if (order.outsideRth !== undefined) wire.outsideRTH = order.outsideRth;
    if (order.secType) wire.secType = `${order.conid}:${order.secType}`;
    if (order.listingExchange) wire.listingExchange = order.listingExchange;
    if (order.ticker) wire.ticker = order.ticker;
    if (order.referrer) wire.referrer = order.referrer;
    if (this.isFuture(order)) Object.assign(wire, this.futuresTags());
    return wire;
  }

  private isFuture(order: { secType?: string }): boolean {
    return (order.secType ?? '').toUpperCase().startsWith('FUT');
  }

  /** CME Rule 536-B tags: automated (not manual) and the operator's id. */
  private futuresTags(): { manualIndicator: boolean; extOperator: string } {
    return { manualIndicator: false, extOperator: this.options.extOperator ?? 'mia-ia' };
  }

  private requireTrading(action: string): void {
    if (!this.tradingEnabled) throw new TradingDisabledError(action, this.tradingBlock ?? undefined);
  }

  /** Places one order, answering IBKR's questions by `answer`; see placeOrders. */
  async placeOrder(order: OrderRequest, answer: AnswerRule = refuseAllQuestions): Promise<PlacedOrder> {
    const placed = await this.placeOrders([order], answer);
    const first = placed[0];
    if (!first) throw new RejectedError('IBKR accepted the order request but returned no order id: check live orders before sending it again.', 'no-order-id');
    return first;
  }

  /**
   * Places an order or a bracket group (parent first) in one request. IBKR's confirmation questions are answered
   * at once by `answer`; a refusal drops the order and throws RejectedError. A timeout is resolved by looking the
   * parent's client order id up in live orders, never by sending again.
   */
  async placeOrders(orders: OrderRequest[], answer: AnswerRule = refuseAllQuestions, beforeSend?: () => void): Promise<PlacedOrder[]> {
    this.requireTrading('order');
    if (orders.length === 0) throw new InvalidInputError('No order to place.');
    const acct = await this.accountId();
    const wire = orders.map((o) => this.wireOrder(o, acct));
    const path = `/iserver/account/${encodeURIComponent(acct)}/orders`;
    await this.primer.ensurePrimed();
    let first: unknown;
    try {
      first = await this.http.request({ method: 'POST', path, body: { orders: wire }, idempotent: false, priority: 'order', beforeSend });
    } catch (err) {
      if (err instanceof AccountsNotPrimedError) this.primer.invalidatePriming();
      const cOID = orders[0]?.clientOrderId;
      if (err instanceof TimeoutError && cOID) return this.resolveLostOrder(cOID, err);
      throw err;
    }
    return this.answerQuestions(first, path, answer, orders.map((o) => o.clientOrderId ?? null), beforeSend);
  }

  private async resolveLostOrder(clientOrderId: string, cause: TimeoutError): Promise<PlacedOrder[]> {
    const lookup = await this.lookupOrderByClientId(clientOrderId);
    if (lookup.state === 'found') return [{ orderId: lookup.order.orderId, status: lookup.order.status, clientOrderId, warning: null }];
    const seen =
      lookup.state === 'not-found'
        ? 'and it is not in live orders'
        : `and whether IBKR holds it is unknown (${lookup.reason})`;
    throw new TimeoutError(
      `IBKR did not answer the order ${clientOrderId} in time, ${seen}: it was NOT resent. Check TWS or the Portal, then send it again if it is really absent.`,
      { path: cause.path, cause },
    );
  }

  /**
   * IBKR's questions answered by `answer`. The `confirmed: true` that makes IBKR place the order is a departure of the
   * order: `beforeSend` is asked first (a refusal is told to IBKR with `confirmed: false`) and again as it leaves.
   */
  private async answerQuestions(first: unknown, path: string, answer: AnswerRule, clientOrderIds: Array<string | null>, beforeSend?: () => void): Promise<PlacedOrder[]> {
    const maxRounds = this.options.maxReplyRounds ?? 10;
    let reply = first;
    for (let round = 0; round <= maxRounds; round += 1) {
      const rejection = rejectionFromBody(reply, 'order', path);
      if (rejection) throw rejection;
      const items = Array.isArray(reply) ? reply.map(asObject) : [asObject(reply)];
      const itemRejection = items.map((i) => rejectionFromBody(i, 'order', path)).find(Boolean);
      if (itemRejection) throw itemRejection;
      const placed = items.filter((i) => i.order_id !== undefined && i.order_id !== null);
      if (placed.length > 0) return matchAcks(placed, clientOrderIds);
      const question = items.find((i) => i.id !== undefined);
      if (!question) {
        throw new ServerError(`IBKR answered the order with something unexpected ("${serverText(reply)}"): check live orders before sending it again.`, { path });
      }
      if (round === maxRounds) break;
      const replyPath = `/iserver/reply/${encodeURIComponent(str(question.id))}`;
      const refused = questionsOf(question).filter((q) => !answer(q.messageId, q.text));
      if (refused.length > 0) {
        // Tell IBKR no, so the order is dropped on its side too; its answer does not change the outcome.
        await this.http.request({ method: 'POST', path: replyPath, body: { confirmed: false }, idempotent: false, priority: 'order' }).catch(() => undefined);
        if (refused.some((q) => q.messageId === '')) {
          throw new RejectedError(
            `IBKR asked to confirm the order in its older form, without a message id ("${serverText(refused.map((q) => q.text).join(' '))}"), so no per-question answer can allow it: the order was not placed. To send such orders, set the order node's answers to "accept all", or suppress that question in IBKR (POST /iserver/questions/suppress).`,
            'question-without-id',
            { path },
          );
        }
        const asked = refused.map((q) => `${q.messageId || 'question'}: "${serverText(q.text)}"`).join('; ');
        throw new RejectedError(
          `IBKR asked to confirm the order (${asked}) and the answer rule refused: the order was not placed. Allow ${refused.length > 1 ? 'these questions' : 'this question'} in the order node's answers to send such orders.`,
          'question-refused',
          { path },
        );
      }
      try {
        beforeSend?.();
      } catch (err) {
        await this.http.request({ method: 'POST', path: replyPath, body: { confirmed: false }, idempotent: false, priority: 'order' }).catch(() => undefined);
        throw err;
      }
      reply = await this.http.request({ method: 'POST', path: replyPath, body: { confirmed: true }, idempotent: false, priority: 'order', beforeSend });
    }
    throw new RejectedError(
      `IBKR kept asking confirmation questions (more than ${maxRounds}): the order was not placed. Check live orders, then review the order.`,
      'too-many-questions',
      { path },
    );
  }

  /** Modifies a working order: IBKR wants every original field repeated with the changes applied. */
  async modifyOrder(orderId: number, order: OrderRequest, answer: AnswerRule = refuseAllQuestions, beforeSend?: () => void): Promise<PlacedOrder> {
    this.requireTrading('order modification');
    const acct = await this.accountId();
    const path = `/iserver/account/${encodeURIComponent(acct)}/order/${orderId}`;
    await this.primer.ensurePrimed();
    const first = await this.http.request({ method: 'POST', path, body: this.wireOrder(order, acct), idempotent: false, priority: 'order', beforeSend });
    const placed = await this.answerQuestions(first, path, answer, [order.clientOrderId ?? null], beforeSend);
    return placed[0] ?? { orderId, status: '', clientOrderId: order.clientOrderId ?? null, warning: null };
  }

  /** Cancels one order, or every order with orderId -1. IBKR only acknowledges the request. */
  async cancelOrder(orderId: number, options: { futures?: boolean } = {}): Promise<CancelAck> {
    this.requireTrading(orderId === -1 ? 'cancel-all' : 'order cancel');
    const acct = await this.accountId();
    const path = `/iserver/account/${encodeURIComponent(acct)}/order/${orderId}`;
    const query: Record<string, QueryValue> = options.futures ? this.futuresTags() : {};
    await this.primer.ensurePrimed();
    const raw = await this.http.request({ method: 'DELETE', path, query, idempotent: false, priority: 'order' });
    const rejection = rejectionFromBody(raw, 'cancel', path);
    if (rejection) throw rejection;
    const o = asObject(raw);
    return { orderId: parseWireInt(o.order_id) ?? orderId, conid: parseWireInt(o.conid), accountId: o.account ? str(o.account) : null, message: str(o.msg) };
  }

  /** Margin and commission impact of an order, without placing it (IBKR wants a snapshot of the instrument first). */
  async whatIf(order: OrderRequest): Promise<WhatIfQuote> {
    const acct = await this.accountId();
    await this.snapshot([order.conid], ['last'], 'quote');
    const path = `/iserver/account/${encodeURIComponent(acct)}/orders/whatif`;
    return parseWhatIf(await this.http.request({ method: 'POST', path, body: { orders: [this.wireOrder(order, acct)] }, idempotent: true, priority: 'quote' }));
  }

  // ---- market data ----

  /**
   * Snapshot of up to 100 conids × 50 fields (names of FIELD_IDS or numeric ids). The first call for a conid is
   * IBKR's "pre-flight" that returns no values: it is asked again after a short wait, so callers get data.
   */
  async snapshot(conids: number[], fields: string[], priority: Priority = 'quote'): Promise<SnapshotRow[]> {
    if (conids.length === 0 || conids.length > 100) throw new InvalidInputError(`Snapshot takes 1 to 100 conids (got ${conids.length}).`);
    const ids = fields.map((f) => {
      const id = fieldId(f);
      if (!id) throw new InvalidInputError(`Unknown snapshot field "${f}": use one of ${Object.keys(FIELD_IDS).join(', ')} or a numeric id.`);
      return id;
    });
    const wanted = [...new Set([...ids, FIELD_IDS.availability])];
    if (wanted.length > 50) throw new InvalidInputError(`Snapshot takes at most 50 fields (got ${wanted.length}).`);
    const query = { conids: conids.join(','), fields: wanted.join(',') };
    const retries = this.options.snapshotRetries ?? 3;
    await this.searchDerivatives(conids);
    let rows: Json[] = [];
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      rows = asArray(await this.primed(() => this.http.request({ method: 'GET', path: '/iserver/marketdata/snapshot', query, priority }), { badRequestMeansUnprimed: true })).map(asObject);
      const hasData = (r: Json) => ids.some((id) => r[id] !== undefined && id !== FIELD_IDS.availability);
      if (rows.length >= conids.length && rows.every(hasData)) break;
      if (attempt < retries) await sleep(this.scheduler, this.options.snapshotRetryMs ?? 500);
    }
    return rows.map((r) => this.snapshotRow(r, ids));
  }

  /**
   * IBKR: "for derivative contracts the endpoint /iserver/secdef/search must be called first" (snapshot reference).
   * A futures conid taken from /trsrv/futures is searched by its symbol once per brokerage session.
   */
  private async searchDerivatives(conids: number[]): Promise<void> {
    const symbols = [...new Set(conids.map((c) => this.futuresSymbols.get(c)).filter((s): s is string => s !== undefined))];
    if (symbols.length === 0) return;
    await this.primer.ensurePrimed();
    const session = this.primer.primings;
    // A failed search does not fail the snapshot (IBKR may answer it anyway); it is tried again on the next one.
    await Promise.all(
      symbols.map(async (symbol) => {
        const known = this.derivativeSearches.get(symbol);
        if (known?.session === session) return known.search;
        const search = this.secdefSearch(symbol).then(
          () => undefined,
          () => {
            if (this.derivativeSearches.get(symbol)?.search === search) this.derivativeSearches.delete(symbol);
          },
        );
        this.derivativeSearches.set(symbol, { session, search });
        return search;
      }),
    );
  }

  /** The brokerage session the secdef answers belong to: a new one needs a new secdef/search (IBKR). */
  get brokerageSession(): number {
    return this.primer.primings;
  }

  private snapshotRow(r: Json, ids: string[]): SnapshotRow {
    const values: SnapshotRow['values'] = {};
    const other: Record<string, number | null> = {};
    let lastFlag: SnapshotRow['lastFlag'] = null;
    for (const id of ids) {
      const name = fieldName(id);
      if (name === 'availability') continue;
      if (name === 'last') {
        const price = parseWirePrice(r[id]);
        values.last = price?.value ?? null;
        lastFlag = price?.flag ?? null;
      } else if (name) values[name] = num(r[id]);
      else other[id] = num(r[id]);
    }
    return {
      conid: conidOf(r) ?? 0,
      updated: num(r._updated),
      availability: parseAvailability(r[FIELD_IDS.availability]),
      lastFlag,
      values,
      other,
    };
  }

  async history(request: {
    conid: number;
    bar: string;
    period: string;
    exchange?: string;
    startTime?: number;
    outsideRth?: boolean;
    source?: 'trades' | 'midpoint' | 'bid_ask';
    priority?: Priority;
  }): Promise<HistoryResult> {
    validateHistoryRequest(request.bar, request.period);
    const query: Record<string, QueryValue> = {
      conid: request.conid,
      bar: request.bar,
      period: request.period,
      exchange: request.exchange,
      startTime: request.startTime === undefined ? undefined : formatStartTime(request.startTime),
      outsideRth: request.outsideRth,
      source: request.source,
    };
    let raw: unknown;
    try {
      raw = await this.primed(() => this.http.request({ method: 'GET', path: '/iserver/marketdata/history', query, priority: request.priority ?? 'history' }));
    } catch (err) {
      if (err instanceof IbkrError && /no data/i.test(err.message)) {
        throw new NotFoundError(`IBKR has no ${request.bar} bars for conid ${request.conid} over ${request.period}: widen the period or check the contract.`, { path: '/iserver/marketdata/history', cause: err });
      }
      throw err;
    }
    const o = asObject(raw);
    const bars = asArray(o.data)
      .map(asObject)
      .map((b) => ({ t: num(b.t), o: num(b.o), h: num(b.h), l: num(b.l), c: num(b.c), v: num(b.v) ?? 0 }))
      .filter((b): b is HistoryResult['bars'][number] => b.t !== null && b.o !== null && b.h !== null && b.l !== null && b.c !== null)
      .sort((a, b) => a.t - b.t);
    return {
      symbol: str(o.symbol),
      description: str(o.text),
      bars,
      barLengthSec: num(o.barLength),
      priceFactor: num(o.priceFactor),
      volumeFactor: num(o.volumeFactor),
      points: num(o.points) ?? bars.length,
    };
  }

  /** Stops IBKR's feed for one conid; false when no feed was open (IBKR answers 500 "unknown"). */
  async unsubscribe(conid: number): Promise<boolean> {
    try {
      return bool(asObject(await this.http.request({ method: 'POST', path: '/iserver/marketdata/unsubscribe', body: { conid }, idempotent: true, priority: 'quote' })).success);
    } catch (err) {
      if (err instanceof ServerError && err.status === 500) return false;
      throw err;
    }
  }

  async unsubscribeAll(): Promise<boolean> {
    return bool(asObject(await this.http.request({ method: 'GET', path: '/iserver/marketdata/unsubscribeall' })).unsubscribed ?? true);
  }

  // ---- contracts ----

  async futures(symbols: string[], priority: Priority = 'quote'): Promise<Record<string, FutureContract[]>> {
    const o = asObject(await this.http.request({ method: 'GET', path: '/trsrv/futures', query: { symbols: symbols.join(',') }, priority }));
    const out: Record<string, FutureContract[]> = {};
    for (const [symbol, list] of Object.entries(o)) {
      out[symbol] = asArray(list)
        .map(asObject)
        .map((c) => ({
          symbol: str(c.symbol) || symbol,
          conid: conidOf(c) ?? 0,
          underlyingConid: parseWireInt(c.underlyingConid),
          expirationDate: parseYyyymmdd(c.expirationDate) ?? '',
          lastTradingDate: parseYyyymmdd(c.ltd),
        }))
        .filter((c) => c.conid > 0 && c.expirationDate !== '');
      for (const c of out[symbol] ?? []) this.futuresSymbols.set(c.conid, c.symbol);
    }
    return out;
  }

  /** The ES contract to trade at `now`: the instrument registry's front month (lib/trading/instruments.ts). */
  async esFrontMonth(now: number): Promise<FutureContract> {
    return frontMonth((await this.futures(['ES'])).ES ?? [], now);
  }

  async secdefSearch(symbol: string, secType?: string, priority: Priority = 'quote'): Promise<SecdefSearchResult[]> {
    const raw = await this.http.request({ method: 'GET', path: '/iserver/secdef/search', query: { symbol, secType }, priority });
    return asArray(raw).map(asObject).map((o) => ({
      conid: conidOf(o) ?? 0,
      symbol: str(o.symbol),
      companyName: str(o.companyName),
      description: str(o.description),
      sections: asArray(o.sections).map(asObject).map((s) => ({
        secType: str(s.secType),
        months: str(s.months).split(';').filter(Boolean),
        exchange: str(s.exchange),
      })),
    }));
  }

  async secdefStrikes(request: { conid: number; month: string; secType?: string; exchange?: string; priority?: Priority }): Promise<OptionStrikes> {
    const o = asObject(
      await this.http.request({
        method: 'GET',
        path: '/iserver/secdef/strikes',
        query: { conid: request.conid, sectype: request.secType ?? 'OPT', month: request.month, exchange: request.exchange },
        priority: request.priority ?? 'quote',
      }),
    );
    const strikes = (v: unknown) => asArray(v).map(num).filter((n): n is number => n !== null);
    return { call: strikes(o.call), put: strikes(o.put) };
  }

  async secdefInfo(request: { conid: number; month: string; secType?: string; strike?: number; right?: 'C' | 'P'; exchange?: string; priority?: Priority }): Promise<SecdefInfo[]> {
    const raw = await this.http.request({
      method: 'GET',
      path: '/iserver/secdef/info',
      query: {
        conid: request.conid,
        sectype: request.secType ?? 'OPT',
        month: request.month,
        strike: request.strike,
        right: request.right,
        exchange: request.exchange,
      },
      priority: request.priority ?? 'quote',
    });
    return asArray(raw).map(asObject).map((o) => {
      const right = str(o.right);
      return {
        conid: conidOf(o) ?? 0,
        symbol: str(o.symbol),
        secType: str(o.secType),
        right: right === 'C' || right === 'P' ? right : null,
        strike: num(o.strike),
        maturityDate: parseYyyymmdd(o.maturityDate),
        multiplier: num(o.multiplier),
        tradingClass: str(o.tradingClass),
        validExchanges: str(o.validExchanges).split(',').filter(Boolean),
      };
    });
  }

  async contractInfo(conid: number, priority: Priority = 'quote'): Promise<ContractInfo> {
    const o = asObject(await this.http.request({ method: 'GET', path: `/iserver/contract/${conid}/info`, priority }));
    return {
      conid: conidOf(o) ?? conid,
      symbol: str(o.symbol ?? o.ticker),
      secType: str(o.instrument_type ?? o.sec_type ?? o.secType),
      tradingClass: str(o.trading_class ?? o.tradingClass),
      localSymbol: str(o.local_symbol ?? o.localSymbol),
      underlyingConid: parseWireInt(o.underlying_con_id ?? o.underlyingConid ?? o.underlyingConId),
      multiplier: num(o.multiplier),
      maturityDate: parseYyyymmdd(o.maturity_date ?? o.maturityDate),
      exchange: str(o.exchange),
      currency: str(o.currency),
    };
  }

  /**
   * GET of a /portfolio path after IBKR's portfolio priming (GET /portfolio/accounts), made once per brokerage
   * session and shared by concurrent readers; on "Please query /accounts first" both primings are redone and the
   * read is retried once.
   */
  private async portfolioRead(path: string, priority: Priority): Promise<unknown> {
    await this.primePortfolio();
    try {
      return await this.http.request({ method: 'GET', path, priority });
    } catch (err) {
      if (!(err instanceof AccountsNotPrimedError)) throw err;
      this.primer.invalidatePriming();
      this.portfolioPriming = undefined;
      await this.primePortfolio();
      return this.http.request({ method: 'GET', path, priority });
    }
  }

  private async primePortfolio(): Promise<void> {
    await this.primer.ensurePrimed();
    if (this.portfolioPriming === this.primer.primings) return;
    this.portfolioPrimingCall ??= this.portfolioAccounts()
      .then(() => undefined)
      .finally(() => {
        this.portfolioPrimingCall = undefined;
      });
    await this.portfolioPrimingCall;
  }

  /**
   * Runs a read that needs the accounts priming; on "Please query /accounts first" (lost after IBKR's nightly
   * reset) primes again and retries once.
   */
  private async primed<T>(read: () => Promise<T>, options: { badRequestMeansUnprimed?: boolean } = {}): Promise<T> {
    await this.primer.ensurePrimed();
    try {
      return await read();
    } catch (err) {
      // IBKR answers a snapshot made before /iserver/accounts with a bare 400, not the 500 "query /accounts first".
      const unprimed = err instanceof AccountsNotPrimedError || (options.badRequestMeansUnprimed === true && err instanceof BadRequestError && err.status === 400);
      if (!unprimed) throw err;
      this.primer.invalidatePriming();
      await this.primer.ensurePrimed();
      try {
        return await read();
      } catch (again) {
        if (again instanceof BadRequestError && again.status === 400 && options.badRequestMeansUnprimed === true) {
          throw new BadRequestError(
            `IBKR refused the request again after the accounts were queried (HTTP 400): the brokerage session may not be ready, or a conid or field is not valid. Check the conids and fields; the connection keeps priming on its own.`,
            { status: 400, path: again.path, cause: again },
          );
        }
        throw again;
      }
    }
  }
}
