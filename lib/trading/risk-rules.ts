// The risk rules every order of a trading account passes (lib/trading/risk-engine.ts applies them for both brokers):
// daily loss limit,
// trades per day, cooldown after a trade, trading hours, maximum position and order size, a halt after consecutive
// losses, and the kill switch. Each denial names its rule and the numbers, so the trader knows why and until when.
//
// Orders that only shrink the open position are never blocked by a limit (a trader must always be able to get
// out); only the kill switch in HALTED stops them. Flatten and cancel are the order node's own actions, not
// orders checked here.
import type { Side } from '../contracts';
import { CHICAGO, NEW_YORK, hhmm, lastDailyAnchor, nextDailyAnchor, parseHhMm } from '../clock';
import { InvalidInputError } from '../errors';
import { TradingHours } from '../strategy/trading-hours';

export type KillSwitchState = 'ACTIVE' | 'REDUCING' | 'HALTED';
export type RiskRule =
  | 'kill-switch'
  | 'invalid-order'
  | 'trading-hours'
  | 'daily-loss'
  | 'consecutive-losses'
  | 'max-trades'
  | 'cooldown'
  | 'max-order-size'
  | 'max-position'
  | 'price-collar'
  | 'max-orders-per-minute'
  | 'stale-data'
  | 'not-reconciled'
  | 'trading-disabled';

export interface RiskLimits {
  /** Stop opening positions once today's P&L (realized + open) is at or below −this ($). */
  dailyLossLimit: number;
  /** Trades (positions opened from flat, or reversed) per session. */
  maxTradesPerDay: number;
  /** Minutes after the last trade opened or closed before a new position may open. */
  cooldownMin: number;
  tradingHoursEnabled: boolean;
  /** New York wall clock, HH:MM; the window is [start, end). */
  tradingStart: string;
  tradingEnd: string;
  /** Largest absolute position, contracts, counting working orders. */
  maxPosition: number;
  /** Largest single order, contracts. */
  maxOrderSize: number;
  /** Losing trades in a row after which new positions stop for the session. */
  maxConsecutiveLosses: number;
  /** $ per point per contract, to price fills that come without a realized P&L (ES 50, MES 5). */
  pointValue: number;
  /** Daily reset, Chicago wall clock HH:MM (CME Globex session boundary 17:00 CT). */
  sessionReset: string;
}

export const DEFAULT_RISK_LIMITS: Readonly<RiskLimits> = Object.freeze({
  dailyLossLimit: 500,
  maxTradesPerDay: 10,
  cooldownMin: 15,
  tradingHoursEnabled: true,
  tradingStart: '09:35',
  tradingEnd: '15:45',
  maxPosition: 2,
  maxOrderSize: 2,
  maxConsecutiveLosses: 4,
  pointValue: 50,
  sessionReset: '17:00',
});

export interface OrderIntent {
  side: Side;
  quantity: number;
  now: number;
  /** Signed position now, from the broker: > 0 long, < 0 short. */
  position: number;
  /** Signed quantity of entry orders still working (+ buys, − sells); leave out a bracket's protective exits. */
  workingQuantity?: number;
}

export type RiskDecision = { allowed: true } | { allowed: false; rule: RiskRule; reason: string };

export interface FillReport {
  /** The contract filled (fills of different contracts never share a position or an average price). */
  instrument?: string;
  /** $ per point of that contract; the limits' pointValue otherwise. */
  pointValue?: number;
  side: Side;
  quantity: number;
  price: number;
  now: number;
  /** Realized P&L of this fill as the broker reports it ($); computed from the average price otherwise. */
  realizedPnl?: number;
}

export interface BrokerSnapshot {
  now: number;
  /** The contract `position` and `averagePrice` are of. */
  instrument?: string;
  /** Signed position. */
  position?: number;
  averagePrice?: number | null;
  /** Today's realized P&L ($), replacing the guard's own sum. */
  realizedPnl?: number;
  /** Open P&L ($). */
  unrealizedPnl?: number;
}

