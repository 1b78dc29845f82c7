// Futures symbols as Sierra Chart's trading services spell them, and the ES front month.
// dtc-protocol.md §3: the Exchange field is ignored, so the exact symbol Sierra's File › Find Symbol shows must be
// sent; formats differ by service, hence a helper that builds the common forms from root + month code + year.

import { InvalidInputError } from '../errors';
import { CHICAGO, zonedParts } from '../clock';

export type MonthCode = 'F' | 'G' | 'H' | 'J' | 'K' | 'M' | 'N' | 'Q' | 'U' | 'V' | 'X' | 'Z';

/** CME month codes, January first. */
export const MONTH_CODES: readonly MonthCode[] = ['F', 'G', 'H', 'J', 'K', 'M', 'N', 'Q', 'U', 'V', 'X', 'Z'];

/** ES, NQ, MES, ... trade the quarterly cycle March, June, September, December. */
export const QUARTERLY_MONTH_CODES: readonly MonthCode[] = ['H', 'M', 'U', 'Z'];

export interface FuturesContract {
  root: string; // 'ES', 'MES'
  monthCode: MonthCode;
  year: number; // four digits, 2025
}

/**
 * The symbol spellings seen on Sierra Chart's services:
 * - `sierra-cme`: Sierra Chart's own CME feed / Denali and most FCM routes, `ESZ25_FUT_CME`
 * - `exchange-suffix`: `ESZ25-CME`
 * - `cqg`: CQG symbols `F.US.<cqg root><month><yy>`, e.g. `F.US.EPZ25`, `F.US.MESM25` (CQG calls ES "EP")
 * - `plain`: `ESZ25`
 * - `short-year`: one-digit year, `ESZ5`
 */
export type SymbolFormat = 'sierra-cme' | 'exchange-suffix' | 'cqg' | 'plain' | 'short-year';

export const SYMBOL_FORMATS: readonly SymbolFormat[] = ['sierra-cme', 'exchange-suffix', 'cqg', 'plain', 'short-year'];

// CQG's own roots where they differ from CME's globex code.
const CQG_ROOTS: Readonly<Record<string, string>> = { ES: 'EP', NQ: 'ENQ', YM: 'YM', RTY: 'RTY' };

/** Builds the symbol of `contract` in `format`; `exchange` only matters for the exchange-suffixed forms. */
export function buildSymbol(contract: FuturesContract, format: SymbolFormat, exchange = 'CME'): string {
  const { root, monthCode, year } = validateContract(contract);
  const yy = String(year % 100).padStart(2, '0');
  switch (format) {
    case 'sierra-cme':
      return `${root}${monthCode}${yy}_FUT_${exchange}`;
    case 'exchange-suffix':
      return `${root}${monthCode}${yy}-${exchange}`;
    case 'cqg':
      return `F.US.${CQG_ROOTS[root] ?? root}${monthCode}${yy}`;
    case 'plain':
      return `${root}${monthCode}${yy}`;
    case 'short-year':
      return `${root}${monthCode}${year % 10}`;
  }
}

/** Every common spelling of `contract`, keyed by format (for a symbol picker). */
export function symbolForms(contract: FuturesContract, exchange = 'CME'): Record<SymbolFormat, string> {
  const out = {} as Record<SymbolFormat, string>;
  for (const f of SYMBOL_FORMATS) out[f] = buildSymbol(contract, f, exchange);
  return out;
}

/** The third Friday of `month` (1-12) in `year`, as a UTC calendar date (ms at 00:00 UTC). */
export function thirdFriday(year: number, month: number): number {
  const first = new Date(Date.UTC(year, month - 1, 1)).getUTCDay(); // 0 = Sunday
  const firstFriday = 1 + ((5 - first + 7) % 7);
  return Date.UTC(year, month - 1, firstFriday + 14);
}

/** CME equity-index futures expire on the third Friday of the contract month. Returns 'YYYYMMDD'. */
export function quarterlyExpiry(contract: Pick<FuturesContract, 'monthCode' | 'year'>): string {
  const month = MONTH_CODES.indexOf(contract.monthCode) + 1;
  return new Date(thirdFriday(contract.year, month)).toISOString().slice(0, 10).replace(/-/g, '');
}

/** Calendar days before expiry on which volume moves to the next contract (the industry's ES roll convention). */
export const ES_ROLL_DAYS_BEFORE_EXPIRY = 8;

/**
 * The front ES (or any quarterly equity-index) contract at `now`, by the Chicago calendar date: the first quarterly
 * contract whose roll date (expiry − `rollDays` calendar days) is still ahead. On the roll date itself the next
 * contract is the front month.
 */
export function frontMonth(now: number, root = 'ES', rollDays = ES_ROLL_DAYS_BEFORE_EXPIRY): FuturesContract {
  const p = zonedParts(now, CHICAGO);
  const today = Date.UTC(p.year, p.month - 1, p.day);
  let year = p.year;
  let month = p.month + ((3 - (p.month % 3)) % 3); // this quarter's contract month: 3, 6, 9 or 12
  for (;;) {
    const rollDate = thirdFriday(year, month) - rollDays * 86_400_000;
    if (today < rollDate) return { root, monthCode: MONTH_CODES[month - 1], year };
    month += 3;
    if (month > 12) {
      month -= 12;
      year += 1;
    }
  }
}

/** Parses `ESZ25`, `ESZ5`, `ESZ25_FUT_CME`, `ESZ25-CME` or `F.US.EPZ25` back into a contract (two-digit years → 20xx). */
export function parseSymbol(symbol: string, now = Date.now()): FuturesContract {
  const cqg = /^F\.US\.([A-Z]+?)([FGHJKMNQUVXZ])(\d{2})$/.exec(symbol);
  if (cqg) {
    const root = Object.entries(CQG_ROOTS).find(([, v]) => v === cqg[1])?.[0] ?? cqg[1];
    return { root, monthCode: cqg[2] as MonthCode, year: 2000 + Number(cqg[3]) };
  }
  const m = /^([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{1,2})(?:_FUT_[A-Z]+|-[A-Z]+)?$/.exec(symbol);
  if (!m) throw new InvalidInputError(`Unrecognised futures symbol "${symbol}": expected a form like ESZ25, ESZ25_FUT_CME, ESZ25-CME or F.US.EPZ25.`);
  const digits = m[3];
  let year: number;
  if (digits.length === 2) year = 2000 + Number(digits);
  else {
    // One-digit year: the nearest year ending in that digit, from this year on.
    const thisYear = zonedParts(now, CHICAGO).year;
    year = thisYear - (thisYear % 10) + Number(digits);
    if (year < thisYear - 1) year += 10;
  }
  return { root: m[1], monthCode: m[2] as MonthCode, year };
}

function validateContract(c: FuturesContract): FuturesContract {
  if (!/^[A-Z0-9]{1,6}$/.test(c.root)) throw new InvalidInputError(`Futures root "${c.root}" is not valid: use the exchange code in capitals, e.g. ES or MES.`);
  if (!MONTH_CODES.includes(c.monthCode)) throw new InvalidInputError(`Month code "${c.monthCode}" is not valid: use one of ${MONTH_CODES.join(' ')}.`);
  if (!Number.isInteger(c.year) || c.year < 2000 || c.year > 2099) throw new InvalidInputError(`Contract year ${c.year} is not valid: use four digits, e.g. 2025.`);
  return c;
}
