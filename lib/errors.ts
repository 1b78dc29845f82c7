// The base of every error the suite reports. A trader reads `message`: what failed, why, and what to do.
// `code` lets a flow (Catch node) or a test branch on the kind without parsing text; `cause` keeps the wire error.
import { types } from 'util';

export class MiaError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input to a node or a library call: the message says which field and what was expected. */
export class InvalidInputError extends MiaError {
  constructor(message: string) {
    super('INVALID_INPUT', message);
  }
}

/**
 * The one error code of an expected refusal, for both brokers: a risk rule of the account's engine said no and
 * nothing was sent (the rules working, not a failure). lib/trading/risk-engine.ts and lib/sierra/errors.ts use it.
 */
const REFUSAL_CODE = 'RISK_DENIED';

/** True for a risk refusal (IBKR's or Sierra's RiskDeniedError): logged as one warning, not as an error. */
export function isRefusal(err: unknown): err is MiaError & { rule: string } {
  if (!(err instanceof MiaError) || err.code !== REFUSAL_CODE) return false;
  const rule = (err as { rule?: unknown }).rule;
  // A risk check that could not run is a failure, not the rules at work.
  return typeof rule === 'string' && rule !== 'risk-check-failed';
}

/** Error codes of a request dropped because its connection is closing (a redeploy or a stop), not a failure. */
const CLOSING_CODES: ReadonlySet<string> = new Set(['IBKR_CLOSED']);

/** True for a request dropped by a redeploy or a stop: nothing the trader must act on. */
export function isDroppedByClose(err: unknown): boolean {
  return err instanceof MiaError && CLOSING_CODES.has(err.code);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const CLIP_CHARS = 40;
// The built-in getters, so an own `size` property on a Map cannot run code while an error is being written.
const MAP_SIZE = Object.getOwnPropertyDescriptor(Map.prototype, 'size')?.get as () => number;
const SET_SIZE = Object.getOwnPropertyDescriptor(Set.prototype, 'size')?.get as () => number;
const CLIP_KEYS = 4;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A quoted, escaped, clipped text: control characters and quotes cannot break the sentence it sits in. */
function quoted(text: string): string {
  const shown = JSON.stringify(clip(text, CLIP_CHARS));
  return text.length > CLIP_CHARS ? `${shown} (${text.length} characters)` : shown;
}

function describeObject(x: object): string {
  if (Array.isArray(x)) return x.length === 0 ? 'an empty array' : `an array of ${x.length}`;
  if (types.isDate(x)) {
    const t = Date.prototype.getTime.call(x);
    return Number.isNaN(t) ? 'an invalid date' : `the date ${new Date(t).toISOString()}`;
  }
  if (types.isMap(x)) return `a Map of ${Reflect.apply(MAP_SIZE, x, []) as number}`;
  if (types.isSet(x)) return `a Set of ${Reflect.apply(SET_SIZE, x, []) as number}`;
  if (ArrayBuffer.isView(x)) return `binary data (${x.byteLength} bytes)`;
  const keys = Object.keys(x);
  if (keys.length === 0) return 'an empty object';
  const shown = keys.slice(0, CLIP_KEYS).map((k) => clip(JSON.stringify(k).slice(1, -1), 20));
  return `an object with keys ${shown.join(', ')}${keys.length > CLIP_KEYS ? `, … (${keys.length} keys)` : ''}`;
}

/**
 * A short, trader-readable description of any value, for an error message: `"abc"`, `42`, `NaN`, `null`,
 * `an array of 3`, `an object with keys t, price`. Never throws and never calls the value's own conversions
 * (toString, valueOf, Symbol.toPrimitive, getters), so a null-prototype or hostile object cannot turn a refusal into "Cannot convert
 * object to primitive value". Strings are clipped to 40 characters: a message never echoes a whole payload.
 */
export function describeValue(x: unknown): string {
  try {
    switch (typeof x) {
      case 'string':
        return quoted(x);
      case 'number':
        return Object.is(x, -0) ? '-0' : `${x}`;
      case 'bigint':
        return clip(`${x}n`, CLIP_CHARS);
      case 'boolean':
        return x ? 'true' : 'false';
      case 'undefined':
        return 'nothing (undefined)';
      case 'symbol':
        return x.description === undefined ? 'a symbol' : `the symbol ${quoted(x.description)}`;
      case 'function':
        return 'a function';
      case 'object':
        return x === null ? 'null' : describeObject(x);
      default:
        return 'an unreadable value';
    }
  } catch {
    // A revoked Proxy or a throwing ownKeys trap: nothing safe can be said about it.
    return 'an unreadable value';
  }
}
