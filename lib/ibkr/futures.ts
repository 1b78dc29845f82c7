// Front-month selection for IBKR futures. For an instrument the registry knows (ES, MES, NQ, MNQ) the contract is
// the registry's front month (lib/trading/instruments.ts: expiries from the CME calendar, roll 8 days before), and
// the conid is the listed contract of that month, so ibkr-order and sierra-order always trade the same contract.
// For any other root (a quote of CL, say) /trsrv/futures is all there is: the nearest expiry not before today
// (Chicago date), rolled `rollDays` calendar days before it. /trsrv/futures lists only non-expired contracts, unsorted.

import { findInstrument, frontMonth as registryFrontMonth, pickListedContract } from '../trading/instruments';
import { chicagoDay, dayOfYyyymmdd, yyyymmdd } from '../trading/cme-calendar';
import { errorMessage } from '../errors';
import { NotFoundError } from './errors';
import type { FutureContract } from './types';

/** The Chicago calendar date of `now`, YYYYMMDD. */
export function chicagoDate(now: number): string {
  return yyyymmdd(chicagoDay(now));
}

/**
 * The contract to trade at `now` among those IBKR lists for one root. `fallbackRollDays` applies only to roots the
 * instrument registry does not know.
 */
export function frontMonth(contracts: FutureContract[], now: number, fallbackRollDays = 8): FutureContract {
  const today = chicagoDate(now);
  const root = contracts[0]?.symbol ?? '';
  if (findInstrument(root)) {
    const front = registryFrontMonth(root, now);
    try {
      return pickListedContract(front, contracts);
    } catch (err) {
      throw new NotFoundError(`IBKR does not list ${front.code}, the ${root} front month on ${today}: ${errorMessage(err)}`, { cause: err });
    }
  }
  const live = contracts.filter((c) => c.expirationDate >= today).sort((a, b) => a.expirationDate.localeCompare(b.expirationDate));
  const first = live[0];
  if (!first) {
    throw new NotFoundError(`No unexpired futures contract found (as of ${today}): check the symbol and the market-data permissions.`);
  }
  const daysLeft = dayOfYyyymmdd(first.expirationDate) - dayOfYyyymmdd(today);
  return daysLeft <= fallbackRollDays && live[1] ? live[1] : first;
}
