// The Battle Navale decision on the newest bar of a window: components → core → score → decision, vetoes,
// confidence and the suggested orders (docs/battle-navale.md, "Decision"). It writes into a reusable Evaluation so
// the stateful engine allocates nothing per bar; payload.ts turns an Evaluation into the output message.
import type { BarWindow } from './bar-window';
import {
  BASE_GREEN,
  BASE_RED,
  BaseDetection,
  BaseMemory,
  ContextLevels,
  GoldenRuleState,
  battle,
  detectBase,
  gammaComponent,
  goldenRule,
  orderflow,
  ticksAbovePutWall,
  ticksUnderCallWall,
  TICK_EPS,
  vixFactor,
  vwapComponent,
} from './components';
import { PATTERN_DIRECTION, PatternHits, findPatterns } from './patterns';
import type { ResolvedSettings } from './settings';
import { SCORE_WEIGHTS, type ScoreSymbol, type ScoreValues } from './score-formula';

export const LONG = 1;
export const SHORT = -1;
export const NO_SIGNAL = 0;

// Veto flags: a candidate LONG or SHORT that one of these blocks becomes NO_SIGNAL.
export const VETO_GOLDEN_RULE = 1;
export const VETO_WALL = 2;
export const VETO_HOURS = 4;
export const VETO_COOLDOWN = 8;
export const VETO_WARMUP = 16;

/** Clock-dependent inputs of one evaluation. */
export interface EvaluationClock {
  now: number;
  /** Whether `now` is inside the trading hours (the caller owns the calendar). */
  tradingHoursOpen: boolean;
  /** When the last LONG/SHORT was emitted; null if none. */
  lastSignalAt: number | null;
  /** Bars seen since the start (or the last reset), the current one included. */
  barsSeen: number;
}

export class Evaluation {
  /** LONG, SHORT or NO_SIGNAL after the vetoes. */
  signal = NO_SIGNAL;
  /** LONG, SHORT or NO_SIGNAL from the score alone. */
  candidate = NO_SIGNAL;
  score = 0;
  confidence = 0;
  core = 0;
  vixFactor = 1;
  battle = 0;
  trend = 0;
  base = 0;
  vwap = 0;
  orderflow = 0;
  gamma = 0;
  readonly baseFound = new BaseDetection();
  readonly rule = new GoldenRuleState();
  readonly patterns: PatternHits;
  /** Patterns agreeing with the candidate's direction (k of the confidence formula). */
  agreeingPatterns = 0;
  vetoes = 0;
  /** Distance to the wall behind a wall veto, in ticks. */
  wallTicks = Infinity;
  entry = NaN;
  stop = NaN;
  tp1 = NaN;
  tp2 = NaN;
  now = 0;
  barsSeen = 0;
  lastSignalAt: number | null = null;
  barT = 0;
  barO = 0;
  barH = 0;
  barL = 0;
  barC = 0;
  barV = 0;
  /** The latest kept bases after this bar. */
  readonly memory = new BaseMemory();

  constructor(patternBars: number) {
    this.patterns = new PatternHits(patternBars);
  }
}

/**
 * Evaluates the newest bar of `w`. `memory` holds the latest kept green and red bases from before this bar and is
 * updated in place with the base found on it; `ctx` is the latest context.
 */
