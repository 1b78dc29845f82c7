// A recording served as the simulators' Market (lib/sim/market-types.ts): the IBKR simulator answers REST and
// WebSocket from it and the DTC simulator fills on its trades, exactly as they do from the seeded market, so the
// client paths are the live ones. Time is the replay clock: 1× real time up to `speed` × real time, or 'max' (as fast
// as the flow keeps up: trades are emitted in batches, each batch once the previous one is consumed), with pause,
// resume and step.
//
// Demand at 'max': after each batch the market emits 'batch' with a `hold` function. A consumer that needs time for
// the batch (the IBKR simulator's WebSocket, until the update is written to every socket) calls hold() and the
// release it returns when done; the next batch comes on the turn of the event loop after the last release. Without
// holders the next batch comes on the next turn. So the replay runs as fast as its consumers, never faster. Batches
// are cut from the recording alone (count and market span), never from timing, so every replay is the same.
//
// Nothing after the replay clock is ever visible: quotes, bars and chains are the latest at or before now(). A 1-minute
// bar is the latest recorded version of it known by now (a bar ibkr-history received, recording.ts) with the trades
// after that record's time added, or, without one, the bar of the trades up to now: so a replay of a live recording
// answers the flow's preload with the bars the live run received, and builds the later bars from the recorded ticks.
import { EventEmitter } from 'events';
import { InvalidInputError } from '../errors';
import { DAY_MS, MINUTE_MS, esSession, tradeDateAtOrAfter } from '../sim/calendar';
import { addToBars } from '../sim/bars';
import { listedEsContracts } from '../sim/market';
import type { ListedOption, Market, MarketBar, MarketOption, MarketQuote, MarketTrade } from '../sim/market-types';
import type { RecordedTick, Recording } from './recording';
import type { RecordedCancel, RecordedFill, RecordedOrder } from './order-path';

export type ReplaySpeed = number | 'max';

export interface RecordedMarketOptions {
  /** Real-time multiple (≥ 1 is usual; any > 0 accepted) or 'max'. Default 1. */
  speed?: ReplaySpeed;
  /** Replay start (epoch ms); default the recording's first record. */
  startTime?: number;
  /** ES − SPX when the recording has no chain snapshot to tell it. Default 25. */
  basis?: number;
  /** Real-time source for paced speeds (ms); default performance.now. */
  realNow?: () => number;
  /** Trades per batch at speed 'max' (a recording of ticks: always 1, each recorded tick was one update). Default 2000. */
  maxBatch?: number;
  /**
   * Market ms a batch spans at most at speed 'max' (a batch is the trades from its first one to less than this later).
   * Default 1000: one stream update a market second (four of IBKR's 250 ms updates folded into one), so a 23 h session
   * is about 58,000 updates; the shipped flow live at 40× sees one every 10 market seconds.
   */
  maxBatchMs?: number;
  /** Pump period at paced speeds (real ms). Default 20. */
  pumpMs?: number;
  /** The symbol whose ticks and bars are replayed when the recording has no trade records. Default 'ES'. */
  symbol?: string;
}

/** One minute of the recording: its recorded bars (time order of their records) and its trades. */
interface Minute {
  k: number;
  /** Recorded versions of this bar, in the order they became known. */
  recs: { at: number; bar: MarketBar }[] | undefined;
  /** The bar of all the minute's trades, if any. */
  tradeBar: MarketBar | undefined;
  /** Trades [i0, i1) are this minute's. */
  i0: number;
  i1: number;
}

export interface ReplayStatus {
  now: number;
  from: number;
  to: number;
  speed: ReplaySpeed;
  paused: boolean;
  ended: boolean;
  /** Trades emitted so far of the total. */
  emitted: number;
  total: number;
}

