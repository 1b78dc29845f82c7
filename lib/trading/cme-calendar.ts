// The CME equity-index exchange calendar: full-day holidays with their observed dates, business days, the Chicago
// trade date of an instant. Days are UTC day numbers (whole days since 1970-01-01) so arithmetic is exact and free
// of time zones; an instant becomes a day through its Chicago calendar date (CME's clock).
//
// Which holidays: the days the NYSE is closed, because an ES/MES/NQ/MNQ quarterly settles on the Special Opening
// Quotation of the index, which needs the stock market open; CME equity products only halt early on these days.
// Rules as NYSE Rule 7.2 states them (and pandas_market_calendars encodes them, holidays/nyse.py): a holiday on a
// Sunday is observed the Monday after, on a Saturday the Friday before, except New Year's Day on a Saturday, which is
// not observed (the Friday closes a month, quarter and year). Juneteenth is a holiday from 2022 on (first observed
// by NYSE on Monday 2022-06-20). Unscheduled closures (national days of mourning, storms) are not rules and are not
// listed here.

import { CHICAGO, zonedParts } from '../clock';
import { InvalidInputError } from '../errors';

export const DAY_MS = 86_400_000;

/** UTC day number of a calendar date (month 1-12). */
export function dayNumber(year: number, month: number, day: number): number {
  return Date.UTC(year, month - 1, day) / DAY_MS;
}

export interface CalendarDate {
  year: number;
  month: number; // 1-12
  day: number;
  weekday: number; // 0 = Sunday
}

export function dateOfDay(day: number): CalendarDate {
  const d = new Date(day * DAY_MS);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
}

/** 'YYYYMMDD' of a day number (IBKR's and the order messages' date form). */
export function yyyymmdd(day: number): string {
  const d = dateOfDay(day);
  return `${d.year}${String(d.month).padStart(2, '0')}${String(d.day).padStart(2, '0')}`;
}

/** Day number of 'YYYYMMDD'; throws on anything else. */
export function dayOfYyyymmdd(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (!m) throw new InvalidInputError(`"${text}" is not a date YYYYMMDD.`);
  const day = dayNumber(Number(m[1]), Number(m[2]), Number(m[3]));
  if (yyyymmdd(day) !== text) throw new InvalidInputError(`"${text}" is not a calendar date.`);
  return day;
}

/** 'YYYY-MM-DD' of a day number, for messages and the editor. */
export function isoDate(day: number): string {
  const s = yyyymmdd(day);
  return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;
}

/** The Chicago calendar date of instant `t` (epoch ms), as a day number. */
export function chicagoDay(t: number): number {
  const p = zonedParts(t, CHICAGO);
  return dayNumber(p.year, p.month, p.day);
}

/** The `n`-th (1-based) `weekday` (0 = Sunday) of a month. */
export function nthWeekday(year: number, month: number, weekday: number, n: number): number {
  const first = dayNumber(year, month, 1);
  return first + ((weekday - dateOfDay(first).weekday + 7) % 7) + 7 * (n - 1);
}

/** The last `weekday` of a month. */
export function lastWeekday(year: number, month: number, weekday: number): number {
  const last = dayNumber(year, month + 1, 0);
  return last - ((dateOfDay(last).weekday - weekday + 7) % 7);
}

/** The third Friday of a month (the equity-index quarterly expiry before holidays). */
export function thirdFriday(year: number, month: number): number {
  return nthWeekday(year, month, 5, 3);
}

/** Easter Sunday of `year` (Gregorian), by the anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
export function easterSunday(year: number): number {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return dayNumber(year, month, day);
}

export interface Holiday {
  day: number;
  name: string;
}

/** A fixed-date holiday moved off the weekend: Sunday → Monday, Saturday → Friday (or dropped when `saturdayDropped`). */
function observed(day: number, saturdayDropped = false): number | null {
  const w = dateOfDay(day).weekday;
  if (w === 0) return day + 1;
  if (w === 6) return saturdayDropped ? null : day - 1;
  return day;
}

const MIN_YEAR = 1990;
const MAX_YEAR = 2200;
const holidayCache = new Map<number, readonly Holiday[]>();

/** The exchange holidays (full closures of the equity market) of `year`, in date order. */
export function cmeHolidays(year: number): readonly Holiday[] {
  if (!Number.isInteger(year) || year < MIN_YEAR || year > MAX_YEAR) {
    throw new InvalidInputError(`The CME calendar covers ${MIN_YEAR} to ${MAX_YEAR}; ${year} is outside it.`);
  }
  let list = holidayCache.get(year);
  if (!list) {
    const out: Holiday[] = [];
    const add = (day: number | null, name: string): void => {
      if (day !== null && dateOfDay(day).year === year) out.push({ day, name });
    };
    add(observed(dayNumber(year, 1, 1), true), "New Year's Day");
    add(nthWeekday(year, 1, 1, 3), 'Martin Luther King Jr. Day');
    add(nthWeekday(year, 2, 1, 3), "Presidents' Day");
    add(easterSunday(year) - 2, 'Good Friday');
    add(lastWeekday(year, 5, 1), 'Memorial Day');
    if (year >= 2022) add(observed(dayNumber(year, 6, 19)), 'Juneteenth');
    add(observed(dayNumber(year, 7, 4)), 'Independence Day');
    add(nthWeekday(year, 9, 1, 1), 'Labor Day');
    add(nthWeekday(year, 11, 4, 4), 'Thanksgiving Day');
    add(observed(dayNumber(year, 12, 25)), 'Christmas Day');
    out.sort((a, b) => a.day - b.day);
    list = Object.freeze(out);
    holidayCache.set(year, list);
  }
  return list;
}

/** The holiday's name when `day` is an exchange holiday, else null. */
export function holidayName(day: number): string | null {
  return cmeHolidays(dateOfDay(day).year).find((h) => h.day === day)?.name ?? null;
}

export function isWeekend(day: number): boolean {
  const w = dateOfDay(day).weekday;
  return w === 0 || w === 6;
}

/** A weekday that is not an exchange holiday. */
export function isBusinessDay(day: number): boolean {
  return !isWeekend(day) && holidayName(day) === null;
}

/** `day` itself when it is a business day, else the business day before it. */
export function businessDayOnOrBefore(day: number): number {
  let d = day;
  while (!isBusinessDay(d)) d--;
  return d;
}

export function previousBusinessDay(day: number): number {
  return businessDayOnOrBefore(day - 1);
}

export function nextBusinessDay(day: number): number {
  let d = day + 1;
  while (!isBusinessDay(d)) d++;
  return d;
}

/** Business days from `from` (excluded) to `to` (included); negative when `to` is before `from`. */
export function businessDaysBetween(from: number, to: number): number {
  const sign = to >= from ? 1 : -1;
  let n = 0;
  for (let d = from; d !== to; d += sign) if (isBusinessDay(d + sign)) n += sign;
  return n;
}
