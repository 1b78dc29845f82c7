// Every constant of the Battle Navale specification (docs/battle-navale.md) as a named setting with the documented
// default. The schema is the one place that lists them: the engine reads the resolved object, the node's editor
// shows one field per entry (grouped as below), and the validation reports a bad value in a trader's words.
import { InvalidInputError } from '../errors';
import { parseHhMm } from '../clock';
import { compileScoreFormula, type ScoreFormula } from './score-formula';

export type SettingsGroup =
  | 'window'
  | 'battle'
  | 'base'
  | 'golden-rule'
  | 'context'
  | 'weights'
  | 'thresholds'
  | 'vetoes'
  | 'hours'
  | 'orders'
  | 'patterns';

interface FieldBase {
  group: SettingsGroup;
  label: string;
}
export interface NumberField extends FieldBase {
  kind: 'number' | 'int';
  default: number;
  min: number;
  max: number;
}
export interface BoolField extends FieldBase {
  kind: 'bool';
  default: boolean;
}
export interface TimeField extends FieldBase {
  kind: 'time';
  default: string;
}
export type SettingField = NumberField | BoolField | TimeField;

const num = (group: SettingsGroup, label: string, dflt: number, min = 0, max = 1e9): NumberField => ({
  kind: 'number',
  group,
  label,
  default: dflt,
  min,
  max,
});
const int = (group: SettingsGroup, label: string, dflt: number, min = 1, max = 10_000): NumberField => ({
  kind: 'int',
  group,
  label,
  default: dflt,
  min,
  max,
});
const bool = (group: SettingsGroup, label: string, dflt: boolean): BoolField => ({ kind: 'bool', group, label, default: dflt });
const time = (group: SettingsGroup, label: string, dflt: string): TimeField => ({ kind: 'time', group, label, default: dflt });