export interface RiskState {
  killSwitch: KillSwitchState;
  sessionStart: number;
  nextReset: number;
  position: number;
  averagePrice: number | null;
  tradesToday: number;
  realizedPnl: number;
  unrealizedPnl: number;
  dailyPnl: number;
  consecutiveLosses: number;
  lastTradeAt: number | null;
  cooldownUntil: number | null;
  limits: RiskLimits;
}

function positiveNumber(limits: RiskLimits, key: keyof RiskLimits, integer: boolean, allowZero = false): void {
  const v = limits[key];
  const ok = typeof v === 'number' && Number.isFinite(v) && (allowZero ? v >= 0 : v > 0) && (!integer || Number.isInteger(v));
  if (!ok) {
    throw new InvalidInputError(
      `risk limit ${key} must be a ${integer ? 'whole ' : ''}number ${allowZero ? '≥ 0' : '> 0'}; got ${JSON.stringify(v)}.`,
    );
  }
}

/** Limits with defaults filled in and every value checked (InvalidInputError names the bad one). */
export function resolveRiskLimits(input: Partial<RiskLimits> = {}): RiskLimits {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null && v !== ''));
  const limits: RiskLimits = { ...DEFAULT_RISK_LIMITS, ...defined };
  positiveNumber(limits, 'dailyLossLimit', false);
  positiveNumber(limits, 'maxTradesPerDay', true);
  positiveNumber(limits, 'cooldownMin', false, true);
  positiveNumber(limits, 'maxPosition', true);
  positiveNumber(limits, 'maxOrderSize', true);
  positiveNumber(limits, 'maxConsecutiveLosses', true);
  positiveNumber(limits, 'pointValue', false);
  for (const key of ['tradingStart', 'tradingEnd', 'sessionReset'] as const) {
    try {
      parseHhMm(String(limits[key]));
    } catch {
      throw new InvalidInputError(`risk limit ${key} must be a time of day HH:MM; got ${JSON.stringify(limits[key])}.`);
    }
  }
  if (parseHhMm(limits.tradingEnd) <= parseHhMm(limits.tradingStart)) {
    throw new InvalidInputError(`risk trading hours ${limits.tradingStart}–${limits.tradingEnd} are empty: the end must be after the start.`);
  }
  if (typeof limits.tradingHoursEnabled !== 'boolean') {
    throw new InvalidInputError(`risk limit tradingHoursEnabled must be true or false; got ${JSON.stringify(limits.tradingHoursEnabled)}.`);
  }
  return limits;
}

export const usd = (x: number): string => `${x < 0 ? '−' : ''}$${Math.abs(x).toFixed(2)}`;
export const describePosition = (q: number): string => (q > 0 ? `long ${q}` : q < 0 ? `short ${-q}` : 'flat');
const clockTime = (t: number): string => hhmm(t, NEW_YORK);

/** What the guard must remember across a restart (lib/trading/journal.ts). */
export interface RiskLedger {
  killSwitch: KillSwitchState;
  sessionStart: number | null;
  nextReset: number | null;
  tradesToday: number;
  realizedPnl: number;
  consecutiveLosses: number;
  lastTradeAt: number | null;
  openTradePnl: number;
  /** Per contract: signed position and average price. */
  books: Record<string, { position: number; averagePrice: number | null }>;
}

const DEFAULT_INSTRUMENT = '';

export class RiskGuard {
  limits: RiskLimits;
  private hours: TradingHours;
  private resetMin: number;
  private killSwitch: KillSwitchState = 'ACTIVE';
  private sessionStart = -Infinity;
  private nextReset = -Infinity;
  private readonly books = new Map<string, { position: number; averagePrice: number | null }>();
  private tradesToday = 0;
  private realizedPnl = 0;
  private unrealizedPnl = 0;
  private consecutiveLosses = 0;
  private lastTradeAt: number | null = null;
  /** Realized P&L of the trade now open, summed over its closing fills. */
  private openTradePnl = 0;

  constructor(limits: Partial<RiskLimits> = {}) {
    this.limits = resolveRiskLimits(limits);
    this.hours = new TradingHours(parseHhMm(this.limits.tradingStart), parseHhMm(this.limits.tradingEnd));
    this.resetMin = parseHhMm(this.limits.sessionReset);
  }

