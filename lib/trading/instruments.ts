// The instrument registry: what a futures contract is, for both brokers. Root, tick size, point value, currency,
// exchange, listing cycle, expiries from the CME calendar, the roll rule, how IBKR names it (/trsrv/futures symbol,
// exchange, the conid picked by expiry). Sierra Chart's spellings of a contract stay in lib/sierra/symbols.ts and
// are built from the FuturesContract this module chooses.
//
// Contract specifications (CME Group product pages, "Contract Specs"):
//   ES  E-mini S&P 500              $50 × index, tick 0.25 ($12.50)  cmegroup.com/markets/equities/sp/e-mini-sandp500.contractSpecs.html
//   MES Micro E-mini S&P 500        $5 × index,  tick 0.25 ($1.25)   .../sp/micro-e-mini-sandp-500.contractSpecs.html
//   NQ  E-mini Nasdaq-100           $20 × index, tick 0.25 ($5.00)   .../nasdaq/e-mini-nasdaq-100.contractSpecs.html
//   MNQ Micro E-mini Nasdaq-100     $2 × index,  tick 0.25 ($0.50)   .../nasdaq/micro-e-mini-nasdaq-100.contractSpecs.html
// Listed quarterly (H M U Z). "Trading terminates at 9:30 a.m. ET on the 3rd Friday of the contract month"
// (cmegroup.com/activetrader/Products/EquityIndex?s=EP); when that Friday is an exchange holiday the contract
// expires the business day before, as CME did for March 2008 (Good Friday 2008-03-21: ES/NQ expired Thursday
// 2008-03-20, CME Group notice reproduced at mypivots.com/board/topic/2845) and as the rule gives for June 2026
// (NYSE closed on Juneteenth, Friday 2026-06-19: ESM26 expires 2026-06-18).
//
// The roll: the industry convention this package has always used, 8 calendar days before expiry (CME's own "roll
// date" for equity index futures), now counted from the real, holiday-adjusted expiry. From the roll date on (Chicago
// calendar date) the next contract is the front month.

import { InvalidInputError } from '../errors';
import { chicagoDay, businessDayOnOrBefore, dateOfDay, dayOfYyyymmdd, isoDate, thirdFriday, yyyymmdd } from './cme-calendar';

export type MonthCode = 'F' | 'G' | 'H' | 'J' | 'K' | 'M' | 'N' | 'Q' | 'U' | 'V' | 'X' | 'Z';

/** CME month codes, January first. */
export const MONTH_CODES: readonly MonthCode[] = ['F', 'G', 'H', 'J', 'K', 'M', 'N', 'Q', 'U', 'V', 'X', 'Z'];

/** ES, NQ, MES, MNQ trade the quarterly cycle March, June, September, December. */
export const QUARTERLY_MONTH_CODES: readonly MonthCode[] = ['H', 'M', 'U', 'Z'];

/** Calendar days before expiry on which volume moves to the next contract (the industry's ES roll convention). */
export const ES_ROLL_DAYS_BEFORE_EXPIRY = 8;

/** One contract of a root: `ES` `Z` 2026 is ESZ26. */
export interface FuturesContract {
  root: string; // 'ES', 'MES'
  monthCode: MonthCode;
  year: number; // four digits, 2026
}

export interface Instrument {
  /** CME Globex code: 'ES'. */
  readonly root: string;
  readonly name: string;
  readonly exchange: string;
  readonly currency: string;
  /** Smallest price step, index points. */
  readonly tickSize: number;
  /** $ per index point per contract. */
  readonly pointValue: number;
  /** $ per tick per contract (tickSize × pointValue). */
  readonly tickValue: number;
  /** The months listed, in calendar order. */
  readonly cycle: readonly MonthCode[];
  readonly rollDaysBeforeExpiry: number;
  /** The cash index the contract settles on. */
  readonly underlying: string;
  /** IBKR: the symbol /trsrv/futures takes and the exchange of its contracts. */
  readonly ibkr: { readonly symbol: string; readonly exchange: string };
}

/** A contract with its dates: what both brokers trade. */
export interface ContractDates extends FuturesContract {
  /** 'ESZ26' */
  code: string;
  /** Last trading day, YYYYMMDD (the third Friday, or the business day before when that is a holiday). */
  expiry: string;
  /** First Chicago calendar date on which the next contract is the front month, YYYYMMDD. */
  rollDate: string;
}

