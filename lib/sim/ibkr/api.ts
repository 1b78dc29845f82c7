// The REST endpoints of the IBKR Client Portal Web API as the simulator answers them (ibkr-web-api.md §1–2, §6).
// Transport-free: the server hands in (method, path, query, body, now) and sends back { status, body }.
import { randomUUID } from 'crypto';
import { dayOfYyyymmdd, monthToken } from '../calendar';
import type { ListedOption, Market } from '../market-types';
import type { ListedExpiry } from '../spx-chain';
import { historyResponse } from './history';
import {
  ES_UNDERLYING_CONID,
  expiryLabel,
  type Instrument,
  instrumentDescription,
  instrumentLookup,
  lookupInstrument,
  multiplier,
  optionConid,
  SPX_CONID,
} from './instruments';
import { type Availability, GREEK_FIELDS, MarketView } from './market-view';
import { type Execution, isOpen, type OrderBook, type OrderTicket, parseTicket, type SimOrder } from './orders';
import type { GatewaySession } from './session';

export interface ApiResponse {
  status: number;
  body: unknown;
}

export interface ApiRequest {
  method: string;
  path: string; // below /v1/api
  query: URLSearchParams;
  body: unknown;
  now: number; // simulated
}

type Handler = (req: ApiRequest, params: string[]) => ApiResponse | Promise<ApiResponse>;

const MAX_SNAPSHOT_CONIDS = 100;
const MAX_SNAPSHOT_FIELDS = 50;
const MAX_SUPPRESSED = 51;
const INITIAL_CASH = 1_000_000;
const LIVE_ORDERS_MAX = 1000;
const POSITIONS_PAGE = 100;
const PRICE_DEVIATION_O163 = 0.03;
const SIZE_LIMIT_O383 = 10;

/** The confirmation questions IBKR asks (ibkr-web-api.md §2, "Reply flow"). */
const QUESTIONS: Record<string, string> = {
  o163: 'The following order exceeds the price percentage limit. Are you sure you want to submit this order?',
  o354: 'You are submitting an order without market data. We strongly recommend against this as it may result in erroneous and unexpected trades. Are you sure you want to submit this order?',
  o383: 'The following order size exceeds the Size Limit of 10. Are you sure you want to submit this order?',
  o403: 'This order will most likely trigger and fill immediately. Are you sure you want to submit this order?',
  o10331: 'You are about to submit a stop order. Please be aware of the various stop order types available and the risks associated with each one. Are you sure you want to submit this order?',
};

interface PendingReply {
  id: string;
  tickets: OrderTicket[];
  questions: string[]; // message ids still to ask, the first one is being asked
  modify?: SimOrder;
}

interface SnapshotFeed {
  calls: number;
  fieldSince: Map<string, number>;
}

export interface ApiOptions {
  accountId: string;
  positionsCacheMs: number;
  historyLatencyMs: number;
  /** Awaited before a history request is answered (a replay answers the preload at its recorded time: lib/ibkr/link.ts). */
  historyGate?: () => Promise<void>;
}

const ok = (body: unknown): ApiResponse => ({ status: 200, body });
const error = (status: number, message: string): ApiResponse => ({ status, body: { error: message } });
const NOT_PRIMED = (): ApiResponse => error(500, 'Please query /accounts first');

export class IbkrApi {
  availability: Availability = 'R';
  readonly feeds = new Map<number, SnapshotFeed>();
  private readonly searched = new Set<number>();
  /** The expiries of each month asked, per listing the market handed out (expiriesInMonth). */
  private readonly expiriesByMonth = new WeakMap<readonly ListedExpiry[], Map<string, readonly ListedExpiry[]>>();
  private readonly suppressed = new Set<string>();
  private pending: PendingReply | undefined;
  private liveOrdersReady = false;
  /** After GET orders with filters, sor updates stop until a call with force=true ([CP], ibkr-web-api.md §2). */
  sorSuspended = false;
  private positionsCache: { at: number; rows: Record<string, unknown>[] } | undefined;
  private readonly routes: { method: string; pattern: RegExp; handler: Handler }[];
  readonly view: MarketView;

