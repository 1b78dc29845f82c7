// One limiter tree per IBKR connection: a global limiter (IBKR: 10 req/s in total; 429 and a 10–15 min penalty box
// beyond) and one limiter per endpoint family with the documented per-endpoint limits (fact sheet, section 5).
// Every request of the connection passes through schedule(); nothing else in the package calls IBKR.
//
// Three details decide whether a burst ever earns a 429:
// - IBKR counts requests in a sliding window as they arrive, so spacing is measured when a request is sent, with a
//   5 % margin for jitter (9.52 req/s for the "10 req/s" preset; see JITTER_MARGIN).
// - A "1 per 5 s" family holds its single slot until 5 s after its request was actually sent. Bottleneck's own
//   minTime counts from when the family released the job, which can be long before the global limiter sent it
//   (a pause, a backlog): two queued live-order calls would then leave back to back.
// - Bottleneck reserves each start time when it registers a job and fires it with a timer, so an event-loop stall
//   fires several reserved jobs at once: the departure guard (DepartureGate) re-checks IBKR's own counting rule at
//   the moment each request leaves.
// Because of those reservations, requests wait in a priority queue (./priority-queue.ts) before the global limiter:
// an order is never stuck behind an options-chain refresh.
// pause() holds the whole tree by draining the global reservoir to 0. Clustered (./cluster.ts), the reservoir would be
// shared in Redis and stay drained if this instance died mid-pause, so the pause is broadcast instead and every
// instance holds itself.

import { EventEmitter } from 'node:events';
import Bottleneck from 'bottleneck';
import {
  CLUSTER_JOB_GRACE_MS,
  CLUSTER_KEY_TTL_MS,
  ClusterUnavailableError,
  decodePause,
  encodePause,
  openClusterConnection,
  resolveClusterId,
  type ClusterSettings,
} from './cluster';
import { MiaError } from '../errors';
import { ConnectionClosedError, IbkrError } from './errors';
import { PriorityQueue } from './priority-queue';

export type { ClusterSettings } from './cluster';

export type RatePreset = 'ibkr-10rps' | 'conservative-50rpm';

/** At most `max` requests in any sliding `perMs` window, counted the way IBKR counts them: as they arrive. */
export interface RateWindow {
  max: number;
  perMs: number;
}

/** IBKR's global limit: 10 req/s through the Gateway and [CP] (fact sheet, section 5); no preset may exceed it. */
const IBKR_GLOBAL_WINDOW: RateWindow = { max: 10, perMs: 1_000 };

/**
 * IBKR: 10 req/s through the Gateway and [CP]; 50 req/min for shared usernames or cautious users. `perSecond` is
 * Bottleneck's spacing; `windows` are the counting rules the departure guard enforces when a request leaves.
 */
export const RATE_PRESETS: Record<RatePreset, { perSecond: number; windows: readonly RateWindow[] }> = {
  'ibkr-10rps': { perSecond: 10, windows: [IBKR_GLOBAL_WINDOW] },
  'conservative-50rpm': { perSecond: 50 / 60, windows: [{ max: 50, perMs: 60_000 }, IBKR_GLOBAL_WINDOW] },
};

/**
 * Margin on every rate so jitter between our send and IBKR's arrival clock never crosses the limit. A server counting
 * a sliding 1-s window sees an 11th request only if the 10 gaps before it sum to < 1 s. Bottleneck times every send
 * from the previous one's planned start, so the gaps add up exactly: 10 × 105 ms = 1050 ms, and only a request that
 * leaves (or arrives) > 50 ms later than the one 10 places after it can break the limit (a 50-ms event-loop stall,
 * or 50 ms more network delay on one request than on another over loopback or a LAN to the Gateway). 5 % is the
 * most the 0.95 utilisation goal allows (1 / 1.05 = 0.952); the former 10 % tolerated 100 ms but cost 9 % of the rate.
 */
export const JITTER_MARGIN = 1.05;

/**
 * The same jitter allowance in time, for the departure guard and the "1 per interval" holds: at 10 req/s the 5 %
 * margin leaves 50 ms between a request and the one 10 places after it (1050 ms − 1000 ms).
 */
export const DEPARTURE_MARGIN_MS = Math.round(IBKR_GLOBAL_WINDOW.perMs * (JITTER_MARGIN - 1));

export type FamilyLimit = { kind: 'interval'; intervalMs: number } | { kind: 'concurrent'; max: number };

