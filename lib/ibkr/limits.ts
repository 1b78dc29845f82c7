// IBKR's documented rate limits (fact sheet ibkr-web-api.md, section 5) as data, and the request priorities.
// Change a limit here; lib/ibkr/limiter.ts applies whatever this table says.

/** At most `max` requests in any sliding `perMs` window, counted the way IBKR counts them: as they arrive. */
export interface RateWindow {
  max: number;
  perMs: number;
}

export type RatePreset = 'ibkr-10rps' | 'conservative-50rpm';

/** IBKR's global limit: 10 req/s through the Gateway and [CP]; no preset may exceed it. */
export const IBKR_GLOBAL_WINDOW: RateWindow = { max: 10, perMs: 1_000 };

/** The global windows of each preset: 10 req/s, or 50 req/min for a shared username or a cautious user. */
export const RATE_PRESETS: Record<RatePreset, { perSecond: number; windows: readonly RateWindow[] }> = {
  'ibkr-10rps': { perSecond: 10, windows: [IBKR_GLOBAL_WINDOW] },
  'conservative-50rpm': { perSecond: 50 / 60, windows: [{ max: 50, perMs: 60_000 }, IBKR_GLOBAL_WINDOW] },
};

/**
 * IBKR counts a request when it arrives, which we cannot see; we see when we send it and when its answer comes back,
 * and it arrived in between. So a request counts in our windows from its send until its answer (measured), not until
 * its send plus a guessed margin: a request sent a window after that answer cannot meet it inside IBKR's window,
 * however late our timers, Redis, the network or the server's own event loop were (a stalled loop reads the answer
 * late, which only lengthens the count). A request not answered within ARRIVAL_BOUND_MS counts no longer than that:
 * a hung request, or an instance that died with its request on the wire, does not hold a slot for ever. It is long
 * on purpose: an event-loop stall of the process that sends (and, in-process, simulates) must not outlast it.
 */
export const ARRIVAL_BOUND_MS = 5_000;

/**
 * Added to every window's span: two readings of one clock (ours, Redis's, the simulator's whole-millisecond
 * Date.now) a window apart must stay a window apart. Costs 0.2 % of the rate.
 */
export const CLOCK_MARGIN_MS = 2;

/**
 * A family's documented limit: one request per interval, a rate (max per perMs), or a number at once.
 * The same table feeds the metrics (lib/metrics/ibkr-metrics.ts).
 */
export type FamilyLimit =
  | { kind: 'interval'; intervalMs: number }
  | { kind: 'rate'; max: number; perMs: number }
  | { kind: 'concurrent'; max: number };

const MINUTE = 60_000;

/** The documented per-endpoint limits. Families named alike in one row of IBKR's table share one limit. */
export const FAMILY_LIMITS: Record<string, FamilyLimit> = {
  snapshot: { kind: 'rate', max: 10, perMs: 1_000 },
  // 5 concurrent documented; ibind runs 4 because IBKR sometimes throttles at 5. One fewer costs little.
  history: { kind: 'concurrent', max: 4 },
  'live-orders': { kind: 'interval', intervalMs: 5_000 },
  trades: { kind: 'interval', intervalMs: 5_000 },
  pnl: { kind: 'interval', intervalMs: 5_000 },
  'portfolio-accounts': { kind: 'interval', intervalMs: 5_000 }, // portfolio/accounts and subaccounts: one row
  'scanner-params': { kind: 'interval', intervalMs: 15 * MINUTE },
  'scanner-run': { kind: 'interval', intervalMs: 1_000 },
  'pa': { kind: 'interval', intervalMs: 15 * MINUTE }, // pa/performance, pa/summary, pa/transactions: one row
  fyi: { kind: 'interval', intervalMs: 1_000 },
  tickle: { kind: 'interval', intervalMs: 1_000 },
  'sso-validate': { kind: 'interval', intervalMs: MINUTE },
};

/** The sliding window a family's limit means; undefined for a concurrency limit. */
export function familyWindow(limit: FamilyLimit): RateWindow | undefined {
  if (limit.kind === 'interval') return { max: 1, perMs: limit.intervalMs };
  if (limit.kind === 'rate') return { max: limit.max, perMs: limit.perMs };
  return undefined;
}

/** The mean interval a window-limited family allows between requests (the metrics' unit); undefined if concurrent. */
export function familyIntervalMs(limit: FamilyLimit): number | undefined {
  const window = familyWindow(limit);
  return window && window.perMs / window.max;
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
  if (p === '/portfolio/accounts' || p === '/portfolio/subaccounts') return 'portfolio-accounts';
  if (p === '/iserver/scanner/params') return 'scanner-params';
  if (p === '/iserver/scanner/run') return 'scanner-run';
  if (/^\/pa\/(performance|summary|transactions)$/.test(p)) return 'pa';
  if (p.startsWith('/fyi/')) return 'fyi';
  if (p === '/tickle') return 'tickle';
  if (p === '/sso/validate') return 'sso-validate';
  return 'other';
}

/**
 * Who goes first when requests wait, stated by the caller of each request (never guessed from its URL): orders and
 * their replies, then the session's own upkeep, the account, quotes and what-ifs, history, and an options-chain
 * refresh (hundreds of requests at once) last. Equal priorities leave in arrival order.
 */
export const PRIORITIES = ['order', 'session', 'account', 'quote', 'history', 'chain'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** 0 (first) to 5 (last); also Bottleneck's priority for the concurrency-limited families (0 is its highest). */
export function priorityRank(priority: Priority): number {
  const rank = PRIORITIES.indexOf(priority);
  if (rank < 0) throw new RangeError(`Unknown IBKR request priority "${String(priority)}": use one of ${PRIORITIES.join(', ')}.`);
  return rank;
}