  constructor(
    private readonly market: Market,
    private readonly session: GatewaySession,
    private readonly book: OrderBook,
    private readonly options: ApiOptions,
    view?: MarketView,
  ) {
    this.view = view ?? new MarketView(market);
    const acct = '([^/]+)';
    this.routes = [
      { method: 'POST', pattern: /^\/tickle$/, handler: () => this.tickle() },
      { method: 'GET', pattern: /^\/tickle$/, handler: () => this.tickle() },
      { method: '*', pattern: /^\/iserver\/auth\/status$/, handler: () => ok(this.session.statusBody()) },
      { method: 'POST', pattern: /^\/iserver\/auth\/ssodh\/init$/, handler: (r) => this.ssodhInit(r) },
      { method: 'POST', pattern: /^\/iserver\/reauthenticate$/, handler: (r) => this.reauthenticate(r) },
      { method: 'POST', pattern: /^\/logout$/, handler: () => this.logout() },
      { method: 'GET', pattern: /^\/sso\/validate$/, handler: () => this.ssoValidate() },
      { method: 'GET', pattern: /^\/iserver\/accounts$/, handler: () => this.iserverAccounts() },
      { method: 'POST', pattern: /^\/iserver\/account$/, handler: (r) => this.switchAccount(r) },
      { method: 'GET', pattern: /^\/portfolio\/(?:sub)?accounts$/, handler: () => this.portfolioAccounts() },
      { method: 'GET', pattern: new RegExp(`^/portfolio/${acct}/summary$`), handler: (_r, p) => this.portfolio(p[0], () => this.summary()) },
      { method: 'GET', pattern: new RegExp(`^/portfolio/${acct}/ledger$`), handler: (_r, p) => this.portfolio(p[0], () => this.ledger()) },
      {
        method: 'GET',
        pattern: new RegExp(`^/portfolio/${acct}/positions/(\\d+)$`),
        handler: (r, p) => this.portfolio(p[0], () => this.positionsPage(Number(p[1]), r.now)),
      },
      { method: 'POST', pattern: new RegExp(`^/portfolio/${acct}/positions/invalidate$`), handler: (_r, p) => this.portfolio(p[0], () => this.invalidatePositions()) },
      { method: 'GET', pattern: new RegExp(`^/portfolio2/${acct}/positions$`), handler: (_r, p) => this.portfolio(p[0], () => ok(this.positionRows())) },
      { method: 'GET', pattern: /^\/iserver\/account\/pnl\/partitioned$/, handler: () => ok({ upnl: this.pnlRows() }) },
      { method: 'GET', pattern: /^\/iserver\/account\/orders$/, handler: (r) => this.liveOrders(r) },
      { method: 'POST', pattern: new RegExp(`^/iserver/account/${acct}/orders/whatif$`), handler: (r, p) => this.whatif(r, p[0]) },
      { method: 'POST', pattern: new RegExp(`^/iserver/account/${acct}/orders$`), handler: (r, p) => this.placeOrders(r, p[0]) },
      { method: 'POST', pattern: /^\/iserver\/reply\/([^/]+)$/, handler: (r, p) => this.reply(r, p[0]) },
      { method: 'POST', pattern: /^\/iserver\/questions\/suppress$/, handler: (r) => this.suppress(r) },
      { method: 'POST', pattern: /^\/iserver\/questions\/suppress\/reset$/, handler: () => this.suppressReset() },
      { method: 'POST', pattern: new RegExp(`^/iserver/account/${acct}/order/(-?\\d+)$`), handler: (r, p) => this.modify(r, p[0], Number(p[1])) },
      { method: 'DELETE', pattern: new RegExp(`^/iserver/account/${acct}/order/(-?\\d+)$`), handler: (r, p) => this.cancel(r, p[0], Number(p[1])) },
      { method: 'GET', pattern: /^\/iserver\/account\/trades$/, handler: (r) => this.trades(r) },
      { method: 'GET', pattern: /^\/iserver\/marketdata\/snapshot$/, handler: (r) => this.snapshot(r) },
      { method: 'GET', pattern: /^\/iserver\/marketdata\/history$/, handler: (r) => this.history(r) },
      { method: 'POST', pattern: /^\/iserver\/marketdata\/unsubscribe$/, handler: (r) => this.unsubscribe(r) },
      { method: 'GET', pattern: /^\/iserver\/marketdata\/unsubscribeall$/, handler: () => this.unsubscribeAll() },
      { method: 'GET', pattern: /^\/trsrv\/futures$/, handler: (r) => this.futures(r) },
      { method: '*', pattern: /^\/iserver\/secdef\/search$/, handler: (r) => this.search(r) },
      { method: 'GET', pattern: /^\/iserver\/secdef\/strikes$/, handler: (r) => this.strikes(r) },
      { method: 'GET', pattern: /^\/iserver\/secdef\/info$/, handler: (r) => this.secdefInfo(r) },
      { method: 'GET', pattern: /^\/iserver\/contract\/(\d+)\/info$/, handler: (_r, p) => this.contractInfo(Number(p[0])) },
    ];
  }

  /** The brokerage session went away: priming, snapshot feeds and pending replies go with it. */
  resetBrokerageState(): void {
    this.feeds.clear();
    this.searched.clear();
    this.pending = undefined;
    this.liveOrdersReady = false;
  }

  /** Any request other than the answer to the pending question invalidates it (ibkr-web-api.md §2). */
  invalidatePendingReply(method: string, path: string): void {
    if (this.pending && !(method === 'POST' && path === `/iserver/reply/${this.pending.id}`)) this.pending = undefined;
  }

  /** The brokerage tier (/iserver) needs an authenticated session, except the auth endpoints themselves. */
  needsBrokerage(path: string): boolean {
    return path.startsWith('/iserver/') && !/^\/iserver\/(auth\/|reauthenticate$)/.test(path);
  }

  handle(req: ApiRequest): ApiResponse | Promise<ApiResponse> {
    for (const route of this.routes) {
      if (route.method !== '*' && route.method !== req.method) continue;
      const m = route.pattern.exec(req.path);
      if (m) return route.handler(req, m.slice(1));
    }
    return error(404, `${req.method} ${req.path} is not an endpoint of the Client Portal Web API simulator`);
  }

  // ── Session ────────────────────────────────────────────────────────────────────────────────────────────────────
  private tickle(): ApiResponse {
    return ok({
      session: this.session.sessionId,
      ssoExpires: 460_000,
      collission: false,
      userId: this.session.userId,
      hmds: { error: 'no bridge' },
      iserver: { authStatus: this.session.statusBody() },
    });
  }

  private ssodhInit(req: ApiRequest): ApiResponse {
    const body = asRecord(req.body);
    if (body.publish === false) return error(500, 'publish must be true');
    if (this.session.competing && body.compete !== true) {
      return ok({ ...this.session.statusBody(), message: 'Force compete capability must be used together with compete flag' });
    }
    this.session.authenticate(this.session.clock());
    return ok(this.session.statusBody());
  }

