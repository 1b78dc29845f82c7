// Long IBKR history requests, paged under the 1000-point cap (fact sheet, section 2, "History").
//
// A range [start, end) is cut into calendar windows, newest first; each window is one request ending at the
// window's end (IBKR's `startTime` is where its answer ends: data runs back from it) with the longest period that
// (a) IBKR's step-size table allows for the bar size, (b) cannot exceed 1000 points even for a 24-hour market, and
// (c) surely covers the window. "d" periods count trading sessions back from the end, so N sessions are only
// relied on to cover N-1 calendar days. Every page is submitted at once: the connection's limiter runs at most
// IBKR's concurrent history requests and queues the rest. A page that still hits the cap is followed back within
// its window from its oldest bar. Overlaps are removed by bar time; "No data." for a window (a weekend, a holiday)
// is an empty window, and only a range with no bar at all is an error.
//
// Order never depends on the network. Pages finish in any order, a page is not trusted to be sorted, and without
// outsideRth IBKR answers with RTH bars only, so a "1d" range holds yesterday's session next to today's
// (ibkr-web-api.md §2 "History"; the simulator's lib/sim/ibkr/history.ts filters the same way). Each page keeps only
// the bars of its own window and the windows partition the range, so a bar time comes from exactly one page. Inner
// window edges fall on bar boundaries (bars under a day), because `startTime` cuts the bar it falls in and a page
// reaching back past its window starts with a cut bar: a bar never straddles an edge, so no cut copy survives.

import type { Priority } from './limits';
import type { Bar } from '../contracts';
import { InvalidInputError } from '../errors';
import { NotFoundError } from './errors';
import { BAR_SIZES, MAX_HISTORY_POINTS, parsePeriod, type BarSize } from './history';
import type { HistoryResult } from './types';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const BAR_MS: Record<BarSize, number> = {
  '1min': MINUTE, '2min': 2 * MINUTE, '3min': 3 * MINUTE, '5min': 5 * MINUTE, '10min': 10 * MINUTE,
  '15min': 15 * MINUTE, '30min': 30 * MINUTE, '1h': HOUR, '2h': 2 * HOUR, '3h': 3 * HOUR, '4h': 4 * HOUR,
  '8h': 8 * HOUR, '1d': DAY, '1w': 7 * DAY, '1m': 30 * DAY,
};

/** IBKR's step-size table (as the simulator enforces it): for a period up to `upTo`, bars from `min` to `max`. */
const STEP_SIZES: ReadonlyArray<{ upTo: number; min: number; max: number }> = [
  { upTo: HOUR, min: MINUTE, max: 30 * MINUTE },
  { upTo: DAY, min: MINUTE, max: 8 * HOUR },
  { upTo: 2 * DAY, min: 2 * MINUTE, max: DAY },
  { upTo: 7 * DAY, min: 3 * MINUTE, max: 7 * DAY },
  { upTo: 31 * DAY, min: 30 * MINUTE, max: 30 * DAY },
  { upTo: Infinity, min: DAY, max: 30 * DAY },
];

/** Period units: [max count, nominal length, longest real extent, shortest calendar span surely covered]. */
const UNITS: ReadonlyArray<{ unit: string; max: number; nominal: number; extent: (n: number) => number; cover: (n: number) => number }> = [
  { unit: 'min', max: 30, nominal: MINUTE, extent: (n) => n * MINUTE, cover: (n) => n * MINUTE },
  { unit: 'h', max: 8, nominal: HOUR, extent: (n) => n * HOUR, cover: (n) => n * HOUR },
  { unit: 'd', max: 1000, nominal: DAY, extent: (n) => n * DAY, cover: (n) => (n - 1) * DAY },
  { unit: 'w', max: 792, nominal: 7 * DAY, extent: (n) => n * 7 * DAY, cover: (n) => n * 7 * DAY },
  { unit: 'm', max: 182, nominal: 30 * DAY, extent: (n) => n * 31 * DAY, cover: (n) => n * 28 * DAY },
  { unit: 'y', max: 15, nominal: 365 * DAY, extent: (n) => n * 366 * DAY, cover: (n) => n * 365 * DAY },
];

export function isBarSize(value: string): value is BarSize {
  return (BAR_SIZES as readonly string[]).includes(value);
}

function barAllowed(barMs: number, periodNominalMs: number): boolean {
  const step = STEP_SIZES.find((s) => periodNominalMs <= s.upTo);
  return step !== undefined && barMs >= step.min && barMs <= step.max;
}

export interface PageShape {
  /** The period each page asks for ("8h", "3d", ...). */
  period: string;
  /** The calendar span one page surely covers. */
  coverMs: number;
}

