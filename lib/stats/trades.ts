// Trade records from the messages a trading flow already carries: Battle Navale signals, order updates and fills
// (sierra-order or ibkr-order; live, replay or backtest). Fills are the truth: the net position they build opens a
// trade when it leaves flat and closes it when it returns to flat (a fill through zero closes one trade and opens the
// next with the rest). The signal received last, in the direction of the opening fill and at most signalMaxAgeMs
// before it, gives the trade its stop (for the R multiple) and its dominant reason; a position opened without one is a
// 'no signal' trade (R unknown).
import type { Fill, OrderUpdate, SignalPayload } from '../contracts';
import { NEW_YORK, zonedParts } from '../clock';
import { InvalidInputError, describeValue } from '../errors';

export type TradeSide = 'long' | 'short';

export interface TradeRecord {
  /** 1, 2, … in the order trades closed. */
  id: number;
  side: TradeSide;
  /** Contracts entered (the sum of the fills that opened or added to the position). */
  quantity: number;
  entryTime: number;
  /** Quantity-weighted average of the entry fills. */
  entryPrice: number;
  exitTime: number;
  /** Quantity-weighted average of the exit fills. */
  exitPrice: number;
  /** Dollars per point per contract (ES 50, MES 5). */
  pointValue: number;
  /** Profit in points per contract: (exit − entry) for a long, (entry − exit) for a short. */
  points: number;
  /**
   * Profit in dollars: over the exit fills, (exit − average cost of the open contracts) × quantity × point value.
   * Equals points × quantity × point value unless contracts were added after a partial exit.
   */
  pnl: number;
  /** The signal's stop; null for a trade without a signal. */
  stop: number | null;
  /** points ÷ |entry − stop|; null without a stop or when the stop sits at the entry. */
  r: number | null;
  /** The component that pushed the signal's score most in its direction, or 'no signal'. */
  reason: string;
  /** The New York calendar day of the exit, YYYY-MM-DD (the day its P&L counts for). */
  day: string;
}

/** A signal's share of the default score per component (docs/battle-navale.md: 0.6·0.4, 0.6·0.35, 0.6·0.25, …). */
const REASON_WEIGHTS: Readonly<Record<keyof SignalPayload['components'], number>> = {
  battle: 0.24,
  trend: 0.21,
  base: 0.15,
  vwap: 0.15,
  orderflow: 0.15,
  gamma: 0.1,
};
export const NO_SIGNAL_REASON = 'no signal';

/**
 * The signal's dominant reason: the component whose weighted value pushes the score furthest in the signal's
 * direction (ties go to the first in the specification's order). With no component on its side, 'score'.
 */