const MINUTE = 60_000;

/** The documented per-endpoint limits (fact sheet, section 5). */
export const FAMILY_LIMITS: Record<string, FamilyLimit> = {
  snapshot: { kind: 'interval', intervalMs: 100 }, // marketdata/snapshot 10/s, one at a time; its rate: FAMILY_RATE_WINDOWS
  // 5 concurrent documented; ibind runs 4 because IBKR sometimes throttles at 5. One fewer costs little.
  history: { kind: 'concurrent', max: 4 },
  'live-orders': { kind: 'interval', intervalMs: 5_000 },
  trades: { kind: 'interval', intervalMs: 5_000 },
  pnl: { kind: 'interval', intervalMs: 5_000 },
  'portfolio-accounts': { kind: 'interval', intervalMs: 5_000 },
  'portfolio-subaccounts': { kind: 'interval', intervalMs: 5_000 },
  'scanner-params': { kind: 'interval', intervalMs: 15 * MINUTE },
  'scanner-run': { kind: 'interval', intervalMs: 1_000 },
  'pa-performance': { kind: 'interval', intervalMs: 15 * MINUTE },
  'pa-summary': { kind: 'interval', intervalMs: 15 * MINUTE },
  'pa-transactions': { kind: 'interval', intervalMs: 15 * MINUTE },
  fyi: { kind: 'interval', intervalMs: 1_000 },
  tickle: { kind: 'interval', intervalMs: 1_000 },
  'sso-validate': { kind: 'interval', intervalMs: MINUTE },
};

/** Families whose documented limit is a rate: the departure guard counts them like the global limit. */
export const FAMILY_RATE_WINDOWS: Partial<Record<string, RateWindow>> = {
  snapshot: { max: 10, perMs: 1_000 }, // marketdata/snapshot 10/s
};

/**
 * The departures of one rate window, as a sliding log (a pure core: time comes in as `now`). A departure stays in
 * the window for perMs + DEPARTURE_MARGIN_MS: IBKR's clock sees it a little later than ours did, and an arrival at
 * exactly perMs after another is already outside IBKR's window (the simulator counts (now − perMs, now]).
 */
export class DepartureWindow {
  private readonly log: number[] = [];
  private readonly spanMs: number;

  constructor(readonly rule: RateWindow) {
    this.spanMs = rule.perMs + DEPARTURE_MARGIN_MS;
  }

  /** Milliseconds until one more request may leave; 0 when it may leave now. */
  waitMs(now: number): number {
    while (this.log.length > 0 && (this.log[0] as number) <= now - this.spanMs) this.log.shift();
    if (this.log.length < this.rule.max) return 0;
    return (this.log[this.log.length - this.rule.max] as number) + this.spanMs - now;
  }

  record(now: number): void {
    this.log.push(now);
  }
}

interface GateWaiter {
  windows: readonly DepartureWindow[];
  resolve: (departed: boolean) => void;
  reject: (err: Error) => void;
}

/**
 * The departure guard. Bottleneck spaces jobs by reserving each start time when it registers the job, then fires it
 * with a timer. When the event loop stalls (a CPU-heavy node, the in-process simulator pricing option chains, a GC),
 * every reserved timer that fell due during the stall fires together at its end; IBKR counts requests in a sliding
 * window as they ARRIVE, so the window after a stall holds the bunch plus the requests sent on time after it: a 429
 * and a 10–15 min penalty box, earned by our own traffic. The gate therefore re-applies IBKR's rule to the actual
 * departure: a request that finds a window full waits, first in first out, until the oldest departure has left it,
 * and its own departure is recorded when it is let through. It runs inside the Bottleneck job, so the job keeps its
 * family slot while it waits (a 1-per-5-s family or the history concurrency never sees another request overtake it),
 * and a request let through during a pause is not sent (it resolves `false`; the job queues again after the pause).
 * Clustered, the gate sees this instance's departures only; Redis shares Bottleneck's spacing, family slots and the
 * 429 pause between instances, so a stall on one instance cannot make it exceed the limit on its own, but the
 * instances' combined arrivals are bounded by the shared spacing alone.
 * Times come from a monotonic clock: a wall-clock step would otherwise hold or release the whole connection.
 */
class DepartureGate {
  private readonly waiting: GateWaiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed: Error | undefined;

