// Battle Navale, the two ways to call it:
// - evaluateBattleNavale(): a pure function of (window of bars, context, base memory, settings, now) → decision;
// - BattleNavaleEngine: the small stateful wrapper a node keeps, which owns the bounded window, the context cache,
//   the base memory (latest green and latest red base), the cooldown clock and the trading-hours calendar.
// Both run the same evaluateWindow(); the engine only avoids rebuilding the window and allocating on each bar.
import type { SignalPayload } from '../contracts';
import { InvalidInputError } from '../errors';
import { BarWindow, type BarInput } from './bar-window';
import { BaseMemory, ContextLevels } from './components';
import { Evaluation, NO_SIGNAL, evaluateWindow, type EvaluationClock } from './evaluate';
import { toSignalPayload } from './payload';
import { resolveSettings, type ResolvedSettings, type SettingsInput } from './settings';
import { TradingHours } from './trading-hours';

/** The latest context; a missing or null field is unknown (its component reads 0). ES prices for the levels. */
export interface MarketContext {
  vwap?: number | null;
  sigma?: number | null;
  cumDelta?: number | null;
  callWall?: number | null;
  putWall?: number | null;
  flip?: number | null;
  vix?: number | null;
}

export interface KeptBase {
  high: number;
  low: number;
  quality: number;
  /** The bar on which the base was last seen. */
  t: number;
}
/** The latest kept green and red bases (quality above the minimum). */
export interface BaseMemorySnapshot {
  green: KeptBase | null;
  red: KeptBase | null;
}

export interface BattleNavaleInput {
  /** The window, oldest first; the last bar is the one evaluated. Only the last `windowBars` are read. */
  bars: readonly BarInput[];
  context?: MarketContext;
  settings?: ResolvedSettings;
  /** Evaluation time (epoch ms), normally the close of the last bar. */
  now: number;
  /** Bases kept before the last bar (from the previous call's result). */
  memory?: BaseMemorySnapshot;
  lastSignalAt?: number | null;
  /** Bars seen so far, the last one included; defaults to bars.length. */
  barsSeen?: number;
  symbol?: string;
  /** A calendar to reuse across calls (it caches the day); one is made from the settings otherwise. */
  tradingHours?: TradingHours;
}

export interface BattleNavaleResult {
  payload: SignalPayload;
  /** Bases kept after the last bar: pass it as `memory` with the next window. */
  memory: BaseMemorySnapshot;
  evaluation: Evaluation;
}

const SETTINGS_CACHE = new WeakMap<ResolvedSettings, TradingHours>();

function hoursFor(s: ResolvedSettings): TradingHours {
  let hours = SETTINGS_CACHE.get(s);
  if (!hours) {
    hours = new TradingHours(s.tradingStartMin, s.tradingEndMin);
    SETTINGS_CACHE.set(s, hours);
  }
  return hours;
}

function level(value: number | null | undefined): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : NaN;
}

function applyContext(ctx: ContextLevels, update: MarketContext): void {
  for (const key of ['vwap', 'sigma', 'cumDelta', 'callWall', 'putWall', 'flip', 'vix'] as const) {
    if (key in update) ctx[key] = level(update[key]);
  }
}

function memoryFromSnapshot(snapshot: BaseMemorySnapshot | undefined): BaseMemory {
  const m = new BaseMemory();
  if (snapshot?.green) {
    m.greenFound = true;
    m.greenHigh = snapshot.green.high;
    m.greenLow = snapshot.green.low;
    m.greenQuality = snapshot.green.quality;
    m.greenT = snapshot.green.t;
  }
  if (snapshot?.red) {
    m.redFound = true;
    m.redHigh = snapshot.red.high;
    m.redLow = snapshot.red.low;
    m.redQuality = snapshot.red.quality;
    m.redT = snapshot.red.t;
  }
  return m;
}

export function memorySnapshot(m: BaseMemory): BaseMemorySnapshot {
  return {
    green: m.greenFound ? { high: m.greenHigh, low: m.greenLow, quality: m.greenQuality, t: m.greenT } : null,
    red: m.redFound ? { high: m.redHigh, low: m.redLow, quality: m.redQuality, t: m.redT } : null,
  };
}

