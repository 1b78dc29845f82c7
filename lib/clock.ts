// Wall-clock arithmetic in exchange time zones (America/Chicago for CME, America/New_York for trading hours),
// daylight saving included, with nothing but Intl (asked once per zone and UTC hour, see zonedParts).

export const CHICAGO = 'America/Chicago';
export const NEW_YORK = 'America/New_York';

export interface ZonedParts {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number; // 0 = Sunday
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function intlParts(t: number, timeZone: string): ZonedParts {
  const out: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(t))) out[p.type] = p.value;
  return {
    year: Number(out.year),
    month: Number(out.month),
    day: Number(out.day),
    hour: Number(out.hour),
    minute: Number(out.minute),
    second: Number(out.second),
    weekday: WEEKDAYS[out.weekday] ?? 0,
  };
}

const HOUR_MS = 3_600_000;
/** Per zone, per UTC hour: the zone's offset throughout that hour, or NaN when it changes within it. */
const hourOffsets = new Map<string, Map<number, number>>();
const MAX_CACHED_HOURS = 10_000;

function intlOffset(t: number, timeZone: string): number {
  const p = intlParts(t, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(t / 1000) * 1000;
}

/**
 * The wall-clock fields of the instant `t` (epoch ms) in `timeZone`.
 * Intl's formatToParts costs tens of microseconds and this is asked per market-data update (front month, trade
 * date): the zone's offset is looked up once per UTC hour (both ends of the hour: an hour in which it changes, a
 * daylight-saving switch, always goes through Intl) and the fields are read from the shifted instant.
 */
export function zonedParts(t: number, timeZone: string): ZonedParts {
  if (!Number.isFinite(t)) return intlParts(t, timeZone);
  const hour = Math.floor(t / HOUR_MS);
  let cache = hourOffsets.get(timeZone);
  let offset = cache?.get(hour);
  if (offset === undefined) {
    const start = hour * HOUR_MS;
    const atStart = intlOffset(start, timeZone);
    offset = atStart === intlOffset(start + HOUR_MS - 1, timeZone) ? atStart : NaN;
    if (!cache) hourOffsets.set(timeZone, (cache = new Map()));
    if (cache.size >= MAX_CACHED_HOURS) cache.clear();
    cache.set(hour, offset);
  }
  if (Number.isNaN(offset)) return intlParts(t, timeZone);
  const local = new Date(t + offset);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    weekday: local.getUTCDay(),
  };
}

/** Offset of `timeZone` from UTC at instant `t`, in ms (e.g. -5 h for New York in winter). */
export function zoneOffsetMs(t: number, timeZone: string): number {
  const p = zonedParts(t, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** The instant (epoch ms) at which the wall clock in `timeZone` reads the given date and time. */
export function zonedTime(
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
): number {
  const naive = Date.UTC(year, month - 1, day, hour, minute, second);
  // Two passes settle the offset on either side of a daylight-saving change.
  let t = naive - zoneOffsetMs(naive, timeZone);
  t = naive - zoneOffsetMs(t, timeZone);
  return t;
}

/** Minutes since local midnight in `timeZone` at instant `t`. */
export function minuteOfDay(t: number, timeZone: string): number {
  const p = zonedParts(t, timeZone);
  return p.hour * 60 + p.minute;
}

/** The wall-clock time of day "HH:MM" (24 h) of the instant `t` in `timeZone`, for messages and status texts. */
export function hhmm(t: number, timeZone: string): string {
  const p = zonedParts(t, timeZone);
  return `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
}

/** Parses "HH:MM" into minutes since midnight; throws on anything else. */
export function parseHhMm(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new Error(`"${text}" is not a time of day (HH:MM)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * The most recent instant at or before `t` when the wall clock in `timeZone` read `hhmm` (minutes since midnight).
 * Used for session anchors: Globex 17:00 CT, RTH 08:30 CT, or a custom time.
 */
export function lastDailyAnchor(t: number, timeZone: string, minutes: number): number {
  const p = zonedParts(t, timeZone);
  let anchor = zonedTime(timeZone, p.year, p.month, p.day, Math.floor(minutes / 60), minutes % 60);
  if (anchor > t) {
    const prev = zonedParts(anchor - 24 * 3600_000, timeZone);
    anchor = zonedTime(timeZone, prev.year, prev.month, prev.day, Math.floor(minutes / 60), minutes % 60);
  }
  return anchor;
}

/** The first instant after `t` when the wall clock in `timeZone` reads `minutes` since midnight. */
export function nextDailyAnchor(t: number, timeZone: string, minutes: number): number {
  const last = lastDailyAnchor(t, timeZone, minutes);
  const p = zonedParts(last + 26 * 3600_000, timeZone);
  const candidate = zonedTime(timeZone, p.year, p.month, p.day, Math.floor(minutes / 60), minutes % 60);
  return candidate > t ? candidate : nextDailyAnchor(candidate, timeZone, minutes);
}

/** Epoch milliseconds with sub-millisecond resolution (the wall clock, never a simulated one). */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}
