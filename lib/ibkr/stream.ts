// The one IBKR WebSocket of a connection, shared by every streaming node (ibkr-web-api.md, section 4).
//
// Life of the socket:
//   idle ──► connecting ──► (waiting-session) ──► open ──► reconnecting ──► ... ──► open     close() ──► closed
// - Each (re)connect asks `target()` for a fresh URL and headers (the /tickle session cookie): nothing survives a
//   reconnect at IBKR, so every subscription is sent again on the new socket.
// - The session travels as the Cookie header and, as IBKR's older documentation does it, as a first
//   `{"session": ...}` message.
// - Liveness: IBKR sends `{"topic":"system","hb":..}` about every 10 s; when no frame at all arrives for
//   `heartbeatTimeoutMs` (two heartbeat intervals) the link is declared dead and replaced. The client
//   sends `tic` well within IBKR's once-a-minute requirement.
// - `smd` streams end after 10 minutes at IBKR, so each contract's subscription is renewed after 9 [IBWS2].
// - Every interruption of an open stream is a gap: the state changes at once, and when the stream is open again a
//   'gap' event says from when to when, why, and which subscriptions missed data. Nothing is hidden.
//
// Events: 'state' (state, reason), 'gap' (StreamGap), 'status' (IBKR's sts: authenticated, competing),
// 'server-error' (IbkrStreamError), 'message' (topic, raw frame) for the unsolicited topics (act, blt, ntf, ...).

import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import tls from 'node:tls';
import WebSocket from 'ws';
import { InvalidInputError, errorMessage } from '../errors';
import { IbkrError } from './errors';
import { redactText } from './redact';
import { Backoff } from '../backoff';
import { realScheduler, type Scheduler } from './scheduler';
import { TIC, readServerFrame, sessionFromCookie, sessionMessage, type ServerFrame } from './stream-protocol';
import {
  StreamSubscriptions,
  type MarketDataListener,
  type OrdersListener,
  type PnlListener,
  type SubscriptionChange,
} from './stream-subscriptions';
import { fieldId } from './wire';

export type { MarketDataListener, OrdersListener, PnlListener } from './stream-subscriptions';

/** 'idle' until start() or the first subscription; 'closed' after close(), for good. */
export type StreamState = 'idle' | 'connecting' | 'waiting-session' | 'open' | 'reconnecting' | 'closed';

/** What IbkrConnection.websocketTarget() gives: where to connect, with which session, trusting which certificate. */
export interface StreamTarget {
  url: string;
  headers: Record<string, string>;
  /** The /tickle session id; when absent it is read from the `api=` cookie of `headers`. */
  session?: string;
  /** A certificate to trust for this host only, pinned by fingerprint (the in-process simulator). */
  certificatePem?: string;
  /** Accept a self-signed certificate (the Client Portal Gateway on localhost). */
  allowSelfSigned?: boolean;
}

/** A stretch of time during which the stream delivered nothing: subscribers missed whatever happened in it. */
export interface StreamGap {
  from: number;
  to: number;
  reason: string;
  /** The subscription keys that missed data: 'smd+<conid>', 'sor', 'spl'. */
  subscriptions: string[];
}

export interface StreamStatus {
  authenticated: boolean;
  competing: boolean;
  message: string;
}

export interface StreamTiming {
  heartbeatTimeoutMs: number;
  ticIntervalMs: number;
  marketDataRenewMs: number;
  /** How long to wait for IBKR's brokerage session on an open socket before reconnecting with a fresh one. */
  sessionWaitMs: number;
}

export const DEFAULT_STREAM_TIMING: StreamTiming = {
  heartbeatTimeoutMs: 20_000, // IBKR: server hb about every 10 s; a dead link is declared within two intervals
  ticIntervalMs: 30_000, // IBKR: client `tic` at least once a minute
  marketDataRenewMs: 9 * 60_000, // IBKR: smd streams end after 10 min; renew after 9 [IBWS2]
  sessionWaitMs: 30_000,
};

export interface StreamBackoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_STREAM_BACKOFF: StreamBackoff = { initialMs: 1_000, maxMs: 30_000 };

export interface StreamLogger {
  debug?(message: string): void;
  warn?(message: string): void;
}