  private reauthenticate(_req: ApiRequest): ApiResponse {
    this.session.authenticate(this.session.clock());
    return ok({ message: 'triggered' });
  }

  private logout(): ApiResponse {
    this.session.lose('logout');
    return ok({ status: true });
  }

  private ssoValidate(): ApiResponse {
    return ok({
      USER_ID: this.session.userId,
      USER_NAME: this.session.username,
      RESULT: true,
      AUTH_TIME: Date.now(),
      SF_ENABLED: false,
      IS_FREE_TRIAL: false,
      CREDENTIAL: this.session.username,
      IP: '127.0.0.1',
      EXPIRES: 460_000,
      LANDING_APP: 'UNIVERSAL',
      IS_MASTER: false,
      lastAccessed: Date.now(),
      LOGIN_TYPE: 2,
      PAPER_USER_NAME: this.session.username,
    });
  }

  // ── Accounts and portfolio ─────────────────────────────────────────────────────────────────────────────────────
  /** The simulated user's account id. */
  get accountId(): string {
    return this.options.accountId;
  }

  private get acct(): string {
    return this.options.accountId;
  }

  private iserverAccounts(): ApiResponse {
    this.session.primed = true;
    return ok({
      accounts: [this.acct],
      acctProps: { [this.acct]: { hasChildAccounts: false, supportsCashQty: true, supportsFractions: false, allowCustomerTime: false, noFXConv: false } },
      aliases: { [this.acct]: this.acct },
      allowFeatures: { showGFIS: true, allowFXConv: true, allowTypeAhead: true },
      groups: [],
      profiles: [],
      selectedAccount: this.acct,
      sessionId: this.session.sessionId.slice(0, 12),
      isFT: false,
      isPaper: this.acct.startsWith('D'),
    });
  }

  private switchAccount(req: ApiRequest): ApiResponse {
    const id = String(asRecord(req.body).acctId ?? '');
    return id === this.acct ? ok({ set: true, acctId: id }) : error(400, `Account ${id} is not one of this user's accounts`);
  }

  private portfolioAccounts(): ApiResponse {
    this.session.portfolioPrimed = true;
    return ok([
      {
        id: this.acct,
        accountId: this.acct,
        accountVan: this.acct,
        accountTitle: 'Simulated Paper Account',
        displayName: this.acct,
        accountAlias: null,
        accountStatus: 1_700_000_000_000,
        currency: 'USD',
        type: this.acct.startsWith('D') ? 'DEMO' : 'INDIVIDUAL',
        tradingType: 'STKNOPT',
        faclient: false,
        clearingStatus: 'O',
        covestor: false,
        parent: {},
        desc: this.acct,
      },
    ]);
  }

  /** [CP]: /portfolio/accounts must come before the other /portfolio calls. */
  private portfolio(acct: string, answer: () => ApiResponse): ApiResponse {
    if (!this.session.portfolioPrimed) return error(500, 'Please query /portfolio/accounts first');
    if (acct !== this.acct) return error(400, `Account ${acct} is not one of this user's accounts`);
    return answer();
  }

  private mark(inst: Instrument): number {
    const q = this.view.quote(inst);
    if (!q) return 0;
    return q.bid !== undefined && q.ask !== undefined ? (q.bid + q.ask) / 2 : q.last;
  }

  private accountValues(): { cash: number; netLiq: number; upnl: number; rpnl: number; marketValue: number; initMargin: number } {
    let rpnl = 0;
    let upnl = 0;
    let optionValue = 0;
    let optionCost = 0;
    let initMargin = 0;
    for (const p of this.book.positions.values()) {
      rpnl += p.realizedPnl;
      const mark = this.mark(p.inst);
      upnl += (mark - p.avgPrice) * p.position * multiplier(p.inst);
      if (p.inst.kind === 'option') {
        optionValue += mark * p.position * 100;
        optionCost += p.avgPrice * p.position * 100;
      } else initMargin += Math.abs(p.position) * 15_000;
    }
    const cash = INITIAL_CASH + rpnl - optionCost + (upnl - (optionValue - optionCost)); // futures settle variation daily into cash
    return { cash, netLiq: cash + optionValue, upnl, rpnl, marketValue: optionValue, initMargin };
  }

  private summary(): ApiResponse {
    const v = this.accountValues();
    const entry = (amount: number | string) => ({
      amount: typeof amount === 'number' ? amount : 0,
      currency: typeof amount === 'number' ? 'USD' : null,
      isNull: false,
      timestamp: Date.now(),
      value: typeof amount === 'string' ? amount : null,
      severity: 0,
    });
    return ok({
      accountcode: entry(this.acct),
      accounttype: entry(this.acct.startsWith('D') ? 'DEMO' : 'INDIVIDUAL'),
      netliquidation: entry(v.netLiq),
      totalcashvalue: entry(v.cash),
      settledcash: entry(v.cash),
      equitywithloanvalue: entry(v.netLiq),
      grosspositionvalue: entry(Math.abs(v.marketValue)),
      initmarginreq: entry(v.initMargin),
      maintmarginreq: entry(v.initMargin * 0.9),
      availablefunds: entry(v.netLiq - v.initMargin),
      excessliquidity: entry(v.netLiq - v.initMargin * 0.9),
      buyingpower: entry((v.netLiq - v.initMargin) * 4),
      cushion: entry(v.netLiq > 0 ? (v.netLiq - v.initMargin * 0.9) / v.netLiq : 0),
      unrealizedpnl: entry(v.upnl),
      realizedpnl: entry(v.rpnl),
    });
  }

