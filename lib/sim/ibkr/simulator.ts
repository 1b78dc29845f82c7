// startIbkrSimulator: the IBKR Client Portal Web API (REST under /v1/api and the WebSocket /v1/api/ws) on 127.0.0.1,
// over HTTPS with a self-signed certificate like the Gateway's, answering from the seeded market. Node http/https
// and ws only. Tests and the simulator mode of ibkr-config talk to it over real sockets.
import http from 'http';
import https from 'https';
import type { AddressInfo } from 'net';
import { createMarket } from '../market';
import type { Market } from '../market-types';
import { type ApiResponse, IbkrApi } from './api';
import { lookupInstrument } from './instruments';
import { type Availability, MarketView } from './market-view';
import { OrderBook } from './orders';
import { IBKR_PENALTY_BOX_MS, RateLimiter, type RateLimitOptions, type RateStats } from './rate-limiter';
import { GatewaySession } from './session';
import { StreamingHub } from './websocket';

export interface IbkrSimulatorOptions {
  seed?: number;
  /** A market shared with the DTC simulator; its owner starts and stops it. Default: a new market, started here. */
  market?: Market;
  /** HTTPS with a self-signed certificate for 127.0.0.1 (default), or plain HTTP. */
  tls?: boolean;
  port?: number;
  speed?: number;
  /** The brokerage session expires after this long without a request ([CP]: about 5–6 min). */
  sessionIdleMs?: number;
  accountId?: string;
  penaltyBoxMs?: number;
  /** IBKR's limits by default; false turns them off; an object overrides some. */
  rateLimits?: RateLimitOptions | false;
  heartbeatMs?: number;
  /** Market-data streams end after this long unless renewed ([IBWS2]: 10 min). */
  mdStreamTtlMs?: number;
  streamIntervalMs?: number;
  /** Called on every WebSocket market-data subscription. */
  onMarketDataSubscribed?: () => void;
  /** Awaited before a history request is answered. */
  historyGate?: () => Promise<void>;
  historyLatencyMs?: number;
  positionsCacheMs?: number;
  cancelDelayMs?: number;
  /**
   * The clock of session idleness, of the rate limits and of the smd expiry (default: the wall clock). Tests inject a
   * virtual one so that "idle for 300 ms", "15 requests in one second" or "smd ends unless renewed" do not depend on
   * how busy the machine is.
   */
  clock?: () => number;
}

export interface IbkrSimulatorControl {
  expireSession(): void;
  nightlyReset(): void;
  setCompeting(competing: boolean): void;
  /** The user logs in through the browser again (after logout). */
  login(): void;
  inject429(n: number): void;
  dropWebSockets(): void;
  setMarketDataAvailability(code: Availability): void;
  /** Sets a position directly (e.g. many options to exercise paging). */
  setPosition(conid: number, position: number, avgPrice: number): void;
  /**
   * An order placed outside the API (by hand in TWS): on the book at once, its id returned; the API client learns of
   * it only by reading the live orders.
   */
  placeByHand(order: { conid: number; side: 'BUY' | 'SELL'; orderType: 'LMT' | 'STP'; price: number; quantity: number }): number;
  /** The book as it is now (copies), for tests: every order and every non-zero position. */
  book(): { orders: { orderId: number; cOID?: string; parentId?: string; side: 'BUY' | 'SELL'; orderType: string; quantity: number; status: string; filledQuantity: number }[]; positions: { conid: number; position: number }[] };
  stats(): RateStats & { webSockets: number; marketDataStreams: number };
  readonly sessionId: string;
}

export interface IbkrSimulator {
  baseUrl: string;
  wsUrl: string;
  certificatePem: string | undefined;
  market: Market;
  control: IbkrSimulatorControl;
  close(): Promise<void>;
}

const DEFAULT_SESSION_IDLE_MS = 6 * 60_000;
const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_MD_TTL_MS = 10 * 60_000;
const IDLE_CHECK_MS = 1000;
const MAX_BODY_BYTES = 1_000_000;

let certificate: Promise<{ key: string; cert: string }> | undefined;

/**
 * One self-signed certificate per process for 127.0.0.1 (EC P-256: generated in milliseconds). selfsigned is imported
 * here, on first use: loading it costs about 0.3 s, which every Node-RED start paid for the palette.
 */
function loopbackCertificate(): Promise<{ key: string; cert: string }> {
  certificate ??= import('selfsigned').then(({ generate }) => generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }, { type: 2, value: 'localhost' }] },
    ],
  })).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return certificate;
}

