// The session engine behind mia-vwap-delta: ticks (or bars) in; anchored VWAP with σ bands, bars on the session clock
// with buy/sell volume and delta, cumulative delta reset at the anchor, buy pressure over a rolling window, footprint
// imbalances (optional: `footprint: false` skips the ladder). O(1) per tick and allocation-free except when a bar
// closes. Time comes from the data, never the clock.
import type { Bar, Imbalance, Tick, VwapPayload } from '../contracts';
import { InvalidInputError, describeValue } from '../errors';
import { BUY, SELL, TradeClassifier, UNKNOWN, tickMove } from './classify';
import { DEFAULT_IMBALANCE, Footprint, type ImbalanceSettings } from './footprint';
import { approximateSplit, type ApproxDeltaMethod, PressureWindow } from './order-flow';
import { AnchorClock, type AnchorSpec, BarClock, GLOBEX_OPEN_MINUTES } from './session';
import { timeframeMs } from './timeframe';
import { VwapAccumulator, typicalPrice } from './vwap';

export interface VwapDeltaSettings {
  symbol: string; // the symbol stamped on output (ticks carry their own; this is the fallback)
  anchor: AnchorSpec;
  timeframe: string; // bars built from ticks: '1min', '5min', ...
  tickSize: number; // price increment for the footprint (ES 0.25)
  imbalance: ImbalanceSettings;
  pressureBars: number; // buy pressure window: this many closed bars plus the forming one
  approxMethod: ApproxDeltaMethod; // for bars that arrive without delta
  footprint: boolean; // keep the per-price ladder and report imbalances (off: `imbalances` is always empty)
}

export const DEFAULT_VWAP_DELTA: VwapDeltaSettings = {
  symbol: 'ES',
  anchor: { kind: 'daily', minutes: GLOBEX_OPEN_MINUTES },
  timeframe: '1min',
  tickSize: 0.25,
  imbalance: DEFAULT_IMBALANCE,
  pressureBars: 5,
  approxMethod: 'close-location',
  footprint: true,
};

/** Called for every bar a tick closes, before that tick is counted: the engine state is the bar's close. */
export type BarListener = (bar: Bar) => void;

/** Aggressor flag of a tick as a hot-path code. */
export function sideCode(side: Tick['side']): number {
  return side === 'buy' ? BUY : side === 'sell' ? SELL : UNKNOWN;
}

/** A bar's length from its own timeframe (a preload's bars may be finer than the engine's), 1 min when unstated. */
export function barLengthMs(bar: Bar): number {
  try {
    return timeframeMs(bar.tf ?? '1min');
  } catch {
    return 60_000;
  }
}

export class VwapDeltaEngine {
  readonly settings: VwapDeltaSettings;
  private readonly vwapSums = new VwapAccumulator();
  private readonly anchorClock: AnchorClock;
  private readonly barClock: BarClock;
  private readonly classifier = new TradeClassifier();
  private readonly footprint: Footprint | null;
  private readonly pressureWindow: PressureWindow;

  private symbol: string;
  private lastT = NaN;
  private cumDelta = 0;
  // the forming bar
  private barOpenT = NaN;
  private barEndT = -Infinity;
  /**
   * The end of the newest bar counted from a bar input (a preload's bars, a bar message). A tick printed before it
   * traded inside that bar, which already counts it: counting the tick too would count the trade twice.
   */
  private barsCountedUntil = -Infinity;
  /** Ticks not counted because a bar input already held them (see barsCountedUntil). */
  ticksInCountedBars = 0;
  private o = NaN;
  private h = NaN;
  private l = NaN;
  private c = NaN;
  private v = 0;
  private buyVolume = 0;
  private sellVolume = 0;
  // the last closed bar (what a 'bar'-mode vwap message reports)
  private closedDelta = 0;
  private closedImbalances: Imbalance[] = [];

  constructor(settings: Partial<VwapDeltaSettings> = {}) {
    this.settings = { ...DEFAULT_VWAP_DELTA, ...settings };
    const s = this.settings;
    if (!(s.tickSize > 0)) throw new InvalidInputError(`Tick size must be a positive price increment, got ${s.tickSize}`);
    if (!(s.pressureBars >= 1)) throw new InvalidInputError(`Pressure window must be at least 1 bar, got ${s.pressureBars}`);
    if (!(s.imbalance.ratio >= 1)) throw new InvalidInputError(`Imbalance ratio must be ≥ 1, got ${s.imbalance.ratio}`);
    this.symbol = s.symbol;
    this.anchorClock = new AnchorClock(s.anchor);
    this.barClock = new BarClock(timeframeMs(s.timeframe));
    this.footprint = s.footprint ? new Footprint(s.tickSize) : null;
    this.pressureWindow = new PressureWindow(Math.floor(s.pressureBars));
  }

