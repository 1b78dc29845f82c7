// The seeded market both simulators quote, stream and fill against (market-types.ts).
//
// Three levels, each drawn from generators seeded by (seed, place) so any read order gives the same data:
//   1. per Globex session, a minute skeleton: open/high/low/close in ticks and volume, with an intraday volatility
//      and volume U-shape in RTH and a calmer overnight, scaled to an annualised ES volatility of about 17 %;
//   2. sessions chained close-to-open around the anchor (startPrice at startTime), back and forward as needed;
//   3. inside a minute, trades as a bridge from its open through its high and low to its close, with sizes summing
//      to the minute's volume, so bars built from trades equal the skeleton bars exactly.
// Prices are integers of ticks internally (0.25 is exact in binary, so tick × 0.25 is exact).
import { EventEmitter } from 'events';
import {
  DAY_MS,
  MINUTE_MS,
  type EsSession,
  amExpiryTime,
  dateOfDay,
  dayNumber,
  esSession,
  FUTURES_MONTH_CODES,
  defaultMarketStart,
  isWeekday,
  newYorkDay,
  nextTradeDate,
  pmExpiryTime,
  previousTradeDate,
  thirdFriday,
  tradeDateAtOrAfter,
  yyyymmdd,
} from './calendar';
import { addToBars } from './bars';
import type { ListedOption, Market, MarketBar, MarketOption, MarketQuote, MarketTrade } from './market-types';
import { rngAt } from './prng';
import { expiryDay as esExpiryDay, type MonthCode } from '../trading/instruments';
import { type ChainContext, chainFor, type ListedExpiry, strikesOf } from './spx-chain';

export const ES_TICK = 0.25;
const TARGET_ANNUAL_VOL = 0.17;
/** How far back the market keeps data: 1-min bars for 45 days, session bars for 400 days (≥ 30 d and 1 y). */
export const MINUTE_HISTORY_DAYS = 45;
export const DAILY_HISTORY_DAYS = 400;
const SESSION_CACHE = 64;
const MINUTE_TRADES_CACHE = 16;
const PUMP_INTERVAL_MS = 20;
const SPXW_LISTED_DAYS = 35;
const SPX_MONTHLIES = 3;
const ES_CONTRACTS_LISTED = 5;
const STREAM_MINUTES = 1;
const STREAM_TRADES = 2;
const STREAM_BOOK = 3;

export interface MarketOptions {
  seed?: number;
  /** Simulated epoch ms at creation; default: the latest weekday 10:00 America/New_York before now (calendar.ts defaultMarketStart). */
  startTime?: number;
  /** Simulated ms per real ms. */
  speed?: number;
  /** ES price at startTime. */
  startPrice?: number;
  /** ES − SPX, points. */
  basis?: number;
}

interface SessionPath {
  session: EsSession;
  /** Relative to the session open, in ticks. */
  o: Int32Array;
  h: Int32Array;
  l: Int32Array;
  c: Int32Array;
  v: Int32Array;
  /** Volume before minute k. */
  cumV: Float64Array;
  /** The session's high and low from its open through minute k (a quote's day high and low, without a walk). */
  highTo: Int32Array;
  lowTo: Int32Array;
}

interface SessionSummary {
  net: number; // close − open, ticks
  high: number; // relative ticks
  low: number;
  volume: number;
}

/** Volatility (relative) and mean volume of the minute starting at t, by time of day. */
function minuteShape(s: EsSession, t: number): { sigma: number; volume: number } {
  if (t >= s.rthOpen && t < s.rthClose) {
    const x = (t - s.rthOpen) / (s.rthClose - s.rthOpen);
    const u = 0.65 + 1.8 * (2 * x - 1) ** 2; // U-shape: busy open and close, quiet lunch
    return { sigma: u, volume: 2600 * u ** 1.2 };
  }
  if (t >= s.rthClose) return { sigma: 0.5, volume: 700 };
  const hoursToRth = (s.rthOpen - t) / 3_600_000;
  if (hoursToRth <= 1) return { sigma: 0.6, volume: 900 }; // 07:30 CT economic releases
  if (hoursToRth <= 6.5) return { sigma: 0.45, volume: 450 }; // Europe
  if (t - s.open < 30 * MINUTE_MS) return { sigma: 0.5, volume: 500 }; // Globex reopen
  return { sigma: 0.3, volume: 200 };
}

