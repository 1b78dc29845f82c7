// DTC framing (dtc-protocol.md §1): one JSON object per message, each followed by one NUL byte; JSON compact turns
// HEARTBEAT and market data into {"Type":N,"F":[...]} with values in struct order; the encoding handshake
// (ENCODING_REQUEST / ENCODING_RESPONSE) is always binary: uint16 Size (incl. header), uint16 Type, little-endian.

import {
  DTC_PROTOCOL_VERSION,
  Encoding,
  MessageType,
  isKnownMessageType,
  type DtcMessage,
  type EncodingRequest,
  type EncodingResponse,
} from './protocol';

const NUL = 0x00;

/** Struct field order of the messages JSON compact encodes positionally (DTCProtocol.h v8). */
export const COMPACT_FIELDS: ReadonlyMap<number, readonly string[]> = new Map<number, readonly string[]>([
  [MessageType.HEARTBEAT, ['NumDroppedMessages', 'CurrentDateTime']],
  [
    MessageType.MARKET_DATA_SNAPSHOT,
    [
      'SymbolID',
      'SessionSettlementPrice',
      'SessionOpenPrice',
      'SessionHighPrice',
      'SessionLowPrice',
      'SessionVolume',
      'SessionNumTrades',
      'OpenInterest',
      'BidPrice',
      'AskPrice',
      'AskQuantity',
      'BidQuantity',
      'LastTradePrice',
      'LastTradeVolume',
      'LastTradeDateTime',
      'BidAskDateTime',
      'SessionSettlementDateTime',
      'TradingSessionDate',
      'TradingStatus',
      'MarketDepthUpdateDateTime',
    ],
  ],
  [MessageType.MARKET_DATA_UPDATE_TRADE, ['SymbolID', 'AtBidOrAsk', 'Price', 'Volume', 'DateTime']],
  [MessageType.MARKET_DATA_UPDATE_BID_ASK, ['SymbolID', 'BidPrice', 'BidQuantity', 'AskPrice', 'AskQuantity', 'DateTime']],
  [MessageType.MARKET_DATA_UPDATE_TRADE_COMPACT, ['Price', 'Volume', 'DateTime', 'SymbolID', 'AtBidOrAsk']],
  [MessageType.MARKET_DATA_UPDATE_BID_ASK_COMPACT, ['BidPrice', 'BidQuantity', 'AskPrice', 'AskQuantity', 'DateTime', 'SymbolID']],
]);

/** Why the decoder dropped a frame: reported, never thrown. */
export interface SkippedFrame {
  reason: 'invalid-json' | 'not-a-message' | 'unknown-type' | 'oversized' | 'bad-binary' | 'invalid-field';
  /** The first bytes of the frame, for a log line (never the whole frame: it may hold a password). */
  excerpt: string;
  type?: number;
}

export interface DecoderOptions {
  /** Called for each dropped frame. */
  onSkip?: (skipped: SkippedFrame) => void;
  /** A frame without NUL longer than this is garbage and dropped (protects memory). Default 1 MiB. */
  maxFrameBytes?: number;
}

const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
const BINARY_HEADER_BYTES = 4;
const EXCERPT_CHARS = 40;

/**
 * Turns a byte stream into DTC messages. Handles frames split across reads and several frames in one read; skips
 * garbage, non-objects and unknown message types without throwing (§3); expands JSON compact frames into named fields.
 * Call `expectBinaryMessage()` before the peer's binary ENCODING_REQUEST / ENCODING_RESPONSE is due: the next
 * message is then read as binary (its bytes contain NULs), and JSON decoding resumes right after it in the same read.
 */