/** Index of the last element with key ≤ t, or −1. */
function lastAtOrBefore<T>(xs: readonly T[], t: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = xs.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(xs[mid]) <= t) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** Index of the last element with key < t, or −1. */
function lastBefore<T>(xs: readonly T[], t: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = xs.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (key(xs[mid]) < t) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

export function checkSpeed(speed: unknown): ReplaySpeed {
  if (speed === 'max') return 'max';
  if (typeof speed === 'number' && Number.isFinite(speed) && speed > 0) return speed;
  throw new InvalidInputError(`replay speed must be a number > 0 (1 = real time) or "max", got ${JSON.stringify(speed)}`);
}

export class RecordedMarket extends EventEmitter implements Market {
  readonly seed = 0;
  readonly from: number;
  readonly to: number;
  private readonly trades: MarketTrade[];
  private readonly cumVolume: Float64Array; // volume of trades before index i
  private readonly minutes: Minute[];
  /**
   * When the recording holds a preload of history (bars of before its first record, as ibkr-history received them at
   * a flow's start), the time that preload was recorded (received); undefined otherwise.
   */
  readonly preloadAt: number | undefined;
  /**
   * The market time at which the live flow asked for that preload, when the recording tells it (the bars' `asOf`);
   * undefined otherwise. May be before the recording's first record (the flow asks at deploy).
   */
  readonly preloadAskedAt: number | undefined;
  /**
   * Where a replay at 'max' answers the preload (stopAt(t, tradesBefore)): after the trades the flow had received when
   * the live answer came, at a time the answer's bars are known by; undefined without a preload.
   */
  readonly preloadStop: { t: number; tradesBefore: number } | undefined;
  /** At 'max', trades after this time wait (see stopAt); so do those from this index on. */
  private stopTime = Infinity;
  private stopIndex = Infinity;
  /** The stop time 'stopped' was last emitted for. */
  private stoppedAt = NaN;
  /** The simulated Sierra side the recording holds (lib/replay/order-path.ts): empty when none. */
  readonly orderPath: { orders: RecordedOrder[]; fills: RecordedFill[]; cancels: RecordedCancel[] };
  private readonly quotes: MarketQuote[];
  private readonly chains: Recording['chains'];
  private readonly basis: number;
  private readonly realNow: () => number;
  private readonly maxBatch: number;
  private readonly maxBatchMs: number;
  /** Holds on the batch in flight at 'max' (see the header); the next batch waits for 0. */
  private holds = 0;
  /** Bumped by every (re)schedule, so a release of an earlier batch's hold cannot start a second pump. */
  private generation = 0;
  private readonly pumpMs: number;
  private speed: ReplaySpeed;
  private paused = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  /** Virtual time at `anchorReal` (paced) or the clock itself (paused, max). */
  private anchorT: number;
  private anchorReal = 0;
  /** Trades with index < cursor were emitted. */
  private cursor = 0;
  private endedEmitted = false;
  /** Holds on the clock (hold()): while any, the clock stands at heldAt and nothing plays. */
  private clockHolds = 0;
  private heldAt = 0;
  /** A batch at 'max' was due while held: it comes once released. */
  private blockedByHold = false;
  /** At 'max': times to stand at before any later trade plays (at()), in time order. */
  private points: { t: number; onReach: () => void }[] = [];
  private sessionCache = { open: NaN, close: NaN, first: 0 };

  constructor(recording: Recording, options: RecordedMarketOptions = {}) {
    super();
    const ticks = recording.trades.length > 0 ? [] : tradesFromTicks(recording.ticks, options.symbol ?? 'ES');
    const symbol = options.symbol ?? 'ES';
    const recorded: { at: number; bar: MarketBar; recordedAt: number }[] = [];
    recording.bars.forEach((bar, i) => {
      if (bar.symbol === undefined || bar.symbol.startsWith(symbol)) recorded.push({ at: recording.barsKnownAt[i], bar, recordedAt: recording.barsRecordedAt[i] ?? recording.barsKnownAt[i] });
    });
    if (recording.trades.length === 0 && ticks.length === 0 && recorded.length === 0) {
      throw new InvalidInputError('replay: the recording holds no ES trade, tick or bar: nothing to replay');
    }
    this.trades = recording.trades.length > 0 ? recording.trades : ticks.length > 0 ? ticks : tradesFromBars(latestBars(recorded));
    this.cumVolume = new Float64Array(this.trades.length + 1);
    for (let i = 0; i < this.trades.length; i++) this.cumVolume[i + 1] = this.cumVolume[i] + this.trades[i].size;
    this.minutes = minutesOf(recorded, this.trades);
    let preload: { at: number; recordedAt: number } | undefined;
    for (const r of recorded) if (r.bar.t < recording.from && (!preload || r.recordedAt < preload.recordedAt)) preload = r;
    this.preloadAt = preload?.recordedAt;
    this.preloadAskedAt = preload && preload.at < preload.recordedAt ? preload.at : undefined;
    // Where a replay at 'max' stands to answer the preload. Ticks are replayed at their own time, but the flow got some
    // after the preload's answer although they were printed before it (the stream delivers late): only the ticks
    // recorded by the answer's record come before it. Standing at the last of them (or at the request, if later)
    // rather than at the answer's time, the late ticks then play at their own times, as the flow stamped them live.
    if (this.preloadAt !== undefined) {
      const at = this.preloadAt;
      if (recording.trades.length === 0 && ticks.length > 0 && this.preloadAskedAt !== undefined) {
        const before = recording.ticks.filter((x, i) => (x.symbol === symbol || x.symbol.startsWith(symbol)) && recording.ticksRecordedAt[i] <= at).length;
        this.preloadStop = { t: Math.max(this.preloadAskedAt, before > 0 ? ticks[before - 1].t : -Infinity), tradesBefore: before };
      } else this.preloadStop = { t: at, tradesBefore: Infinity };
    }
    this.quotes = recording.quotes
      .filter((q) => (q.symbol === undefined || q.symbol.startsWith(symbol)) && [q.bid, q.ask, q.bidSize, q.askSize].every((x) => typeof x === 'number' && Number.isFinite(x)))
      .sort((a, b) => a.t - b.t);
    this.chains = recording.chains;
    this.orderPath = { orders: recording.sierraOrders ?? [], fills: recording.sierraFills ?? [], cancels: recording.sierraCancels ?? [] };
    this.from = recording.from;
    this.to = recording.to;
    this.basis = options.basis ?? 25;
    this.speed = checkSpeed(options.speed ?? 1);
    this.realNow = options.realNow ?? (() => performance.now());
    this.maxBatch = recording.trades.length === 0 && ticks.length > 0 ? 1 : (options.maxBatch ?? 2000);
    this.maxBatchMs = options.maxBatchMs ?? 1000;
    if (!(this.maxBatch >= 1 && this.maxBatchMs > 0)) throw new InvalidInputError('replay: maxBatch must be ≥ 1 and maxBatchMs > 0');
    this.pumpMs = options.pumpMs ?? 20;
    this.anchorT = options.startTime ?? this.from;
    if (!(this.anchorT >= this.from && this.anchorT <= this.to)) {
      throw new InvalidInputError(`replay start ${new Date(this.anchorT).toISOString()} is outside the recording`);
    }
    // From the beginning every trade is emitted; from a later start, the trades up to it have already happened.
    this.cursor = options.startTime === undefined ? 0 : lastAtOrBefore(this.trades, this.anchorT, (x) => x.t) + 1;
  }

  now(): number {
    if (this.clockHolds > 0) return this.heldAt;
    if (this.paused || !this.running || this.speed === 'max') return this.anchorT;
    return Math.min(this.to, this.anchorT + Math.floor((this.realNow() - this.anchorReal) * this.speed));
  }

  status(): ReplayStatus {
    return {
      now: this.now(),
      from: this.from,
      to: this.to,
      speed: this.speed,
      paused: this.paused,
      ended: this.cursor >= this.trades.length && this.now() >= this.to,
      emitted: this.cursor,
      total: this.trades.length,
    };
  }

  // ---- controls -------------------------------------------------------------------------------------------------

  setSpeed(speed: unknown): void {
    const s = checkSpeed(speed);
    this.anchorT = this.now();
    this.anchorReal = this.realNow();
    this.speed = s;
    this.reschedule();
  }

  pause(): void {
    if (this.paused) return;
    this.anchorT = this.now();
    this.paused = true;
    this.reschedule();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.anchorReal = this.realNow();
    this.reschedule();
  }

  /**
   * Stands the clock still until the returned release is called (every hold released); nothing plays meanwhile, and
   * the clock goes on from where it stood. The simulated Sierra account holds it while an order crosses the DTC socket
   * (lib/sim/order-path-gate.ts), as it holds the seeded market (lib/sim/market.ts).
   */
  hold(): () => void {
    if (this.clockHolds === 0) this.heldAt = this.now();
    this.clockHolds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.clockHolds > 0) return;
      this.anchorT = this.heldAt;
      this.anchorReal = this.realNow();
      if (this.blockedByHold) {
        this.blockedByHold = false;
        if (this.running && !this.paused && this.speed === 'max' && !this.immediate) {
          const generation = this.generation;
          this.immediate = setImmediate(() => this.pumpMax(generation));
        }
      }
    };
  }

  /**
   * At 'max': before any trade after `t` plays, the clock goes to `t` and `onReach` is called there (once), then the
   * replay goes on (onReach may hold the clock). Returns a cancel. The simulated Sierra side of a replay of a live run
   * stands at each recorded order arrival and fill (lib/replay/order-path.ts). A point already passed is reached at the
   * next batch; one after the recording's end never.
   */
  at(t: number, onReach: () => void): () => void {
    const point = { t, onReach };
    let i = this.points.length;
    while (i > 0 && this.points[i - 1].t > t) i--;
    this.points.splice(i, 0, point);
    return () => {
      const j = this.points.indexOf(point);
      if (j >= 0) this.points.splice(j, 1);
    };
  }

  /** Moves the clock `ms` forward (paused or not) and emits the trades crossed, synchronously. */
  step(ms: number): void {
    if (!(typeof ms === 'number' && Number.isFinite(ms) && ms > 0)) throw new InvalidInputError(`replay step must be ms > 0, got ${JSON.stringify(ms)}`);
    this.anchorT = Math.min(this.to, this.now() + ms);
    this.anchorReal = this.realNow();
    if (this.clockHolds > 0) this.heldAt = this.anchorT; // a step is the user's: it moves a held clock too
    this.emitUpTo(this.anchorT);
  }

  /**
   * At 'max': play no trade after `t` (the clock stops at `t` and 'stopped' is emitted) until clearStop(). The link
   * uses it to answer a flow's preload of history at the time the live run received it (lib/ibkr/link.ts).
   */
  stopAt(t: number, tradesBefore = Infinity): void {
    this.stopTime = t;
    this.stopIndex = tradesBefore;
  }

  clearStop(): void {
    if (this.stopTime === Infinity) return;
    this.stopTime = Infinity;
    this.stopIndex = Infinity;
    this.reschedule();
  }

  /** Whether the clock stands at a stopAt() time (nothing more plays until clearStop). */
  get stopped(): boolean {
    return this.stopTime !== Infinity && this.anchorT >= this.stopTime && (this.cursor >= this.trades.length || this.held(this.cursor));
  }

  /** Whether trade i waits for clearStop(). */
  private held(i: number): boolean {
    return this.trades[i].t > this.stopTime || i >= this.stopIndex;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.anchorReal = this.realNow();
    this.reschedule();
  }

  stop(): void {
    if (!this.running) return;
    this.anchorT = this.now();
    this.running = false;
    this.reschedule();
  }

  private reschedule(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
    this.generation++;
    this.holds = 0;
    if (!this.running || this.paused) return;
    if (this.speed === 'max') this.immediate = setImmediate(() => this.pumpMax(this.generation));
    else {
      this.timer = setInterval(() => {
        if (this.clockHolds === 0) this.emitUpTo(this.now());
      }, this.pumpMs);
      this.timer.unref();
    }
  }

  private pumpMax(generation: number): void {
    this.immediate = undefined;
    if (generation !== this.generation || !this.running || this.paused || this.speed !== 'max') return;
    if (this.clockHolds > 0) {
      this.blockedByHold = true;
      return;
    }
    if (!this.pumpBatch()) return;
    this.holds = 0;
    let pending = true; // the emit below may release synchronously: schedule after it either way
    const next = (): void => {
      if (generation !== this.generation || this.holds > 0 || pending || this.immediate) return;
      if (this.cursor < this.trades.length || this.points.some((p) => p.t <= this.to)) this.immediate = setImmediate(() => this.pumpMax(generation));
      else this.pumpBatch(); // the end: clock to the recording's end, 'end' emitted
    };
    const hold = (): (() => void) => {
      if (generation === this.generation) this.holds++;
      let released = false;
      return () => {
        if (released || generation !== this.generation) return;
        released = true;
        this.holds--;
        next();
      };
    };
    this.emit('batch', hold);
    pending = false;
    next();
  }

  /**
   * Emits the next batch of trades at speed 'max' (at most maxBatch trades within maxBatchMs of the first); the
   * clock jumps to the batch's last trade. Returns whether there was any.
   */
  pumpBatch(): boolean {
    const trades = this.trades;
    const point = this.points[0];
    if (point && point.t <= this.stopTime && point.t <= this.to && (this.cursor >= trades.length || trades[this.cursor].t > point.t)) {
      this.points.shift();
      if (point.t > this.anchorT) this.anchorT = point.t;
      point.onReach();
      return true;
    }
    if (this.cursor < trades.length && this.held(this.cursor)) {
      if (this.anchorT < this.stopTime) this.anchorT = this.stopTime;
      this.emitStopped();
      return false;
    }
    if (this.cursor >= trades.length) {
      this.anchorT = Math.min(this.to, Math.max(this.anchorT, this.stopTime === Infinity ? this.to : this.stopTime));
      if (this.stopTime !== Infinity && this.anchorT >= this.stopTime && this.anchorT < this.to) {
        this.emitStopped();
        return false;
      }
      this.checkEnded();
      return false;
    }
    const limit = Math.min(trades.length, this.cursor + this.maxBatch, this.stopIndex);
    const until = Math.min(trades[this.cursor].t + this.maxBatchMs, this.stopTime + 1, point && point.t >= trades[this.cursor].t ? point.t + 1 : Infinity);
    let end = this.cursor + 1;
    while (end < limit && trades[end].t < until) end++;
    this.emitUpTo(trades[end - 1].t, end);
    return true;
  }

  /** 'stopped', once per stop time (a replay that starts at its stop time stands there too). */
  private emitStopped(): void {
    if (this.stoppedAt === this.stopTime) return;
    this.stoppedAt = this.stopTime;
    this.emit('stopped');
  }

  private emitUpTo(t: number, endIndex = this.trades.length): void {
    if (t > this.anchorT && (this.speed === 'max' || this.paused || !this.running)) this.anchorT = t;
    const trades = this.trades;
    while (this.cursor < endIndex && trades[this.cursor].t <= t) {
      const trade = trades[this.cursor++];
      this.emit('trade', trade);
    }
    this.checkEnded();
  }

  private checkEnded(): void {
    if (!this.endedEmitted && this.cursor >= this.trades.length && this.now() >= this.trades[this.trades.length - 1].t) {
      this.endedEmitted = true;
      this.emit('end');
    }
  }

  // ---- the Market interface -------------------------------------------------------------------------------------

  /**
   * The ES quote as the stream shows it now. Its `t` is the time the stream stamps it with (the `_updated` of the
   * simulator's market data): the clock, except at 'max', where the replay plays the recording update by update and
   * each update keeps its recorded stamp (see below).
   */
  esQuote(): MarketQuote {
    const t = this.now();
    // The last trade played, not the last one printed by now: a recording's first record comes after its first tick
    // (a tick is recorded once received), and a quote at the start that already held that tick made the stream's
    // first update hold it too, so the flow never got it as a tick (the live flow did).
    // With nothing played and no recorded quote, the price printed by now (the simulated account needs one at start).
    const printed = lastAtOrBefore(this.trades, t, (x) => x.t);
    // Likewise the touch: the latest recorded quote before the next trade to play. A quote stamped at or after that
    // trade is the update that carried it (its bid and ask are those after it): shown before the trade plays, it made
    // the replayed tick's "touch before" (lib/ibkr/market-data.ts) the touch after, and mia-vwap-delta classified the
    // trade against another quote than live (a recording's first tick, printed before the first record: the live flow
    // saw it as a sell at the bid, the replay as a buy at the ask).
    const next = this.cursor < this.trades.length ? this.trades[this.cursor].t : Infinity;
    const qi = next <= t ? lastBefore(this.quotes, next, (x) => x.t) : lastAtOrBefore(this.quotes, t, (x) => x.t);
    const q = qi >= 0 ? this.quotes[qi] : undefined;
    const i = this.cursor > 0 || q ? Math.min(printed, this.cursor - 1) : printed;
    if (i < 0) {
      // The replay's session volume is that of its trades (0 before the first): a recorded quote's volume is the live
      // session's, and a stream that saw it fall back to the replay's would read a new session and drop a tick.
      if (q) return { ...q, t: this.stamp(q.t, t), volume: 0 };
      throw new InvalidInputError(`replay: no ES price recorded at or before ${new Date(t).toISOString()}`);
    }
    const trade = this.trades[i];
    const first = this.sessionFirstTrade(t);
    const volume = this.cumVolume[i + 1] - this.cumVolume[Math.min(first, i + 1)];
    if (q && q.t >= trade.t) return { ...q, t: this.stamp(q.t, t), last: trade.price, volume };
    return { t: this.stamp(trade.t, t), last: trade.price, bid: trade.bid, ask: trade.ask, bidSize: q?.bidSize ?? 1, askSize: q?.askSize ?? 1, volume };
  }

  /**
   * The stamp of a quote whose newest part (the last trade played, the recorded quote) is from `recorded`. At 'max'
   * that time, never after the clock: live, the stream stamped each update when it sent it, and the recording keeps
   * that stamp (a tick's and a quote's `t`); the replay's clock can stand after it (its start is the first record, which
   * the first update, delivered late, can follow; after a preload's answer, the ticks the flow got only after it play
   * at a clock already there), and stamping the update with the clock moved the replayed tick into another bar than
   * live. At paced speeds the stream sends on its own timer, as live, stamped with the clock.
   */
  private stamp(recorded: number, now: number): number {
    return this.speed === 'max' ? Math.min(recorded, now) : now;
  }

  /** Index of the first trade of the session that holds t (cached per session: a time zone lookup is costly). */
  private sessionFirstTrade(t: number): number {
    const c = this.sessionCache;
    if (t >= c.open && t < c.close) return c.first;
    const s = esSession(tradeDateAtOrAfter(t));
    this.sessionCache = { open: s.open, close: s.close, first: lastAtOrBefore(this.trades, s.open - 1, (x) => x.t) + 1 };
    return this.sessionCache.first;
  }

  spxSpot(): number {
    const t = this.now();
    const ci = lastAtOrBefore(this.chains, t, (x) => x.t);
    const last = this.esQuote().last;
    if (ci < 0) return last - this.basis;
    const snap = this.chains[ci];
    // The basis as it was at the snapshot, applied to the ES price now.
    const i = lastAtOrBefore(this.trades, snap.t, (x) => x.t);
    const esThen = i >= 0 ? this.trades[i].price : last;
    return last - (esThen - snap.snapshot.spot);
  }

  esBars(from: number, to: number, barMs: number): MarketBar[] {
    const now = this.now();
    const end = Math.min(to, now + 1);
    const out: MarketBar[] = [];
    const daily = barMs >= DAY_MS;
    // The session of a daily bar is looked up once per session, not per minute (a time zone lookup each).
    let session = { open: NaN, close: NaN };
    const key = (t: number): number => {
      if (!daily) return Math.floor(t / barMs) * barMs;
      if (!(t >= session.open && t < session.close)) session = esSession(tradeDateAtOrAfter(t));
      return session.open;
    };
    const push = (k: number, b: { o: number; h: number; l: number; c: number; v: number }): void => addToBars(out, k, b.o, b.h, b.l, b.c, b.v);
    const minutes = this.minutes;
    const trades = this.trades;
    for (let i = Math.max(0, lastAtOrBefore(minutes, from - 1, (m) => m.k) + 1); i < minutes.length; i++) {
      const m = minutes[i];
      if (m.k >= end) break;
      const closed = m.k + MINUTE_MS <= end;
      // The latest record known by now; for a minute that `to` cuts, one known by `to` (a record holds its whole
      // minute up to its time, so a later one would tell what happened after `to`). IBKR's history requests end on a
      // whole second, so a record known at r holds nothing after r's second: it serves a request ending at that
      // second (the replay of the live request at r, whose answer it is).
      let rec: { at: number; bar: MarketBar } | undefined;
      if (m.recs) for (const r of m.recs) if (r.at <= now && (closed || Math.floor(r.at / 1000) * 1000 <= to)) rec = r;
      let j = m.i0;
      if (rec) {
        push(key(m.k), rec.bar);
        if (rec.at >= m.k + MINUTE_MS) continue;
        const at = rec.at;
        while (j < m.i1 && trades[j].t <= at) j++;
      } else if (closed) {
        if (m.tradeBar) push(key(m.k), m.tradeBar);
        continue;
      }
      // The minute in progress: only the trades printed so far (never a bar's close before its minute ends).
      for (; j < m.i1; j++) {
        const x = trades[j];
        if (x.t >= end) break;
        push(key(x.t), { o: x.price, h: x.price, l: x.price, c: x.price, v: x.size });
      }
    }
    return out;
  }

  private chainNow(): MarketOption[] {
    const ci = lastAtOrBefore(this.chains, this.now(), (x) => x.t);
    return ci < 0 ? [] : this.chains[ci].snapshot.options;
  }

  spxChain(expiries?: string[]): MarketOption[] {
    const options = this.chainNow();
    const wanted = expiries ?? this.spxExpiries().slice(0, 1).map((e) => e.expiry);
    return options.filter((o) => wanted.includes(o.expiry));
  }

  /** The contracts of the recorded chain for these expiries, without their prices (what contract lookups answer). */
  spxListing(expiries: string[]): ListedOption[] {
    const listed = new Map<string, ListedOption>();
    for (const o of this.chainNow()) {
      if (expiries.includes(o.expiry)) listed.set(`${o.expiry}:${o.tradingClass}:${o.strike}`, { expiry: o.expiry, tradingClass: o.tradingClass, strike: o.strike });
    }
    return [...listed.values()];
  }

  spxExpiries(): { expiry: string; tradingClass: 'SPX' | 'SPXW' }[] {
    const seen = new Map<string, { expiry: string; tradingClass: 'SPX' | 'SPXW' }>();
    for (const o of this.chainNow()) seen.set(`${o.expiry}:${o.tradingClass}`, { expiry: o.expiry, tradingClass: o.tradingClass });
    return [...seen.values()].sort((a, b) => a.expiry.localeCompare(b.expiry) || a.tradingClass.localeCompare(b.tradingClass));
  }

  esContracts(): { localSymbol: string; expiry: string; conid: number }[] {
    return listedEsContracts(this.now());
  }
}