export function evaluateWindow(
  w: BarWindow,
  ctx: ContextLevels,
  memory: BaseMemory,
  s: ResolvedSettings,
  clock: EvaluationClock,
  out: Evaluation,
): Evaluation {
  const i = w.index(0);
  const close = w.c[i];
  out.now = clock.now;
  out.barsSeen = clock.barsSeen;
  out.lastSignalAt = clock.lastSignalAt;
  out.barT = w.t[i];
  out.barO = w.o[i];
  out.barH = w.h[i];
  out.barL = w.l[i];
  out.barC = close;
  out.barV = w.v[i];

  out.battle = battle(w, s);
  const base = out.baseFound;
  detectBase(w, s, base);
  memory.remember(base, w.t[i]);
  out.memory.copyFrom(memory);
  out.base = base.found && base.type !== 0 ? base.type * base.quality : 0;
  goldenRule(w, memory, out.battle, s, out.rule);
  out.trend = out.rule.trend;
  out.vwap = vwapComponent(close, ctx);
  out.orderflow = orderflow(w, s);
  out.gamma = gammaComponent(close, ctx, s);

  out.core = s.coreBattleWeight * out.battle + s.coreTrendWeight * out.trend + s.coreBaseWeight * out.base;
  out.vixFactor = vixFactor(ctx.vix, s);
  const raw = s.scoreFormula.isDefault
    ? (s.scoreCoreWeight * out.core +
        s.scoreVwapWeight * out.vwap +
        s.scoreOrderflowWeight * out.orderflow +
        s.scoreGammaWeight * out.gamma) *
      out.vixFactor
    : s.scoreFormula.evaluate(scoreValues(out, s));
  const score = raw > 1 ? 1 : raw < -1 ? -1 : raw;
  out.score = score;
  const candidate = score >= s.longThreshold ? LONG : score <= -s.shortThreshold ? SHORT : NO_SIGNAL;
  out.candidate = candidate;

  let vetoes = clock.barsSeen < s.minBars ? VETO_WARMUP : 0;
  out.wallTicks = Infinity;
  if (candidate !== NO_SIGNAL) {
    if (s.vetoGoldenRule && (candidate === LONG ? out.rule.greenViolated : out.rule.redViolated)) vetoes |= VETO_GOLDEN_RULE;
    const wallTicks = candidate === LONG ? ticksUnderCallWall(close, ctx, s) : ticksAbovePutWall(close, ctx, s);
    if (wallTicks <= s.wallVetoTicks + TICK_EPS) {
      vetoes |= VETO_WALL;
      out.wallTicks = wallTicks;
    }
    if (s.tradingHoursEnabled && !clock.tradingHoursOpen) vetoes |= VETO_HOURS;
    if (clock.lastSignalAt !== null && clock.now - clock.lastSignalAt < s.cooldownMs) vetoes |= VETO_COOLDOWN;
  }
  out.vetoes = vetoes;
  const signal = vetoes === 0 ? candidate : NO_SIGNAL;
  out.signal = signal;

  findPatterns(w, s, out.patterns);
  let agreeing = 0;
  if (candidate !== NO_SIGNAL) {
    for (let k = 0; k < out.patterns.count; k++) if (PATTERN_DIRECTION[out.patterns.kind[k]] === candidate) agreeing++;
  }
  out.agreeingPatterns = agreeing;
  const baseQuality = base.found ? base.quality : 0;
  out.confidence =
    signal === NO_SIGNAL ? 0 : Math.min(1, Math.abs(score) * (0.5 + 0.5 * baseQuality) * (1 + s.confidencePatternBonus * agreeing));

  if (signal === NO_SIGNAL) {
    out.entry = out.stop = out.tp1 = out.tp2 = NaN;
  } else {
    suggestOrders(signal, close, base, s, out);
  }
  return out;
}

const SCORE_VALUES = {} as Record<ScoreSymbol, number>;
/** The named values a trader's score expression reads (one reused object: the engine allocates nothing per bar). */
function scoreValues(ev: Evaluation, s: ResolvedSettings): ScoreValues {
  const v = SCORE_VALUES;
  v.battle = ev.battle;
  v.trend = ev.trend;
  v.base = ev.base;
  v.core = ev.core;
  v.vwap = ev.vwap;
  v.orderflow = ev.orderflow;
  v.gamma = ev.gamma;
  v.vix = ev.vixFactor;
  for (const w of SCORE_WEIGHTS) v[w] = s[w];
  return v;
}

/**
 * Entry at the close; stop `stopTicks` away and at least `baseStopBufferTicks` beyond the base edge on the stop
 * side; targets at tp1R and tp2R times the stop distance (R). The base is the one found on this bar (at most
 * `baseMaxTicks` tall, so the stop stays near); an older kept base could sit points away. Prices stay on the tick grid.
 */
function suggestOrders(signal: number, close: number, base: BaseDetection, s: ResolvedSettings, out: Evaluation): void {
  const tick = s.tickSize;
  let stop = close - signal * s.stopTicks * tick;
  const buffer = s.baseStopBufferTicks * tick;
  if (signal === LONG) {
    const edge = base.found ? base.low : NaN;
    if (edge < close && edge - buffer < stop) stop = edge - buffer;
    stop = Math.floor(stop / tick + TICK_EPS) * tick;
  } else {
    const edge = base.found ? base.high : NaN;
    if (edge > close && edge + buffer > stop) stop = edge + buffer;
    stop = Math.ceil(stop / tick - TICK_EPS) * tick;
  }
  const risk = Math.abs(close - stop);
  out.entry = close;
  out.stop = stop;
  out.tp1 = roundToTick(close + signal * s.tp1R * risk, tick);
  out.tp2 = roundToTick(close + signal * s.tp2R * risk, tick);
}

function roundToTick(price: number, tick: number): number {
  return Math.round(price / tick) * tick;
}

export { BASE_GREEN, BASE_RED };
