// Turns an Evaluation into the output message of docs/battle-navale.md ("Output message"), with the reasons written
// for a trader. Only called when a message is sent, so the engine's per-bar path never formats text.
import type { SignalKind, SignalPayload } from '../contracts';
import { BASE_GREEN, BASE_RED, RULE_INTACT, RULE_VIOLATED } from './components';
import {
  Evaluation,
  LONG,
  NO_SIGNAL,
  SHORT,
  VETO_COOLDOWN,
  VETO_GOLDEN_RULE,
  VETO_HOURS,
  VETO_WALL,
  VETO_WARMUP,
} from './evaluate';
import { PATTERN_DIRECTION, PATTERN_NAMES } from './patterns';
import type { ResolvedSettings } from './settings';

const KIND: Record<number, SignalKind> = { [LONG]: 'LONG', [SHORT]: 'SHORT', [NO_SIGNAL]: 'NO_SIGNAL' };

// Scores and components are reported to 4 decimals: enough for a dashboard, and it hides float noise (1e-17).
// Rounded half away from zero, so a mirrored market reports exactly the negated figures.
const round4 = (x: number): number => (x < 0 ? -1 : 1) * (Math.round(Math.abs(x) * 1e4) / 1e4) + 0;
const signed = (x: number, digits = 2): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
const price = (x: number): string => x.toFixed(2);

export function signalKind(value: number): SignalKind {
  return KIND[value];
}

/** Trader-readable reasons, the main one first. */
export function describeEvaluation(ev: Evaluation, s: ResolvedSettings): string[] {
  const reasons: string[] = [];
  const name = KIND[ev.candidate];
  const warmup = `fewer than ${s.minBars} bars seen (${ev.barsSeen} so far)`;
  if (ev.candidate === NO_SIGNAL) {
    if (ev.vetoes & VETO_WARMUP) reasons.push(`${warmup}: no signal yet`);
    reasons.push(`score ${signed(ev.score, 3)} inside ±${s.longThreshold}: no signal`);
  } else {
    const threshold = ev.candidate === LONG ? `≥ +${s.longThreshold}` : `≤ −${s.shortThreshold}`;
    const vetoes: string[] = [];
    if (ev.vetoes & VETO_WARMUP) vetoes.push(warmup);
    if (ev.vetoes & VETO_GOLDEN_RULE) {
      vetoes.push(
        ev.candidate === LONG
          ? `golden rule: a red bar closed below the latest green base (low ${price(ev.memory.greenLow)})`
          : `golden rule: a green bar closed above the latest red base (high ${price(ev.memory.redHigh)})`,
      );
    }
    if (ev.vetoes & VETO_WALL) {
      vetoes.push(
        ev.candidate === LONG
          ? `${ev.wallTicks.toFixed(1)} ticks under the call wall (veto within ${s.wallVetoTicks})`
          : `${ev.wallTicks.toFixed(1)} ticks above the put wall (veto within ${s.wallVetoTicks})`,
      );
    }
    if (ev.vetoes & VETO_HOURS) vetoes.push(`outside trading hours ${s.tradingStart}–${s.tradingEnd} New York`);
    if (ev.vetoes & VETO_COOLDOWN && ev.lastSignalAt !== null) {
      const minutes = Math.floor((ev.now - ev.lastSignalAt) / 6_000) / 10; // floored: never reads "15.0" while vetoed
      vetoes.push(`cooldown: ${minutes.toFixed(1)} min since the last signal (wait ${s.cooldownMin} min)`);
    }
    if (vetoes.length === 0) reasons.push(`${name}: score ${signed(ev.score, 3)} ${threshold}`);
    else for (const v of vetoes) reasons.push(`${name} vetoed: ${v}`);
    if (vetoes.length > 0) reasons.push(`score ${signed(ev.score, 3)} ${threshold}`);
  }
  reasons.push(
    `battle ${signed(ev.battle)} (${ev.battle > 0 ? 'Vikings lead' : ev.battle < 0 ? 'Défenseurs lead' : 'balanced'}), ` +
      `trend ${signed(ev.trend)}, base ${signed(ev.base)}, VWAP ${signed(ev.vwap)}, order flow ${signed(ev.orderflow)}, gamma ${signed(ev.gamma)}`,
  );
  if (ev.rule.state === RULE_VIOLATED) {
    reasons.push(ev.rule.side === BASE_GREEN ? 'golden rule broken: red closed under the green base' : 'golden rule broken: green closed over the red base');
  } else if (ev.rule.state === RULE_INTACT) {
    reasons.push(ev.rule.side === BASE_GREEN ? 'golden rule intact: above the green base' : 'golden rule intact: below the red base');
  }
  if (ev.vixFactor !== 1) reasons.push(`VIX factor ×${ev.vixFactor}`);
  if (!s.scoreFormula.isDefault) reasons.push(`score expression: ${s.scoreFormula.text}`);
  return reasons;
}

/** The output payload for `ev` (symbol added when known). */
export function toSignalPayload(ev: Evaluation, s: ResolvedSettings, symbol?: string): SignalPayload {
  const b = ev.baseFound;
  const patterns: SignalPayload['patterns'] = [];
  for (let k = 0; k < ev.patterns.count; k++) {
    const kind = ev.patterns.kind[k];
    patterns.push({
      name: PATTERN_NAMES[kind],
      direction: PATTERN_DIRECTION[kind] > 0 ? 'bullish' : 'bearish',
      strength: round4(ev.patterns.strength[k]),
      t: ev.patterns.t[k],
    });
  }
  const rule = ev.rule;
  const payload: SignalPayload = {
    signal: KIND[ev.signal],
    score: round4(ev.score),
    confidence: round4(ev.confidence),
    components: {
      battle: round4(ev.battle),
      trend: round4(ev.trend),
      base: round4(ev.base),
      vwap: round4(ev.vwap),
      orderflow: round4(ev.orderflow),
      gamma: round4(ev.gamma),
    },
    base: b.found
      ? { type: b.type === BASE_GREEN ? 'green' : b.type === BASE_RED ? 'red' : 'neutral', high: b.high, low: b.low, quality: round4(b.quality) }
      : null,
    goldenRule: {
      state: rule.state === RULE_VIOLATED ? 'violated' : rule.state === RULE_INTACT ? 'intact' : 'none',
      side: rule.side === BASE_GREEN ? 'green' : rule.side === BASE_RED ? 'red' : null,
    },
    patterns,
    entry: Number.isNaN(ev.entry) ? null : ev.entry,
    stop: Number.isNaN(ev.stop) ? null : ev.stop,
    targets: Number.isNaN(ev.tp1) ? [] : [ev.tp1, ev.tp2],
    reasons: describeEvaluation(ev, s),
    bar: { t: ev.barT, o: ev.barO, h: ev.barH, l: ev.barL, c: ev.barC, v: ev.barV },
  };
  if (symbol !== undefined) payload.symbol = symbol;
  return payload;
}
