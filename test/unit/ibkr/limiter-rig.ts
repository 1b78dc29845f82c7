// The limiter in virtual time against the IBKR simulator's own rate-limit rules (lib/sim/ibkr/rate-limiter.ts, IBKR's
// documented limits): every timer of the limiter runs on a FakeScheduler, every request "arrives" at the simulator's
// counter after a network delay drawn from a seeded generator, so no test waits on the wall clock and a busy machine
// cannot change a result.
import { IbkrLimiter, type LimiterOptions } from '../../../lib/ibkr/limiter';
import type { Priority } from '../../../lib/ibkr/limits';
import { RateLimiter } from '../../../lib/sim/ibkr/rate-limiter';
import { rng } from '../../../lib/sim/prng';

/** Timers that run only when the test advances them. A stall moves the clock without running them: the timers due
 * meanwhile then fire late, together, as after a blocked event loop. */
export class VirtualClock {
  now = 0;
  /** Awaited after every timer; a test with real I/O (Redis) replaces it to wait for that I/O too. */
  settle: () => Promise<void> = settle;
  /** Every timer fires this much late (a machine so busy that the loop is always behind). */
  lateMs = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + Math.max(0, ms) + this.lateMs, seq: id, fn });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  stall(ms: number): void {
    this.now += ms;
  }

  /** Runs every timer due within `ms`, in time order, each at max(its time, now); then settles promises. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    await this.settle();
    for (;;) {
      let next: [number, { at: number; seq: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at > end) continue;
        if (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
      await this.settle();
    }
    this.now = Math.max(this.now, end);
    await this.settle();
  }
}

/** Lets every promise chain started so far run to its next timer. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise<void>((resolve) => setImmediate(resolve));
}

export interface Sent {
  name: string;
  path: string;
  priority: Priority;
  askedAt: number;
  sentAt: number;
  status: 200 | 429;
  /** When the answer came back to the limiter (undefined until then). */
  answeredAt?: number;
}

export interface RigOptions {
  /** Largest one-way network delay (ms), uniform from 0; the arrival order may differ from the send order. */
  jitterMs?: number;
  /** Server time per request (ms). */
  serviceMs?: number;
  seed?: number;
}

export class LimiterRig {
  readonly sched = new VirtualClock();
  readonly ibkr = new RateLimiter(true, {}, 15 * 60_000);
  readonly sent: Sent[] = [];
  readonly limiters: IbkrLimiter[] = [];
  private readonly random: () => number;

  constructor(private readonly options: RigOptions = {}) {
    this.random = rng(options.seed ?? 1).next;
  }

  limiter(options: LimiterOptions = {}): IbkrLimiter {
    const limiter = new IbkrLimiter({ scheduler: this.sched, now: () => this.sched.now, random: rng(7).next, ...options });
    this.limiters.push(limiter);
    return limiter;
  }

  /** One request through `limiter`; it reaches the simulator's counter after the network delay. */
  request(limiter: IbkrLimiter, method: string, path: string, priority: Priority, name = path): Promise<Sent> {
    const askedAt = this.sched.now;
    return limiter.schedule({ method, path, priority }, () => {
      const sentAt = this.sched.now;
      const delay = (this.options.jitterMs ?? 0) * this.random();
      return new Promise<Sent>((resolve) => {
        this.sched.setTimeout(() => {
          const verdict = this.ibkr.admit(method, path.split('?')[0] as string, this.sched.now);
          const record: Sent = { name, path: path.split('?')[0] as string, priority, askedAt, sentAt, status: verdict.ok ? 200 : 429 };
          this.sent.push(record);
          this.sched.setTimeout(() => {
            if (verdict.ok) verdict.release();
            record.answeredAt = this.sched.now;
            resolve(record);
          }, this.options.serviceMs ?? 20);
        }, delay);
      });
    });
  }

  get rejected(): number {
    return this.sent.filter((s) => s.status === 429).length;
  }

  /** Stops every limiter; the answers of requests on the wire still come, in virtual time. */
  async stop(): Promise<void> {
    let stopped = false;
    const stopping = Promise.all(this.limiters.map((l) => l.stop())).then(() => (stopped = true));
    for (let i = 0; i < 100 && !stopped; i += 1) await this.sched.advance(1_000);
    await stopping;
  }
}

/** The most requests any sliding window of `ms` held (by send time). */
export function peakInWindow(times: readonly number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, start = 0; i < sorted.length; i += 1) {
    while ((sorted[start] as number) <= (sorted[i] as number) - ms) start += 1;
    peak = Math.max(peak, i - start + 1);
  }
  return peak;
}