  constructor(
    private readonly canDepart: () => boolean,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Resolves true when the request may leave now (its departure is recorded), false if the connection paused. */
  pass(windows: readonly DepartureWindow[]): Promise<boolean> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ windows, resolve, reject });
      if (this.waiting.length === 1) this.pump();
    });
  }

  private pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (let head = this.waiting[0]; head; head = this.waiting[0]) {
      if (!this.canDepart()) {
        this.waiting.shift();
        head.resolve(false);
        continue;
      }
      const now = this.now();
      const wait = Math.max(0, ...head.windows.map((w) => w.waitMs(now)));
      if (wait > 0) {
        this.timer = setTimeout(() => this.pump(), Math.ceil(wait));
        return;
      }
      this.waiting.shift();
      for (const w of head.windows) w.record(now);
      head.resolve(true);
    }
  }

  /** Rejects every waiting request with `err` and every later one; clears the timer. */
  close(err: Error): void {
    this.closed = err;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.waiting.splice(0)) w.reject(err);
  }
}

const PAUSED: unique symbol = Symbol('paused');

/** The Bottleneck 2.19 internals the patches below replace or call (LocalDatastore and Bottleneck.prototype). */
interface BottleneckJob {
  options: { expiration?: number | null };
  doRun(): void;
  doExecute(chained: unknown, clearGlobalState: () => boolean, run: (wait: number) => void, free: (...args: unknown[]) => Promise<unknown>): Promise<unknown>;
}
/** Bottleneck's LocalDatastore: its reservation of the next start, its running count, its settings. */
interface LocalStore {
  yieldLoop?: unknown;
  _nextRequest: number;
  _running: number;
  _done: number;
  storeOptions: { minTime: number; reservoir: number | null | undefined };
  check?: (weight: number, now: number) => boolean;
  computeCapacity(): number | null;
}
interface BottleneckInternals {
  _store?: Partial<LocalStore>;
  _drainAll?: (capacity: number | null) => unknown;
  _run?: (index: string, job: BottleneckJob, wait: number) => void;
  _free?: (index: string, job: BottleneckJob, ...rest: unknown[]) => Promise<unknown>;
  _clearGlobalState?: (index: string) => boolean;
  _scheduled?: Record<string, { timeout?: NodeJS.Timeout; expiration?: NodeJS.Timeout; job: BottleneckJob }>;
  _limiter?: unknown;
}

/**
 * The two patches we apply to Bottleneck (2.19), on each LOCAL limiter of our tree and nowhere else. Both remove
 * timer hops from an idle request; neither changes what Bottleneck computes (spacing and concurrency are decided
 * inside its steps from Date.now() and counters, never from how long a hop took), so the limits are unchanged.
 *
 * 1. Bottleneck's in-memory datastore imitates its Redis datastore by awaiting `yieldLoop()` before every step
 *    (submit, register, free, updateSettings...), so that local and clustered limiters behave alike: no step
 *    completes in the caller's tick. Its yieldLoop is `setTimeout(resolve, 0)`, which Node clamps to ≥ 1 ms.
 *    setImmediate keeps every step a real event-loop turn, in the same order (immediates run first in, first out,
 *    as the equal-delay timers did), for microseconds.
 * 2. A registered job starts on `setTimeout(run, wait)`, its reserved start time. With wait 0 (the limiter had
 *    room: the reserved start is now) that timer is one more clamped millisecond per limiter passed, the largest
 *    part of an idle request's cost (ibkr.client.overhead). Such a job now starts in the register step itself, as
 *    the timer would have started it, minus the clamp; a job with a wait keeps its timer, so the reservation is
 *    Bottleneck's as before, and the departure guard re-checks IBKR's window either way. Starting at once also
 *    means the job is never left RUNNING-but-not-started, so stop() has no timer of it to clear.
 *
 * The instance is patched, not the prototypes: another node in the same Node-RED runtime using Bottleneck keeps the
 * library as published. Clustered limiters use the Redis datastore and are left as they are. If a Bottleneck
 * upgrade renames what is patched, this throws when the connection is created, rather than silently bringing the
 * timers back (the limiter unit test asserts the patches are in effect).
 */