function define(spec: Omit<Instrument, 'tickValue' | 'currency' | 'exchange' | 'cycle' | 'rollDaysBeforeExpiry' | 'ibkr'>): Instrument {
  return Object.freeze({
    ...spec,
    exchange: 'CME',
    currency: 'USD',
    tickValue: spec.tickSize * spec.pointValue,
    cycle: QUARTERLY_MONTH_CODES,
    rollDaysBeforeExpiry: ES_ROLL_DAYS_BEFORE_EXPIRY,
    ibkr: Object.freeze({ symbol: spec.root, exchange: 'CME' }),
  });
}

/** Every instrument the package knows, ES (the SPX-linked contract the pipeline trades) first. */
export const INSTRUMENTS: readonly Instrument[] = Object.freeze([
  define({ root: 'ES', name: 'E-mini S&P 500', tickSize: 0.25, pointValue: 50, underlying: 'SPX' }),
  define({ root: 'MES', name: 'Micro E-mini S&P 500', tickSize: 0.25, pointValue: 5, underlying: 'SPX' }),
  define({ root: 'NQ', name: 'E-mini Nasdaq-100', tickSize: 0.25, pointValue: 20, underlying: 'NDX' }),
  define({ root: 'MNQ', name: 'Micro E-mini Nasdaq-100', tickSize: 0.25, pointValue: 2, underlying: 'NDX' }),
]);

const BY_ROOT = new Map(INSTRUMENTS.map((i) => [i.root, i]));

/** The instrument of `root` (case-insensitive), or undefined when the registry does not know it. */
export function findInstrument(root: string): Instrument | undefined {
  return BY_ROOT.get(root.trim().toUpperCase());
}

/** The instrument of `root`; throws an error a trader can act on when it is not one the registry knows. */
export function instrument(root: string): Instrument {
  const found = findInstrument(root);
  if (!found) {
    throw new InvalidInputError(`Futures root "${root}" is not in the instrument registry: use one of ${INSTRUMENTS.map((i) => i.root).join(', ')}.`);
  }
  return found;
}

/** 'ESZ26' */
export function contractCode(contract: FuturesContract): string {
  return `${contract.root}${contract.monthCode}${String(contract.year % 100).padStart(2, '0')}`;
}

function checkContract(c: FuturesContract): Instrument {
  const inst = instrument(c.root);
  if (!inst.cycle.includes(c.monthCode)) {
    throw new InvalidInputError(`${inst.root} is listed in ${inst.cycle.join(' ')} only: month code "${c.monthCode}" is not one of them.`);
  }
  if (!Number.isInteger(c.year) || c.year < 2000 || c.year > 2099) throw new InvalidInputError(`Contract year ${c.year} is not valid: use four digits, e.g. 2026.`);
  return inst;
}

/** The last trading day of `contract` as a day number (lib/trading/cme-calendar.ts). */
export function expiryDay(contract: FuturesContract): number {
  checkContract(contract);
  return businessDayOnOrBefore(thirdFriday(contract.year, MONTH_CODES.indexOf(contract.monthCode) + 1));
}

/** The first day on which the next contract is the front month, as a day number. */
export function rollDay(contract: FuturesContract): number {
  return expiryDay(contract) - instrument(contract.root).rollDaysBeforeExpiry;
}

export function contractDates(contract: FuturesContract): ContractDates {
  const { root, monthCode, year } = contract;
  return { root, monthCode, year, code: contractCode(contract), expiry: yyyymmdd(expiryDay(contract)), rollDate: yyyymmdd(rollDay(contract)) };
}

/** The contract listed after `contract` in its instrument's cycle. */
export function nextContract(contract: FuturesContract): FuturesContract {
  const cycle = checkContract(contract).cycle;
  const i = cycle.indexOf(contract.monthCode);
  return i + 1 < cycle.length ? { root: contract.root, monthCode: cycle[i + 1], year: contract.year } : { root: contract.root, monthCode: cycle[0], year: contract.year + 1 };
}

const frontCache = new Map<string, ContractDates>();

