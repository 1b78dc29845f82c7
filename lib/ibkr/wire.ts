// IBKR's wire formats parsed once, at the edge: everything past this module works on numbers and enums.
// Snapshot values arrive as strings ("1,300", "C168.42", "1.2K"); field ids are the [CP] table of the fact sheet,
// section 3 (some community maps swap vega/7633 and open interest/7311: that is wrong and not followed here).

/** Snapshot and streaming field ids by name ([CP] table; ibind's ibkr_definitions.py matches). */
export const FIELD_IDS = {
  last: '31',
  bid: '84',
  ask: '86',
  bidSize: '88',
  askSize: '85',
  volume: '87', // K/M formatted
  volumeLong: '7762', // high precision
  lastSize: '7059',
  high: '70',
  low: '71',
  open: '7295',
  close: '7296',
  priorClose: '7741',
  putCallOpenInterest: '7085',
  putCallVolume: '7086',
  impliedVol: '7633', // implied vol % for the strike
  underlyingImpliedVol: '7283', // 30-day implied vol of the underlying
  optionOpenInterest: '7638',
  optionVolume: '7089',
  futuresOpenInterest: '7697',
  mark: '7635',
  delta: '7308',
  gamma: '7309',
  theta: '7310',
  vega: '7311',
  underlyingConid: '6457',
  availability: '6509',
} as const;

export type FieldName = keyof typeof FIELD_IDS;
export type FieldId = (typeof FIELD_IDS)[FieldName];

const NAME_BY_ID = new Map<string, FieldName>(
  (Object.entries(FIELD_IDS) as Array<[FieldName, string]>).map(([name, id]) => [id, name]),
);

export function fieldName(id: string): FieldName | undefined {
  return NAME_BY_ID.get(id);
}

/** Accepts a field name ("bid") or a numeric id ("84"); returns the id or undefined. */
export function fieldId(nameOrId: string): string | undefined {
  if (nameOrId in FIELD_IDS) return FIELD_IDS[nameOrId as FieldName];
  return /^\d+$/.test(nameOrId) ? nameOrId : undefined;
}

const SUFFIX: Record<string, number> = { K: 1e3, M: 1e6, B: 1e9 };

/**
 * "1,300" → 1300, "1.2K" → 1200, "3.4M" → 3400000, "18.5%" → 18.5 (percent stays a percent), "C168.42" → 168.42.
 * Empty, "-", "N/A" and anything unreadable → null (never NaN).
 */
export function parseWireNumber(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : null;
  if (typeof raw !== 'string') return null;
  let s = raw.trim().replace(/,/g, '');
  if (s === '' || s === '-' || /^n\/?a$/i.test(s)) return null;
  if (/^[CH]/.test(s)) s = s.slice(1);
  if (s.endsWith('%')) s = s.slice(0, -1);
  let scale = 1;
  const last = s.slice(-1).toUpperCase();
  if (last in SUFFIX) {
    scale = SUFFIX[last] ?? 1;
    s = s.slice(0, -1);
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return null;
  const value = Number(s) * scale;
  // K/M scaling of a decimal ("1.2K") must not leave binary noise (1199.9999999999998).
  return scale === 1 ? value : Math.round(value * 1e6) / 1e6;
}

/** An amount of money as IBKR states it: the number and, when given, its ISO currency. */
export interface WireMoney {
  amount: number;
  currency: string | null;
}

/** "2.25 USD", "-1,250.5 EUR", "23,000 USD (100 Shares)" (a note in brackets is dropped), "1,000" or a number. */
const MONEY = /^([-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+))\s*([A-Za-z]{3})?\s*(?:\([^)]*\))?$/;

/**
 * A what-if money figure (fact sheet §2, "What-if": amount, commission, total). IBKR writes the currency after the
 * number, which parseWireNumber rightly refuses; anything else unreadable (a range, "N/A") → null, never a guess.
 */
export function parseWireMoney(raw: unknown): WireMoney | null {
  if (typeof raw === 'number') return Number.isFinite(raw) ? { amount: raw, currency: null } : null;
  if (typeof raw !== 'string') return null;
  const match = MONEY.exec(raw.trim());
  const amount = match ? parseWireNumber(match[1]) : null;
  if (!match || amount === null) return null;
  return { amount, currency: match[2] ? match[2].toUpperCase() : null };
}

export type PriceFlag = 'live' | 'prior-close' | 'halted';

export interface WirePrice {
  value: number;
  flag: PriceFlag;
}

/** A last price: "C168.42" is the prior close (no trade yet today), "H168.42" a halted instrument. */
export function parseWirePrice(raw: unknown): WirePrice | null {
  const value = parseWireNumber(raw);
  if (value === null) return null;
  const prefix = typeof raw === 'string' ? raw.trim().charAt(0) : '';
  const flag: PriceFlag = prefix === 'C' ? 'prior-close' : prefix === 'H' ? 'halted' : 'live';
  return { value, flag };
}

export type DataSource =
  | 'real-time'
  | 'delayed'
  | 'frozen'
  | 'frozen-delayed'
  | 'not-subscribed'
  | 'no-api-agreement'
  | 'unknown';

export interface Availability {
  source: DataSource;
  /** True when the trader is not looking at live prices (delayed, frozen or no data at all). */
  delayed: boolean;
  /** Second character "P": snapshot; "p": consolidated. */
  snapshot: boolean;
  consolidated: boolean;
  /** Third character "B": the instrument has a book (depth) feed. */
  book: boolean;
}

const SOURCES: Record<string, DataSource> = {
  R: 'real-time',
  D: 'delayed',
  Z: 'frozen',
  Y: 'frozen-delayed',
  N: 'not-subscribed',
  O: 'no-api-agreement',
};

/** Field 6509 ("RpB", "DPB", ...). */
export function parseAvailability(raw: unknown): Availability {
  const code = typeof raw === 'string' ? raw.trim() : '';
  const source = SOURCES[code.charAt(0)] ?? 'unknown';
  return {
    source,
    delayed: source !== 'real-time',
    snapshot: code.charAt(1) === 'P',
    consolidated: code.charAt(1) === 'p',
    book: code.slice(2).includes('B'),
  };
}

/** Integers that IBKR sends as strings in some places (conid in secdef/search). */
export function parseWireInt(raw: unknown): number | null {
  const n = parseWireNumber(raw);
  return n !== null && Number.isInteger(n) ? n : null;
}

/** "20250321" (string or number) → "20250321"; anything else → null. */
export function parseYyyymmdd(raw: unknown): string | null {
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  return /^\d{8}$/.test(s) ? s : null;
}