/**
 * Trades from recorded ticks of `symbol` (the root, e.g. ES, or the exact symbol), in time order. A tick without an
 * aggressor side is a buy at or above the ask (or above the previous price), a sell otherwise; without a touch, the
 * touch is the tick's price and one tick beside it.
 */
export function tradesFromTicks(ticks: readonly RecordedTick[], symbol: string): MarketTrade[] {
  const mine = ticks.filter((x) => x.symbol === symbol || x.symbol.startsWith(symbol)).slice();
  mine.sort((a, b) => a.t - b.t);
  const out: MarketTrade[] = [];
  let prev = NaN;
  for (const x of mine) {
    const side = x.side ?? (x.ask !== undefined && x.ask !== null ? (x.price >= x.ask ? 'buy' : 'sell') : x.price >= prev ? 'buy' : 'sell');
    const bid = x.bid ?? (side === 'buy' ? x.price - 0.25 : x.price);
    const ask = x.ask ?? bid + 0.25;
    out.push({ t: x.t, price: x.price, size: x.size, side, bid, ask });
    prev = x.price;
  }
  return out;
}

/** The latest record of each bar, in bar time order. */
function latestBars(recorded: readonly { at: number; bar: MarketBar }[]): MarketBar[] {
  const byT = new Map<number, MarketBar>();
  for (const r of recorded) byT.set(r.bar.t, r.bar);
  return [...byT.values()].sort((a, b) => a.t - b.t);
}