  private ledger(): ApiResponse {
    const v = this.accountValues();
    const row = (currency: string) => ({
      commoditymarketvalue: 0,
      futuremarketvalue: 0,
      settledcash: v.cash,
      exchangerate: 1,
      sessionid: 1,
      cashbalance: v.cash,
      corporatebondsmarketvalue: 0,
      warrantsmarketvalue: 0,
      netliquidationvalue: v.netLiq,
      interest: 0,
      unrealizedpnl: v.upnl,
      stockmarketvalue: 0,
      moneyfunds: 0,
      currency,
      realizedpnl: v.rpnl,
      funds: 0,
      acctcode: this.acct,
      issueroptionsmarketvalue: 0,
      key: 'LedgerList',
      timestamp: Math.floor(Date.now() / 1000),
      severity: 0,
      stockoptionmarketvalue: v.marketValue,
      futuresonlypnl: v.upnl - (v.marketValue ? v.upnl : 0),
      tbondsmarketvalue: 0,
      futureoptionmarketvalue: 0,
      cashbalancefxsegment: 0,
      secondkey: currency,
      tbillsmarketvalue: 0,
      dividends: 0,
    });
    return ok({ USD: row('USD'), BASE: row('BASE') });
  }

  positionRows(): Record<string, unknown>[] {
    return [...this.book.positions.values()]
      .filter((p) => p.position !== 0)
      .map((p) => {
        const mark = this.mark(p.inst);
        const mult = multiplier(p.inst);
        return {
          acctId: this.acct,
          conid: p.inst.conid,
          contractDesc: instrumentDescription(p.inst),
          position: p.position,
          mktPrice: mark,
          mktValue: p.inst.kind === 'option' ? mark * p.position * mult : 0,
          currency: 'USD',
          avgCost: p.avgPrice * mult,
          avgPrice: p.avgPrice,
          realizedPnl: p.realizedPnl,
          unrealizedPnl: (mark - p.avgPrice) * p.position * mult,
          assetClass: p.inst.kind === 'future' ? 'FUT' : 'OPT',
          ticker: p.inst.kind === 'future' ? 'ES' : 'SPX',
          multiplier: mult,
          expiry: p.inst.kind === 'index' ? undefined : p.inst.expiry,
          putOrCall: p.inst.kind === 'option' ? p.inst.right : undefined,
          strike: p.inst.kind === 'option' ? p.inst.strike : undefined,
        };
      });
  }

  /** Positions are served from a cache, refreshed by invalidate or after positionsCacheMs ([CP]). */
  private positionsPage(page: number, now: number): ApiResponse {
    if (!this.positionsCache || now - this.positionsCache.at > this.options.positionsCacheMs) {
      this.positionsCache = { at: now, rows: this.positionRows() };
    }
    return ok(this.positionsCache.rows.slice(page * POSITIONS_PAGE, (page + 1) * POSITIONS_PAGE));
  }

  private invalidatePositions(): ApiResponse {
    this.positionsCache = undefined;
    return ok({ message: 'success' });
  }

  pnlRows(): Record<string, Record<string, number>> {
    const v = this.accountValues();
    return {
      [`${this.acct}.Core`]: { rowType: 1, dpl: v.rpnl + v.upnl, nl: v.netLiq, upl: v.upnl, uel: v.netLiq - v.initMargin * 0.9, el: v.netLiq - v.initMargin * 0.9, mv: v.marketValue },
    };
  }

  // ── Orders ─────────────────────────────────────────────────────────────────────────────────────────────────────
  private liveOrders(req: ApiRequest): ApiResponse {
    if (!this.session.primed) return NOT_PRIMED();
    if (req.query.get('force') === 'true') {
      this.liveOrdersReady = false;
      this.sorSuspended = false;
      return ok({ orders: [], snapshot: false });
    }
    if (!this.liveOrdersReady) {
      // The first call opens the order subscription and answers before it has data.
      this.liveOrdersReady = true;
      return ok({ orders: [], snapshot: false });
    }
    const filters = (req.query.get('filters') ?? '').split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
    if (filters.length) this.sorSuspended = true;
    const orders = this.book
      .all()
      .filter((o) => !filters.length || filters.includes(o.status.toLowerCase()))
      .slice(-LIVE_ORDERS_MAX)
      .map((o) => this.book.wire(o));
    return ok({ orders, snapshot: true });
  }

  private resolve = (conid: number): Instrument | undefined => lookupInstrument(this.market, conid);

  private tickets(req: ApiRequest, acct: string): OrderTicket[] | ApiResponse {
    if (acct !== this.acct) return error(400, `Account ${acct} is not one of this user's accounts`);
    const body = req.body;
    const list = Array.isArray(body) ? body : Array.isArray(asRecord(body).orders) ? (asRecord(body).orders as unknown[]) : undefined;
    if (!list || list.length === 0) return error(400, 'Body must be {"orders":[{...}]}');
    const tickets: OrderTicket[] = [];
    for (const raw of list) {
      const t = parseTicket(asRecord(raw), acct, this.resolve);
      if (typeof t === 'string') return ok({ error: t });
      if (this.book.coidTaken(t.cOID, req.now) || tickets.some((x) => t.cOID !== undefined && x.cOID === t.cOID)) {
        return ok({ error: `Local order ID=${t.cOID} is already registered.` });
      }
      tickets.push(t);
    }
    return tickets;
  }

