// What the soak measures about leaks, in the process that runs the pipeline:
// - live async resources by type, counted by an async hook. process.getActiveResourcesInfo() only lists what keeps
//   the event loop alive, so it misses unref'd timers (the markets' pump and Bottleneck's heartbeat are unref'd);
//   the hook sees every Timeout, socket and server from creation to destruction, whatever its ref state;
// - every Bottleneck limiter created, held weakly: after the final close and a GC none may be left running, nor
//   reachable at all;
// - the heap after forced GCs (node --expose-gc);
// - every TCP server this process listened with, and whether it still listens. A port that still accepts connections
//   says less: while other suites run beside the soak, another process may be given a port a simulator released.
import { createHook } from 'async_hooks';
import net from 'net';

/** The resource types a leak shows up as: timers, client sockets (plain and TLS), listening servers. */
export const WATCHED_TYPES = ['Timeout', 'TCPWRAP', 'TLSWRAP', 'TCPSERVERWRAP'] as const;
export type WatchedType = (typeof WATCHED_TYPES)[number];
export type ResourceCounts = Record<WatchedType, number>;

interface LiveResource {
  type: WatchedType;
  /** For a timer: where it was created (the stack is captured at creation and formatted only when described). */
  origin?: Error;
}

/** Counts live timers, sockets and servers from the moment `start()` is called; `describe()` names the survivors. */
export class ResourceTracker {
  private readonly live = new Map<number, LiveResource>();
  private readonly hook = createHook({
    init: (asyncId, type) => {
      if (!(WATCHED_TYPES as readonly string[]).includes(type)) return;
      this.live.set(asyncId, type === 'Timeout' ? { type, origin: new Error() } : { type: type as WatchedType });
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

  /** The live resources grouped by description, e.g. `{"Timeout at Market.start (lib/sim/market.ts:120:5)": 1}`. */
  describe(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.live.values()) {
      const what = r.origin ? `${r.type} ${creator(r.origin)}` : r.type;
      out[what] = (out[what] ?? 0) + 1;
    }
    return out;
  }
}

/** The first frame of a creation stack outside Node's own code and this file: who made the timer. */
function creator(origin: Error): string {
  const frames = (origin.stack ?? '').split('\n').slice(1).map((line) => line.trim());
  return frames.find((line) => !line.includes('leak-probes') && !line.includes('(node:') && !line.startsWith('at node:')) ?? 'at an unknown place';
}

interface SchedulingLimiter {
  schedule(job: () => Promise<void>): Promise<void>;
}

/** How long a probe job may wait for its turn before the limiter counts as running (a stopped one refuses at once). */
const PROBE_WAIT_MS = 2000;

/**
 * Whether a limiter was not stopped, through its public API: a stopped Bottleneck refuses every new job ("This
 * limiter has been stopped"); a running one runs it, or keeps it waiting for its turn.
 */
function stillSchedules(limiter: SchedulingLimiter): Promise<boolean> {
  return new Promise((resolve) => {
    const waiting = setTimeout(() => resolve(true), PROBE_WAIT_MS);
    limiter
      .schedule(() => Promise.resolve())
      .then(
        () => resolve(true),
        () => resolve(false),
      )
      .finally(() => clearTimeout(waiting));
  });
}

/**
 * Replaces the `bottleneck` module's export by a subclass that remembers (weakly) every limiter created. Must run
 * before anything requires Bottleneck; returns the probe that reports how many are still running or reachable.
 */
export function trackBottleneckLimiters(): { created(): number; running(): Promise<number>; reachable(): number } {
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
  const alive = (): SchedulingLimiter[] => limiters.map((r) => r.deref()).filter((l): l is object => l !== undefined) as SchedulingLimiter[];
  return {
    created: () => limiters.length,
    running: async () => (await Promise.all(alive().map(stillSchedules))).filter(Boolean).length,
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

/**
 * Every TCP server this process listens with (net's, and so http's, https' and tls', which inherit its listen), held
 * weakly with its port, from start() to stop().
 */
export class ListeningServers {
  private readonly servers: Array<{ port: number; server: WeakRef<net.Server> }> = [];
  private readonly originalListen = net.Server.prototype.listen;

  start(): void {
    const servers = this.servers;
    const original = this.originalListen;
    net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
      this.once('listening', () => {
        const address = this.address();
        if (address !== null && typeof address === 'object') servers.push({ port: address.port, server: new WeakRef(this) });
      });
      return (original as (...a: unknown[]) => net.Server).apply(this, args);
    } as typeof net.Server.prototype.listen;
  }

  stop(): void {
    net.Server.prototype.listen = this.originalListen;
  }

  /** Of `ports`, those no server of this process listened on since start(). */
  neverOurs(ports: Iterable<number>): number[] {
    const ours = new Set(this.servers.map((s) => s.port));
    return [...new Set(ports)].filter((p) => !ours.has(p));
  }

  /** Of `ports`, those a server of this process still listens on. */
  stillListening(ports: Iterable<number>): number[] {
    const wanted = new Set(ports);
    const open = this.servers.filter((s) => wanted.has(s.port) && s.server.deref()?.listening === true).map((s) => s.port);
    return [...new Set(open)];
  }
}
