// What the soak measures about leaks, in the process that runs the pipeline:
// - live async resources by type, counted by an async hook. process.getActiveResourcesInfo() only lists what keeps
//   the event loop alive, so it misses unref'd timers (the markets' pump and Bottleneck's heartbeat are unref'd);
//   the hook sees every Timeout, socket and server from creation to destruction, whatever its ref state;
// - every Bottleneck limiter created, held weakly: after the final close and a GC none may be left running, nor
//   reachable at all;
// - the heap after forced GCs (node --expose-gc);
// - whether a port still accepts connections (test/support/ports.ts).
import { createHook } from 'async_hooks';

/** The resource types a leak shows up as: timers, client sockets (plain and TLS), listening servers. */
export const WATCHED_TYPES = ['Timeout', 'TCPWRAP', 'TLSWRAP', 'TCPSERVERWRAP'] as const;
export type WatchedType = (typeof WATCHED_TYPES)[number];
export type ResourceCounts = Record<WatchedType, number>;

interface LiveResource {
  type: WatchedType;
  /** For a timer: its callback's name, period and where an interval was created (intervals are few; stacks cost). */
  what: string;
}

interface TimerLike {
  _onTimeout?: { name?: string };
  _idleTimeout?: number;
  _repeat?: number | null;
}

/** Counts live timers, sockets and servers from the moment `start()` is called; `describe()` names the survivors. */
export class ResourceTracker {
  private readonly live = new Map<number, LiveResource>();
  private readonly hook = createHook({
    init: (asyncId, type, _trigger, resource) => {
      if (!(WATCHED_TYPES as readonly string[]).includes(type)) return;
      this.live.set(asyncId, { type: type as WatchedType, what: type === 'Timeout' ? describeTimer(resource as TimerLike) : type });
    },
    destroy: (asyncId) => {
      this.live.delete(asyncId);
    },
  });

  start(): void {
    this.hook.enable();
  }

  stop(): void {
    this.hook.disable();
  }

  counts(): ResourceCounts {
    const counts = Object.fromEntries(WATCHED_TYPES.map((t) => [t, 0])) as ResourceCounts;
    for (const r of this.live.values()) counts[r.type]++;
    return counts;
  }

  /** The live resources grouped by description, e.g. `{"Timeout pump every 20 ms at …": 1}`. */
  describe(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.live.values()) out[r.what] = (out[r.what] ?? 0) + 1;
    return out;
  }
}

/** MIA_SOAK_TIMER_STACKS=1 names where every timer was created, not only intervals (slower: a stack per timer). */
const STACK_EVERY_TIMER = process.env.MIA_SOAK_TIMER_STACKS === '1';

function describeTimer(timer: TimerLike): string {
  const name = timer._onTimeout?.name || 'anonymous';
  const what = timer._repeat ? `Interval ${name} every ${timer._repeat} ms` : `Timeout ${name} after ${timer._idleTimeout} ms`;
  if (!timer._repeat && !STACK_EVERY_TIMER) return what;
  const frames = (new Error().stack ?? '').split('\n').slice(1).map((line) => line.trim());
  const origin = frames.find((line) => !line.includes('leak-probes') && !line.includes('(node:')) ?? '';
  return `${what} ${origin}`;
}

interface BottleneckLike {
  _store?: { heartbeat?: { _destroyed?: boolean } };
}

/**
 * Replaces the `bottleneck` module's export by a subclass that remembers (weakly) every limiter created. Must run
 * before anything requires Bottleneck; returns the probe that reports how many are still running or reachable.
 */
export function trackBottleneckLimiters(): { created(): number; running(): number; reachable(): number } {
  const id = require.resolve('bottleneck');
  const Original = require(id) as new (...args: unknown[]) => object;
  const limiters: WeakRef<object>[] = [];
  class TrackedBottleneck extends Original {
    constructor(...args: unknown[]) {
      super(...args);
      limiters.push(new WeakRef(this));
    }
  }
  const cached = require.cache[id];
  if (!cached) throw new Error('bottleneck is not in the require cache');
  cached.exports = TrackedBottleneck;
  const alive = (): BottleneckLike[] => limiters.map((r) => r.deref()).filter((l): l is object => l !== undefined) as BottleneckLike[];
  return {
    created: () => limiters.length,
    // A limiter's heartbeat (reservoir refresh) is an unref'd interval cleared by stop()/disconnect().
    running: () => alive().filter((l) => l._store?.heartbeat !== undefined && l._store.heartbeat._destroyed !== true).length,
    reachable: () => alive().length,
  };
}

/** Heap used after repeated forced GCs (finalizers and weak refs settle over a few rounds), in bytes. */
export async function heapAfterGc(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc: the soak measures the heap after a forced GC');
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}