export function withoutTimerHops(limiter: Bottleneck): Bottleneck {
  const internals = limiter as unknown as BottleneckInternals;
  const store = internals._store;
  const { _run: timedRun, _free: free, _clearGlobalState: clearGlobalState, _scheduled: scheduled } = internals;
  const compatible = typeof store?.yieldLoop === 'function' && typeof store.check === 'function' && typeof store._nextRequest === 'number' &&
    typeof store._running === 'number' && typeof internals._drainAll === 'function' && !!timedRun && !!free && !!clearGlobalState && typeof scheduled === 'object';
  if (!compatible) {
    throw new MiaError(
      'IBKR_LIMITER_INCOMPATIBLE',
      'IBKR rate limiter: the installed Bottleneck lacks the internals lib/ibkr/limiter.ts relies on (local datastore yieldLoop(), check(), ' +
        '_nextRequest, _running; _run, _free, _drainAll, _clearGlobalState; checked against bottleneck 2.19). Reinstall bottleneck 2.19.x, or re-check withoutTimerHops() against the new version.',
    );
  }
  (store as LocalStore).yieldLoop = CHECK_PHASE_YIELD;
  internals._run = function runWhenDue(this: BottleneckInternals, index: string, job: BottleneckJob, wait: number): void {
    // A job with an expiration (clustered limiters only) keeps Bottleneck's own path and its expiry timer.
    if (wait > 0 || job.options.expiration != null) return timedRun.call(this, index, job, wait);
    // Bottleneck.prototype._run, with the start timer's body run now.
    job.doRun();
    scheduled[index] = { job };
    void job.doExecute(
      this._limiter,
      () => clearGlobalState.call(this, index),
      (retryWait: number) => this._run?.call(this, index, job, retryWait),
      (...rest: unknown[]) => free.call(this, index, job, ...rest),
    );
  };
  return limiter;
}

/** What withoutTimerHops() installs as the datastore's yield; exported so a test can tell that the patch is in effect. */
export const CHECK_PHASE_YIELD = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Bottleneck's register step for one request, taken in the caller's tick when Bottleneck would start it at once: no
 * job is waiting to be queued or registered (so nothing is overtaken) and its local datastore's own check() says a
 * start is due now (the reservation of the previous start has passed; no reservoir pause; concurrency has room).
 * The bookkeeping is its register step's: the running count, and the next start reserved one minTime from now, so
 * every job queued after it is spaced from it exactly as from a job. Returns the free step to call when the request
 * has been answered, or undefined when the request must go through schedule() (and wait its turn there).
 * An idle request otherwise pays Bottleneck's whole job pipeline (submit and register steps, each an event-loop turn,
 * a dozen internal promises and events): a third of a loopback HTTPS round trip (ibkr.client.overhead).
 * Local limiters patched by withoutTimerHops() only: a clustered limiter's state is in Redis.
 */
export function takeStartNow(limiter: Bottleneck): (() => void) | undefined {
  const internals = limiter as unknown as BottleneckInternals;
  const store = internals._store as LocalStore;
  const { RECEIVED, QUEUED } = limiter.counts();
  const now = Date.now(); // Bottleneck's own clock for its reservations
  if (RECEIVED !== 0 || QUEUED !== 0 || !store.check?.(1, now)) return undefined;
  store._running += 1;
  if (typeof store.storeOptions.reservoir === 'number') store.storeOptions.reservoir -= 1;
  store._nextRequest = now + store.storeOptions.minTime;
  let freed = false;
  return () => {
    if (freed) return;
    freed = true;
    store._running -= 1;
    store._done += 1;
    if (limiter.queued() > 0) internals._drainAll?.(store.computeCapacity());
  };
}

/** Clustered: how long a request waits for Redis before it fails with ClusterUnavailableError. */
export const CLUSTER_CONNECT_TIMEOUT_MS = 5_000;
const WARNING_INTERVAL_MS = 30_000;

/**
 * Runs `body` as one job of `limiter` and settles with the body's own outcome as soon as it has one. Bottleneck
 * settles a job only after freeing its slot, one more datastore step (an event-loop turn) later; the slot is still
 * freed exactly then, and `thenHold` (the interval families' hold) still runs inside the job, so the limits are the
 * same; the caller just does not wait for the bookkeeping. Errors of Bottleneck itself (a drop on stop(), Redis)
 * reject as before.
 */
function inSlot<T>(limiter: Bottleneck, options: Bottleneck.JobOptions, body: () => Promise<T>, thenHold?: () => Promise<void>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    limiter
      .schedule(options, async () => {
        try {
          resolve(await body());
        } catch (err) {
          reject(err);
        }
        if (thenHold) await thenHold();
      })
      .catch(reject);
  });
}

