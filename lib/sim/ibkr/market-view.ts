// What the simulator quotes for any conid: ES from the market's trades, the SPX index as ES − basis, options from
// the market's chain (cached per expiry for IBKR's 500 ms refresh). Also formats IBKR's snapshot/streaming fields.
import { CHICAGO, minuteOfDay } from '../../clock';
import { esSession, tradeDateAtOrAfter } from '../calendar';
import type { Market, MarketOption } from '../market-types';
import { atmVolatility, type ChainContext, optionVegaTheta, priceOption, strikesOf } from '../spx-chain';
import type { Instrument } from './instruments';
import { ES_UNDERLYING_CONID, SPX_CONID } from './instruments';

const CHAIN_CACHE_MS = 500;
/** Field ids (ibkr-web-api.md §3). */
export const GREEK_FIELDS = new Set(['7308', '7309', '7310', '7311', '7633']);
export type Availability = 'R' | 'D' | 'Z';

export interface InstrumentQuote {
  last: number;
  bid?: number;
  ask?: number;
  bidSize?: number;
  askSize?: number;
  lastSize?: number;
  volume?: number;
  open?: number;
  high?: number;
  low?: number;
  priorClose?: number;
  trading: boolean; // false → IBKR prefixes last with "C" (prior close)
  option?: MarketOption;
  /** The time IBKR stamps this quote with (`_updated`): the market's clock, or for ES the time its quote gives. */
  t: number;
}

export class MarketView {
  private pricing:
    | { at: number; ctx: ChainContext; expiries: Set<string>; strikes: Map<string, Set<number>>; options: Map<string, MarketOption> }
    | undefined;

  private optionsTradingAt = { t: NaN, trading: false };

  constructor(private readonly market: Market) {}

  esTrading(t: number): boolean {
    const s = esSession(tradeDateAtOrAfter(t));
    return t >= s.open && t < s.close;
  }

  /** SPX options trade 08:30–15:15 CT (analytics.md §4). */
  optionsTrading(t: number): boolean {
    // Asked for every option of a snapshot at the same millisecond: the calendar is walked once.
    if (t === this.optionsTradingAt.t) return this.optionsTradingAt.trading;
    const m = minuteOfDay(t, CHICAGO);
    const s = esSession(tradeDateAtOrAfter(t));
    const trading = t >= s.open && m >= 8 * 60 + 30 && m < 15 * 60 + 15;
    this.optionsTradingAt = { t, trading };
    return trading;
  }

  /**
   * One option, priced on its own: the same numbers as the market's chain (spxChain prices every listed strike the
   * same way), without pricing the whole expiry for each conid of a snapshot. Prices refresh every CHAIN_CACHE_MS.
   */
  option(inst: Extract<Instrument, { kind: 'option' }>): MarketOption | undefined {
    const realNow = performance.now();
    if (!this.pricing || realNow - this.pricing.at > CHAIN_CACHE_MS) {
      const pricing = this.market as Market & { chainContextNow?: () => ChainContext };
      if (!pricing.chainContextNow) {
        return this.market.spxChain([inst.expiry]).find((o) => o.tradingClass === inst.tradingClass && o.strike === inst.strike && o.right === inst.right);
      }
      this.pricing = {
        at: realNow,
        ctx: pricing.chainContextNow(),
        expiries: new Set(this.market.spxExpiries().map((e) => `${e.expiry}:${e.tradingClass}`)),
        strikes: new Map(),
        options: new Map(),
      };
    }
    const { ctx, expiries, strikes, options } = this.pricing;
    const listing = `${inst.expiry}:${inst.tradingClass}`;
    if (!expiries.has(listing)) return undefined;
    let listed = strikes.get(listing);
    if (!listed) {
      listed = new Set(strikesOf(ctx, inst.expiry, inst.tradingClass));
      strikes.set(listing, listed);
    }
    if (!listed.has(inst.strike)) return undefined;
    const key = `${listing}:${inst.strike}:${inst.right}`;
    let option = options.get(key);
    if (!option) {
      option = priceOption(ctx, inst.expiry, inst.tradingClass, inst.strike, inst.right);
      options.set(key, option);
    }
    return option;
  }

