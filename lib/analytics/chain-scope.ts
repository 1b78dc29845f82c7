// Which part of the SPX option chain the gamma levels need (analytics.md §1, "Chain scope"), as a rule that can be
// applied BEFORE fetching: it picks from the expiries and strikes a broker lists, knowing only today's date and spot.
//
// The market rule: every expiry (SPX and SPXW) within 62 calendar days, the AM-settled SPX monthlies within 12 months
// and the AM quarterlies (Mar, Jun, Sep, Dec) within 24 months, strikes within ±30 % of spot. Sized on two real CBOE
// chains (test/unit/analytics/chain-scope.test.ts): the whole chain's total GEX to 2.8 % and 2.3 % and the same
// call and put walls; narrower scopes moved a wall or lost more than 10 % of the total (the long-dated AM series and
// the far out-of-the-money puts hold much of the negative gamma).
import type { Chain, OptionQuote, Settlement } from '../contracts';
import { InvalidInputError } from '../errors';

export interface ExpiryRule {
  /** Every expiry, AM or PM, at most this many calendar days ahead. */
  nearDays: number;
  /** AM-settled (SPX class) expiries at most this many months ahead. */
  amMonths: number;
  /** AM-settled quarterly expiries (March, June, September, December) at most this many months ahead. */
  amQuarterlyMonths: number;
}

export interface ScopeRule extends ExpiryRule {
  /** Strikes within ± this % of spot. */
  strikeBandPct: number;
}

export const MARKET_SCOPE: Readonly<ScopeRule> = Object.freeze({ nearDays: 62, amMonths: 12, amQuarterlyMonths: 24, strikeBandPct: 30 });

function dayNumber(yyyymmdd: string): number {
  return Date.UTC(Number(yyyymmdd.slice(0, 4)), Number(yyyymmdd.slice(4, 6)) - 1, Number(yyyymmdd.slice(6, 8))) / 86_400_000;
}

/** 'YYYYMMDD' `months` calendar months after `today` (same day of month, clamped to the month's end). */
export function addMonths(today: string, months: number): string {
  const y = Number(today.slice(0, 4));
  const m = Number(today.slice(4, 6)) - 1 + months;
  const year = y + Math.floor(m / 12);
  const month = ((m % 12) + 12) % 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(Number(today.slice(6, 8)), last);
  return `${year}${String(month + 1).padStart(2, '0')}${String(day).padStart(2, '0')}`;
}

/** Refuses an expiry rule that is not whole days and months in range, saying which number to change. */
export function validateExpiryRule(rule: ExpiryRule): void {
  const whole = (x: number, max: number): boolean => Number.isInteger(x) && x >= 0 && x <= max;
  if (!whole(rule.nearDays, 400)) throw new InvalidInputError(`Chain scope: "all expiries within" must be 0 to 400 days (got ${String(rule.nearDays)}).`);
  if (!whole(rule.amMonths, 60)) throw new InvalidInputError(`Chain scope: "AM monthlies within" must be 0 to 60 months (got ${String(rule.amMonths)}).`);
  if (!whole(rule.amQuarterlyMonths, 120)) {
    throw new InvalidInputError(`Chain scope: "AM quarterlies within" must be 0 to 120 months (got ${String(rule.amQuarterlyMonths)}).`);
  }
}

/** The last expiry date the rule can take (the fetcher lists expiries up to it and no further). */
export function scopeHorizon(today: string, rule: ExpiryRule): string {
  const near = new Date((dayNumber(today) + rule.nearDays) * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
  return [near, addMonths(today, rule.amMonths), addMonths(today, rule.amQuarterlyMonths)].sort().at(-1) as string;
}

/** Whether a listed expiry (not yet expired, `today` the New York date) is one the rule takes. */
export function expiryInScope(expiry: string, settlement: Settlement, today: string, rule: ExpiryRule): boolean {
  if (expiry < today) return false;
  if (dayNumber(expiry) - dayNumber(today) <= rule.nearDays) return true;
  if (settlement !== 'AM') return false;
  if (expiry <= addMonths(today, rule.amMonths)) return true;
  return Number(expiry.slice(4, 6)) % 3 === 0 && expiry <= addMonths(today, rule.amQuarterlyMonths);
}

export function strikeBand(spot: number, pct: number): { lo: number; hi: number } {
  return { lo: spot * (1 - pct / 100), hi: spot * (1 + pct / 100) };
}

export function describeExpiryRule(rule: ExpiryRule): string {
  return `all expiries within ${rule.nearDays} days, AM monthlies within ${rule.amMonths} months, AM quarterlies within ${rule.amQuarterlyMonths} months`;
}

/**
 * The share of `whole`'s open interest and of its gamma (Σ Γ·OI with the chain's own gammas) that `part` holds, over
 * the contracts of `whole` still alive on `today` (the New York date). Contracts are matched by expiry, class, strike
 * and right.
 */
export function measuredCoverage(whole: Chain, part: Chain, today: string): { openInterest: number; gamma: number } {
  const key = (q: OptionQuote): string => `${q.expiry}|${q.tradingClass}|${q.strike}|${q.right}`;
  const inPart = new Set(part.contracts.map(key));
  let [oiAll, oiIn, gAll, gIn] = [0, 0, 0, 0];
  for (const q of whole.contracts) {
    if (q.expiry < today) continue;
    const oi = typeof q.openInterest === 'number' && q.openInterest > 0 ? q.openInterest : 0;
    const g = typeof q.gamma === 'number' && q.gamma > 0 ? oi * q.gamma : 0;
    oiAll += oi;
    gAll += g;
    if (inPart.has(key(q))) {
      oiIn += oi;
      gIn += g;
    }
  }
  return { openInterest: oiAll > 0 ? oiIn / oiAll : 1, gamma: gAll > 0 ? gIn / gAll : 1 };
}
