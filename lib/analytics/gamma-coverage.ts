// What share of the SPX chain the gamma levels stand on, and whether the chain's scope may cut them (the `coverage`
// of a `gamma` message). Thresholds from two real CBOE chains (test/unit/analytics/chain-scope.test.ts): the market
// scope keeps 93–94 % of the gamma with every AM quarterly and a ±30 % band; scopes that moved the walls or the sign
// of total GEX had no AM series, or 4–27 % of the gamma.
import type { Chain, ChainScope, GammaCoverage, OptionQuote } from '../contracts';
import { NEW_YORK, zonedParts } from '../clock';
import { isExpired } from './expiry';

/** Below this share of the gamma the levels are flagged. */
export const MIN_GAMMA_COVERAGE = 0.85;
/**
 * A strike band narrower than ± this % of spot on either side is flagged (half a point of slack for the strike grid):
 * ±20 % lost 16 % of the total on the 2024 chain, ±25 % kept it within 8 %.
 */
export const MIN_BAND_PCT = 25;

interface Levels {
  callWall: number | null;
  putWall: number | null;
  absGammaStrike: number | null;
}

function dayNumber(yyyymmdd: string): number {
  return Date.UTC(Number(yyyymmdd.slice(0, 4)), Number(yyyymmdd.slice(4, 6)) - 1, Number(yyyymmdd.slice(6, 8))) / 86_400_000;
}

function weight(q: OptionQuote): { oi: number; gamma: number } {
  const oi = typeof q.openInterest === 'number' && q.openInterest > 0 ? q.openInterest : 0;
  return { oi, gamma: typeof q.gamma === 'number' && q.gamma > 0 ? oi * q.gamma : 0 };
}

const pct = (x: number): string => `${(100 * x).toFixed(0)} %`;

/**
 * Coverage of the levels computed from `chain` at `now`, the analysis having used the series in `usedSeries`
 * (`${expiry}${settlement}`).
 */
export function gammaCoverage(chain: Chain, now: number, usedSeries: ReadonlySet<string>, levels: Levels): GammaCoverage {
  const p = zonedParts(now, NEW_YORK);
  const today = p.year * 10000 + p.month * 100 + p.day;
  let [oiLive, oiUsed, gLive, gUsed] = [0, 0, 0, 0];
  let [lo, hi] = [Infinity, -Infinity];
  let furthest: number | null = null;
  let amSeries = false;
  let amQuarterly = false;
  for (const q of chain.contracts) {
    if (isExpired(q.expiry, q.settlement, now)) continue;
    const w = weight(q);
    oiLive += w.oi;
    gLive += w.gamma;
    if (!usedSeries.has(`${q.expiry}${q.settlement}`) || w.oi === 0) continue;
    oiUsed += w.oi;
    gUsed += w.gamma;
    lo = Math.min(lo, q.strike);
    hi = Math.max(hi, q.strike);
    const days = dayNumber(q.expiry) - dayNumber(String(today));
    furthest = furthest === null ? days : Math.max(furthest, days);
    if (q.settlement === 'AM') {
      amSeries = true;
      if (Number(q.expiry.slice(4, 6)) % 3 === 0) amQuarterly = true;
    }
  }
  const received = { openInterest: oiLive > 0 ? oiUsed / oiLive : 1, gamma: gLive > 0 ? gUsed / gLive : oiLive > 0 ? oiUsed / oiLive : 1 };
  const scope: ChainScope | null = chain.scope ?? null;
  const measured = scope?.measured;
  const coverage: GammaCoverage = {
    openInterest: measured ? measured.openInterest * received.openInterest : received.openInterest,
    gamma: measured ? measured.gamma * received.gamma : received.gamma,
    of: measured ? 'whole-chain' : 'chain-received',
    scope,
    strikes: lo <= hi ? { lo, hi } : null,
    furthestDays: furthest,
    amSeries,
    amQuarterly,
    warnings: [],
  };
  if (oiUsed === 0) return coverage;

  const warn = (code: GammaCoverage['warnings'][number]['code'], message: string): void => {
    coverage.warnings.push({ code, message });
  };
  if (!amSeries) {
    warn(
      'no-am-series',
      'No AM-settled SPX monthlies or quarterlies in the levels: they hold most of the open interest, so the walls and even the sign of total GEX can be wrong. Ask ibkr-options-chain for SPX and SPXW, market scope.',
    );
  } else if (!amQuarterly) {
    warn('no-am-quarterly', 'No AM-settled SPX quarterly (March, June, September, December) in the levels: the largest open interest is left out.');
  }
  const band = scope?.strikeBand ?? { lo, hi };
  const below = 100 * (1 - band.lo / chain.spot);
  const above = 100 * (band.hi / chain.spot - 1);
  if (below < MIN_BAND_PCT - 0.5 || above < MIN_BAND_PCT - 0.5) {
    warn(
      'narrow-strike-band',
      `Strikes only from ${band.lo} to ${band.hi} (−${below.toFixed(1)} % / +${above.toFixed(1)} % of spot): the far out-of-the-money series hold much of the gamma; take at least ±${MIN_BAND_PCT} %.`,
    );
  }
  const edges = (['callWall', 'putWall', 'absGammaStrike'] as const).filter((k) => levels[k] !== null && (levels[k] === lo || levels[k] === hi));
  if (edges.length > 0) {
    warn('wall-at-band-edge', `${edges.join(', ')} at the edge of the strikes taken (${lo}–${hi}): the true level may lie beyond; widen the strike band.`);
  }
  if (coverage.gamma < MIN_GAMMA_COVERAGE) {
    warn(
      'low-coverage',
      `The levels stand on ${pct(coverage.gamma)} of the ${coverage.of === 'whole-chain' ? 'whole chain' : 'chain received'}'s gamma (${pct(coverage.openInterest)} of its open interest), below ${pct(MIN_GAMMA_COVERAGE)}.`,
    );
  }
  return coverage;
}