  /** New limits from now on (the counters carry over). */
  setLimits(limits: Partial<RiskLimits>): void {
    const resolved = resolveRiskLimits(limits);
    this.limits = resolved;
    this.hours = new TradingHours(parseHhMm(resolved.tradingStart), parseHhMm(resolved.tradingEnd));
    this.resetMin = parseHhMm(resolved.sessionReset);
  }

  private book(instrument: string | undefined): { position: number; averagePrice: number | null } {
    const key = instrument ?? DEFAULT_INSTRUMENT;
    let b = this.books.get(key);
    if (!b) {
      b = { position: 0, averagePrice: null };
      this.books.set(key, b);
    }
    return b;
  }

  /** Signed position of one contract as the fills and the broker's snapshots say. */
  positionOf(instrument?: string): number {
    return this.books.get(instrument ?? DEFAULT_INSTRUMENT)?.position ?? 0;
  }

  /** Every contract with a position (non-zero). */
  positions(): { instrument: string; position: number; averagePrice: number | null }[] {
    return [...this.books].filter(([, b]) => b.position !== 0).map(([instrument, b]) => ({ instrument, ...b }));
  }

  ledger(): RiskLedger {
    return {
      killSwitch: this.killSwitch,
      sessionStart: Number.isFinite(this.sessionStart) ? this.sessionStart : null,
      nextReset: Number.isFinite(this.nextReset) ? this.nextReset : null,
      tradesToday: this.tradesToday,
      realizedPnl: this.realizedPnl,
      consecutiveLosses: this.consecutiveLosses,
      lastTradeAt: this.lastTradeAt,
      openTradePnl: this.openTradePnl,
      books: Object.fromEntries([...this.books].filter(([, b]) => b.position !== 0).map(([k, b]) => [k, { ...b }])),
    };
  }

  /** Takes back what ledger() gave (after a restart); the session rolls on the next check if it has ended. */
  restore(l: RiskLedger): void {
    this.setKillSwitch(l.killSwitch);
    this.sessionStart = l.sessionStart ?? -Infinity;
    this.nextReset = l.nextReset ?? -Infinity;
    this.tradesToday = l.tradesToday;
    this.realizedPnl = l.realizedPnl;
    this.consecutiveLosses = l.consecutiveLosses;
    this.lastTradeAt = l.lastTradeAt;
    this.openTradePnl = l.openTradePnl;
    this.books.clear();
    for (const [k, b] of Object.entries(l.books)) this.books.set(k, { ...b });
  }