/**
 * The front contract of `root` on the Chicago calendar date of `now`: the first listed contract whose roll date is
 * still ahead. On the roll date itself the next contract is the front month. Cached per root and Chicago day, so
 * asking at every order costs one time-zone lookup.
 */
export function frontMonth(root: string, now: number): ContractDates {
  const inst = instrument(root);
  const today = chicagoDay(now);
  const key = `${inst.root}@${today}`;
  const cached = frontCache.get(key);
  if (cached) return cached;
  const d = dateOfDay(today);
  // The first contract month in the cycle at or after this month.
  const month = inst.cycle.map((m) => MONTH_CODES.indexOf(m) + 1).find((m) => m >= d.month);
  let contract: FuturesContract = month === undefined ? { root: inst.root, monthCode: inst.cycle[0], year: d.year + 1 } : { root: inst.root, monthCode: MONTH_CODES[month - 1], year: d.year };
  while (rollDay(contract) <= today) contract = nextContract(contract);
  const front = contractDates(contract);
  if (frontCache.size > 256) frontCache.clear();
  frontCache.set(key, front);
  return front;
}

/** The trader-readable line the editor and status show: "ESZ26 (E-mini S&P 500), expires 2026-12-18, rolls to ESH27 on 2026-12-10". */
export function describeFront(front: ContractDates): string {
  const next = contractCode(nextContract(front));
  return `${front.code} (${instrument(front.root).name}), expires ${isoDate(dayOfYyyymmdd(front.expiry))}, rolls to ${next} on ${isoDate(dayOfYyyymmdd(front.rollDate))}`;
}

/**
 * The registry contract whose last trading day is `expiry` (YYYYMMDD, as IBKR lists it): the contract month is the
 * expiry's month for every registry instrument. Null for a root outside the registry or a month off its cycle.
 */
export function contractOfExpiry(root: string, expiry: string): ContractDates | null {
  const inst = findInstrument(root);
  const m = /^(\d{4})(\d{2})\d{2}$/.exec(expiry);
  if (!inst || !m) return null;
  const monthCode = MONTH_CODES[Number(m[2]) - 1];
  if (monthCode === undefined || !inst.cycle.includes(monthCode)) return null;
  return contractDates({ root: inst.root, monthCode, year: Number(m[1]) });
}

/**
 * 'ESM26' (contractCode's form, as ResolvedContract.contract and the Sierra collar's keys spell it) back into the
 * registry contract; null for anything else. Lets a risk engine group contracts by instrument root.
 */
export function parseContractCode(code: string): ContractDates | null {
  const m = /^([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{2})$/.exec(code.trim().toUpperCase());
  const inst = m ? findInstrument(m[1]) : undefined;
  if (!m || !inst || !inst.cycle.includes(m[2] as MonthCode)) return null;
  return contractDates({ root: inst.root, monthCode: m[2] as MonthCode, year: 2000 + Number(m[3]) });
}

/** A contract IBKR lists: /trsrv/futures gives the last trading day as `expirationDate` (YYYYMMDD). */
export interface ListedContract {
  conid: number;
  expirationDate: string;
}

/**
 * The listed contract that is `contract`: the one whose expirationDate is in the contract's month (the last trading
 * day always is, whatever holiday moved it). Throws when none or several are, rather than trading a neighbour.
 */
export function pickListedContract<T extends ListedContract>(contract: FuturesContract, listed: readonly T[]): T {
  const month = `${contract.year}${String(MONTH_CODES.indexOf(contract.monthCode) + 1).padStart(2, '0')}`;
  const matches = listed.filter((c) => typeof c.expirationDate === 'string' && c.expirationDate.slice(0, 6) === month);
  const code = contractCode(contract);
  if (matches.length === 0) {
    const have = listed.map((c) => c.expirationDate).sort().join(', ') || 'none';
    throw new InvalidInputError(`IBKR lists no ${code} (a contract expiring in ${month.slice(0, 4)}-${month.slice(4)}); it lists expiries ${have}. Check the market-data permissions for ${contract.root}.`);
  }
  if (matches.length > 1) throw new InvalidInputError(`IBKR lists ${matches.length} contracts for ${code} (conids ${matches.map((c) => c.conid).join(', ')}): pick the conid explicitly.`);
  return matches[0];
}
