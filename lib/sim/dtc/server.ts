// A Sierra Chart DTC server on loopback, as dtc-protocol.md §4 describes it: TCP with the binary encoding handshake
// then NUL-framed JSON, WebSocket (JSON compact) on the same port, logon, heartbeats both ways, trade accounts, open
// orders, positions, balances, fills, security definitions, and order entry against an AMP-like simulated account
// that fills on the seeded market's trades. Faults (dropped connections, silent heartbeats, lost or late answers)
// let the client's recovery paths be tested.

import net from 'net';
import type { IncomingMessage } from 'http';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MarketQuote, MarketTrade } from '../market-types';
import {
  DTC_PROTOCOL_VERSION,
  Encoding,
  LogonStatus,
  MessageType,
  OrderType,
  OrderUpdateReason,
  TimeInForce,
  OpenClose,
  BuySell,
  flag,
  toDtcSeconds,
  type CancelOrder,
  type CancelReplaceOrder,
  type DtcMessage,
  type HistoricalOrderFillsRequest,
  type LogonRequest,
  type OpenOrdersRequest,
  type SubmitFlattenPositionOrder,
  type SubmitNewOcoOrder,
  type SubmitNewSingleOrder,
} from '../../sierra/protocol';
import { findInstrument, instrument, type Instrument } from '../../trading/instruments';
import { parseSymbol } from '../../sierra/symbols';
import { DtcFrameDecoder, decodeTextFrame, encodeEncodingResponse, encodeMessages, toJsonText } from '../../sierra/framing';
import { OrderRefusal, SimAccount, type AccountEvent, type NewOrder, type ScriptedFill, type SimBalance, type SimFill, type SimOrder, type SimPosition } from './account';
import { UNSOLICITED, WirePrices, balanceUpdate, fillResponse, orderUpdate, positionUpdate, unknownOrderCancelReject } from './wire';

/**
 * What the simulator needs of the seeded market (lib/sim/market.ts): Pick<Market, 'on' | 'off' | 'esQuote' | 'now'>
 * without EventEmitter's `this` return type, so a small scripted market satisfies it too.
 */
export interface SimMarket {
  on(event: 'trade', listener: (trade: MarketTrade) => void): unknown;
  off(event: 'trade', listener: (trade: MarketTrade) => void): unknown;
  esQuote(): MarketQuote;
  now(): number;
}

export interface DtcSimulatorOptions {
  market: SimMarket;
  host?: string;
  /** 0 = an ephemeral port. */
  port?: number;
  /** 'automatic' expects the binary ENCODING_REQUEST first (Sierra's "Automatic"); 'json' is fixed JSON. */
  encoding?: 'automatic' | 'json';
  /** Sierra's "Require Authentication": the Sierra Chart account username and password. */
  requireAuthentication?: { username: string; password: string };
  /** The LOGON_RESPONSE Result for bad credentials: the protocol allows ERROR (2) or ERROR_NO_RECONNECT (3) (§2). Default 3. */
  credentialRefusal?: 'error' | 'error-no-reconnect';
  /** Sierra's "Allow Trading". Default true. */
  allowTrading?: boolean;
  /** What happens to orders when trading is not allowed (undocumented in Sierra: §4.2). Default 'reject'. */
  tradingDisabledBehaviour?: 'reject' | 'ignore';
  /** Default 'Sim1'. */
  account?: string;
  /**
   * The tradable symbol, e.g. 'ESZ25_FUT_CME', or a function of the market's time giving it (the front month, which
   * rolls); every other symbol is unknown, except one already traded.
   */
  symbol?: string | ((now: number) => string);
  /** Wire price = display price ÷ this (0.01: ES 4000.50 travels as 400050). Default 1. */
  displayPriceMultiplier?: number;
  /** Server heartbeat period; default: the interval the client asked for at logon. May be fractional (tests). */
  heartbeatSec?: number;
  /** Default $50,000. */
  startingBalance?: number;
  /** $ per point; ES $50. */
  pointValue?: number;
  /** Day margin per contract, $. Default 500 (AMP-like ES day margin). */
  marginPerContract?: number;
  /** $ per contract per side. Default 0. */
  commissionPerContract?: number;
  /** Send the optional PENDING_CANCEL / PENDING_CANCEL_REPLACE updates (§3). Default true. */
  pendingStatuses?: boolean;
  /** Called whenever order, position or balance news is written to the clients (lib/sim/order-path-gate.ts). */
  onAnswer?: () => void;
  /** New orders reached the simulator (an order, an OCO pair or a bracket), at market time t. */
  onOrderArrival?: (t: number, clientOrderIds: string[]) => void;
  /** The account filled an order. */
  onFill?: (fill: SimFill) => void;
}

