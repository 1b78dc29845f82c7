// Shared by the fault tests: polling with a deadline, percentiles, a figures line, and the IBKR rig (simulator +
// IbkrConnection in simulator mode + the one IbkrStream), with IBKR's time constants shortened in step on both sides.
import net from 'net';
import { IbkrConnection, type IbkrConnectionOptions, type SessionStateEvent } from '../../lib/ibkr';
import type { Scheduler } from '../../lib/ibkr/scheduler';
import { IbkrStream, type StreamBackoff, type StreamTarget, type StreamTiming } from '../../lib/ibkr/stream';
import { startIbkrSimulator, type IbkrSimulator, type IbkrSimulatorOptions } from '../../lib/sim/ibkr';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` every 2 ms; rejects with `what` after `timeoutMs` (for slow real work: testTimeLeft()). */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(2);
  }
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** One line of measured figures in the test output (the README's "Reliability" numbers come from these). */
export function reportFigures(name: string, figures: Record<string, unknown>): void {
  process.stdout.write(`      figures ${name}: ${JSON.stringify(figures)}\n`);
}

/** IBKR's stream constants ÷ 50: server heartbeat 10 s → 200 ms, link dead after 2 missed (20 s → 400 ms). */
export const HEARTBEAT_MS = 200;
export const STREAM_TIMING: Partial<StreamTiming> = { heartbeatTimeoutMs: 2 * HEARTBEAT_MS, ticIntervalMs: 300, sessionWaitMs: 1000 };
export const STREAM_BACKOFF: StreamBackoff = { initialMs: 10, maxMs: 40 };
/** /tickle is 1/s at IBKR; every (re)connect needs one, so both sides allow one per 40 ms here. */
const TICKLE_MS = 40;

export interface IbkrRig {
  sim: IbkrSimulator;
  connection: IbkrConnection;
  stream: IbkrStream;
  states: SessionStateEvent[];
  conid: number;
  /** Closes the stream, the connection, the simulator and the proxy (if any). */
  close(): Promise<void>;
}

export async function startIbkrRig(
  options: {
    sim?: IbkrSimulatorOptions;
    connection?: Partial<IbkrConnectionOptions>;
    timing?: Partial<StreamTiming>;
    proxy?: FreezableProxy;
    /** The stream's timers and clock (watchdog, tic, backoff), e.g. a virtual scheduler; real time when absent. */
    streamClock?: { scheduler: Scheduler; now: () => number };
  } = {},
): Promise<IbkrRig> {
  const sim = await startIbkrSimulator({
    seed: 5,
    heartbeatMs: HEARTBEAT_MS,
    streamIntervalMs: 50,
    speed: 4,
    rateLimits: { endpoints: { tickle: { max: 1, perMs: TICKLE_MS } } },
    ...options.sim,
  });
  const connection = new IbkrConnection({
    mode: 'simulator',
    baseUrl: sim.baseUrl,
    simulatorCertificatePem: sim.certificatePem,
    familyLimits: { tickle: { kind: 'interval', intervalMs: TICKLE_MS + 5 } },
    ...options.connection,
  });
  const states: SessionStateEvent[] = [];
  connection.on('state', (e: SessionStateEvent) => states.push(e));
  await connection.start();
  const proxy = options.proxy;
  if (proxy) await proxy.listen(new URL(sim.baseUrl).port);
  const target = async (): Promise<StreamTarget> => {
    const t = await connection.websocketTarget();
    if (!proxy) return t;
    const url = new URL(t.url);
    url.port = String(proxy.port);
    return { ...t, url: url.toString() };
  };
  const stream = new IbkrStream({ target, timing: { ...STREAM_TIMING, ...options.timing }, backoff: STREAM_BACKOFF, ...options.streamClock });
  const conid = sim.market.esContracts()[0].conid;
  return {
    sim,
    connection,
    stream,
    states,
    conid,
    async close() {
      await stream.close();
      await connection.close();
      await proxy?.close();
      await sim.close();
    },
  };
}

/** A loopback TCP relay whose server → client direction can be frozen: a link that stays up but goes silent. */
export class FreezableProxy {
  port = 0;
  frozen = false;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  listen(targetPort: string): Promise<void> {
    this.server = net.createServer((inbound) => {
      const outbound = net.connect({ host: '127.0.0.1', port: Number(targetPort) });
      for (const s of [inbound, outbound]) this.sockets.add(s);
      inbound.on('data', (b: Buffer) => outbound.write(b));
      outbound.on('data', (b: Buffer) => {
        if (!this.frozen) inbound.write(b);
      });
      const end = (): void => {
        inbound.destroy();
        outbound.destroy();
        this.sockets.delete(inbound);
        this.sockets.delete(outbound);
      };
      inbound.on('close', end).on('error', end);
      outbound.on('close', end).on('error', end);
    });
    return new Promise((resolve) => {
      this.server?.listen(0, '127.0.0.1', () => {
        this.port = (this.server?.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