  private questionsFor(ticket: OrderTicket): string[] {
    const ids: string[] = [];
    const q = this.view.quote(ticket.inst);
    const limit = ticket.orderType === 'LMT' || ticket.orderType === 'STOP_LIMIT' ? ticket.price : undefined;
    if (q && limit !== undefined && Math.abs(limit - q.last) / q.last > PRICE_DEVIATION_O163) ids.push('o163');
    if (this.availability !== 'R') ids.push('o354');
    if (ticket.inst.kind === 'future' && ticket.quantity > SIZE_LIMIT_O383) ids.push('o383');
    if (q && ticket.orderType === 'LMT' && limit !== undefined && q.bid !== undefined && q.ask !== undefined) {
      if (ticket.side === 'BUY' ? limit >= q.ask : limit <= q.bid) ids.push('o403');
    }
    if (ticket.orderType === 'STP' || ticket.orderType === 'STOP_LIMIT') ids.push('o10331');
    return ids.filter((id) => !this.suppressed.has(id));
  }

  private ask(pending: Omit<PendingReply, 'id'>): ApiResponse {
    this.pending = { ...pending, id: randomUUID() };
    const messageId = pending.questions[0];
    return ok([{ id: this.pending.id, message: [QUESTIONS[messageId]], isSuppressed: false, messageIds: [messageId] }]);
  }

  private placeOrders(req: ApiRequest, acct: string): ApiResponse {
    const tickets = this.tickets(req, acct);
    if (!Array.isArray(tickets)) return tickets;
    const questions = this.questionsFor(tickets[0]);
    if (questions.length) return this.ask({ tickets, questions });
    return this.submit(tickets, req.now);
  }

  private submit(tickets: OrderTicket[], now: number): ApiResponse {
    if (tickets.some((t) => this.book.coidTaken(t.cOID, now))) {
      return ok({ error: `Local order ID=${tickets.find((t) => this.book.coidTaken(t.cOID, now))?.cOID} is already registered.` });
    }
    const placed = tickets.map((t) => this.book.place(t, now));
    const body = placed.map((o) => ({ order_id: String(o.orderId), order_status: o.status, encrypt_message: '1' }));
    for (const o of placed) this.book.activate(o, now);
    return ok(body);
  }

