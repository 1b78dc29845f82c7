// Front-month selection for futures (ES). /trsrv/futures lists only non-expired contracts, unsorted: the front
// month is the nearest expiry not before today (Chicago date, CME's clock), rolled to the next one `rollDays`
// before expiry (ES volume moves to the next quarter about 8 days before the third-Friday expiry).

import { CHICAGO, zonedParts } from '../clock';
import { NotFoundError } from './errors';
import type { FutureContract } from './types';

function yyyymmddToDay(yyyymmdd: string): number {
  return Date.UTC(Number(yyyymmdd.slice(0, 4)), Number(yyyymmdd.slice(4, 6)) - 1, Number(yyyymmdd.slice(6, 8))) / 86_400_000;
}

export function chicagoDate(now: number): string {
  const p = zonedParts(now, CHICAGO);
  return `${p.year}${String(p.month).padStart(2, '0')}${String(p.day).padStart(2, '0')}`;
}

export function frontMonth(contracts: FutureContract[], now: number, rollDays = 8): FutureContract {
  const today = chicagoDate(now);
  const live = contracts.filter((c) => c.expirationDate >= today).sort((a, b) => a.expirationDate.localeCompare(b.expirationDate));
  const first = live[0];
  if (!first) {
    throw new NotFoundError(`No unexpired futures contract found (as of ${today}): check the symbol and the market-data permissions.`);
  }
  const daysLeft = yyyymmddToDay(first.expirationDate) - yyyymmddToDay(today);
  return daysLeft <= rollDays && live[1] ? live[1] : first;
}
