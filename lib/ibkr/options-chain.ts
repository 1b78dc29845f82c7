// The SPX / SPXW option chain as IBKR's Web API gives it (fact sheet, section 2, "SPX option conids"):
//   discovery  secdef/search SPX → secdef/strikes per month → secdef/info per (month, strike, right), which lists
//              every expiry of that month; kept are the chosen expiries, by maturityDate and trading class
//              (SPX = AM-settled monthlies, SPXW = PM-settled weeklies and dailies). Cached for the trading day.
//              The secdef/info calls (thousands) reach the limiter a few per event-loop turn, enough of them waiting
//              that its queue never runs dry (./spread.ts).
//   quotes     snapshots of at most 100 conids each, all batches submitted at once (the connection's limiter paces
//              them at IBKR's 10/s); greeks that arrive after the prices are asked again a bounded number of times.
// The result is one `chain` message (lib/contracts Chain).

import type { Chain, ChainScope, OptionQuote, Right } from '../contracts';
import { MARKET_SCOPE, describeExpiryRule, expiryInScope, measuredCoverage, scopeHorizon, validateExpiryRule, type ExpiryRule } from '../analytics/chain-scope';
import { InvalidInputError } from '../errors';
import { NEW_YORK, zonedParts } from '../clock';
import { IbkrError, NotFoundError } from './errors';
import { sleep, realScheduler, type Scheduler } from './scheduler';
import { eachSpread } from './spread';
import type { Priority } from './limits';
import type { OptionStrikes, SecdefInfo, SecdefSearchResult, SnapshotRow } from './types';

/** The client calls a chain refresh makes, each at the 'chain' priority: after every other request waiting. */
export interface ChainApi {
  secdefSearch(symbol: string, secType: string | undefined, priority: Priority): Promise<SecdefSearchResult[]>;
  secdefStrikes(request: { conid: number; month: string; secType?: string; exchange?: string; priority: Priority }): Promise<OptionStrikes>;
  secdefInfo(request: { conid: number; month: string; secType?: string; strike?: number; right?: 'C' | 'P'; exchange?: string; priority: Priority }): Promise<SecdefInfo[]>;
  snapshot(conids: number[], fields: string[], priority: Priority): Promise<SnapshotRow[]>;
  /**
   * IBKR's brokerage session (a count that changes at each re-login and nightly reset): secdef/strikes and
   * secdef/info answer empty lists in a session where secdef/search was not called (IBKR reference).
   */
  readonly brokerageSession?: number;
}

export type TradingClass = 'SPX' | 'SPXW';
/** 'market': the expiries that carry the bulk of open interest and gamma (lib/analytics/chain-scope, MARKET_SCOPE). */
export type ExpirySelection =
  | { kind: '0dte' }
  | { kind: 'next'; count: number }
  | { kind: 'range'; from: string; to: string }
  | ({ kind: 'market' } & ExpiryRule);
export type StrikeWindow = { kind: 'percent'; percent: number } | { kind: 'strikes'; count: number };

export interface ChainRequest {
  expiries: ExpirySelection;
  window: StrikeWindow;
  /** Which series: SPX (AM monthlies), SPXW (PM weeklies and dailies), or both. */
  classes: TradingClass[];
}

export interface ListedExpiry {
  expiry: string; // YYYYMMDD
  tradingClass: TradingClass;
  settlement: 'AM' | 'PM';
}

export interface ChainProgress {
  phase: 'discovery' | 'quotes';
  done: number;
  total: number;
}

export interface ChainStats {
  discoveryCalls: number;
  /** Snapshot requests made (each may be several HTTP calls: IBKR's pre-flight comes first). */
  snapshotRequests: number;
  batches: number;
  /** Contracts still without greeks after the last retry. */
  missingGreeks: number;
  /** The data is not real-time (delayed or frozen) for at least one contract: IBKR's field 6509. */
  delayed: boolean;
}

export interface OptionsChainOptions {
  /** How many more times a batch whose greeks are missing is asked again. */
  greekRetries?: number;
  /** IBKR refreshes snapshot values every 500 ms. */
  greekRetryMs?: number;
  scheduler?: Scheduler;
  /** Discovery calls waiting for the limiter or their answer at once (default DISCOVERY_WAITING). */
  discoveryWaiting?: number;
  /** Discovery calls handed to the limiter per event-loop turn (default DISCOVERY_PER_TURN). */
  discoveryPerTurn?: number;
}

