// The figures of one IBKR connection (ibkr-auth's 'metrics' message): request latency, rate-limit utilisation,
// error rate, session and stream uptime, last market-data age, 429s and reconnects. The transport reports each HTTP
// exchange, the link reports state changes and market data; snapshot(now) turns them into the payload.
// Pure: every time is passed in.

import { endpointFamily, familyIntervalMs, type FamilyLimit } from '../ibkr/limits';
import { EventWindow } from './event-window';
import { LatencyWindow, type LatencySummary } from './latency-window';
import { UptimeClock } from './uptime';

/** Utilisation is measured over the last minute (the seed's "< 80 % of each limit"). */
export const UTILISATION_WINDOW_MS = 60_000;
export const DEFAULT_ERROR_WINDOW_MS = 5 * 60_000;

/** One HTTP exchange with IBKR as the transport saw it. */
export interface ExchangeRecord {
  method: string;
  /** URL or path (with or without /v1/api and query); only its endpoint family is kept. */
  url: string;
  startedAt: number;
  elapsedMs: number;
  /** HTTP status; undefined when no answer came (timeout, network error). */
  status?: number;
}

export interface IbkrMetricsOptions {
  /** The connection's global rate (RATE_PRESETS[preset].perSecond). */
  globalPerSecond: number;
  /** The endpoint-family limits the connection enforces (FAMILY_LIMITS plus overrides). */
  familyLimits: Readonly<Record<string, FamilyLimit | undefined>>;
  errorWindowMs?: number;
  latencySamples?: number;
}

export interface UptimeFigures {
  state: string;
  /** ms since it last became authenticated / open; 0 while not. */
  uptimeMs: number;
  reconnects: number;
}

export interface IbkrMetricsPayload {
  t: number;
  /** HTTP exchanges since the connection started (retries count: IBKR counts them too). */
  requests: number;
  latencyMs: LatencySummary;
  /** Share (0..1) of each limit used: over the last minute, or over the limit's own interval when longer. */
  utilisation: {
    /** Requests in the last minute ÷ the connection's per-minute allowance. */
    global: number;
    /** The busiest second of the last minute ÷ the per-second allowance. */
    globalPeakSecond: number;
    /** Only the families used recently. "history" is peak concurrency ÷ its concurrency limit. */
    families: Record<string, number>;
    /** The highest of the shares above; the seed asks for < 0.8. */
    max: number;
  };
  errors: {
    windowMs: number;
    requests: number;
    errors: number;
    /** errors ÷ requests in the window; 0 without requests. */
    rate: number;
  };
  http429: number;
  reconnects: number;
  session: UptimeFigures;
  stream: UptimeFigures & {
    /** ms since the last market-data message on any subscription; null before the first. */
    lastDataAgeMs: number | null;
    messages: number;
  };
}

