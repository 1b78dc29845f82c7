// What the risk engine needs to know of a contract: its root (exposure is summed per root: ESZ6 and ESH7 are both ES),
// its point value ($ per point, to price a fill) and its tick size (the price collar). The engine takes this as a
// function so the instrument registry (lib/trading/instruments.ts) plugs in; `basicInstrumentOf` below is the small
// stand-in it uses until then: CME equity-index roots only, and anything else refused rather than guessed.
import { InvalidInputError } from '../errors';

export interface InstrumentInfo {
  root: string;
  /** $ per point per contract (ES 50, MES 5). */
  pointValue: number;
  tickSize: number;
}

/** Resolves a broker's name for a contract (a Sierra symbol "ESZ25_FUT_CME", "MESH6", or a root "ES"). Throws when unknown. */
export type InstrumentOf = (symbol: string) => InstrumentInfo;

const ROOTS: Readonly<Record<string, { pointValue: number; tickSize: number }>> = {
  ES: { pointValue: 50, tickSize: 0.25 },
  MES: { pointValue: 5, tickSize: 0.25 },
  NQ: { pointValue: 20, tickSize: 0.25 },
  MNQ: { pointValue: 2, tickSize: 0.25 },
};

/** Root, then optional month code and 1–2 digit year, then an optional suffix: Sierra "_FUT_CME" / ".CME", IBKR "@<conid>". */
const SYMBOL = /^([A-Z]{1,4}?)(?:[FGHJKMNQUVXZ]\d{1,2})?(?:[_.@].*)?$/;

export function basicInstrumentOf(symbol: string): InstrumentInfo {
  const text = String(symbol).trim().toUpperCase();
  const m = SYMBOL.exec(text);
  const root = m && ROOTS[m[1]] ? m[1] : ROOTS[text] ? text : undefined;
  if (!root) throw new InvalidInputError(`contract "${symbol}" is not one the risk engine knows (ES, MES, NQ, MNQ): its point value and root are needed to count its exposure.`);
  return { root, ...ROOTS[root] };
}