export class DtcFrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private binaryExpected = 0;
  private readonly onSkip: (skipped: SkippedFrame) => void;
  private readonly maxFrameBytes: number;

  constructor(options: DecoderOptions = {}) {
    this.onSkip = options.onSkip ?? (() => undefined);
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Reads the next message as a binary DTC message (the encoding handshake). */
  expectBinaryMessage(): void {
    this.binaryExpected += 1;
  }

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Feeds one read; returns the complete messages it finished, in order. */
  push(chunk: Buffer | string): DtcMessage[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const messages: DtcMessage[] = [];
    let start = 0;
    for (;;) {
      if (this.binaryExpected > 0) {
        if (this.pending.length - start < BINARY_HEADER_BYTES) break;
        const size = this.pending.readUInt16LE(start);
        if (size < BINARY_HEADER_BYTES) {
          this.onSkip({ reason: 'bad-binary', excerpt: this.pending.subarray(start, start + 16).toString('hex') });
          this.binaryExpected -= 1;
          continue;
        }
        if (this.pending.length - start < size) break;
        const frame = this.pending.subarray(start, start + size);
        start += size;
        this.binaryExpected -= 1;
        const message = decodeBinaryEncodingMessage(frame);
        if (message) messages.push(message);
        else this.onSkip({ reason: 'bad-binary', excerpt: frame.toString('hex'), type: frame.readUInt16LE(2) });
        continue;
      }
      const end = this.pending.indexOf(NUL, start);
      if (end < 0) break;
      const frame = this.pending.subarray(start, end);
      start = end + 1;
      if (frame.length === 0) continue;
      const message = this.decodeJsonFrame(frame.toString('utf8'));
      if (message) messages.push(message);
    }
    this.pending = start === 0 ? this.pending : this.pending.subarray(start);
    if (this.pending.length > this.maxFrameBytes && this.binaryExpected === 0) {
      this.onSkip({ reason: 'oversized', excerpt: excerpt(this.pending.subarray(0, EXCERPT_CHARS).toString('utf8')) });
      this.pending = Buffer.alloc(0);
    }
    return messages;
  }

  /** Forgets any partial frame (after a reconnect). */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.binaryExpected = 0;
  }

  private decodeJsonFrame(text: string): DtcMessage | null {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.onSkip({ reason: 'invalid-json', excerpt: excerpt(text) });
      return null;
    }
    const message = fromJsonValue(parsed);
    if (message === 'not-a-message') this.onSkip({ reason: 'not-a-message', excerpt: excerpt(text) });
    else if (message === 'invalid-field') this.onSkip({ reason: 'invalid-field', excerpt: excerpt(text) });
    else if (typeof message === 'number') this.onSkip({ reason: 'unknown-type', excerpt: excerpt(text), type: message });
    else return message;
    return null;
  }
}

/**
 * Decodes one parsed JSON value (e.g. one NUL-separated part of a WebSocket text frame) into a message, expanding
 * the compact form. Returns the unknown type number, or 'not-a-message' for anything without a numeric Type.
 */
export function fromJsonValue(value: unknown): DtcMessage | number | 'not-a-message' | 'invalid-field' {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not-a-message';
  const record = value as Record<string, unknown>;
  const type = record.Type;
  if (typeof type !== 'number' || !Number.isInteger(type)) return 'not-a-message';
  if (!isKnownMessageType(type)) return type;
  const positional = record.F;
  const names = COMPACT_FIELDS.get(type);
  if (Array.isArray(positional) && names) {
    const expanded: Record<string, unknown> = { Type: type };
    names.forEach((name, i) => {
      if (i < positional.length) expanded[name] = positional[i];
    });
    return hasInvalidField(expanded) ? 'invalid-field' : (expanded as unknown as DtcMessage);
  }
  return hasInvalidField(record) ? 'invalid-field' : (record as unknown as DtcMessage);
}

/** The DTC fields that are text (DTCProtocol.h char arrays); every other field is a number (§1: flags are 0/1). */
const TEXT_FIELDS: ReadonlySet<string> = new Set([
  'AccountCurrency', 'ClientName', 'ClientOrderID', 'ClientOrderID_1', 'ClientOrderID_2', 'Currency', 'Description', 'Exchange',
  'ExchangeOrderID', 'ExchangeSymbol', 'FreeFormText', 'GeneralTextData', 'HardwareIdentifier', 'InfoText', 'LastFillExecutionID',
  'MessageText', 'OCOLinkedOrderServerOrderID', 'ParentServerOrderID', 'ParentTriggerClientOrderID', 'Password', 'PositionIdentifier',
  'PreviousClientOrderID', 'PreviousServerOrderID', 'ProtocolType', 'Reason', 'ReconnectAddress', 'RejectText', 'ResultText',
  'SenderSubID', 'ServerName', 'ServerOrderID', 'Symbol', 'SymbolExchangeDelimiter', 'TradeAccount', 'UnderlyingSymbol',
  'UniqueExecutionID', 'UserMessage', 'Username',
]);

/**
 * A message whose field has the wrong JSON type (a text where DTC has a number, an object, an array, null, a boolean,
 * a number beyond double range): the whole message is dropped, never half-read. The code after the decoder trusts
 * these types; a broken or hostile server must not be able to throw inside the socket's data handler (that ends the
 * process) or have a quantity "5" read as text.
 */
function hasInvalidField(record: Record<string, unknown>): boolean {
  for (const [name, v] of Object.entries(record)) {
    if (TEXT_FIELDS.has(name)) {
      if (typeof v !== 'string') return true;
    } else if (typeof v !== 'number' || !Number.isFinite(v)) {
      // An unlisted text field of a newer protocol version is still text: allowed, and ignored by the code.
      if (!(typeof v === 'string' && !/^(Type|F)$/.test(name) && !KNOWN_NUMBER_FIELD.test(name))) return true;
    }
  }
  return false;
}

