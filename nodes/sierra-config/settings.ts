// The sierra-config dialog's settings and credentials → the options of one SierraConnection. Pure: no Node-RED, no
// sockets, so every rule (defaults, ranges, the symbol, trading off unless ticked) is shared by the node and its
// "Test connection" endpoint, and tested on its own.
import path from 'path';
import { InvalidInputError, describeValue } from '../../lib/errors';
import type { FrontMonthSymbol, SierraConnectionOptions } from '../../lib/sierra/connection';
import { buildSymbol, frontMonthSymbol, parseSymbol, SYMBOL_FORMATS, type SymbolFormat } from '../../lib/sierra/symbols';
import { contractDates, describeFront, findInstrument, frontMonth, INSTRUMENTS, instrument, nextContract, type Instrument } from '../../lib/trading/instruments';
import type { KillSwitchState } from '../../lib/trading/risk-rules';

/** The dialog's fields as Node-RED stores them (checkboxes are booleans, numbers may arrive as strings). */
export interface SierraConfigSettings {
  mode?: string; // 'simulator' | 'sierra'
  host?: string;
  port?: number | string;
  transport?: string; // 'tcp' | 'websocket'
  handshake?: boolean | string;
  tradeAccount?: string;
  symbol?: string;
  /** With no symbol: the instrument whose front month is traded, rolling on the roll date (default ES). */
  root?: string;
  symbolFormat?: string;
  heartbeatSec?: number | string;
  tradingEnabled?: boolean | string;
  killSwitch?: string;
  tickSize?: number | string;
  pointValue?: number | string;
  maxOrderSize?: number | string;
  maxPosition?: number | string;
  collarTicks?: number | string;
  maxOrdersPerMinute?: number | string;
  dailyLossLimit?: number | string;
  maxTradesPerDay?: number | string;
  maxConsecutiveLosses?: number | string;
  tradingHoursEnabled?: boolean | string;
  tradingStart?: string;
  tradingEnd?: string;
  cooldownMin?: number | string;
  simSeed?: number | string;
  simSpeed?: number | string;
  /**
   * Simulator mode: fill against the replay of this recording (the same file as an ibkr-config in replay mode;
   * relative to <userDir>/mia-recordings unless absolute) instead of the seeded market. Empty: the seeded market.
   */
  simReplayFile?: string;
}

export interface SierraConfigCredentials {
  username?: string;
  password?: string;
}

export const CREDENTIAL_FIELDS: readonly (keyof SierraConfigCredentials)[] = ['username', 'password'];

function flag(value: boolean | string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return value === true || value === 'true';
}

function numberSetting(value: number | string | undefined, fallback: number, what: string, check: (n: number) => boolean, expected: string): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new InvalidInputError(`Sierra Chart connection settings: ${what} ${describeValue(value)} is not valid: ${expected}.`);
  return n;
}

const wholeAtLeast = (min: number) => (n: number): boolean => Number.isInteger(n) && n >= min;