export function dominantReason(p: Pick<SignalPayload, 'signal' | 'components'>): string {
  const dir = p.signal === 'LONG' ? 1 : p.signal === 'SHORT' ? -1 : 0;
  let best = 'score';
  let bestValue = 0;
  for (const key of Object.keys(REASON_WEIGHTS) as (keyof typeof REASON_WEIGHTS)[]) {
    const value = dir * REASON_WEIGHTS[key] * p.components[key];
    if (value > bestValue) {
      best = key;
      bestValue = value;
    }
  }
  return best;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function need(ok: boolean, what: string, got: unknown): void {
  if (!ok) throw new InvalidInputError(`trade stats: ${what}; got ${describeValue(got)}.`);
}

export function nyDay(t: number): string {
  const p = zonedParts(t, NEW_YORK);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

export function checkPointValue(value: unknown, where: string): number {
  const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  need(finite(v) && v > 0, `${where} (dollars per point) must be a positive number`, value);
  return v as number;
}

interface PendingSignal {
  /** The signal's bar time (epoch ms); null when the payload has none (no age check then). */
  t: number | null;
  side: TradeSide;
  stop: number | null;
  reason: string;
}

interface OpenTrade {
  side: TradeSide;
  dir: 1 | -1;
  /** Contracts still open, and their cost at the average price (average-cost accounting). */
  open: number;
  openValue: number;
  entered: number;
  entryValue: number;
  entryTime: number;
  exited: number;
  exitValue: number;
  pnlPoints: number;
  pointValue: number;
  stop: number | null;
  reason: string;
}

export interface TradeBookOptions {
  /** Dollars per point when a fill does not say (ES 50). */
  pointValue: number;
  /** Trades kept at most; one more is refused (send a reset). */
  maxTrades?: number;
  /**
   * A signal belongs to a position opened at most this long after its bar time (default 15 min): a signal the order
   * node refused must not lend its stop and reason to a trade opened by hand hours later.
   */
  signalMaxAgeMs?: number;
}

export type FillInput = Fill & { pointValue?: number };

export class TradeBook {
  private readonly defaultPointValue: number;
  private readonly maxTrades: number;
  private readonly signalMaxAgeMs: number;
  private readonly closed: TradeRecord[] = [];
  private pending: PendingSignal | null = null;
  private current: OpenTrade | null = null;
  private lastFillTime = -Infinity;
  private rejected = 0;

  constructor(options: TradeBookOptions) {
    this.defaultPointValue = checkPointValue(options.pointValue, 'the point value');
    this.maxTrades = options.maxTrades ?? 100_000;
    this.signalMaxAgeMs = options.signalMaxAgeMs ?? 15 * 60_000;
    need(Number.isFinite(this.signalMaxAgeMs) && this.signalMaxAgeMs >= 0, 'the signal validity must be a number of minutes ≥ 0', options.signalMaxAgeMs);
  }

  /** A Battle Navale signal (topic 'signal'); NO_SIGNAL evaluations change nothing. */
  signal(payload: unknown): void {
    need(isRecord(payload), "a 'signal' message needs the Battle Navale payload object", payload);
    const p = payload as Record<string, unknown>;
    need(p.signal === 'LONG' || p.signal === 'SHORT' || p.signal === 'NO_SIGNAL', 'signal must be LONG, SHORT or NO_SIGNAL', p.signal);
    if (p.signal === 'NO_SIGNAL') return;
    need(isRecord(p.components), 'a signal needs its components {battle, trend, base, vwap, orderflow, gamma}', p.components);
    const c = p.components as Record<string, unknown>;
    for (const key of Object.keys(REASON_WEIGHTS)) need(finite(c[key]), `signal component ${key} must be a number`, c[key]);
    need(p.stop === null || p.stop === undefined || finite(p.stop), 'signal stop must be a number or null', p.stop);
    const bar = p.bar as { t?: unknown } | undefined;
    need(bar === undefined || (isRecord(bar) && (bar.t === undefined || finite(bar.t))), 'signal bar.t must be a time in epoch ms', bar);
    this.pending = {
      t: bar && finite(bar.t) ? bar.t : null,
      side: p.signal === 'LONG' ? 'long' : 'short',
      stop: finite(p.stop) ? p.stop : null,
      reason: dominantReason(p as unknown as SignalPayload),
    };
  }

  /** An order update: only rejections are counted (fills carry the prices). */
  orderUpdate(payload: unknown): void {
    need(isRecord(payload) && typeof (payload as Partial<OrderUpdate>).status === 'string', "an 'order-update' needs a payload with a status", payload);
    if ((payload as OrderUpdate).status === 'rejected') this.rejected++;
  }

  /**
   * A fill. `pointValue`: the message's own (msg.pointValue), if any; the fill's payload.pointValue comes first,
   * then this, then the book's default. Returns the trades this fill closed (0, 1, or 1 when it reverses).
   */
  fill(payload: unknown, pointValue?: unknown): TradeRecord[] {
    need(isRecord(payload), "a 'fill' message needs a payload {side, quantity, price, t}", payload);
    const f = payload as Partial<FillInput>;
    need(f.side === 'buy' || f.side === 'sell', "fill side must be 'buy' or 'sell'", f.side);
    need(finite(f.quantity) && f.quantity > 0, 'fill quantity must be a positive number', f.quantity);
    need(finite(f.price) && f.price > 0, 'fill price must be a positive number', f.price);
    need(finite(f.t), 'fill t must be a time in epoch ms', f.t);
    if (f.t! < this.lastFillTime) need(false, `fills must arrive in time order (this one is before ${new Date(this.lastFillTime).toISOString()})`, f.t);
    if (this.closed.length >= this.maxTrades && this.current === null) {
      throw new InvalidInputError(`trade stats: ${this.maxTrades} trades kept, the most it keeps; export them (csv) and send a reset.`);
    }
    const pv =
      f.pointValue !== undefined
        ? checkPointValue(f.pointValue, 'fill pointValue')
        : pointValue !== undefined && pointValue !== null
          ? checkPointValue(pointValue, 'msg.pointValue')
          : this.defaultPointValue;
    if (this.current && this.current.pointValue !== pv) {
      throw new InvalidInputError(
        `trade stats: this fill's point value ${pv} differs from the open trade's ${this.current.pointValue}; one instrument per node.`,
      );
    }
    this.lastFillTime = f.t!;
    const dir: 1 | -1 = f.side === 'buy' ? 1 : -1;
    const out: TradeRecord[] = [];
    let qty = f.quantity!;
    const price = f.price!;
    const t = f.t!;
    const cur = this.current;
    if (cur && cur.dir !== dir) {
      const closing = Math.min(qty, cur.open);
      const avgOpen = cur.openValue / cur.open;
      cur.openValue -= closing * avgOpen;
      cur.open -= closing;
      cur.exited += closing;
      cur.exitValue += closing * price;
      cur.pnlPoints += closing * (price - avgOpen) * cur.dir;
      qty -= closing;
      if (cur.open === 0) {
        out.push(this.close(cur, t));
        this.current = null;
      }
    }
    if (qty > 0) {
      if (this.current) {
        this.current.open += qty;
        this.current.openValue += qty * price;
        this.current.entered += qty;
        this.current.entryValue += qty * price;
      } else {
        const side: TradeSide = dir === 1 ? 'long' : 'short';
        const p = this.pending;
        const fresh = p !== null && (p.t === null || t - p.t <= this.signalMaxAgeMs);
        const signal = p && fresh && p.side === side ? p : null;
        if (signal || !fresh) this.pending = null;
        this.current = {
          side,
          dir,
          open: qty,
          openValue: qty * price,
          entered: qty,
          entryValue: qty * price,
          entryTime: t,
          exited: 0,
          exitValue: 0,
          pnlPoints: 0,
          pointValue: pv,
          stop: signal ? signal.stop : null,
          reason: signal ? signal.reason : NO_SIGNAL_REASON,
        };
      }
    }
    return out;
  }

  private close(cur: OpenTrade, t: number): TradeRecord {
    const entryPrice = cur.entryValue / cur.entered;
    const exitPrice = cur.exitValue / cur.exited;
    const points = (exitPrice - entryPrice) * cur.dir;
    const risk = cur.stop === null ? 0 : Math.abs(entryPrice - cur.stop);
    const record: TradeRecord = {
      id: this.closed.length + 1,
      side: cur.side,
      quantity: cur.entered,
      entryTime: cur.entryTime,
      entryPrice,
      exitTime: t,
      exitPrice,
      pointValue: cur.pointValue,
      points,
      pnl: cur.pnlPoints * cur.pointValue,
      stop: cur.stop,
      r: risk > 0 ? points / risk : null,
      reason: cur.reason,
      day: nyDay(t),
    };
    this.closed.push(record);
    return record;
  }

  trades(): readonly TradeRecord[] {
    return this.closed;
  }

  /** The open position, signed (+ long, − short), 0 when flat. */
  position(): number {
    return this.current ? this.current.dir * this.current.open : 0;
  }

  rejectedOrders(): number {
    return this.rejected;
  }

  reset(): void {
    this.closed.length = 0;
    this.pending = null;
    this.current = null;
    this.lastFillTime = -Infinity;
    this.rejected = 0;
  }
}