/**
 * The limiter lets 10 requests a second leave (fewer when clustered or conservative): 64 waiting is 6 s of its work,
 * so its queue never runs dry, and a refresh no longer holds 3,000 of them (nor rejects 3,000 at a redeploy).
 */
export const DISCOVERY_WAITING = 64;
/** Handing a request to the limiter costs ~30-80 µs of CPU on this machine kind: 8 per turn stay well under 1 ms. */
export const DISCOVERY_PER_TURN = 8;

/** IBKR: the SPX index conid (fact sheet, section 2). */
export const SPX_INDEX_CONID = 416904;
/** IBKR: at most 100 conids per snapshot (fact sheet, section 2). */
export const SNAPSHOT_BATCH = 100;

const QUOTE_FIELDS = ['bid', 'ask', 'last', 'impliedVol', 'delta', 'gamma', 'optionOpenInterest', 'optionVolume'];
const MONTH_TOKENS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** "20270319" → "MAR27", the month token of secdef/search and strikes. */
export function monthToken(yyyymmdd: string): string {
  return `${MONTH_TOKENS[Number(yyyymmdd.slice(4, 6)) - 1] ?? ''}${yyyymmdd.slice(2, 4)}`;
}

function monthOrder(token: string): number {
  return Number(token.slice(3)) * 12 + MONTH_TOKENS.indexOf(token.slice(0, 3));
}

/** SPX options expire on New York dates. */
export function newYorkDate(now: number): string {
  const p = zonedParts(now, NEW_YORK);
  return `${p.year}${String(p.month).padStart(2, '0')}${String(p.day).padStart(2, '0')}`;
}

function settlementOf(tradingClass: TradingClass): 'AM' | 'PM' {
  return tradingClass === 'SPX' ? 'AM' : 'PM';
}

function isTradingClass(value: string): value is TradingClass {
  return value === 'SPX' || value === 'SPXW';
}

/** The strikes of the window around spot, from a month's candidate strikes (sorted ascending). */
export function strikesInWindow(strikes: readonly number[], spot: number, window: StrikeWindow): number[] {
  const sorted = [...new Set(strikes)].sort((a, b) => a - b);
  if (window.kind === 'percent') {
    const lo = spot * (1 - window.percent / 100);
    const hi = spot * (1 + window.percent / 100);
    return sorted.filter((k) => k >= lo && k <= hi);
  }
  const below = sorted.filter((k) => k <= spot).slice(-window.count);
  const above = sorted.filter((k) => k > spot).slice(0, window.count);
  return [...below, ...above];
}

/** The expiries a selection picks from those listed (sorted), on the New York trading date `today`. */
export function selectExpiries(listed: readonly ListedExpiry[], selection: ExpirySelection, today: string): ListedExpiry[] {
  const upcoming = listed.filter((e) => e.expiry >= today);
  switch (selection.kind) {
    case '0dte':
      return upcoming.filter((e) => e.expiry === today);
    case 'next': {
      const dates = [...new Set(upcoming.map((e) => e.expiry))].slice(0, selection.count);
      return upcoming.filter((e) => dates.includes(e.expiry));
    }
    case 'range':
      return upcoming.filter((e) => e.expiry >= selection.from && e.expiry <= selection.to);
    case 'market':
      return upcoming.filter((e) => expiryInScope(e.expiry, e.settlement, today, selection));
  }
}

/** The ibkr-options-chain node's settings, as its dialog stores them (strings or numbers). */
export interface ChainNodeSettings {
  classes: 'SPX' | 'SPXW' | 'both';
  expiryMode: '0dte' | 'next' | 'range' | 'market';
  nextCount: string | number;
  from: string;
  to: string;
  windowMode: 'percent' | 'strikes';
  windowPct: string | number;
  windowStrikes: string | number;
}

/**
 * The node's defaults (its dialog shows the same): the market scope, SPX and SPXW, the expiries and the ±30 % band
 * that carry the bulk of open interest and gamma.
 */
export const CHAIN_NODE_DEFAULTS: Readonly<ChainNodeSettings> = Object.freeze({
  classes: 'both',
  expiryMode: 'market',
  nextCount: 4,
  from: '',
  to: '',
  windowMode: 'percent',
  windowPct: MARKET_SCOPE.strikeBandPct,
  windowStrikes: 40,
});

