// The ES price mia-gamma-walls uses for the observed SPX → ES basis: the last ES quote or tick it was sent, used only
// while it is recent relative to the chain it maps (a stale basis would shift every level).
import type { Quote, Tick } from '../contracts';

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

/** The stored price if it is within ES_PRICE_MAX_AGE_MS of `t`, else null (fair value is used instead). */
export function freshEsPrice(stored: EsPrice | null, t: number): number | null {
  return stored !== null && Math.abs(t - stored.t) <= ES_PRICE_MAX_AGE_MS ? stored.price : null;
}
