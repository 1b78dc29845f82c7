// Which IBKR contract a trader means: "ES" (the instrument registry's front month, its conid from /trsrv/futures),
// any symbol and security type through /iserver/secdef/search, or an explicit conid. The same rules feed the editor's
// contract search (front month offered first), so what the dialog shows is what the node streams.

import { InvalidInputError, describeValue } from '../errors';
import { IbkrError, NotFoundError } from './errors';
import { contractOfExpiry } from '../trading/instruments';
import { frontMonth } from './futures';
import type { Priority } from './limits';
import type { ContractInfo, FutureContract, SecdefSearchResult } from './types';

/** The client calls the resolver needs (IbkrClient has them all). */
export interface ContractApi {
  futures(symbols: string[], priority?: Priority): Promise<Record<string, FutureContract[]>>;
  secdefSearch(symbol: string, secType?: string, priority?: Priority): Promise<SecdefSearchResult[]>;
  contractInfo(conid: number, priority?: Priority): Promise<ContractInfo>;
}

/** The roll of futures outside the instrument registry (ES, MES, NQ, MNQ follow lib/trading/instruments.ts). */
export const DEFAULT_ROLL_DAYS = 8;

export const SEC_TYPES = ['FUT', 'IND', 'STK', 'OPT', 'FOP', 'CASH', 'CFD', 'BOND', 'WAR'] as const;
export type SecType = (typeof SEC_TYPES)[number];

/** What the trader asked for: a conid, or a symbol (with a security type; futures by default). */
export type ContractSpec = { conid: number; symbol?: string } | { symbol: string; secType?: SecType };

