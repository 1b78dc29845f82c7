// IBKR's rate limits as the simulator enforces them (ibkr-web-api.md §5): a global 10 req/s through the Gateway, the
// per-endpoint table, 5 concurrent history requests, 429 beyond them, and a penalty box. Exceeding the global limit
// boxes every path; exceeding an endpoint's limit boxes that endpoint. Only accepted requests fill the windows.

export type RateFamily =
  | 'snapshot'
  | 'liveOrders'
  | 'trades'
  | 'pnl'
  | 'portfolioAccounts'
  | 'tickle'
  | 'ssoValidate'
  | 'scannerParams'
  | 'scannerRun'
  | 'portfolioAnalyst'
  | 'fyi';

export interface RateRule {
  max: number;
  perMs: number;
}

export interface RateLimitOptions {
  globalPerSec?: number;
  endpoints?: Partial<Record<RateFamily, RateRule>>;
  historyConcurrent?: number;
}

/** IBKR's per-endpoint table (ibkr-web-api.md §5). */
export const IBKR_ENDPOINT_LIMITS: Record<RateFamily, RateRule> = {
  snapshot: { max: 10, perMs: 1000 },
  liveOrders: { max: 1, perMs: 5000 },
  trades: { max: 1, perMs: 5000 },
  pnl: { max: 1, perMs: 5000 },
  portfolioAccounts: { max: 1, perMs: 5000 },
  tickle: { max: 1, perMs: 1000 },
  ssoValidate: { max: 1, perMs: 60_000 },
  scannerParams: { max: 1, perMs: 900_000 },
  scannerRun: { max: 1, perMs: 1000 },
  portfolioAnalyst: { max: 1, perMs: 900_000 },
  fyi: { max: 1, perMs: 1000 },
};
export const IBKR_GLOBAL_PER_SEC = 10;
export const IBKR_HISTORY_CONCURRENT = 5;
/**
 * IBKR Web API docs ("Pacing Limitations"): "Violator IP addresses may be put in a penalty box for 10 minutes";
 * [CP] said 15. A single excess request is answered 429; repeated ones within a minute put the IP in the box.
 */
export const IBKR_PENALTY_BOX_MS = 10 * 60_000;
/** How many 429s within VIOLATION_WINDOW_MS make a violator (a repeated offence, not one unlucky request). */
export const PENALTY_AFTER_VIOLATIONS = 3;
export const VIOLATION_WINDOW_MS = 60_000;

export function rateFamily(method: string, path: string): RateFamily | undefined {
  if (path === '/iserver/marketdata/snapshot') return 'snapshot';
  if (method === 'GET' && path === '/iserver/account/orders') return 'liveOrders';
  if (path === '/iserver/account/trades') return 'trades';
  if (path === '/iserver/account/pnl/partitioned') return 'pnl';
  if (path === '/portfolio/accounts' || path === '/portfolio/subaccounts') return 'portfolioAccounts';
  if (path === '/tickle') return 'tickle';
  if (path === '/sso/validate') return 'ssoValidate';
  if (path === '/iserver/scanner/params') return 'scannerParams';
  if (path === '/iserver/scanner/run') return 'scannerRun';
  if (/^\/pa\/(performance|summary|transactions)$/.test(path)) return 'portfolioAnalyst';
  if (path.startsWith('/fyi/')) return 'fyi';
  return undefined;
}

export interface RateStats {
  requests: Record<string, number>;
  total: number;
  rejected429: number;
  maxRatePerSec: number;
  maxHistoryConcurrent: number;
}

export type RateVerdict = { ok: true; release: () => void } | { ok: false; reason: string };

const noop = (): void => undefined;

export class RateLimiter {
  private readonly global: RateRule;
  private readonly endpoints: Record<RateFamily, RateRule>;
  private readonly historyConcurrent: number;
  private readonly accepted = new Map<string, number[]>();
  private readonly boxedUntil = new Map<string, number>();
  private readonly violations = new Map<string, number[]>();
  private readonly arrivals: number[] = [];
  private historyInFlight = 0;
  private injected = 0;
  private readonly stats: RateStats = { requests: {}, total: 0, rejected429: 0, maxRatePerSec: 0, maxHistoryConcurrent: 0 };

