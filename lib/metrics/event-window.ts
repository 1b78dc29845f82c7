// Events in a sliding time window (requests sent in the last minute, errors in the last five): timestamps in
// arrival order, pruned from the front. Times are passed in (`at`, `now`) so tests drive the clock.

export class EventWindow {
  private readonly times: number[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {
    if (!(windowMs > 0)) throw new RangeError(`EventWindow length ${windowMs} ms must be > 0`);
  }

  add(at: number): void {
    this.times.push(at);
  }

  /** Events in (now - windowMs, now]. */
  count(now: number): number {
    this.prune(now);
    let n = 0;
    for (let i = this.head; i < this.times.length; i++) if ((this.times[i] as number) <= now) n++;
    return n;
  }

  /** The most events that fell in any `spanMs` slice of the window (e.g. the busiest second of the minute). */
  peak(now: number, spanMs: number): number {
    this.prune(now);
    let best = 0;
    let start = this.head;
    for (let end = this.head; end < this.times.length; end++) {
      const t = this.times[end] as number;
      while ((this.times[start] as number) <= t - spanMs) start++;
      best = Math.max(best, end - start + 1);
    }
    return best;
  }

  private prune(now: number): void {
    const from = now - this.windowMs;
    while (this.head < this.times.length && (this.times[this.head] as number) <= from) this.head++;
    // Compact now and then so a long-running connection does not keep every timestamp it ever saw.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
  }
}
