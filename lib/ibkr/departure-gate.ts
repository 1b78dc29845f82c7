// The gate every IBKR request passes just before it is sent. Waiting requests are taken by priority, then arrival
// (./priority-queue.ts); each asks the departure store (./departures.ts, or Redis when clustered) whether IBKR's
// windows allow it to leave now, and the store records its departure in the same step. The gate decides nothing
// about time itself: it only walks the queue and sleeps on the injectable scheduler until the store's next opening.
//
// Walking the queue: a request held by a shared rule (the global window) or a pause holds everyone behind it, so the
// walk stops there; a request held only by its own family's rule (a 1-per-5-s endpoint) is stepped over, and the
// requests behind it may leave, unless its own rule opens within one pace of the shared window: then the walk stops
// too, so that a lower-priority request does not take the shared slot it is about to need (a polled quote would
// otherwise wait a snapshot pace, then a global one, behind an options-chain refresh).
//
// After an event-loop stall (the gate's timer fired more than STALL_MS late), a request granted just before the
// stall may still be on its way to IBKR (an in-process server counts it only now, and a write queued in our own
// loop left only now): it would arrive together with the next one. The gate therefore holds this instance for one
// pace of the shared window before it lets anything else go.

import { PriorityQueue } from './priority-queue';
import type { DepartureRule, DepartureStore } from './departures';
import { ARRIVAL_MARGIN_MS } from './limits';
import type { Scheduler } from './scheduler';

/**
 * A timer this late means the event loop was blocked. Less is normal on a busy machine and covered by the arrival
 * margin the windows keep (a request delivered that much late still fits).
 */
export const STALL_MS = ARRIVAL_MARGIN_MS;

interface Waiter {
  rules: readonly DepartureRule[];
  /** Rules that are this request's own (not shared): requests with the same key are held together. */
  familyKey: string;
  /** The shared rules' pace: a family hold shorter than this reserves the next shared slot. */
  sharedPaceMs: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export interface GateEvents {
  /** The store reported a pause in force (set by this instance or, clustered, another one). */
  onPause?: (remainingMs: number) => void;
}

export class DepartureGate {
  private readonly queue = new PriorityQueue<Waiter>();
  private timer: unknown;
  private timerDueAt = 0;
  /** The pending timer only waits out a stall hold: its own lateness is no new stall (else a loop that is always
   * late would hold for ever). */
  private timerIsHold = false;
  private heldUntil = -Infinity;
  private pumping = false;
  private again = false;
  private closedWith: Error | undefined;

  constructor(
    private readonly store: DepartureStore,
    private readonly scheduler: Scheduler,
    private readonly now: () => number,
    private readonly events: GateEvents = {},
  ) {}

  /** How many requests wait at the gate. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves when the request may be sent now (its departure is recorded); rejects if the gate closes first. */
  pass(rules: readonly DepartureRule[], rank: number): Promise<void> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<void>((resolve, reject) => {
      const familyKey = rules.filter((r) => !r.shared).map((r) => r.key).join(',');
      const sharedPaceMs = Math.max(0, ...rules.filter((r) => r.shared).map((r) => r.paceMs));
      this.queue.push({ rules, familyKey, sharedPaceMs, resolve, reject }, rank);
      void this.pump();
    });
  }

  /** Looks at the queue again now (a pause ended, a setting changed). */
  wake(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    this.noteStall();
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.cancelTimer();
        const { soonest, hold } = await this.walk();
        if (this.closedWith) return;
        if (Number.isFinite(soonest) && !this.again) {
          const ms = Math.max(1, Math.ceil(soonest));
          this.timerDueAt = this.now() + ms;
          this.timerIsHold = hold;
          this.timer = this.scheduler.setTimeout(() => void this.pump(), ms);
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  /** Whatever wakes the gate first after a stall (its timer, a new request) finds its timer overdue. */
  private noteStall(): void {
    if (this.timer === undefined || this.timerIsHold) return;
    const now = this.now();
    if (now - this.timerDueAt <= STALL_MS) return;
    const pace = Math.max(0, ...this.queue.inOrder().map((w) => w.sharedPaceMs));
    this.heldUntil = Math.max(this.heldUntil, now + pace);
  }

  /** Lets every request through that may leave now; returns the wait until the next one might (Infinity: none). */
  private async walk(): Promise<{ soonest: number; hold: boolean }> {
    const held = this.heldUntil - this.now();
    if (held > 0 && this.queue.length > 0) return { soonest: held, hold: true };
    let soonest = Infinity;
    const heldFamilies = new Set<string>();
    for (const waiter of this.queue.inOrder()) {
      if (this.closedWith) return { soonest: Infinity, hold: false };
      if (heldFamilies.has(waiter.familyKey)) continue;
      let verdict;
      try {
        verdict = await this.store.tryDepart(waiter.rules);
      } catch (err) {
        // The store failed (Redis): this request cannot know whether it may leave, so it does not.
        if (this.queue.remove(waiter)) waiter.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (verdict.ok) {
        if (this.queue.remove(waiter)) waiter.resolve();
        continue;
      }
      soonest = Math.min(soonest, verdict.waitMs);
      if (verdict.blocker === 'family' && verdict.waitMs > waiter.sharedPaceMs) {
        heldFamilies.add(waiter.familyKey);
        continue;
      }
      if (verdict.blocker === 'pause') this.events.onPause?.(verdict.waitMs);
      break;
    }
    return { soonest, hold: false };
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
  }


  /** Rejects every waiting request with `err`, and any later one. */
  close(err: Error): void {
    this.closedWith = err;
    this.cancelTimer();
    for (const w of this.queue.drain()) w.reject(err);
  }
}