export type EndpointFamily = keyof typeof FAMILY_LIMITS | 'other';

/** The family of a request path (with or without /v1/api and query string). */
export function endpointFamily(method: string, path: string): EndpointFamily {
  const p = (path.split('?')[0] ?? '').replace(/^.*\/v1\/api/, '').replace(/\/+$/, '');
  if (p === '/iserver/marketdata/snapshot') return 'snapshot';
  if (p === '/iserver/marketdata/history' || p === '/hmds/history') return 'history';
  if (p === '/iserver/account/orders' && method.toUpperCase() === 'GET') return 'live-orders';
  if (p === '/iserver/account/trades') return 'trades';
  if (p === '/iserver/account/pnl/partitioned') return 'pnl';
  if (p === '/portfolio/accounts') return 'portfolio-accounts';
  if (p === '/portfolio/subaccounts') return 'portfolio-subaccounts';
  if (p === '/iserver/scanner/params') return 'scanner-params';
  if (p === '/iserver/scanner/run') return 'scanner-run';
  if (p === '/pa/performance') return 'pa-performance';
  if (p === '/pa/summary') return 'pa-summary';
  if (p === '/pa/transactions') return 'pa-transactions';
  if (p.startsWith('/fyi/')) return 'fyi';
  if (p === '/tickle') return 'tickle';
  if (p === '/sso/validate') return 'sso-validate';
  return 'other';
}

/**
 * Which waiting request is handed to the limiter first (see ./priority-queue.ts): orders and their confirmations
 * before everything; an options-chain refresh (hundreds of snapshot and contract-detail requests at once) after
 * everything; the rest in arrival order between them.
 */
export function requestPriority(method: string, path: string): number {
  const p = (path.split('?')[0] ?? '').replace(/^.*\/v1\/api/, '').replace(/\/+$/, '');
  if (method.toUpperCase() !== 'GET' && (/^\/iserver\/account\/[^/]+\/orders?(\/|$)/.test(p) || p.startsWith('/iserver/reply/'))) return 0;
  if (p === '/iserver/marketdata/snapshot' || p === '/iserver/secdef/info' || p === '/iserver/secdef/strikes') return 9;
  return 5;
}

/** Requests handed to the global limiter ahead of their departure (./priority-queue.ts): keeps its spacing busy. */
const LOOKAHEAD = 2;

export interface LimiterOptions {
  preset?: RatePreset;
  /** Shares the limits with every instance of the same IBKR username over Redis. */
  cluster?: ClusterSettings;
  /** First pause after a 429 when IBKR gives no Retry-After; doubled per consecutive 429. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Overrides of the documented family limits (tests; a stricter limit IBKR announces later). */
  familyLimits?: Partial<Record<string, FamilyLimit>>;
  now?: () => number;
  /** @internal Tests only: false sends as Bottleneck fires, without the departure guard (reproduces the bunching). */
  departureGuard?: boolean;
}

export interface LimiterCounts {
  /** Requests waiting for their turn. */
  scheduled: number;
  /** Requests sent and not answered yet. */
  inFlight: number;
  sent: number;
  rateLimited: number;
  paused: boolean;
}

export interface PauseEvent {
  ms: number;
  until: number;
  reason: string;
}

/**
 * Events: 'paused' (PauseEvent), 'resumed' (), 'log' (level, message). Errors from stop() reject waiting requests with
 * ConnectionClosedError; clustered, a Redis failure rejects them with ClusterUnavailableError.
 */
export class IbkrLimiter extends EventEmitter {
  private readonly global: Bottleneck;
  private readonly families = new Map<string, Bottleneck>();
  private readonly gate = new DepartureGate(() => !this.isPaused);
  private readonly queue = new PriorityQueue(LOOKAHEAD);
  private readonly globalWindows: readonly DepartureWindow[];
  private readonly familyWindows = new Map<string, DepartureWindow>();
  private readonly options: LimiterOptions;
  private readonly now: () => number;
  private readonly resumeWaiters = new Set<{ resolve: () => void; reject: (err: Error) => void; path: string }>();
  private readonly holds = new Set<{ timer: NodeJS.Timeout; release: () => void }>();
  /** Requests started by takeStartNow(), not Bottleneck jobs: stop() waits for them as Bottleneck waits for its jobs. */
  private readonly startedNow = new Set<Promise<unknown>>();
  private pauseTimer: NodeJS.Timeout | undefined;
  private pausedUntil = 0;
  private consecutive429 = 0;
  private stopped = false;
  private readonly counts = { scheduled: 0, inFlight: 0, sent: 0, rateLimited: 0 };
  private readonly cluster: { id: string; connection: Bottleneck.IORedisConnection; self: string } | undefined;
  private connected = false;
  private lastWarning = { message: '', at: 0 };

