// What the risk engine and the price collar need to know of a contract named by a broker: its root (exposure is summed
// per root: ESZ6 and ESH7 are both ES), its point value ($ per point, to price a fill) and its tick size (the collar),
// all from the instrument registry (lib/trading/instruments.ts); and one key per contract whatever its spelling.
import { InvalidInputError } from '../errors';
import { parseSymbol } from '../sierra/symbols';
import { contractCode, findInstrument, frontMonth, INSTRUMENTS, type Instrument } from './instruments';

export type InstrumentInfo = Pick<Instrument, 'root' | 'pointValue' | 'tickSize'>;

/** Resolves a broker's name for a contract to its instrument. Throws when the registry does not know it. */
export type InstrumentOf = (symbol: string) => InstrumentInfo;

/**
 * The root a broker's name for a contract carries: a bare root ("ES"), a Sierra symbol in any of its spellings
 * ("ESZ26_FUT_CME", "ESZ6", "F.US.EPZ26"), or the engine's IBKR name "<root>@<conid>"; null when none is readable.
 */
export function rootOfSymbol(symbol: string): string | null {
  const text = String(symbol).trim().toUpperCase();
  const at = text.indexOf('@');
  const name = at >= 0 ? text.slice(0, at) : text;
  if (findInstrument(name)) return name;
  try {
    return parseSymbol(name).root;
  } catch {
    return null;
  }
}

/** The registry's instrument of a contract name (see rootOfSymbol); anything it does not know is refused, never guessed. */
export function instrumentOf(symbol: string): InstrumentInfo {
  const root = rootOfSymbol(symbol);
  const found = root === null ? undefined : findInstrument(root);
  if (!found) {
    throw new InvalidInputError(
      `contract "${symbol}" is not in the instrument registry (${INSTRUMENTS.map((i) => i.root).join(', ')}): its point value and root are needed to count its exposure.`,
    );
  }
  return found;
}

/**
 * The contract a symbol names, as one key for every spelling: 'ESZ26' for ESZ26_FUT_CME, ESZ26-CME, F.US.EPZ26 or
 * ESZ26; the registry's front month at `t` for a bare root ('ES', as IBKR quotes name it); else the symbol itself.
 */
export function contractKey(symbol: string, t: number): string {
  const s = symbol.trim().toUpperCase();
  if (findInstrument(s)) return frontMonth(s, t).code;
  try {
    return contractCode(parseSymbol(s, t));
  } catch {
    return s;
  }
}

/** Two contract names of one instrument: the same root whatever the contract month and spelling. */
export function sameInstrument(a: string, b: string): boolean {
  if (a === b) return true;
  const root = rootOfSymbol(a);
  return root !== null && root === rootOfSymbol(b);
}