function yyyymmdd(value: unknown): string {
  return String(value ?? '').replace(/-/g, '').trim();
}

/** The request of the node's settings, with msg.expiries / msg.strikePct / msg.strikes overriding them. */
export function chainRequestOf(settings: Partial<ChainNodeSettings>, msg: Record<string, unknown> = {}): ChainRequest {
  // A setting the node's saved config lacks (a flow from an older version) takes its default; a blank one is refused below.
  const c = { ...CHAIN_NODE_DEFAULTS, ...Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) } as ChainNodeSettings;
  const classes: TradingClass[] = c.classes === 'SPX' ? ['SPX'] : c.classes === 'SPXW' ? ['SPXW'] : ['SPX', 'SPXW'];
  let expiries: ExpirySelection =
    c.expiryMode === '0dte'
      ? { kind: '0dte' }
      : c.expiryMode === 'range'
        ? { kind: 'range', from: yyyymmdd(c.from), to: yyyymmdd(c.to) }
        : c.expiryMode === 'market'
          ? MARKET_REQUEST.expiries
          : { kind: 'next', count: Number(c.nextCount) };
  let window: StrikeWindow = c.windowMode === 'strikes' ? { kind: 'strikes', count: Number(c.windowStrikes) } : { kind: 'percent', percent: Number(c.windowPct) };
  if (msg.expiries !== undefined) {
    const e = msg.expiries;
    if (e === '0dte') expiries = { kind: '0dte' };
    else if (e === 'market') expiries = MARKET_REQUEST.expiries;
    else if (typeof e === 'number') expiries = { kind: 'next', count: e };
    else if (e && typeof e === 'object' && 'from' in e && 'to' in e) expiries = { kind: 'range', from: yyyymmdd(e.from), to: yyyymmdd(e.to) };
    else throw new InvalidInputError('IBKR options chain: msg.expiries must be "0dte", "market", a number of expiries, or {from, to} dates.');
  }
  if (msg.strikePct !== undefined) window = { kind: 'percent', percent: Number(msg.strikePct) };
  if (msg.strikes !== undefined) window = { kind: 'strikes', count: Number(msg.strikes) };
  const request = { expiries, window, classes };
  validateChainRequest(request);
  return request;
}

/** The market scope as a request: SPX and SPXW, MARKET_SCOPE's expiries and strike band. */
export const MARKET_REQUEST: ChainRequest = {
  expiries: { kind: 'market', nearDays: MARKET_SCOPE.nearDays, amMonths: MARKET_SCOPE.amMonths, amQuarterlyMonths: MARKET_SCOPE.amQuarterlyMonths },
  window: { kind: 'percent', percent: MARKET_SCOPE.strikeBandPct },
  classes: ['SPX', 'SPXW'],
};

function describeRequest(request: ChainRequest): string {
  const e = request.expiries;
  const expiries =
    e.kind === '0dte'
      ? "today's expiry"
      : e.kind === 'next'
        ? `next ${e.count} expiries`
        : e.kind === 'range'
          ? `expiries ${e.from} to ${e.to}`
          : describeExpiryRule(e);
  const w = request.window;
  const strikes = w.kind === 'percent' ? `strikes within ±${w.percent} % of spot` : `${w.count} strikes each side of spot`;
  return `${request.classes.join(' and ')}: ${expiries}, ${strikes}`;
}

/**
 * What a request takes of a listing: the scope a `chain` message carries. `listed` are all the expiries the fetcher
 * saw (every class), `strikes` the distinct strikes listed and taken.
 */
export function scopeOf(request: ChainRequest, listed: readonly ListedExpiry[], chosen: readonly ListedExpiry[], strikes: { listed: number[]; taken: number[] }): ChainScope {
  const key = (e: ListedExpiry): string => `${e.expiry} ${e.tradingClass}`;
  const taken = new Set(chosen.map(key));
  const taking = [...strikes.taken].sort((a, b) => a - b);
  return {
    rule: describeRequest(request),
    classes: [...request.classes],
    expiries: [...taken].sort(),
    leftOut: [...new Set(listed.map(key))].filter((k) => !taken.has(k)).sort(),
    strikeBand: { lo: taking[0] ?? 0, hi: taking.at(-1) ?? 0 },
    strikes: { taken: new Set(strikes.taken).size, listed: new Set(strikes.listed).size },
  };
}

