// The recording format (docs: /work/notes/replay.md, "File format"): one gzip file per ES trading day, JSON lines,
// one record a line: {"t": epoch ms, "topic": string, "payload": object}. A file may hold several gzip members (a
// restart appends a new member); gunzip reads them as one stream. Records are in time order within a file.
// Topics the market replay understands (others are kept and ignored):
//   trade  MarketTrade  {t, price, size, side, bid, ask}
//   quote  MarketQuote  {t, last, bid, ask, bidSize, askSize, volume} or ibkr-quote's Quote (symbol, nulls allowed)
//   bar    MarketBar    {t, o, h, l, c, v, symbol?} of 1 minute (t = bar open). Version 2: the bar as it was at the
//          record's time (ibkr-history records the 1-minute bars it receives when they arrive, the last one often a
//          minute still in progress; the same bar may be recorded again later). Version 1 (and no meta): a bar is
//          taken as known at its close, never before (the replay cannot tell when such a bar was complete).
//          Optional `asOf` (epoch ms, at most the record's t; written since the live = replay work of issue 16): the
//          market time of the history request the bar answered. IBKR's answer to a request at r holds nothing after
//          r (its startTime has whole seconds: nothing after r's second), so the bar is known from asOf, and a replay
//          at 'max' asks for its preload at that very moment (lib/ibkr/link.ts). Readers that predate it ignore it
//          and serve the bar from the record's t, as for any version 2 bar: the field is a compatible extension and
//          the format version stays 2.
//   chain  {spot: SPX index, options: MarketOption[]}, or the chain message ibkr-options-chain emits
//          {spot, contracts: OptionQuote[]} (contracts without a bid, ask, last, iv, delta, gamma, open interest or
//          volume are not served by the replay: it cannot make them up)
//   tick   Tick (lib/contracts.ts) as ibkr-quote receives it {symbol, t, price, size, bid?, ask?, side?}; the replay
//          trades the ticks of its symbol (default ES) when the file has no trade records, each at its payload t; the
//          record's t (when the flow received it, often later) tells which ticks the flow had when a preload of
//          history was answered: a replay at 'max' plays those before the answer and the others after it
//   meta   {version, symbol?, ...} the first record a recorder writes (1 or 2; a newer version is refused)
//   sierra-order {t, n, side, type, quantity, price?, stopPrice?, bracket?: {stop, targets}, last?, dataAt?}
//          (lib/replay/order-path.ts) a new order as it reached sierra-config's DTC simulator in a live simulator run
//          on the recorded market: t the market time it arrived, n its place (1, 2, …) among the orders the connection
//          sent, last the last trade price the account's risk engine held then (its price collar's reference)
//   sierra-fill  {t, n, leg, price, quantity}: a fill the simulator gave order n (leg 0: the order or a bracket's
//          parent, 1: the bracket's target, 2: its stop) at market time t
//   sierra-cancel {t, n, leg}: a cancel the connection sent for that leg of order n, at market time t
//          All three written since the orders work of issue 16; readers that predate them count them as topics they do
//          not use, as for any unknown topic: a compatible extension, the format version stays 2. A replay at 'max'
//          sends the flow's order that matches the next recorded one at its recorded time and gives it the recorded
//          fills (lib/sierra/connection.ts).
import fs from 'fs';
import zlib from 'zlib';
import { InvalidInputError } from '../errors';
import { MINUTE_MS } from '../sim/calendar';
import type { MarketBar, MarketOption, MarketQuote, MarketTrade } from '../sim/market-types';
import type { RecordedCancel, RecordedFill, RecordedOrder } from './order-path';

export const RECORDING_VERSION = 2;
export const RECORDING_TOPICS = ['meta', 'trade', 'tick', 'quote', 'bar', 'chain', 'sierra-order', 'sierra-fill', 'sierra-cancel'] as const;

export interface RecordedTick {
  symbol: string;
  t: number;
  price: number;
  size: number;
  bid?: number;
  ask?: number;
  side?: 'buy' | 'sell';
}

export interface RecordLine {
  t: number;
  topic: string;
  payload: unknown;
}

export interface ChainSnapshot {
  spot: number;
  options: MarketOption[];
}

/** A recording parsed and split by topic, each list in time order. */
export interface Recording {
  meta: Record<string, unknown>[];
  trades: MarketTrade[];
  /** Ticks as received (several symbols possible), in record order. */
  ticks: RecordedTick[];
  /** For each tick, the time of its record: when the flow received it (same index as `ticks`). */
  ticksRecordedAt: number[];
  quotes: (MarketQuote & { symbol?: string })[];
  bars: (MarketBar & { symbol?: string })[];
  /** For each bar, the market time from which the replay may serve it (same index as `bars`). */
  barsKnownAt: number[];
  /** For each bar, the time of its record: when the answer holding it arrived (same index as `bars`). */
  barsRecordedAt: number[];
  chains: { t: number; snapshot: ChainSnapshot }[];
  /** The simulated Sierra side of a live simulator run: the orders as they reached the simulator, in order. */
  sierraOrders: RecordedOrder[];
  /** The fills the simulator gave them. */
  sierraFills: RecordedFill[];
  /** The cancels the connection sent for them. */
  sierraCancels: RecordedCancel[];
  /** First and last record time. */
  from: number;
  to: number;
  /** Records of topics the replay does not use. */
  other: number;
}

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function refuse(where: string, why: string): never {
  throw new InvalidInputError(`recording ${where}: ${why}`);
}

