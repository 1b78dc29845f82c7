// The ES price mia-gamma-walls uses for the observed SPX → ES basis: the last ES quote or tick it was sent, used only
// while it is recent relative to the chain it maps (a stale basis would shift every level); else the chain's parity forward
// for the ES settlement (esFrontExpiry, medianParityForward).
import type { OptionQuote, Quote, Tick } from '../contracts';
import { frontMonth } from '../trading/instruments';

export const ES_PRICE_MAX_AGE_MS = 5 * 60_000;

export interface EsPrice {
  price: number;
  t: number;
}

/** ES or MES (any expiry spelling: ES, ESZ25, ESZ25_FUT_CME, MES...). */
export function isEsSymbol(symbol: unknown): boolean {
  return typeof symbol === 'string' && /^M?ES(?![A-Z]{2})/i.test(symbol.trim());
}

/** The price in an ES `quote` (last, else mid) or `tick`; null for other symbols or no price. */
export function esPriceOf(topic: unknown, payload: unknown): EsPrice | null {
  if (payload === null || typeof payload !== 'object') return null;
  const p = payload as Partial<Quote & Tick>;
  if (!isEsSymbol(p.symbol) || typeof p.t !== 'number') return null;
  if (topic === 'tick') return typeof p.price === 'number' && p.price > 0 ? { price: p.price, t: p.t } : null;
  if (typeof p.last === 'number' && p.last > 0) return { price: p.last, t: p.t };
  if (typeof p.bid === 'number' && typeof p.ask === 'number' && p.bid > 0 && p.ask >= p.bid) {
    return { price: (p.bid + p.ask) / 2, t: p.t };
  }
  return null;
}

/** The stored price if it is within ES_PRICE_MAX_AGE_MS of `t`, else null (the chain's parity forward, or the fixed rate, is used instead). */
export function freshEsPrice(stored: EsPrice | null, t: number): number | null {
  return stored !== null && Math.abs(t - stored.t) <= ES_PRICE_MAX_AGE_MS ? stored.price : null;
}

/**
 * The expiry ('YYYYMMDD') of the ES contract the pipeline trades at `now`: the front quarterly, rolled 8 days before
 * it expires, which settles on the Special Opening Quotation of its third Friday, the same settlement as the SPX AM
 * option of that date. The one place that knows the ES expiry calendar here: point it at the instrument registry
 * (with the CME holiday calendar) when there is one.
 */
export function esFrontExpiry(now: number): string {
  return frontMonth('ES', now).expiry;
}

/** How many strikes nearest the money the ES forward takes the median of. */
export const PARITY_STRIKES = 7;

/**
 * The forward of one expiry from put-call parity, F = K + e^(rT)·(C − P) on bid/ask mids, at the `count` strikes
 * where |C − P| is smallest (nearest the money), median of them: one stale or crossed quote does not move it.
 * Null when no strike quotes both sides.
 */
export function medianParityForward(contracts: readonly OptionQuote[], years: number, rate: number, count = PARITY_STRIKES): number | null {
  const mids = new Map<number, { c?: number; p?: number }>();
  for (const q of contracts) {
    const { bid, ask } = q;
    if (bid === null || ask === null || !(bid >= 0) || !(ask > 0) || ask < bid) continue;
    const row = mids.get(q.strike) ?? {};
    row[q.right === 'C' ? 'c' : 'p'] = (bid + ask) / 2;
    mids.set(q.strike, row);
  }
  const pairs: { strike: number; diff: number }[] = [];
  for (const [strike, { c, p }] of mids) if (c !== undefined && p !== undefined) pairs.push({ strike, diff: c - p });
  if (pairs.length === 0) return null;
  pairs.sort((a, b) => Math.abs(a.diff) - Math.abs(b.diff) || a.strike - b.strike);
  const growth = Math.exp(rate * years);
  const forwards = pairs
    .slice(0, Math.max(1, count))
    .map((x) => x.strike + growth * x.diff)
    .sort((a, b) => a - b);
  const m = forwards.length >> 1;
  return forwards.length % 2 === 1 ? forwards[m] : (forwards[m - 1] + forwards[m]) / 2;
}