/**
 * A whole chain (a file, a vendor export) cut as the fetcher would cut it for `request`, on the same selection code,
 * with the scope's share of the whole chain's open interest and gamma measured (scope.measured).
 */
export function cutChain(whole: Chain, request: ChainRequest, now: number): Chain {
  validateChainRequest(request);
  const today = newYorkDate(now);
  const listedMap = new Map<string, ListedExpiry>();
  for (const q of whole.contracts) {
    if (isTradingClass(q.tradingClass)) listedMap.set(`${q.expiry}|${q.tradingClass}`, { expiry: q.expiry, tradingClass: q.tradingClass, settlement: q.settlement });
  }
  const listed = [...listedMap.values()].filter((e) => e.expiry >= today).sort((a, b) => a.expiry.localeCompare(b.expiry) || a.tradingClass.localeCompare(b.tradingClass));
  const chosen = selectExpiries(listed.filter((e) => request.classes.includes(e.tradingClass)), request.expiries, today);
  const wanted = new Set(chosen.map((e) => `${e.expiry}|${e.tradingClass}`));
  // IBKR lists strikes per month: the window is taken from each month's strikes, as fetch does.
  const months = new Map<string, number[]>();
  for (const q of whole.contracts) {
    const m = monthToken(q.expiry);
    months.set(m, [...(months.get(m) ?? []), q.strike]);
  }
  const windowByMonth = new Map([...months].map(([m, strikes]) => [m, new Set(strikesInWindow(strikes, whole.spot, request.window))]));
  const contracts = whole.contracts.filter((q) => wanted.has(`${q.expiry}|${q.tradingClass}`) && windowByMonth.get(monthToken(q.expiry))?.has(q.strike));
  const looked = [...new Set(chosen.map((e) => monthToken(e.expiry)))];
  const scope = scopeOf(request, listed, chosen, {
    listed: looked.flatMap((m) => months.get(m) ?? []),
    taken: contracts.map((q) => q.strike),
  });
  const cut: Chain = { ...whole, contracts, scope };
  cut.scope = { ...scope, measured: measuredCoverage(whole, cut, today) };
  return cut;
}

export function validateChainRequest(request: ChainRequest): void {
  const e = request.expiries;
  if (e.kind === 'next' && !(Number.isInteger(e.count) && e.count >= 1 && e.count <= 60)) {
    throw new InvalidInputError(`Options chain: "next expiries" must be 1 to 60 (got ${String(e.count)}).`);
  }
  if (e.kind === 'range' && !(/^\d{8}$/.test(e.from) && /^\d{8}$/.test(e.to) && e.from <= e.to)) {
    throw new InvalidInputError(`Options chain: the expiry range must be two dates YYYYMMDD, first ≤ last (got ${e.from} – ${e.to}).`);
  }
  const w = request.window;
  if (w.kind === 'percent' && !(w.percent > 0 && w.percent <= 50)) {
    throw new InvalidInputError(`Options chain: the strike window must be between 0 and 50 % around spot (got ${String(w.percent)}).`);
  }
  if (w.kind === 'strikes' && !(Number.isInteger(w.count) && w.count >= 1 && w.count <= 500)) {
    throw new InvalidInputError(`Options chain: the strike window must be 1 to 500 strikes each side of spot (got ${String(w.count)}).`);
  }
  if (e.kind === 'market') validateExpiryRule(e);
  if (request.classes.length === 0 || !request.classes.every(isTradingClass)) {
    throw new InvalidInputError('Options chain: choose SPX (AM monthlies), SPXW (PM weeklies and dailies) or both.');
  }
}

interface DayCache {
  day: string;
  search?: Promise<{ conid: number; months: string[] }>;
  /** The brokerage session the search was made in. */
  searchSession?: number;
  /** The session in which an empty answer already made us search again (once per session). */
  researchedSession?: number;
  /** (month|strike|right) IBKR answered with an error after a search in that session: no contract there. */
  absent: Map<string, number>;
  strikes: Map<string, Promise<number[]>>;
  expiries: Map<string, Promise<ListedExpiry[]>>;
  info: Map<string, Promise<SecdefInfo[]>>;
}

