// One limiter per IBKR connection; every request of the connection passes through schedule(), nothing else in the
// package calls IBKR. It is three small parts, each in its own module:
// - ./limits.ts: IBKR's documented limits as a table (the global window, the per-endpoint families) and the
//   request priorities;
// - ./departure-gate.ts over ./departures.ts: the windows, each request counted from when it leaves until its answer
//   comes back, with an even pace and the 429 pause; waiting requests leave by the priority their caller gave, then
//   in arrival order. In memory for one instance; in Redis for a cluster of instances of one username (./cluster.ts);
// - Bottleneck (public API only) for the one rule it states exactly: a family's number of requests at once
//   (history), shared over Redis by its own clustering when clustered.
// A 429 pauses the connection (every instance of the username when clustered) for IBKR's Retry-After, or a full-
// jitter backoff (../backoff.ts) that a normal answer resets.

import { EventEmitter } from 'node:events';
import Bottleneck from 'bottleneck';
import type Redis from 'ioredis';
import { Backoff } from '../backoff';
import {
  CLUSTER_JOB_GRACE_MS,
  CLUSTER_KEY_TTL_MS,
  ClusterUnavailableError,
  RedisDepartures,
  bottleneckConnection,
  openClusterClient,
  resolveClusterId,
  type ClusterSettings,
} from './cluster';
import { DepartureGate } from './departure-gate';
import { LocalDepartures, departureRule, type DepartureRule, type DepartureStore } from './departures';
import { ConnectionClosedError, IbkrError } from './errors';
import { FAMILY_LIMITS, RATE_PRESETS, endpointFamily, familyWindow, priorityRank, type FamilyLimit, type Priority, type RatePreset } from './limits';
import type { Scheduler } from './scheduler';

export type { ClusterSettings } from './cluster';
export { FAMILY_LIMITS, RATE_PRESETS, endpointFamily, type EndpointFamily, type FamilyLimit, type Priority, type RatePreset, type RateWindow } from './limits';

/** Clustered: how long a request waits for Redis before it fails with ClusterUnavailableError. */
export const CLUSTER_CONNECT_TIMEOUT_MS = 5_000;
const WARNING_INTERVAL_MS = 30_000;

/** A pause read back from Redis within this of our own is our own (clock and round-trip differences). */
const PAUSE_ECHO_MS = 250;

/** Node's timers, kept referenced: a request waiting for its turn keeps the process alive, as its socket would. */
const requestTimers: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One request as the limiter sees it: where it goes and how urgent its caller says it is. */
export interface LimitedRequest {
  method: string;
  path: string;
  priority: Priority;
}

export interface LimiterOptions {
  preset?: RatePreset;
  /** Shares the limits with every instance of the same IBKR username over Redis. */
  cluster?: ClusterSettings;
  /** The pause after a 429 without Retry-After: full jitter between backoffMinMs and min(max, initial × 2^n). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  backoffMinMs?: number;
  /** Overrides of the documented family limits (tests; a stricter limit IBKR announces later). */
  familyLimits?: Partial<Record<string, FamilyLimit>>;
  /** Timers (the gate's waits, the pause); virtual in tests. */
  scheduler?: Scheduler;
  /** A monotonic clock in ms (default performance.now): a wall-clock step must not hold or release the connection. */
  now?: () => number;
  /** [0, 1), for the backoff's jitter. */
  random?: () => number;
  /** @internal Tests: the clustered ledger's clock (default: Redis's own TIME). */
  clusterClock?: () => number;
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
 * Events: 'paused' (PauseEvent), 'resumed' (), 'log' (level, message). After stop(), waiting requests reject with
 * ConnectionClosedError; clustered, a Redis failure rejects them with ClusterUnavailableError.
 */
export class IbkrLimiter extends EventEmitter {
  private readonly options: LimiterOptions;
  private readonly now: () => number;
  private readonly scheduler: Scheduler;
  private readonly store: DepartureStore;
  private readonly gate: DepartureGate;
  private readonly globalRules: readonly DepartureRule[];
  private readonly familyRules = new Map<string, DepartureRule | undefined>();
  private readonly concurrency = new Map<string, Bottleneck>();
  private readonly backoff: Backoff;
  private readonly cluster: { id: string; client: Redis; connection?: Bottleneck.IORedisConnection } | undefined;
  private readonly counts = { scheduled: 0, inFlight: 0, sent: 0, rateLimited: 0 };
  /** Requests sent and not answered: stop() waits for them, so an order in flight is not cut off. */
  private readonly onTheWire = new Set<Promise<unknown>>();
  private pausedUntil = -Infinity;
  private pauseTimer: unknown;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private stopped = false;
  private lastWarning = { message: '', at: -Infinity };

