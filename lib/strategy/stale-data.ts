// The stale market-data guard: when no market data (tick, quote, bar) has arrived for N seconds, new entries are
// refused until fresh data returns. Orders that only shrink the exposure, cancels, flattens and the kill switch are
// never blocked: a trader must always be able to get out when the feed is down. Pure: every time comes in as `now`
// (epoch ms on whatever clock the caller feeds, so a simulator's clock works as well as the wall clock).
//
// Shared by the order nodes: sierra-order applies it through SierraConnection; ibkr-order can call the same
// `StaleDataGuard.check` with its own position and working quantity.

import { timeframeMs } from '../analytics/timeframe';
import { InvalidInputError, describeValue } from '../errors';

/** How far ahead of the market clock a data time may be (clock skew between feed and host) before it is refused. */
export const FUTURE_TOLERANCE_MS = 2_000;

/** The message topics that count as market data (ARCHITECTURE.md, "Message contracts"). */
export const MARKET_DATA_TOPICS: readonly string[] = ['tick', 'quote', 'bar'];

/** Whether a message with this topic is market data that refreshes the guard. */
export function isMarketDataTopic(topic: unknown): topic is 'tick' | 'quote' | 'bar' {
  return typeof topic === 'string' && MARKET_DATA_TOPICS.includes(topic);
}

/** What an order would do to the exposure (position plus working entries), as the guard needs to know it. */
export interface ExposureChange {
  side: 'buy' | 'sell';
  quantity: number;
  /** Signed position, from the broker. */
  position: number;
  /** Signed quantity of entry orders still working. */
  workingQuantity: number;
}

export type StaleDataDecision =
  | { allowed: true }
  | {
      allowed: false;
      rule: 'stale-data';
      reason: string;
      /** How old the newest market data is (ms), or null when none has arrived since the guard started. */
      ageMs: number | null;
    };

/**
 * True when the order only brings the exposure closer to flat without crossing it (the same test RiskGuard uses for
 * REDUCING), so the guard lets it through.
 */
export function reducesExposure(change: ExposureChange): boolean {
  const exposure = change.position + change.workingQuantity;
  const after = exposure + (change.side === 'buy' ? change.quantity : -change.quantity);
  return Math.abs(after) < Math.abs(exposure) && after * exposure >= 0;
}

/** "3.2 s", "2 min 5 s": how old the data is, in a trader's words. */
export function describeAge(ageMs: number): string {
  const seconds = Math.max(0, ageMs) / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** Checks a "stale after (s)" setting: seconds ≥ 0 (fractions allowed), 0 = off. */
export function checkStaleAfterSec(value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(`"Stale data after (s)" ${JSON.stringify(value)} is not valid: use seconds ≥ 0 (0 turns the guard off).`);
  }
  return value;
}

/**
 * The time of the newest market data seen, by the data's OWN time stamp (never its arrival): `observe(t, now)` on
 * every tick, quote or bar; `check(order, now, staleAfterSec)` before a new order. Data is stale once
 * `now - newest ≥ staleAfterSec`, so a message stamped hours ago refreshes nothing, and one stamped in the future
 * (beyond FUTURE_TOLERANCE_MS) is refused. With nothing seen yet the guard fails closed (no entry on a feed that
 * never started).
 */
export class MarketDataClock {
  private lastUpdateAt: number | null = null;

  /**
   * Records market data whose own time is `dataTime`, seen when the market clock reads `now`. `from` (a bar's open)
   * is what must not lie in the future; by default `dataTime`. Older times never move the clock back; a time in the
   * future counts as `now`, and beyond the tolerance is refused with an InvalidInputError.
   */
  observe(dataTime: number, now: number, from = dataTime): void {
    if (!Number.isFinite(dataTime) || !Number.isFinite(now) || !Number.isFinite(from)) {
      throw new InvalidInputError(`Market data time ${describeValue(dataTime)} is not a time (epoch milliseconds).`);
    }
    if (from > now + FUTURE_TOLERANCE_MS) {
      throw new InvalidInputError(
        `Market data stamped ${new Date(from).toISOString()} is ${describeAge(from - now)} ahead of the market clock (${new Date(now).toISOString()}): refused, it cannot be fresh data. Check the feed's clock.`,
      );
    }
    const t = Math.min(dataTime, now);
    if (this.lastUpdateAt === null || t > this.lastUpdateAt) this.lastUpdateAt = t;
  }

  /** When market data last arrived (epoch ms), or null. */
  lastUpdate(): number | null {
    return this.lastUpdateAt;
  }

  /** Age of the newest market data at `now` (ms, never negative), or null when none has arrived. */
  ageMs(now: number): number | null {
    return this.lastUpdateAt === null ? null : Math.max(0, now - this.lastUpdateAt);
  }