export interface DtcSimulator {
  readonly port: number;
  readonly host: string;
  /** The market it fills against (its trades, its clock). */
  readonly market: SimMarket;
  close(): Promise<void>;
  /** Every order the account accepted, in ServerOrderID order (working, filled, canceled). */
  orders(): SimOrder[];
  positions(): SimPosition[];
  balance(): SimBalance;
  fills(): SimFill[];
  /** Logged-on connections now. */
  sessionCount(): number;
  /** Fault: closes every client connection at once (the account keeps its orders and positions). */
  dropConnections(): void;
  /** Fault: the server stops sending heartbeats (clients should give up after ~2 intervals). */
  stopHeartbeats(): void;
  resumeHeartbeats(): void;
  /** Fault: the next client message matching `predicate` (default: any but a heartbeat) is processed, its answer lost. */
  loseNextAnswer(predicate?: (message: DtcMessage) => boolean): void;
  /** Fault: every message the server sends is delayed by `ms` (0 restores), order kept. */
  delayAnswers(ms: number): void;
  /** Sierra's "Allow Trading" switch, live. */
  setTradingAllowed(allowed: boolean): void;
  /** Sends LOGOFF to every client, then closes them. */
  logoffAll(reason: string, doNotReconnect: boolean): void;
  /** Replay: the order with this ClientOrderID gets these recorded fills at their times (SimAccount.script). */
  script(clientOrderId: string, fills: readonly ScriptedFill[]): void;
  /** Replay: gives the scripted fills due by the market's time now. */
  fillDue(): void;
}

/** The contract a symbol spells, from the instrument registry; the simulated market is ES, so ES when unknown. */
function instrumentOf(symbol: string): Instrument {
  try {
    return findInstrument(parseSymbol(symbol).root) ?? instrument('ES');
  } catch {
    return instrument('ES');
  }
}
/** A client silent for this many of its own heartbeat intervals is dropped (§4.3: "~2 intervals"). */
const SILENT_INTERVALS_BEFORE_DROP = 2;
const MAX_HTTP_HEADER_BYTES = 16 * 1024;

interface Transport {
  send(messages: readonly DtcMessage[]): void;
  sendRaw?(bytes: Buffer): void;
  close(): void;
}

interface Session {
  transport: Transport;
  loggedOn: boolean;
  tradeAccount: string;
  clientHeartbeatMs: number;
  lastHeardAt: number;
  timers: NodeJS.Timeout[];
  /** §3: a parent order waits for the OCO that must immediately follow it. */
  pendingParent: SubmitNewSingleOrder | null;
}

export async function startDtcSimulator(options: DtcSimulatorOptions): Promise<DtcSimulator> {
  const simulator = new DtcSimulatorServer(options);
  await simulator.listen(options.host ?? '127.0.0.1', options.port ?? 0);
  return simulator;
}

class DtcSimulatorServer implements DtcSimulator {
  host = '127.0.0.1';
  port = 0;
  private readonly server = net.createServer((socket) => this.onConnection(socket));
  private readonly wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<Session>();
  private readonly account: SimAccount;
  private readonly prices: WirePrices;
  readonly market: SimMarket;
  private readonly symbolAt: (now: number) => string;
  private tradingAllowed: boolean;
  private heartbeatsStopped = false;
  private loseAnswerOf: ((message: DtcMessage) => boolean) | null = null;
  private losingAnswers = false;
  private answerDelayMs = 0;
  private readonly delayTimers = new Set<NodeJS.Timeout>();
  private fillsReported = 0;
  private readonly onTrade = (trade: MarketTrade): void => {
    this.broadcast(this.account.onTrade(trade));
  };

  constructor(private readonly options: DtcSimulatorOptions) {
    this.market = options.market;
    const symbol = options.symbol ?? 'ESZ25_FUT_CME';
    this.symbolAt = typeof symbol === 'function' ? symbol : () => symbol;
    this.tradingAllowed = options.allowTrading ?? true;
    this.prices = new WirePrices(options.displayPriceMultiplier ?? 1);
    this.account = new SimAccount({
      account: options.account ?? 'Sim1',
      symbol: () => this.symbolAt(this.market.now()),
      startingBalance: options.startingBalance ?? 50_000,
      pointValue: options.pointValue ?? instrumentOf(this.symbolAt(options.market.now())).pointValue,
      marginPerContract: options.marginPerContract ?? 500,
      commissionPerContract: options.commissionPerContract ?? 0,
      currency: 'USD',
    });
    this.market.on('trade', this.onTrade);
  }

