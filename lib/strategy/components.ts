// The six components of the Battle Navale score (docs/battle-navale.md, "Components"), each in [−1, +1] with
// positive = bullish, read from the bar window without allocating. Formulas are kept term for term as the page
// writes them; where the page leaves a choice open, the comment says which reading we took and why.
import type { BarWindow } from './bar-window';
import type { ResolvedSettings } from './settings';

/** Latest context values; NaN = not known. */
export class ContextLevels {
  vwap = NaN;
  sigma = NaN;
  cumDelta = NaN;
  callWall = NaN;
  putWall = NaN;
  flip = NaN;
  vix = NaN;
}

// Distances in ticks are compared with this slack so 8.000000001 ticks from float division still reads 8.
const TICK_EPS = 1e-9;

/**
 * 1. Battle: Vikings (V) against Défenseurs (D) over the last `battleBars` bars; (V − D) / (V + D).
 * Only bars with a range take part (the page's "for each bar with range > 0" covers every term of the bar).
 */
export function battle(w: BarWindow, s: ResolvedSettings): number {
  const n = s.battleBars;
  if (w.length < n) return 0;
  const vMean = w.meanVolume();
  const dMean = w.meanAbsDelta();
  let vikings = 0;
  let defenders = 0;
  for (let age = 0; age < n; age++) {
    const i = w.index(age);
    const o = w.o[i];
    const c = w.c[i];
    const range = w.h[i] - w.l[i];
    if (!(range > 0)) continue;
    if (c !== o) {
      const ratio = Math.abs(c - o) / range;
      let side = ratio > s.battleBodyRatioMin ? s.battleBodyWeight * ratio : 0;
      if (vMean > 0) side += s.battleVolumeWeight * Math.min(w.v[i] / vMean, s.battleVolumeCap);
      if (c > o) vikings += side;
      else defenders += side;
    }
    const d = w.delta[i];
    if (d === d && d !== 0 && dMean > 0) {
      const side = s.battleDeltaWeight * Math.min(Math.abs(d) / dMean, s.battleDeltaCap);
      if (d > 0) vikings += side;
      else defenders += side;
    }
    const buy = w.buy[i];
    const sell = w.sell[i];
    if (buy === buy && sell === sell && buy + sell > 0) {
      const share = buy / (buy + sell);
      if (share > s.battleBuyShareHigh) vikings += s.battleBuyShareWeight;
      else if (share < s.battleBuyShareLow) defenders += s.battleBuyShareWeight;
    }
  }
  const total = vikings + defenders;
  return total > 0 ? (vikings - defenders) / total : 0;
}

export const BASE_NEUTRAL = 0;
export const BASE_GREEN = 1;
export const BASE_RED = -1;

/** A base found on the current bar (2. Base detection). */
export class BaseDetection {
  found = false;
  type = BASE_NEUTRAL;
  high = 0;
  low = 0;
  quality = 0;
  heightTicks = 0;
}

/**
 * 2. Base detection. Fills `out` (found = false when there is no base of quality above the minimum).
 * Choices where the page is silent:
 * - σ is the population standard deviation of the closes, computed on distances from the latest close so that
 *   prices mirrored around a pivot give bit-identical σ (the symmetry property).
 * - "≤ 1 up-move → red" is read as "at most 1 move that is not down", which is the same when no two closes are equal
 *   and keeps green and red mirror images when some are (a flat move counts for neither colour).
 * - n in min(n/10, 1) is the number of bars in the base: consecutive closes, ending at the current bar, inside the
 *   base's high–low (at least the span itself).
 */
