// The sierra-config dialog's settings and credentials → the options of one SierraConnection. Pure: no Node-RED, no
// sockets, so every rule (defaults, ranges, the symbol, trading off unless ticked) is shared by the node and its
// "Test connection" endpoint, and tested on its own.
import { InvalidInputError, describeValue } from '../../lib/errors';
import type { SierraConnectionOptions } from '../../lib/sierra/connection';
import { buildSymbol, frontMonth, MONTH_CODES, SYMBOL_FORMATS, symbolForms, type MonthCode, type SymbolFormat } from '../../lib/sierra/symbols';
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

/** The symbol orders go out with: the setting, else the ES front month at `now` in the chosen format. */
export function resolveSymbol(settings: Pick<SierraConfigSettings, 'symbol' | 'symbolFormat'>, now: number): string {
  const symbol = text(settings.symbol);
  if (symbol) return symbol;
  return buildSymbol(frontMonth(now), symbolFormat(settings.symbolFormat));
}

function symbolFormat(value: string | undefined): SymbolFormat {
  const format = (text(value) || 'sierra-cme') as SymbolFormat;
  if (!SYMBOL_FORMATS.includes(format)) throw new InvalidInputError(`Symbol format "${format}" is not valid: use ${SYMBOL_FORMATS.join(', ')}.`);
  return format;
}

export interface SymbolPreview {
  symbol: string;
  forms: Record<SymbolFormat, string>;
  frontMonth: string;
}

/** The editor's symbol helper: root + month code + year (+ format, exchange) → the symbol Sierra will receive. */
export function previewSymbol(query: Record<string, unknown>, now: number): SymbolPreview {
  const front = frontMonth(now, typeof query.root === 'string' && query.root ? query.root.toUpperCase() : 'ES');
  const root = typeof query.root === 'string' && query.root ? query.root.toUpperCase() : front.root;
  const month = (typeof query.month === 'string' && query.month ? query.month.toUpperCase() : front.monthCode) as MonthCode;
  if (!MONTH_CODES.includes(month)) throw new InvalidInputError(`Month code "${month}" is not valid: use one of ${MONTH_CODES.join(' ')} (H Mar, M Jun, U Sep, Z Dec).`);
  const yearText = typeof query.year === 'string' && query.year ? query.year : String(front.year);
  let year = Number(yearText);
  if (Number.isInteger(year) && year >= 0 && year < 100) year += 2000;
  const exchange = typeof query.exchange === 'string' && query.exchange ? query.exchange.toUpperCase() : 'CME';
  if (!/^[A-Z]{2,10}$/.test(exchange)) throw new InvalidInputError(`Exchange "${exchange}" is not valid: use letters, e.g. CME.`);
  const format = symbolFormat(typeof query.format === 'string' ? query.format : undefined);
  const contract = { root, monthCode: month, year };
  return { symbol: buildSymbol(contract, format, exchange), forms: symbolForms(contract, exchange), frontMonth: buildSymbol(front, format, exchange) };
}

const HHMM = /^([01]?\d|2[0-3]):[0-5]\d$/;

function timeOfDay(value: string | undefined, fallback: string, what: string): string {
  const t = text(value) || fallback;
  if (!HHMM.test(t)) throw new InvalidInputError(`Sierra Chart connection settings: ${what} "${t}" is not a time HH:MM (New York).`);
  return t;
}

/** Turns the dialog's settings into connection options, or throws an InvalidInputError a trader can act on. */
export function planConnection(settings: SierraConfigSettings, credentials: SierraConfigCredentials = {}, now = Date.now()): SierraConnectionOptions {
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
    symbol: resolveSymbol(settings, now),
    risk: {
      tickSize: numberSetting(settings.tickSize, 0.25, 'tick size', (n) => n > 0, 'use the contract tick, 0.25 for ES'),
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
        pointValue: numberSetting(settings.pointValue, 50, 'point value ($)', (n) => n > 0, 'use $ per point, 50 for ES, 5 for MES'),
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
  }
  return options;
}

/** Node-RED's editor sends this instead of a stored password it does not show. */
export const CREDENTIAL_PLACEHOLDER = '__PWRD__';

/** The dialog's credentials, each placeholder or blank field taken from the stored credentials. */
export function mergeCredentials(fromDialog: Record<string, unknown> | undefined, stored: SierraConfigCredentials | undefined): SierraConfigCredentials {
  const merged: SierraConfigCredentials = {};
  for (const field of CREDENTIAL_FIELDS) {
    const value = fromDialog?.[field];
    if (typeof value === 'string' && value !== '' && value !== CREDENTIAL_PLACEHOLDER) merged[field] = value;
    else if (stored?.[field]) merged[field] = stored[field];
  }
  return merged;
}
