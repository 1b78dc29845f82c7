// The adversarial IBKR rig: the IBKR simulator behind a loopback HTTP proxy that records every request that leaves
// the Node-RED process (method, path, body, the instant it arrived) and lets a test hold, answer or fail any of them.
// An ibkr-config node in gateway mode points at the proxy, so the real order path (limiter, reply flow, stream) runs
// unchanged; only what crosses the wire is seen and steered.
import http from 'http';
import net from 'net';
import { startIbkrSimulator, type IbkrSimulator, type IbkrSimulatorOptions } from '../../../lib/sim/ibkr';

export interface Recorded {
  method: string;
  path: string;
  body: unknown;
  /** Order of arrival at the proxy. */
  seq: number;
}

/** What a hook decides for one request: forward it (undefined), answer it itself, or hold it first. */
export type HookAnswer = undefined | { status: number; body: unknown; headers?: Record<string, string> } | Promise<undefined | { status: number; body: unknown; headers?: Record<string, string> }>;

export interface Recorder {
  sim: IbkrSimulator;
  baseUrl: string;
  requests: Recorded[];
  hook: ((r: Recorded) => HookAnswer) | undefined;
  /** Requests that place or confirm an order (a POST of orders, a `confirmed: true` reply, a modify). */
  orderDepartures(): Recorded[];
  /** Sends a recorded request on to the simulator itself (a hook that lets IBKR act, then changes the answer). */
  forward(r: Recorded): Promise<{ status: number; body: unknown }>;
  close(): Promise<void>;
}

export const isOrderPost = (r: Recorded): boolean => r.method === 'POST' && /\/iserver\/account\/[^/]+\/orders$/.test(r.path);
export const isConfirm = (r: Recorded): boolean => r.method === 'POST' && r.path.startsWith('/v1/api/iserver/reply/') && (r.body as { confirmed?: unknown } | null)?.confirmed === true;
export const isModify = (r: Recorded): boolean => r.method === 'POST' && /\/iserver\/account\/[^/]+\/order\/\d+$/.test(r.path);

export async function startRecorder(options: IbkrSimulatorOptions = {}): Promise<Recorder> {
  const sim = await startIbkrSimulator({ seed: 7, tls: false, speed: 1, ...options });
  const target = new URL(sim.baseUrl);
  const sockets = new Set<net.Socket>();
  const rec: Recorder = {
    sim,
    baseUrl: '',
    requests: [],
    hook: undefined,
    orderDepartures: () => rec.requests.filter((r) => isOrderPost(r) || isConfirm(r) || isModify(r)),
    forward: async (r) => {
      const res = await fetch(`${target.origin}${r.path}`, { method: r.method, headers: { 'content-type': 'application/json' }, body: r.body === null ? undefined : JSON.stringify(r.body) });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sim.close();
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: unknown;
      try {
        body = raw.length ? JSON.parse(raw.toString('utf8')) : null;
      } catch {
        body = raw.toString('utf8');
      }
      const entry: Recorded = { method: req.method ?? '', path: (req.url ?? '').split('?')[0] ?? '', body, seq: rec.requests.length };
      rec.requests.push(entry);
      void Promise.resolve(rec.hook?.(entry))
        .then((answer) => {
          if (answer) {
            res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
            res.end(JSON.stringify(answer.body));
            return;
          }
          const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          });
          out.on('error', () => res.destroy());
          out.end(raw);
        })
        .catch(() => res.destroy());
    });
  });
  // The order stream (WebSocket): passed through as bytes.
  server.on('upgrade', (req, socket: net.Socket, head: Buffer) => {
    const up = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${k === 'host' ? target.host : String(v)}`), '', ''];
      up.write(lines.join('\r\n'));
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    sockets.add(socket);
    sockets.add(up);
    const drop = (): void => {
      socket.destroy();
      up.destroy();
    };
    up.on('error', drop);
    socket.on('error', drop);
    up.on('close', drop);
    socket.on('close', drop);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  rec.baseUrl = `http://127.0.0.1:${port}/v1/api`;
  return rec;
}

/** Resolves when `condition` holds (polled every 2 ms); rejects naming `what` after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const RISK = { tradingHoursEnabled: false, cooldownMin: 0, maxOrderSize: 2, maxPosition: 2, staleAfterSec: 0, acceptAll: true };

/** Two ibkr-order nodes (a, b) on one gateway connection to the proxy, their output and a Catch node. */
export function adversaryFlow(baseUrl: string, extra: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'orders' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', name: 'gw', mode: 'gateway', baseUrl, trading: true },
    { id: 'a', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, ...RISK, ...extra, wires: [['out']] },
    { id: 'b', type: 'ibkr-order', z: 'tab', connection: 'cfg', quantity: 1, ...RISK, ...extra, wires: [['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['a', 'b'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

export { trapCrashes } from '../../support/crash-trap';