export function detectBase(w: BarWindow, s: ResolvedSettings, out: BaseDetection): void {
  out.found = false;
  out.type = BASE_NEUTRAL;
  out.quality = 0;
  if (w.length < s.baseMinBars) return;

  const n = Math.min(s.baseStdBars, w.length);
  const ref = w.c[w.index(0)];
  let sum = 0;
  let sumSq = 0;
  let hh = -Infinity;
  let ll = Infinity;
  for (let age = 0; age < n; age++) {
    const i = w.index(age);
    const d = w.c[i] - ref;
    sum += d;
    sumSq += d * d;
    if (w.h[i] > hh) hh = w.h[i];
    if (w.l[i] < ll) ll = w.l[i];
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  if (!(std < s.baseStdRatioMax * (hh - ll))) return;

  const span = Math.min(s.baseSpanBars, w.length);
  let high = -Infinity;
  let low = Infinity;
  let vSum = 0;
  let vSumSq = 0;
  for (let age = 0; age < span; age++) {
    const i = w.index(age);
    if (w.h[i] > high) high = w.h[i];
    if (w.l[i] < low) low = w.l[i];
    vSum += w.v[i];
    vSumSq += w.v[i] * w.v[i];
  }
  const heightTicks = (high - low) / s.tickSize;
  if (heightTicks > s.baseMaxTicks + TICK_EPS) return;

  // Closes inside the base: the share over the span, and the run of bars in the base ending at the newest.
  let inside = 0;
  let bars = 0;
  let run = true;
  const scan = Math.min(w.length, Math.max(s.baseQualityBarsFull, span));
  for (let age = 0; age < scan; age++) {
    const c = w.c[w.index(age)];
    const isInside = c >= low && c <= high;
    if (age < span && isInside) inside++;
    if (run && isInside) bars++;
    else run = false;
  }

  const closes = Math.min(s.baseTypeCloses, w.length);
  let ups = 0;
  let downs = 0;
  for (let age = 0; age + 1 < closes; age++) {
    const newer = w.c[w.index(age)];
    const older = w.c[w.index(age + 1)];
    if (newer > older) ups++;
    else if (newer < older) downs++;
  }
  const moves = closes - 1;
  const type = ups >= s.baseGreenMinUps ? BASE_GREEN : moves - downs <= s.baseRedMaxUps ? BASE_RED : BASE_NEUTRAL;

  const vMean = vSum / span;
  const vStd = Math.sqrt(Math.max(0, vSumSq / span - vMean * vMean));
  const cv = vMean > 0 ? vStd / vMean : 1;
  const quality =
    s.baseQualityBarsWeight * Math.min(bars / s.baseQualityBarsFull, 1) +
    s.baseQualitySizeWeight * baseSizeScore(heightTicks, s) +
    s.baseQualityVolumeWeight * (1 - Math.min(cv, 1)) +
    s.baseQualityInsideWeight * (inside / span);
  if (!(quality > s.baseQualityMin)) return;

  out.found = true;
  out.type = type;
  out.high = high;
  out.low = low;
  out.quality = quality;
  out.heightTicks = heightTicks;
}

/** Size term of the base quality: 1.0 for 2–6 ticks tall, 0.7 for 1–8, else 0.3 (defaults). */
export function baseSizeScore(heightTicks: number, s: ResolvedSettings): number {
  if (heightTicks >= s.baseSizeIdealMinTicks - TICK_EPS && heightTicks <= s.baseSizeIdealMaxTicks + TICK_EPS) {
    return s.baseSizeIdealScore;
  }
  if (heightTicks >= s.baseSizeOkMinTicks - TICK_EPS && heightTicks <= s.baseSizeOkMaxTicks + TICK_EPS) return s.baseSizeOkScore;
  return s.baseSizeOtherScore;
}

/** The latest green and latest red base kept (quality above the minimum), with the bar they were last seen on. */
export class BaseMemory {
  greenFound = false;
  greenHigh = 0;
  greenLow = 0;
  greenQuality = 0;
  greenT = -Infinity;
  redFound = false;
  redHigh = 0;
  redLow = 0;
  redQuality = 0;
  redT = -Infinity;

  /** Keeps `base` (found on the bar at `t`) when it is green or red. */
  remember(base: BaseDetection, t: number): void {
    if (!base.found) return;
    if (base.type === BASE_GREEN) {
      this.greenFound = true;
      this.greenHigh = base.high;
      this.greenLow = base.low;
      this.greenQuality = base.quality;
      this.greenT = t;
    } else if (base.type === BASE_RED) {
      this.redFound = true;
      this.redHigh = base.high;
      this.redLow = base.low;
      this.redQuality = base.quality;
      this.redT = t;
    }
  }

  copyFrom(other: BaseMemory): this {
    this.greenFound = other.greenFound;
    this.greenHigh = other.greenHigh;
    this.greenLow = other.greenLow;
    this.greenQuality = other.greenQuality;
    this.greenT = other.greenT;
    this.redFound = other.redFound;
    this.redHigh = other.redHigh;
    this.redLow = other.redLow;
    this.redQuality = other.redQuality;
    this.redT = other.redT;
    return this;
  }

  clear(): void {
    this.copyFrom(new BaseMemory());
  }
}

export const RULE_NONE = 0;
export const RULE_INTACT = 1;
export const RULE_VIOLATED = 2;

export class GoldenRuleState {
  trend = 0;
  state = RULE_NONE;
  /** BASE_GREEN, BASE_RED or BASE_NEUTRAL (no base). */
  side = BASE_NEUTRAL;
  greenViolated = false;
  redViolated = false;
}

/**
 * 3. Golden rule ("rouge sous verte") over the last `goldenRuleBars` bars. Only bars after the bar on which the
 * base was last seen can violate it: a base is broken by what happens once it has formed.
 */
export function goldenRule(w: BarWindow, memory: BaseMemory, battleValue: number, s: ResolvedSettings, out: GoldenRuleState): void {
  const tolerance = s.goldenRuleToleranceTicks * s.tickSize;
  const greenLimit = memory.greenLow - tolerance;
  const redLimit = memory.redHigh + tolerance;
  let greenViolatedAt = -Infinity;
  let redViolatedAt = -Infinity;
  const n = memory.greenFound || memory.redFound ? Math.min(s.goldenRuleBars, w.length) : 0;
  // Newest first: the first violation met is the most recent; bars not after a base cannot break it.
  const oldestBase = Math.min(memory.greenFound ? memory.greenT : Infinity, memory.redFound ? memory.redT : Infinity);
  for (let age = 0; age < n; age++) {
    const i = w.index(age);
    const t = w.t[i];
    if (t <= oldestBase) break;
    const o = w.o[i];
    const c = w.c[i];
    if (greenViolatedAt === -Infinity && memory.greenFound && t > memory.greenT && c < o && c < greenLimit) greenViolatedAt = t;
    if (redViolatedAt === -Infinity && memory.redFound && t > memory.redT && c > o && c > redLimit) redViolatedAt = t;
  }
  out.greenViolated = greenViolatedAt > -Infinity;
  out.redViolated = redViolatedAt > -Infinity;
  if (out.greenViolated || out.redViolated) {
    out.state = RULE_VIOLATED;
    out.side = greenViolatedAt > redViolatedAt ? BASE_GREEN : BASE_RED;
    out.trend = out.side === BASE_GREEN ? -s.trendStrong : s.trendStrong;
    return;
  }
  const latestGreen = memory.greenFound && (!memory.redFound || memory.greenT > memory.redT);
  const latestRed = memory.redFound && !latestGreen;
  if (latestGreen) {
    out.state = RULE_INTACT;
    out.side = BASE_GREEN;
    out.trend = battleValue > s.trendBattleThreshold ? s.trendStrong : s.trendWeak;
  } else if (latestRed) {
    out.state = RULE_INTACT;
    out.side = BASE_RED;
    out.trend = battleValue < -s.trendBattleThreshold ? -s.trendStrong : -s.trendWeak;
  } else {
    out.state = RULE_NONE;
    out.side = BASE_NEUTRAL;
    out.trend = 0;
  }
}

/** 4. VWAP: tanh((close − VWAP) / σ); 0 without VWAP or when σ = 0. */
export function vwapComponent(close: number, ctx: ContextLevels): number {
  if (ctx.vwap !== ctx.vwap || !(ctx.sigma > 0)) return 0;
  return Math.tanh((close - ctx.vwap) / ctx.sigma);
}

/**
 * 5. Order flow: tanh(slope / d̄), the slope being the least-squares slope (per bar) of the cumulative delta over the
 * last `orderflowBars` bars. 0 unless all of them carry a cumulative delta and d̄ > 0.
 */
export function orderflow(w: BarWindow, s: ResolvedSettings): number {
  const n = s.orderflowBars;
  const dMean = w.meanAbsDelta();
  if (w.length < n || !(dMean > 0)) return 0;
  // x runs 0 (oldest) … n−1 (newest); Σ(x − x̄)·y / Σ(x − x̄)².
  const xMean = (n - 1) / 2;
  let num = 0;
  let den = 0;
  for (let age = 0; age < n; age++) {
    const y = w.cum[w.index(age)];
    if (y !== y) return 0;
    const dx = n - 1 - age - xMean;
    num += dx * y;
    den += dx * dx;
  }
  return Math.tanh(num / den / dMean);
}

/**
 * 6. Gamma: ±regime above/below the zero-gamma flip; a call wall within `gammaWallTicks` above the close pulls down,
 * a put wall within as many ticks below pulls up. 0 without levels; clamped to [−1, 1].
 */
export function gammaComponent(close: number, ctx: ContextLevels, s: ResolvedSettings): number {
  let g = 0;
  if (ctx.flip === ctx.flip) g += close > ctx.flip ? s.gammaRegime : close < ctx.flip ? -s.gammaRegime : 0;
  if (ticksUnderCallWall(close, ctx, s) <= s.gammaWallTicks + TICK_EPS) g -= s.gammaWallPull;
  if (ticksAbovePutWall(close, ctx, s) <= s.gammaWallTicks + TICK_EPS) g += s.gammaWallPull;
  return g > 1 ? 1 : g < -1 ? -1 : g;
}

/** Ticks from the close up to the call wall; Infinity when the wall is unknown or below the close. */
export function ticksUnderCallWall(close: number, ctx: ContextLevels, s: ResolvedSettings): number {
  const d = (ctx.callWall - close) / s.tickSize;
  return d >= 0 ? d : Infinity;
}

/** Ticks from the put wall up to the close; Infinity when the wall is unknown or above the close. */
export function ticksAbovePutWall(close: number, ctx: ContextLevels, s: ResolvedSettings): number {
  const d = (close - ctx.putWall) / s.tickSize;
  return d >= 0 ? d : Infinity;
}

/** The VIX factor: 1.05 below 15, 1.00 for 15–22, 0.90 for 22–35 (above 22), 0.85 above 35; 1 without VIX. */
export function vixFactor(vix: number, s: ResolvedSettings): number {
  if (vix !== vix) return 1;
  if (vix < s.vixLow) return s.vixLowFactor;
  if (vix <= s.vixHigh) return s.vixNormalFactor;
  if (vix <= s.vixExtreme) return s.vixHighFactor;
  return s.vixExtremeFactor;
}

export { TICK_EPS };
