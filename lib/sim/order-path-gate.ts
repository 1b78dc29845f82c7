// The simulated market's clock stands while an order is on its way between sierra-config's DTC client and its
// in-process DTC simulator, so on the simulators an order takes no market time on its way: its updates are stamped at
// the market time it was sent (a market order fills there), a resting order's fill at the trade that filled it. Before,
// at 300× a few real milliseconds on a loaded machine were market seconds: the three legs of one bracket were stamped
// up to 0.3 market s apart, signal → working took 10 to 30 market s, and no two runs, nor a replay, could agree.
//
// Held from the start of an instruction (begin(), ended when its promise settles) and from each answer the simulator
// writes (touch()), until nothing is in flight and QUIET_TURNS turns of the event loop have passed since the last
// answer: a local socket's data is read within a turn or two, and the client handles what it reads synchronously.
// Bounded: a hold never lasts more than maxHoldMs of real time (an answer lost, a client gone), then the clock runs.
// Simulator mode only (lib/sierra/connection.ts); a live connection has no simulated clock and no gate.

export interface GateTimers {
  setImmediate(cb: () => void): unknown;
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: GateTimers = {
  setImmediate: (cb) => setImmediate(cb),
  setTimeout: (cb, ms) => setTimeout(cb, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Turns of the event loop with nothing in flight before the clock runs again. */
export const QUIET_TURNS = 3;
/** Real ms a hold lasts at most. */
export const MAX_HOLD_MS = 1000;

export class OrderPathGate {
  private inFlight = 0;
  private release: (() => void) | undefined;
  private quiet = 0;
  private checking = false;
  private bound: unknown;
  private disposed = false;
  private readonly timers: GateTimers;
  private readonly maxHoldMs: number;

  /** `holdClock` stands the market's clock and returns its release (Market.hold). */
  constructor(
    private readonly holdClock: () => () => void,
    options: { timers?: GateTimers; maxHoldMs?: number } = {},
  ) {
    this.timers = options.timers ?? REAL_TIMERS;
    this.maxHoldMs = options.maxHoldMs ?? MAX_HOLD_MS;
  }

  /** Whether the clock is held now. */
  get holding(): boolean {
    return this.release !== undefined;
  }

  /** An instruction leaves for the simulator; call the returned function once it is answered or refused. */
  begin(): () => void {
    this.engage();
    this.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      this.quiet = 0;
      this.check();
    };
  }

  /** The simulator wrote an answer (order, position or balance update) to its clients. */
  touch(): void {
    this.engage();
    this.quiet = 0;
    this.check();
  }

  /** Lets the clock run and holds it no more (the connection closes). */
  dispose(): void {
    this.disposed = true;
    this.open();
  }

  private engage(): void {
    if (this.release || this.disposed) return;
    this.release = this.holdClock();
    this.bound = this.timers.setTimeout(() => this.open(), this.maxHoldMs);
  }

  private check(): void {
    if (this.checking || !this.release) return;
    this.checking = true;
    this.timers.setImmediate(() => {
      this.checking = false;
      if (!this.release || this.inFlight > 0) return; // an instruction's end checks again
      if (++this.quiet < QUIET_TURNS) {
        this.check();
        return;
      }
      this.open();
    });
  }

  private open(): void {
    this.timers.clearTimeout(this.bound);
    const release = this.release;
    this.release = undefined;
    this.quiet = 0;
    release?.();
  }
}
