// The contracts the simulator knows: ES quarterly futures, the SPX index (conid 416904) and SPX/SPXW options. Option
// conids encode (expiry, class, strike, right) so any conid handed out can be decoded without a registry.
import { dateOfDay, dayNumber, dayOfYyyymmdd, MONTH_NAMES, monthToken, yyyymmdd } from '../calendar';
import type { Market } from '../market-types';

/** IBKR: the SPX index conid (ibkr-web-api.md §2, analytics.md §4). */
export const SPX_CONID = 416904;
/** The ES underlying (index) conid that /trsrv/futures reports as underlyingConid. */
export const ES_UNDERLYING_CONID = 11004968;
const OPTION_CONID_BASE = 800_000_000;
const OPTION_EPOCH_DAY = dayNumber(2020, 1, 1);
const FUTURE_CONID_BASE = 550_000_000;

export type Instrument =
  | { kind: 'future'; conid: number; localSymbol: string; expiry: string }
  | { kind: 'index'; conid: number }
  | { kind: 'option'; conid: number; expiry: string; tradingClass: 'SPX' | 'SPXW'; strike: number; right: 'C' | 'P' };

export function optionConid(expiry: string, tradingClass: 'SPX' | 'SPXW', strike: number, right: 'C' | 'P'): number {
  const day = dayOfYyyymmdd(expiry) - OPTION_EPOCH_DAY;
  return OPTION_CONID_BASE + ((day * 4096 + strike / 5) * 2 + (right === 'C' ? 0 : 1)) * 2 + (tradingClass === 'SPX' ? 0 : 1);
}

export function lookupInstrument(market: Market, conid: number): Instrument | undefined {
  return instrumentLookup(market)(conid);
}

/**
 * lookupInstrument for many conids at one moment (a 100-conid snapshot): the listed futures and expiries are read
 * once, not per conid (each reading walks the calendar; per conid it was most of a snapshot's CPU).
 */
export function instrumentLookup(market: Market): (conid: number) => Instrument | undefined {
  let futures: ReturnType<Market['esContracts']> | undefined;
  let listed: Set<string> | undefined;
  return (conid) => {
    if (conid === SPX_CONID) return { kind: 'index', conid };
    futures ??= market.esContracts();
    const future = futures.find((c) => c.conid === conid);
    if (future) return { kind: 'future', conid, localSymbol: future.localSymbol, expiry: future.expiry };
    if (conid < OPTION_CONID_BASE || !Number.isInteger(conid)) return undefined;
    let x = conid - OPTION_CONID_BASE;
    const tradingClass = x % 2 === 0 ? 'SPX' : 'SPXW';
    x = Math.floor(x / 2);
    const right = x % 2 === 0 ? 'C' : 'P';
    x = Math.floor(x / 2);
    const strike = (x % 4096) * 5;
    const expiry = yyyymmdd(Math.floor(x / 4096) + OPTION_EPOCH_DAY);
    listed ??= new Set(market.spxExpiries().map((e) => `${e.expiry}|${e.tradingClass}`));
    return listed.has(`${expiry}|${tradingClass}`) ? { kind: 'option', conid, expiry, tradingClass, strike, right } : undefined;
  };
}

export function futureConidIsEs(conid: number): boolean {
  return conid > FUTURE_CONID_BASE && conid < OPTION_CONID_BASE;
}

/** "JUN 20 '25" as IBKR writes expiries in descriptions. */
export function expiryLabel(expiry: string): string {
  const d = dateOfDay(dayOfYyyymmdd(expiry));
  return `${MONTH_NAMES[d.month - 1]} ${String(d.day).padStart(2, '0')} '${String(d.year % 100).padStart(2, '0')}`;
}

export function instrumentSymbol(inst: Instrument): string {
  return inst.kind === 'future' ? 'ES' : 'SPX';
}

export function instrumentDescription(inst: Instrument): string {
  switch (inst.kind) {
    case 'future':
      return `ES ${monthToken(dayOfYyyymmdd(inst.expiry))}`;
    case 'index':
      return 'SPX';
    case 'option':
      return `SPX ${expiryLabel(inst.expiry)} ${inst.strike} ${inst.right === 'C' ? 'Call' : 'Put'}`;
  }
}

export function secType(inst: Instrument): 'FUT' | 'IND' | 'OPT' {
  return inst.kind === 'future' ? 'FUT' : inst.kind === 'index' ? 'IND' : 'OPT';
}

export function multiplier(inst: Instrument): number {
  return inst.kind === 'future' ? 50 : inst.kind === 'option' ? 100 : 1;
}