/** The minutes that have a recorded bar or a trade, in time order. */
function minutesOf(recorded: readonly { at: number; bar: MarketBar }[], trades: readonly MarketTrade[]): Minute[] {
  const byK = new Map<number, Minute>();
  const minute = (k: number): Minute => {
    let m = byK.get(k);
    if (!m) {
      m = { k, recs: undefined, tradeBar: undefined, i0: 0, i1: 0 };
      byK.set(k, m);
    }
    return m;
  };
  for (const r of recorded) {
    if (r.bar.t % MINUTE_MS !== 0) throw new InvalidInputError(`replay: a recorded bar must start on a whole minute, got ${new Date(r.bar.t).toISOString()}`);
    const m = minute(r.bar.t);
    (m.recs ??= []).push(r);
  }
  for (let i = 0; i < trades.length; ) {
    const k = Math.floor(trades[i].t / MINUTE_MS) * MINUTE_MS;
    const m = minute(k);
    m.i0 = i;
    const bars: MarketBar[] = [];
    while (i < trades.length && trades[i].t < k + MINUTE_MS) {
      const x = trades[i++];
      addToBars(bars, k, x.price, x.price, x.price, x.price, x.size);
    }
    m.i1 = i;
    m.tradeBar = bars[0];
  }
  const out = [...byK.values()].sort((a, b) => a.k - b.k);
  // Records are in time order (recording.ts), so each minute's are in the order they became known, except v1 bars
  // moved to their close: order them by that.
  for (const m of out) m.recs?.sort((a, b) => a.at - b.at);
  return out;
}

