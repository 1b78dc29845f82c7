// Streaming market data (`smd`) turned into a running Quote and Tick events, one MarketDataBook per contract.
// IBKR sends only the fields that changed since the previous message (ibkr-web-api.md, section 4), as strings
// ("C5012.25", "1,300", "1.2M"); they are parsed here, once, with wire.ts.
//
// The trade rule. IBKR's stream has no trade-by-trade print: it sends the latest last price (31), last size (7059)
// and the session volume at most every few hundred milliseconds. A new trade is therefore detected by the
// high-precision session volume (7762) going up:
//   - size  = the increase since the previous 7762 value (every contract traded in between, so no volume is lost
//             even when IBKR folds several trades into one update; 7059 is only the size of the latest of them);
//   - price = the last price after applying the message (the trade that moved the volume);
//   - bid/ask = the touch just before the message, the quote the trade executed against (falling back to the
//             message's own bid/ask when none was known before);
//   - t = the message's `_updated` server time when present, else `now`.
// No tick is made from the first volume seen (trading before we looked), from a volume that goes down (a new
// session started: the count restarts), or when no traded last price is known (a "C" prior-close last): that
// volume is reported as `unobservedVolume` instead, never as an invented trade. After a stream gap (markGap) the
// volume traded while the stream was down is reported the same way.
// The aggressor side is left to the consumer (mia-vwap-delta classifies against the bid/ask carried here).

import type { Quote, Tick } from '../contracts';
import { FIELD_IDS, parseAvailability, parseWireNumber, parseWirePrice, type DataSource, type PriceFlag } from './wire';

/** The fields a streaming quote subscribes to: everything MarketDataBook reads. */
export const QUOTE_FIELDS: readonly string[] = [
  FIELD_IDS.last,
  FIELD_IDS.bid,
  FIELD_IDS.ask,
  FIELD_IDS.bidSize,
  FIELD_IDS.askSize,
  FIELD_IDS.volume,
  FIELD_IDS.volumeLong,
  FIELD_IDS.lastSize,
  FIELD_IDS.availability,
];

/** A Quote (the `quote` message contract) plus what the stream knows about its quality. */
export interface StreamQuote extends Quote {
  /** 'live' for a traded last, 'prior-close' for IBKR's "C" prefix (no trade yet today), 'halted' for "H". */
  lastFlag: PriceFlag | null;
  lastSize: number | null;
  /** IBKR field 6509: frozen data is the last known state of a closed market, not a live price. */
  frozen: boolean;
  source: DataSource;
}

export interface MarketDataUpdate {
  /** The running quote after this message (a copy: safe to keep or send on). */
  quote: StreamQuote;
  /** The trade this message revealed, or null (see the trade rule at the top of this file). */
  tick: Tick | null;
  /** Volume traded that no tick stands for (traded during a stream gap, or with no known price); 0 normally. */
  unobservedVolume: number;
}

export class MarketDataBook {
  private readonly quote: StreamQuote;
  /** The last 7762 volume seen; null before the first one and after a gap. */
  private volumeBaseline: number | null = null;
  /** The volume known when a gap began, to measure what traded while the stream was down. */
  private volumeBeforeGap: number | null = null;
  private seenHighPrecisionVolume = false;

  constructor(
    readonly conid: number,
    readonly symbol: string,
    readonly contract?: string,
  ) {
    this.quote = {
      symbol,
      ...(contract === undefined ? {} : { contract }),
      conid,
      t: 0,
      last: null,
      bid: null,
      ask: null,
      bidSize: null,
      askSize: null,
      volume: null,
      delayed: false,
      lastFlag: null,
      lastSize: null,
      frozen: false,
      source: 'unknown',
    };
  }

  /** The running quote now (a copy). */
  current(): StreamQuote {
    return { ...this.quote };
  }

  /**
   * The stream lost data (reconnect, session expiry): the next volume is a new baseline and what traded in
   * between comes back as `unobservedVolume`, not as one giant trade at whatever the last price then is.
   */
  markGap(): void {
    if (this.volumeBaseline !== null) this.volumeBeforeGap = this.volumeBaseline;
    this.volumeBaseline = null;
  }

  /** Applies one smd message (changed fields only) received at `now` (epoch ms). */
  apply(message: Readonly<Record<string, unknown>>, now: number): MarketDataUpdate {
    const q = this.quote;
    const touchBefore = { bid: q.bid, ask: q.ask };
    const updated = message._updated;
    q.t = typeof updated === 'number' && Number.isFinite(updated) ? updated : now;

    if (FIELD_IDS.last in message) {
      const price = parseWirePrice(message[FIELD_IDS.last]);
      q.last = price?.value ?? null;
      q.lastFlag = price?.flag ?? null;
    }
    if (FIELD_IDS.bid in message) q.bid = parseWireNumber(message[FIELD_IDS.bid]);
    if (FIELD_IDS.ask in message) q.ask = parseWireNumber(message[FIELD_IDS.ask]);
    if (FIELD_IDS.bidSize in message) q.bidSize = parseWireNumber(message[FIELD_IDS.bidSize]);
    if (FIELD_IDS.askSize in message) q.askSize = parseWireNumber(message[FIELD_IDS.askSize]);
    if (FIELD_IDS.lastSize in message) q.lastSize = parseWireNumber(message[FIELD_IDS.lastSize]);
    if (FIELD_IDS.availability in message) {
      const availability = parseAvailability(message[FIELD_IDS.availability]);
      q.source = availability.source;
      q.delayed = availability.delayed;
      q.frozen = availability.source === 'frozen' || availability.source === 'frozen-delayed';
    }

    let tick: Tick | null = null;
    let unobservedVolume = 0;
    const volume = FIELD_IDS.volumeLong in message ? parseWireNumber(message[FIELD_IDS.volumeLong]) : null;
    if (volume !== null) {
      this.seenHighPrecisionVolume = true;
      q.volume = volume;
      const baseline = this.volumeBaseline;
      this.volumeBaseline = volume;
      if (baseline === null) {
        if (this.volumeBeforeGap !== null && volume > this.volumeBeforeGap) unobservedVolume = volume - this.volumeBeforeGap;
        this.volumeBeforeGap = null;
      } else if (volume > baseline) {
        const size = volume - baseline;
        if (q.last !== null && q.lastFlag !== 'prior-close') {
          tick = { symbol: this.symbol, ...(this.contract === undefined ? {} : { contract: this.contract }), t: q.t, price: q.last, size };
          const bid = touchBefore.bid ?? q.bid;
          const ask = touchBefore.ask ?? q.ask;
          if (bid !== null) tick.bid = bid;
          if (ask !== null) tick.ask = ask;
        } else {
          unobservedVolume = size;
        }
      }
    } else if (!this.seenHighPrecisionVolume && FIELD_IDS.volume in message) {
      // 87 is rounded ("1.2M"): shown only until 7762 arrives, and never used for ticks.
      q.volume = parseWireNumber(message[FIELD_IDS.volume]);
    }

    return { quote: { ...q }, tick, unobservedVolume };
  }
}