function generateSession(seed: number, session: EsSession, dailySigmaTicks: number): SessionPath {
  const n = session.minutes;
  const shapes = Array.from({ length: n }, (_, k) => minuteShape(session, session.open + k * MINUTE_MS));
  const scale = dailySigmaTicks / Math.sqrt(shapes.reduce((sum, s) => sum + s.sigma * s.sigma, 0));
  const r = rngAt(seed, STREAM_MINUTES, session.day);
  const path: SessionPath = {
    session,
    o: new Int32Array(n),
    h: new Int32Array(n),
    l: new Int32Array(n),
    c: new Int32Array(n),
    v: new Int32Array(n),
    cumV: new Float64Array(n + 1),
    highTo: new Int32Array(n),
    lowTo: new Int32Array(n),
  };
  let level = 0;
  for (let k = 0; k < n; k++) {
    const shape = shapes[k];
    const sigma = shape.sigma * scale * (r.next() < 0.02 ? 3 : 1); // occasional bursts: fat tails
    const move = Math.round(r.normal() * sigma);
    const close = level + move;
    path.o[k] = level;
    path.c[k] = close;
    path.h[k] = Math.max(level, close) + Math.floor(Math.abs(r.normal()) * sigma * 0.5);
    path.l[k] = Math.min(level, close) - Math.floor(Math.abs(r.normal()) * sigma * 0.5);
    const activity = 1 + (0.25 * Math.abs(move)) / Math.max(sigma, 1);
    path.v[k] = Math.max(4, Math.round(shape.volume * activity * Math.exp(0.3 * r.normal() - 0.045)));
    path.cumV[k + 1] = path.cumV[k] + path.v[k];
    path.highTo[k] = k === 0 ? path.h[k] : Math.max(path.highTo[k - 1], path.h[k]);
    path.lowTo[k] = k === 0 ? path.l[k] : Math.min(path.lowTo[k - 1], path.l[k]);
    level = close;
  }
  return path;
}

/** Trade sizes (1–50, mostly small) summing to `volume`, at least four trades so the bridge can visit o, h, l, c. */
function tradeSizes(r: ReturnType<typeof rngAt>, volume: number): number[] {
  const sizes: number[] = [];
  let left = volume;
  while (left > 0) {
    const size = Math.min(left, Math.min(50, Math.max(1, Math.round(Math.exp(r.normal() * 0.9 + 0.9)))));
    sizes.push(size);
    left -= size;
  }
  while (sizes.length < 4) {
    const i = sizes.indexOf(Math.max(...sizes));
    const half = Math.floor(sizes[i] / 2);
    sizes.splice(i, 1, sizes[i] - half, half);
  }
  return sizes;
}

/** The trades of one minute: times, sizes and a path from open via the extremes to close, in ticks. */
function generateMinuteTrades(
  seed: number,
  day: number,
  k: number,
  start: number,
  bar: { o: number; h: number; l: number; c: number; v: number },
): MinuteTrades {
  const r = rngAt(seed, STREAM_TRADES, day, k);
  const sizes = tradeSizes(r, bar.v);
  const n = sizes.length;
  const times = Array.from({ length: n }, () => Math.floor(r.next() * MINUTE_MS)).sort((a, b) => a - b);
  times[0] = 0;
  // Key points: open at 0, the two extremes in between (order follows the move), close at n − 1.
  const a = 1 + Math.floor(r.next() * (n - 2));
  let b = 1 + Math.floor(r.next() * (n - 2));
  if (b === a) b = a < n - 2 ? a + 1 : a - 1;
  const [first, second] = a < b ? [a, b] : [b, a];
  const highFirst = bar.c < bar.o ? r.next() < 0.7 : r.next() < 0.3;
  const keys: [number, number][] = [
    [0, bar.o],
    [first, highFirst ? bar.h : bar.l],
    [second, highFirst ? bar.l : bar.h],
    [n - 1, bar.c],
  ];
  const prices = new Array<number>(n);
  for (let s = 0; s < 3; s++) {
    const [i0, p0] = keys[s];
    const [i1, p1] = keys[s + 1];
    for (let i = i0; i <= i1; i++) {
      const f = i1 === i0 ? 1 : (i - i0) / (i1 - i0);
      const wobble = r.normal() * Math.sqrt(f * (1 - f)) * Math.max(1, (bar.h - bar.l) / 4);
      prices[i] = Math.min(bar.h, Math.max(bar.l, Math.round(p0 + (p1 - p0) * f + wobble)));
    }
  }
  const trades = new MinuteTrades(n);
  let buy = bar.c >= bar.o;
  for (let i = 0; i < n; i++) {
    const p = prices[i];
    if (i > 0 && p > prices[i - 1]) buy = true;
    else if (i > 0 && p < prices[i - 1]) buy = false;
    trades.t[i] = start + times[i];
    trades.ticks[i] = p;
    trades.size[i] = sizes[i];
    trades.buy[i] = buy ? 1 : 0;
  }
  return trades;
}

