// A scriptable DTC server on 127.0.0.1 for adversarial tests: JSON encoding (no handshake), logs every client on,
// answers the reconciliation requests (accounts, open orders, fills, positions, balances) with what the test put in
// `book`, and RECORDS EVERY MESSAGE THAT LEAVES THE PROCESS under test. Order entry is answered by `onOrder` (default:
// accepted, working). The test can push anything at the client (`push`, `pushRaw`), including malformed frames.
import net from 'net';
import helper from 'node-red-node-test-helper';
import { DtcFrameDecoder, encodeMessages } from '../../../lib/sierra/framing';
import { MessageType, OrderStatus, OrderUpdateReason, type DtcMessage } from '../../../lib/sierra/protocol';
import { trapCrashes, type CrashTrap } from '../../support/crash-trap';

export type Raw = Record<string, unknown> & { Type: number };

export interface HostileBook {
  account: string;
  openOrders: Raw[];
  fills: Raw[];
  positions: Raw[];
  balance: Raw | null;
}

export interface HostileDtc {
  port: number;
  /** Every message the client wrote, decoded, in order. */
  received: Raw[];
  /** Order entry messages only (new single, OCO, cancel, cancel-replace, flatten). */
  orderEntries(): Raw[];
  book: HostileBook;
  /** Answers an order-entry message; returns the messages to send back (default: accepted and working). */
  onOrder: (m: Raw, server: HostileDtc) => Raw[];
  /** Pushes messages to every connected client (JSON + NUL). */
  push(...messages: Raw[]): void;
  /** Writes raw bytes to every connected client. */
  pushRaw(bytes: Buffer | string): void;
  /** Ends every client socket (the client reconnects). */
  dropConnections(): void;
  sessions(): number;
  /** Answers a SECURITY_DEFINITION_FOR_SYMBOL_REQUEST (only asked when started with securityDefinitions). */
  onDefinition: (m: Raw, server: HostileDtc) => Raw[];
  /** Stop answering heartbeats and everything else (a frozen server). */
  frozen: boolean;
  close(): Promise<void>;
  nextServerOrderId(): string;
}

export const ORDER_ENTRY_TYPES: readonly number[] = [
  MessageType.SUBMIT_NEW_SINGLE_ORDER,
  MessageType.SUBMIT_NEW_OCO_ORDER,
  MessageType.CANCEL_ORDER,
  MessageType.CANCEL_REPLACE_ORDER,
  MessageType.SUBMIT_FLATTEN_POSITION_ORDER,
];

/** The default answer: every order accepted and working (OCO legs pending their parent), cancels done. */
export function acceptAll(m: Raw, server: HostileDtc): Raw[] {
  const account = server.book.account;
  const base = { Type: MessageType.ORDER_UPDATE, RequestID: 0, TotalNumMessages: 1, MessageNumber: 1, TradeAccount: account };
  switch (m.Type) {
    case MessageType.SUBMIT_NEW_SINGLE_ORDER:
    case MessageType.SUBMIT_FLATTEN_POSITION_ORDER:
      return [{ ...base, Symbol: m.Symbol, ClientOrderID: m.ClientOrderID, ServerOrderID: server.nextServerOrderId(), OrderStatus: OrderStatus.OPEN, OrderUpdateReason: OrderUpdateReason.NEW_ORDER_ACCEPTED, BuySell: m.BuySell ?? 2, OrderType: m.OrderType ?? 1, OrderQuantity: m.Quantity ?? 1, FilledQuantity: 0 }];
    case MessageType.SUBMIT_NEW_OCO_ORDER:
      return [1, 2].map((leg) => ({ ...base, Symbol: m.Symbol, ClientOrderID: m[`ClientOrderID_${leg}`], ServerOrderID: server.nextServerOrderId(), OrderStatus: OrderStatus.PENDING_CHILD, OrderUpdateReason: OrderUpdateReason.NEW_ORDER_ACCEPTED, BuySell: m[`BuySell_${leg}`], OrderType: m[`OrderType_${leg}`], OrderQuantity: m[`Quantity_${leg}`], FilledQuantity: 0 }));
    case MessageType.CANCEL_ORDER:
      return [{ ...base, ClientOrderID: m.ClientOrderID, ServerOrderID: m.ServerOrderID, OrderStatus: OrderStatus.CANCELED, OrderUpdateReason: OrderUpdateReason.ORDER_CANCELED }];
    default:
      return [];
  }
}

/** An answer that holds every new single order unanswered (on the wire), kept in `held`; the rest as acceptAll. */
export function holdNewOrders(held: Raw[]): HostileDtc['onOrder'] {
  return (m, server) => {
    if (m.Type !== MessageType.SUBMIT_NEW_SINGLE_ORDER) return acceptAll(m, server);
    held.push(m);
    return [];
  };
}

/** ES-like definition: tick 0.25, prices unscaled. */
export function esDefinition(m: Raw): Raw[] {
  return [{ Type: MessageType.SECURITY_DEFINITION_RESPONSE, RequestID: m.RequestID, Symbol: m.Symbol, MinPriceIncrement: 0.25, DisplayPriceMultiplier: 1, CurrencyValuePerIncrement: 12.5, Description: 'E-mini' }];
}

export interface HostileDtcOptions {
  account?: string;
  onOrder?: HostileDtc['onOrder'];
  securityDefinitions?: boolean;
}

