// Validation of /iserver/marketdata/history parameters (fact sheet, section 2, "History"), so a bad bar size or
// period is refused here with a clear message instead of an opaque IBKR 500.

import { InvalidInputError } from '../errors';

export const BAR_SIZES = ['1min', '2min', '3min', '5min', '10min', '15min', '30min', '1h', '2h', '3h', '4h', '8h', '1d', '1w', '1m'] as const;
export type BarSize = (typeof BAR_SIZES)[number];

/** Period unit → [max count, length in minutes] ("m" is a month here, as IBKR writes it). */
const PERIOD_UNITS: Record<string, [number, number]> = {
  min: [30, 1],
  h: [8, 60],
  d: [1000, 1440],
  w: [792, 10_080],
  m: [182, 43_200],
  y: [15, 525_600],
};

const BAR_MINUTES: Record<BarSize, number> = {
  '1min': 1, '2min': 2, '3min': 3, '5min': 5, '10min': 10, '15min': 15, '30min': 30,
  '1h': 60, '2h': 120, '3h': 180, '4h': 240, '8h': 480, '1d': 1440, '1w': 10_080, '1m': 43_200,
};

/** IBKR returns at most 1000 points per request. */
export const MAX_HISTORY_POINTS = 1000;

export function parsePeriod(period: string): { count: number; unit: string; minutes: number } {
  const m = /^(\d+)(min|h|d|w|m|y)$/.exec(period.trim());
  const limits = m ? PERIOD_UNITS[m[2] ?? ''] : undefined;
  const count = m ? Number(m[1]) : 0;
  if (!m || !limits || count < 1 || count > limits[0]) {
    throw new InvalidInputError(
      `History period "${period}" is not one IBKR accepts: use 1-30min, 1-8h, 1-1000d, 1-792w, 1-182m (months) or 1-15y.`,
    );
  }
  return { count, unit: m[2] ?? '', minutes: count * limits[1] };
}

export function validateHistoryRequest(bar: string, period: string): void {
  if (!(BAR_SIZES as readonly string[]).includes(bar)) {
    throw new InvalidInputError(`History bar size "${bar}" is not one IBKR offers: use one of ${BAR_SIZES.join(', ')}.`);
  }
  const { minutes } = parsePeriod(period);
  if (BAR_MINUTES[bar as BarSize] > minutes) {
    throw new InvalidInputError(`History bar size ${bar} is longer than the period ${period}: choose a longer period or a shorter bar.`);
  }
}

/** IBKR's startTime format, UTC: YYYYMMDD-HH:mm:ss. */
export function formatStartTime(t: number): string {
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}