/** 1-minute bars built from trades (bar t = minute open). */
export function minuteBarsOf(trades: readonly MarketTrade[]): MarketBar[] {
  const bars: MarketBar[] = [];
  for (const x of trades) addToBars(bars, Math.floor(x.t / MINUTE_MS) * MINUTE_MS, x.price, x.price, x.price, x.price, x.size);
  return bars;
}

/**
 * A recording of bars only (e.g. ibkr-history): four trades a minute, open → the extreme nearer the open → the other
 * → close, at 0, 15, 30 and 45 s, sizes summing to the bar's volume, so orders fill and streams tick on it.
 */
export function tradesFromBars(bars: readonly MarketBar[]): MarketTrade[] {
  const out: MarketTrade[] = [];
  for (const b of bars) {
    const highFirst = Math.abs(b.h - b.o) < Math.abs(b.o - b.l);
    const path = [b.o, highFirst ? b.h : b.l, highFirst ? b.l : b.h, b.c];
    const v = Math.max(4, Math.round(b.v));
    const sizes = [Math.floor(v / 4), Math.floor(v / 4), Math.floor(v / 4), v - 3 * Math.floor(v / 4)];
    for (let k = 0; k < 4; k++) {
      const price = path[k];
      const side = k > 0 && price < path[k - 1] ? 'sell' : 'buy';
      out.push({ t: b.t + k * 15_000, price, size: sizes[k], side, bid: side === 'buy' ? price - 0.25 : price, ask: side === 'buy' ? price : price + 0.25 });
    }
  }
  return out;
}
