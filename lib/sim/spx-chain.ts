// The simulated SPX option chain: strikes every 5 points, an IV smile with put skew, Black-Scholes greeks from the
// one pricing implementation (lib/analytics/black-scholes), open interest concentrated at round strikes near the
// money, and bid/ask on Cboe's SPX ticks (0.05 below 3.00, 0.10 above) around the theoretical price.
import { blackScholes } from '../analytics/black-scholes';
import { amExpiryTime, dayOfYyyymmdd, pmExpiryTime } from './calendar';
import type { MarketOption } from './market-types';
import { rngAt } from './prng';

const YEAR_MS = 365 * 86_400_000;
export const SPX_STRIKE_STEP = 5;
export const RISK_FREE_RATE = 0.045;
export const SPX_DIVIDEND_YIELD = 0.013;
/** Floor on time to expiry so 0DTE gamma stays finite in the last minutes (analytics.md §1). */
const MIN_T_YEARS = 5 / (365 * 24 * 60);
const STREAM_OI = 11;
const STREAM_VOLUME = 12;

export interface ChainContext {
  seed: number;
  now: number;
  spot: number; // SPX now
  referenceSpot: number; // SPX at the prior close: listed strikes and open interest are fixed for the day around it
  referenceTime: number; // the prior close
  rthProgress: number; // 0 before the open, 1 after the close: scales the day's option volume
}

export interface ListedExpiry {
  expiry: string;
  tradingClass: 'SPX' | 'SPXW';
}

export function expiryTime(expiry: string, tradingClass: 'SPX' | 'SPXW'): number {
  const day = dayOfYyyymmdd(expiry);
  return tradingClass === 'SPX' ? amExpiryTime(day) : pmExpiryTime(day);
}

export function yearsToExpiry(expiry: string, tradingClass: 'SPX' | 'SPXW', now: number): number {
  return Math.max((expiryTime(expiry, tradingClass) - now) / YEAR_MS, MIN_T_YEARS);
}

/** ATM implied volatility by time to expiry: a gently rising term structure around a VIX in the mid teens. */
export function atmVolatility(T: number): number {
  return 0.12 + 0.035 * (1 - Math.exp(-12 * T));
}

/** Implied volatility at strike K: a quadratic smile in standardised moneyness with a negative (put) skew. */
export function impliedVolatility(spot: number, K: number, T: number): number {
  const atm = atmVolatility(T);
  const forward = spot * Math.exp((RISK_FREE_RATE - SPX_DIVIDEND_YIELD) * T);
  const z = Math.log(K / forward) / (atm * Math.sqrt(T));
  const zc = Math.min(Math.max(z, -8), 4); // beyond +4σ the smile would turn up again: keep it monotone
  return atm * Math.min(Math.max(1 - 0.1 * zc + 0.012 * zc * zc, 0.6), 2.5);
}

/** Strikes listed for an expiry: every 5 points over a band that widens with time to expiry. */
export function listedStrikes(referenceSpot: number, T: number): number[] {
  const halfWidth = referenceSpot * Math.max(0.08, 4 * atmVolatility(T) * Math.sqrt(T));
  const lo = Math.ceil((referenceSpot - halfWidth) / SPX_STRIKE_STEP) * SPX_STRIKE_STEP;
  const hi = Math.floor((referenceSpot + halfWidth) / SPX_STRIKE_STEP) * SPX_STRIKE_STEP;
  const strikes: number[] = [];
  for (let k = lo; k <= hi; k += SPX_STRIKE_STEP) strikes.push(k);
  return strikes;
}

function optionTick(price: number): number {
  return price < 3 ? 0.05 : 0.1;
}

function roundTo(value: number, tick: number, mode: 'floor' | 'ceil' | 'round'): number {
  const n = Math[mode](value / tick + (mode === 'round' ? 0 : mode === 'floor' ? 1e-9 : -1e-9));
  return Math.round(n * tick * 100) / 100;
}