  /** Whether a new order may go out, and if not, which rule says no and why. */
  check(intent: OrderIntent): RiskDecision {
    const { side, quantity, now } = intent;
    if (side !== 'buy' && side !== 'sell') return this.deny('invalid-order', `order side must be 'buy' or 'sell'; got ${JSON.stringify(side)}`);
    if (!Number.isInteger(quantity) || quantity <= 0) {
      return this.deny('invalid-order', `order quantity must be a whole number of contracts above 0; got ${JSON.stringify(quantity)}`);
    }
    if (!Number.isFinite(intent.position) || !Number.isFinite(intent.workingQuantity ?? 0)) {
      return this.deny('invalid-order', 'the current position and working quantity must be numbers (from the broker)');
    }
    this.rollSession(now);
    const l = this.limits;
    const exposure = intent.position + (intent.workingQuantity ?? 0);
    const after = exposure + (side === 'buy' ? quantity : -quantity);
    const shrinks = Math.abs(after) < Math.abs(exposure) && after * exposure >= 0;
    const order = `${side} ${quantity}`;

    if (this.killSwitch === 'HALTED') return this.deny('kill-switch', `kill switch is HALTED: no new orders (${order} refused). Set it to ACTIVE to trade again`);
    if (this.killSwitch === 'REDUCING' && !shrinks) {
      return this.deny(
        'kill-switch',
        `kill switch is REDUCING: only orders that shrink the position are allowed; ${order} would take ${describePosition(exposure)} to ${describePosition(after)}`,
      );
    }
    if (shrinks) return { allowed: true };

    if (l.tradingHoursEnabled && !this.hours.isOpen(now)) {
      return this.deny('trading-hours', `outside trading hours ${this.hours.describe()} (now ${clockTime(now)} New York): new positions wait for the open`);
    }
    const dailyPnl = this.realizedPnl + this.unrealizedPnl;
    if (dailyPnl <= -l.dailyLossLimit) {
      return this.deny(
        'daily-loss',
        `daily loss limit reached: today's P&L ${usd(dailyPnl)} (realized ${usd(this.realizedPnl)}, open ${usd(this.unrealizedPnl)}) ` +
          `is at or below the ${usd(-l.dailyLossLimit)} limit; new positions resume after the ${l.sessionReset} CT session reset`,
      );
    }
    if (this.consecutiveLosses >= l.maxConsecutiveLosses) {
      return this.deny(
        'consecutive-losses',
        `${this.consecutiveLosses} losing trades in a row (halt at ${l.maxConsecutiveLosses}): new positions resume after the ${l.sessionReset} CT session reset`,
      );
    }
    const opensTrade = exposure === 0 || after * exposure < 0;
    if (opensTrade && this.tradesToday >= l.maxTradesPerDay) {
      return this.deny('max-trades', `${this.tradesToday} trades today, the maximum is ${l.maxTradesPerDay}: no new trade until the ${l.sessionReset} CT session reset`);
    }
    const cooldownMs = l.cooldownMin * 60_000;
    if (this.lastTradeAt !== null && now - this.lastTradeAt < cooldownMs) {
      const waited = Math.floor((now - this.lastTradeAt) / 6_000) / 10; // floored: never reads "15.0" while refused
      return this.deny(
        'cooldown',
        `cooldown: ${waited.toFixed(1)} min since the last trade, ${l.cooldownMin} min required (until ${clockTime(this.lastTradeAt + cooldownMs)} New York)`,
      );
    }
    if (quantity > l.maxOrderSize) return this.deny('max-order-size', `order of ${quantity} contracts exceeds the maximum order size of ${l.maxOrderSize}`);
    if (Math.abs(after) > l.maxPosition) {
      return this.deny(
        'max-position',
        `${order} would take the position to ${describePosition(after)} (now ${describePosition(intent.position)}` +
          `${intent.workingQuantity ? `, working ${intent.workingQuantity > 0 ? '+' : ''}${intent.workingQuantity}` : ''}); the maximum is ${l.maxPosition} contracts`,
      );
    }
    return { allowed: true };
  }

  /** Records one fill: position, average price, trades opened and closed, realized P&L, the cooldown clock. */
  recordFill(fill: FillReport): void {
    const { side, quantity, price, now } = fill;
    if (!Number.isFinite(quantity) || quantity <= 0 || !Number.isFinite(price)) {
      throw new InvalidInputError(`fill must have a quantity above 0 and a price; got quantity ${quantity}, price ${price}.`);
    }
    this.rollSession(now);
    const book = this.book(fill.instrument);
    const pointValue = fill.pointValue ?? this.limits.pointValue;
    const signed = side === 'buy' ? quantity : -quantity;
    const pos = book.position;
    if (pos === 0 || Math.sign(pos) === Math.sign(signed)) {
      if (pos === 0) this.openTrade(now);
      book.averagePrice = ((book.averagePrice ?? 0) * Math.abs(pos) + price * quantity) / (Math.abs(pos) + quantity);
      book.position = pos + signed;
      if (fill.realizedPnl !== undefined) this.addRealized(fill.realizedPnl);
      return;
    }
    const closing = Math.min(quantity, Math.abs(pos));
    const pnl = fill.realizedPnl ?? (price - (book.averagePrice ?? price)) * closing * Math.sign(pos) * pointValue;
    this.addRealized(pnl);
    book.position = pos + signed;
    if (book.position === 0 || Math.sign(book.position) !== Math.sign(pos)) {
      this.closeTrade(this.openTradePnl, now);
      book.averagePrice = null;
      if (book.position !== 0) {
        this.openTrade(now);
        book.averagePrice = price;
      }
    }
  }