  listen(host: string, port: number): Promise<void> {
    this.host = host;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        this.port = typeof address === 'object' && address ? address.port : port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.market.off('trade', this.onTrade);
    for (const timer of this.delayTimers) clearTimeout(timer);
    this.delayTimers.clear();
    for (const session of [...this.sessions]) this.endSession(session);
    for (const socket of this.sockets) socket.destroy();
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  orders(): SimOrder[] {
    return this.account.allOrders();
  }
  script(clientOrderId: string, fills: readonly ScriptedFill[]): void {
    this.account.script(clientOrderId, fills);
  }
  fillDue(): void {
    this.broadcast(this.account.fillDue(this.market.now()));
  }
  positions(): SimPosition[] {
    return this.account.positions();
  }
  balance(): SimBalance {
    return this.account.balance(this.market.now());
  }
  fills(): SimFill[] {
    return this.account.fills();
  }
  sessionCount(): number {
    return [...this.sessions].filter((s) => s.loggedOn).length;
  }
  dropConnections(): void {
    for (const session of [...this.sessions]) this.endSession(session);
    for (const socket of this.sockets) socket.destroy();
  }
  stopHeartbeats(): void {
    this.heartbeatsStopped = true;
  }
  resumeHeartbeats(): void {
    this.heartbeatsStopped = false;
  }
  loseNextAnswer(predicate?: (message: DtcMessage) => boolean): void {
    this.loseAnswerOf = predicate ?? ((m) => m.Type !== MessageType.HEARTBEAT);
  }
  delayAnswers(ms: number): void {
    this.answerDelayMs = Math.max(0, ms);
  }
  setTradingAllowed(allowed: boolean): void {
    this.tradingAllowed = allowed;
  }
  logoffAll(reason: string, doNotReconnect: boolean): void {
    for (const session of [...this.sessions]) {
      session.transport.send([{ Type: MessageType.LOGOFF, Reason: reason, DoNotReconnect: flag(doNotReconnect) }]);
      this.endSession(session);
    }
  }

  // ---- transports ---------------------------------------------------------------------------------------------

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      // §1: Sierra detects WebSocket on the DTC port by the HTTP upgrade request.
      if (first[0] === 0x47 /* 'G' of GET */) this.readHttpUpgrade(socket, first);
      else this.startTcpSession(socket, first);
      socket.resume();
    });
  }

  private startTcpSession(socket: net.Socket, first: Buffer): void {
    const automatic = (this.options.encoding ?? 'automatic') === 'automatic';
    let compact = false;
    const decoder = new DtcFrameDecoder();
    const transport: Transport = {
      send: (messages) => {
        if (!socket.destroyed) socket.write(encodeMessages(messages, { compact }));
      },
      sendRaw: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
      close: () => socket.end(),
    };
    const session = this.newSession(transport);
    socket.on('close', () => this.endSession(session));
    if (automatic) {
      if (first[0] === 0x7b /* '{' */) {
        socket.destroy(); // "Automatic expects the handshake" (§1): JSON without ENCODING_REQUEST is not understood
        return;
      }
      decoder.expectBinaryMessage();
    }
    const onData = (chunk: Buffer): void => {
      for (const message of decoder.push(chunk)) {
        if (message.Type === MessageType.ENCODING_REQUEST) {
          const wanted = message.Encoding === Encoding.JSON_COMPACT ? Encoding.JSON_COMPACT : Encoding.JSON;
          compact = wanted === Encoding.JSON_COMPACT;
          // Answered in the encoding in force when the request came: binary (§1).
          this.deliver(session, () => transport.sendRaw?.(encodeEncodingResponse(wanted)));
          continue;
        }
        this.onMessage(session, message);
      }
    };
    socket.on('data', onData);
    onData(first);
  }

  private readHttpUpgrade(socket: net.Socket, first: Buffer): void {
    let buffered = first;
    const tryUpgrade = (): void => {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buffered.length > MAX_HTTP_HEADER_BYTES) socket.destroy();
        return;
      }
      socket.off('data', onMore);
      const [requestLine, ...headerLines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const [method, url] = requestLine.split(' ');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const request = { method, url, headers, socket } as unknown as IncomingMessage;
      this.wss.handleUpgrade(request, socket, buffered.subarray(end + 4), (ws) => this.startWebSocketSession(ws));
    };
    const onMore = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      tryUpgrade();
    };
    socket.on('data', onMore);
    tryUpgrade();
  }

  /** §1: WebSocket is always JSON compact, no encoding handshake; a frame may hold several NUL-ended messages. */
  private startWebSocketSession(ws: WebSocket): void {
    const transport: Transport = {
      send: (messages) => {
        if (ws.readyState === ws.OPEN) ws.send(messages.map((m) => `${toJsonText(m, { compact: true })}\0`).join(''));
      },
      close: () => ws.close(),
    };
    const session = this.newSession(transport);
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : String(data);
      for (const message of decodeTextFrame(text)) this.onMessage(session, message);
    });
    ws.on('close', () => this.endSession(session));
    ws.on('error', () => ws.terminate());
  }

  private newSession(transport: Transport): Session {
    const session: Session = {
      transport,
      loggedOn: false,
      tradeAccount: '',
      clientHeartbeatMs: 0,
      lastHeardAt: Date.now(),
      timers: [],
      pendingParent: null,
    };
    this.sessions.add(session);
    return session;
  }

  private endSession(session: Session): void {
    for (const timer of session.timers) clearInterval(timer);
    session.timers = [];
    session.loggedOn = false;
    if (this.sessions.delete(session)) session.transport.close();
  }

  // ---- output: faults apply here, in one place --------------------------------------------------------------------

  private send(session: Session, messages: readonly DtcMessage[]): void {
    if (messages.length === 0) return;
    this.deliver(session, () => session.transport.send(messages));
  }

  private deliver(session: Session, write: () => void): void {
    if (this.losingAnswers) return;
    if (this.answerDelayMs === 0) {
      write();
      return;
    }
    const timer = setTimeout(() => {
      this.delayTimers.delete(timer);
      if (this.sessions.has(session)) write();
    }, this.answerDelayMs);
    this.delayTimers.add(timer);
  }

  /** Order, position and balance changes go to every logged-on client, unsolicited (RequestID 0). */
  private broadcast(events: readonly AccountEvent[]): void {
    if (events.length === 0) return;
    const messages = events.map((event) => this.eventMessage(event));
    this.options.onAnswer?.();
    if (this.options.onFill) {
      const fills = this.account.fills();
      for (; this.fillsReported < fills.length; this.fillsReported++) this.options.onFill(fills[this.fillsReported]);
    }
    for (const session of this.sessions) if (session.loggedOn) this.send(session, messages);
  }

  private eventMessage(event: AccountEvent): DtcMessage {
    switch (event.kind) {
      case 'order':
        return orderUpdate(event.order, event.reason, UNSOLICITED, this.prices, { previousClientOrderId: event.previousClientOrderId });
      case 'position':
        return positionUpdate(event.position, UNSOLICITED, this.prices, this.options.marginPerContract ?? 500);
      case 'balance':
        return balanceUpdate(event.balance, UNSOLICITED, !this.tradingAllowed);
    }
  }

  // ---- input ----------------------------------------------------------------------------------------------------

  private onMessage(session: Session, message: DtcMessage): void {
    session.lastHeardAt = Date.now();
    const lose = this.loseAnswerOf !== null && this.loseAnswerOf(message);
    if (lose) this.loseAnswerOf = null;
    this.losingAnswers = lose;
    try {
      this.dispatch(session, message);
    } finally {
      this.losingAnswers = false;
    }
  }

  private dispatch(session: Session, message: DtcMessage): void {
    if (message.Type === MessageType.HEARTBEAT) return;
    if (!session.loggedOn) {
      if (message.Type === MessageType.LOGON_REQUEST) this.logon(session, message);
      return; // nothing else is served before logon
    }
    if (session.pendingParent) {
      const parent = session.pendingParent;
      session.pendingParent = null;
      if (message.Type === MessageType.SUBMIT_NEW_OCO_ORDER && message.ParentTriggerClientOrderID === parent.ClientOrderID) {
        this.submitBracket(session, parent, message);
        return;
      }
      const order = this.newOrderOf(parent, session);
      this.broadcast([this.account.rejected(order, 'A parent order must be immediately followed by its OCO order', this.market.now())]);
    }
    const requestId = 'RequestID' in message && typeof message.RequestID === 'number' ? message.RequestID : 0;
    switch (message.Type) {
      case MessageType.LOGON_REQUEST:
        return; // already logged on
      case MessageType.LOGOFF:
        this.endSession(session);
        return;
      case MessageType.TRADE_ACCOUNTS_REQUEST:
        this.send(session, [
          {
            Type: MessageType.TRADE_ACCOUNT_RESPONSE,
            TotalNumberMessages: 1,
            MessageNumber: 1,
            TradeAccount: this.account.accountName,
            RequestID: requestId,
            TradingIsDisabled: flag(!this.tradingAllowed),
          },
        ]);
        return;
      case MessageType.OPEN_ORDERS_REQUEST:
        this.openOrders(session, message, requestId);
        return;
      case MessageType.CURRENT_POSITIONS_REQUEST:
        this.currentPositions(session, message.TradeAccount, requestId);
        return;
      case MessageType.ACCOUNT_BALANCE_REQUEST:
        this.accountBalance(session, message.TradeAccount, requestId);
        return;
      case MessageType.HISTORICAL_ORDER_FILLS_REQUEST:
        this.historicalFills(session, message, requestId);
        return;
      case MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST:
        this.securityDefinition(session, message.Symbol ?? '', message.Exchange ?? '', requestId);
        return;
      case MessageType.MARKET_DATA_REQUEST:
      case MessageType.MARKET_DEPTH_REQUEST:
        this.send(session, [
          {
            Type: message.Type === MessageType.MARKET_DATA_REQUEST ? MessageType.MARKET_DATA_REJECT : MessageType.MARKET_DEPTH_REJECT,
            SymbolID: typeof message.SymbolID === 'number' ? message.SymbolID : 0,
            RejectText: 'Market data for CME and other exchange-licensed data is not available to external DTC clients',
          },
        ]);
        return;
      case MessageType.SUBMIT_NEW_SINGLE_ORDER:
      case MessageType.SUBMIT_NEW_OCO_ORDER:
      case MessageType.CANCEL_ORDER:
      case MessageType.CANCEL_REPLACE_ORDER:
      case MessageType.SUBMIT_FLATTEN_POSITION_ORDER:
        this.trade(session, message);
        return;
      default:
        return; // §3: unknown or unsupported messages are ignored
    }
  }

  private logon(session: Session, request: LogonRequest): void {
    const refuse = (text: string, result: LogonStatus): void => {
      this.send(session, [{ Type: MessageType.LOGON_RESPONSE, ProtocolVersion: DTC_PROTOCOL_VERSION, Result: result, ResultText: text }]);
      this.deliver(session, () => this.endSession(session)); // §2: after Result 2/3 the server closes
    };
    const auth = this.options.requireAuthentication;
    if (auth && (request.Username !== auth.username || request.Password !== auth.password)) {
      refuse('Logon failed: invalid username or password', this.options.credentialRefusal === 'error' ? LogonStatus.ERROR : LogonStatus.ERROR_NO_RECONNECT);
      return;
    }
    const heartbeatSec = Number(request.HeartbeatIntervalInSeconds);
    if (!(heartbeatSec > 0)) {
      refuse('Logon failed: HeartbeatIntervalInSeconds is required', LogonStatus.ERROR);
      return;
    }
    if (request.TradeAccount && request.TradeAccount !== this.account.accountName) {
      refuse(`Logon failed: unknown trade account ${request.TradeAccount}`, LogonStatus.ERROR);
      return;
    }
    session.loggedOn = true;
    session.tradeAccount = request.TradeAccount ?? '';
    session.clientHeartbeatMs = heartbeatSec * 1000;
    session.lastHeardAt = Date.now();
    const trading = flag(this.tradingAllowed);
    this.send(session, [
      {
        Type: MessageType.LOGON_RESPONSE,
        ProtocolVersion: DTC_PROTOCOL_VERSION,
        Result: LogonStatus.SUCCESS,
        ResultText: 'Logon successful',
        ServerName: 'Sierra Chart DTC simulator',
        TradingIsSupported: trading,
        OCOOrdersSupported: trading,
        OrderCancelReplaceSupported: trading,
        SymbolExchangeDelimiter: '',
        SecurityDefinitionsSupported: 1,
        HistoricalPriceDataSupported: 0,
        MarketDepthIsSupported: 0,
        BracketOrdersSupported: trading,
        UsesMultiplePositionsPerSymbolAndTradeAccount: 0,
        MarketDataSupported: 0,
      },
    ]);
    const sendEveryMs = (this.options.heartbeatSec ?? heartbeatSec) * 1000;
    session.timers.push(
      setInterval(() => {
        if (!this.heartbeatsStopped) {
          this.send(session, [{ Type: MessageType.HEARTBEAT, NumDroppedMessages: 0, CurrentDateTime: toDtcSeconds(this.market.now()) }]);
        }
      }, sendEveryMs),
      setInterval(() => {
        if (Date.now() - session.lastHeardAt > SILENT_INTERVALS_BEFORE_DROP * session.clientHeartbeatMs) this.endSession(session);
      }, Math.max(20, session.clientHeartbeatMs / 4)),
    );
  }

  // ---- account queries --------------------------------------------------------------------------------------------

  /** Empty or another account's name: the error text, or null when `tradeAccount` is this account. */
  private accountRefusal(tradeAccount: string | undefined): string | null {
    if (!tradeAccount) return 'TradeAccount is required';
    return tradeAccount === this.account.accountName ? null : `Unknown trade account ${tradeAccount}`;
  }

  private openOrders(session: Session, request: OpenOrdersRequest, requestId: number): void {
    if (request.TradeAccount && request.TradeAccount !== this.account.accountName) {
      this.send(session, [{ Type: MessageType.OPEN_ORDERS_REJECT, RequestID: requestId, RejectText: `Unknown trade account ${request.TradeAccount}` }]);
      return;
    }
    let orders = this.account.workingOrders();
    if (request.ServerOrderID && request.RequestAllOrders !== 1) {
      const order = this.account.order(request.ServerOrderID);
      if (!order) {
        this.send(session, [{ Type: MessageType.OPEN_ORDERS_REJECT, RequestID: requestId, RejectText: `Order ${request.ServerOrderID} not found` }]);
        return;
      }
      orders = [order];
    }
    if (orders.length === 0) {
      this.send(session, [{ Type: MessageType.ORDER_UPDATE, RequestID: requestId, TotalNumMessages: 1, MessageNumber: 1, NoOrders: 1 }]);
      return;
    }
    this.send(
      session,
      orders.map((order, i) =>
        orderUpdate(order, OrderUpdateReason.OPEN_ORDERS_REQUEST_RESPONSE, { requestId, number: i + 1, total: orders.length }, this.prices),
      ),
    );
  }

  private currentPositions(session: Session, tradeAccount: string | undefined, requestId: number): void {
    const refusal = tradeAccount ? this.accountRefusal(tradeAccount) : null;
    if (refusal) {
      this.send(session, [{ Type: MessageType.CURRENT_POSITIONS_REJECT, RequestID: requestId, RejectText: refusal }]);
      return;
    }
    const positions = this.account.positions();
    if (positions.length === 0) {
      this.send(session, [{ Type: MessageType.POSITION_UPDATE, RequestID: requestId, TotalNumberMessages: 1, MessageNumber: 1, NoPositions: 1, Unsolicited: 0 }]);
      return;
    }
    const margin = this.options.marginPerContract ?? 500;
    this.send(
      session,
      positions.map((p, i) => positionUpdate(p, { requestId, number: i + 1, total: positions.length }, this.prices, margin)),
    );
  }

  private accountBalance(session: Session, tradeAccount: string | undefined, requestId: number): void {
    const refusal = tradeAccount ? this.accountRefusal(tradeAccount) : null;
    if (refusal) {
      this.send(session, [{ Type: MessageType.ACCOUNT_BALANCE_REJECT, RequestID: requestId, RejectText: refusal }]);
      return;
    }
    const balance = this.account.balance(this.market.now());
    this.send(session, [balanceUpdate(balance, { requestId, number: 1, total: 1 }, !this.tradingAllowed)]);
  }

  private historicalFills(session: Session, request: HistoricalOrderFillsRequest, requestId: number): void {
    const refusal =
      this.accountRefusal(request.TradeAccount) ??
      (!request.NumberOfDays && !request.StartDateTime ? 'NumberOfDays or StartDateTime is required' : null);
    if (refusal) {
      this.send(session, [{ Type: MessageType.HISTORICAL_ORDER_FILLS_REJECT, RequestID: requestId, RejectText: refusal }]);
      return;
    }
    const now = this.market.now();
    const since = request.StartDateTime ? request.StartDateTime * 1000 : now - (request.NumberOfDays ?? 0) * 86_400_000;
    const fills = this.account
      .fills()
      .filter((f) => f.t >= since && (!request.ServerOrderID || f.serverOrderId === request.ServerOrderID));
    if (fills.length === 0) {
      this.send(session, [
        { Type: MessageType.HISTORICAL_ORDER_FILL_RESPONSE, RequestID: requestId, TotalNumberMessages: 1, MessageNumber: 1, NoOrderFills: 1 },
      ]);
      return;
    }
    this.send(session, fills.map((f, i) => fillResponse(f, { requestId, number: i + 1, total: fills.length }, this.prices)));
  }

  /** §2 (observed): never rejected; an unknown symbol comes back with an empty Description and MinPriceIncrement 0. */
  private securityDefinition(session: Session, symbol: string, exchange: string, requestId: number): void {
    const known = this.account.knowsSymbol(symbol);
    const contract = instrumentOf(symbol);
    const multiplier = this.options.displayPriceMultiplier ?? 1;
    this.send(session, [
      {
        Type: MessageType.SECURITY_DEFINITION_RESPONSE,
        RequestID: requestId,
        Symbol: symbol,
        Exchange: exchange,
        SecurityType: known ? 1 : 0,
        Description: known ? `${contract.name} Futures` : '',
        MinPriceIncrement: known ? Number((contract.tickSize / multiplier).toPrecision(12)) : 0,
        PriceDisplayFormat: known ? 2 : -1,
        CurrencyValuePerIncrement: known ? contract.tickValue : 0,
        IsFinalMessage: 1,
        DisplayPriceMultiplier: known ? multiplier : 1,
        Currency: known ? 'USD' : '',
        ContractSize: known ? contract.pointValue : 0,
      },
    ]);
  }

  // ---- order entry ---------------------------------------------------------------------------------------------

  private trade(session: Session, message: SubmitNewSingleOrder | SubmitNewOcoOrder | CancelOrder | CancelReplaceOrder | SubmitFlattenPositionOrder): void {
    const now = this.market.now();
    if (!this.tradingAllowed) {
      if ((this.options.tradingDisabledBehaviour ?? 'reject') === 'ignore') return;
      this.broadcast(this.tradingDisabledRejects(session, message, now));
      return;
    }
    const quote = this.market.esQuote();
    const touch = { bid: quote.bid, ask: quote.ask };
    this.account.mark(quote.last);
    switch (message.Type) {
      case MessageType.SUBMIT_NEW_SINGLE_ORDER:
        if (message.IsParentOrder === 1) {
          session.pendingParent = message; // answered with its OCO (§3)
          return;
        }
        this.options.onOrderArrival?.(now, [message.ClientOrderID ?? '']);
        this.broadcast(this.account.submit(this.newOrderOf(message, session), touch, now));
        return;
      case MessageType.SUBMIT_NEW_OCO_ORDER: {
        if (message.ParentTriggerClientOrderID) {
          // An OCO naming a parent that is not the order just before it.
          const legs = this.ocoLegsOf(message, session);
          const text = `Parent order ${message.ParentTriggerClientOrderID} was not the order immediately before this OCO`;
          this.broadcast(legs.legs.map((leg) => this.account.rejected(leg, text, now)));
          return;
        }
        this.options.onOrderArrival?.(now, [message.ClientOrderID_1 ?? '', message.ClientOrderID_2 ?? '']);
        this.broadcast(this.account.submitOco(this.ocoLegsOf(message, session), touch, now));
        return;
      }
      case MessageType.CANCEL_ORDER: {
        const result = this.account.cancel(message.ServerOrderID ?? '', now, { pendingStatus: this.options.pendingStatuses ?? true });
        if (result instanceof OrderRefusal) this.broadcast(this.refusalMessage(message, result, OrderUpdateReason.ORDER_CANCEL_REJECTED));
        else this.broadcast(result);
        return;
      }
      case MessageType.CANCEL_REPLACE_ORDER: {
        const price1IsSet = message.Price1IsSet !== 0;
        const price2IsSet = message.Price2IsSet !== 0;
        const result = this.account.cancelReplace(
          message.ServerOrderID ?? '',
          {
            price1: price1IsSet ? this.prices.fromWire(message.Price1) : null,
            price2: price2IsSet ? this.prices.fromWire(message.Price2) : null,
            quantity: Number(message.Quantity ?? 0),
            timeInForce: message.TimeInForce ? message.TimeInForce : null,
          },
          touch,
          now,
          { pendingStatus: this.options.pendingStatuses ?? true },
        );
        if (result instanceof OrderRefusal) this.broadcast(this.refusalMessage(message, result, OrderUpdateReason.ORDER_CANCEL_REPLACE_REJECTED));
        else this.broadcast(result);
        return;
      }
      case MessageType.SUBMIT_FLATTEN_POSITION_ORDER:
        this.broadcast(
          this.account.flatten(
            {
              clientOrderId: message.ClientOrderID ?? '',
              symbol: message.Symbol ?? '',
              account: message.TradeAccount || session.tradeAccount || this.account.accountName,
              freeFormText: message.FreeFormText ?? '',
            },
            touch,
            now,
          ),
        );
        return;
    }
  }

  private submitBracket(session: Session, parent: SubmitNewSingleOrder, oco: SubmitNewOcoOrder): void {
    const now = this.market.now();
    const quote = this.market.esQuote();
    this.account.mark(quote.last);
    const parentOrder = this.newOrderOf(parent, session);
    const legs = this.ocoLegsOf(oco, session);
    this.options.onOrderArrival?.(now, [parentOrder.clientOrderId, ...legs.legs.map((l) => l.clientOrderId)]);
    this.broadcast(this.account.submitBracket(parentOrder, legs, { bid: quote.bid, ask: quote.ask }, now));
  }

  /**
   * A cancel or modify refusal as an ORDER_UPDATE (§2: there is no separate reject message). An order the server
   * never issued: status REJECTED with an empty ServerOrderID; a known order: its current status (§4.5).
   */
  private refusalMessage(
    request: CancelOrder | CancelReplaceOrder,
    refusal: OrderRefusal,
    reason: typeof OrderUpdateReason.ORDER_CANCEL_REJECTED | typeof OrderUpdateReason.ORDER_CANCEL_REPLACE_REJECTED,
  ): AccountEvent[] {
    if (refusal.order) return [{ kind: 'order', order: { ...refusal.order, infoText: refusal.infoText }, reason }];
    const reject = unknownOrderCancelReject(request, reason, refusal.infoText);
    this.options.onAnswer?.();
    for (const session of this.sessions) if (session.loggedOn) this.send(session, [reject]);
    return [];
  }

  private tradingDisabledRejects(
    session: Session,
    message: SubmitNewSingleOrder | SubmitNewOcoOrder | CancelOrder | CancelReplaceOrder | SubmitFlattenPositionOrder,
    now: number,
  ): AccountEvent[] {
    const text = 'Trading is disabled: enable Allow Trading in Sierra Chart’s DTC Protocol Server settings';
    switch (message.Type) {
      case MessageType.SUBMIT_NEW_SINGLE_ORDER:
        return [this.account.rejected(this.newOrderOf(message, session), text, now)];
      case MessageType.SUBMIT_NEW_OCO_ORDER:
        return this.ocoLegsOf(message, session).legs.map((leg) => this.account.rejected(leg, text, now));
      case MessageType.SUBMIT_FLATTEN_POSITION_ORDER:
        return [
          this.account.rejected(
            {
              ...this.newOrderOf({ Type: MessageType.SUBMIT_NEW_SINGLE_ORDER, ClientOrderID: message.ClientOrderID, Symbol: message.Symbol }, session),
              orderType: OrderType.MARKET,
            },
            text,
            now,
          ),
        ];
      case MessageType.CANCEL_ORDER:
      case MessageType.CANCEL_REPLACE_ORDER: {
        const reason = message.Type === MessageType.CANCEL_ORDER ? OrderUpdateReason.ORDER_CANCEL_REJECTED : OrderUpdateReason.ORDER_CANCEL_REPLACE_REJECTED;
        const order = this.account.order(message.ServerOrderID ?? '');
        return this.refusalMessage(message, new OrderRefusal(text, order), reason);
      }
    }
  }

  private newOrderOf(message: SubmitNewSingleOrder, session: Session | undefined): NewOrder {
    return {
      clientOrderId: message.ClientOrderID ?? '',
      symbol: message.Symbol ?? '',
      account: message.TradeAccount || session?.tradeAccount || this.account.accountName,
      orderType: message.OrderType ?? OrderType.UNSET,
      side: message.BuySell ?? BuySell.UNSET,
      price1: this.prices.fromWire(message.Price1),
      price2: this.prices.fromWire(message.Price2),
      quantity: Number(message.Quantity ?? 0),
      timeInForce: message.TimeInForce ?? TimeInForce.DAY,
      freeFormText: message.FreeFormText ?? '',
      openOrClose: message.OpenOrClose ?? OpenClose.UNSET,
    };
  }

  private ocoLegsOf(message: SubmitNewOcoOrder, session: Session | undefined): { legs: [NewOrder, NewOrder]; partialFillHandling: NonNullable<SubmitNewOcoOrder['PartialFillHandling']> } {
    const leg = (n: 1 | 2): NewOrder =>
      this.newOrderOf(
        {
          Type: MessageType.SUBMIT_NEW_SINGLE_ORDER,
          Symbol: message.Symbol,
          TradeAccount: message.TradeAccount,
          ClientOrderID: n === 1 ? message.ClientOrderID_1 : message.ClientOrderID_2,
          OrderType: n === 1 ? message.OrderType_1 : message.OrderType_2,
          BuySell: n === 1 ? message.BuySell_1 : message.BuySell_2,
          Price1: n === 1 ? message.Price1_1 : message.Price1_2,
          Price2: n === 1 ? message.Price2_1 : message.Price2_2,
          Quantity: n === 1 ? message.Quantity_1 : message.Quantity_2,
          TimeInForce: message.TimeInForce,
          FreeFormText: message.FreeFormText,
          OpenOrClose: message.OpenOrClose,
        },
        session,
      );
    return { legs: [leg(1), leg(2)], partialFillHandling: message.PartialFillHandling ?? 0 };
  }
}
