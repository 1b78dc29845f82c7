// The /v1/api/ws endpoint (ibkr-web-api.md §4): authenticated by the /tickle session (cookie `api` as JSON or plain,
// or a first message {"session": …}); topics smd/umd (changed fields only, driven by the market's trades, ending
// after mdStreamTtlMs unless renewed), sor/uor, spl/upl, tic; a system heartbeat; every socket dropped when the
// brokerage session dies.
import type { IncomingMessage } from 'http';
import type { Duplex } from 'stream';
import { WebSocket, WebSocketServer } from 'ws';
import { InvalidInputError } from '../../errors';
import type { Market } from '../market-types';
import { type IbkrApi, tradeRecord } from './api';
import { lookupInstrument } from './instruments';
import type { Execution, OrderBook } from './orders';
import type { GatewaySession } from './session';

export interface StreamingOptions {
  heartbeatMs: number;
  mdStreamTtlMs: number;
  streamIntervalMs: number;
  /** Called on every market-data subscription (a replay waits for the flow's first one before it starts). */
  onMarketDataSubscribed?: () => void;
}

interface MarketDataStream {
  fields: string[];
  sent: Record<string, string>;
  renewedAt: number;
}

interface Client {
  ws: WebSocket;
  authenticated: boolean; // presented the right session
  smd: Map<number, MarketDataStream>;
  sor: boolean;
  /** `str` (trades): null when not subscribed. */
  str: { realtimeOnly: boolean } | null;
  spl: boolean;
  splSent: string;
}

/** The session id in an `api` cookie: `api={"session":"…"}` or `api=<id>`. */
export function sessionFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name !== 'api') continue;
    const value = decodeURIComponent(rest.join('='));
    try {
      const parsed: unknown = JSON.parse(value);
      if (parsed && typeof parsed === 'object' && 'session' in parsed) return String((parsed as { session: unknown }).session);
    } catch {
      // not JSON: the plain form
    }
    return value;
  }
  return undefined;
}

export class StreamingHub {
  private readonly wss = new WebSocketServer({ noServer: true, skipUTF8Validation: true });
  private readonly clients = new Set<Client>();
  private readonly timers: NodeJS.Timeout[] = [];
  private dirty = true;
  private readonly onTrade = (): void => {
    this.dirty = true;
  };
  /**
   * A replay at 'max' (lib/replay/recorded-market.ts) emits 'batch' after each batch of trades: the update goes out
   * now, and the next batch waits until it is written to every socket (so the replay runs as fast as the stream).
   */
  private readonly onBatch = (hold: () => () => void): void => {
    if (!this.dirty) return;
    this.dirty = false;
    const release = hold();
    let writes = 1;
    const written = (): void => {
      if (--writes === 0) release();
    };
    for (const c of this.clients) {
      for (const conid of c.smd.keys()) this.pushMarketData(c, conid, () => writes++, written);
    }
    written();
  };
  private readonly onOrder = (update: Record<string, unknown>): void => this.pushOrder(update);
  private readonly onExecution = (execution: Execution): void => this.pushTrade(execution);

