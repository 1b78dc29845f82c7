// Wall-clock arithmetic in exchange time zones (America/Chicago for CME, America/New_York for trading hours),
// daylight saving included, with nothing but Intl (one lookup per quarter hour and zone, cached).

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

/**
 * A zone's UTC offset changes only on quarter hours of UTC (offsets and the local times of changes are whole quarter
 * hours), so it is looked up once per quarter hour and zone: Intl formatting costs microseconds, and a replay at
 * thousands × real time asks for the date of every market update.
 */
const QUARTER_HOUR_MS = 900_000;
const offsetCache = new Map<string, Map<number, number>>();
const OFFSET_CACHE_MAX = 20_000;

function quarterHourOffset(t: number, timeZone: string): number {
  const slot = Math.floor(t / QUARTER_HOUR_MS);
  let zone = offsetCache.get(timeZone);
  if (!zone) offsetCache.set(timeZone, (zone = new Map()));
  let offset = zone.get(slot);
  if (offset === undefined) {
    const start = slot * QUARTER_HOUR_MS;
    const p = intlParts(start, timeZone);
    offset = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - start;
    if (zone.size >= OFFSET_CACHE_MAX) zone.clear();
    zone.set(slot, offset);
  }
  return offset;
}

/** The wall-clock fields of the instant `t` (epoch ms) in `timeZone`. */
export function zonedParts(t: number, timeZone: string): ZonedParts {
  if (!Number.isFinite(t)) return intlParts(t, timeZone);
  const d = new Date(Math.floor(t / 1000) * 1000 + quarterHourOffset(t, timeZone));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
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
