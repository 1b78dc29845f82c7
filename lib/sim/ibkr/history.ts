// GET /iserver/marketdata/history (ibkr-web-api.md §2): period and bar validation, bars from the seeded market,
// at most 1000 points (the most recent kept), "No data." when nothing falls in the window.
import { CHICAGO, minuteOfDay } from '../../clock';
import { DAY_MS, MINUTE_MS, esSession, tradeDateAtOrAfter, previousTradeDate } from '../calendar';
import { addToBars } from '../bars';
import type { Market, MarketBar } from '../market-types';
import type { Instrument } from './instruments';

export const HISTORY_MAX_POINTS = 1000;

const PERIOD_UNITS: Record<string, { ms: number; max: number }> = {
  min: { ms: MINUTE_MS, max: 30 },
  h: { ms: 3_600_000, max: 8 },
  d: { ms: DAY_MS, max: 1000 },
  w: { ms: 7 * DAY_MS, max: 792 },
  m: { ms: 30 * DAY_MS, max: 182 },
  y: { ms: 365 * DAY_MS, max: 15 },
};

export const BAR_SIZES: Record<string, number> = {
  '1min': MINUTE_MS,
  '2min': 2 * MINUTE_MS,
  '3min': 3 * MINUTE_MS,
  '5min': 5 * MINUTE_MS,
  '10min': 10 * MINUTE_MS,
  '15min': 15 * MINUTE_MS,
  '30min': 30 * MINUTE_MS,
  '1h': 3_600_000,
  '2h': 7_200_000,
  '3h': 10_800_000,
  '4h': 14_400_000,
  '8h': 28_800_000,
  '1d': DAY_MS,
  '1w': 7 * DAY_MS,
  '1m': 30 * DAY_MS,
};

/** IBKR's step-size table, simplified: for a period up to `upTo`, bars from `min` to `max`. */
const STEP_SIZES: { upTo: number; min: number; max: number }[] = [
  { upTo: 3_600_000, min: MINUTE_MS, max: 30 * MINUTE_MS },
  { upTo: 8 * 3_600_000, min: MINUTE_MS, max: 8 * 3_600_000 },
  { upTo: DAY_MS, min: MINUTE_MS, max: 8 * 3_600_000 },
  { upTo: 2 * DAY_MS, min: 2 * MINUTE_MS, max: DAY_MS },
  { upTo: 7 * DAY_MS, min: 3 * MINUTE_MS, max: 7 * DAY_MS },
  { upTo: 31 * DAY_MS, min: 30 * MINUTE_MS, max: 30 * DAY_MS },
  { upTo: Infinity, min: DAY_MS, max: 30 * DAY_MS },
];

export type HistoryResult = { status: number; body: Record<string, unknown> };

function fail(status: number, error: string): HistoryResult {
  return { status, body: { error } };
}

/** "20250611-14:30:00" (UTC) → epoch ms. */
function parseStartTime(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})$/.exec(text);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) : undefined;
}

function formatStartTime(t: number): string {
  return new Date(t).toISOString().slice(0, 19).replace(/-/g, '').replace('T', '-');
}

/** RTH for ES as IBKR filters it without outsideRth: 08:30–15:15 CT. */
function inRth(t: number): boolean {
  const m = minuteOfDay(t, CHICAGO);
  return m >= 8 * 60 + 30 && m < 15 * 60 + 15;
}

export function historyResponse(market: Market, inst: Instrument | undefined, query: URLSearchParams): HistoryResult {
  if (!inst) return fail(400, `conid ${query.get('conid') ?? '(missing)'} is not a valid contract id`);
  const periodText = query.get('period') ?? '1w';
  const pm = /^(\d+)(min|h|d|w|m|y)$/.exec(periodText);
  const unit = pm ? PERIOD_UNITS[pm[2]] : undefined;
  const count = pm ? Number(pm[1]) : 0;
  if (!pm || !unit || count < 1 || count > unit.max) return fail(400, `Invalid period: ${periodText}`);
  const barText = query.get('bar') ?? '';
  const barMs = BAR_SIZES[barText];
  if (barMs === undefined) return fail(400, `Invalid bar: ${barText || '(missing)'}`);
  const periodMs = count * unit.ms;
  const step = STEP_SIZES.find((s) => periodMs <= s.upTo) as (typeof STEP_SIZES)[number];
  if (barMs < step.min || barMs > step.max) return fail(400, `Bar size ${barText} is not valid for period ${periodText}`);
  if (inst.kind === 'option') return fail(500, 'No data.');
  const startText = query.get('startTime');
  const end = startText ? parseStartTime(startText) : market.now();
  if (end === undefined) return fail(400, `Invalid startTime: ${startText} (expected YYYYMMDD-HH:mm:ss)`);
  // Day periods count trading sessions back from the end, as IBKR does; others are calendar spans.
  let from = end - periodMs;
  if (pm[2] === 'd') {
    let day = tradeDateAtOrAfter(end);
    if (esSession(day).open >= end) day = previousTradeDate(day);
    for (let i = 1; i < count; i++) day = previousTradeDate(day);
    from = esSession(day).open;
  }
  const outsideRth = query.get('outsideRth') === 'true';
  let bars: MarketBar[];
  if (barMs >= DAY_MS) bars = market.esBars(from, end, barMs);
  else {
    const minuteBars = market.esBars(from, end, MINUTE_MS);
    bars = regroup(outsideRth ? minuteBars : minuteBars.filter((b) => inRth(b.t)), barMs);
  }
  const shift = inst.kind === 'index' ? -(market.esQuote().last - market.spxSpot()) : 0;
  if (bars.length === 0) return fail(500, 'No data.');
  const capped = bars.slice(-HISTORY_MAX_POINTS);
  const data = capped.map((b) => ({ o: b.o + shift, c: b.c + shift, h: b.h + shift, l: b.l + shift, v: b.v, t: b.t }));
  const high = Math.max(...data.map((b) => b.h));
  const low = Math.min(...data.map((b) => b.l));
  return {
    status: 200,
    body: {
      serverId: '20477',
      symbol: inst.kind === 'future' ? 'ES' : 'SPX',
      text: inst.kind === 'future' ? 'E-mini S&P 500' : 'S&P 500 Stock Index',
      priceFactor: 100,
      startTime: formatStartTime(data[0].t),
      high: `${Math.round(high * 100)}/0/0`,
      low: `${Math.round(low * 100)}/0/0`,
      timePeriod: periodText,
      barLength: barMs / 1000,
      mdAvailability: 'S',
      mktDataDelay: 0,
      outsideRth,
      volumeFactor: 1,
      priceDisplayRule: 1,
      priceDisplayValue: '2',
      negativeCapable: false,
      messageVersion: 2,
      data,
      points: data.length,
      travelTime: 12,
    },
  };
}

function regroup(minuteBars: MarketBar[], barMs: number): MarketBar[] {
  if (barMs === MINUTE_MS) return minuteBars;
  const out: MarketBar[] = [];
  for (const b of minuteBars) addToBars(out, Math.floor(b.t / barMs) * barMs, b.o, b.h, b.l, b.c, b.v);
  return out;
}