function openInterest(ctx: ChainContext, expiry: string, tradingClass: string, strike: number, right: 'C' | 'P', T: number): number {
  const width = 0.03 + 0.12 * Math.sqrt(T);
  const x = Math.log(strike / ctx.referenceSpot) / width;
  let oi = 9000 * Math.exp(-0.5 * x * x);
  if (strike % 100 === 0) oi *= 4;
  else if (strike % 50 === 0) oi *= 2.5;
  else if (strike % 25 === 0) oi *= 1.6;
  // Dealers' customers buy downside puts and sell upside calls: put OI sits below spot, call OI above.
  if (right === 'P' && strike < ctx.referenceSpot) oi *= 1.4;
  if (right === 'C' && strike > ctx.referenceSpot) oi *= 1.2;
  if (tradingClass === 'SPX') oi *= 3;
  const r = rngAt(ctx.seed, STREAM_OI, dayOfYyyymmdd(expiry), strike, right === 'C' ? 1 : 2);
  return Math.round(oi * Math.exp(0.3 * r.normal() - 0.045));
}

/** One option priced at the context's spot and time. */
export function priceOption(
  ctx: ChainContext,
  expiry: string,
  tradingClass: 'SPX' | 'SPXW',
  strike: number,
  right: 'C' | 'P',
): MarketOption {
  const T = yearsToExpiry(expiry, tradingClass, ctx.now);
  const iv = impliedVolatility(ctx.spot, strike, T);
  const g = blackScholes({ S: ctx.spot, K: strike, T, r: RISK_FREE_RATE, q: SPX_DIVIDEND_YIELD, sigma: iv, right });
  const half = 0.05 + 0.012 * g.price;
  const bid = Math.max(0, roundTo(g.price - half, optionTick(g.price), 'floor'));
  const ask = Math.max(0.05, roundTo(g.price + half, optionTick(g.price), 'ceil'));
  const oi = openInterest(ctx, expiry, tradingClass, strike, right, T);
  const r = rngAt(ctx.seed, STREAM_VOLUME, dayOfYyyymmdd(expiry), strike, right === 'C' ? 1 : 2);
  const dte0 = T < 1 / 365;
  const volume = Math.round(oi * (dte0 ? 1.2 : 0.15) * ctx.rthProgress * r.next());
  return {
    expiry,
    settlement: tradingClass === 'SPX' ? 'AM' : 'PM',
    tradingClass,
    strike,
    right,
    bid,
    ask,
    last: Math.max(0.05, roundTo(g.price, optionTick(g.price), 'round')),
    iv,
    delta: g.delta,
    gamma: g.gamma,
    openInterest: oi,
    volume,
  };
}

/** Vega (per 1 vol point) and theta (per calendar day) by finite differences on the same pricing function. */
export function optionVegaTheta(ctx: ChainContext, o: MarketOption): { vega: number; theta: number } {
  const T = yearsToExpiry(o.expiry, o.tradingClass, ctx.now);
  const base = { S: ctx.spot, K: o.strike, T, r: RISK_FREE_RATE, q: SPX_DIVIDEND_YIELD, sigma: o.iv, right: o.right };
  const up = blackScholes({ ...base, sigma: o.iv + 0.005 }).price;
  const down = blackScholes({ ...base, sigma: Math.max(o.iv - 0.005, 1e-4) }).price;
  const tomorrow = blackScholes({ ...base, T: Math.max(T - 1 / 365, MIN_T_YEARS) }).price;
  return { vega: up - down, theta: tomorrow - blackScholes(base).price };
}

/** The strikes listed today for one expiry. */
export function strikesOf(ctx: Pick<ChainContext, 'referenceSpot' | 'referenceTime'>, expiry: string, tradingClass: 'SPX' | 'SPXW'): number[] {
  return listedStrikes(ctx.referenceSpot, yearsToExpiry(expiry, tradingClass, ctx.referenceTime));
}

export function chainFor(ctx: ChainContext, listed: ListedExpiry[]): MarketOption[] {
  const out: MarketOption[] = [];
  for (const { expiry, tradingClass } of listed) {
    for (const strike of strikesOf(ctx, expiry, tradingClass)) {
      out.push(priceOption(ctx, expiry, tradingClass, strike, 'C'));
      out.push(priceOption(ctx, expiry, tradingClass, strike, 'P'));
    }
  }
  return out;
}