function checkFields(where: string, payload: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) if (!finite(payload[k])) refuse(where, `payload.${k} must be a finite number, got ${JSON.stringify(payload[k])}`);
}

/** Parses one line; refuses anything that is not a well-formed record (bad data is never replayed silently). */
export function parseRecordLine(line: string, where: string): RecordLine {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    refuse(where, 'not JSON');
  }
  if (typeof x !== 'object' || x === null || Array.isArray(x)) refuse(where, 'a record must be an object {t, topic, payload}');
  const r = x as Record<string, unknown>;
  if (!finite(r.t)) refuse(where, `t must be epoch ms, got ${JSON.stringify(r.t)}`);
  if (typeof r.topic !== 'string' || r.topic === '') refuse(where, 'topic must be a non-empty string');
  if (typeof r.payload !== 'object' || r.payload === null) refuse(where, 'payload must be an object');
  return { t: r.t, topic: r.topic, payload: r.payload };
}

const OPTION_NUMBERS = ['strike', 'bid', 'ask', 'last', 'iv', 'delta', 'gamma', 'openInterest', 'volume'] as const;

/** The options of an ibkr-options-chain message that carry every figure the simulator serves. */
function completeOptions(contracts: unknown[]): MarketOption[] {
  const out: MarketOption[] = [];
  for (const c of contracts) {
    if (typeof c !== 'object' || c === null) continue;
    const o = c as Record<string, unknown>;
    if (!OPTION_NUMBERS.every((k) => finite(o[k]))) continue;
    if (typeof o.expiry !== 'string' || (o.right !== 'C' && o.right !== 'P')) continue;
    if (o.tradingClass !== 'SPX' && o.tradingClass !== 'SPXW') continue;
    if (o.settlement !== 'AM' && o.settlement !== 'PM') continue;
    out.push({
      expiry: o.expiry,
      settlement: o.settlement,
      tradingClass: o.tradingClass,
      strike: o.strike as number,
      right: o.right,
      bid: o.bid as number,
      ask: o.ask as number,
      last: o.last as number,
      iv: o.iv as number,
      delta: o.delta as number,
      gamma: o.gamma as number,
      openInterest: o.openInterest as number,
      volume: o.volume as number,
    });
  }
  return out;
}

