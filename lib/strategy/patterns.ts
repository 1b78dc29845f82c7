// The three reported patterns (docs/battle-navale.md, "Patterns"). Each is found with real bars only: Long Down Up
// Bar and Long Up Down Bar on bar n need bar n+1, so they are found when n+1 closes; Color Down Setting is complete
// when its green bar closes. They feed confidence only.
import type { BarWindow } from './bar-window';
import type { ResolvedSettings } from './settings';

export const PATTERN_LONG_DOWN_UP = 0;
export const PATTERN_LONG_UP_DOWN = 1;
export const PATTERN_COLOR_DOWN = 2;

export const PATTERN_NAMES = ['Long Down Up Bar', 'Long Up Down Bar', 'Color Down Setting'] as const;
/** +1 bullish, −1 bearish, by pattern id. */
export const PATTERN_DIRECTION = [1, -1, 1] as const;

/** Patterns found on the last few bars, in preallocated slots (at most 3 per bar). */
export class PatternHits {
  count = 0;
  readonly kind: Int8Array;
  readonly strength: Float64Array;
  /** Time of the pattern's bar n (the long bar b, or the green bar of a Color Down Setting). */
  readonly t: Float64Array;

  constructor(maxBars: number) {
    this.kind = new Int8Array(maxBars * 3);
    this.strength = new Float64Array(maxBars * 3);
    this.t = new Float64Array(maxBars * 3);
  }

  add(kind: number, strength: number, t: number): void {
    this.kind[this.count] = kind;
    this.strength[this.count] = strength;
    this.t[this.count] = t;
    this.count++;
  }
}

/**
 * Finds the patterns completed by the bars at ages 0 … confidencePatternBars − 1 (0 = the newest bar), newest first.
 * Strengths use the window's current mean volume.
 */
export function findPatterns(w: BarWindow, s: ResolvedSettings, out: PatternHits): void {
  out.count = 0;
  const vMean = w.meanVolume();
  const reach = s.longBarTicks * s.tickSize;
  for (let age = 0; age < s.confidencePatternBars && age < w.length; age++) {
    if (age + 2 < w.length) {
      const x = w.index(age);
      const b = w.index(age + 1);
      const p = w.index(age + 2);
      const rangeB = w.h[b] - w.l[b];
      const strength =
        s.longBarRangeWeight * Math.min(rangeB / (s.longBarRangeTicks * s.tickSize), 1) +
        s.longBarVolumeWeight * (vMean > 0 ? Math.min(w.v[b] / vMean, 1) : 0);
      if (
        w.o[b] < w.c[p] &&
        w.h[p] > w.l[b] + reach &&
        w.o[x] > w.c[b] &&
        w.h[x] > w.l[b] + reach &&
        w.h[x] > w.h[p]
      ) {
        out.add(PATTERN_LONG_DOWN_UP, strength, w.t[b]);
      } else if (
        w.o[b] > w.c[p] &&
        w.l[p] < w.h[b] - reach &&
        w.o[x] < w.c[b] &&
        w.l[x] < w.h[b] - reach &&
        w.l[x] < w.l[p]
      ) {
        out.add(PATTERN_LONG_UP_DOWN, strength, w.t[b]);
      }
    }
    if (age + s.colorDownRedBars < w.length) {
      const g = w.index(age);
      const range = w.h[g] - w.l[g];
      if (w.c[g] > w.o[g] && range > s.colorDownMinRangeTicks * s.tickSize) {
        let reds = 0;
        while (reds < s.colorDownRedBars) {
          const r = w.index(age + 1 + reds);
          if (!(w.c[r] < w.o[r])) break;
          reds++;
        }
        if (reds === s.colorDownRedBars) {
          const strength =
            s.colorDownRangeWeight * Math.min(range / (s.colorDownRangeTicks * s.tickSize), 1) +
            s.colorDownVolumeWeight * (vMean > 0 ? Math.min(w.v[g] / vMean, 1) : 0);
          out.add(PATTERN_COLOR_DOWN, strength, w.t[g]);
        }
      }
    }
  }
}