  private reply(req: ApiRequest, id: string): ApiResponse {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending || pending.id !== id) return error(400, 'reply id not found');
    if (asRecord(req.body).confirmed !== true) return { status: 400, body: { error: 'Order was not confirmed and has not been submitted', statusCode: 400 } };
    const questions = pending.questions.slice(1);
    if (questions.length) return this.ask({ ...pending, questions });
    if (pending.modify) return this.applyModify(pending.modify, pending.tickets[0], req.now);
    return this.submit(pending.tickets, req.now);
  }

  private suppress(req: ApiRequest): ApiResponse {
    const ids = asRecord(req.body).messageIds;
    if (!Array.isArray(ids) || ids.length > MAX_SUPPRESSED) return error(400, `messageIds must be a list of at most ${MAX_SUPPRESSED} ids`);
    for (const id of ids) this.suppressed.add(String(id));
    return ok({ status: 'submitted' });
  }

  private suppressReset(): ApiResponse {
    this.suppressed.clear();
    return ok({ status: 'submitted' });
  }

  private modify(req: ApiRequest, acct: string, orderId: number): ApiResponse {
    if (!this.session.primed) return NOT_PRIMED();
    const order = this.book.get(orderId);
    if (acct !== this.acct || !order) return ok({ error: `OrderID ${orderId} doesn't exist` });
    if (!isOpen(order)) return ok({ error: `Order ${orderId} cannot be modified: it is ${order.status}` });
    const raw = { ...this.book.wire(order), conid: order.inst.conid, quantity: order.quantity, price: order.price, auxPrice: order.auxPrice, orderType: order.orderType, tif: order.tif, manualIndicator: true, extOperator: 'sim', ...asRecord(req.body) };
    delete (raw as Record<string, unknown>).cOID;
    const ticket = parseTicket(raw, acct, this.resolve);
    if (typeof ticket === 'string') return ok({ error: ticket });
    const questions = this.questionsFor(ticket).filter((q) => q === 'o163' || q === 'o383');
    if (questions.length) return this.ask({ tickets: [ticket], questions, modify: order });
    return this.applyModify(order, ticket, req.now);
  }

  private applyModify(order: SimOrder, ticket: OrderTicket, now: number): ApiResponse {
    if (!isOpen(order)) return ok({ error: `Order ${order.orderId} cannot be modified: it is ${order.status}` });
    this.book.modify(order, { price: ticket.price, auxPrice: ticket.auxPrice, quantity: ticket.quantity, orderType: ticket.orderType, tif: ticket.tif }, now);
    return ok([{ order_id: String(order.orderId), order_status: order.status, encrypt_message: '1' }]);
  }

  private cancel(req: ApiRequest, acct: string, orderId: number): ApiResponse {
    if (!this.session.primed) return NOT_PRIMED();
    if (acct !== this.acct) return ok({ error: `Account ${acct} is not one of this user's accounts` });
    const targets = orderId === -1 ? this.book.all().filter(isOpen) : [this.book.get(orderId)].filter((o): o is SimOrder => o !== undefined);
    if (orderId !== -1 && (targets.length === 0 || !isOpen(targets[0]))) return ok({ error: `OrderID ${orderId} doesn't exist or is no longer working` });
    if (targets.some((o) => o.inst.kind === 'future') && (!req.query.has('manualIndicator') || !req.query.has('extOperator'))) {
      return error(400, 'manualIndicator and extOperator query parameters are required to cancel futures orders (CME Rule 536-B)');
    }
    for (const o of targets) this.book.cancel(o);
    const first = targets[0];
    return ok({ msg: 'Request was submitted', order_id: orderId, conid: first ? first.inst.conid : -1, account: this.acct });
  }

  private whatif(req: ApiRequest, acct: string): ApiResponse {
    const tickets = this.tickets(req, acct);
    if (!Array.isArray(tickets)) return tickets;
    const t = tickets[0];
    if (!this.feeds.has(t.inst.conid)) return ok({ error: 'Please request a market data snapshot of the contract before a what-if order' });
    const q = this.view.quote(t.inst);
    const price = t.price ?? (q ? (t.side === 'BUY' ? (q.ask ?? q.last) : (q.bid ?? q.last)) : 0);
    const mult = multiplier(t.inst);
    const amount = price * t.quantity * mult;
    const commission = (t.inst.kind === 'future' ? 2.25 : 0.65) * t.quantity;
    const v = this.accountValues();
    const margin = t.inst.kind === 'future' ? 15_000 * t.quantity : 0;
    const money = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: 2 });
    const held = this.book.positions.get(t.inst.conid)?.position ?? 0;
    const change = t.side === 'BUY' ? t.quantity : -t.quantity;
    return ok({
      amount: { amount: `${money(amount)} USD`, commission: `${money(commission)} USD`, total: `${money(amount + commission)} USD` },
      equity: { current: money(v.netLiq), change: money(-commission), after: money(v.netLiq - commission) },
      initial: { current: money(v.initMargin), change: money(margin), after: money(v.initMargin + margin) },
      maintenance: { current: money(v.initMargin * 0.9), change: money(margin * 0.9), after: money((v.initMargin + margin) * 0.9) },
      position: { current: String(held), change: String(change), after: String(held + change) },
      warn: null,
      error: null,
    });
  }

  private trades(req: ApiRequest): ApiResponse {
    const days = Math.min(Math.max(Number(req.query.get('days') ?? 1), 1), 7);
    const since = req.now - days * 86_400_000;
    return ok(this.book.executions.filter((e) => e.time >= since).map((e) => tradeRecord(e, this.acct, this.session.username, 'rest')));
  }

  // ── Market data ────────────────────────────────────────────────────────────────────────────────────────────────
  private snapshot(req: ApiRequest): ApiResponse {
    // IBKR answers a snapshot made before /iserver/accounts with a 400, not the 500 other calls get (issue 12).
    if (!this.session.primed) return { status: 400, body: { error: 'Bad Request', statusCode: 400 } };
    const conids = (req.query.get('conids') ?? '').split(',').map((c) => c.trim()).filter(Boolean);
    const fields = (req.query.get('fields') ?? '').split(',').map((f) => f.trim()).filter(Boolean);
    if (conids.length === 0) return error(400, 'conids is required');
    if (conids.length > MAX_SNAPSHOT_CONIDS) return error(400, `At most ${MAX_SNAPSHOT_CONIDS} conids per snapshot`);
    if (fields.length > MAX_SNAPSHOT_FIELDS) return error(400, `At most ${MAX_SNAPSHOT_FIELDS} fields per snapshot`);
    const out: Record<string, unknown>[] = [];
    const lookup = instrumentLookup(this.market);
    for (const text of conids) {
      const conid = Number(text.split('@')[0]);
      const inst = lookup(conid);
      if (!inst) {
        out.push({ conid, conidEx: text });
        continue;
      }
      let feed = this.feeds.get(conid);
      if (!feed) {
        feed = { calls: 0, fieldSince: new Map() };
        this.feeds.set(conid, feed);
      }
      feed.calls++;
      for (const f of fields) if (!feed.fieldSince.has(f)) feed.fieldSince.set(f, feed.calls);
      const row: Record<string, unknown> = { conid, conidEx: text };
      if (feed.calls > 1) {
        const { updated, values } = this.view.fields(inst, this.availability);
        row._updated = updated;
        row.server_id = 'q0';
        for (const f of fields) {
          // Prices from the call after the field was first asked for; greeks one call later still.
          const ready = (feed.fieldSince.get(f) as number) + (GREEK_FIELDS.has(f) ? 2 : 1);
          if (feed.calls >= ready && values[f] !== undefined) row[f] = values[f];
        }
        row['6119'] = values['6119'];
        row['6509'] = values['6509'];
      }
      out.push(row);
    }
    return ok(out);
  }

  private async history(req: ApiRequest): Promise<ApiResponse> {
    if (this.options.historyGate) await this.options.historyGate();
    const conid = Number(req.query.get('conid'));
    const result = historyResponse(this.market, lookupInstrument(this.market, conid), req.query);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(result), this.options.historyLatencyMs);
      timer.unref();
    });
  }

  private unsubscribe(req: ApiRequest): ApiResponse {
    const conid = Number(asRecord(req.body).conid);
    if (!this.feeds.delete(conid)) return error(500, 'unknown');
    return ok({ success: true });
  }

  private unsubscribeAll(): ApiResponse {
    this.feeds.clear();
    return ok({ unsubscribed: true });
  }

  // ── Contracts ──────────────────────────────────────────────────────────────────────────────────────────────────
  private futures(req: ApiRequest): ApiResponse {
    const out: Record<string, unknown[]> = {};
    for (const symbol of (req.query.get('symbols') ?? '').split(',').filter(Boolean)) {
      if (symbol !== 'ES') {
        out[symbol] = [];
        continue;
      }
      const list = this.market.esContracts().map((c) => ({
        symbol: 'ES',
        conid: c.conid,
        underlyingConid: ES_UNDERLYING_CONID,
        expirationDate: Number(c.expiry),
        ltd: Number(c.expiry),
        shortFuturesCutOff: Number(c.expiry),
        longFuturesCutOff: Number(c.expiry),
      }));
      // IBKR does not sort this list (ibkr-web-api.md §2): serve it out of order so clients sort it themselves.
      out.ES = [...list.slice(2), ...list.slice(0, 2).reverse()];
    }
    return ok(out);
  }

  private spxMonths(): string[] {
    return [...new Set(this.market.spxExpiries().map((e) => monthToken(dayOfYyyymmdd(e.expiry))))];
  }

  private search(req: ApiRequest): ApiResponse {
    const symbol = String(req.query.get('symbol') ?? asRecord(req.body).symbol ?? '').toUpperCase();
    if (symbol === 'ES') {
      this.searched.add(ES_UNDERLYING_CONID);
      const months = [...new Set(this.market.esContracts().map((c) => monthToken(dayOfYyyymmdd(c.expiry))))].join(';');
      return ok([
        {
          conid: String(ES_UNDERLYING_CONID),
          companyHeader: 'E-mini S&P 500 - CME',
          companyName: 'E-mini S&P 500',
          symbol: 'ES',
          description: 'CME',
          restricted: null,
          fop: null,
          opt: months,
          war: null,
          sections: [{ secType: 'IND', exchange: 'CME;' }, { secType: 'FUT', months, exchange: 'CME;' }],
        },
      ]);
    }
    if (symbol === 'SPX') {
      this.searched.add(SPX_CONID);
      const months = this.spxMonths().join(';');
      return ok([
        {
          conid: String(SPX_CONID),
          companyHeader: 'S&P 500 Stock Index - CBOE',
          companyName: 'S&P 500 Stock Index',
          symbol: 'SPX',
          description: 'CBOE',
          restricted: null,
          fop: null,
          opt: months,
          war: null,
          sections: [{ secType: 'IND', exchange: 'CBOE;' }, { secType: 'OPT', months, exchange: 'SMART;CBOE;IBUSOPT' }],
        },
      ]);
    }
    return ok([]);
  }

  private expiriesInMonth(month: string): readonly ListedExpiry[] {
    const listed = this.market.spxExpiries();
    // Asked at every secdef request of a chain refresh: kept per month while the market hands out the same listed
    // expiries (the seeded market keeps them until the day or the listing changes).
    let byMonth = this.expiriesByMonth.get(listed);
    if (!byMonth) this.expiriesByMonth.set(listed, (byMonth = new Map()));
    const token = month.toUpperCase();
    let inMonth = byMonth.get(token);
    if (!inMonth) {
      inMonth = Object.freeze(listed.filter((e) => monthToken(dayOfYyyymmdd(e.expiry)) === token));
      if (byMonth.size >= 64) byMonth.clear();
      byMonth.set(token, inMonth);
    }
    return inMonth;
  }

  private strikes(req: ApiRequest): ApiResponse {
    const conid = Number(req.query.get('conid'));
    // IBKR reference: "This endpoint will always return empty arrays unless /iserver/secdef/search is called for the
    // same underlying symbol beforehand" (in this brokerage session).
    if (!this.searched.has(conid)) return ok({ call: [], put: [] });
    if (conid !== SPX_CONID || (req.query.get('sectype') ?? '').toUpperCase() !== 'OPT') return ok({ call: [], put: [] });
    const expiries = this.expiriesInMonth(req.query.get('month') ?? '');
    const strikes = [...new Set(this.market.spxListing(expiries.map((e) => e.expiry)).map((o) => o.strike))].sort((a, b) => a - b);
    return ok({ call: strikes, put: strikes });
  }

  private secdefInfo(req: ApiRequest): ApiResponse {
    const conid = Number(req.query.get('conid'));
    // IBKR reference: secdef/info needs secdef/search first; without it the answer is empty.
    if (!this.searched.has(conid)) return ok([]);
    const sectype = (req.query.get('sectype') ?? '').toUpperCase();
    const month = (req.query.get('month') ?? '').toUpperCase();
    if (conid === ES_UNDERLYING_CONID && sectype === 'FUT') {
      return ok(
        this.market
          .esContracts()
          .filter((c) => !month || monthToken(dayOfYyyymmdd(c.expiry)) === month)
          .map((c) => ({ conid: c.conid, symbol: 'ES', secType: 'FUT', exchange: 'CME', listingExchange: 'CME', right: '?', strike: 0, currency: 'USD', maturityDate: c.expiry, multiplier: '50', tradingClass: 'ES', validExchanges: 'CME,QBALGO', desc1: 'ES', desc2: expiryLabel(c.expiry) })),
      );
    }
    if (conid !== SPX_CONID || sectype !== 'OPT') return error(400, `No ${sectype || '(missing sectype)'} contracts for conid ${conid}`);
    const strike = Number(req.query.get('strike'));
    const right: 'C' | 'P' = (req.query.get('right') ?? '').toUpperCase().startsWith('P') ? 'P' : 'C';
    const expiries = this.expiriesInMonth(month);
    // The listing, not the priced chain: one answer per strike asked, hundreds per chain refresh.
    const rows = listedAtStrike(this.market.spxListing(expiries.map((e) => e.expiry)), strike)
      .map((o) => ({ ...o, right }))
      .map((o) => ({
        conid: optionConid(o.expiry, o.tradingClass, o.strike, right),
        symbol: 'SPX',
        secType: 'OPT',
        exchange: 'SMART',
        listingExchange: null,
        right,
        strike: o.strike,
        currency: 'USD',
        cusip: null,
        coupon: 'No Coupon',
        desc1: 'SPX',
        desc2: `${expiryLabel(o.expiry)} ${o.strike} ${right === 'C' ? 'Call' : 'Put'}${o.tradingClass === 'SPXW' ? ' (SPXW)' : ''}`,
        maturityDate: o.expiry,
        multiplier: '100',
        tradingClass: o.tradingClass,
        validExchanges: 'SMART,CBOE,IBUSOPT',
      }));
    return rows.length ? ok(rows) : error(500, `No contracts for SPX ${month} ${strike} ${right}`);
  }

  private contractInfo(conid: number): ApiResponse {
    const inst = lookupInstrument(this.market, conid);
    if (!inst) return error(500, `No contract with conid ${conid}`);
    const base = {
      con_id: conid,
      symbol: inst.kind === 'future' ? 'ES' : 'SPX',
      currency: 'USD',
      company_name: inst.kind === 'future' ? 'E-mini S&P 500' : 'S&P 500 Stock Index',
      allow_sell_long: false,
      is_zero_commission_security: false,
      contract_clarification_type: null,
      classifier: null,
      industry: null,
      category: null,
      r_t_h: true,
      text: null,
    };
    switch (inst.kind) {
      case 'future':
        return ok({ ...base, instrument_type: 'FUT', cfi_code: 'FFICSX', trading_class: 'ES', local_symbol: inst.localSymbol, underlying_con_id: ES_UNDERLYING_CONID, multiplier: '50', maturity_date: inst.expiry, expiry_full: inst.expiry.slice(0, 6), real_expiration_date: inst.expiry, contract_month: inst.expiry.slice(0, 6), exchange: 'CME', valid_exchanges: 'CME,QBALGO', underlying_issuer: null });
      case 'index':
        return ok({ ...base, instrument_type: 'IND', trading_class: 'SPX', local_symbol: 'SPX', exchange: 'CBOE', valid_exchanges: 'CBOE' });
      case 'option':
        return ok({ ...base, instrument_type: 'OPT', cfi_code: 'OCEICS', trading_class: inst.tradingClass, local_symbol: `SPX${inst.tradingClass === 'SPXW' ? 'W' : ''}  ${inst.expiry.slice(2)}${inst.right}${String(inst.strike * 1000).padStart(8, '0')}`, underlying_con_id: SPX_CONID, multiplier: '100', maturity_date: inst.expiry, expiry_full: inst.expiry, real_expiration_date: inst.expiry, contract_month: inst.expiry.slice(0, 6), exchange: 'SMART', valid_exchanges: 'SMART,CBOE,IBUSOPT', right: inst.right, strike: inst.strike });
    }
  }
}