  /**
   * One trade. `aggressor` is +1 buy / −1 sell / 0 unknown (see sideCode); bid/ask NaN when unknown.
   * Returns the bar this tick closed, if any (also passed to `onBar`).
   */
  tick(t: number, price: number, size: number, bid: number, ask: number, aggressor: number, onBar?: BarListener): Bar | null {
    if (t < this.barsCountedUntil) {
      this.ticksInCountedBars += 1;
      return null;
    }
    let closed: Bar | null = null;
    if (t >= this.barEndT) {
      closed = this.closeBar();
      if (closed && onBar) onBar(closed);
      this.openBar(t, price);
    }
    if (this.anchorClock.roll(t)) this.resetAnchor();
    this.lastT = t;
    const dir = this.classifier.classify(price, bid, ask, aggressor);
    if (price > this.h) this.h = price;
    if (price < this.l) this.l = price;
    this.c = price;
    this.v += size;
    if (dir > 0) this.buyVolume += size;
    else if (dir < 0) this.sellVolume += size;
    if (this.footprint) this.footprint.add(price, size, dir);
    if (!this.anchorClock.before(t)) {
      this.vwapSums.add(price, size);
      this.cumDelta += dir * size;
    }
    return closed;
  }

  /** A batch of ticks, oldest first. Validates the whole batch before counting any of it. */
  ticks(batch: readonly Tick[], onBar?: BarListener, symbolFilter = ''): void {
    validateTicks(batch);
    for (let i = 0; i < batch.length; i++) {
      const k = batch[i];
      if (symbolFilter !== '' && k.symbol !== symbolFilter) continue;
      if (k.symbol !== undefined && k.symbol !== this.symbol) this.symbol = k.symbol;
      // A bid or ask that is not a number is an unknown quote (NaN), never compared as an object.
      this.tick(k.t, k.price, k.size, quotePrice(k.bid), quotePrice(k.ask), sideCode(k.side), onBar);
    }
  }

  /**
   * Column-oriented ticks (typed arrays), for replay and benchmarks; the same results as calling `tick` for each.
   * With no quotes and no aggressor flags (tick-rule delta) the ticks between two boundaries (bar close, anchor) run
   * in one register-resident loop; boundaries, the first counted tick of a period and quoted ticks go through `tick`.
   */
  tickColumns(
    n: number,
    t: Float64Array,
    price: Float64Array,
    size: Float64Array,
    bid?: Float64Array,
    ask?: Float64Array,
    aggressor?: Int8Array,
    onBar?: BarListener,
  ): void {
    if (bid || ask || aggressor) {
      for (let i = 0; i < n; i++) {
        this.tick(t[i], price[i], size[i], bid ? bid[i] : NaN, ask ? ask[i] : NaN, aggressor ? aggressor[i] : 0, onBar);
      }
      return;
    }
    let i = 0;
    // Ticks inside bars already counted (in time order: a prefix) go through `tick`, which leaves them out.
    for (; i < n && t[i] < this.barsCountedUntil; i++) this.tick(t[i], price[i], size[i], NaN, NaN, 0, onBar);
    while (i < n) {
      const limit = Math.min(this.barEndT, this.anchorClock.next);
      if (t[i] >= limit || this.anchorClock.before(t[i]) || this.vwapSums.volume === 0) {
        this.tick(t[i], price[i], size[i], NaN, NaN, 0, onBar);
        i++;
        continue;
      }
      const from = i;
      const { lastPrice, lastMove } = this.classifier;
      const deltaBefore = this.buyVolume - this.sellVolume;
      const volumeBefore = this.v;
      i = this.tickRun(i, n, limit, t, price, size);
      // the run counts into the bar; the anchor's volume and cumulative delta grow by the same amounts
      this.vwapSums.volume += this.v - volumeBefore;
      this.cumDelta += this.buyVolume - this.sellVolume - deltaBefore;
      if (this.footprint) this.footprint.addTickRule(price, size, from, i, lastPrice, lastMove, this.l, this.h);
    }
  }

