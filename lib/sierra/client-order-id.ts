// ClientOrderIDs: `YYYYMMDD-<prefix>-<n>`, generated once per trading intent and never reused.
// dtc-protocol.md §3: the id is chosen by the client, must not repeat within the server's trading session (~24 h) and
// the server keeps them across connections, so n continues from the highest id the server reports (open orders at
// logon) and from any sequence the caller persisted. At most 32 characters (SUBMIT_NEW_SINGLE_ORDER.ClientOrderID).
// DTC fills carry no ClientOrderID, so after a restart with no working order the server reveals nothing: n is
// therefore never below the tenths of a millisecond elapsed since Chicago midnight on the wall clock (the caller
// passes the wall clock, never a simulated market's, which can run fast or start over). A restarted process starts
// above every id it issued before (unless it sent more than ten thousand orders a second, which the risk limits
// forbid), so an id is not repeated even when nothing was persisted. The longest id, 8 + 1 + 12 + 1 + 9 characters,
// fits in 32.

import { InvalidInputError } from '../errors';
import { CHICAGO, zonedParts, zonedTime } from '../clock';

export const MAX_CLIENT_ORDER_ID_LENGTH = 32;
const TICKS_PER_MS = 10;
const PREFIX_PATTERN = /^[A-Za-z0-9_]{1,12}$/;

export class ClientOrderIdGenerator {
  readonly prefix: string;
  private readonly pattern: RegExp;
  private highest: number;

  /** `lastSequence`: the highest n already used (e.g. persisted by the caller), so ids continue after it. */
  constructor(prefix: string, lastSequence = 0) {
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new InvalidInputError(`Order id prefix "${prefix}" is not valid: use 1 to 12 letters, digits or _.`);
    }
    this.prefix = prefix;
    this.pattern = new RegExp(`^\\d{8}-${prefix}-(\\d+)$`);
    this.highest = Math.max(0, Math.floor(lastSequence));
  }

  /** The highest n issued or observed so far. */
  get lastSequence(): number {
    return this.highest;
  }

  /**
   * Takes note of an id seen at the server (open orders, fills, order updates). Ids of another prefix are ignored;
   * ours of any date move the sequence forward, so a restart or a day change never re-issues one.
   */
  observe(clientOrderId: string | undefined | null): void {
    if (!clientOrderId) return;
    const m = this.pattern.exec(clientOrderId);
    if (m) this.highest = Math.max(this.highest, Number(m[1]));
  }

  /** A fresh id for one trading intent, dated by the Chicago (CME) calendar day of `now` (wall clock, may be fractional). */
  next(now: number): string {
    const p = zonedParts(now, CHICAGO);
    const date = `${p.year}${String(p.month).padStart(2, '0')}${String(p.day).padStart(2, '0')}`;
    const midnight = zonedTime(CHICAGO, p.year, p.month, p.day);
    this.highest = Math.max(this.highest + 1, Math.floor((now - midnight) * TICKS_PER_MS));
    const id = `${date}-${this.prefix}-${this.highest}`;
    if (id.length > MAX_CLIENT_ORDER_ID_LENGTH) {
      throw new InvalidInputError(`Order id "${id}" is longer than DTC's ${MAX_CLIENT_ORDER_ID_LENGTH} characters: use a shorter prefix.`);
    }
    return id;
  }
}