function text(value: string | undefined): string {
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * What orders go out with: the symbol the trader typed, kept fixed; else the instrument registry's front month of
 * the root (ES by default) in the chosen format, which rolls while the connection runs (lib/trading/instruments.ts).
 */
export function resolveSymbol(settings: Pick<SierraConfigSettings, 'symbol' | 'symbolFormat' | 'root'>): string | FrontMonthSymbol {
  const symbol = text(settings.symbol);
  if (symbol) return symbol;
  const root = (text(settings.root) || 'ES').toUpperCase();
  if (!findInstrument(root)) throw new InvalidInputError(`Sierra Chart connection settings: "${root}" is not an instrument the front-month rule knows: use one of ${INSTRUMENTS.map((i) => i.root).join(', ')}, or type the exact symbol.`);
  return { root, format: symbolFormat(settings.symbolFormat) };
}

function symbolFormat(value: string | undefined): SymbolFormat {
  const format = (text(value) || 'sierra-cme') as SymbolFormat;
  if (!SYMBOL_FORMATS.includes(format)) throw new InvalidInputError(`Symbol format "${format}" is not valid: use ${SYMBOL_FORMATS.join(', ')}.`);
  return format;
}

/** What the editor shows: the one contract traded now, and when (if ever) that changes. */
export interface SymbolPreview {
  /** The exact symbol Sierra Chart receives now. */
  symbol: string;
  /** 'front-month' rolls on `rollDate`; 'fixed' is the typed symbol, never changed by the package. */
  mode: 'front-month' | 'fixed';
  /** 'ESZ26' when the symbol names a contract the registry knows, else null. */
  contract: string | null;
  /** YYYY-MM-DD, or null when unknown. */
  expiry: string | null;
  /** Front month: the first day the next contract is traded (YYYY-MM-DD); fixed: null. */
  rollDate: string | null;
  /** Front month: the symbol from the roll date on. */
  nextSymbol: string | null;
  /** The contract's tick size and $ per point (what the risk rules use), or null outside the registry. */
  tickSize: number | null;
  pointValue: number | null;
  /** One line for the dialog. */
  description: string;
}

const iso = (yyyymmdd: string): string => `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;

/** The editor's symbol section: the dialog's symbol / root / format → the contract that will be traded at `now`. */
export function previewSymbol(query: Record<string, unknown>, now: number): SymbolPreview {
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const choice = resolveSymbol({ symbol: str(query.symbol), root: str(query.root), symbolFormat: str(query.format) });
  if (typeof choice !== 'string') {
    const front = frontMonth(choice.root, now);
    const next = nextContract(front);
    return {
      symbol: frontMonthSymbol(choice.root, now, choice.format),
      mode: 'front-month',
      contract: front.code,
      expiry: iso(front.expiry),
      rollDate: iso(front.rollDate),
      nextSymbol: buildSymbol(next, choice.format, instrument(choice.root).exchange),
      tickSize: instrument(choice.root).tickSize,
      pointValue: instrument(choice.root).pointValue,
      description: describeFront(front),
    };
  }
  let dates: ReturnType<typeof contractDates> | null = null;
  try {
    const parsed = parseSymbol(choice, now);
    if (findInstrument(parsed.root)) dates = contractDates(parsed);
  } catch {
    dates = null; // a symbol outside the registry is sent as typed
  }
  return {
    symbol: choice,
    mode: 'fixed',
    contract: dates?.code ?? null,
    expiry: dates ? iso(dates.expiry) : null,
    rollDate: null,
    nextSymbol: null,
    tickSize: dates ? instrument(dates.root).tickSize : null,
    pointValue: dates ? instrument(dates.root).pointValue : null,
    description: dates
      ? `${choice} (${dates.code}, expires ${iso(dates.expiry)}): fixed, never rolled${dates.code === frontMonth(dates.root, now).code ? '' : `; the front month now is ${frontMonth(dates.root, now).code}`}`
      : `${choice}: fixed, sent exactly as typed`,
  };
}

/** The registry instrument a symbol choice trades, or undefined for a typed symbol outside the registry. */
export function instrumentOfChoice(choice: string | FrontMonthSymbol, now = Date.now()): Instrument | undefined {
  if (typeof choice !== 'string') return instrument(choice.root);
  try {
    return findInstrument(parseSymbol(choice, now).root);
  } catch {
    return undefined;
  }
}

/**
 * Tick size or point value: the instrument's (lib/trading/instruments.ts) when the registry knows the contract, and a
 * dialog value that contradicts it is refused (a stale 50 on an MES connection would count P&L ten times too large);
 * for a symbol outside the registry the trader must give it.
 */
function contractSetting(value: number | string | undefined, known: number | undefined, what: string, unit: string): number {
  const given = value === undefined || value === '' ? undefined : numberSetting(value, 0, what, (n) => n > 0, `use ${unit}`);
  if (known === undefined) {
    if (given === undefined) throw new InvalidInputError(`Sierra Chart connection settings: ${what} is empty and the symbol is not one the instrument registry knows: set it (${unit}).`);
    return given;
  }
  if (given !== undefined && Math.abs(given - known) > 1e-12) {
    throw new InvalidInputError(`Sierra Chart connection settings: ${what} ${given} contradicts the contract traded (${known}): clear the field to use the contract's, or fix the symbol.`);
  }
  return known;
}

const HHMM = /^([01]?\d|2[0-3]):[0-5]\d$/;

function timeOfDay(value: string | undefined, fallback: string, what: string): string {
  const t = text(value) || fallback;
  if (!HHMM.test(t)) throw new InvalidInputError(`Sierra Chart connection settings: ${what} "${t}" is not a time HH:MM (New York).`);
  return t;
}