  constructor(options: LimiterOptions = {}) {
    super();
    this.options = options;
    this.now = options.now ?? Date.now;
    if (options.cluster) {
      const id = resolveClusterId(options.cluster);
      const connection = openClusterConnection(options.cluster.redis);
      connection.on('error', (err: unknown) => this.warn(err));
      this.cluster = { id, connection, self: Math.random().toString(36).slice(2) };
    }
    const { perSecond, windows } = RATE_PRESETS[options.preset ?? 'ibkr-10rps'];
    this.globalWindows = windows.map((rule) => new DepartureWindow(rule));
    this.global = this.limiter('global', { minTime: Math.ceil((1000 / perSecond) * JITTER_MARGIN), maxConcurrent: null });
    if (this.cluster) this.global.on('message', (text: string) => this.onClusterMessage(text));
  }

  /** One limiter of the tree; clustered, its state lives in Redis under the username's id. */
  private limiter(name: string, settings: Bottleneck.ConstructorOptions): Bottleneck {
    if (!this.cluster) {
      const local = withoutTimerHops(new Bottleneck({ id: name, ...settings }));
      local.on('error', (err: unknown) => this.warn(err));
      return local;
    }
    const shared = new Bottleneck({
      id: `${this.cluster.id}:${name}`,
      connection: this.cluster.connection,
      timeout: CLUSTER_KEY_TTL_MS,
      clearDatastore: false,
      ...settings,
    });
    shared.on('error', (err: unknown) => this.warn(err));
    // The first instance to create the keys wrote its settings; ours replace them, so the last started wins.
    // (typed as returning the limiter; it returns a promise)
    Promise.resolve(shared.updateSettings(settings) as unknown).catch((err: unknown) => this.warn(err));
    return shared;
  }

  /** A Redis outage makes ioredis report every reconnect attempt: one warning per message per 30 s is enough. */
  private warn(err: unknown): void {
    const message = `IBKR rate limiter: ${err instanceof Error ? err.message : String(err)}`;
    const now = this.now();
    if (message === this.lastWarning.message && now - this.lastWarning.at < WARNING_INTERVAL_MS) return;
    this.lastWarning = { message, at: now };
    this.emit('log', 'warn', message);
  }