export interface IbkrStreamOptions {
  /** A fresh WebSocket URL and headers (new session cookie) for each connection attempt. */
  target: () => Promise<StreamTarget>;
  /** TLS trust when the target does not bring its own (certificatePem / allowSelfSigned). */
  tls?: { ca?: string; rejectUnauthorized?: boolean };
  logger?: StreamLogger;
  scheduler?: Scheduler;
  now?: () => number;
  random?: () => number;
  backoff?: Partial<StreamBackoff>;
  timing?: Partial<StreamTiming>;
}

export interface SubscriptionHandle {
  /** Idempotent; the last listener of a subscription unsubscribes it at IBKR. */
  unsubscribe(): void;
}

/** IBKR reported an error on the stream (the socket itself stays up). */
export class IbkrStreamError extends IbkrError {
  constructor(said: string) {
    super(
      'IBKR_STREAM',
      `IBKR streaming reported an error: "${redactText(said)}". The stream stays connected; check the contract id and the market-data permissions of the account.`,
    );
  }
}

interface StreamEvents {
  state: [state: StreamState, reason: string];
  gap: [gap: StreamGap];
  status: [status: StreamStatus];
  'server-error': [error: IbkrStreamError];
  message: [topic: string, raw: Readonly<Record<string, unknown>>];
}

/** A conid (265598) or IBKR's `conid@EXCHANGE` form. */
function streamTarget(conid: number | string): string {
  const target = String(conid).trim();
  if (!/^\d+(@[A-Za-z0-9_.]+)?$/.test(target)) {
    throw new InvalidInputError(`IBKR stream: "${target}" is not a contract id: give the numeric conid (e.g. 495512557) or conid@EXCHANGE.`);
  }
  return target;
}

function streamFields(fields: readonly string[]): string[] {
  if (fields.length === 0) throw new InvalidInputError('IBKR stream: no market-data fields asked for: give at least one field id (e.g. "31" for last).');
  return fields.map((f) => {
    const id = fieldId(String(f));
    if (id === undefined) throw new InvalidInputError(`IBKR stream: "${f}" is not a market-data field: use a field id such as "84" (bid) or a name such as "bid".`);
    return id;
  });
}

export class IbkrStream extends EventEmitter<StreamEvents> {
  private current: StreamState = 'idle';
  private readonly subscriptions = new StreamSubscriptions();
  /** The merged latest fields per contract, so a second listener starts with a full quote, not only the next changes. */
  private readonly latestFields = new Map<string, Record<string, unknown>>();
  private readonly timing: StreamTiming;
  private readonly reconnects: Backoff;
  private readonly scheduler: Scheduler;
  private readonly now: () => number;

  private socket: WebSocket | null = null;
  /** Bumped for every attempt and on close, so a late callback of an old attempt does nothing. */
  private generation = 0;
  private openedAt: number | null = null;
  private lastSocketError = '';
  private gapStart: { from: number; reason: string; subscriptions: string[] } | null = null;

  private watchdogTimer: unknown = null;
  private ticTimer: unknown = null;
  private sessionWaitTimer: unknown = null;
  private reconnectTimer: unknown = null;
  private readonly renewTimers = new Map<string, unknown>();
  private closing: Promise<void> | null = null;

  constructor(private readonly options: IbkrStreamOptions) {
    super();
    this.timing = { ...DEFAULT_STREAM_TIMING, ...options.timing };
    const backoff = { ...DEFAULT_STREAM_BACKOFF, ...options.backoff };
    this.reconnects = new Backoff({ baseMs: backoff.initialMs, capMs: backoff.maxMs, random: options.random });
    this.scheduler = options.scheduler ?? realScheduler;
    this.now = options.now ?? Date.now;
  }

  get state(): StreamState {
    return this.current;
  }

  /** The subscription keys currently held ('smd+<conid>', 'sor', 'spl'). */
  subscriptionKeys(): string[] {
    return this.subscriptions.keys();
  }

  /** Opens the socket (subscribing does it too). Idempotent. */
  start(): void {
    if (this.current !== 'idle') return;
    void this.connect('connecting', 'opening the IBKR stream');
  }