  constructor(
    private readonly enabled: boolean,
    options: RateLimitOptions,
    private readonly penaltyBoxMs: number,
  ) {
    this.global = { max: options.globalPerSec ?? IBKR_GLOBAL_PER_SEC, perMs: 1000 };
    this.endpoints = { ...IBKR_ENDPOINT_LIMITS, ...options.endpoints };
    this.historyConcurrent = options.historyConcurrent ?? IBKR_HISTORY_CONCURRENT;
  }

  /** The next `n` requests answer 429 without a penalty box. */
  inject429(n: number): void {
    this.injected += n;
  }

  snapshot(): RateStats {
    return { ...this.stats, requests: { ...this.stats.requests } };
  }

  /** Counts the request and decides; on acceptance the caller calls release() when the response is sent. */
  admit(method: string, path: string, now: number): RateVerdict {
    this.stats.total++;
    this.stats.requests[path] = (this.stats.requests[path] ?? 0) + 1;
    this.arrivals.push(now);
    while (this.arrivals.length && this.arrivals[0] <= now - 1000) this.arrivals.shift();
    this.stats.maxRatePerSec = Math.max(this.stats.maxRatePerSec, this.arrivals.length);
    const verdict = this.decide(method, path, now);
    if (!verdict.ok) this.stats.rejected429++;
    return verdict;
  }

  private decide(method: string, path: string, now: number): RateVerdict {
    if (this.injected > 0) {
      this.injected--;
      return { ok: false, reason: 'injected' };
    }
    if (!this.enabled) return this.admitHistory(path, true);
    const family = rateFamily(method, path);
    if ((this.boxedUntil.get('*') ?? 0) > now) return { ok: false, reason: 'penalty box' };
    if (family && (this.boxedUntil.get(family) ?? 0) > now) return { ok: false, reason: `penalty box (${family})` };
    if (!this.fits('*', this.global, now)) {
      this.violate('*', now);
      return { ok: false, reason: `more than ${this.global.max} requests per second` };
    }
    if (family && !this.fits(family, this.endpoints[family], now)) {
      this.violate(family, now);
      return { ok: false, reason: `${family} limit ${this.endpoints[family].max} per ${this.endpoints[family].perMs} ms` };
    }
    const verdict = this.admitHistory(path, false);
    if (!verdict.ok) return verdict;
    this.record('*', now);
    if (family) this.record(family, now);
    return verdict;
  }

  /** One more 429 for `key`; the repeated offence boxes it for the penalty time. */
  private violate(key: string, now: number): void {
    const log = (this.violations.get(key) ?? []).filter((t) => t > now - VIOLATION_WINDOW_MS);
    log.push(now);
    this.violations.set(key, log);
    if (log.length >= PENALTY_AFTER_VIOLATIONS) {
      this.boxedUntil.set(key, now + this.penaltyBoxMs);
      this.violations.set(key, []);
    }
  }

  /** Whether `key` ('*' or an endpoint family) sits in the penalty box at `now`. */
  boxed(key: string, now: number): boolean {
    return (this.boxedUntil.get(key) ?? 0) > now;
  }

  private admitHistory(path: string, unlimited: boolean): RateVerdict {
    if (path !== '/iserver/marketdata/history') return { ok: true, release: noop };
    if (!unlimited && this.historyInFlight >= this.historyConcurrent) {
      return { ok: false, reason: `more than ${this.historyConcurrent} concurrent history requests` };
    }
    this.historyInFlight++;
    this.stats.maxHistoryConcurrent = Math.max(this.stats.maxHistoryConcurrent, this.historyInFlight);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (!released) this.historyInFlight--;
        released = true;
      },
    };
  }

  private fits(key: string, rule: RateRule, now: number): boolean {
    const log = this.accepted.get(key) ?? [];
    while (log.length && log[0] <= now - rule.perMs) log.shift();
    this.accepted.set(key, log);
    return log.length < rule.max;
  }

  private record(key: string, now: number): void {
    (this.accepted.get(key) as number[]).push(now);
  }
}