/** The specification's constants, in the order the editor shows them. */
export const SETTINGS_SCHEMA = {
  // Inputs: "The engine keeps a bounded window (default 100 bars)"; "tick = 0.25 (ES/MES)".
  windowBars: int('window', 'Window (bars)', 100, 30, 100_000),
  tickSize: num('window', 'Tick size', 0.25, 1e-9),

  // Component 1, Battle.
  battleBars: int('battle', 'Battle bars', 5),
  battleBodyRatioMin: num('battle', 'Strong body (body ÷ range above)', 0.6, 0, 1),
  battleBodyWeight: num('battle', 'Body weight', 0.8),
  battleVolumeWeight: num('battle', 'Volume weight', 0.2),
  battleVolumeCap: num('battle', 'Volume ratio cap', 2),
  battleDeltaWeight: num('battle', 'Delta weight', 0.5),
  battleDeltaCap: num('battle', 'Delta ratio cap', 1),
  battleBuyShareHigh: num('battle', 'Buy share for Vikings (above)', 0.6, 0, 1),
  battleBuyShareLow: num('battle', 'Buy share for Défenseurs (below)', 0.4, 0, 1),
  battleBuyShareWeight: num('battle', 'Buy share weight', 0.3),

  // Component 2, Base detection.
  baseMinBars: int('base', 'Bars before a base can form', 10),
  baseStdBars: int('base', 'Consolidation closes', 15, 2),
  baseStdRatioMax: num('base', 'Max σ of closes ÷ range', 0.3),
  baseSpanBars: int('base', 'Base span (bars)', 8),
  baseMaxTicks: num('base', 'Max base height (ticks)', 10),
  baseTypeCloses: int('base', 'Closes for the base colour', 5, 2),
  baseGreenMinUps: int('base', 'Up-moves for a green base (at least)', 3, 0),
  baseRedMaxUps: int('base', 'Non-down moves for a red base (at most)', 1, 0),
  baseQualityMin: num('base', 'Keep bases of quality above', 0.5, 0, 1),
  baseQualityBarsWeight: num('base', 'Quality weight: bars', 0.3),
  baseQualityBarsFull: int('base', 'Bars for full credit', 10),
  baseQualitySizeWeight: num('base', 'Quality weight: size', 0.2),
  baseQualityVolumeWeight: num('base', 'Quality weight: steady volume', 0.25),
  baseQualityInsideWeight: num('base', 'Quality weight: closes inside', 0.25),
  baseSizeIdealMinTicks: num('base', 'Ideal height from (ticks)', 2),
  baseSizeIdealMaxTicks: num('base', 'Ideal height to (ticks)', 6),
  baseSizeIdealScore: num('base', 'Size score: ideal', 1, 0, 1),
  baseSizeOkMinTicks: num('base', 'Acceptable height from (ticks)', 1),
  baseSizeOkMaxTicks: num('base', 'Acceptable height to (ticks)', 8),
  baseSizeOkScore: num('base', 'Size score: acceptable', 0.7, 0, 1),
  baseSizeOtherScore: num('base', 'Size score: other', 0.3, 0, 1),

  // Component 3, Golden rule ("rouge sous verte").
  goldenRuleBars: int('golden-rule', 'Golden rule bars', 20),
  goldenRuleToleranceTicks: num('golden-rule', 'Tolerance (ticks)', 0.5),
  trendStrong: num('golden-rule', 'Trend: strong', 0.6, 0, 1),
  trendWeak: num('golden-rule', 'Trend: weak', 0.2, 0, 1),
  trendBattleThreshold: num('golden-rule', 'Battle needed for a strong trend', 0.4, 0, 1),

  // Components 5 and 6: order flow and gamma; the VIX factor.
  orderflowBars: int('context', 'Order flow bars', 5, 2),
  gammaRegime: num('context', 'Gamma regime (above/below flip)', 0.5, 0, 1),
  gammaWallTicks: num('context', 'Wall pull distance (ticks)', 8),
  gammaWallPull: num('context', 'Wall pull', 0.5, 0, 1),
  vixLow: num('context', 'VIX calm below', 15),
  vixHigh: num('context', 'VIX elevated above', 22),
  vixExtreme: num('context', 'VIX extreme above', 35),
  vixLowFactor: num('context', 'Factor: calm', 1.05),
  vixNormalFactor: num('context', 'Factor: normal', 1),
  vixHighFactor: num('context', 'Factor: elevated', 0.9),
  vixExtremeFactor: num('context', 'Factor: extreme', 0.85),

  // Core and score weights.
  coreBattleWeight: num('weights', 'Core: battle', 0.4),
  coreTrendWeight: num('weights', 'Core: trend', 0.35),
  coreBaseWeight: num('weights', 'Core: base', 0.25),
  scoreCoreWeight: num('weights', 'Score: core', 0.6),
  scoreVwapWeight: num('weights', 'Score: VWAP', 0.15),
  scoreOrderflowWeight: num('weights', 'Score: order flow', 0.15),
  scoreGammaWeight: num('weights', 'Score: gamma', 0.1),

  // Decision.
  longThreshold: num('thresholds', 'LONG at score ≥', 0.25, 1e-9, 1),
  shortThreshold: num('thresholds', 'SHORT at score ≤ minus', 0.25, 1e-9, 1),
  confidencePatternBars: int('thresholds', 'Patterns counted over (bars)', 3),
  confidencePatternBonus: num('thresholds', 'Confidence bonus per pattern', 0.1),

  // Vetoes.
  vetoGoldenRule: bool('vetoes', 'Veto against a violated base', true),
  wallVetoTicks: num('vetoes', 'Veto near a wall (ticks)', 4),
  minBars: int('vetoes', 'Bars before the first signal', 20),

  // Trading hours (America/New_York) and cooldown.
  tradingHoursEnabled: bool('hours', 'Only inside trading hours', true),
  tradingStart: time('hours', 'Trading from (New York)', '09:35'),
  tradingEnd: time('hours', 'Trading until (New York)', '15:45'),
  cooldownMin: num('hours', 'Cooldown after a signal (min)', 15),

  // Orders suggested.
  stopTicks: num('orders', 'Stop (ticks)', 7, 1),
  baseStopBufferTicks: num('orders', 'Stop beyond the base by (ticks)', 2),
  tp1R: num('orders', 'Target 1 (R)', 2, 0.1),
  tp2R: num('orders', 'Target 2 (R)', 3, 0.1),

  // Patterns.
  longBarTicks: num('patterns', 'Long bar reach (ticks)', 8),
  longBarRangeTicks: num('patterns', 'Long bar full range (ticks)', 16, 1e-9),
  longBarRangeWeight: num('patterns', 'Long bar weight: range', 0.7),
  longBarVolumeWeight: num('patterns', 'Long bar weight: volume', 0.3),
  colorDownRedBars: int('patterns', 'Color Down: red bars', 3),
  colorDownMinRangeTicks: num('patterns', 'Color Down: green range above (ticks)', 12),
  colorDownRangeTicks: num('patterns', 'Color Down: full range (ticks)', 24, 1e-9),
  colorDownRangeWeight: num('patterns', 'Color Down weight: range', 0.8),
  colorDownVolumeWeight: num('patterns', 'Color Down weight: volume', 0.2),
} satisfies Record<string, SettingField>;

