// The CME ES trading calendar and the SPX option expiry calendar the simulators follow (analytics.md §4):
// Globex Sun–Fri 17:00–16:00 CT with a 16:00–17:00 CT break; RTH 08:30–15:00 CT; ES quarterlies H M U Z expire at
// 09:30 ET on the third Friday; SPXW expire every weekday at 16:00 ET, SPX monthlies AM-settled at 09:30 ET on the
// third Friday. Exchange holidays are not modelled in the sessions; ES expiries come from the instrument registry
// (lib/trading/instruments.ts), which moves them off holidays. Day arithmetic is lib/trading/cme-calendar.ts's.
import { CHICAGO, NEW_YORK, zonedParts, zonedTime } from '../clock';
import { DAY_MS, dateOfDay, dayNumber, thirdFriday, yyyymmdd } from '../trading/cme-calendar';

export { DAY_MS, dateOfDay, dayNumber, thirdFriday, yyyymmdd };
export const MINUTE_MS = 60_000;

/** One Globex session, named by its trade date (the calendar day it closes on, as a UTC day number). */
export interface EsSession {
  day: number;
  open: number; // 17:00 CT the evening before
  close: number; // 16:00 CT
  rthOpen: number; // 08:30 CT
  rthClose: number; // 15:00 CT
  minutes: number;
}


export function isWeekday(day: number): boolean {
  const w = dateOfDay(day).weekday;
  return w >= 1 && w <= 5;
}


export function dayOfYyyymmdd(text: string): number {
  return dayNumber(Number(text.slice(0, 4)), Number(text.slice(4, 6)), Number(text.slice(6, 8)));
}

const sessions = new Map<number, EsSession>();

/** The session that closes on trade date `day` (a weekday). */
export function esSession(day: number): EsSession {
  let s = sessions.get(day);
  if (!s) {
    const d = dateOfDay(day);
    const prev = dateOfDay(day - 1);
    const open = zonedTime(CHICAGO, prev.year, prev.month, prev.day, 17, 0);
    const close = zonedTime(CHICAGO, d.year, d.month, d.day, 16, 0);
    s = {
      day,
      open,
      close,
      rthOpen: zonedTime(CHICAGO, d.year, d.month, d.day, 8, 30),
      rthClose: zonedTime(CHICAGO, d.year, d.month, d.day, 15, 0),
      minutes: Math.round((close - open) / MINUTE_MS),
    };
    if (sessions.size > 4096) sessions.clear();
    sessions.set(day, s);
  }
  return s;
}

export function nextTradeDate(day: number): number {
  let d = day + 1;
  while (!isWeekday(d)) d++;
  return d;
}

export function previousTradeDate(day: number): number {
  let d = day - 1;
  while (!isWeekday(d)) d--;
  return d;
}

/** The trade date of the session that contains `t`, or of the next session when `t` falls in a break. */
export function tradeDateAtOrAfter(t: number): number {
  const p = zonedParts(t, CHICAGO);
  let day = dayNumber(p.year, p.month, p.day) + (p.hour >= 17 ? 1 : 0);
  while (!isWeekday(day)) day++;
  return t >= esSession(day).close ? nextTradeDate(day) : day;
}


// Expiry instants are asked for every option priced (thousands per chain): a time-zone conversion through Intl
// each time was most of the IBKR simulator's CPU. They depend on the day only.
const amExpiries = new Map<number, number>();
const pmExpiries = new Map<number, number>();
function cachedPerDay(cache: Map<number, number>, day: number, compute: () => number): number {
  let t = cache.get(day);
  if (t === undefined) {
    t = compute();
    if (cache.size > 4096) cache.clear();
    cache.set(day, t);
  }
  return t;
}

/** ES and SPX AM expiry instant: 09:30 ET on `day`. */
export function amExpiryTime(day: number): number {
  return cachedPerDay(amExpiries, day, () => {
    const d = dateOfDay(day);
    return zonedTime(NEW_YORK, d.year, d.month, d.day, 9, 30);
  });
}

/** SPXW PM expiry instant: 16:00 ET on `day`. */
export function pmExpiryTime(day: number): number {
  return cachedPerDay(pmExpiries, day, () => {
    const d = dateOfDay(day);
    return zonedTime(NEW_YORK, d.year, d.month, d.day, 16, 0);
  });
}

/** The latest weekday 10:00 New York at or before `t`. */
export function lastWeekday10Et(t: number): number {
  const p = zonedParts(t, NEW_YORK);
  let day = dayNumber(p.year, p.month, p.day);
  for (;;) {
    const d = dateOfDay(day);
    const at = zonedTime(NEW_YORK, d.year, d.month, d.day, 10, 0);
    if (isWeekday(day) && at <= t) return at;
    day--;
  }
}

/** The day number in New York of instant `t`. */
export function newYorkDay(t: number): number {
  const p = zonedParts(t, NEW_YORK);
  return dayNumber(p.year, p.month, p.day);
}

export const FUTURES_MONTH_CODES: Record<number, string> = { 3: 'H', 6: 'M', 9: 'U', 12: 'Z' };
export const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** IBKR's month token for a day number: "JAN26". */
export function monthToken(day: number): string {
  const d = dateOfDay(day);
  return `${MONTH_NAMES[d.month - 1]}${String(d.year % 100).padStart(2, '0')}`;
}

/**
 * Where a simulated market starts when nobody says: 10:00 New York of the last weekday before now, or, when the
 * environment sets MIA_SIM_DATE=YYYY-MM-DD, of that day (the weekday before it if it falls on a weekend). Tests and
 * benchmarks set it so that the market, its front month and its option chain are the same whatever today's date.
 */
export function defaultMarketStart(wallNow: number, fixedDate = process.env.MIA_SIM_DATE): number {
  if (!fixedDate) return lastWeekday10Et(wallNow);
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(fixedDate);
  if (!m) throw new Error(`MIA_SIM_DATE "${fixedDate}" is not a date: use YYYY-MM-DD, e.g. 2026-03-03.`);
  return lastWeekday10Et(zonedTime(NEW_YORK, Number(m[1]), Number(m[2]), Number(m[3]), 23, 59));
}