  quote(inst: Instrument): InstrumentQuote | undefined {
    const now = this.market.now();
    if (inst.kind === 'option') {
      const o = this.option(inst);
      if (!o) return undefined;
      return {
        last: o.last,
        bid: o.bid,
        ask: o.ask,
        bidSize: 10 + (o.openInterest % 90),
        askSize: 10 + ((o.openInterest * 7) % 90),
        volume: o.volume,
        trading: this.optionsTrading(now),
        option: o,
        t: now,
      };
    }
    const q = this.market.esQuote();
    const s = esSession(tradeDateAtOrAfter(now));
    const day = this.market.esBars(s.open, now + 1, 86_400_000)[0];
    const prior = this.market.esBars(s.open - 86_400_000 * 4, s.open, 86_400_000).pop();
    const shift = inst.kind === 'index' ? -(q.last - this.market.spxSpot()) : 0;
    const base: InstrumentQuote = {
      last: q.last + shift,
      open: day ? day.o + shift : undefined,
      high: day ? day.h + shift : undefined,
      low: day ? day.l + shift : undefined,
      priorClose: prior ? prior.c + shift : undefined,
      trading: inst.kind === 'index' ? this.optionsTrading(now) : this.esTrading(now),
      t: now,
    };
    if (inst.kind === 'index') return base;
    return { ...base, t: q.t, bid: q.bid, ask: q.ask, bidSize: q.bidSize, askSize: q.askSize, volume: q.volume, lastSize: 1 + (q.volume % 7) };
  }

  /**
   * Every field IBKR would report for the instrument, formatted as IBKR formats them (strings), and the time to stamp
   * them with (`_updated`).
   */
  fields(inst: Instrument, availability: Availability): { updated: number; values: Record<string, string> } {
    const q = this.quote(inst);
    const out: Record<string, string> = { '6509': `${availability}pB`, '6119': 'q0', '55': inst.kind === 'future' ? 'ES' : 'SPX' };
    if (!q) return { updated: this.market.now(), values: out };
    const price = (x: number | undefined): string | undefined => (x === undefined ? undefined : x.toFixed(2));
    const put = (id: string, value: string | undefined): void => {
      if (value !== undefined) out[id] = value;
    };
    put('31', `${q.trading ? '' : 'C'}${q.last.toFixed(2)}`);
    put('84', price(q.bid));
    put('86', price(q.ask));
    put('88', q.bidSize === undefined ? undefined : formatSize(q.bidSize));
    put('85', q.askSize === undefined ? undefined : formatSize(q.askSize));
    put('7059', q.lastSize === undefined ? undefined : String(q.lastSize));
    put('87', q.volume === undefined ? undefined : formatVolume(q.volume));
    put('7762', q.volume === undefined ? undefined : String(q.volume));
    put('7295', price(q.open));
    put('70', price(q.high));
    put('71', price(q.low));
    put('7741', price(q.priorClose));
    put('7296', price(q.priorClose));
    if (q.bid !== undefined && q.ask !== undefined) put('7635', ((q.bid + q.ask) / 2).toFixed(2));
    if (inst.kind === 'future') {
      put('6457', String(ES_UNDERLYING_CONID));
      put('7697', formatSize(2_100_000 + (inst.conid % 100_000)));
    }
    const o = q.option;
    if (o) {
      put('6457', String(SPX_CONID));
      put('7633', `${(o.iv * 100).toFixed(1)}%`);
      put('7283', `${(atmVolatility(30 / 365) * 100).toFixed(1)}%`);
      put('7638', String(o.openInterest));
      put('7089', String(o.volume));
      put('7308', significant(o.delta));
      put('7309', significant(o.gamma));
      const ctx = this.pricing?.ctx ?? (this.market as Market & { chainContextNow?: () => ChainContext }).chainContextNow?.();
      if (ctx) {
        const { theta, vega } = optionVegaTheta(ctx, o);
        put('7310', significant(theta));
        put('7311', significant(vega));
      }
    }
    return { updated: q.t, values: out };
  }
}

/** IBKR writes sizes with thousands separators: "1,300". */
export function formatSize(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Field 87: volume K/M formatted. */
export function formatVolume(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function significant(x: number): string {
  return String(Number(x.toPrecision(4)));
}