/** The Battle Navale decision on the last bar of `input.bars`, as a pure function of its input. */
export function evaluateBattleNavale(input: BattleNavaleInput): BattleNavaleResult {
  const s = input.settings ?? resolveSettings();
  const bars = input.bars;
  if (bars.length === 0) throw new InvalidInputError('Battle Navale needs at least one bar to evaluate.');
  const first = Math.max(0, bars.length - s.windowBars);
  const w = new BarWindow(s.windowBars);
  const ctx = new ContextLevels();
  if (input.context) applyContext(ctx, input.context);
  for (let k = first; k < bars.length; k++) {
    const bar = bars[k];
    const feedCum = bar.cumDelta ?? (k === bars.length - 1 ? ctx.cumDelta : NaN);
    w.push(bar, feedCum);
  }
  const memory = memoryFromSnapshot(input.memory);
  const clock: EvaluationClock = {
    now: input.now,
    tradingHoursOpen: (input.tradingHours ?? hoursFor(s)).isOpen(input.now),
    lastSignalAt: input.lastSignalAt ?? null,
    barsSeen: input.barsSeen ?? bars.length,
  };
  const evaluation = evaluateWindow(w, ctx, memory, s, clock, new Evaluation(s.confidencePatternBars));
  return { payload: toSignalPayload(evaluation, s, input.symbol), memory: memorySnapshot(memory), evaluation };
}

/**
 * The stateful Battle Navale engine: feed it closed bars in time order (`update`) and context as it arrives
 * (`setContext`). It allocates nothing per bar; the returned Evaluation is reused by the next call, so read it (or
 * call `payload()`) before the next bar.
 */
export class BattleNavaleEngine {
  readonly settings: ResolvedSettings;
  private readonly window: BarWindow;
  private readonly ctx = new ContextLevels();
  private readonly memory = new BaseMemory();
  private readonly hours: TradingHours;
  private readonly evaluation: Evaluation;
  private readonly clock: EvaluationClock = { now: 0, tradingHoursOpen: false, lastSignalAt: null, barsSeen: 0 };
  private evaluated = false;

  /** `settings`: resolved settings, or raw values (text accepted) resolved and validated here. */
  constructor(settings: ResolvedSettings | SettingsInput = {}) {
    this.settings = 'cooldownMs' in settings ? (settings as ResolvedSettings) : resolveSettings(settings);
    this.window = new BarWindow(this.settings.windowBars);
    this.hours = new TradingHours(this.settings.tradingStartMin, this.settings.tradingEndMin);
    this.evaluation = new Evaluation(this.settings.confidencePatternBars);
  }

  /** Bars evaluated since the start or the last reset. */
  get barsSeen(): number {
    return this.clock.barsSeen;
  }

  /** The time of the newest bar evaluated (epoch ms), or null before the first bar (and after a reset). */
  get lastBarTime(): number | null {
    return this.window.length > 0 ? this.window.newestTime() : null;
  }

  /** When the last LONG/SHORT was emitted (epoch ms), or null. */
  get lastSignalAt(): number | null {
    return this.clock.lastSignalAt;
  }

  /** Updates the context fields present in `update` (null clears one). */
  setContext(update: MarketContext): void {
    applyContext(this.ctx, update);
  }

  context(): MarketContext {
    const c = this.ctx;
    const known = (x: number): number | null => (x === x ? x : null);
    return {
      vwap: known(c.vwap),
      sigma: known(c.sigma),
      cumDelta: known(c.cumDelta),
      callWall: known(c.callWall),
      putWall: known(c.putWall),
      flip: known(c.flip),
      vix: known(c.vix),
    };
  }

  baseMemory(): BaseMemorySnapshot {
    return memorySnapshot(this.memory);
  }

  /**
   * Evaluates one closed bar (already validated, see validateBar) at `now` (normally the bar's close). Bars must
   * arrive in time order; a bar not after the previous one is refused with InvalidInputError and changes nothing.
   */
  update(bar: BarInput, now: number): Evaluation {
    const w = this.window;
    if (w.length > 0 && !(bar.t > w.newestTime())) {
      throw new InvalidInputError(
        `bar at ${new Date(bar.t).toISOString()} is not after the previous bar (${new Date(w.newestTime()).toISOString()}): ` +
          'Battle Navale takes closed bars in time order. Send msg.reset = true before replaying history, ' +
          "or send the history as one 'bars' batch (bars already evaluated are then skipped).",
      );
    }
    w.push(bar, bar.cumDelta ?? this.ctx.cumDelta);
    const clock = this.clock;
    clock.now = now;
    clock.barsSeen++;
    clock.tradingHoursOpen = this.hours.isOpen(now);
    const ev = evaluateWindow(w, this.ctx, this.memory, this.settings, clock, this.evaluation);
    if (ev.signal !== NO_SIGNAL) clock.lastSignalAt = now;
    this.evaluated = true;
    return ev;
  }

  /** The output message of the last evaluation; null before the first bar. */
  payload(symbol?: string): SignalPayload | null {
    return this.evaluated ? toSignalPayload(this.evaluation, this.settings, symbol) : null;
  }

  /** Forgets bars, bases, context and the cooldown: as freshly created. */
  reset(): void {
    this.window.clear();
    this.memory.clear();
    Object.assign(this.ctx, new ContextLevels());
    this.clock.barsSeen = 0;
    this.clock.lastSignalAt = null;
    this.evaluated = false;
  }
}