  /**
   * Ticks from i (before `limit`, inside a counted period that already has volume) up to the first at or after
   * `limit`, with all state in locals: the bar (with its tick-rule buy/sell split) and the VWAP sums. Returns the next index. Only stores
   * follow the loop: V8 compiles the loop on-stack before the code after it has run, and any arithmetic there would
   * lack type feedback and bail out of the compiled loop on every bar.
   */
  private tickRun(i: number, n: number, limit: number, t: Float64Array, price: Float64Array, size: Float64Array): number {
    const cls = this.classifier;
    const sums = this.vwapSums;
    const ref = sums.ref;
    let lastT = this.lastT;
    let c = this.c;
    let lastPrice = cls.lastPrice;
    let lastMove = cls.lastMove;
    let h = this.h;
    let l = this.l;
    let v = this.v;
    let buyVolume = this.buyVolume;
    let sellVolume = this.sellVolume;
    let sumDv = sums.sumDv;
    let sumD2v = sums.sumD2v;
    // Imported bindings read once: a CommonJS transform (tsx, esbuild) turns each read into a getter call.
    const move = tickMove;
    const buy = BUY;
    const sell = SELL;
    for (; i < n; i++) {
      const ti = t[i];
      if (ti >= limit) break;
      const p = price[i];
      const q = size[i];
      lastT = ti;
      c = p;
      lastMove = move(p, lastPrice, lastMove);
      lastPrice = p;
      h = p > h ? p : h;
      l = p < l ? p : l;
      v += q;
      buyVolume += lastMove === buy ? q : 0;
      sellVolume += lastMove === sell ? q : 0;
      const d = p - ref;
      const dq = d * q;
      sumDv += dq;
      sumD2v += d * dq;
    }
    this.lastT = lastT;
    this.c = c;
    this.h = h;
    this.l = l;
    this.v = v;
    this.buyVolume = buyVolume;
    this.sellVolume = sellVolume;
    cls.lastPrice = lastPrice;
    cls.lastMove = lastMove;
    sums.sumDv = sumDv;
    sums.sumD2v = sumD2v;
    return i;
  }

  /**
   * A closed bar from a bar feed: VWAP on its typical price, its own delta when it has one, else the approximation
   * (flagged approxDelta). Returns the bar with delta, buyVolume and sellVolume filled in.
   */
  bar(input: Bar): Bar {
    validateBar(input);
    if (this.anchorClock.roll(input.t)) this.resetAnchor();
    this.symbol = input.symbol ?? this.symbol;
    this.lastT = input.t;
    this.barsCountedUntil = Math.max(this.barsCountedUntil, input.t + barLengthMs(input));
    let out: Bar;
    if (typeof input.delta === 'number' && Number.isFinite(input.delta)) {
      const buy = input.buyVolume ?? (input.v + input.delta) / 2;
      const sell = input.sellVolume ?? input.v - buy;
      out = { ...input, buyVolume: buy, sellVolume: sell };
    } else {
      const split = approximateSplit(input, this.settings.approxMethod);
      out = { ...input, ...split, approxDelta: true };
    }
    if (!this.anchorClock.before(input.t)) {
      this.vwapSums.add(typicalPrice(input.h, input.l, input.c), input.v);
      this.cumDelta += out.delta ?? 0;
    }
    this.pressureWindow.push(out.buyVolume ?? 0, out.sellVolume ?? 0);
    this.closedDelta = out.delta ?? 0;
    this.closedImbalances = [];
    return out;
  }

  /** The `vwap` payload now: of the forming bar, or (`ofClosedBar`) of the bar that just closed. */
  snapshot(ofClosedBar = false): VwapPayload {
    const vwap = this.vwapSums.vwap;
    const sigma = this.vwapSums.sigma;
    const formingBuy = ofClosedBar ? 0 : this.buyVolume;
    const formingSell = ofClosedBar ? 0 : this.sellVolume;
    return {
      symbol: this.symbol,
      t: this.lastT,
      anchor: this.anchorClock.start,
      vwap,
      sigma,
      bands: {
        upper1: vwap + sigma,
        lower1: vwap - sigma,
        upper2: vwap + 2 * sigma,
        lower2: vwap - 2 * sigma,
        upper3: vwap + 3 * sigma,
        lower3: vwap - 3 * sigma,
      },
      barDelta: ofClosedBar ? this.closedDelta : this.buyVolume - this.sellVolume,
      cumDelta: this.cumDelta,
      buyPressure: this.pressureWindow.pressure(formingBuy, formingSell),
      imbalances: ofClosedBar ? this.closedImbalances : this.formingImbalances(),
    };
  }

