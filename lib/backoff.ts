// The one backoff of the package: every reconnect and retry loop (IBKR transport, stream, session keeper, the
// limiter's 429 pause, the DTC client) asks it how long to wait before its next attempt.
//
// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the n-th wait (n from 0) is uniform in
// [0, min(cap, base × 2^n)]. Clients that failed together spread out over the whole interval instead of retrying in
// step; the expected total wait is half that of a plain doubling. A floor keeps a minimum between attempts where a
// loop needs one (a reconnect must not spin), without giving up the jitter above it.

import { InvalidInputError } from './errors';

export interface BackoffOptions {
  /** The first interval's upper bound, in ms. */
  baseMs: number;
  /** No wait exceeds this, however many attempts failed. */
  capMs: number;
  /** No wait is shorter than this (default 0). */
  floorMs?: number;
  /** [0, 1) like Math.random; injectable for tests. */
  random?: () => number;
  /** Timers for sleep(); injectable for tests in virtual time. Default: Node's timers. */
  scheduler?: BackoffScheduler;
}

/** The timer half of lib/ibkr/scheduler.ts's Scheduler (structurally the same). */
export interface BackoffScheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const nodeTimers: BackoffScheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The n-th full-jitter wait (n ≥ 0): uniform in [floor, max(floor, min(cap, base × 2^n))]. A pure function. */
export function fullJitterMs(attempt: number, options: BackoffOptions, random: () => number = options.random ?? Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(attempt, 52));
  const floor = Math.min(options.floorMs ?? 0, options.capMs);
  return Math.round(floor + Math.max(0, ceiling - floor) * random());
}

/** A backoff with its attempt count: next() after each failure, reset() after a success. */
export class Backoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    for (const [name, value] of [['baseMs', options.baseMs], ['capMs', options.capMs], ['floorMs', options.floorMs ?? 0]] as const) {
      if (!Number.isFinite(value) || value < 0) throw new InvalidInputError(`Backoff: ${name} must be a finite number ≥ 0 (got ${String(value)}).`);
    }
    if (options.capMs < options.baseMs) throw new InvalidInputError(`Backoff: capMs (${options.capMs}) is below baseMs (${options.baseMs}).`);
    this.random = options.random ?? Math.random;
  }

  /** The wait before the next attempt; counts one more failure. */
  next(): number {
    const ms = fullJitterMs(this.failures, this.options, this.random);
    this.failures += 1;
    return ms;
  }

  /** How many failures in a row so far. */
  get attempts(): number {
    return this.failures;
  }

  /** Waits next() on the scheduler; resolves with the wait. */
  sleep(): Promise<number> {
    const ms = this.next();
    const scheduler = this.options.scheduler ?? nodeTimers;
    return new Promise((resolve) => scheduler.setTimeout(() => resolve(ms), ms));
  }

  /** A success: the next failure starts from the first interval again. */
  reset(): void {
    this.failures = 0;
  }
}