/** Turns the dialog's settings into connection options, or throws an InvalidInputError a trader can act on. */
export function planConnection(settings: SierraConfigSettings, credentials: SierraConfigCredentials = {}, userDir?: string): SierraConnectionOptions {
  const mode = text(settings.mode) || 'simulator';
  if (mode !== 'simulator' && mode !== 'sierra') throw new InvalidInputError(`Sierra Chart connection settings: unknown mode "${mode}": choose simulator or Sierra Chart.`);
  const transport = text(settings.transport) || 'tcp';
  if (transport !== 'tcp' && transport !== 'websocket') throw new InvalidInputError(`Sierra Chart connection settings: transport "${transport}" is not valid: choose TCP or WebSocket.`);
  const host = text(settings.host) || '127.0.0.1';
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) throw new InvalidInputError(`Sierra Chart connection settings: host "${host}" is not a host name or IP address.`);
  const killSwitch = (text(settings.killSwitch) || 'ACTIVE') as KillSwitchState;
  if (!['ACTIVE', 'REDUCING', 'HALTED'].includes(killSwitch)) throw new InvalidInputError(`Sierra Chart connection settings: kill switch "${killSwitch}" is not ACTIVE, REDUCING or HALTED.`);
  const username = text(credentials.username);
  const password = typeof credentials.password === 'string' ? credentials.password : '';
  const symbol = resolveSymbol(settings);
  const traded = instrumentOfChoice(symbol);
  const options: SierraConnectionOptions = {
    client: {
      host,
      port: numberSetting(settings.port, 11099, 'port', (n) => Number.isInteger(n) && n > 0 && n <= 65535, "use the DTC server's Listening Port (commonly 11099)"),
      transport,
      encoding: flag(settings.handshake, true) ? 'automatic' : 'json',
      tradeAccount: text(settings.tradeAccount) || 'Sim1',
      heartbeatSec: numberSetting(settings.heartbeatSec, 10, 'heartbeat interval', (n) => n > 0 && n <= 300, 'use seconds between 1 and 300'),
      // Trading is off unless the trader ticked it (ARCHITECTURE.md, "Orders").
      tradingEnabled: flag(settings.tradingEnabled, false),
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    },
    symbol,
    risk: {
      tickSize: contractSetting(settings.tickSize, traded?.tickSize, 'tick size', 'the contract tick, 0.25 for ES'),
      collarTicks: numberSetting(settings.collarTicks, 40, 'price collar (ticks)', wholeAtLeast(0), 'use a whole number of ticks, 0 for off'),
      maxOrdersPerMinute: numberSetting(settings.maxOrdersPerMinute, 10, 'max orders per minute', wholeAtLeast(0), 'use a whole number, 0 for off'),
      killSwitch,
      limits: {
        maxOrderSize: numberSetting(settings.maxOrderSize, 2, 'max order size', wholeAtLeast(1), 'use a whole number of contracts ≥ 1'),
        maxPosition: numberSetting(settings.maxPosition, 2, 'max position', wholeAtLeast(1), 'use a whole number of contracts ≥ 1'),
        dailyLossLimit: numberSetting(settings.dailyLossLimit, 500, 'daily loss limit ($)', (n) => n > 0, 'use dollars above 0'),
        maxTradesPerDay: numberSetting(settings.maxTradesPerDay, 10, 'max trades per day', wholeAtLeast(1), 'use a whole number ≥ 1'),
        maxConsecutiveLosses: numberSetting(settings.maxConsecutiveLosses, 4, 'max losing trades in a row', wholeAtLeast(1), 'use a whole number ≥ 1'),
        cooldownMin: numberSetting(settings.cooldownMin, 15, 'cooldown (min)', (n) => n >= 0, 'use minutes ≥ 0'),
        pointValue: contractSetting(settings.pointValue, traded?.pointValue, 'point value ($)', '$ per point, 50 for ES, 5 for MES'),
        tradingHoursEnabled: flag(settings.tradingHoursEnabled, true),
        tradingStart: timeOfDay(settings.tradingStart, '09:35', 'trading start'),
        tradingEnd: timeOfDay(settings.tradingEnd, '15:45', 'trading end'),
      },
    },
  };
  if (mode === 'simulator') {
    options.simulator = {
      seed: numberSetting(settings.simSeed, 1, 'simulator seed', Number.isInteger, 'use a whole number'),
      speed: numberSetting(settings.simSpeed, 1, 'simulator speed', (n) => n > 0 && n <= 1000, 'use a number between 0 and 1000'),
    };
    const replayFile = text(settings.simReplayFile);
    if (replayFile !== '') {
      if (!path.isAbsolute(replayFile) && !userDir) {
        throw new InvalidInputError('Sierra Chart connection settings: a relative replay file needs the Node-RED user directory, which is unknown here.');
      }
      options.simulator.replayFile = path.isAbsolute(replayFile) ? replayFile : path.join(userDir as string, 'mia-recordings', replayFile);
    }
  }
  return options;
}
