// DtcClient: one DTC connection to Sierra Chart's DTC Protocol Server (dtc-protocol.md), JSON over TCP or WebSocket.
// It owns the socket, the encoding handshake, logon, heartbeats both ways, reconnect with full-jitter capped backoff (../backoff.ts),
// RequestID correlation and batch assembly, and the trading gate: it is the only writer to the socket, so when
// trading is off no order-entry message (types 200-299) can leave the process, whoever asks.
//
// Events (all synchronous, in wire order):
//   'message'      (DtcMessage)        every decoded message, solicited or not
//   'logon'        (LogonInfo)         each successful logon, first and after a reconnect (`reconnected`)
//   'disconnected' (DisconnectInfo)    a session ended or an attempt failed; says whether and when it retries
//   'state'        (DtcClientState)
//   'error'        (MiaError)          only emitted when someone listens (never an unhandled 'error' crash)

import { EventEmitter } from 'events';
import net from 'net';
import WebSocket from 'ws';
import { Backoff } from '../backoff';
import type { MiaError } from '../errors';
import {
  DTC_PROTOCOL_VERSION,
  Encoding,
  LogonStatus,
  MessageType,
  messageTypeName,
  type AccountBalanceUpdate,
  type DtcMessage,
  type HistoricalOrderFillResponse,
  type LogonRequest,
  type LogonResponse,
  type MessageOf,
  type OrderUpdate as DtcOrderUpdate,
  type PositionUpdate,
  type SecurityDefinitionResponse,
} from './protocol';
import { DtcFrameDecoder, decodeTextFrame, encodeEncodingRequest, toJsonText } from './framing';
import { PriceScale } from './price-scale';
import {
  DtcConnectionError,
  DtcError,
  DtcLogonError,
  DtcNotConnectedError,
  DtcRequestRejectedError,
  DtcTimeoutError,
  TradingDisabledError,
} from './errors';

export type DtcTransport = 'tcp' | 'websocket';
/** 'automatic': the server's Encoding is Automatic, send the binary ENCODING_REQUEST first; 'json': fixed, skip it. */
export type DtcEncodingSetting = 'automatic' | 'json';
export type DtcClientState = 'idle' | 'connecting' | 'logged-on' | 'waiting-to-reconnect' | 'stopped';
export type DtcLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface DtcClientOptions {
  host?: string;
  port: number;
  transport?: DtcTransport;
  encoding?: DtcEncodingSetting;
  username?: string;
  password?: string;
  clientName?: string;
  /** HeartbeatIntervalInSeconds sent at logon; both sides send a HEARTBEAT this often. */
  heartbeatSec?: number;
  /** The connection is declared lost after this many intervals without hearing anything (§4.3: ~2). */
  heartbeatLossIntervals?: number;
  tradeAccount?: string;
  /** The trading switch: when false nothing that places, modifies or cancels an order is ever written. */
  tradingEnabled?: boolean;
  connectTimeoutMs?: number;
  /** §1: give up the encoding handshake if no ENCODING_RESPONSE arrives within ~20 s. */
  encodingTimeoutMs?: number;
  logonTimeoutMs?: number;
  requestTimeoutMs?: number;
  reconnect?: { enabled?: boolean; initialDelayMs?: number; maxDelayMs?: number };
  /** Jitter source, [0, 1). Tests pass a seeded one. */
  random?: () => number;
  log?: (level: DtcLogLevel, text: string) => void;
}

export interface LogonInfo {
  serverName: string;
  resultText: string;
  tradingSupported: boolean;
  ocoSupported: boolean;
  bracketSupported: boolean;
  cancelReplaceSupported: boolean;
  securityDefinitionsSupported: boolean;
  /** True for every logon after the first one of this client. */
  reconnected: boolean;
}

export interface DisconnectInfo {
  error: MiaError;
  willReconnect: boolean;
  retryInMs: number | null;
}

export interface TradeAccount {
  account: string;
  tradingDisabled: boolean;
}