function send(res: http.ServerResponse, { status, body }: ApiResponse): void {
  const text = JSON.stringify(body ?? null);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (!text) return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

export async function startIbkrSimulator(options: IbkrSimulatorOptions = {}): Promise<IbkrSimulator> {
  const ownsMarket = options.market === undefined;
  const market = options.market ?? createMarket({ seed: options.seed, speed: options.speed });
  const clock = options.clock ?? Date.now;
  const session = new GatewaySession(options.sessionIdleMs ?? DEFAULT_SESSION_IDLE_MS, clock);
  const view = new MarketView(market);
  const book = new OrderBook(market, view, options.cancelDelayMs);
  const accountId = options.accountId ?? 'DU1234567';
  const api = new IbkrApi(market, session, book, { accountId, positionsCacheMs: options.positionsCacheMs ?? 10_000, historyLatencyMs: options.historyLatencyMs ?? 20, historyGate: options.historyGate }, view);
  const limiter = new RateLimiter(options.rateLimits !== false, options.rateLimits || {}, options.penaltyBoxMs ?? IBKR_PENALTY_BOX_MS);
  const hub = new StreamingHub(market, session, api, book, {
    heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    mdStreamTtlMs: options.mdStreamTtlMs ?? DEFAULT_MD_TTL_MS,
    streamIntervalMs: options.streamIntervalMs ?? 250,
    onMarketDataSubscribed: options.onMarketDataSubscribed,
  });
  session.on('lost', () => api.resetBrokerageState());
  // Sessions also idle out without traffic, so sockets drop even when nobody calls.
  const idleTimer = setInterval(() => session.checkIdle(clock()), IDLE_CHECK_MS);
  idleTimer.unref();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void serve(req, res).catch((err: unknown) => send(res, { status: 400, body: { error: err instanceof Error ? err.message : String(err) } }));
  };

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    if (!url.pathname.startsWith('/v1/api/')) return send(res, { status: 404, body: { error: 'Not Found' } });
    const path = url.pathname.slice('/v1/api'.length);
    const now = clock();
    const verdict = limiter.admit(method, path, now);
    if (!verdict.ok) return send(res, { status: 429, body: { error: `Too Many Requests: ${verdict.reason}` } });
    try {
      // [CP]: a POST without Content-Length gets 411.
      if (method === 'POST' && req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
        return send(res, { status: 411, body: { error: 'Length Required: send {} as the body' } });
      }
      const body = method === 'GET' ? undefined : await readBody(req);
      session.checkIdle(now);
      api.invalidatePendingReply(method, path);
      if (!session.loggedIn && path !== '/iserver/auth/status') return send(res, { status: 401, body: { error: 'not authenticated', statusCode: 401 } });
      session.touch(now);
      if (api.needsBrokerage(path) && !session.authenticated) {
        return send(res, { status: 401, body: { error: 'not authenticated', statusCode: 401 } });
      }
      send(res, await api.handle({ method, path, query: url.searchParams, body, now: market.now() }));
    } finally {
      verdict.release();
    }
  }

  const tls = options.tls !== false;
  const pems = tls ? await loopbackCertificate() : undefined;
  const server = pems ? https.createServer({ key: pems.key, cert: pems.cert }, handler) : http.createServer(handler);
  server.on('upgrade', (req, socket, head) => {
    // Node hands the raw socket over without its error handler: a client that resets it (refused upgrade, reconnect
    // storm) must not throw out of the simulator, which runs inside Node-RED.
    socket.on('error', () => socket.destroy());
    const pathname = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (pathname === '/v1/api/ws') hub.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  if (ownsMarket) market.start();
  const port = (server.address() as AddressInfo).port;
  const scheme = tls ? 'https' : 'http';

  return {
    baseUrl: `${scheme}://127.0.0.1:${port}/v1/api`,
    wsUrl: `${tls ? 'wss' : 'ws'}://127.0.0.1:${port}/v1/api/ws`,
    certificatePem: pems?.cert,
    market,
    control: {
      expireSession: () => session.lose('idle'),
      nightlyReset: () => session.lose('nightly-reset'),
      setCompeting: (competing) => {
        if (competing) session.lose('competing');
        else session.competing = false;
      },
      login: () => session.login(clock()),
      inject429: (n) => limiter.inject429(n),
      dropWebSockets: () => hub.dropAll(),
      setMarketDataAvailability: (code) => {
        api.availability = code;
      },
      setPosition: (conid, position, avgPrice) => {
        const inst = lookupInstrument(market, conid);
        if (!inst) throw new Error(`setPosition: conid ${conid} is not a contract the simulator knows`);
        book.setPosition(inst, position, avgPrice);
      },
      placeByHand: (o) => {
        const inst = lookupInstrument(market, o.conid);
        if (!inst) throw new Error(`placeByHand: conid ${o.conid} is not a contract the simulator knows`);
        const now = clock();
        const order = book.place({ acctId: accountId, inst, side: o.side, orderType: o.orderType, quantity: o.quantity, price: o.price, tif: 'DAY', outsideRTH: false }, now);
        book.activate(order, now);
        return order.orderId;
      },
      book: () => ({
        orders: book.all().map((o) => ({ orderId: o.orderId, ...(o.cOID !== undefined ? { cOID: o.cOID } : {}), ...(o.parentId !== undefined ? { parentId: o.parentId } : {}), side: o.side, orderType: o.orderType, quantity: o.quantity, status: o.status, filledQuantity: o.filledQuantity })),
        positions: [...book.positions.values()].filter((p) => p.position !== 0).map((p) => ({ conid: p.inst.conid, position: p.position })),
      }),
      stats: () => ({ ...limiter.snapshot(), webSockets: hub.socketCount, marketDataStreams: hub.marketDataStreamCount }),
      get sessionId() {
        return session.sessionId;
      },
    },
    close: async () => {
      clearInterval(idleTimer);
      hub.close();
      book.close();
      if (ownsMarket) market.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