interface Interval {
  start: number;
  end: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export class IbkrMetrics {
  private readonly options: IbkrMetricsOptions;
  private readonly latency: LatencyWindow;
  private readonly sent = new EventWindow(UTILISATION_WINDOW_MS);
  private readonly families = new Map<string, EventWindow>();
  private readonly concurrent = new Map<string, Interval[]>();
  private readonly errorWindowMs: number;
  private readonly recent: EventWindow;
  private readonly recentErrors: EventWindow;
  private total = 0;
  private rateLimited = 0;
  private readonly session = new UptimeClock();
  private readonly stream = new UptimeClock();
  private sessionState = 'disconnected';
  private streamState = 'idle';
  private lastDataAt: number | null = null;
  private messages = 0;

  constructor(options: IbkrMetricsOptions) {
    this.options = options;
    this.errorWindowMs = options.errorWindowMs ?? DEFAULT_ERROR_WINDOW_MS;
    this.latency = new LatencyWindow(options.latencySamples ?? 1024);
    this.recent = new EventWindow(this.errorWindowMs);
    this.recentErrors = new EventWindow(this.errorWindowMs);
  }

  recordExchange(record: ExchangeRecord): void {
    const end = record.startedAt + record.elapsedMs;
    this.total += 1;
    this.latency.record(record.elapsedMs);
    this.sent.add(record.startedAt);
    this.recent.add(end);
    const ok = record.status !== undefined && record.status >= 200 && record.status < 300;
    if (!ok) this.recentErrors.add(end);
    if (record.status === 429) this.rateLimited += 1;
    const family = endpointFamily(record.method, record.url);
    const limit = this.options.familyLimits[family];
    if (!limit) return;
    if (limit.kind === 'concurrent') {
      const list = this.concurrent.get(family) ?? [];
      list.push({ start: record.startedAt, end });
      this.concurrent.set(family, list);
      return;
    }
    let window = this.families.get(family);
    if (!window) {
      window = new EventWindow(Math.max(UTILISATION_WINDOW_MS, familyIntervalMs(limit) ?? 0));
      this.families.set(family, window);
    }
    window.add(record.startedAt);
  }

  sessionChanged(state: string, at: number): void {
    this.sessionState = state;
    // A rate-limit pause holds requests; the session itself stays authenticated.
    if (state === 'rate-limited') return;
    this.session.set(state === 'authenticated', at);
  }

  streamChanged(state: string, at: number): void {
    this.streamState = state;
    this.stream.set(state === 'open', at);
  }

  marketData(at: number): void {
    this.lastDataAt = at;
    this.messages += 1;
  }

  snapshot(now: number): IbkrMetricsPayload {
    const perMinute = this.options.globalPerSecond * (UTILISATION_WINDOW_MS / 1000);
    const global = round3(this.sent.count(now) / perMinute);
    const globalPeakSecond = round3(this.sent.peak(now, 1000) / this.options.globalPerSecond);
    const families: Record<string, number> = {};
    for (const [family, window] of this.families) {
      const limit = this.options.familyLimits[family];
      const intervalMs = limit && familyIntervalMs(limit);
      if (!intervalMs) continue;
      const used = window.count(now);
      if (used > 0) families[family] = round3(used / (window.windowMs / intervalMs));
    }
    for (const [family, list] of this.concurrent) {
      const limit = this.options.familyLimits[family];
      if (limit?.kind !== 'concurrent') continue;
      const kept = list.filter((i) => i.end > now - UTILISATION_WINDOW_MS);
      this.concurrent.set(family, kept);
      if (kept.length > 0) families[family] = round3(peakOverlap(kept) / limit.max);
    }
    const requests = this.recent.count(now);
    const errors = this.recentErrors.count(now);
    return {
      t: now,
      requests: this.total,
      latencyMs: this.latency.summary(),
      utilisation: { global, globalPeakSecond, families, max: Math.max(global, globalPeakSecond, ...Object.values(families)) },
      errors: { windowMs: this.errorWindowMs, requests, errors, rate: requests === 0 ? 0 : round3(errors / requests) },
      http429: this.rateLimited,
      reconnects: this.session.reconnects + this.stream.reconnects,
      session: { state: this.sessionState, uptimeMs: this.session.uptimeMs(now), reconnects: this.session.reconnects },
      stream: {
        state: this.streamState,
        uptimeMs: this.stream.uptimeMs(now),
        reconnects: this.stream.reconnects,
        lastDataAgeMs: this.lastDataAt === null ? null : Math.max(0, now - this.lastDataAt),
        messages: this.messages,
      },
    };
  }
}

/** The most intervals open at one instant (a start at the very end of another does not overlap it). */
export function peakOverlap(intervals: readonly Interval[]): number {
  const edges: [number, number][] = [];
  for (const i of intervals) edges.push([i.start, 1], [i.end, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let best = 0;
  for (const [, delta] of edges) {
    open += delta;
    best = Math.max(best, open);
  }
  return best;
}