  /** Whether the data is stale at `now` under the setting (0 = never). */
  isStale(now: number, staleAfterSec: number): boolean {
    if (staleAfterSec === 0) return false;
    const age = this.ageMs(now);
    return age === null || age >= staleAfterSec * 1000;
  }

  /**
   * The pre-trade check, RiskGate-style: a new entry on stale data is denied with rule 'stale-data' and a reason
   * saying how old the data is; an order that only reduces the exposure always passes.
   */
  check(change: ExposureChange, now: number, staleAfterSec: number): StaleDataDecision {
    checkStaleAfterSec(staleAfterSec);
    if (!this.isStale(now, staleAfterSec) || reducesExposure(change)) return { allowed: true };
    const ageMs = this.ageMs(now);
    const order = `${change.side} ${change.quantity}`;
    const limit = `${staleAfterSec} s`;
    const reason =
      ageMs === null
        ? `no market data (tick, quote or bar) has arrived yet, so the new entry ${order} is blocked: wire a live feed into the order node, or set "Stale data after (s)" to 0`
        : `market data is stale: the last tick, quote or bar arrived ${describeAge(ageMs)} ago (limit ${limit}), so the new entry ${order} is blocked until fresh data arrives; orders that reduce the position, cancels and flatten still go through`;
    return { allowed: false, rule: 'stale-data', reason, ageMs };
  }
}

/** A market data message as the stale-data guard reads it: its own time, and the price it carries (collar). */
export interface MarketDataPoint {
  /** When the data was true: a tick's or quote's `t`, a bar's close (open `t` + its `tf`). */
  t: number;
  /** What must not lie in the future: `t`, or a bar's open. */
  from: number;
  /** Last trade price (tick price, quote last, bar close), or null for a quote with only bid/ask. */
  price: number | null;
  /**
   * The contract the price belongs to, so the price collar keys it by contract: `contract` ('ESM26', from
   * ibkr-quote) names the month; a bare `symbol` such as 'ES' stands for the front month at `t`.
   */
  contract?: string;
}

function contractNamed(p: Record<string, unknown>): { contract?: string } {
  const named = [p.contract, p.symbol].find((v) => typeof v === 'string' && v.trim() !== '');
  return typeof named === 'string' ? { contract: named } : {};
}

const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const finiteTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * Reads a tick, quote or bar (ARCHITECTURE.md contracts) for the guard: it needs its own time `t` and a price.
 * Throws InvalidInputError naming what is missing. Both order nodes read market data through this.
 */
export function readMarketData(topic: 'tick' | 'quote' | 'bar', payload: unknown): MarketDataPoint {
  if (topic === 'bar') {
    checkBarPayload(payload);
    const bar = payload as { t: number; c: number; tf?: unknown };
    let length = 0;
    if (bar.tf !== undefined) {
      if (typeof bar.tf !== 'string') throw new InvalidInputError(`A bar's tf must be a timeframe such as "1min": got ${describeValue(bar.tf)}.`);
      length = timeframeMs(bar.tf);
    }
    return { t: bar.t + length, from: bar.t, price: bar.c };
  }
  const p = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : null;
  if (!p || !finiteTime(p.t)) {
    throw new InvalidInputError(`A ${topic} message needs its time t (epoch milliseconds): got ${describeValue(p ? p.t : payload)}. Market data without its own time cannot show the feed is fresh.`);
  }
  if (topic === 'tick') {
    if (!positive(p.price)) throw new InvalidInputError(`A tick message needs a positive price: got ${describeValue(p.price)}.`);
    return { t: p.t, from: p.t, price: p.price, ...contractNamed(p) };
  }
  // A quote may lack a last trade (IBKR sends bid/ask first), but it needs one price.
  if (!(positive(p.last) || positive(p.bid) || positive(p.ask))) {
    throw new InvalidInputError(`A quote message needs a positive last, bid or ask: got ${describeValue(p.last)} / ${describeValue(p.bid)} / ${describeValue(p.ask)}.`);
  }
  return { t: p.t, from: p.t, price: positive(p.last) ? p.last : null, ...contractNamed(p) };
}

/** A `bar` message refreshes the guard only if it is a bar: an object with a positive close `c` and open time `t`. */
export function checkBarPayload(payload: unknown): void {
  const bar = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : null;
  const close = bar?.c;
  if (!bar || typeof close !== 'number' || !Number.isFinite(close) || close <= 0 || typeof bar.t !== 'number' || !Number.isFinite(bar.t)) {
    throw new InvalidInputError(`A bar message needs {t, o, h, l, c, v} with a positive close c: got ${JSON.stringify(payload)?.slice(0, 120)}.`);
  }
}