interface Discovered {
  conid: number;
  expiry: string;
  tradingClass: TradingClass;
  strike: number;
  right: Right;
}

/** One per IBKR connection and underlying: the discovery cache lives as long as the trading day. */
export class OptionsChainFetcher {
  private readonly scheduler: Scheduler;
  private cache: DayCache | undefined;
  private discoveryCalls = 0;

  constructor(
    private readonly api: ChainApi,
    private readonly options: OptionsChainOptions = {},
  ) {
    this.scheduler = options.scheduler ?? realScheduler;
  }

  private day(now: number): DayCache {
    const day = newYorkDate(now);
    if (this.cache?.day !== day) this.cache = { day, strikes: new Map(), expiries: new Map(), info: new Map(), absent: new Map() };
    return this.cache;
  }

  /** Counts a discovery call; a failed one is dropped from the cache so the next refresh asks again. */
  private cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let hit = map.get(key);
    if (!hit) {
      this.discoveryCalls += 1;
      hit = load();
      map.set(key, hit);
      hit.catch(() => map.delete(key));
    }
    return hit;
  }

  private session(): number {
    return this.api.brokerageSession ?? 0;
  }

  /** The SPX search, made again whenever the brokerage session is new (IBKR forgets it at re-login and reset). */
  private search(cache: DayCache): Promise<{ conid: number; months: string[] }> {
    if (cache.search && cache.searchSession !== this.session()) cache.search = undefined;
    if (!cache.search) {
      this.discoveryCalls += 1;
      cache.searchSession = this.session();
      cache.search = this.api.secdefSearch('SPX', undefined, 'chain').then((results) => {
        const spx = results.find((r) => r.conid === SPX_INDEX_CONID) ?? results.find((r) => r.symbol === 'SPX' && r.conid > 0);
        if (!spx) throw new NotFoundError('IBKR found no SPX index in secdef search: check the market-data permissions of the account (CBOE indices).');
        const months = spx.sections.filter((s) => s.secType === 'OPT').flatMap((s) => s.months.map((m) => m.toUpperCase()));
        return { conid: spx.conid, months: [...new Set(months)].sort((a, b) => monthOrder(a) - monthOrder(b)) };
      });
      cache.search.catch(() => {
        if (this.cache === cache) cache.search = undefined;
      });
    }
    return cache.search;
  }

  /**
   * An empty answer means "no secdef/search in this brokerage session" as often as "nothing there": search again
   * (once per session) and ask once more. Whatever the answer then, an empty one is never cached.
   */
  private async unlessEmpty<T>(cache: DayCache, ask: () => Promise<T[]>): Promise<T[]> {
    const first = await ask();
    if (first.length > 0 || cache.researchedSession === this.session()) return first;
    cache.researchedSession = this.session();
    cache.search = undefined;
    await this.search(cache);
    return ask();
  }

  private uncachedIfEmpty<T>(map: Map<string, Promise<T[]>>, key: string, load: () => Promise<T[]>): Promise<T[]> {
    const hit = this.cached(map, key, load);
    void hit.then(
      (value) => {
        if (value.length === 0 && map.get(key) === hit) map.delete(key);
      },
      () => undefined,
    );
    return hit;
  }

  private strikes(cache: DayCache, conid: number, month: string): Promise<number[]> {
    return this.uncachedIfEmpty(cache.strikes, month, async () => {
      const both = await this.unlessEmpty(cache, async () => {
        const s = await this.api.secdefStrikes({ conid, month, secType: 'OPT', priority: 'chain' });
        return [...s.call, ...s.put];
      });
      return [...new Set(both)].sort((a, b) => a - b);
    });
  }

  private info(cache: DayCache, conid: number, month: string, strike: number, right: Right): Promise<SecdefInfo[]> {
    const key = `${month}|${strike}|${right}`;
    if (cache.absent.get(key) === this.session()) return Promise.resolve([]);
    return this.uncachedIfEmpty(cache.info, key, () =>
      this.unlessEmpty(cache, async () => {
        try {
          return await this.api.secdefInfo({ conid, month, secType: 'OPT', strike, right, priority: 'chain' });
        } catch (err) {
          // The strikes are only candidates: a strike no expiry of the month lists is answered with an error,
          // which (unlike an empty list) is an answer: remembered for the session, not asked again.
          if (err instanceof IbkrError && (err.status === 500 || err.status === 400)) {
            cache.absent.set(key, this.session());
            return [];
          }
          throw err;
        }
      }),
    );
  }

  /** A month's listed expiries, read from the contracts at its middle strike (IBKR lists months, not dates). */
  private monthExpiries(cache: DayCache, conid: number, month: string): Promise<ListedExpiry[]> {
    return this.uncachedIfEmpty(cache.expiries, month, async () => {
      const strikes = await this.strikes(cache, conid, month);
      const middle = strikes[Math.floor(strikes.length / 2)];
      if (middle === undefined) return [];
      const rows = await this.info(cache, conid, month, middle, 'C');
      const seen = new Map<string, ListedExpiry>();
      for (const r of rows) {
        if (!r.maturityDate || !isTradingClass(r.tradingClass)) continue;
        seen.set(`${r.maturityDate}|${r.tradingClass}`, { expiry: r.maturityDate, tradingClass: r.tradingClass, settlement: settlementOf(r.tradingClass) });
      }
      return [...seen.values()].sort((a, b) => a.expiry.localeCompare(b.expiry) || a.tradingClass.localeCompare(b.tradingClass));
    });
  }

  /** Listed SPX/SPXW expiries from today on, month by month until `enough` says stop (for the editor and "next N"). */
  async listExpiries(now: number, enough: (found: ListedExpiry[]) => boolean = () => false, classes: TradingClass[] = ['SPX', 'SPXW']): Promise<ListedExpiry[]> {
    const cache = this.day(now);
    const { conid, months } = await this.search(cache);
    const today = newYorkDate(now);
    const found: ListedExpiry[] = [];
    for (const month of months.filter((m) => monthOrder(m) >= monthOrder(monthToken(today)))) {
      found.push(...(await this.monthExpiries(cache, conid, month)).filter((e) => e.expiry >= today && classes.includes(e.tradingClass)));
      if (enough(found)) break;
    }
    return found;
  }

  /** SPX spot: the index's last price (a prior close outside hours). */
  async spot(): Promise<number> {
    const [row] = await this.api.snapshot([SPX_INDEX_CONID], ['last'], 'chain');
    const spot = row?.values.last ?? null;
    if (spot === null || !(spot > 0)) {
      throw new NotFoundError('IBKR gave no SPX index price: check the CBOE index market-data subscription (or that market data is not delayed-only).');
    }
    return spot;
  }

  async fetch(request: ChainRequest, now: number, onProgress?: (p: ChainProgress) => void): Promise<{ chain: Chain; stats: ChainStats }> {
    validateChainRequest(request);
    this.discoveryCalls = 0;
    let snapshotRequests = 0;
    const snapshot = (conids: number[], fields: string[]): Promise<SnapshotRow[]> => {
      snapshotRequests += 1;
      return this.api.snapshot(conids, fields, 'chain');
    };
    const cache = this.day(now);
    const today = newYorkDate(now);
    const selection = request.expiries;
    // Spot (a snapshot with its pre-flight wait) and the expiry listing (secdef) share no limit: run them together.
    // Every class is listed (what was left out is reported), the selection counts only the classes asked for.
    const asked = (found: ListedExpiry[]): ListedExpiry[] => found.filter((e) => request.classes.includes(e.tradingClass));
    const last = selection.kind === 'range' ? selection.to : selection.kind === 'market' ? scopeHorizon(today, selection) : '';
    const [{ conid }, spot, listed] = await Promise.all([
      this.search(cache),
      this.spot(),
      this.listExpiries(now, (found) =>
        selection.kind === '0dte' ? true : selection.kind === 'next' ? new Set(asked(found).map((e) => e.expiry)).size >= selection.count : found.some((e) => e.expiry > last),
      ),
    ]);
    const chosen = selectExpiries(asked(listed), selection, today);
    if (chosen.length === 0) {
      throw new NotFoundError(
        selection.kind === '0dte'
          ? `No SPX/SPXW expiry today (${today}): 0DTE exists on trading days only; choose "next expiries" instead.`
          : 'No SPX/SPXW expiry matches the chosen expiries: widen the date range or the number of expiries.',
      );
    }
    const wanted = new Set(chosen.map((e) => `${e.expiry}|${e.tradingClass}`));
    const months = [...new Set(chosen.map((e) => monthToken(e.expiry)))];

    // Discovery: every (month, strike, right) in the window, handed to the limiter a few per turn (see the header).
    const jobs: Array<{ month: string; strike: number; right: Right }> = [];
    const listedStrikes: number[] = [];
    for (const month of months) {
      const strikes = await this.strikes(cache, conid, month);
      listedStrikes.push(...strikes);
      for (const strike of strikesInWindow(strikes, spot, request.window)) {
        jobs.push({ month, strike, right: 'C' }, { month, strike, right: 'P' });
      }
    }
    let discovered = 0;
    const found: Discovered[] = [];
    await eachSpread(
      jobs,
      async (job) => {
        const rows = await this.info(cache, conid, job.month, job.strike, job.right);
        for (const r of rows) {
          if (!r.maturityDate || !isTradingClass(r.tradingClass) || !wanted.has(`${r.maturityDate}|${r.tradingClass}`)) continue;
          found.push({ conid: r.conid, expiry: r.maturityDate, tradingClass: r.tradingClass, strike: r.strike ?? job.strike, right: r.right ?? job.right });
        }
        discovered += 1;
        onProgress?.({ phase: 'discovery', done: discovered, total: jobs.length });
      },
      { width: this.options.discoveryWaiting ?? DISCOVERY_WAITING, perTurn: this.options.discoveryPerTurn ?? DISCOVERY_PER_TURN },
    );
    const contracts = [...new Map(found.map((d) => [d.conid, d])).values()].sort(
      (a, b) => a.expiry.localeCompare(b.expiry) || a.tradingClass.localeCompare(b.tradingClass) || a.strike - b.strike || a.right.localeCompare(b.right),
    );

    // Quotes: batches of at most 100 conids, all submitted at once.
    const batches: Discovered[][] = [];
    for (let i = 0; i < contracts.length; i += SNAPSHOT_BATCH) batches.push(contracts.slice(i, i + SNAPSHOT_BATCH));
    const rows = new Map<number, SnapshotRow>();
    let quoted = 0;
    const retries = this.options.greekRetries ?? 3;
    await Promise.all(
      batches.map(async (batch) => {
        let pending = batch.map((c) => c.conid);
        for (let attempt = 0; attempt <= retries && pending.length > 0; attempt += 1) {
          if (attempt > 0) await sleep(this.scheduler, this.options.greekRetryMs ?? 500);
          for (const row of await snapshot(pending, QUOTE_FIELDS)) rows.set(row.conid, row);
          pending = pending.filter((id) => !hasGreeks(rows.get(id)));
        }
        quoted += batch.length;
        onProgress?.({ phase: 'quotes', done: quoted, total: contracts.length });
      }),
    );

    const quotes: OptionQuote[] = contracts.map((c) => toOptionQuote(c, rows.get(c.conid)));
    return {
      chain: {
        underlying: 'SPX',
        spot,
        t: now,
        contracts: quotes,
        scope: scopeOf(request, listed, chosen, { listed: listedStrikes, taken: quotes.map((q) => q.strike) }),
      },
      stats: {
        discoveryCalls: this.discoveryCalls,
        snapshotRequests,
        batches: batches.length,
        missingGreeks: quotes.filter((q) => q.delta === null || q.gamma === null || q.iv === null).length,
        delayed: [...rows.values()].some((r) => r.availability.delayed),
      },
    };
  }
}

function hasGreeks(row: SnapshotRow | undefined): boolean {
  const v = row?.values;
  return v !== undefined && v.delta != null && v.gamma != null && v.impliedVol != null;
}

function toOptionQuote(c: Discovered, row: SnapshotRow | undefined): OptionQuote {
  const v = row?.values ?? {};
  const iv = v.impliedVol ?? null;
  return {
    conid: c.conid,
    expiry: c.expiry,
    settlement: settlementOf(c.tradingClass),
    tradingClass: c.tradingClass,
    strike: c.strike,
    right: c.right,
    bid: v.bid ?? null,
    ask: v.ask ?? null,
    last: v.last ?? null,
    iv: iv === null ? null : Number((iv / 100).toPrecision(12)), // IBKR 7633 is a percent
    delta: v.delta ?? null,
    gamma: v.gamma ?? null,
    openInterest: v.optionOpenInterest ?? null,
    volume: v.optionVolume ?? null,
  };
}