/** The page that covers the most time for a bar size without risking the 1000-point cap. */
export function pageShape(bar: BarSize): PageShape {
  const barMs = BAR_MS[bar];
  let best: PageShape | undefined;
  for (const u of UNITS) {
    for (let n = u.max; n >= 1; n -= 1) {
      if (!barAllowed(barMs, n * u.nominal) || u.extent(n) / barMs > MAX_HISTORY_POINTS) continue;
      const coverMs = u.cover(n);
      if (coverMs > 0 && (!best || coverMs > best.coverMs)) best = { period: `${n}${u.unit}`, coverMs };
      break;
    }
  }
  if (!best) throw new InvalidInputError(`History bar size ${bar} cannot be paged: choose another bar size.`);
  return best;
}

export interface HistoryPage {
  /** The window this page is responsible for: [from, to). */
  from: number;
  to: number;
  period: string;
}

/** The pages for [start, end), newest first (a trader sees the recent bars first when the range is cut short). */
export function planPages(bar: BarSize, start: number, end: number): HistoryPage[] {
  if (!(end > start)) throw new InvalidInputError('History range: the end must be after the start.');
  const { period, coverMs } = pageShape(bar);
  const barMs = BAR_MS[bar];
  const align = barMs < DAY ? barMs : 1;
  const pages: HistoryPage[] = [];
  for (let to = end; to > start; ) {
    const edge = Math.floor((to - coverMs) / align) * align;
    const from = edge > start && edge < to ? edge : start;
    pages.push({ from, to, period });
    to = from;
  }
  return pages;
}

export interface HistoryApi {
  history(request: { conid: number; bar: string; period: string; startTime?: number; outsideRth?: boolean; source?: 'trades' | 'midpoint' | 'bid_ask'; exchange?: string; priority: Priority }): Promise<HistoryResult>;
}

export type HistoryRange = { period: string } | { start: number; end: number };

export interface FetchBarsRequest {
  conid: number;
  symbol: string;
  bar: string;
  range: HistoryRange;
  outsideRth?: boolean;
  source?: 'trades' | 'midpoint' | 'bid_ask';
  exchange?: string;
}

export interface FetchBarsOptions {
  /** The end of a "period" range (epoch ms). */
  now: number;
  /** Fraction of pages done, 0..1. */
  onProgress?: (fraction: number, pagesDone: number, pages: number) => void;
  /** Follow-ups within one window when a page still hits the cap (a guard, never reached with sane pages). */
  maxFollowUps?: number;
}

export interface FetchBarsResult {
  bars: Bar[];
  pages: number;
  requests: number;
}

/** The bars of a range, oldest first, without duplicates. */
export async function fetchBars(api: HistoryApi, request: FetchBarsRequest, options: FetchBarsOptions): Promise<FetchBarsResult> {
  const bar = request.bar;
  if (!isBarSize(bar)) throw new InvalidInputError(`History bar size "${bar}" is not one IBKR offers: use one of ${BAR_SIZES.join(', ')}.`);
  let start: number;
  let end: number;
  if ('period' in request.range) {
    end = options.now;
    start = end - parsePeriod(request.range.period).minutes * MINUTE;
  } else {
    ({ start, end } = request.range);
    if (!Number.isFinite(start) || !Number.isFinite(end)) throw new InvalidInputError('History range: start and end must be dates (epoch ms or ISO 8601).');
    if (end > options.now) end = options.now;
  }
  const pages = planPages(bar, start, end);
  const byTime = new Map<number, Bar>();
  let done = 0;
  let requests = 0;
  const maxFollowUps = options.maxFollowUps ?? 20;

  const fetchWindow = async (page: HistoryPage): Promise<void> => {
    let to = page.to;
    for (let followUp = 0; followUp <= maxFollowUps; followUp += 1) {
      let result: HistoryResult;
      requests += 1;
      try {
        result = await api.history({ conid: request.conid, bar, period: page.period, startTime: to, outsideRth: request.outsideRth, source: request.source, exchange: request.exchange, priority: 'history' });
      } catch (err) {
        if (err instanceof NotFoundError) return; // "No data." for this window: a closed market
        throw err;
      }
      let oldest: number | undefined;
      for (const b of result.bars) {
        if (oldest === undefined || b.t < oldest) oldest = b.t;
        if (b.t >= page.from && b.t < page.to) byTime.set(b.t, { symbol: request.symbol, t: b.t, tf: bar, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v });
      }
      if (result.bars.length < MAX_HISTORY_POINTS || oldest === undefined || oldest <= page.from || oldest >= to) return;
      to = oldest; // capped: the window's older part is still missing
    }
  };

  await Promise.all(
    pages.map((page) =>
      fetchWindow(page).then(() => {
        done += 1;
        options.onProgress?.(done / pages.length, done, pages.length);
      }),
    ),
  );
  if (byTime.size === 0) {
    throw new NotFoundError(
      `IBKR has no ${bar} bars for ${request.symbol} between ${new Date(start).toISOString()} and ${new Date(end).toISOString()}: widen the period, tick "Outside regular hours", or check the contract.`,
    );
  }
  return { bars: [...byTime.values()].sort((a, b) => a.t - b.t), pages: pages.length, requests };
}