/** Fields this package reads as numbers: a text there is refused even though the name is not in TEXT_FIELDS. */
const KNOWN_NUMBER_FIELD = /(ID|Quantity|Price\d?(_\d)?|Status|Reason|Type(_\d)?|BuySell(_\d)?|Messages|MessageNumber|No[A-Z][A-Za-z]+|Balance|Value|Requirement|ProfitLoss|DateTime|Supported|Disabled|Unsolicited|Result|Increment|Multiplier|Encoding|ProtocolVersion|Flag|IsSet|Limit|Reached|Interval|InSeconds|Integer_\d|TimeInForce)$/;

/** Decodes every NUL-separated message of one WebSocket text frame (§1: a frame may hold several). */
export function decodeTextFrame(text: string, onSkip?: (skipped: SkippedFrame) => void): DtcMessage[] {
  const decoder = new DtcFrameDecoder({ onSkip });
  return decoder.push(text.endsWith('\0') ? text : `${text}\0`);
}

export interface EncodeOptions {
  /** JSON compact: HEARTBEAT and market data become {"Type":N,"F":[...]}; trading messages stay named. */
  compact?: boolean;
}

/** One message as JSON text (no NUL). Undefined fields are omitted: "unset fields may be omitted" (§1). */
export function toJsonText(message: DtcMessage, options: EncodeOptions = {}): string {
  const names = options.compact ? COMPACT_FIELDS.get(message.Type) : undefined;
  if (!names) return JSON.stringify(message);
  const record = message as unknown as Record<string, unknown>;
  const values = names.map((name) => record[name] ?? 0);
  return JSON.stringify({ Type: message.Type, F: values });
}

/** One message as a NUL-terminated JSON frame, ready for a TCP socket or a WebSocket frame. */
export function encodeMessage(message: DtcMessage, options: EncodeOptions = {}): Buffer {
  return Buffer.from(`${toJsonText(message, options)}\0`, 'utf8');
}

/** Several messages in one buffer (what a server batching a response writes). */
export function encodeMessages(messages: readonly DtcMessage[], options: EncodeOptions = {}): Buffer {
  return Buffer.from(messages.map((m) => `${toJsonText(m, options)}\0`).join(''), 'utf8');
}

// ---------------------------------------------------------------------------------------------------------------
// Binary encoding handshake: Size u16, Type u16, ProtocolVersion i32, Encoding i32, ProtocolType char[4] = 16 bytes.

export const ENCODING_MESSAGE_BYTES = 16;

function encodeBinaryEncodingMessage(type: 6 | 7, encoding: Encoding): Buffer {
  const buf = Buffer.alloc(ENCODING_MESSAGE_BYTES);
  buf.writeUInt16LE(ENCODING_MESSAGE_BYTES, 0);
  buf.writeUInt16LE(type, 2);
  buf.writeInt32LE(DTC_PROTOCOL_VERSION, 4);
  buf.writeInt32LE(encoding, 8);
  buf.write('DTC', 12, 'latin1'); // byte 15 stays NUL: C string terminator
  return buf;
}

/** The client's ENCODING_REQUEST: `10 00 06 00 08 00 00 00 02 00 00 00 44 54 43 00` for JSON (§1). */
export function encodeEncodingRequest(encoding: Encoding = Encoding.JSON): Buffer {
  return encodeBinaryEncodingMessage(MessageType.ENCODING_REQUEST, encoding);
}

/** The server's ENCODING_RESPONSE, binary like the request. */
export function encodeEncodingResponse(encoding: Encoding = Encoding.JSON): Buffer {
  return encodeBinaryEncodingMessage(MessageType.ENCODING_RESPONSE, encoding);
}

/** Reads a binary ENCODING_REQUEST / ENCODING_RESPONSE; null when `frame` is not one. */
export function decodeBinaryEncodingMessage(frame: Buffer): EncodingRequest | EncodingResponse | null {
  if (frame.length < 12) return null;
  const size = frame.readUInt16LE(0);
  const type = frame.readUInt16LE(2);
  if (size > frame.length || (type !== MessageType.ENCODING_REQUEST && type !== MessageType.ENCODING_RESPONSE)) {
    return null;
  }
  const protocolTypeBytes = frame.subarray(12, Math.min(size, 16));
  const nul = protocolTypeBytes.indexOf(NUL);
  return {
    Type: type,
    ProtocolVersion: frame.readInt32LE(4),
    Encoding: frame.readInt32LE(8) as Encoding,
    ProtocolType: protocolTypeBytes.subarray(0, nul < 0 ? protocolTypeBytes.length : nul).toString('latin1'),
  };
}

function excerpt(text: string): string {
  const redacted = text.replace(/("Password"\s*:\s*")[^"]*"?/g, '$1***"');
  return redacted.length > EXCERPT_CHARS ? `${redacted.slice(0, EXCERPT_CHARS)}…` : redacted;
}