  /**
   * Clustered: resolves once Redis answers, rejects with ClusterUnavailableError after CLUSTER_CONNECT_TIMEOUT_MS
   * (Bottleneck itself would wait for ever). Local: resolves at once.
   */
  ready(path = 'limiter start'): Promise<void> {
    const cluster = this.options.cluster;
    if (!cluster || this.connected) return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${CLUSTER_CONNECT_TIMEOUT_MS / 1000} s`)), CLUSTER_CONNECT_TIMEOUT_MS);
    });
    return Promise.race([this.global.ready(), timeout]).then(
      () => {
        clearTimeout(timer);
        this.connected = true;
      },
      (err: unknown) => {
        clearTimeout(timer);
        throw new ClusterUnavailableError(cluster.redis, path, err);
      },
    );
  }

  get clusterId(): string | undefined {
    return this.cluster?.id;
  }

  private limitOf(name: string): FamilyLimit | undefined {
    return this.options.familyLimits?.[name] ?? FAMILY_LIMITS[name];
  }

  private family(name: string): Bottleneck | undefined {
    const limit = this.limitOf(name);
    if (!limit) return undefined;
    let limiter = this.families.get(name);
    if (!limiter) {
      limiter = this.limiter(name, { maxConcurrent: limit.kind === 'concurrent' ? limit.max : 1 });
      this.families.set(name, limiter);
    }
    return limiter;
  }

  /** The departure windows a request of `familyName` must fit: the global ones and its family's rate, if any. */
  private windowsFor(familyName: string): readonly DepartureWindow[] {
    const rule = FAMILY_RATE_WINDOWS[familyName];
    if (!rule) return this.globalWindows;
    let window = this.familyWindows.get(familyName);
    if (!window) {
      window = new DepartureWindow(rule);
      this.familyWindows.set(familyName, window);
    }
    return [...this.globalWindows, window];
  }

  /** Runs `send` when the global limit, the family limit and any pause allow it. */
  schedule<T>(method: string, path: string, send: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(path));
    if (this.cluster && !this.connected) return this.ready(path).then(() => this.scheduleNow(method, path, send));
    return this.scheduleNow(method, path, send);
  }

  private scheduleNow<T>(method: string, path: string, send: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(path));
    const familyName = endpointFamily(method, path);
    const family = this.family(familyName);
    const limit = this.limitOf(familyName);
    this.counts.scheduled += 1;
    const windows = this.windowsFor(familyName);
    const priority = requestPriority(method, path);
    let started = false;
    let sentAt = 0;
    // Bottleneck registers queued jobs ahead with their start delays, so a pause cannot stop a job it already
    // timed: such a job finds the tree paused, sends nothing and queues again after the pause, in line.
    const depart = async (): Promise<T | typeof PAUSED> => {
      if (this.isPaused) return PAUSED;
      if (this.options.departureGuard !== false && !(await this.gate.pass(windows))) return PAUSED;
      started = true;
      sentAt = this.now();
      this.counts.scheduled -= 1;
      this.counts.inFlight += 1;
      this.counts.sent += 1;
      try {
        return await send();
      } finally {
        this.counts.inFlight -= 1;
      }
    };
    // The global limiter, after the priority queue: at once when Bottleneck would start the request at once (see
    // takeStartNow), else as a job. The request leaves the queue as it departs, or if it never does.
    const attemptThroughGlobal = async (): Promise<T | typeof PAUSED> => {
      const admission = this.queue.tryEnter() ?? (await this.queue.enter(priority));
      const departNow = (): Promise<T | typeof PAUSED> => {
        admission.leave();
        return depart();
      };
      try {
        const free = this.cluster || this.isPaused ? undefined : takeStartNow(this.global);
        return await (free ? this.departing(departNow(), free) : inSlot(this.global, {}, departNow));
      } finally {
        admission.leave();
      }
    };
    const sendThroughGlobal = async (): Promise<T> => {
      for (;;) {
        const result = await attemptThroughGlobal();
        if (result !== PAUSED) return result;
        await this.untilResumed(path);
      }
    };
    const settle = (promise: Promise<T>): Promise<T> =>
      promise.catch((err: unknown) => {
        if (!started) this.counts.scheduled -= 1;
        started = true;
        if (this.stopped) throw new ConnectionClosedError(path);
        // Our own errors and the request's pass as they are; anything else came from Redis, before any send.
        if (this.options.cluster && !(err instanceof IbkrError) && !sentAt) throw new ClusterUnavailableError(this.options.cluster.redis, path, err);
        throw err;
      });
    // Clustered, a slot held by an instance that dies is freed by Redis after this (see ./cluster.ts).
    const jobOptions = (heldMs: number): Bottleneck.JobOptions => (this.cluster ? { expiration: heldMs + CLUSTER_JOB_GRACE_MS } : {});

    if (!family || !limit) return settle(sendThroughGlobal());
    if (limit.kind === 'concurrent') return settle(inSlot(family, jobOptions(0), sendThroughGlobal));
    // Interval family: hold the single slot until intervalMs (+ the arrival-jitter margin) after the actual send (see
    // the header comment); the caller has its answer already, only the next request of the family waits. A family
    // whose documented limit is a rate (snapshot 10/s) has its jitter allowance in its departure window already, as
    // the global limit has (10 per 1050 ms); a second one on its hold would space it 150 ms apart, 6.7/s.
    const heldMs = limit.intervalMs + (FAMILY_RATE_WINDOWS[familyName] ? 0 : DEPARTURE_MARGIN_MS);
    return settle(
      inSlot(family, jobOptions(limit.intervalMs), sendThroughGlobal, () => this.hold(sentAt ? sentAt + heldMs - this.now() : 0)),
    );
  }

  /** A request started at once: `free` is the global limiter's free step, once it is answered. */
  private departing<R>(request: Promise<R>, free: () => void): Promise<R> {
    const tracked = request.finally(free);
    const settled = tracked.then(
      () => undefined,
      () => undefined,
    );
    this.startedNow.add(settled);
    void settled.then(() => this.startedNow.delete(settled));
    return tracked;
  }

  private hold(ms: number): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.holds.delete(entry);
          resolve();
        }, ms),
        release: resolve,
      };
      this.holds.add(entry);
    });
  }

  /** Holds every request of the connection for `ms` (at least; a longer pause in force is kept). */
  pause(ms: number, reason: string): void {
    if (!this.holdFor(ms, reason)) return;
    if (this.cluster) {
      this.global.publish(encodePause({ from: this.cluster.self, ms, reason })).catch((err: unknown) => this.warn(err));
    } else {
      void this.global.updateSettings({ reservoir: 0 });
    }
  }

  /** Pauses this instance only; false when a pause at least as long is already in force. */
  private holdFor(ms: number, reason: string): boolean {
    if (this.stopped) return false;
    const until = this.now() + ms;
    if (until <= this.pausedUntil) return false;
    this.pausedUntil = until;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => this.resume(), ms);
    this.emit('paused', { ms, until, reason } satisfies PauseEvent);
    return true;
  }

  /** Another instance of the same username was rate-limited: IBKR's penalty applies to us too. */
  private onClusterMessage(text: string): void {
    const message = decodePause(text);
    if (!message || message.from === this.cluster?.self) return;
    this.holdFor(message.ms, `${message.reason}, on another instance sharing this IBKR username`);
  }

  private resume(): void {
    this.pauseTimer = undefined;
    this.pausedUntil = 0;
    if (this.stopped) return;
    if (!this.cluster) void this.global.updateSettings({ reservoir: null });
    const waiters = [...this.resumeWaiters];
    this.resumeWaiters.clear();
    for (const w of waiters) w.resolve();
    this.emit('resumed');
  }

  private untilResumed(path: string): Promise<void> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(path));
    if (!this.isPaused) return Promise.resolve();
    return new Promise((resolve, reject) => this.resumeWaiters.add({ resolve, reject, path }));
  }

  /**
   * Records a 429 and pauses the tree: IBKR's Retry-After if given, else a doubling backoff. 429s that arrive
   * while a pause is in force (requests already on the wire) do not stack another doubling. Returns the pause.
   */
  penalize(retryAfterMs: number | undefined, reason: string): number {
    this.counts.rateLimited += 1;
    const initial = this.options.backoffInitialMs ?? 2_000;
    const max = this.options.backoffMaxMs ?? 60_000;
    const remaining = this.pausedUntil - this.now();
    if (remaining > 0) return remaining;
    const backoff = Math.min(max, initial * 2 ** this.consecutive429);
    this.consecutive429 += 1;
    const ms = retryAfterMs ?? backoff;
    this.pause(ms, reason);
    return ms;
  }

  /** A normal answer ends a run of 429s, so the next one starts the backoff from the beginning. */
  recordSuccess(): void {
    this.consecutive429 = 0;
  }

  get isPaused(): boolean {
    return this.pausedUntil > this.now();
  }

  getCounts(): LimiterCounts {
    return { ...this.counts, paused: this.isPaused };
  }

  /** Drops every waiting request (they reject with ConnectionClosedError) and clears every timer. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    for (const entry of this.holds) {
      clearTimeout(entry.timer);
      entry.release();
    }
    this.holds.clear();
    for (const w of this.resumeWaiters) w.reject(new ConnectionClosedError(w.path));
    this.resumeWaiters.clear();
    this.queue.close(new ConnectionClosedError('limiter stop'));
    // Before Bottleneck's stop(), which waits for its executing jobs: those waiting at the gate are among them.
    this.gate.close(new ConnectionClosedError('limiter stop'));
    const all = [this.global, ...this.families.values()];
    await Promise.all([
      ...all.map((l) => l.stop({ dropWaitingJobs: true, dropErrorMessage: 'IBKR connection closed' }).catch(() => undefined)),
      ...this.startedNow,
    ]);
    if (!this.cluster) {
      await Promise.all(all.map((l) => l.disconnect(false).catch(() => undefined)));
      return;
    }
    // The shared connection stops every limiter's heartbeat and closes both sockets; a limiter's own disconnect()
    // would only unsubscribe, and against an unreachable Redis that command fails unhandled inside Bottleneck.
    const connection = this.cluster.connection;
    await (this.connected ? connection.disconnect(true) : Promise.reject(new Error('never connected'))).catch(() => connection.disconnect(false));
  }
}