/**
 * One minute's trades, in time order, as columns: a minute holds thousands and the market keeps the last few
 * minutes, so as objects they outlived the young generation and every minute's worth became old-generation garbage
 * (about 1.5 MB a second at 300×, the major collections that paused the whole Node-RED). Typed arrays are a handful
 * of objects whatever the count; a MarketTrade is made only for a trade someone asks for.
 */
class MinuteTrades {
  readonly t: Float64Array;
  /** Price in ticks. */
  readonly ticks: Int32Array;
  readonly size: Float64Array;
  /** 1: at the ask (a buyer lifted it), 0: at the bid. */
  readonly buy: Uint8Array;

  constructor(readonly length: number) {
    this.t = new Float64Array(length);
    this.ticks = new Int32Array(length);
    this.size = new Float64Array(length);
    this.buy = new Uint8Array(length);
  }

  at(i: number): MarketTrade {
    const p = this.ticks[i]!;
    const side = this.buy[i] === 1 ? 'buy' : 'sell';
    const bid = side === 'buy' ? p - 1 : p;
    return { t: this.t[i]!, price: p * ES_TICK, size: this.size[i]!, side, bid: bid * ES_TICK, ask: (bid + 1) * ES_TICK };
  }

  /** The index of the first trade after `t` (length when none). */
  firstAfter(t: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.t[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

class SeededMarket extends EventEmitter implements Market {
  readonly seed: number;
  readonly startTime: number;
  readonly speed: number;
  readonly basis: number;
  /** The clock is anchorT at real time anchorReal, running at `speed` from there unless held. */
  private anchorT: number;
  private anchorReal = performance.now();
  /** Holds on the clock (hold()); while any, now() is heldAt and nothing is emitted. */
  private holds = 0;
  private heldAt = 0;
  /** Trades at the cursor's time still to emit (a hold came in the middle of them). */
  private backlog: MarketTrade[] = [];
  private readonly dailySigmaTicks: number;
  private readonly anchorDay: number;
  private readonly paths = new Map<number, SessionPath>(); // LRU by insertion order
  private readonly summaries = new Map<number, SessionSummary>();
  private readonly opens = new Map<number, number>(); // session open, absolute ticks
  private readonly minuteTrades = new Map<string, MinuteTrades>();
  private readonly listings = new Map<string, number[]>();
  private lastListing: { key: string; options: ListedOption[] } | undefined;
  private lastExpiries: { today: number; todayListed: boolean; expiries: ListedExpiry[] } | undefined;
  private lastReference: { today: number; referenceSpot: number; referenceTime: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cursor = 0;

  constructor(options: MarketOptions) {
    super();
    this.seed = (options.seed ?? 1) >>> 0;
    this.startTime = options.startTime ?? defaultMarketStart(Date.now());
    this.anchorT = this.startTime;
    this.speed = options.speed ?? 1;
    this.basis = options.basis ?? 25;
    const startPrice = options.startPrice ?? 5900;
    this.dailySigmaTicks = (TARGET_ANNUAL_VOL / Math.sqrt(252)) * (startPrice / ES_TICK);
    this.anchorDay = tradeDateAtOrAfter(this.startTime);
    const anchor = this.path(this.anchorDay);
    const k = Math.min(Math.max(Math.floor((this.startTime - anchor.session.open) / MINUTE_MS), 0), anchor.session.minutes);
    const levelAtStart = k < anchor.session.minutes ? anchor.o[k] : anchor.c[k - 1];
    this.opens.set(this.anchorDay, Math.round(startPrice / ES_TICK) - levelAtStart);
  }

  now(): number {
    if (this.holds > 0) return this.heldAt;
    return this.anchorT + Math.floor((performance.now() - this.anchorReal) * this.speed);
  }

  /**
   * Stands the clock still until the returned release is called (every hold released): nothing is emitted meanwhile,
   * and the clock then goes on from where it stood (the time held is not skipped). A hold taken while a trade is
   * emitted stops the emission after that trade: the trades after it wait. The DTC simulator's side of a simulator run
   * holds it while an order instruction or the simulator's answer crosses the socket (lib/sim/order-path-gate.ts), so
   * an order takes no market time on its way, whatever the speed and the machine's load.
   */
  hold(): () => void {
    // The time it is now, even while a trade is emitted (the pump runs up to 20 ms behind the clock): a clock going
    // back would date later news before earlier (a recording refuses that). The trades after it come once released.
    if (this.holds === 0) this.heldAt = this.now();
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds > 0) return;
      this.anchorT = this.heldAt;
      this.anchorReal = performance.now();
    };
  }

  private path(day: number): SessionPath {
    let p = this.paths.get(day);
    if (p) {
      this.paths.delete(day);
      this.paths.set(day, p);
      return p;
    }
    p = generateSession(this.seed, esSession(day), this.dailySigmaTicks);
    const n = p.session.minutes;
    this.summaries.set(day, {
      net: p.c[n - 1],
      high: Math.max(...p.h),
      low: Math.min(...p.l),
      volume: p.cumV[n],
    });
    this.paths.set(day, p);
    if (this.paths.size > SESSION_CACHE) this.paths.delete(this.paths.keys().next().value as number);
    return p;
  }

  private summary(day: number): SessionSummary {
    const s = this.summaries.get(day);
    if (s) return s;
    this.path(day);
    return this.summaries.get(day) as SessionSummary;
  }

  /** Absolute open of session `day`, chaining sessions close-to-open from the anchor. */
  private openTicks(day: number): number {
    const known = this.opens.get(day);
    if (known !== undefined) return known;
    const chain: number[] = [];
    let d = day;
    while (!this.opens.has(d)) {
      chain.push(d);
      d = d > this.anchorDay ? previousTradeDate(d) : nextTradeDate(d);
    }
    let open = this.opens.get(d) as number;
    for (let i = chain.length - 1; i >= 0; i--) {
      const x = chain[i];
      open = x > this.anchorDay ? open + this.summary(previousTradeDate(x)).net : open - this.summary(x).net;
      this.opens.set(x, open);
    }
    return open;
  }

  private minuteBar(day: number, k: number): { o: number; h: number; l: number; c: number; v: number } {
    const p = this.path(day);
    const base = this.openTicks(day);
    return { o: base + p.o[k], h: base + p.h[k], l: base + p.l[k], c: base + p.c[k], v: p.v[k] };
  }

  private tradesOf(day: number, k: number): MinuteTrades {
    const key = `${day}:${k}`;
    let trades = this.minuteTrades.get(key);
    if (!trades) {
      const start = esSession(day).open + k * MINUTE_MS;
      trades = generateMinuteTrades(this.seed, day, k, start, this.minuteBar(day, k));
      this.minuteTrades.set(key, trades);
      if (this.minuteTrades.size > MINUTE_TRADES_CACHE) this.minuteTrades.delete(this.minuteTrades.keys().next().value as string);
    }
    return trades;
  }

  /** Every trade with from < t ≤ to, in time order. */
  tradesBetween(from: number, to: number): MarketTrade[] {
    const out: MarketTrade[] = [];
    let t = from;
    while (t < to) {
      const day = tradeDateAtOrAfter(t);
      const s = esSession(day);
      if (s.open > to) break;
      const k0 = Math.max(0, Math.floor((Math.max(t, s.open) - s.open) / MINUTE_MS));
      const k1 = Math.min(s.minutes - 1, Math.floor((Math.min(to, s.close - 1) - s.open) / MINUTE_MS));
      for (let k = k0; k <= k1; k++) {
        // A minute's trades are in time order: start after `from` by bisection, stop past `to` (the pump asks for
        // 20 ms at a time, a few trades of a minute's thousands).
        const trades = this.tradesOf(day, k);
        for (let i = trades.firstAfter(from); i < trades.length && trades.t[i]! <= to; i++) out.push(trades.at(i));
      }
      t = s.close;
    }
    return out;
  }

  /** The last trade at or before t (the previous session's close when t is in a break). */
  private lastTradeAt(t: number): { trade: MarketTrade; day: number; k: number } {
    let day = tradeDateAtOrAfter(t);
    let s = esSession(day);
    let k: number;
    if (t < s.open) {
      day = previousTradeDate(day);
      s = esSession(day);
      k = s.minutes - 1;
    } else {
      k = Math.floor((t - s.open) / MINUTE_MS);
    }
    for (;;) {
      const trades = this.tradesOf(day, k);
      const last = trades.firstAfter(t) - 1;
      if (last >= 0) return { trade: trades.at(last), day, k };
      if (k > 0) k--;
      else {
        day = previousTradeDate(day);
        k = esSession(day).minutes - 1;
      }
    }
  }

  esQuote(): MarketQuote {
    const t = this.now();
    const { trade, day, k } = this.lastTradeAt(t);
    let volume = this.path(day).cumV[k];
    const trades = this.tradesOf(day, k);
    for (let i = 0; i < trades.length && trades.t[i]! <= t; i++) volume += trades.size[i]!;
    const r = rngAt(this.seed, STREAM_BOOK, Math.floor(t / 500));
    const rth = t >= esSession(day).rthOpen && t < esSession(day).rthClose;
    const depth = rth ? 120 : 25;
    return {
      t,
      last: trade.price,
      bid: trade.bid,
      ask: trade.ask,
      bidSize: 1 + Math.floor(r.next() * depth),
      askSize: 1 + Math.floor(r.next() * depth),
      volume,
    };
  }

  spxSpot(): number {
    return this.esQuote().last - this.basis;
  }

  esBars(from: number, to: number, barMs: number): MarketBar[] {
    const now = this.now();
    const end = Math.min(to, now + 1);
    const today = tradeDateAtOrAfter(now);
    const bars: MarketBar[] = [];
    const daily = barMs >= DAY_MS;
    const oldest = today - (daily ? DAILY_HISTORY_DAYS : MINUTE_HISTORY_DAYS);
    let day = tradeDateAtOrAfter(Math.max(from, (oldest + 1) * DAY_MS));
    const push = (key: number, o: number, h: number, l: number, c: number, v: number): void => addToBars(bars, key, o, h, l, c, v);
    for (; esSession(day).open < end; day = nextTradeDate(day)) {
      const s = esSession(day);
      const base = this.openTicks(day);
      if (daily && s.open >= from && s.close <= end) {
        const sum = this.summary(day);
        push(this.dailyKey(s, barMs), base, base + sum.high, base + sum.low, base + sum.net, sum.volume);
        continue;
      }
      const k0 = Math.max(0, Math.ceil((from - s.open) / MINUTE_MS));
      const k1 = Math.min(s.minutes - 1, Math.floor((end - 1 - s.open) / MINUTE_MS));
      let k = k0;
      const lastWhole = Math.min(k1, Math.floor((end - s.open) / MINUTE_MS) - 1);
      if (daily && k0 === 0 && lastWhole >= 0) {
        // The session so far as one bar (every IBKR quote asks for it): its whole minutes from the path's running
        // extremes and volume, not minute by minute; then the minute in progress below.
        const p = this.path(day);
        push(this.dailyKey(s, barMs), base + p.o[0], base + p.highTo[lastWhole], base + p.lowTo[lastWhole], base + p.c[lastWhole], p.cumV[lastWhole + 1]);
        k = lastWhole + 1;
      }
      for (; k <= k1; k++) {
        const start = s.open + k * MINUTE_MS;
        const key = daily ? this.dailyKey(s, barMs) : Math.floor(start / barMs) * barMs;
        if (start + MINUTE_MS <= end) {
          const b = this.minuteBar(day, k);
          push(key, b.o, b.h, b.l, b.c, b.v);
        } else {
          // The minute in progress: only the trades printed so far.
          const trades = this.tradesOf(day, k);
          for (let i = 0; i < trades.length && trades.t[i]! < end; i++) {
            const p = trades.ticks[i]!;
            push(key, p, p, p, p, trades.size[i]!);
          }
        }
      }
    }
    return bars.map((b) => ({ t: b.t, o: b.o * ES_TICK, h: b.h * ES_TICK, l: b.l * ES_TICK, c: b.c * ES_TICK, v: b.v }));
  }

  /** Session bars open at the Globex open; weekly bars at the week's first session, monthly at the month's. */
  private dailyKey(s: EsSession, barMs: number): number {
    if (barMs < 7 * DAY_MS) return s.open;
    const d = dateOfDay(s.day);
    const first = barMs < 28 * DAY_MS ? s.day - (d.weekday - 1) : dayNumber(d.year, d.month, 1);
    let day = first;
    while (!isWeekday(day)) day++;
    return esSession(day).open;
  }

  private chainContext(): ChainContext {
    const now = this.now();
    const today = tradeDateAtOrAfter(now);
    const s = esSession(today);
    return {
      seed: this.seed,
      now,
      spot: this.spxSpot(),
      ...this.reference(today),
      rthProgress: Math.min(1, Math.max(0, (now - s.rthOpen) / (s.rthClose - s.rthOpen))),
    };
  }

  /** SPX at the prior close and that close: fixed for a trade date (the strikes listed that day are around it). */
  private reference(today: number): Pick<ChainContext, 'referenceSpot' | 'referenceTime'> {
    if (this.lastReference?.today !== today) {
      const prior = esSession(previousTradeDate(today));
      this.lastReference = { today, referenceSpot: (this.openTicks(prior.day) + this.summary(prior.day).net) * ES_TICK - this.basis, referenceTime: prior.close };
    }
    return { referenceSpot: this.lastReference.referenceSpot, referenceTime: this.lastReference.referenceTime };
  }

  /** The chain for the given expiries (default: the nearest listed one). */
  spxChain(expiries?: string[]): MarketOption[] {
    const listed = this.spxExpiries();
    const wanted = expiries ? listed.filter((e) => expiries.includes(e.expiry)) : listed.slice(0, 1);
    return chainFor(this.chainContext(), wanted);
  }

  /**
   * The contracts listed for the given expiries, unpriced: what /iserver/secdef/info and /secdef/strikes answer. The
   * strikes are fixed for the trade date (around the prior close), so they are kept per expiry and trade date.
   */
  spxListing(expiries: string[]): ListedOption[] {
    const ctx = this.reference(tradeDateAtOrAfter(this.now()));
    const listed = this.spxExpiries().filter((e) => expiries.includes(e.expiry));
    const keys = listed.map((e) => `${e.expiry}:${e.tradingClass}:${ctx.referenceTime}:${ctx.referenceSpot}`);
    // The same listing is asked once per strike of a chain refresh (thousands of times): the last answer is kept
    // (frozen: callers share it) instead of building thousands of objects per request.
    const whole = keys.join('|');
    if (this.lastListing?.key === whole) return this.lastListing.options;
    const out: ListedOption[] = [];
    listed.forEach((e, i) => {
      const key = keys[i]!;
      let strikes = this.listings.get(key);
      if (!strikes) {
        strikes = strikesOf(ctx, e.expiry, e.tradingClass);
        if (this.listings.size > 256) this.listings.clear();
        this.listings.set(key, strikes);
      }
      for (const strike of strikes) out.push(Object.freeze({ expiry: e.expiry, tradingClass: e.tradingClass, strike }));
    });
    Object.freeze(out);
    this.lastListing = { key: whole, options: out };
    return out;
  }

  /** Context for pricing single options (the IBKR simulator's snapshot and streaming). */
  chainContextNow(): ChainContext {
    return this.chainContext();
  }

  /**
   * The SPX expiries listed now, sorted (frozen: callers share it). They change only with the New York day and when
   * today's PM expiry passes (every later day's is still ahead), so the answer is kept until one of those changes: it
   * is asked at every secdef request of a chain refresh, 10 a second for minutes.
   */
  spxExpiries(): ListedExpiry[] {
    const now = this.now();
    const today = newYorkDay(now);
    const todayListed = isWeekday(today) && pmExpiryTime(today) > now;
    const last = this.lastExpiries;
    if (last && last.today === today && last.todayListed === todayListed) return last.expiries;
    const out: ListedExpiry[] = [];
    for (let day = today; day < today + SPXW_LISTED_DAYS; day++) {
      if (isWeekday(day) && pmExpiryTime(day) > now) out.push({ expiry: yyyymmdd(day), tradingClass: 'SPXW' });
    }
    const d = dateOfDay(today);
    for (let i = 0, m = d.month, y = d.year; out.filter((e) => e.tradingClass === 'SPX').length < SPX_MONTHLIES && i < 6; i++) {
      const friday = thirdFriday(y, m);
      // AM series stop trading the day before settlement: dead on expiry morning (analytics.md §1).
      if (friday > today) out.push({ expiry: yyyymmdd(friday), tradingClass: 'SPX' });
      m = m === 12 ? 1 : m + 1;
      if (m === 1) y++;
    }
    out.sort((a, b) => a.expiry.localeCompare(b.expiry) || a.tradingClass.localeCompare(b.tradingClass));
    for (const e of out) Object.freeze(e);
    Object.freeze(out);
    this.lastExpiries = { today, todayListed, expiries: out };
    return out;
  }

  esContracts(): { localSymbol: string; expiry: string; conid: number }[] {
    return listedEsContracts(this.now());
  }

  start(): void {
    if (this.timer) return;
    this.cursor = this.now();
    this.timer = setInterval(() => this.pump(), PUMP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.holds > 0) return;
    const to = this.now();
    const trades = this.backlog.length > 0 ? [...this.backlog, ...this.tradesBetween(this.cursor, to)] : this.tradesBetween(this.cursor, to);
    this.backlog = [];
    this.cursor = to;
    for (let i = 0; i < trades.length; i++) {
      const trade = trades[i];
      this.emit('trade', trade);
      if (this.holds > 0) {
        // Held by a listener of this trade: the trades after it come once released.
        this.cursor = trade.t;
        this.backlog = trades.slice(i + 1).filter((x) => x.t === trade.t);
        return;
      }
    }
  }
}

/** The ES quarterlies listed at `now`, nearest first: what IBKR lists (also used by the replayed market). */
export function listedEsContracts(now: number): { localSymbol: string; expiry: string; conid: number }[] {
    const d = dateOfDay(newYorkDay(now));
    const out: { localSymbol: string; expiry: string; conid: number }[] = [];
    let y = d.year;
    let m = Math.ceil(d.month / 3) * 3;
    while (out.length < ES_CONTRACTS_LISTED) {
      // The last trading day as IBKR lists it: the third Friday, or the business day before when it is a holiday.
      const expiryDay = esExpiryDay({ root: 'ES', monthCode: FUTURES_MONTH_CODES[m] as MonthCode, year: y });
      if (amExpiryTime(expiryDay) > now) {
        out.push({ localSymbol: `ES${FUTURES_MONTH_CODES[m]}${y % 10}`, expiry: yyyymmdd(expiryDay), conid: esConid(y, m) });
      }
      m += 3;
      if (m > 12) {
        m = 3;
        y++;
      }
    }
    return out;
}

/** Stable conid of the ES quarterly expiring in year/month (independent of the seed, like a real contract id). */
export function esConid(year: number, month: number): number {
  return 550_000_000 + year * 100 + month;
}

export type SimMarket = SeededMarket;

export function createMarket(options: MarketOptions = {}): SeededMarket {
  return new SeededMarket(options);
}