  /** True once any volume has been counted since the anchor (a vwap is defined). */
  get hasVwap(): boolean {
    return this.vwapSums.volume > 0;
  }

  /** The forming bar so far (null before the first tick). */
  formingBar(): Bar | null {
    if (Number.isNaN(this.barOpenT)) return null;
    return this.makeBar();
  }

  private formingImbalances(): Imbalance[] {
    return this.footprint ? this.footprint.imbalances(this.settings.imbalance) : [];
  }

  private openBar(t: number, price: number): void {
    this.barOpenT = this.barClock.barOpen(t);
    this.barEndT = this.barClock.barEnd;
    this.o = this.h = this.l = this.c = price;
    this.v = this.buyVolume = this.sellVolume = 0;
  }

  private closeBar(): Bar | null {
    if (Number.isNaN(this.barOpenT)) return null;
    const bar = this.makeBar();
    this.closedDelta = this.buyVolume - this.sellVolume;
    this.closedImbalances = this.formingImbalances();
    this.pressureWindow.push(this.buyVolume, this.sellVolume);
    if (this.footprint) this.footprint.reset();
    this.buyVolume = this.sellVolume = 0; // so a closed-bar snapshot does not count them twice
    return bar;
  }

  private makeBar(): Bar {
    return {
      symbol: this.symbol,
      t: this.barOpenT,
      tf: this.settings.timeframe,
      o: this.o,
      h: this.h,
      l: this.l,
      c: this.c,
      v: this.v,
      delta: this.buyVolume - this.sellVolume,
      buyVolume: this.buyVolume,
      sellVolume: this.sellVolume,
    };
  }

  private resetAnchor(): void {
    this.vwapSums.reset();
    this.cumDelta = 0;
  }
}

function quotePrice(x: unknown): number {
  return typeof x === 'number' ? x : NaN;
}

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Throws InvalidInputError naming the first bad tick and field. */
export function validateTicks(batch: readonly Tick[]): void {
  for (let i = 0; i < batch.length; i++) {
    const k = batch[i] as Partial<Tick> | null;
    const where = batch.length > 1 ? `tick #${i}` : 'tick';
    if (k === null || typeof k !== 'object') throw new InvalidInputError(`${where} is not an object {t, price, size}`);
    if (!finite(k.t)) throw new InvalidInputError(`${where}: t must be a time in epoch ms, got ${describeValue(k.t)}`);
    if (!finite(k.price) || k.price <= 0) {
      throw new InvalidInputError(`${where}: price must be a positive number, got ${describeValue(k.price)}`);
    }
    if (!finite(k.size) || k.size < 0) {
      throw new InvalidInputError(`${where}: size must be a number ≥ 0, got ${describeValue(k.size)}`);
    }
    if (k.side !== undefined && k.side !== 'buy' && k.side !== 'sell') {
      throw new InvalidInputError(`${where}: side must be "buy" or "sell" when given, got ${describeValue(k.side)}`);
    }
  }
}

export function validateBar(b: Partial<Bar> | null): asserts b is Bar {
  if (b === null || typeof b !== 'object') throw new InvalidInputError('bar is not an object {t, o, h, l, c, v}');
  for (const f of ['t', 'o', 'h', 'l', 'c', 'v'] as const) {
    if (!finite(b[f])) throw new InvalidInputError(`bar: ${f} must be a number, got ${describeValue(b[f])}`);
  }
  const bar = b as Bar;
  if (bar.h < bar.l || bar.h < Math.max(bar.o, bar.c) || bar.l > Math.min(bar.o, bar.c)) {
    throw new InvalidInputError(`bar at ${bar.t}: high ${bar.h} / low ${bar.l} do not contain open and close`);
  }
  if (bar.v < 0) throw new InvalidInputError(`bar at ${bar.t}: volume must be ≥ 0, got ${bar.v}`);
}
