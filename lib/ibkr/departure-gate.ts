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
// The gate needs no care for late timers or stalls: the store counts each request until its answer, so a request
// granted before a stall and delivered after it is still counted when the next ones ask. Until its answer, the store
// counts a request until its grant plus the arrival bound; a grant that took long to reach the gate (a slow Redis, a
// blocked loop while its reply waited) is therefore renewed as it is used, so that the bound runs from the send.

import { PriorityQueue } from './priority-queue';
import type { DepartureRule, DepartureStore, Ticket } from './departures';
import type { Scheduler } from './scheduler';

/** A grant older than this when it reaches the gate is renewed (DepartureStore.renew) as the request leaves. */
export const GRANT_FRESH_MS = 20;

interface Waiter {
  rules: readonly DepartureRule[];
  /** Rules that are this request's own (not shared): requests with the same key are held together. */
  familyKey: string;
  /** The shared rules' pace: a family hold shorter than this reserves the next shared slot. */
  sharedPaceMs: number;
  resolve: (ticket: Ticket) => void;
  reject: (err: Error) => void;
}

export interface GateEvents {
  /** The store reported a pause in force (set by this instance or, clustered, another one). */
  onPause?: (remainingMs: number) => void;
  /** The store failed to record something after the request had left (Redis): the record errs on the safe side. */
  onStoreError?: (err: unknown) => void;
}

export class DepartureGate {
  private readonly queue = new PriorityQueue<Waiter>();
  private timer: unknown;
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

  /**
   * Resolves when the request may be sent now, with its departure's record (report its answer to the store with it);
   * rejects if the gate closes first.
   */
  pass(rules: readonly DepartureRule[], rank: number): Promise<Ticket> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<Ticket>((resolve, reject) => {
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
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        this.cancelTimer();
        const soonest = await this.walk();
        if (this.closedWith) return;
        if (Number.isFinite(soonest) && !this.again) {
          const ms = Math.max(1, Math.ceil(soonest));
          this.timer = this.scheduler.setTimeout(() => void this.pump(), ms);
        }
      } while (this.again);
    } finally {
      this.pumping = false;
    }
  }

  /** Lets every request through that may leave now; returns the wait until the next one might (Infinity: none). */
  private async walk(): Promise<number> {
    let soonest = Infinity;
    const heldFamilies = new Set<string>();
    for (const waiter of this.queue.inOrder()) {
      if (this.closedWith) return Infinity;
      if (heldFamilies.has(waiter.familyKey)) continue;
      let verdict;
      const asked = this.now();
      try {
        verdict = await this.store.tryDepart(waiter.rules);
      } catch (err) {
        // The store failed (Redis): this request cannot know whether it may leave, so it does not.
        if (this.queue.remove(waiter)) waiter.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      if (verdict.ok) {
        // Issued before the send (not awaited): the store renews the record no earlier than the request leaves.
        if (this.now() - asked > GRANT_FRESH_MS) this.later(() => this.store.renew(verdict.ticket));
        // A waiter that went meanwhile (the gate closed) leaves its record to expire: it errs on the safe side.
        if (this.queue.remove(waiter)) waiter.resolve(verdict.ticket);
        continue;
      }
      // The wait counts from the store's answer to the ask: a slow round trip (Redis) has already spent some of it.
      soonest = Math.min(soonest, (verdict.recheckMs ?? verdict.waitMs) - (this.now() - asked));
      if (verdict.blocker === 'family' && verdict.waitMs > waiter.sharedPaceMs) {
        heldFamilies.add(waiter.familyKey);
        continue;
      }
      if (verdict.blocker === 'pause') this.events.onPause?.(verdict.waitMs);
      break;
    }
    return soonest;
  }

  /** Runs a store update whose outcome the request does not wait for. */
  private later(update: () => void | Promise<void>): void {
    try {
      Promise.resolve(update()).catch((err: unknown) => this.events.onStoreError?.(err));
    } catch (err) {
      this.events.onStoreError?.(err);
    }
  }

  /** The request of `ticket` was answered (or failed): the store ends its count now. */
  answered(ticket: Ticket): void {
    this.later(async () => {
      await this.store.answered(ticket);
      // The answer may open a window a waiting request was held by.
      if (this.queue.length > 0) void this.pump();
    });
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