/** Per shared listing (the seeded market hands out one frozen array while it is current): its options by strike, in listing order. */
const listingsByStrike = new WeakMap<readonly ListedOption[], Map<number, ListedOption[]>>();

/**
 * The options of `listing` at `strike`, in listing order. A chain refresh asks one strike per request, thousands of
 * times, of a listing of tens of thousands of options: scanning it each time cost ~2 ms per request.
 */
function listedAtStrike(listing: readonly ListedOption[], strike: number): readonly ListedOption[] {
  // A listing built for this request alone (the replayed market's) is scanned once: an index would cost more.
  if (!Object.isFrozen(listing)) return listing.filter((o) => o.strike === strike);
  let byStrike = listingsByStrike.get(listing);
  if (!byStrike) {
    byStrike = new Map();
    for (const o of listing) {
      const same = byStrike.get(o.strike);
      if (same) same.push(o);
      else byStrike.set(o.strike, [o]);
    }
    listingsByStrike.set(listing, byStrike);
  }
  return byStrike.get(strike) ?? [];
}

/**
 * An execution as IBKR reports it: GET /iserver/account/trades (conid a number, `conidEx`) or the `str` websocket
 * topic (conid a string, `conidex`), per IBKR's samples in test/fixtures/ibkr (trades.cpapi, ws-str.oldws).
 */
