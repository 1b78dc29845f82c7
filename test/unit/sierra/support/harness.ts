// Test harness for the DTC client and order manager: a controllable market, the DTC simulator on loopback, and a
// byte-recording TCP proxy between them (what the client really wrote; a place to cut the wire).
import { EventEmitter } from 'events';
import net from 'net';
import { startDtcSimulator, type DtcSimulator, type DtcSimulatorOptions } from '../../../../lib/sim/dtc';
import { DtcClient, type DtcClientOptions } from '../../../../lib/sierra/client';
import { OrderManager, type ManagerState, type OrderManagerOptions } from '../../../../lib/sierra/order-manager';
import { OrderStatus } from '../../../../lib/sierra/protocol';
import { testTimeLeft } from '../../../support/budget';
import type { MarketQuote } from '../../../../lib/sim/market-types';

export const SYMBOL = 'ESZ25_FUT_CME';

/** A market that trades only when the test says so; bid/ask around `last`. */
export class TestMarket extends EventEmitter {
  last = 6000;
  now(): number {
    return Date.now();
  }
  esQuote(): MarketQuote {
    return { t: Date.now(), last: this.last, bid: this.last - 0.25, ask: this.last, bidSize: 10, askSize: 10, volume: 1000 };
  }
  trade(price: number, size = 100): void {
    this.last = price;
    this.emit('trade', { t: Date.now(), price, size, side: 'buy', bid: price - 0.25, ask: price });
  }
}

/** A TCP proxy that records every byte the client writes and can cut all connections. */
export class RecordingProxy {
  readonly written: Buffer[] = [];
  private readonly sockets = new Set<net.Socket>();
  private server!: net.Server;
  port = 0;

  static async start(targetPort: number): Promise<RecordingProxy> {
    const proxy = new RecordingProxy();
    proxy.server = net.createServer((inbound) => {
      const outbound = net.connect({ host: '127.0.0.1', port: targetPort });
      proxy.sockets.add(inbound);
      proxy.sockets.add(outbound);
      inbound.on('data', (b: Buffer) => {
        proxy.written.push(Buffer.from(b));
        outbound.write(b);
      });
      outbound.on('data', (b: Buffer) => inbound.write(b));
      const end = (): void => {
        inbound.destroy();
        outbound.destroy();
        proxy.sockets.delete(inbound);
        proxy.sockets.delete(outbound);
      };
      inbound.on('close', end).on('error', end);
      outbound.on('close', end).on('error', end);
    });
    await new Promise<void>((r) => proxy.server.listen(0, '127.0.0.1', () => r()));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** Every JSON message the client wrote (binary handshake bytes removed). */
  messages(): Array<Record<string, unknown>> {
    const text = Buffer.concat(this.written).toString('latin1');
    return text
      .split('\0')
      .map((part) => part.slice(part.indexOf('{')))
      .filter((part) => part.startsWith('{'))
      .map((part) => JSON.parse(part) as Record<string, unknown>);
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export interface Rig {
  market: TestMarket;
  sim: DtcSimulator;
  client: DtcClient;
  manager: OrderManager;
  proxy: RecordingProxy | null;
  /** The processes restartOnBroker started on this rig's broker; close() closes them first. */
  readonly restarts: Array<{ client: DtcClient; manager: OrderManager }>;
  close(): Promise<void>;
}

export async function startRig(
  opts: { sim?: Partial<DtcSimulatorOptions>; client?: Partial<DtcClientOptions>; manager?: OrderManagerOptions; proxy?: boolean } = {},
): Promise<Rig> {
  const market = new TestMarket();
  const sim = await startDtcSimulator({ market, symbol: SYMBOL, ...opts.sim });
  const proxy = opts.proxy ? await RecordingProxy.start(sim.port) : null;
  const client = new DtcClient({
    port: proxy ? proxy.port : sim.port,
    heartbeatSec: 5,
    tradingEnabled: true,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    requestTimeoutMs: 3000,
    ...opts.client,
  });
  const manager = new OrderManager(client, { symbols: [SYMBOL], answerTimeoutMs: 1500, ...opts.manager });
  await client.connect();
  await manager.whenReady(5000);
  const restarts: Rig['restarts'] = [];
  return {
    market,
    sim,
    client,
    manager,
    proxy,
    restarts,
    async close() {
      for (const restarted of restarts) {
        restarted.manager.dispose();
        await restarted.client.close();
      }
      manager.dispose();
      await client.close();
      await proxy?.close();
      await sim.close();
    },
  };
}

/** The ClientOrderIDs of the orders working at the rig's broker. */
export function workingAtBroker(r: Rig): string[] {
  return r.sim.orders().filter((o) => o.status === OrderStatus.OPEN).map((o) => o.clientOrderId);
}

/**
 * A new process on the same broker after the rig's own died (kill -9: nothing more from it): a new client and order
 * manager. Returns the manager, what works at the broker at the moment it says ready, and what it warned.
 */
export async function restartOnBroker(r: Rig): Promise<{ manager: OrderManager; atReady: string[]; warnings: string[] }> {
  r.manager.dispose();
  await r.client.close();
  const client = new DtcClient({ port: r.sim.port, tradingEnabled: true, reconnect: { enabled: false } });
  const manager = new OrderManager(client, { symbols: [SYMBOL] });
  r.restarts.push({ client, manager });
  let atReady: string[] | null = null;
  const warnings: string[] = [];
  manager.on('warning', (w: Error) => warnings.push(w.message));
  manager.on('state', (s: ManagerState) => {
    if (s === 'ready' && atReady === null) atReady = workingAtBroker(r);
  });
  await client.connect();
  await manager.whenReady(5000);
  return { manager, atReady: atReady ?? [], warnings };
}

/** Resolves with the first event `name` whose payload passes `match`, or rejects after `ms`. */
export function nextEvent<T>(emitter: EventEmitter, name: string, match: (v: T) => boolean = () => true, ms = 3000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const on = (v: T): void => {
      if (!match(v)) return;
      clearTimeout(timer);
      emitter.off(name, on);
      resolve(v);
    };
    const timer = setTimeout(() => {
      emitter.off(name, on);
      reject(new Error(`no '${name}' event within ${ms} ms`));
    }, ms);
    emitter.on(name, on);
  });
}

export function collect<T>(emitter: EventEmitter, name: string): T[] {
  const out: T[] = [];
  emitter.on(name, (v: T) => out.push(v));
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond()` holds (polling), or fails after `ms` (default: what is left of the running test's timeout). */
export async function until(cond: () => boolean, ms = testTimeLeft(), what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