  /**
   * Streams `fields` of a contract to `listener` as IBKR's changed-fields-only smd messages (a new listener first
   * gets the latest known fields). Several listeners of one contract share one IBKR subscription.
   */
  subscribeMarketData(conid: number | string, fields: readonly string[], listener: MarketDataListener): SubscriptionHandle {
    this.assertNotClosed();
    const target = streamTarget(conid);
    const { id, change } = this.subscriptions.addMarketData(target, streamFields(fields), listener);
    if (change) this.apply(change, target);
    let active = true;
    const latest = this.latestFields.get(target);
    if (latest) {
      const replay = { ...latest };
      queueMicrotask(() => {
        if (active) this.deliver(() => listener(replay));
      });
    }
    this.start();
    return {
      unsubscribe: () => {
        if (!active) return;
        active = false;
        const removal = this.subscriptions.removeMarketData(target, id);
        if (removal) this.apply(removal, target);
      },
    };
  }

  /** Order updates (`sor`): each message is IBKR's array of changed order fields. */
  subscribeOrders(listener: OrdersListener): SubscriptionHandle {
    this.assertNotClosed();
    const { id, change } = this.subscriptions.addOrders(listener);
    if (change) this.apply(change);
    this.start();
    return this.handle(() => this.subscriptions.removeOrders(id));
  }

  /** P&L updates (`spl`): `{"U1234567.Core": {dpl, nl, upl, uel, mv}}`. */
  subscribePnl(listener: PnlListener): SubscriptionHandle {
    this.assertNotClosed();
    const { id, change } = this.subscriptions.addPnl(listener);
    if (change) this.apply(change);
    this.start();
    return this.handle(() => this.subscriptions.removePnl(id));
  }

  /** Stops for good: every timer and the socket are released. Idempotent; resolves once the socket is closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.generation++;
    this.clearTimers();
    this.gapStart = null;
    this.closing = this.dropSocket();
    this.setState('closed', 'IBKR stream closed');
    return this.closing;
  }

  // ---- connection ----

  private async connect(state: 'connecting' | 'reconnecting', reason: string): Promise<void> {
    const generation = ++this.generation;
    this.reconnectTimer = null;
    this.setState(state, reason);
    this.armWatchdog(`IBKR WebSocket did not open within ${seconds(this.timing.heartbeatTimeoutMs)} s`);
    let target: StreamTarget;
    try {
      target = await this.options.target();
    } catch (err) {
      if (generation === this.generation) this.lose(`no IBKR session for the stream (${redactText(errorMessage(err))})`);
      return;
    }
    if (generation !== this.generation) return;

    this.lastSocketError = '';
    let ws: WebSocket;
    try {
      ws = new WebSocket(target.url, {
        headers: target.headers,
        skipUTF8Validation: true, // IBKR sometimes sends bytes that are not valid UTF-8 (fact sheet, section 4)
        ...this.tlsOptions(target),
      });
    } catch (err) {
      this.lose(`cannot open the IBKR WebSocket at ${redactText(target.url)} (${redactText(errorMessage(err))}): check the IBKR connection's URL and certificate`);
      return;
    }
    this.socket = ws;
    const session = target.session ?? sessionFromCookie(headerValue(target.headers, 'cookie'));

    ws.on('open', () => {
      if (this.socket !== ws) return;
      if (session) ws.send(sessionMessage(session));
      this.scheduleTic();
    });
    ws.on('message', (data: WebSocket.RawData) => {
      if (this.socket !== ws) return;
      this.armWatchdog(`no heartbeat from IBKR for ${seconds(this.timing.heartbeatTimeoutMs)} s (link dead)`);
      this.handleFrame(readServerFrame(rawText(data)));
    });
    ws.on('error', (err: Error) => {
      this.lastSocketError = redactText(err.message);
    });
    ws.on('close', (code: number, why: Buffer) => {
      if (this.socket !== ws) return;
      const said = why.length > 0 ? `: ${redactText(why.toString('utf8'))}` : '';
      const refused = /\b40[13]\b/.test(this.lastSocketError) ? ': IBKR refused the session, a fresh one is asked for' : '';
      const error = this.lastSocketError ? ` (${this.lastSocketError})${refused}` : '';
      this.lose(`IBKR WebSocket closed, code ${code}${said}${error}`);
    });
  }

  /** The link is gone or unusable: drop it, open a gap if data was flowing, and retry after a jittered backoff. */
  private lose(reason: string): void {
    if (this.current === 'closed') return;
    this.generation++;
    void this.dropSocket();
    this.clearTimers();
    if (this.openedAt !== null && this.now() - this.openedAt >= this.timing.heartbeatTimeoutMs) this.reconnects.reset();
    this.openedAt = null;
    const delayMs = this.reconnects.next();
    this.options.logger?.warn?.(`IBKR stream lost: ${reason}; reconnecting in ${seconds(delayMs)} s`);
    this.setState('reconnecting', `${reason}; reconnecting in ${seconds(delayMs)} s`, reason);
    this.reconnectTimer = this.scheduler.setTimeout(() => {
      void this.connect('reconnecting', `reconnecting after: ${reason}`);
    }, delayMs);
  }

