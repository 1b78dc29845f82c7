// Client order ids for both brokers (DTC ClientOrderID, IBKR cOID): `YYYYMMDD-<prefix>-<n>`, generated once per
// trading intent and never reused.
// dtc-protocol.md §3: the id is chosen by the client, must not repeat within the server's trading session (~24 h)
// and the server keeps them across connections; IBKR refuses a cOID it has seen (ibkr-web-api.md §2). So n only
// grows: it continues above the highest id the broker reports (`observe`: open orders at logon, order updates), above
// the high-water mark the journal persisted (`lastSequence`), and is never below the tenths of a millisecond elapsed
// since Chicago midnight on the wall clock (the caller passes the wall clock, never a simulated market's, which can
// run fast or start over). A restarted process that persisted nothing therefore still starts above every id it
// issued that day (unless it sent more than ten thousand orders a second, which the risk limits forbid).
// The longest id, 8 + 1 + 12 + 1 + 9 characters, fits DTC's 32; only letters, digits and '-' (IBKR's cOID rules).
// A trader's own id (`claim`) is honoured once: 1–32 letters, digits, '-', '_' or '.', never one already used.

import { InvalidInputError, describeValue } from '../errors';
import { CHICAGO, zonedParts, zonedTime } from '../clock';

export const MAX_CLIENT_ORDER_ID_LENGTH = 32;
const TICKS_PER_MS = 10;
const PREFIX_PATTERN = /^[A-Za-z0-9_]{1,12}$/;
/** What a trader may choose as a new order's id: fits DTC's 32 characters and IBKR's cOID. */
const OWN_ID_PATTERN = /^[A-Za-z0-9_.-]{1,32}$/;

/** Checks a trader's own id for a new order; throws InvalidInputError saying what is allowed. */
export function checkOwnClientOrderId(id: unknown): string {
  if (typeof id !== 'string' || !OWN_ID_PATTERN.test(id)) {
    throw new InvalidInputError(
      `clientOrderId ${describeValue(id)} is not valid for a new order: use 1 to ${MAX_CLIENT_ORDER_ID_LENGTH} letters, digits, '-', '_' or '.', or leave it out and the node makes one.`,
    );
  }
  return id;
}

/**
 * The account's journaled id high-water mark (lib/trading/risk-engine.ts RiskEngine has both members): a generator
 * given one continues above it at every id, and moves it, so every generator of one account (any node, either
 * broker, after a restart) continues above the others.
 */
export interface IdSequence {
  readonly lastIdSequence: number;
  noteIdSequence(n: number): void;
}

export class ClientOrderIdGenerator {
  readonly prefix: string;
  private readonly pattern: RegExp;
  private highest: number;
  private readonly shared: IdSequence | undefined;
  /** Ids not of our pattern that were claimed or seen at the broker. */
  private readonly foreign = new Set<string>();

  /**
   * `lastSequence`: the highest n already used (persisted by the journal), so ids continue after it. `shared`: the
   * account's journaled sequence, read before and moved after every id.
   */
  constructor(prefix = 'mia', lastSequence = 0, shared?: IdSequence) {
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new InvalidInputError(`Order id prefix "${prefix}" is not valid: use 1 to 12 letters, digits or _.`);
    }
    if (!Number.isFinite(lastSequence) || lastSequence < 0) {
      throw new InvalidInputError(`Order id high-water mark ${describeValue(lastSequence)} is not valid: use a whole number ≥ 0.`);
    }
    this.prefix = prefix;
    this.pattern = new RegExp(`^\\d{8}-${prefix}-(\\d{1,15})$`);
    this.highest = Math.floor(lastSequence);
    this.shared = shared;
  }

  private raise(n: number): void {
    this.highest = Math.max(this.highest, n);
    this.shared?.noteIdSequence(this.highest);
  }

  /** The highest n issued, claimed or observed so far: the high-water mark to persist. */
  get lastSequence(): number {
    return this.highest;
  }

  /**
   * Takes note of an id seen at the broker (open orders, fills, order updates). Ours, of any date, move the sequence
   * forward, so a restart or a day change never re-issues one; any other id can no longer be claimed.
   */
  observe(clientOrderId: string | undefined | null): void {
    if (!clientOrderId) return;
    const m = this.pattern.exec(clientOrderId);
    if (m) this.raise(Number(m[1]));
    else this.foreign.add(clientOrderId);
  }

  /** A fresh id for one trading intent, dated by the Chicago (CME) calendar day of `now` (wall clock, may be fractional). */
  next(now: number): string {
    if (!Number.isFinite(now)) throw new InvalidInputError(`Order id clock ${describeValue(now)} is not a time.`);
    const p = zonedParts(now, CHICAGO);
    const date = `${p.year}${String(p.month).padStart(2, '0')}${String(p.day).padStart(2, '0')}`;
    const midnight = zonedTime(CHICAGO, p.year, p.month, p.day);
    const floor = Math.max(this.highest, this.shared?.lastIdSequence ?? 0);
    const n = Math.max(floor + 1, Math.floor((now - midnight) * TICKS_PER_MS));
    const id = `${date}-${this.prefix}-${n}`;
    if (id.length > MAX_CLIENT_ORDER_ID_LENGTH) {
      throw new InvalidInputError(`Order id "${id}" is longer than ${MAX_CLIENT_ORDER_ID_LENGTH} characters: use a shorter prefix.`);
    }
    this.raise(n);
    return id;
  }

  /**
   * Honours a trader's own id once. Refused: an id already claimed or seen at the broker, and an id of our own
   * pattern at or below the high-water mark (it may have been issued). One above it moves the mark, so `next` never
   * issues it later.
   */
  claim(id: unknown): string {
    const own = checkOwnClientOrderId(id);
    const m = this.pattern.exec(own);
    const used = m ? Number(m[1]) <= Math.max(this.highest, this.shared?.lastIdSequence ?? 0) : this.foreign.has(own);
    if (used) {
      throw new InvalidInputError(`clientOrderId "${own}" was already used: a client order id is never reused. Leave it out and the node makes a new one.`);
    }
    if (m) this.raise(Number(m[1]));
    else this.foreign.add(own);
    return own;
  }
}