  /** Trades the broker saw opened that no fill here reported (a fill while the process was down): counted now. */
  countMissedTrades(n: number, now: number): void {
    if (!Number.isInteger(n) || n <= 0) return;
    this.rollSession(now);
    this.tradesToday += n;
    this.lastTradeAt = Math.max(this.lastTradeAt ?? now, now);
  }

  /**
   * Records a closed trade's P&L when the feed reports round trips rather than fills. Do not also feed that trade's
   * fills to recordFill, or it counts twice.
   */
  recordTradeClosed(pnl: number, now: number): void {
    if (!Number.isFinite(pnl)) throw new InvalidInputError(`closed trade P&L must be a number; got ${pnl}.`);
    this.rollSession(now);
    this.realizedPnl += pnl;
    this.closeTrade(pnl, now);
  }

  /** Takes the broker's figures as the truth (position, average price, today's realized and open P&L). */
  syncBroker(snapshot: BrokerSnapshot): void {
    this.rollSession(snapshot.now);
    const book = this.book(snapshot.instrument);
    if (snapshot.position !== undefined && Number.isFinite(snapshot.position)) book.position = snapshot.position;
    if (snapshot.averagePrice !== undefined) book.averagePrice = snapshot.averagePrice;
    if (snapshot.realizedPnl !== undefined && Number.isFinite(snapshot.realizedPnl)) this.realizedPnl = snapshot.realizedPnl;
    if (snapshot.unrealizedPnl !== undefined && Number.isFinite(snapshot.unrealizedPnl)) this.unrealizedPnl = snapshot.unrealizedPnl;
  }

  setKillSwitch(state: KillSwitchState): void {
    if (state !== 'ACTIVE' && state !== 'REDUCING' && state !== 'HALTED') {
      throw new InvalidInputError(`kill switch state must be ACTIVE, REDUCING or HALTED; got ${JSON.stringify(state)}.`);
    }
    this.killSwitch = state;
  }

  /** A snapshot for status rings and dashboards; `now` rolls the session first when given. */
  state(now?: number): RiskState {
    if (now !== undefined) this.rollSession(now);
    const cooldownMs = this.limits.cooldownMin * 60_000;
    return {
      killSwitch: this.killSwitch,
      sessionStart: this.sessionStart,
      nextReset: this.nextReset,
      position: this.positionOf(),
      averagePrice: this.books.get(DEFAULT_INSTRUMENT)?.averagePrice ?? null,
      tradesToday: this.tradesToday,
      realizedPnl: this.realizedPnl,
      unrealizedPnl: this.unrealizedPnl,
      dailyPnl: this.realizedPnl + this.unrealizedPnl,
      consecutiveLosses: this.consecutiveLosses,
      lastTradeAt: this.lastTradeAt,
      cooldownUntil: this.lastTradeAt === null ? null : this.lastTradeAt + cooldownMs,
      limits: { ...this.limits },
    };
  }

  private deny(rule: RiskRule, reason: string): RiskDecision {
    return { allowed: false, rule, reason };
  }

  private openTrade(now: number): void {
    this.tradesToday++;
    this.lastTradeAt = now;
    this.openTradePnl = 0;
  }

  private closeTrade(pnl: number, now: number): void {
    this.lastTradeAt = now;
    this.openTradePnl = 0;
    if (pnl < 0) this.consecutiveLosses++;
    else if (pnl > 0) this.consecutiveLosses = 0;
  }

  private addRealized(pnl: number): void {
    this.realizedPnl += pnl;
    this.openTradePnl += pnl;
  }

  /** Daily counters restart at the session boundary; position, kill switch and the cooldown clock carry over. */
  private rollSession(now: number): void {
    if (now < this.nextReset) return;
    this.sessionStart = lastDailyAnchor(now, CHICAGO, this.resetMin);
    this.nextReset = nextDailyAnchor(now, CHICAGO, this.resetMin);
    this.tradesToday = 0;
    this.realizedPnl = 0;
    this.consecutiveLosses = 0;
  }
}