  /** IBKR accepted the session: (re)send every subscription, then report open (and close the gap, if any). */
  private goOpen(): void {
    this.clearTimer('sessionWaitTimer');
    for (const { key, command } of this.subscriptions.allCommands()) {
      this.send(command);
      if (key.startsWith('smd+')) this.scheduleRenewal(key.slice(4));
    }
    this.openedAt = this.now();
    this.setState('open', 'IBKR stream open');
  }

  private waitForSession(reason: string): void {
    this.setState('waiting-session', reason);
    if (this.sessionWaitTimer !== null) return;
    this.sessionWaitTimer = this.scheduler.setTimeout(() => {
      this.sessionWaitTimer = null;
      this.lose(`IBKR brokerage session not ready after ${seconds(this.timing.sessionWaitMs)} s`);
    }, this.timing.sessionWaitMs);
  }

  private handleFrame(frame: ServerFrame): void {
    switch (frame.kind) {
      case 'heartbeat':
        return;
      case 'connected':
        if (this.current !== 'waiting-session' && this.current !== 'open') this.goOpen();
        return;
      case 'waiting-session':
        this.waitForSession('IBKR is waiting for the brokerage session (log in, or another IBKR login holds it)');
        return;
      case 'status':
        this.emit('status', { authenticated: frame.authenticated, competing: frame.competing, message: frame.message });
        if (frame.authenticated && this.current !== 'open') this.goOpen();
        else if (!frame.authenticated) {
          this.waitForSession(`IBKR session not authenticated${frame.competing ? ' (competing login elsewhere)' : ''}`);
        }
        return;
      case 'market-data': {
        const listeners = this.subscriptions.marketDataListeners(frame.target);
        if (listeners.length === 0) return; // late data of an unsubscribed contract
        const latest = this.latestFields.get(frame.target);
        if (latest) Object.assign(latest, frame.raw);
        else this.latestFields.set(frame.target, { ...frame.raw });
        for (const listener of listeners) this.deliver(() => listener(frame.raw));
        return;
      }
      case 'orders':
        for (const listener of this.subscriptions.ordersListeners()) this.deliver(() => listener(frame.orders));
        return;
      case 'pnl':
        for (const listener of this.subscriptions.pnlListeners()) this.deliver(() => listener(frame.pnl));
        return;
      case 'error': {
        const error = new IbkrStreamError(frame.text);
        this.options.logger?.warn?.(error.message);
        this.emit('server-error', error);
        return;
      }
      case 'other':
        this.emit('message', frame.topic, frame.raw);
        return;
      case 'unreadable':
        this.options.logger?.debug?.(`IBKR stream: ignored a frame that is not JSON: ${redactText(frame.text)}`);
        return;
    }
  }

  /** The same trust rule as the REST transport: a pinned certificate, or the user's self-signed consent, else verify. */
  private tlsOptions(target: StreamTarget): tls.ConnectionOptions {
    if (target.certificatePem) {
      const pinned = new X509Certificate(target.certificatePem).fingerprint256;
      return {
        ca: target.certificatePem,
        checkServerIdentity: (host, cert) => (cert.fingerprint256 === pinned ? undefined : tls.checkServerIdentity(host, cert)),
      };
    }
    if (target.allowSelfSigned) return { rejectUnauthorized: false };
    const own = this.options.tls;
    return {
      ...(own?.ca !== undefined ? { ca: own.ca } : {}),
      ...(own?.rejectUnauthorized !== undefined ? { rejectUnauthorized: own.rejectUnauthorized } : {}),
    };
  }

