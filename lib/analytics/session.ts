// Session clocks for ES on CME Globex (analytics.md §2, §4): the session opens at 17:00 America/Chicago, the cash
// (RTH) session at 08:30. Anchors and bar boundaries are computed once per boundary and cached, so the per-tick cost
// is one comparison.
import { CHICAGO, lastDailyAnchor, nextDailyAnchor, parseHhMm } from '../clock';
import { InvalidInputError, errorMessage } from '../errors';
import { DAY_MS } from './timeframe';

export const GLOBEX_OPEN_MINUTES = 17 * 60; // 17:00 CT
export const RTH_OPEN_MINUTES = 8 * 60 + 30; // 08:30 CT

export type AnchorName = 'globex' | 'rth' | 'custom';

/** Where VWAP and cumulative delta start: every day at a Chicago wall-clock time, or once at a fixed instant. */
export type AnchorSpec = { kind: 'daily'; minutes: number } | { kind: 'fixed'; t: number };

/**
 * The anchor for a setting: 'globex' (17:00 CT), 'rth' (08:30 CT), or 'custom' with either "HH:MM" (every day, Chicago
 * time) or an ISO date-time with its offset ("2025-03-10T09:45:00-05:00": anchored once at that instant).
 */
export function anchorSpec(name: AnchorName, custom?: string): AnchorSpec {
  if (name === 'globex') return { kind: 'daily', minutes: GLOBEX_OPEN_MINUTES };
  if (name === 'rth') return { kind: 'daily', minutes: RTH_OPEN_MINUTES };
  if (name !== 'custom') {
    throw new InvalidInputError(`VWAP anchor "${String(name)}" is not known: use "globex", "rth" or "custom"`);
  }
  const text = (custom ?? '').trim();
  if (/^\d{1,2}:\d{2}$/.test(text)) {
    try {
      return { kind: 'daily', minutes: parseHhMm(text) };
    } catch (err) {
      throw new InvalidInputError(`Custom VWAP anchor: ${errorMessage(err)}`);
    }
  }
  const t = Date.parse(text);
  if (text === '' || !Number.isFinite(t)) {
    throw new InvalidInputError(
      `Custom VWAP anchor "${text}" is neither a daily time "HH:MM" (Chicago) nor a date-time like ` +
        `"2025-03-10T09:45:00-05:00": fix the anchor setting`,
    );
  }
  return { kind: 'fixed', t };
}

/** Tracks the current anchor period; `roll(t)` is true when `t` starts a new one (sums must be reset). */
export class AnchorClock {
  /** Epoch ms the current period started at (the anchor reported in `vwap` messages). */
  start = -Infinity;
  /** Epoch ms of the next anchor (Infinity for a fixed anchor). */
  next = -Infinity;

  constructor(private readonly spec: AnchorSpec) {
    if (spec.kind === 'fixed') {
      this.start = spec.t;
      this.next = Infinity;
    }
  }

  /** True when `t` is at or after the next anchor: the caller resets its sums. Ticks never move the anchor back. */
  roll(t: number): boolean {
    if (t < this.next) return false;
    const minutes = (this.spec as { minutes: number }).minutes;
    this.start = lastDailyAnchor(t, CHICAGO, minutes);
    this.next = nextDailyAnchor(t, CHICAGO, minutes);
    return true;
  }

  /** True for data before a fixed anchor (not counted). */
  before(t: number): boolean {
    return t < this.start && this.spec.kind === 'fixed';
  }
}

/**
 * Bar boundaries aligned to the Globex session clock: bars start at the 17:00 CT session open and every `tfMs` after;
 * the last bar of a session ends at the next session open. A timeframe of a day or more is one bar per session.
 */
export class BarClock {
  private sessionStart = -Infinity;
  private sessionEnd = -Infinity;

  constructor(readonly tfMs: number) {}

  /** The open time of the bar containing `t`; `barEnd` is set to that bar's (exclusive) end. */
  barOpen(t: number): number {
    if (t >= this.sessionEnd || t < this.sessionStart) {
      this.sessionStart = lastDailyAnchor(t, CHICAGO, GLOBEX_OPEN_MINUTES);
      this.sessionEnd = nextDailyAnchor(t, CHICAGO, GLOBEX_OPEN_MINUTES);
    }
    if (this.tfMs >= DAY_MS) {
      this.barEnd = this.sessionEnd;
      return this.sessionStart;
    }
    const open = this.sessionStart + Math.floor((t - this.sessionStart) / this.tfMs) * this.tfMs;
    this.barEnd = Math.min(open + this.tfMs, this.sessionEnd);
    return open;
  }

  barEnd = -Infinity;
}