/** Splits records by topic, checking each payload the replay will use and the time order. */
export function recordingOf(records: Iterable<RecordLine>, name = 'recording'): Recording {
  const rec: Recording = { meta: [], trades: [], ticks: [], ticksRecordedAt: [], quotes: [], bars: [], barsKnownAt: [], barsRecordedAt: [], chains: [], sierraOrders: [], sierraFills: [], sierraCancels: [], from: NaN, to: NaN, other: 0 };
  let n = 0;
  let last = -Infinity;
  let version = 1;
  for (const r of records) {
    n++;
    const where = `${name} record ${n}`;
    if (r.t < last) refuse(where, `time ${new Date(r.t).toISOString()} is before the previous record's`);
    last = r.t;
    if (n === 1) rec.from = r.t;
    rec.to = r.t;
    const p = r.payload as Record<string, unknown>;
    switch (r.topic) {
      case 'meta':
        // A file appended to by a newer recorder may hold several meta records: each applies to what follows it.
        if (p.version !== undefined) {
          if (!(Number.isInteger(p.version) && (p.version as number) >= 1)) refuse(where, `meta.version must be a whole number >= 1, got ${JSON.stringify(p.version)}`);
          if ((p.version as number) > RECORDING_VERSION) refuse(where, `format version ${String(p.version)} is newer than this package reads (${RECORDING_VERSION}): update the package`);
          version = p.version as number;
        }
        rec.meta.push(p);
        break;
      case 'trade':
        checkFields(where, p, ['t', 'price', 'size', 'bid', 'ask']);
        if (p.side !== 'buy' && p.side !== 'sell') refuse(where, 'payload.side must be "buy" or "sell"');
        rec.trades.push(p as unknown as MarketTrade);
        break;
      case 'tick':
        checkFields(where, p, ['t', 'price', 'size']);
        if (typeof p.symbol !== 'string') refuse(where, 'payload.symbol must be a string');
        for (const k of ['bid', 'ask']) if (p[k] !== undefined && p[k] !== null && !finite(p[k])) refuse(where, `payload.${k} must be a number when present`);
        if (p.side !== undefined && p.side !== null && p.side !== 'buy' && p.side !== 'sell') refuse(where, 'payload.side must be "buy" or "sell" when present');
        rec.ticks.push(p as unknown as RecordedTick);
        rec.ticksRecordedAt.push(r.t);
        break;
      case 'quote':
        // Live quotes (ibkr-quote) may lack a figure (null); the replay uses the complete ones of its symbol.
        checkFields(where, p, ['t']);
        for (const k of ['last', 'bid', 'ask', 'bidSize', 'askSize', 'volume']) {
          if (p[k] !== null && p[k] !== undefined && !finite(p[k])) refuse(where, `payload.${k} must be a number or null`);
        }
        rec.quotes.push(p as unknown as MarketQuote & { symbol?: string });
        break;
      case 'bar':
        checkFields(where, p, ['t', 'o', 'h', 'l', 'c', 'v']);
        if (p.symbol !== undefined && typeof p.symbol !== 'string') refuse(where, 'payload.symbol must be a string when present');
        if (p.asOf !== undefined && !(finite(p.asOf) && p.asOf <= r.t)) refuse(where, `payload.asOf must be epoch ms at or before the record's t, got ${JSON.stringify(p.asOf)}`);
        rec.bars.push(p as unknown as MarketBar & { symbol?: string });
        rec.barsKnownAt.push(version >= 2 ? ((p.asOf as number | undefined) ?? r.t) : Math.max(r.t, (p.t as number) + MINUTE_MS));
        rec.barsRecordedAt.push(r.t);
        break;
      case 'chain':
        if (!finite(p.spot) || !(Array.isArray(p.options) || Array.isArray(p.contracts))) refuse(where, 'a chain payload is {spot, options: []} or {spot, contracts: []}');
        rec.chains.push({ t: r.t, snapshot: { spot: p.spot, options: Array.isArray(p.options) ? (p.options as MarketOption[]) : completeOptions(p.contracts as unknown[]) } });
        break;
      case 'sierra-order': {
        checkFields(where, p, ['t', 'n', 'quantity']);
        if (p.side !== 'buy' && p.side !== 'sell') refuse(where, 'payload.side must be "buy" or "sell"');
        if (!['market', 'limit', 'stop', 'stop-limit'].includes(p.type as string)) refuse(where, 'payload.type must be market, limit, stop or stop-limit');
        for (const k of ['price', 'stopPrice', 'last']) if (p[k] !== undefined && !finite(p[k])) refuse(where, `payload.${k} must be a number when present`);
        if (p.dataAt !== undefined && !(finite(p.dataAt) && (p.dataAt as number) <= (p.t as number))) refuse(where, "payload.dataAt must be epoch ms at or before the order's t when present");
        const b = p.bracket as { stop?: unknown; targets?: unknown } | undefined;
        if (b !== undefined && !(typeof b === 'object' && b !== null && finite(b.stop) && Array.isArray(b.targets) && b.targets.every(finite))) {
          refuse(where, 'payload.bracket must be {stop: number, targets: number[]} when present');
        }
        const previous = rec.sierraOrders[rec.sierraOrders.length - 1];
        if (previous && (p.n as number) <= previous.n) refuse(where, `payload.n must grow from one order to the next, got ${String(p.n)} after ${previous.n}`);
        rec.sierraOrders.push(p as unknown as RecordedOrder);
        break;
      }
      case 'sierra-fill':
        checkFields(where, p, ['t', 'n', 'leg', 'price', 'quantity']);
        if (!rec.sierraOrders.some((o) => o.n === p.n)) refuse(where, `payload.n ${String(p.n)} names no sierra-order recorded before it`);
        rec.sierraFills.push(p as unknown as RecordedFill);
        break;
      case 'sierra-cancel':
        checkFields(where, p, ['t', 'n', 'leg']);
        if (!rec.sierraOrders.some((o) => o.n === p.n)) refuse(where, `payload.n ${String(p.n)} names no sierra-order recorded before it`);
        rec.sierraCancels.push(p as unknown as RecordedCancel);
        break;
      default:
        rec.other++;
    }
  }
  return rec;
}

/** The records of a gzip JSON-lines buffer (several gzip members allowed). */
export function* recordLines(gzipped: Buffer, name = 'recording'): Generator<RecordLine> {
  let text: string;
  try {
    text = zlib.gunzipSync(gzipped).toString('utf8');
  } catch (err) {
    // A recorder killed mid-write leaves a truncated last member: keep what decompresses.
    text = gunzipPrefix(gzipped, name, err);
  }
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    // The last line of a truncated file may be cut: that one only is dropped, and only when it is the last.
    if (start >= text.length && !line.endsWith('}')) break;
    yield parseRecordLine(line, `${name} line ${lineNo}`);
  }
}

function gunzipPrefix(gzipped: Buffer, name: string, err: unknown): string {
  try {
    return zlib.gunzipSync(gzipped, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString('utf8');
  } catch {
    throw new InvalidInputError(`recording ${name}: not a gzip file (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Reads and checks a recording file. */
export function readRecording(file: string): Recording {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    throw new InvalidInputError(`recording ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return recordingOf(recordLines(data, file), file);
}

/** Encodes records as one gzip member (tests, converters). */
export function encodeRecording(records: Iterable<RecordLine>): Buffer {
  const lines: string[] = [];
  for (const r of records) lines.push(JSON.stringify(r));
  return zlib.gzipSync(lines.join('\n') + '\n');
}
