// The ledger of departures: IBKR's sliding windows, an even pace inside each window and the 429 pause. Two stores
// keep it: LocalDepartures (this file, in memory, one instance) and RedisDepartures (./cluster.ts, Lua scripts,
// every instance of a username). Both apply the same rules:
//
// - Window: at most `max` requests in any `spanMs` (the documented window plus CLOCK_MARGIN_MS), each counted from
//   its departure until its answer came back (IBKR counted it when it arrived, which was in between), or at most
//   until its departure plus ARRIVAL_BOUND_MS when the answer is slower (./limits.ts). A request is let go only once
//   `max` requests have not been on their way within the last span: so it reaches IBKR a full window after the
//   arrival of the request it replaces, whatever the lateness of our timers, of Redis or of the server's own loop.
// - Pace: departures of one window at least `paceMs` = perMs / max apart, on a schedule that does not drift (GCRA:
//   the next slot is one pace after the previous slot, and a request may take its slot up to PACE_TOLERANCE_MS
//   early). Without it a backlog would leave in bursts of `max` and a request arriving just after a burst (an order
//   during a chain refresh) would wait for the whole window; with it, it waits about one pace. The pace is a little
//   faster than the window (whose span includes each answer's time), so a backlog leaves as soon as the window
//   allows: the pace shapes, the window is the rule.
// - Pause: after a 429 nothing leaves until the pause ends (shared by every instance when clustered).

import type { RateWindow } from './limits';
import { ARRIVAL_BOUND_MS, CLOCK_MARGIN_MS } from './limits';

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
  return { key, max: window.max, spanMs: window.perMs + CLOCK_MARGIN_MS, paceMs: window.perMs / window.max, shared };
}

/** What blocked a departure: a pause or a shared rule holds every request; a family rule only its family's. */
export type Blocker = 'pause' | 'shared' | 'family';

/** A departure recorded in the ledger: its answer is reported with it. Opaque to everything but its store. */
export type Ticket = object;

/**
 * `waitMs`: until the rules allow it, as far as the ledger knows now. `recheckMs`, when shorter: the wait depends on
 * a request still on the wire, whose answer (maybe another instance's) may end its count sooner: look again then.
 */
export type Verdict = { ok: true; ticket: Ticket } | { ok: false; waitMs: number; blocker: Blocker; recheckMs?: number };

/** How soon to look again when a window is held by a request still waiting for its answer. */
export const IN_FLIGHT_RECHECK_MS = 25;

/** Records a departure against every rule when all of them allow it now; otherwise says how long until they may. */
export interface DepartureStore {
  tryDepart(rules: readonly DepartureRule[]): Verdict | Promise<Verdict>;
  /** The request's answer came back (or it failed): it counts in its windows until now at most. */
  answered(ticket: Ticket): void | Promise<void>;
  /** The request leaves only now, well after its grant: it counts until now plus ARRIVAL_BOUND_MS at least. */
  renew(ticket: Ticket): void | Promise<void>;
  /** Nothing departs for `ms` from now (a longer pause in force is kept). */
  pause(ms: number): void | Promise<void>;
}

/** The end of a request's count in a window: its answer, or its departure plus ARRIVAL_BOUND_MS until then. */
interface Departure {
  until: number;
}

class WindowLog {
  departures: Departure[] = [];
  /** The next paced slot (GCRA's theoretical arrival time). */
  nextSlot = -Infinity;
}

/**
 * The wait one rule imposes at `now` (0: it allows a departure), given the ends of the counts of the requests in its
 * log. Pure: shared with the tests of the Lua script.
 */
export function ruleWaitMs(rule: DepartureRule, untils: readonly number[], nextSlot: number, now: number): { waitMs: number; inFlight: boolean } {
  let wait = 0;
  let inFlight = false;
  const inWindow = untils.filter((t) => t > now - rule.spanMs).sort((a, b) => a - b);
  if (inWindow.length >= rule.max) {
    const held = inWindow[inWindow.length - rule.max] as number;
    wait = held + rule.spanMs - now;
    inFlight = held > now;
  }
  const paced = nextSlot - PACE_TOLERANCE_MS - now;
  if (paced >= wait) return { waitMs: Math.max(paced, 0), inFlight: false };
  return { waitMs: wait, inFlight };
}

export function verdictOf(waitMs: number, blocker: Blocker, inFlight: boolean): Verdict {
  return inFlight && waitMs > IN_FLIGHT_RECHECK_MS ? { ok: false, waitMs, blocker, recheckMs: IN_FLIGHT_RECHECK_MS } : { ok: false, waitMs, blocker };
}

/** The ledger of one instance, in memory. `now` must be monotonic (performance.now or a virtual clock). */
export class LocalDepartures implements DepartureStore {
  private readonly logs = new Map<string, WindowLog>();
  private pausedUntil = -Infinity;

  constructor(private readonly now: () => number) {}

  tryDepart(rules: readonly DepartureRule[]): Verdict {
    const now = this.now();
    if (this.pausedUntil > now) return { ok: false, waitMs: this.pausedUntil - now, blocker: 'pause' };
    let worst: { waitMs: number; blocker: Blocker; inFlight: boolean } | undefined;
    for (const rule of rules) {
      const log = this.log(rule.key, rule.spanMs, now);
      const { waitMs, inFlight } = ruleWaitMs(rule, log.departures.map((d) => d.until), log.nextSlot, now);
      if (waitMs > 0 && (!worst || waitMs > worst.waitMs)) worst = { waitMs, blocker: rule.shared ? 'shared' : 'family', inFlight };
    }
    if (worst) return verdictOf(worst.waitMs, worst.blocker, worst.inFlight);
    // One record in every log of the request: its answer ends its count in all of them at once.
    const departure: Departure = { until: now + ARRIVAL_BOUND_MS };
    for (const rule of rules) {
      const log = this.log(rule.key, rule.spanMs, now);
      log.departures.push(departure);
      log.nextSlot = Math.max(log.nextSlot, now) + rule.paceMs;
    }
    return { ok: true, ticket: departure };
  }

  answered(ticket: Ticket): void {
    const departure = ticket as Departure;
    departure.until = Math.min(departure.until, this.now());
  }

  renew(ticket: Ticket): void {
    const departure = ticket as Departure;
    departure.until = Math.max(departure.until, this.now() + ARRIVAL_BOUND_MS);
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
    if (log.departures.some((d) => d.until <= now - spanMs)) log.departures = log.departures.filter((d) => d.until > now - spanMs);
    return log;
  }
}