  constructor(options: LimiterOptions = {}) {
    super();
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.scheduler = options.scheduler ?? requestTimers;
    this.backoff = new Backoff({
      baseMs: options.backoffInitialMs ?? 2_000,
      capMs: options.backoffMaxMs ?? 60_000,
      floorMs: options.backoffMinMs ?? Math.min(1_000, options.backoffInitialMs ?? 1_000),
      random: options.random,
    });
    this.globalRules = RATE_PRESETS[options.preset ?? 'ibkr-10rps'].windows.map((w, i) => departureRule(`global-${i}-${w.max}per${w.perMs}`, w, true));
    if (options.cluster) {
      const id = resolveClusterId(options.cluster);
      const client = openClusterClient(options.cluster.redis);
      client.on('error', (err: unknown) => this.warn(err));
      this.cluster = { id, client };
      this.store = new RedisDepartures(client, id, options.clusterClock);
    } else {
      this.store = new LocalDepartures(this.now);
    }
    this.gate = new DepartureGate(this.store, this.scheduler, this.now, {
      // Clustered, a pause in Redis may come from another instance: show it here too (once, not per request).
      onPause: (ms) => {
        if (this.cluster && this.now() + ms > this.pausedUntil + PAUSE_ECHO_MS) this.holdFor(ms, 'rate limited on another instance sharing this IBKR username');
      },
      onStoreError: (err) => this.warn(err),
    });
  }