  constructor(
    private readonly market: Market,
    private readonly session: GatewaySession,
    private readonly api: IbkrApi,
    private readonly book: OrderBook,
    private readonly options: StreamingOptions,
  ) {
    market.on('trade', this.onTrade);
    market.on('batch', this.onBatch);
    book.on('order', this.onOrder);
    book.on('execution', this.onExecution);
    session.on('lost', () => this.dropAll());
    session.on('authenticated', () => {
      for (const c of this.clients) if (c.authenticated) this.send(c, this.stsMessage());
    });
    const heartbeat = setInterval(() => {
      for (const c of this.clients) if (c.authenticated) this.send(c, { topic: 'system', hb: Date.now() });
    }, options.heartbeatMs);
    const stream = setInterval(() => this.flush(), options.streamIntervalMs);
    heartbeat.unref();
    stream.unref();
    this.timers.push(heartbeat, stream);
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const cookieSession = sessionFromCookie(req.headers.cookie);
    if (!this.session.loggedIn || (cookieSession !== undefined && cookieSession !== this.session.sessionId)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, cookieSession !== undefined));
  }

  private accept(ws: WebSocket, authenticated: boolean): void {
    const client: Client = { ws, authenticated: false, smd: new Map(), sor: false, str: null, spl: false, splSent: '' };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => this.clients.delete(client));
    ws.on('message', (data) => this.receive(client, data.toString()));
    if (authenticated) this.welcome(client);
  }

  private welcome(client: Client): void {
    client.authenticated = true;
    this.send(client, { topic: 'system', success: this.session.username, isFT: false, isPaper: true });
    this.send(client, this.stsMessage());
  }

  private stsMessage(): Record<string, unknown> {
    if (!this.session.authenticated) return { message: 'waiting for session' };
    return { topic: 'sts', args: { authenticated: true, competing: this.session.competing, message: '', fail: '', serverName: 'JifN19053', username: this.session.username } };
  }

  private receive(client: Client, text: string): void {
    if (!client.authenticated) {
      try {
        const msg: unknown = JSON.parse(text);
        if (msg && typeof msg === 'object' && (msg as { session?: unknown }).session === this.session.sessionId) {
          this.welcome(client);
          return;
        }
      } catch {
        // fall through: not the session message
      }
      client.ws.close(1008, 'not authenticated');
      return;
    }
    if (text === 'tic' || text === 'ech+hb') {
      if (text === 'ech+hb') this.send(client, { topic: 'ech', hb: Date.now() });
      return;
    }
    const m = /^([su])(md|or|pl|tr)\+([^+]*)(?:\+(.*))?$/s.exec(text);
    if (!m) return;
    const [, action, topic, target, json] = m;
    const brokerage = topic !== 'pl';
    if (brokerage && !this.session.authenticated) return;
    if (topic === 'md') this.marketData(client, action === 's', target, json);
    else if (topic === 'tr') this.trades(client, action === 's', target);
    else if (topic === 'or') {
      client.sor = action === 's';
      if (client.sor) this.send(client, { topic: 'sor', args: this.book.all().map((o) => this.book.wire(o)) });
    } else {
      client.spl = action === 's';
      client.splSent = '';
      if (client.spl) this.pushPnl(client);
    }
  }

  private marketData(client: Client, subscribe: boolean, target: string, json: string | undefined): void {
    const conid = Number(target.split('@')[0]);
    if (!subscribe) {
      client.smd.delete(conid);
      return;
    }
    let fields: string[] = [];
    try {
      const parsed: unknown = JSON.parse(json ?? '{}');
      const f = (parsed as { fields?: unknown }).fields;
      if (Array.isArray(f)) fields = f.map(String);
    } catch {
      this.send(client, { topic: 'error', error: `smd+${target}: the arguments are not JSON` });
      return;
    }
    const existing = client.smd.get(conid);
    // Re-subscribing renews the stream; new fields are added, values already sent are not repeated.
    client.smd.set(conid, { fields: [...new Set([...(existing?.fields ?? []), ...fields])], sent: existing?.sent ?? {}, renewedAt: this.session.clock() });
    this.pushMarketData(client, conid);
    this.options.onMarketDataSubscribed?.();
  }

  private flush(): void {
    const now = this.session.clock(); // the smd expiry runs on the simulator's clock (a test's virtual one)
    for (const c of this.clients) {
      for (const [conid, stream] of c.smd) {
        if (now - stream.renewedAt > this.options.mdStreamTtlMs) c.smd.delete(conid);
        else if (this.dirty) this.pushMarketData(c, conid);
      }
      if (c.spl) this.pushPnl(c);
    }
    this.dirty = false;
  }

  /** Sends what changed; `sending` and `sent` (if given) bracket the socket write, when there is one. */
  private pushMarketData(client: Client, conid: number, sending?: () => void, sent?: () => void): void {
    const stream = client.smd.get(conid);
    const inst = lookupInstrument(this.market, conid);
    if (!stream || !inst) return;
    let values: Record<string, string>;
    let updated: number;
    try {
      ({ updated, values } = this.api.view.fields(inst, this.api.availability));
    } catch (err) {
      // A replay whose clock is before its first recorded price (a recording that starts with the preload of history
      // ibkr-history received before the first tick) has nothing to stream yet: no update, as when nothing changed.
      // Thrown out of a socket or timer handler it would end the process.
      if (err instanceof InvalidInputError) return;
      throw err;
    }
    const changed: Record<string, unknown> = {};
    for (const f of stream.fields) {
      const v = values[f];
      if (v !== undefined && stream.sent[f] !== v) changed[f] = stream.sent[f] = v;
    }
    if (Object.keys(changed).length === 0) return;
    this.send(client, { server_id: 'q0', conidEx: String(conid), conid, _updated: updated, '6119': 'q0', ...changed, topic: `smd+${conid}` }, sending, sent);
  }

  /** `str+{"days":n,"realtimeUpdatesOnly":b}`: the trades of the last `days` (1 = today, up to 7), then new ones. */
  private trades(client: Client, subscribe: boolean, json: string): void {
    if (!subscribe) {
      client.str = null;
      return;
    }
    let args: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(json || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) args = parsed as Record<string, unknown>;
    } catch {
      this.send(client, { topic: 'error', error: 'str: the arguments are not JSON' });
      return;
    }
    client.str = { realtimeOnly: args.realtimeUpdatesOnly === true };
    if (client.str.realtimeOnly) return;
    const days = Math.min(Math.max(Number(args.days ?? 7) || 7, 1), 7);
    const since = this.market.now() - days * 86_400_000;
    const rows = this.book.executions.filter((e) => e.time >= since).map((e) => tradeRecord(e, this.api.accountId, this.session.username, 'ws'));
    this.send(client, { topic: 'str', args: rows });
  }

  private pushTrade(execution: Execution): void {
    const row = tradeRecord(execution, this.api.accountId, this.session.username, 'ws');
    for (const c of this.clients) if (c.str && this.session.authenticated) this.send(c, { topic: 'str', args: [row] });
  }

  private pushOrder(update: Record<string, unknown>): void {
    if (this.api.sorSuspended) return;
    for (const c of this.clients) if (c.sor && this.session.authenticated) this.send(c, { topic: 'sor', args: [update] });
  }

  private pushPnl(client: Client): void {
    const rows = this.api.pnlRows();
    const text = JSON.stringify(rows);
    if (text === client.splSent) return;
    client.splSent = text;
    this.send(client, { topic: 'spl', args: rows });
  }

  private send(client: Client, message: unknown, sending?: () => void, sent?: () => void): void {
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (!sent) {
      client.ws.send(JSON.stringify(message));
      return;
    }
    sending?.();
    // The callback also comes (with an error) when the socket closes first: the replay never waits on a dead socket.
    client.ws.send(JSON.stringify(message), () => sent());
  }

  /** Drops every socket at once, as when the session dies or the network goes. */
  dropAll(): void {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
  }

  get socketCount(): number {
    return this.clients.size;
  }

  /** Market-data streams being served (each socket's subscriptions, not yet expired or unsubscribed). */
  get marketDataStreamCount(): number {
    let n = 0;
    for (const c of this.clients) n += c.smd.size;
    return n;
  }

  close(): void {
    this.market.off('trade', this.onTrade);
    this.market.off('batch', this.onBatch);
    this.book.off('order', this.onOrder);
    this.book.off('execution', this.onExecution);
    for (const t of this.timers) clearInterval(t);
    this.dropAll();
    this.wss.close();
  }
}
