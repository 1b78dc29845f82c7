// The bounded window of closed bars the engine reads: a ring buffer of columns (one Float64Array per field), so
// pushing a bar allocates nothing, plus running sums for the window means (v̄ and d̄ of battle-navale.md).
// Missing optional values (delta, buy/sell volume, cumulative delta) are stored as NaN.
import { InvalidInputError } from '../errors';

/** One closed bar as the engine takes it (the `bar` contract, symbol and timeframe aside). */
export interface BarInput {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  delta?: number;
  buyVolume?: number;
  sellVolume?: number;
  /** Session cumulative delta at this bar's close, when a VWAP/delta feed provides it. */
  cumDelta?: number;
}

export class BarWindow {
  readonly capacity: number;
  readonly t: Float64Array;
  readonly o: Float64Array;
  readonly h: Float64Array;
  readonly l: Float64Array;
  readonly c: Float64Array;
  readonly v: Float64Array;
  /** The bar's delta, or the change of the cumulative delta since the previous bar. */
  readonly delta: Float64Array;
  readonly buy: Float64Array;
  readonly sell: Float64Array;
  /** Cumulative delta: the feed's value, else the running sum of the bars' deltas. */
  readonly cum: Float64Array;
  length = 0;
  private newest = -1;
  private volumeSum = 0;
  private absDeltaSum = 0;
  private deltaCount = 0;
  private pushesSinceResum = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.t = new Float64Array(capacity);
    this.o = new Float64Array(capacity);
    this.h = new Float64Array(capacity);
    this.l = new Float64Array(capacity);
    this.c = new Float64Array(capacity);
    this.v = new Float64Array(capacity);
    this.delta = new Float64Array(capacity);
    this.buy = new Float64Array(capacity);
    this.sell = new Float64Array(capacity);
    this.cum = new Float64Array(capacity);
  }

  /** Slot of the bar `age` bars back (0 = the newest). The caller keeps age < length. */
  index(age: number): number {
    const i = this.newest - age;
    return i < 0 ? i + this.capacity : i;
  }

  /** Mean volume of the window (v̄), 0 when empty. */
  meanVolume(): number {
    return this.length > 0 ? this.volumeSum / this.length : 0;
  }

  /** Mean |delta| of the window's bars that have one (d̄), 0 when none has. */
  meanAbsDelta(): number {
    return this.deltaCount > 0 ? this.absDeltaSum / this.deltaCount : 0;
  }

  newestTime(): number {
    return this.length > 0 ? this.t[this.newest] : -Infinity;
  }

  clear(): void {
    this.length = 0;
    this.newest = -1;
    this.volumeSum = 0;
    this.absDeltaSum = 0;
    this.deltaCount = 0;
    this.pushesSinceResum = 0;
  }

  /** Appends `bar` as the newest; `feedCum` is the feed's cumulative delta at its close (NaN when unknown). */
  push(bar: BarInput, feedCum: number = bar.cumDelta ?? NaN): void {
    const prevCum = this.length > 0 ? this.cum[this.newest] : NaN;
    const slot = this.newest + 1 === this.capacity ? 0 : this.newest + 1;
    if (this.length === this.capacity) {
      this.volumeSum -= this.v[slot];
      const old = this.delta[slot];
      if (old === old) {
        this.absDeltaSum -= Math.abs(old);
        this.deltaCount--;
      }
    } else {
      this.length++;
    }
    this.newest = slot;
    this.t[slot] = bar.t;
    this.o[slot] = bar.o;
    this.h[slot] = bar.h;
    this.l[slot] = bar.l;
    this.c[slot] = bar.c;
    this.v[slot] = bar.v;
    this.buy[slot] = bar.buyVolume ?? NaN;
    this.sell[slot] = bar.sellVolume ?? NaN;
    let delta = bar.delta ?? NaN;
    if (delta !== delta && feedCum === feedCum && prevCum === prevCum) delta = feedCum - prevCum;
    this.delta[slot] = delta;
    this.cum[slot] = feedCum === feedCum ? feedCum : delta !== delta ? NaN : prevCum === prevCum ? prevCum + delta : delta;
    this.volumeSum += bar.v;
    if (delta === delta) {
      this.absDeltaSum += Math.abs(delta);
      this.deltaCount++;
    }
    // Running sums of non-integer volumes drift by rounding; re-summing once per window length bounds it for good.
    if (++this.pushesSinceResum >= this.capacity) this.resum();
  }

  private resum(): void {
    this.pushesSinceResum = 0;
    let volume = 0;
    let absDelta = 0;
    let count = 0;
    for (let age = 0; age < this.length; age++) {
      const i = this.index(age);
      volume += this.v[i];
      const d = this.delta[i];
      if (d === d) {
        absDelta += Math.abs(d);
        count++;
      }
    }
    this.volumeSum = volume;
    this.absDeltaSum = absDelta;
    this.deltaCount = count;
  }
}

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * Checks one bar before it enters the window: finite prices, h ≥ max(o, c), l ≤ min(o, c), volume ≥ 0, optional
 * fields numbers when present. Throws InvalidInputError naming the field. `where` says which input it came from.
 */
export function validateBar(bar: unknown, where = 'bar'): BarInput {
  if (typeof bar !== 'object' || bar === null || Array.isArray(bar)) {
    throw new InvalidInputError(`${where} must be an object {t, o, h, l, c, v}; got ${bar === null ? 'null' : typeof bar}.`);
  }
  const b = bar as Record<string, unknown>;
  for (const field of ['t', 'o', 'h', 'l', 'c', 'v'] as const) {
    if (!finite(b[field])) {
      throw new InvalidInputError(`${where}.${field} must be a finite number; got ${JSON.stringify(b[field])}.`);
    }
  }
  for (const field of ['delta', 'buyVolume', 'sellVolume', 'cumDelta'] as const) {
    if (b[field] !== undefined && b[field] !== null && !finite(b[field])) {
      throw new InvalidInputError(`${where}.${field} must be a finite number when present; got ${JSON.stringify(b[field])}.`);
    }
  }
  const { t, o, h, l, c, v } = b as unknown as BarInput;
  if (h < Math.max(o, c) || l > Math.min(o, c)) {
    throw new InvalidInputError(`${where} at ${new Date(t).toISOString()} is inconsistent: high ${h} / low ${l} do not contain open ${o} and close ${c}.`);
  }
  if (v < 0) throw new InvalidInputError(`${where}.v (volume) must not be negative; got ${v}.`);
  const out: BarInput = { t, o, h, l, c, v };
  if (finite(b.delta)) out.delta = b.delta;
  if (finite(b.buyVolume)) out.buyVolume = b.buyVolume;
  if (finite(b.sellVolume)) out.sellVolume = b.sellVolume;
  if (finite(b.cumDelta)) out.cumDelta = b.cumDelta;
  return out;
}

const TIMEFRAME = /^(\d+)\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours|d|day|days)$/i;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Length of a bar timeframe ('1min', '5min', '1h', '1d', '30s') in ms; a missing timeframe means 1 min. */
export function timeframeMs(tf: unknown): number {
  if (tf === undefined || tf === null || tf === '') return 60_000;
  const m = typeof tf === 'string' ? TIMEFRAME.exec(tf.trim()) : null;
  if (!m || Number(m[1]) === 0) {
    throw new InvalidInputError(`bar timeframe ${JSON.stringify(tf)} is not one of '1min', '5min', '15min', '1h', '1d' (or Ns / Nmin / Nh).`);
  }
  return Number(m[1]) * UNIT_MS[m[2][0].toLowerCase()];
}