export function tradeRecord(e: Execution, account: string, submitter: string, form: 'rest' | 'ws'): Record<string, unknown> {
  return {
    execution_id: e.executionId,
    symbol: e.inst.kind === 'future' ? 'ES' : 'SPX',
    supports_tax_opt: '1',
    side: e.side === 'BUY' ? 'B' : 'S',
    order_description: `${e.side === 'BUY' ? 'Bot' : 'Sold'} ${e.size} @ ${e.price} on ${e.inst.kind === 'future' ? 'CME' : 'CBOE'}`,
    trade_time: new Date(e.time).toISOString().slice(0, 19).replace(/-/g, '').replace('T', '-'),
    trade_time_r: e.time,
    size: e.size,
    price: String(e.price),
    order_ref: e.cOID,
    submitter,
    exchange: e.inst.kind === 'future' ? 'CME' : 'CBOE',
    commission: e.commission.toFixed(2),
    net_amount: e.price * e.size * multiplier(e.inst),
    account,
    accountCode: account,
    company_name: e.inst.kind === 'future' ? 'E-mini S&P 500' : 'S&P 500 Stock Index',
    contract_description_1: instrumentDescription(e.inst),
    sec_type: e.inst.kind === 'future' ? 'FUT' : 'OPT',
    listing_exchange: e.inst.kind === 'future' ? 'CME' : 'CBOE',
    ...(form === 'rest' ? { conid: e.inst.conid, conidEx: String(e.inst.conid) } : { conid: String(e.inst.conid), conidex: String(e.inst.conid) }),
    clearing_id: 'IB',
    clearing_name: 'IB',
    liquidation_trade: '0',
    ...(form === 'rest' ? { is_event_trading: '0' } : {}),
  };
}

export function asRecord(x: unknown): Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {};
}