export interface ResolvedContract {
  conid: number;
  symbol: string;
  secType: string;
  /** YYYYMMDD for futures and options, else null. */
  expiry: string | null;
  /** What the editor lists: "ES Mar 2027 (front month)". */
  description: string;
  /** The registry's name of a futures contract ('ESH27'), so prices can be told apart across a roll; else absent. */
  contract?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function monthLabel(yyyymmdd: string): string {
  return `${MONTHS[Number(yyyymmdd.slice(4, 6)) - 1] ?? '?'} ${yyyymmdd.slice(0, 4)}`;
}

function isSecType(value: string): value is SecType {
  return (SEC_TYPES as readonly string[]).includes(value);
}

/** Reads a ContractSpec from loose settings or msg fields; throws a trader-readable error when nothing usable is there. */
export function contractSpecOf(input: { conid?: unknown; symbol?: unknown; secType?: unknown }): ContractSpec {
  const symbol = typeof input.symbol === 'string' ? input.symbol.trim().toUpperCase() : '';
  const given = input.conid;
  if (given !== undefined && given !== null && !(typeof given === 'string' && given.trim() === '')) {
    const conid = typeof given === 'number' || typeof given === 'string' || typeof given === 'bigint' ? Number(given) : Number.NaN;
    if (!Number.isInteger(conid) || conid <= 0) {
      throw new InvalidInputError(`Contract id ${describeValue(given)} is not an IBKR conid: give a positive whole number (e.g. 495512557), or a symbol instead.`);
    }
    return symbol ? { conid, symbol } : { conid };
  }
  if (!/^[A-Z0-9.\-/ ]{1,20}$/.test(symbol)) {
    throw new InvalidInputError(`No contract given: set a symbol (e.g. "ES") or a conid${symbol ? ` (${describeValue(symbol)} is not a symbol)` : ''}.`);
  }
  const secTypeText = typeof input.secType === 'string' && input.secType.trim() !== '' ? input.secType.trim().toUpperCase() : 'FUT';
  if (!isSecType(secTypeText)) {
    throw new InvalidInputError(`Security type ${describeValue(secTypeText)} is not one IBKR lists: use one of ${SEC_TYPES.join(', ')}.`);
  }
  return { symbol, secType: secTypeText };
}

export async function resolveContract(api: ContractApi, spec: ContractSpec, now: number, priority: Priority = 'quote', rollDays = DEFAULT_ROLL_DAYS): Promise<ResolvedContract> {
  if ('conid' in spec) {
    if (spec.symbol) return { conid: spec.conid, symbol: spec.symbol, secType: '', expiry: null, description: `${spec.symbol} (conid ${spec.conid})` };
    let info: ContractInfo;
    try {
      info = await api.contractInfo(spec.conid, priority);
    } catch (err) {
      if (err instanceof IbkrError && (err.status === 500 || err.status === 404 || err.status === 400)) {
        throw new NotFoundError(`IBKR knows no contract with conid ${spec.conid}: check the number, or pick the contract by symbol.`, { cause: err });
      }
      throw err;
    }
    return { conid: info.conid, symbol: info.symbol || String(spec.conid), secType: info.secType, expiry: info.maturityDate, description: info.localSymbol || info.symbol };
  }
  const secType = spec.secType ?? 'FUT';
  if (secType === 'FUT') {
    const list = (await api.futures([spec.symbol], priority))[spec.symbol] ?? [];
    if (list.length === 0) {
      throw new NotFoundError(`IBKR lists no futures for "${spec.symbol}": check the symbol (e.g. ES) or choose another security type.`);
    }
    return futureChoice(frontMonth(list, now, rollDays), true);
  }
  const found = (await api.secdefSearch(spec.symbol, secType, priority)).find((r) => r.conid > 0 && (r.sections.length === 0 || r.sections.some((s) => s.secType === secType)));
  if (!found) {
    throw new NotFoundError(`IBKR found no ${secType} contract for "${spec.symbol}": check the symbol and the security type.`);
  }
  return { conid: found.conid, symbol: found.symbol || spec.symbol, secType, expiry: null, description: `${found.symbol} ${secType} ${found.companyName}`.trim() };
}

function futureChoice(contract: FutureContract, front: boolean): ResolvedContract {
  const code = contractOfExpiry(contract.symbol, contract.expirationDate)?.code;
  return {
    ...(code === undefined ? {} : { contract: code }),
    conid: contract.conid,
    symbol: contract.symbol,
    secType: 'FUT',
    expiry: contract.expirationDate,
    description: `${contract.symbol} ${monthLabel(contract.expirationDate)}${front ? ' (front month)' : ''}`,
  };
}

/**
 * The contracts the editor offers for what the trader typed: the futures of that symbol (the front month first,
 * then the later expiries in order), then the other security types secdef search knows for it.
 */
export async function searchContracts(api: ContractApi, query: string, now: number, rollDays = DEFAULT_ROLL_DAYS): Promise<ResolvedContract[]> {
  const symbol = query.trim().toUpperCase();
  if (!/^[A-Z0-9.\-/ ]{1,20}$/.test(symbol)) throw new InvalidInputError(`Contract search: ${describeValue(query)} is not a symbol: type e.g. ES or SPX.`);
  const [futures, found] = await Promise.all([api.futures([symbol]), api.secdefSearch(symbol)]);
  const out: ResolvedContract[] = [];
  const list = futures[symbol] ?? [];
  if (list.length > 0) {
    const front = frontMonth(list, now, rollDays);
    out.push(futureChoice(front, true));
    const later = list.filter((c) => c.conid !== front.conid && c.expirationDate >= front.expirationDate);
    later.sort((a, b) => a.expirationDate.localeCompare(b.expirationDate));
    out.push(...later.map((c) => futureChoice(c, false)));
  }
  for (const r of found) {
    for (const section of r.sections) {
      if (section.secType === 'FUT' || section.secType === 'OPT' || section.secType === 'FOP' || r.conid <= 0) continue;
      out.push({ conid: r.conid, symbol: r.symbol, secType: section.secType, expiry: null, description: `${r.symbol} ${section.secType} ${r.companyName}`.trim() });
    }
  }
  return out;
}
