// Time to expiry for SPX options with minute precision (analytics.md §1, Cboe VIX methodology): PM-settled series
// (SPXW) settle at 16:00 ET on the expiry date, AM-settled monthlies (SPX) at the 09:30 ET open and stop trading the
// day before, so on expiry morning they are dead.
import { NEW_YORK, zonedParts, zonedTime } from '../clock';
import type { Settlement } from '../contracts';
import { InvalidInputError } from '../errors';

export const MINUTES_PER_YEAR = 365 * 24 * 60;
const MINUTE_MS = 60_000;

const cache = new Map<string, number>();

/** The settlement instant (epoch ms) of a series expiring on `expiry` ('YYYYMMDD'). */
export function settlementTime(expiry: string, settlement: Settlement): number {
  const key = `${expiry}${settlement}`;
  let t = cache.get(key);
  if (t === undefined) {
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(expiry);
    if (!m) throw new InvalidInputError(`Option expiry "${expiry}" is not a date YYYYMMDD`);
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    t = settlement === 'AM' ? zonedTime(NEW_YORK, y, mo, d, 9, 30) : zonedTime(NEW_YORK, y, mo, d, 16, 0);
    cache.set(key, t);
  }
  return t;
}

/** True when the series no longer trades at `now`: PM after 16:00 ET on expiry, AM from the expiry date on. */
export function isExpired(expiry: string, settlement: Settlement, now: number): boolean {
  if (settlement === 'AM') {
    const p = zonedParts(now, NEW_YORK);
    const today = p.year * 10000 + p.month * 100 + p.day;
    return today >= Number(expiry);
  }
  return now >= settlementTime(expiry, settlement);
}

/** Years to settlement in whole minutes (floored), never below `floorMinutes`. */
export function yearsToExpiry(expiry: string, settlement: Settlement, now: number, floorMinutes: number): number {
  const minutes = Math.floor((settlementTime(expiry, settlement) - now) / MINUTE_MS);
  return Math.max(minutes, floorMinutes) / MINUTES_PER_YEAR;
}
