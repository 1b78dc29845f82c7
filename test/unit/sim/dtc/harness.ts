// Test doubles for the DTC simulator: a scripted market and a bare DTC client built only on the protocol layer.
import { EventEmitter } from 'events';
import net from 'net';
import WebSocket from 'ws';
import type { MarketQuote, MarketTrade } from '../../../../lib/sim/market-types';
import { DtcFrameDecoder, decodeTextFrame, encodeEncodingRequest, encodeMessage } from '../../../../lib/sierra/framing';
import { MessageType, type DtcMessage, type MessageOf, type MessageType as Type } from '../../../../lib/sierra/protocol';
import { testTimeLeft } from '../../../support/budget';

export const T0 = Date.UTC(2025, 9, 20, 14, 30); // a Monday, 09:30 Chicago

/** A market the test moves by hand: quote() sets the touch, trade() emits a trade at the touch. */
export class ScriptedMarket extends EventEmitter {
  t = T0;
  bid = 4000;
  ask = 4000.25;
  last = 4000;

  now(): number {
    return this.t;
  }

  esQuote(): MarketQuote {
    return { t: this.t, last: this.last, bid: this.bid, ask: this.ask, bidSize: 10, askSize: 10, volume: 1000 };
  }

  quote(bid: number, ask = bid + 0.25): void {
    this.bid = bid;
    this.ask = ask;
  }

  trade(price: number, size = 100, side: 'buy' | 'sell' = 'buy'): void {
    this.t += 1000;
    this.last = price;
    this.quote(side === 'buy' ? price - 0.25 : price, side === 'buy' ? price : price + 0.25);
    const trade: MarketTrade = { t: this.t, price, size, side, bid: this.bid, ask: this.ask };
    this.emit('trade', trade);
  }
}

/** A raw DTC client: collects every message; waitFor() resolves on the first match not yet consumed. */
export class RawClient {
  readonly received: DtcMessage[] = [];
  closed = false;
  private readonly waiters: { match: (m: DtcMessage) => boolean; resolve: (m: DtcMessage) => void }[] = [];
  private readonly closeWaiters: (() => void)[] = [];

  private constructor(private readonly write: (bytes: Buffer | string) => void, private readonly end: () => void) {}

  static async tcp(port: number, options: { handshake?: boolean } = {}): Promise<RawClient & { socket: net.Socket }> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawClient((b) => socket.write(b), () => socket.destroy()) as RawClient & { socket: net.Socket };
    client.socket = socket;
    const decoder = new DtcFrameDecoder();
    if (options.handshake !== false) {
      decoder.expectBinaryMessage();
      socket.write(encodeEncodingRequest());
    }
    socket.on('data', (chunk) => decoder.push(chunk).forEach((m) => client.deliver(m)));
    socket.on('close', () => client.onClose());
    socket.on('error', () => undefined);
    return client;
  }

  static async ws(port: number): Promise<RawClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const client = new RawClient((b) => ws.send(typeof b === 'string' ? b : b.toString('utf8')), () => ws.terminate());
    ws.on('message', (data) => decodeTextFrame(String(data)).forEach((m) => client.deliver(m)));
    ws.on('close', () => client.onClose());
    return client;
  }

  send(message: DtcMessage | Record<string, unknown>): void {
    this.write(encodeMessage(message as DtcMessage));
  }

  sendRaw(bytes: Buffer | string): void {
    this.write(bytes);
  }

  async logon(extra: Record<string, unknown> = {}): Promise<MessageOf<typeof MessageType.LOGON_RESPONSE>> {
    this.send({ Type: MessageType.LOGON_REQUEST, ProtocolVersion: 8, HeartbeatIntervalInSeconds: 5, TradeAccount: 'Sim1', ...extra });
    return this.next(MessageType.LOGON_RESPONSE);
  }

  /** The next message of `type` (and matching `where`) after those already consumed by next(). */
  next<T extends Type>(type: T, where: (m: MessageOf<T>) => boolean = () => true, timeoutMs = testTimeLeft()): Promise<MessageOf<T>> {
    const match = (m: DtcMessage): boolean => m.Type === type && where(m as MessageOf<T>);
    const i = this.received.findIndex(match);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0] as MessageOf<T>);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (m: DtcMessage) => { clearTimeout(timer); resolve(m as MessageOf<T>); } };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type} message within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** All messages of `type` ever received, consumed or not, in order. */
  all<T extends Type>(type: T): MessageOf<T>[] {
    return this.history.filter((m) => m.Type === type) as MessageOf<T>[];
  }

  async waitClosed(timeoutMs = testTimeLeft()): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connection still open')), timeoutMs);
      this.closeWaiters.push(() => { clearTimeout(timer); resolve(); });
    });
  }

  close(): void {
    this.end();
  }

  private deliver(message: DtcMessage): void {
    const waiter = this.waiters.findIndex((w) => w.match(message));
    if (waiter >= 0) {
      const [w] = this.waiters.splice(waiter, 1);
      this.history.push(message);
      w.resolve(message);
      return;
    }
    this.received.push(message);
    this.history.push(message);
  }

  /** Every message ever received, in order (consumed or not). */
  readonly history: DtcMessage[] = [];

  private onClose(): void {
    this.closed = true;
    this.closeWaiters.splice(0).forEach((f) => f());
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
