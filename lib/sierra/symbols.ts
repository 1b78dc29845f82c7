// Futures symbols as Sierra Chart's trading services spell them, and the ES front month.
// dtc-protocol.md §3: the Exchange field is ignored, so the exact symbol Sierra's File › Find Symbol shows must be
// sent; formats differ by service, hence a helper that builds the common forms from root + month code + year. Which
// contract is traded (expiries, roll, front month) is the instrument registry's business: lib/trading/instruments.ts.

import { InvalidInputError } from '../errors';
import { CHICAGO, zonedParts } from '../clock';
import { chicagoDay, isoDate } from '../trading/cme-calendar';
import { expiryDay, findInstrument, frontMonth, instrument, MONTH_CODES, type FuturesContract, type MonthCode } from '../trading/instruments';

export { MONTH_CODES, QUARTERLY_MONTH_CODES } from '../trading/instruments';
export type { FuturesContract, MonthCode } from '../trading/instruments';

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

/**
 * The symbol Sierra Chart trades for `root`'s front month at `now` (the instrument registry's choice, so IBKR and
 * Sierra always name the same contract; lib/trading/instruments.ts).
 */
export function frontMonthSymbol(root: string, now: number, format: SymbolFormat, exchange?: string): string {
  const { monthCode, year } = frontMonth(root, now);
  return buildSymbol({ root: instrument(root).root, monthCode, year }, format, exchange ?? instrument(root).exchange);
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

/**
 * Refuses a symbol a new order names that cannot be the contract the trader means: a registry instrument's contract
 * that has expired at `now` or is off its listing cycle (ESF27), or a registry root not spelled as a contract ("ES",
 * "esz26_fut_cme": never guessed into one). A symbol outside the registry is left to the risk engine and the broker.
 */
export function checkTradableSymbol(symbol: string, now: number): void {
  const refused = (why: string): InvalidInputError => new InvalidInputError(`Order refused: symbol "${symbol}" ${why} Nothing was sent.`);
  let contract: FuturesContract;
  try {
    contract = parseSymbol(symbol, now);
  } catch {
    const upper = symbol.trim().toUpperCase();
    let root = findInstrument(upper)?.root;
    if (root === undefined) {
      try {
        root = findInstrument(parseSymbol(upper, now).root)?.root;
      } catch {
        root = undefined;
      }
    }
    if (root !== undefined) throw refused(`is not a ${root} contract as Sierra Chart spells it: name the contract exactly, e.g. ${frontMonthSymbol(root, now, 'sierra-cme')} (the front month now).`);
    return;
  }
  if (!findInstrument(contract.root)) return;
  let expiry: number;
  try {
    expiry = expiryDay(contract);
  } catch (err) {
    throw refused(`is not a listed contract (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (expiry < chicagoDay(now)) {
    throw refused(`names a contract that expired on ${isoDate(expiry)}: the ${contract.root} front month now is ${frontMonthSymbol(contract.root, now, 'sierra-cme')}.`);
  }
}