  get clusterId(): string | undefined {
    return this.cluster?.id;
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
   * Clustered: resolves once Redis answers, rejects with ClusterUnavailableError after CLUSTER_CONNECT_TIMEOUT_MS.
   * Local: resolves at once.
   */
  ready(path = 'limiter start'): Promise<void> {
    const cluster = this.cluster;
    if (!cluster || this.connected) return Promise.resolve();
    const settings = this.options.cluster as ClusterSettings;
    this.connecting ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no connection within ${CLUSTER_CONNECT_TIMEOUT_MS / 1000} s`)), CLUSTER_CONNECT_TIMEOUT_MS);
      });
      try {
        await Promise.race([cluster.client.ping(), timeout]);
        this.connected = true;
      } finally {
        clearTimeout(timer);
        this.connecting = undefined;
      }
    })();
    return this.connecting.catch((err: unknown) => {
      throw new ClusterUnavailableError(settings.redis, path, err);
    });
  }

  private limitOf(family: string): FamilyLimit | undefined {
    return this.options.familyLimits?.[family] ?? FAMILY_LIMITS[family];
  }

  /** The rules a request of `family` must fit: the global windows and its family's window, if it has one. */
  private rulesFor(family: string): readonly DepartureRule[] {
    if (!this.familyRules.has(family)) {
      const limit = this.limitOf(family);
      const window = limit && familyWindow(limit);
      this.familyRules.set(family, window && departureRule(`family-${family}`, window, false));
    }
    const own = this.familyRules.get(family);
    return own ? [...this.globalRules, own] : this.globalRules;
  }

  /** Bottleneck for a family limited to `max` requests at once; clustered, its count is shared in Redis. */
  private concurrencyOf(family: string, max: number): Bottleneck {
    let limiter = this.concurrency.get(family);
    if (limiter) return limiter;
    if (this.cluster) this.cluster.connection ??= bottleneckConnection(this.cluster.client);
    limiter = this.cluster
      ? new Bottleneck({ id: `${this.cluster.id}:${family}`, connection: this.cluster.connection, timeout: CLUSTER_KEY_TTL_MS, clearDatastore: false, maxConcurrent: max })
      : new Bottleneck({ maxConcurrent: max });
    limiter.on('error', (err: unknown) => this.warn(err));
    if (this.cluster) {
      // The first instance to create the keys wrote its settings; ours replace them, so the last started wins.
      Promise.resolve(limiter.updateSettings({ maxConcurrent: max }) as unknown).catch((err: unknown) => this.warn(err));
    }
    this.concurrency.set(family, limiter);
    return limiter;
  }

  /** Sends `send` when IBKR's limits, the request's priority and any pause allow it. */
  schedule<T>(request: LimitedRequest, send: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(request.path));
    const rank = priorityRank(request.priority);
    if (this.cluster && !this.connected) return this.ready(request.path).then(() => this.scheduleNow(request, rank, send));
    return this.scheduleNow(request, rank, send);
  }

  private scheduleNow<T>(request: LimitedRequest, rank: number, send: () => Promise<T>): Promise<T> {
    if (this.stopped) return Promise.reject(new ConnectionClosedError(request.path));
    const family = endpointFamily(request.method, request.path);
    const rules = this.rulesFor(family);
    const limit = this.limitOf(family);
    this.counts.scheduled += 1;
    let sent = false;
    const depart = async (): Promise<T> => {
      const ticket = await this.gate.pass(rules, rank);
      sent = true;
      this.counts.scheduled -= 1;
      this.counts.inFlight += 1;
      this.counts.sent += 1;
      const answer = Promise.resolve().then(send);
      const settled = answer.then(() => undefined, () => undefined);
      this.onTheWire.add(settled);
      try {
        return await answer;
      } finally {
        // IBKR counted the request before it answered: its count in the windows ends now.
        this.gate.answered(ticket);
        this.counts.inFlight -= 1;
        this.onTheWire.delete(settled);
      }
    };
    const run =
      limit?.kind === 'concurrent'
        ? this.concurrencyOf(family, limit.max).schedule(
            // Bottleneck's priority: 0 is its highest, as our rank; clustered, a dead instance's slot frees itself.
            { priority: rank, ...(this.cluster ? { expiration: CLUSTER_JOB_GRACE_MS } : {}) },
            depart,
          )
        : depart();
    return run.catch((err: unknown) => {
      if (!sent) this.counts.scheduled -= 1;
      // One error for every request the stop dropped from the queue (thousands when an options chain was loading: an
      // error each, with its stack, was a 100 ms block at every redeploy).
      if (this.stopped && !sent) throw err instanceof ConnectionClosedError ? err : new ConnectionClosedError(request.path);
      // Our own errors and the request's pass as they are; anything else came from Redis, before any send.
      if (this.options.cluster && !sent && !(err instanceof IbkrError)) throw new ClusterUnavailableError(this.options.cluster.redis, request.path, err);
      throw err;
    });
  }

  /** Holds every request of the connection (and clustered, of every instance of the username) for `ms` at least. */
  pause(ms: number, reason: string): void {
    if (!this.holdFor(ms, reason)) return;
    Promise.resolve(this.store.pause(ms)).catch((err: unknown) => this.warn(err));
  }

  /** Pauses this instance's view; false when a pause at least as long is already in force. */
  private holdFor(ms: number, reason: string): boolean {
    if (this.stopped) return false;
    const until = this.now() + ms;
    if (until <= this.pausedUntil) return false;
    this.pausedUntil = until;
    if (this.pauseTimer !== undefined) this.scheduler.clearTimeout(this.pauseTimer);
    this.pauseTimer = this.scheduler.setTimeout(() => this.resume(), ms);
    this.emit('paused', { ms, until, reason } satisfies PauseEvent);
    return true;
  }

  private resume(): void {
    this.pauseTimer = undefined;
    this.pausedUntil = -Infinity;
    if (this.stopped) return;
    this.emit('resumed');
    this.gate.wake();
  }

  /**
   * Records a 429 and pauses: IBKR's Retry-After if given, else the backoff's next wait. 429s that arrive while a
   * pause is in force (requests already on the wire) do not stack another step. Returns the pause.
   */
  penalize(retryAfterMs: number | undefined, reason: string): number {
    this.counts.rateLimited += 1;
    const remaining = this.pausedUntil - this.now();
    if (remaining > 0) return remaining;
    const backoff = this.backoff.next();
    const ms = retryAfterMs ?? backoff;
    this.pause(ms, reason);
    return ms;
  }

  /** A normal answer ends a run of 429s, so the next one starts the backoff from the beginning. */
  recordSuccess(): void {
    this.backoff.reset();
  }

  get isPaused(): boolean {
    return this.pausedUntil > this.now();
  }

  /** Bottleneck's own counts (RECEIVED, QUEUED, RUNNING, EXECUTING) for each concurrency-limited family in use. */
  concurrencyCounts(): Record<string, Bottleneck.Counts> {
    return Object.fromEntries([...this.concurrency].map(([family, limiter]) => [family, limiter.counts()]));
  }

  getCounts(): LimiterCounts {
    return { ...this.counts, paused: this.isPaused };
  }

  /** Drops every waiting request (they reject with ConnectionClosedError) and clears every timer. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pauseTimer !== undefined) this.scheduler.clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    this.gate.close(new ConnectionClosedError('(every request still waiting)'));
    const limiters = [...this.concurrency.values()];
    await Promise.all([
      ...limiters.map((l) => l.stop({ dropWaitingJobs: true, dropErrorMessage: 'IBKR connection closed' }).catch(() => undefined)),
      ...this.onTheWire,
    ]);
    if (!this.cluster) {
      await Promise.all(limiters.map((l) => l.disconnect(false).catch(() => undefined)));
      return;
    }
    // Bottleneck's connection closes its duplicate of our client, and our client.
    await this.cluster.connection?.disconnect(this.connected).catch(() => undefined);
    if (this.connected) await this.cluster.client.quit().catch(() => undefined);
    this.cluster.client.disconnect();
  }
}