export interface SecurityDefinition {
  symbol: string;
  description: string;
  /** In display prices (scaled); 0 when the server does not know the symbol (§2, observed). */
  minPriceIncrement: number;
  currencyValuePerIncrement: number;
  scale: PriceScale;
  raw: SecurityDefinitionResponse;
}

const DEFAULTS = {
  host: '127.0.0.1',
  transport: 'tcp' as DtcTransport,
  encoding: 'automatic' as DtcEncodingSetting,
  clientName: 'MIA_IA Node-RED',
  heartbeatSec: 10,
  heartbeatLossIntervals: 2,
  connectTimeoutMs: 10_000,
  encodingTimeoutMs: 20_000,
  logonTimeoutMs: 15_000,
  requestTimeoutMs: 15_000,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
};

/** Order entry is the 200-299 block of DTC message types (§2): submit, OCO, cancel, cancel-replace, flatten. */
export function isOrderEntryType(type: number): boolean {
  return type >= 200 && type < 300;
}

interface Waiter {
  type: number;
  resolve: (m: DtcMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** One open socket (TCP or WebSocket) and what is waiting on it. Replaced on every connection attempt. */
interface Link {
  write(bytes: Buffer | string): void;
  /** `graceful`: let what was written (a LOGOFF) reach the server first. */
  destroy(graceful?: boolean): void;
  expectBinary(): void;
  waiters: Set<Waiter>;
  closed: boolean;
}

interface BatchSpec {
  responseType: number;
  rejectType?: number;
  /** The No* flag that marks an empty answer (NoOrders, NoPositions, ...). */
  emptyFlag?: string;
  /** One response message, no batch fields (security definitions). */
  single?: boolean;
}

interface PendingRequest {
  spec: BatchSpec;
  items: DtcMessage[];
  resolve: (items: DtcMessage[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  name: string;
}

export class DtcClient extends EventEmitter {
  private readonly opts: Required<Omit<DtcClientOptions, 'username' | 'password' | 'tradeAccount' | 'reconnect' | 'log' | 'random'>> & {
    reconnectEnabled: boolean;
    initialDelayMs: number;
    maxDelayMs: number;
  };
  // Kept apart from opts so that no code path that logs or formats options can reach it.
  readonly #password: string | undefined;
  private readonly username: string | undefined;
  readonly tradeAccount: string | undefined;
  private tradingOn: boolean;
  private readonly logFn: (level: DtcLogLevel, text: string) => void;

  private currentState: DtcClientState = 'idle';
  private link: Link | null = null;
  private info: LogonInfo | null = null;
  private logons = 0;
  /** Full jitter above half the first delay: never an immediate reconnect, never above the cap (../backoff.ts). */
  private readonly reconnects: Backoff;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private lastHeardAt = 0;
  private failure: DtcError | null = null;
  private nextRequestId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  /** Callers of connect() waiting for the next logon or the next failed attempt. */
  private connectWaiters: Array<{ resolve: (i: LogonInfo) => void; reject: (e: Error) => void }> = [];

  constructor(options: DtcClientOptions) {
    super();
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
      throw new DtcConnectionError(`Sierra Chart DTC port ${options.port} is not valid: use the Listening Port of Sierra's DTC Protocol Server (commonly 11099).`);
    }
    const heartbeatSec = options.heartbeatSec ?? DEFAULTS.heartbeatSec;
    if (!(heartbeatSec > 0)) throw new DtcConnectionError(`Heartbeat interval ${heartbeatSec} s is not valid: use a whole number of seconds ≥ 1.`);
    this.opts = {
      host: options.host ?? DEFAULTS.host,
      port: options.port,
      transport: options.transport ?? DEFAULTS.transport,
      encoding: options.encoding ?? DEFAULTS.encoding,
      clientName: options.clientName ?? DEFAULTS.clientName,
      heartbeatSec,
      heartbeatLossIntervals: options.heartbeatLossIntervals ?? DEFAULTS.heartbeatLossIntervals,
      tradingEnabled: options.tradingEnabled ?? false,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      encodingTimeoutMs: options.encodingTimeoutMs ?? DEFAULTS.encodingTimeoutMs,
      logonTimeoutMs: options.logonTimeoutMs ?? DEFAULTS.logonTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      reconnectEnabled: options.reconnect?.enabled ?? true,
      initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULTS.initialDelayMs,
      maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULTS.maxDelayMs,
    };
    this.#password = options.password;
    this.username = options.username;
    this.tradeAccount = options.tradeAccount;
    this.tradingOn = this.opts.tradingEnabled;
    this.reconnects = new Backoff({
      baseMs: this.opts.initialDelayMs,
      capMs: Math.max(this.opts.maxDelayMs, this.opts.initialDelayMs),
      floorMs: this.opts.initialDelayMs / 2,
      random: options.random,
    });
    this.logFn = options.log ?? (() => undefined);
  }

  get state(): DtcClientState {
    return this.currentState;
  }

  get isLoggedOn(): boolean {
    return this.currentState === 'logged-on';
  }

  /** What the server said at the last logon; null before the first. */
  get logonInfo(): LogonInfo | null {
    return this.info;
  }

  get tradingEnabled(): boolean {
    return this.tradingOn;
  }

  /** Why the connection is down: the last failed attempt or lost session; null while logged on. */
  get lastFailure(): DtcError | null {
    return this.failure;
  }

  setTradingEnabled(enabled: boolean): void {
    this.tradingOn = enabled;
  }

  /**
   * Starts the connection and resolves at the first successful logon. If the first attempt fails the promise rejects
   * with the reason, and the client keeps retrying in the background (events tell) unless the failure forbids it
   * (ERROR_NO_RECONNECT, LOGOFF with DoNotReconnect) or reconnect is disabled. close() stops everything.
   */
  connect(): Promise<LogonInfo> {
    if (this.currentState === 'stopped') {
      return Promise.reject(new DtcNotConnectedError('This Sierra Chart connection was closed: create a new client to connect again.'));
    }
    if (this.currentState === 'logged-on' && this.info) return Promise.resolve(this.info);
    return new Promise<LogonInfo>((resolve, reject) => {
      this.connectWaiters.push({ resolve, reject });
      if (this.currentState === 'idle') void this.attempt();
    });
  }

  /** Sends LOGOFF (when logged on), then releases every socket and timer. Idempotent. */
  async close(reason = 'client closed'): Promise<void> {
    if (this.currentState === 'stopped') return;
    const link = this.link;
    if (link && this.currentState === 'logged-on') {
      try {
        this.writeMessage(link, { Type: MessageType.LOGOFF, Reason: reason, DoNotReconnect: 0 });
      } catch {
        // The socket is already gone: nothing to say goodbye to.
      }
    }
    this.stop(new DtcNotConnectedError(`Sierra Chart connection closed (${reason}).`));
    await new Promise<void>((r) => setImmediate(r));
  }

  /**
   * Writes messages in one piece, so nothing can come between them (a bracket's parent and its OCO, §3). Throws
   * DtcNotConnectedError when not logged on, TradingDisabledError for order entry while trading is off: in both
   * cases nothing at all is written.
   */
  send(...messages: DtcMessage[]): void {
    const link = this.link;
    if (!link || link.closed || this.currentState !== 'logged-on') {
      throw new DtcNotConnectedError('Not connected to Sierra Chart: the message was not sent. It reconnects by itself; try again once the status shows connected.');
    }
    for (const m of messages) {
      if (isOrderEntryType(m.Type)) this.assertTradingAllowed();
    }
    this.writeMessages(link, messages);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Requests (RequestID correlation and batch assembly)

  async tradeAccounts(): Promise<TradeAccount[]> {
    const items = await this.request({ Type: MessageType.TRADE_ACCOUNTS_REQUEST }, { responseType: MessageType.TRADE_ACCOUNT_RESPONSE });
    return (items as MessageOf<typeof MessageType.TRADE_ACCOUNT_RESPONSE>[])
      .filter((m) => m.TradeAccount)
      .map((m) => ({ account: m.TradeAccount ?? '', tradingDisabled: m.TradingIsDisabled === 1 }));
  }

  /** Every order the server holds for the account (RequestAllOrders 1), as ORDER_UPDATEs. */
  async openOrders(tradeAccount = this.tradeAccount): Promise<DtcOrderUpdate[]> {
    const items = await this.request(
      { Type: MessageType.OPEN_ORDERS_REQUEST, RequestAllOrders: 1, TradeAccount: tradeAccount },
      { responseType: MessageType.ORDER_UPDATE, rejectType: MessageType.OPEN_ORDERS_REJECT, emptyFlag: 'NoOrders' },
    );
    return items as DtcOrderUpdate[];
  }

  async positions(tradeAccount = this.tradeAccount): Promise<PositionUpdate[]> {
    const items = await this.request(
      { Type: MessageType.CURRENT_POSITIONS_REQUEST, TradeAccount: tradeAccount },
      { responseType: MessageType.POSITION_UPDATE, rejectType: MessageType.CURRENT_POSITIONS_REJECT, emptyFlag: 'NoPositions' },
    );
    return items as PositionUpdate[];
  }

  async balances(tradeAccount = this.tradeAccount): Promise<AccountBalanceUpdate[]> {
    const items = await this.request(
      { Type: MessageType.ACCOUNT_BALANCE_REQUEST, TradeAccount: tradeAccount },
      { responseType: MessageType.ACCOUNT_BALANCE_UPDATE, rejectType: MessageType.ACCOUNT_BALANCE_REJECT, emptyFlag: 'NoAccountBalances' },
    );
    return items as AccountBalanceUpdate[];
  }

  /** Fills of the last `numberOfDays` (§2: the server refuses an empty TradeAccount or 0 days). */
  async historicalFills(tradeAccount = this.tradeAccount, numberOfDays = 1): Promise<HistoricalOrderFillResponse[]> {
    const items = await this.request(
      { Type: MessageType.HISTORICAL_ORDER_FILLS_REQUEST, TradeAccount: tradeAccount, NumberOfDays: numberOfDays },
      { responseType: MessageType.HISTORICAL_ORDER_FILL_RESPONSE, rejectType: MessageType.HISTORICAL_ORDER_FILLS_REJECT, emptyFlag: 'NoOrderFills' },
    );
    return items as HistoricalOrderFillResponse[];
  }

  /** The symbol's definition and its price scale (DisplayPriceMultiplier, §3). */
  async securityDefinition(symbol: string, exchange = ''): Promise<SecurityDefinition> {
    const [raw] = (await this.request(
      { Type: MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST, Symbol: symbol, Exchange: exchange },
      { responseType: MessageType.SECURITY_DEFINITION_RESPONSE, rejectType: MessageType.SECURITY_DEFINITION_REJECT, single: true },
    )) as SecurityDefinitionResponse[];
    const scale = new PriceScale(raw.DisplayPriceMultiplier);
    return {
      symbol: raw.Symbol ?? symbol,
      description: raw.Description ?? '',
      minPriceIncrement: scale.fromWire(raw.MinPriceIncrement) ?? 0,
      currencyValuePerIncrement: raw.CurrencyValuePerIncrement ?? 0,
      scale,
      raw,
    };
  }

  /** Sends `message` with a fresh RequestID and collects its answer (one message or a whole batch). */
  request(message: DtcMessage & { RequestID?: number }, spec: BatchSpec): Promise<DtcMessage[]> {
    const link = this.link;
    if (!link || this.currentState !== 'logged-on') {
      return Promise.reject(new DtcNotConnectedError(`Not connected to Sierra Chart: ${messageTypeName(message.Type)} was not sent.`));
    }
    const requestId = this.nextRequestId++;
    const name = messageTypeName(message.Type);
    return new Promise<DtcMessage[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new DtcTimeoutError(`Sierra Chart did not answer ${name} within ${this.opts.requestTimeoutMs / 1000} s: the connection may be overloaded; it will be retried on the next reconnect.`));
      }, this.opts.requestTimeoutMs);
      this.pending.set(requestId, { spec, items: [], resolve, reject, timer, name });
      this.writeMessages(link, [{ ...message, RequestID: requestId } as DtcMessage]);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connection lifecycle

  private async attempt(): Promise<void> {
    this.reconnectTimer = null;
    this.setState('connecting');
    let link: Link | null = null;
    try {
      link = await this.openLink();
      if (this.currentState === 'stopped') {
        link.destroy();
        return;
      }
      if (this.opts.transport === 'tcp' && this.opts.encoding === 'automatic') {
        link.expectBinary();
        link.write(encodeEncodingRequest(Encoding.JSON));
        const answer = await this.waitFor(link, MessageType.ENCODING_RESPONSE, this.opts.encodingTimeoutMs,
          `Sierra Chart did not answer the encoding request within ${this.opts.encodingTimeoutMs / 1000} s: set Sierra's DTC Server Encoding to JSON and this connection's encoding to "JSON".`);
        const encoding = (answer as MessageOf<typeof MessageType.ENCODING_RESPONSE>).Encoding;
        if (encoding !== Encoding.JSON && encoding !== Encoding.JSON_COMPACT) {
          throw new DtcConnectionError(`Sierra Chart answered the encoding request with encoding ${encoding}, not JSON: set its DTC Server Encoding to Automatic or JSON.`);
        }
      }
      this.writeMessages(link, [this.logonRequest()]);
      const response = (await this.waitFor(link, MessageType.LOGON_RESPONSE, this.opts.logonTimeoutMs,
        `Sierra Chart did not answer the logon within ${this.opts.logonTimeoutMs / 1000} s: check that its DTC Protocol Server is enabled on this port.`)) as LogonResponse;
      this.checkLogon(response);
      this.onLoggedOn(link, response);
    } catch (err) {
      link?.destroy();
      this.onAttemptFailed(asDtcError(err));
    }
  }

  private logonRequest(): LogonRequest {
    // Integer_1 stays 0: bit 0x2 would switch the connection to Relay Server mode (§2).
    const request: LogonRequest = {
      Type: MessageType.LOGON_REQUEST,
      ProtocolVersion: DTC_PROTOCOL_VERSION,
      HeartbeatIntervalInSeconds: Math.max(1, Math.round(this.opts.heartbeatSec)),
      ClientName: this.opts.clientName,
      Integer_1: 0,
    };
    if (this.username) request.Username = this.username;
    if (this.#password) request.Password = this.#password;
    if (this.tradeAccount) request.TradeAccount = this.tradeAccount;
    return request;
  }

  private checkLogon(response: LogonResponse): void {
    if (response.Result === LogonStatus.SUCCESS) return;
    const text = response.ResultText ? `: "${response.ResultText}"` : '';
    if (response.Result === LogonStatus.ERROR_NO_RECONNECT) {
      throw new DtcLogonError(`Sierra Chart refused the logon and asked not to reconnect${text}. Check the username and password (your Sierra Chart account) and the DTC server's Require Authentication setting, then redeploy.`, false);
    }
    if (response.Result === LogonStatus.RECONNECT_NEW_ADDRESS) {
      throw new DtcLogonError(`Sierra Chart asked to reconnect to another address (${response.ReconnectAddress ?? 'none given'}), which this client does not follow: set that host in the connection settings.`, false);
    }
    throw new DtcLogonError(`Sierra Chart refused the logon${text}. Check the username and password (your Sierra Chart account) and that the DTC server allows this computer's IP.`, true);
  }

  private onLoggedOn(link: Link, response: LogonResponse): void {
    this.reconnects.reset();
    this.failure = null;
    this.info = {
      serverName: response.ServerName ?? '',
      resultText: response.ResultText ?? '',
      tradingSupported: response.TradingIsSupported === 1,
      ocoSupported: response.OCOOrdersSupported === 1,
      bracketSupported: response.BracketOrdersSupported === 1,
      cancelReplaceSupported: response.OrderCancelReplaceSupported === 1,
      securityDefinitionsSupported: response.SecurityDefinitionsSupported === 1,
      reconnected: this.logons > 0,
    };
    this.logons += 1;
    this.lastHeardAt = Date.now();
    this.startHeartbeats(link);
    this.setState('logged-on');
    this.log('info', `logged on to ${this.info.serverName || 'Sierra Chart'} at ${this.opts.host}:${this.opts.port} (${this.opts.transport})`);
    const info = this.info;
    for (const w of this.takeConnectWaiters()) w.resolve(info);
    this.emit('logon', info);
  }

  private onAttemptFailed(error: DtcError): void {
    if (this.currentState === 'stopped') return;
    this.failure = error;
    for (const w of this.takeConnectWaiters()) w.reject(error);
    const fatal = error instanceof DtcLogonError && !error.reconnectAllowed;
    this.scheduleReconnect(error, fatal);
  }

  /** The link of a logged-on session closed or was declared dead. */
  private onSessionLost(link: Link, error: DtcError, doNotReconnect = false): void {
    if (link !== this.link || this.currentState !== 'logged-on') return;
    this.failure = error;
    this.stopHeartbeats();
    this.failPending(error);
    link.destroy();
    this.log('warn', error.message);
    this.scheduleReconnect(error, doNotReconnect);
  }

  private scheduleReconnect(error: DtcError, fatal: boolean): void {
    this.link = null;
    if (fatal || !this.opts.reconnectEnabled) {
      this.emit('disconnected', { error, willReconnect: false, retryInMs: null } satisfies DisconnectInfo);
      this.emitError(error);
      this.stop(error);
      return;
    }
    const delay = this.reconnects.next();
    this.setState('waiting-to-reconnect');
    this.emit('disconnected', { error, willReconnect: true, retryInMs: delay } satisfies DisconnectInfo);
    this.emitError(error);
    this.reconnectTimer = setTimeout(() => void this.attempt(), delay);
  }

  private stop(error: DtcError): void {
    this.setState('stopped');
    this.stopHeartbeats();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.failPending(error);
    for (const w of this.takeConnectWaiters()) w.reject(error);
    const link = this.link;
    this.link = null;
    link?.destroy(true);
  }

  private takeConnectWaiters(): Array<{ resolve: (i: LogonInfo) => void; reject: (e: Error) => void }> {
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    return waiters;
  }

  private failPending(error: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.pending.clear();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Heartbeats (§4.3: both ways; silence for ~2 intervals means the connection is gone)

  private startHeartbeats(link: Link): void {
    this.stopHeartbeats();
    const intervalMs = this.opts.heartbeatSec * 1000;
    this.heartbeatTimer = setInterval(() => {
      if (link.closed) return;
      this.writeMessages(link, [{ Type: MessageType.HEARTBEAT, NumDroppedMessages: 0, CurrentDateTime: Math.floor(Date.now() / 1000) }]);
    }, intervalMs);
    const lossMs = intervalMs * this.opts.heartbeatLossIntervals;
    this.watchdogTimer = setInterval(() => {
      const silentMs = Date.now() - this.lastHeardAt;
      if (silentMs > lossMs) {
        this.onSessionLost(link, new DtcTimeoutError(`Nothing heard from Sierra Chart for ${(silentMs / 1000).toFixed(1)} s (heartbeat every ${this.opts.heartbeatSec} s): connection considered lost, reconnecting.`));
      }
    }, Math.max(50, intervalMs / 4));
  }

  private stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.heartbeatTimer = null;
    this.watchdogTimer = null;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Incoming messages

  private onMessage(link: Link, message: DtcMessage): void {
    if (link !== this.link) return;
    this.lastHeardAt = Date.now();
    for (const w of link.waiters) {
      if (w.type === message.Type) {
        link.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(message);
        return;
      }
    }
    if (message.Type === MessageType.LOGOFF) {
      const doNotReconnect = message.DoNotReconnect === 1;
      const why = message.Reason ? `: "${message.Reason}"` : '';
      this.onSessionLost(link, new DtcConnectionError(`Sierra Chart logged this connection off${why}.${doNotReconnect ? ' It asked not to reconnect: fix the cause and redeploy.' : ' Reconnecting.'}`), doNotReconnect);
      return;
    }
    if (this.currentState !== 'logged-on') return;
    this.emit('message', message);
    const requestId = (message as { RequestID?: number }).RequestID;
    if (requestId) this.collect(requestId, message);
  }

  private collect(requestId: number, message: DtcMessage): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    const { spec } = p;
    const record = message as unknown as Record<string, unknown>;
    if (spec.rejectType !== undefined && message.Type === spec.rejectType) {
      this.settle(requestId, p);
      const text = typeof record.RejectText === 'string' && record.RejectText ? `: "${record.RejectText}"` : '';
      p.reject(new DtcRequestRejectedError(`Sierra Chart refused ${p.name}${text}. Check the trade account in the connection settings.`));
      return;
    }
    if (message.Type !== spec.responseType) return;
    if (spec.emptyFlag && record[spec.emptyFlag] === 1) {
      this.settle(requestId, p);
      p.resolve(p.items);
      return;
    }
    p.items.push(message);
    const total = Number(record.TotalNumberMessages ?? record.TotalNumMessages ?? 1);
    const number = Number(record.MessageNumber ?? p.items.length);
    if (spec.single || number >= total) {
      this.settle(requestId, p);
      p.resolve(p.items);
    }
  }

  private settle(requestId: number, p: PendingRequest): void {
    clearTimeout(p.timer);
    this.pending.delete(requestId);
  }

  private waitFor(link: Link, type: number, timeoutMs: number, timeoutText: string): Promise<DtcMessage> {
    return new Promise<DtcMessage>((resolve, reject) => {
      const waiter: Waiter = {
        type,
        resolve,
        reject,
        timer: setTimeout(() => {
          link.waiters.delete(waiter);
          reject(new DtcTimeoutError(timeoutText));
        }, timeoutMs),
      };
      link.waiters.add(waiter);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Transports

  private openLink(): Promise<Link> {
    return this.opts.transport === 'websocket' ? this.openWebSocket() : this.openTcp();
  }

  private openTcp(): Promise<Link> {
    return new Promise<Link>((resolve, reject) => {
      const socket = net.connect({ host: this.opts.host, port: this.opts.port });
      socket.setNoDelay(true);
      const decoder = new DtcFrameDecoder({ onSkip: (s) => this.log('debug', `skipped a DTC frame (${s.reason}${s.type ? `, type ${s.type}` : ''})`) });
      const link: Link = {
        write: (bytes) => socket.write(bytes),
        destroy: (graceful) => {
          if (link.closed) return;
          link.closed = true;
          if (graceful) socket.destroySoon();
          else socket.destroy();
          this.rejectWaiters(link, new DtcConnectionError('The connection to Sierra Chart was closed.'));
        },
        expectBinary: () => decoder.expectBinaryMessage(),
        waiters: new Set(),
        closed: false,
      };
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DtcConnectionError(`No TCP connection to Sierra Chart at ${this.opts.host}:${this.opts.port} within ${this.opts.connectTimeoutMs / 1000} s: check the host, the port and the firewall.`));
      }, this.opts.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        this.link = link;
        resolve(link);
      });
      socket.on('data', (chunk: Buffer) => {
        for (const m of decoder.push(chunk)) this.onMessage(link, m);
      });
      socket.on('error', (err) => {
        if (!link.closed && this.link !== link) {
          clearTimeout(timer);
          reject(new DtcConnectionError(`Cannot connect to Sierra Chart at ${this.opts.host}:${this.opts.port} (${(err as NodeJS.ErrnoException).code ?? err.message}): check that Sierra Chart runs and its DTC Protocol Server is enabled on this port.`, { cause: err }));
        }
      });
      socket.on('close', () => this.onLinkClosed(link));
    });
  }

  private openWebSocket(): Promise<Link> {
    return new Promise<Link>((resolve, reject) => {
      const ws = new WebSocket(`ws://${this.opts.host}:${this.opts.port}`, { handshakeTimeout: this.opts.connectTimeoutMs });
      const link: Link = {
        // §1: every client frame ends with a NUL.
        write: (bytes) => ws.send(typeof bytes === 'string' ? bytes : bytes.toString('utf8')),
        destroy: () => {
          if (link.closed) return;
          link.closed = true;
          ws.terminate();
          this.rejectWaiters(link, new DtcConnectionError('The WebSocket connection to Sierra Chart was closed.'));
        },
        expectBinary: () => undefined, // §1: never an ENCODING_REQUEST on WebSocket
        waiters: new Set(),
        closed: false,
      };
      let opened = false;
      ws.once('open', () => {
        opened = true;
        this.link = link;
        resolve(link);
      });
      ws.on('message', (data: WebSocket.RawData) => {
        const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
        const messages = decodeTextFrame(text, (s) => this.log('debug', `skipped a DTC frame (${s.reason})`));
        for (const m of messages) this.onMessage(link, m);
      });
      ws.on('error', (err) => {
        if (!opened) {
          reject(new DtcConnectionError(`Cannot open a WebSocket to Sierra Chart at ws://${this.opts.host}:${this.opts.port} (${(err as NodeJS.ErrnoException).code ?? err.message}): check the host, the port and that Sierra Chart is v1798 or later.`, { cause: err }));
        }
      });
      ws.on('close', () => this.onLinkClosed(link));
    });
  }

  private onLinkClosed(link: Link): void {
    const wasCurrent = link === this.link;
    if (wasCurrent && this.currentState === 'logged-on') {
      this.onSessionLost(link, new DtcConnectionError('Sierra Chart closed the connection: reconnecting.'));
      return;
    }
    link.closed = true;
    this.rejectWaiters(link, new DtcConnectionError('Sierra Chart closed the connection before the logon completed: check its DTC server settings (allowed IPs, authentication, TLS).'));
  }

  private rejectWaiters(link: Link, error: Error): void {
    for (const w of link.waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    link.waiters.clear();
  }

  private writeMessages(link: Link, messages: DtcMessage[]): void {
    if (link.closed) throw new DtcNotConnectedError('The connection to Sierra Chart is closed: the message was not sent.');
    // WebSocket: JSON compact (heartbeats positional, trading messages named); TCP: plain JSON. NUL after each (§1).
    const compact = this.opts.transport === 'websocket';
    const text = messages.map((m) => `${toJsonText(m, { compact })}\0`).join('');
    link.write(compact ? text : Buffer.from(text, 'utf8'));
  }

  private writeMessage(link: Link, message: DtcMessage): void {
    this.writeMessages(link, [message]);
  }

  private assertTradingAllowed(): void {
    if (!this.tradingOn) {
      throw new TradingDisabledError('Trading is disabled in the Sierra Chart connection settings: no order, modify or cancel was sent. Turn "Trading" on in sierra-config to trade.');
    }
  }

  private setState(state: DtcClientState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit('state', state);
  }

  private emitError(error: DtcError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  private log(level: DtcLogLevel, text: string): void {
    this.logFn(level, text);
  }
}

function asDtcError(err: unknown): DtcError {
  if (err instanceof DtcError) return err;
  return new DtcConnectionError(`Sierra Chart connection failed: ${err instanceof Error ? err.message : String(err)}.`, { cause: err });
}
