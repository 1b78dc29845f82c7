// The ledger of departures: IBKR's sliding windows, counted at the moment each request leaves, plus an even pace
// inside each window and the 429 pause. Two stores keep it: LocalDepartures (this file, in memory, one instance) and
// RedisDepartures (./cluster.ts, one Lua script, every instance of a username). Both apply the same rules:
//
// - Window: at most `max` departures in any `spanMs` (the documented window plus ARRIVAL_MARGIN_MS). A departure
//   leaves the window once `spanMs` has passed (an arrival exactly perMs after another is outside IBKR's window).
// - Pace: departures of one window at least `paceMs` = spanMs / max apart, on a schedule that does not drift (GCRA:
//   the next slot is one pace after the previous slot, not after the previous departure, and a request may take its
//   slot up to PACE_TOLERANCE_MS early, so a timer that fires late does not push every later slot back). Without
//   the pace a backlog would leave in bursts of `max` and a request arriving just after a burst (an order during a
//   chain refresh) would wait for the whole window; with it, it waits one pace at most. The pace also forbids
//   catching up after an event-loop stall, the bunching that earns a 429.
// - Pause: after a 429 nothing leaves until the pause ends (shared by every instance when clustered).

import type { RateWindow } from './limits';
import { ARRIVAL_MARGIN_MS } from './limits';

/** How early a request may take its paced slot: absorbs a late timer, far below any pace. */
export const PACE_TOLERANCE_MS = 10;

/** One window rule as the stores apply it. `shared` rules (the global ones) hold every request. */
export interface DepartureRule {
  key: string;
  max: number;
  spanMs: number;
  paceMs: number;
  shared: boolean;
}

export function departureRule(key: string, window: RateWindow, shared: boolean): DepartureRule {
  const spanMs = window.perMs + ARRIVAL_MARGIN_MS;
  return { key, max: window.max, spanMs, paceMs: spanMs / window.max, shared };
}

/** What blocked a departure: a pause or a shared rule holds every request; a family rule only its family's. */
export type Blocker = 'pause' | 'shared' | 'family';

export type Verdict = { ok: true } | { ok: false; waitMs: number; blocker: Blocker };

/** Records a departure against every rule when all of them allow it now; otherwise says how long until they may. */
export interface DepartureStore {
  tryDepart(rules: readonly DepartureRule[]): Verdict | Promise<Verdict>;
  /** Nothing departs for `ms` from now (a longer pause in force is kept). */
  pause(ms: number): void | Promise<void>;
}

class WindowLog {
  readonly times: number[] = [];
  /** The next paced slot (GCRA's theoretical arrival time). */
  nextSlot = -Infinity;
}

/** The wait one rule imposes at `now` (0: it allows a departure). Pure: shared with the tests of the Lua script. */
export function ruleWaitMs(rule: DepartureRule, times: readonly number[], nextSlot: number, now: number): number {
  let wait = 0;
  const inWindow = times.filter((t) => t > now - rule.spanMs);
  if (inWindow.length >= rule.max) wait = (inWindow[inWindow.length - rule.max] as number) + rule.spanMs - now;
  return Math.max(wait, nextSlot - PACE_TOLERANCE_MS - now, 0);
}

/** The ledger of one instance, in memory. `now` must be monotonic (performance.now or a virtual clock). */
export class LocalDepartures implements DepartureStore {
  private readonly logs = new Map<string, WindowLog>();
  private pausedUntil = -Infinity;

  constructor(private readonly now: () => number) {}

  tryDepart(rules: readonly DepartureRule[]): Verdict {
    const now = this.now();
    if (this.pausedUntil > now) return { ok: false, waitMs: this.pausedUntil - now, blocker: 'pause' };
    let worst: Verdict = { ok: true };
    for (const rule of rules) {
      const log = this.log(rule.key, rule.spanMs, now);
      const waitMs = ruleWaitMs(rule, log.times, log.nextSlot, now);
      if (waitMs > 0 && (worst.ok || waitMs > worst.waitMs)) worst = { ok: false, waitMs, blocker: rule.shared ? 'shared' : 'family' };
    }
    if (!worst.ok) return worst;
    for (const rule of rules) {
      const log = this.log(rule.key, rule.spanMs, now);
      log.times.push(now);
      log.nextSlot = Math.max(log.nextSlot, now) + rule.paceMs;
    }
    return worst;
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private log(key: string, spanMs: number, now: number): WindowLog {
    let log = this.logs.get(key);
    if (!log) {
      log = new WindowLog();
      this.logs.set(key, log);
    }
    while (log.times.length > 0 && (log.times[0] as number) <= now - spanMs) log.times.shift();
    return log;
  }
}