  // ---- subscriptions ----

  private apply(change: SubscriptionChange, target?: string): void {
    if (this.current === 'open') this.send(change.command);
    if (target === undefined) return;
    if (change.kind === 'subscribe' && this.current === 'open') this.scheduleRenewal(target);
    if (change.kind === 'unsubscribe') {
      this.clearRenewal(target);
      this.latestFields.delete(target);
    }
  }

  private handle(remove: () => SubscriptionChange | null): SubscriptionHandle {
    let active = true;
    return {
      unsubscribe: () => {
        if (!active) return;
        active = false;
        const change = remove();
        if (change) this.apply(change);
      },
    };
  }

  private scheduleRenewal(target: string): void {
    this.clearRenewal(target);
    this.renewTimers.set(
      target,
      this.scheduler.setTimeout(() => {
        this.renewTimers.delete(target);
        const command = this.subscriptions.marketDataCommand(target);
        if (command === null || this.current !== 'open') return;
        this.send(command);
        this.scheduleRenewal(target);
      }, this.timing.marketDataRenewMs),
    );
  }

  private clearRenewal(target: string): void {
    const timer = this.renewTimers.get(target);
    if (timer !== undefined) this.scheduler.clearTimeout(timer);
    this.renewTimers.delete(target);
  }

  // ---- plumbing ----

  private send(command: string): void {
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    ws.send(command);
    this.options.logger?.debug?.(`IBKR stream → ${command}`);
  }

  private scheduleTic(): void {
    this.ticTimer = this.scheduler.setTimeout(() => {
      this.send(TIC);
      this.scheduleTic();
    }, this.timing.ticIntervalMs);
  }

  private armWatchdog(reason: string): void {
    if (this.watchdogTimer !== null) this.scheduler.clearTimeout(this.watchdogTimer);
    this.watchdogTimer = this.scheduler.setTimeout(() => {
      this.watchdogTimer = null;
      this.lose(reason);
    }, this.timing.heartbeatTimeoutMs);
  }

  /** A listener's failure is its own: it is logged and never stops the stream or the other listeners. */
  private deliver(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.options.logger?.warn?.(`IBKR stream: a subscriber failed on an update: ${redactText(errorMessage(err))}`);
    }
  }

  private setState(next: StreamState, reason: string, gapReason = reason): void {
    const previous = this.current;
    if (previous === next) return;
    this.current = next;
    const now = this.now();
    if (previous === 'open' && next !== 'closed') {
      this.gapStart = { from: now, reason: gapReason, subscriptions: this.subscriptions.keys() };
    }
    this.emit('state', next, reason);
    if (next === 'open' && this.gapStart) {
      const gap: StreamGap = { ...this.gapStart, to: now };
      this.gapStart = null;
      this.emit('gap', gap);
    }
  }

  private clearTimer(name: 'watchdogTimer' | 'ticTimer' | 'sessionWaitTimer' | 'reconnectTimer'): void {
    const timer = this[name];
    if (timer !== null) this.scheduler.clearTimeout(timer);
    this[name] = null;
  }

  private clearTimers(): void {
    this.clearTimer('watchdogTimer');
    this.clearTimer('ticTimer');
    this.clearTimer('sessionWaitTimer');
    this.clearTimer('reconnectTimer');
    for (const target of [...this.renewTimers.keys()]) this.clearRenewal(target);
  }

  private dropSocket(): Promise<void> {
    const ws = this.socket;
    this.socket = null;
    if (!ws) return Promise.resolve();
    ws.removeAllListeners();
    ws.on('error', () => undefined); // a late error of a socket we already gave up must not crash the process
    if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.terminate();
    });
  }

  private assertNotClosed(): void {
    if (this.current === 'closed') {
      throw new IbkrError('IBKR_CLOSED', 'IBKR stream is closed (flow redeployed or stopped): subscribe on the new connection.');
    }
  }
}


function seconds(ms: number): string {
  return String(Math.round(ms / 100) / 10);
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function rawText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