export type SettingKey = keyof typeof SETTINGS_SCHEMA;
type ValueOf<F> = F extends BoolField ? boolean : F extends TimeField ? string : number;
export type BattleNavaleSettings = { readonly [K in SettingKey]: ValueOf<(typeof SETTINGS_SCHEMA)[K]> };
/** Resolved settings plus the derived values the engine needs on every bar. */
export interface ResolvedSettings extends BattleNavaleSettings {
  readonly tradingStartMin: number;
  readonly tradingEndMin: number;
  readonly cooldownMs: number;
  /** The score expression (empty = today's formula), compiled once; see score-formula.ts. */
  readonly scoreExpression: string;
  readonly scoreFormula: ScoreFormula;
}

/** The settings a node or caller may give: the schema's values plus the score expression. */
export type SettingsInput = Partial<Record<SettingKey, unknown>> & { scoreExpression?: unknown };

export const SETTING_KEYS = Object.keys(SETTINGS_SCHEMA) as SettingKey[];

export const DEFAULT_SETTINGS: ResolvedSettings = resolveSettings();

function fail(key: SettingKey, field: SettingField, expected: string, got: unknown): never {
  throw new InvalidInputError(
    `Battle Navale setting "${field.label}" (${key}) must be ${expected}; got ${JSON.stringify(got)}. Fix it in the node's settings.`,
  );
}

function readValue(key: SettingKey, field: SettingField, raw: unknown): number | boolean | string {
  if (raw === undefined || raw === null || raw === '') return field.default;
  if (field.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    return fail(key, field, 'true or false', raw);
  }
  if (field.kind === 'time') {
    if (typeof raw === 'string') {
      try {
        parseHhMm(raw);
        return raw.trim();
      } catch {
        // fall through to the trader-readable error
      }
    }
    return fail(key, field, 'a time of day HH:MM', raw);
  }
  const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  const range = `between ${field.min} and ${field.max}`;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < field.min || value > field.max) {
    return fail(key, field, `a number ${range}`, raw);
  }
  if (field.kind === 'int' && !Number.isInteger(value)) return fail(key, field, `a whole number ${range}`, raw);
  return value;
}

/**
 * The settings with every missing value at its documented default, numbers given as text accepted (node config),
 * and each value checked. Throws InvalidInputError naming the setting.
 */
export function resolveSettings(input: SettingsInput = {}): ResolvedSettings {
  const out: Record<string, number | boolean | string> = {};
  for (const key of SETTING_KEYS) out[key] = readValue(key, SETTINGS_SCHEMA[key], input[key]);
  const s = out as unknown as BattleNavaleSettings;
  const tradingStartMin = parseHhMm(s.tradingStart);
  const tradingEndMin = parseHhMm(s.tradingEnd);
  if (tradingEndMin <= tradingStartMin) {
    throw new InvalidInputError(
      `Battle Navale trading hours ${s.tradingStart}–${s.tradingEnd} are empty: the end must be after the start.`,
    );
  }
  if (s.battleBuyShareLow > s.battleBuyShareHigh) {
    throw new InvalidInputError(
      `Battle Navale buy share for Défenseurs (${s.battleBuyShareLow}) must not exceed the one for Vikings (${s.battleBuyShareHigh}).`,
    );
  }
  if (!(s.vixLow <= s.vixHigh && s.vixHigh <= s.vixExtreme)) {
    throw new InvalidInputError(
      `Battle Navale VIX levels must rise: calm ${s.vixLow} ≤ elevated ${s.vixHigh} ≤ extreme ${s.vixExtreme}.`,
    );
  }
  const needed = Math.max(
    s.battleBars,
    s.baseStdBars,
    s.baseSpanBars,
    s.baseTypeCloses,
    s.goldenRuleBars,
    s.orderflowBars,
    s.confidencePatternBars + s.colorDownRedBars,
    s.confidencePatternBars + 2,
  );
  if (s.windowBars < needed) {
    throw new InvalidInputError(
      `Battle Navale window of ${s.windowBars} bars is shorter than the longest look-back (${needed} bars): raise "Window (bars)".`,
    );
  }
  const expression = input.scoreExpression ?? '';
  if (typeof expression !== 'string') {
    throw new InvalidInputError(`Battle Navale score expression must be text; got ${JSON.stringify(expression)}.`);
  }
  const scoreFormula = compileScoreFormula(expression, s);
  return Object.freeze({ ...s, tradingStartMin, tradingEndMin, cooldownMs: s.cooldownMin * 60_000, scoreExpression: scoreFormula.text, scoreFormula });
}