export async function startHostileDtc(options: HostileDtcOptions = {}): Promise<HostileDtc> {
  const sockets = new Set<net.Socket>();
  let serverOrderSeq = 1000;
  let sessions = 0;
  const write = (socket: net.Socket, messages: Raw[]): void => {
    if (!socket.destroyed && messages.length) socket.write(encodeMessages(messages as unknown as DtcMessage[]));
  };
  const api: HostileDtc = {
    port: 0,
    received: [],
    orderEntries: () => api.received.filter((m) => ORDER_ENTRY_TYPES.includes(m.Type)),
    book: { account: options.account ?? 'Sim1', openOrders: [], fills: [], positions: [], balance: null },
    onOrder: options.onOrder ?? acceptAll,
    onDefinition: esDefinition,
    push: (...messages) => {
      for (const s of sockets) write(s, messages);
    },
    pushRaw: (bytes) => {
      for (const s of sockets) if (!s.destroyed) s.write(bytes);
    },
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    sessions: () => sessions,
    frozen: false,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
    nextServerOrderId: () => `S${++serverOrderSeq}`,
  };
  const answer = (socket: net.Socket, m: Raw): void => {
    const rid = m.RequestID;
    const account = api.book.account;
    const batch = <T extends Raw>(items: T[], empty: Raw, totalField = 'TotalNumberMessages'): Raw[] =>
      items.length === 0 ? [{ ...empty, RequestID: rid, [totalField]: 1, MessageNumber: 1 }] : items.map((it, i) => ({ ...it, RequestID: rid, [totalField]: items.length, MessageNumber: i + 1 }));
    switch (m.Type) {
      case MessageType.LOGON_REQUEST:
        sessions++;
        write(socket, [{ Type: MessageType.LOGON_RESPONSE, ProtocolVersion: 8, Result: 1, ResultText: 'ok', ServerName: 'hostile', TradingIsSupported: 1, OCOOrdersSupported: 1, BracketOrdersSupported: 1, OrderCancelReplaceSupported: 1, SecurityDefinitionsSupported: options.securityDefinitions ? 1 : 0 }]);
        return;
      case MessageType.HEARTBEAT:
        write(socket, [{ Type: MessageType.HEARTBEAT, NumDroppedMessages: 0, CurrentDateTime: Math.floor(Date.now() / 1000) }]);
        return;
      case MessageType.TRADE_ACCOUNTS_REQUEST:
        write(socket, [{ Type: MessageType.TRADE_ACCOUNT_RESPONSE, RequestID: rid, TotalNumberMessages: 1, MessageNumber: 1, TradeAccount: account }]);
        return;
      case MessageType.OPEN_ORDERS_REQUEST:
        write(socket, batch(api.book.openOrders, { Type: MessageType.ORDER_UPDATE, NoOrders: 1 }, 'TotalNumMessages'));
        return;
      case MessageType.HISTORICAL_ORDER_FILLS_REQUEST:
        write(socket, batch(api.book.fills, { Type: MessageType.HISTORICAL_ORDER_FILL_RESPONSE, NoOrderFills: 1 }));
        return;
      case MessageType.CURRENT_POSITIONS_REQUEST:
        write(socket, batch(api.book.positions, { Type: MessageType.POSITION_UPDATE, NoPositions: 1 }));
        return;
      case MessageType.ACCOUNT_BALANCE_REQUEST:
        write(socket, batch(api.book.balance ? [api.book.balance] : [], { Type: MessageType.ACCOUNT_BALANCE_UPDATE, NoAccountBalances: 1 }));
        return;
      case MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST:
        write(socket, api.onDefinition(m, api));
        return;
      default:
        if (ORDER_ENTRY_TYPES.includes(m.Type)) write(socket, api.onOrder(m, api));
    }
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const decoder = new DtcFrameDecoder();
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      for (const m of decoder.push(chunk)) {
        const raw = m as unknown as Raw;
        api.received.push(raw);
        if (!api.frozen) answer(socket, raw);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  api.port = (server.address() as net.AddressInfo).port;
  return api;
}

/** The Node-RED runtime and hostile DTC server of each test in a describe, as `useHostileDtcRuntime` keeps them. */
export interface HostileDtcRuntime {
  /** Starts this test's hostile server (closing the one it had first); it is closed after the test. */
  startDtc(options?: HostileDtcOptions): Promise<HostileDtc>;
  /** This test's hostile server, once started. */
  readonly dtc: HostileDtc;
  /** What escaped to the process (uncaught exception, unhandled rejection) during this test. */
  readonly trap: CrashTrap;
}

/**
 * Registers, in the calling describe, the hooks every adversarial Sierra test needs: before each test the Node-RED
 * runtime of node-red-node-test-helper and a crash trap; after it the flow unloaded, the runtime stopped, the helper's
 * settings back to the defaults, the hostile server closed and the trap removed.
 */
export function useHostileDtcRuntime(): HostileDtcRuntime {
  let dtc: HostileDtc | undefined;
  let trap: CrashTrap | undefined;
  beforeEach(async () => {
    await helper.startServer();
    trap = trapCrashes();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    await dtc?.close();
    dtc = undefined;
    trap?.stop();
    trap = undefined;
  });
  return {
    startDtc: async (options) => {
      await dtc?.close();
      dtc = undefined;
      dtc = await startHostileDtc(options);
      return dtc;
    },
    get dtc() {
      if (!dtc) throw new Error('no hostile DTC server: call startDtc first');
      return dtc;
    },
    get trap() {
      if (!trap) throw new Error('no crash trap outside a test');
      return trap;
    },
  };
}
