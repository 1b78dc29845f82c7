// The only place IBKR is called over HTTP. Every request passes the connection's limiter tree, is decorated by
// the auth provider (cookie, bearer, OAuth signature) just before it leaves, and comes back as parsed JSON or a
// typed IbkrError. Reads (idempotent) are retried on timeouts and 5xx; orders are never resent blind: a timeout
// on an order is reported as "outcome unknown" so the caller looks the order up by its client order id.

import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import axios, { type AxiosInstance, type AxiosError } from 'axios';
import type { AuthHttp, AuthProvider, OutgoingRequest, RawResponse } from './auth/types';
import {
  IbkrError,
  NetworkError,
  RateLimitedError,
  TimeoutError,
  mapHttpError,
  AccountsNotPrimedError,
} from './errors';
import type { IbkrLimiter } from './limiter';
import type { Priority } from './limits';
import { Backoff } from '../backoff';
import { redact, redactText } from './redact';
import { realScheduler, sleep, type Scheduler } from './scheduler';

export type QueryValue = string | number | boolean | undefined;

export interface IbkrRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  /** Path under the base URL, e.g. /iserver/accounts. */
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** Safe to send twice. Defaults to true for GET only. */
  idempotent?: boolean;
  timeoutMs?: number;
  /** Who goes first when requests wait (./limits.ts). Default: 'quote', the middle of the order. */
  priority?: Priority;
  /**
   * Called at the instant the request leaves (after any wait in the limiter): throwing stops it, unsent, with that
   * error. An order authorized before a wait must still be allowed when it departs (kill switch, trading switch).
   */
  beforeSend?: () => void;
}

export interface TraceEntry {
  direction: 'request' | 'response' | 'error';
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  status?: number;
  elapsedMs?: number;
}

export interface TransportOptions {
  auth: AuthProvider;
  limiter: IbkrLimiter;
  timeoutMs?: number;
  /** Retries of an idempotent read after a timeout, a network error or a 5xx (IBKR: ibind retries 3 times). */
  maxRetries?: number;
  retryBaseMs?: number;
  /** The longest wait between two retries (default 8 s). */
  retryCapMs?: number;
  /** Retries of an idempotent read after a 429, each after the limiter's pause. */
  maxRateLimitRetries?: number;
  userAgent?: string;
  scheduler?: Scheduler;
  now?: () => number;
  random?: () => number;
  /** Request/response tracing; every entry is redacted before it is handed over. */
  debug?: (entry: TraceEntry) => void;
}

/** Node's codes for a server certificate that failed verification (a self-signed Gateway among them). */
const TLS_REFUSALS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export const DEFAULT_USER_AGENT = 'mia-ia-node-red-ibkr-sierra/0.1';

export function buildUrl(baseUrl: string, path: string, query?: Record<string, QueryValue>): string {
  const base = baseUrl.replace(/\/+$/, '');
  const url = /^https?:\/\//.test(path) ? path : `${base}${path.startsWith('/') ? '' : '/'}${path}`;
  const pairs = Object.entries(query ?? {}).filter((e): e is [string, string | number | boolean] => e[1] !== undefined);
  if (pairs.length === 0) return url;
  const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&');
  return `${url}${url.includes('?') ? '&' : '?'}${qs}`;
}

function headerMap(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      if (v !== undefined && v !== null) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    }
  }
  return out;
}

function parseBody(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Retry-After in seconds or an HTTP date, as ms. */
function retryAfterMs(headers: Record<string, string>, now: number): number | undefined {
  const value = headers['retry-after'];
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** One HTTP exchange as it ended, for the connection's metrics (lib/metrics). No headers, no body, no query. */
export interface ExchangeEvent {
  method: string;
  /** The URL's path only: query strings can carry secrets. */
  url: string;
  startedAt: number;
  elapsedMs: number;
  /** Undefined when no answer came (timeout, network error). */
  status?: number;
}

/**
 * Events: 'rate-limited' ({path, pauseMs}), 'exchange' (ExchangeEvent) after every HTTP exchange, 'log' (level,
 * message) for retries, already redacted.
 */
/** An idle kept-alive socket is closed after this long at most (sooner when the server hints a shorter keep-alive). */
const IDLE_SOCKET_TIMEOUT_MS = 30_000;

export class Transport extends EventEmitter implements AuthHttp {
  private readonly axios: AxiosInstance;
  private readonly options: TransportOptions;
  private readonly agents = new Map<string, http.Agent>();
  private readonly scheduler: Scheduler;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly ownOrigin: string;
  private renewal: Promise<void> | undefined;

  constructor(options: TransportOptions) {
    super();
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.ownOrigin = new URL(options.auth.baseUrl).origin;
    this.axios = axios.create({
      timeout: options.timeoutMs ?? 15_000,
      validateStatus: () => true,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      proxy: false,
    });
  }

  get baseUrl(): string {
    return this.options.auth.baseUrl;
  }

  /**
   * A per-origin agent: only the connection's own host gets the pinned or self-signed trust; others verify. Every agent
   * has a socket `timeout`: Node's agent closes an idle kept-alive socket 1 s before the server's `Keep-Alive:
   * timeout=N` hint only when it has one. Without it the agent kept a socket the server closes after 5 s idle (Node's
   * default), and a request sent at that instant (the options chain's first one, 5 s after the start-up burst) died
   * with ECONNRESET: for a POST an "outcome unknown" error. Axios sets each request's own timeout over this one.
   */
  private agentFor(url: string): http.Agent {
    const { origin, protocol } = new URL(url);
    let agent = this.agents.get(origin);
    if (agent) return agent;
    if (protocol === 'http:') {
      agent = new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS });
    } else if (origin !== this.ownOrigin) {
      agent = new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS });
    } else {
      const trust = this.options.auth.tls;
      if (trust.certificatePem) {
        const pinned = new X509Certificate(trust.certificatePem).fingerprint256;
        agent = new https.Agent({
          keepAlive: true,
          timeout: IDLE_SOCKET_TIMEOUT_MS,
          ca: trust.certificatePem,
          checkServerIdentity: (host, cert) =>
            cert.fingerprint256 === pinned ? undefined : tls.checkServerIdentity(host, cert),
        });
      } else if (trust.allowSelfSigned) {
        // The user ticked "accept the Gateway's self-signed certificate": for this one origin only.
        agent = new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS, rejectUnauthorized: false });
      } else {
        agent = new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_TIMEOUT_MS });
      }
    }
    this.agents.set(origin, agent);
    return agent;
  }

  private trace(entry: TraceEntry): void {
    if (!this.options.debug) return;
    this.options.debug(redact({ ...entry, url: redactText(entry.url) }));
  }

  /** One HTTP exchange, no retry, no limiter: the caller holds a limiter slot. */
  private async exchange(request: OutgoingRequest, timeoutMs?: number): Promise<RawResponse> {
    const started = this.now();
    const hasBody = request.body !== undefined;
    const data = hasBody ? (typeof request.body === 'string' ? request.body : JSON.stringify(request.body)) : undefined;
    const headers: Record<string, string> = { 'User-Agent': this.options.userAgent ?? DEFAULT_USER_AGENT, ...request.headers };
    if (hasBody && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['Content-Type'] = 'application/json';
    }
    this.trace({ direction: 'request', method: request.method, url: request.url, headers, body: request.body });
    const agent = this.agentFor(request.url);
    try {
      const res = await this.axios.request({
        method: request.method,
        url: request.url,
        headers,
        data,
        timeout: timeoutMs ?? this.options.timeoutMs ?? 15_000,
        httpAgent: agent,
        httpsAgent: agent,
      });
      const out: RawResponse = { status: res.status, data: parseBody(res.data), headers: headerMap(res.headers) };
      const elapsedMs = this.now() - started;
      this.trace({ direction: 'response', method: request.method, url: request.url, status: res.status, body: out.data, elapsedMs });
      this.recordExchange(request, started, elapsedMs, res.status);
      return out;
    } catch (err) {
      const elapsedMs = this.now() - started;
      this.trace({ direction: 'error', method: request.method, url: request.url, body: (err as Error).message, elapsedMs });
      this.recordExchange(request, started, elapsedMs, undefined);
      throw this.wireFailure(err as AxiosError, request);
    }
  }

  private recordExchange(request: OutgoingRequest, startedAt: number, elapsedMs: number, status: number | undefined): void {
    if (this.listenerCount('exchange') === 0) return;
    const event: ExchangeEvent = { method: request.method, url: new URL(request.url).pathname, startedAt, elapsedMs, status };
    this.emit('exchange', event);
  }

  private log(level: 'debug' | 'warn', message: string): void {
    this.emit('log', level, redactText(message));
  }

  private wireFailure(err: AxiosError, request: OutgoingRequest): IbkrError {
    const path = redactText(new URL(request.url).pathname);
    const ms = this.options.timeoutMs ?? 15_000;
    const unknownOutcome = request.method !== 'GET'
      ? ' The outcome is unknown: check live orders before sending anything again.'
      : ' Retrying reads on their own.';
    if (err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' || /timeout/i.test(err.message)) {
      return new TimeoutError(`IBKR did not answer ${request.method} ${path} within ${ms} ms.${unknownOutcome}`, { path, cause: err });
    }
    if (err.code !== undefined && TLS_REFUSALS.has(err.code)) {
      // The TLS handshake failed before anything was sent: the outcome is known (nothing happened).
      return new NetworkError(
        `IBKR at ${new URL(request.url).origin} presented a certificate that could not be verified (${err.code}): nothing was sent. ` +
          'For the Client Portal Gateway on your own machine, tick "Allow self-signed certificate" in the IBKR connection; otherwise check the base URL.',
        { path, cause: err },
      );
    }
    const why = err.code ? `${err.code}` : redactText(err.message);
    return new NetworkError(
      `Cannot reach IBKR at ${new URL(request.url).origin} (${why}): check that the Client Portal Gateway (or the network) is up and the base URL is right.${request.method !== 'GET' ? unknownOutcome : ''}`,
      { path, cause: err },
    );
  }

  /** AuthHttp: an undecorated exchange through the limiter, for a provider's own token calls. */
  send(request: OutgoingRequest): Promise<RawResponse> {
    // The provider's own token calls keep the session alive: they go before account and market-data reads.
    return this.options.limiter.schedule({ method: request.method, path: request.url, priority: 'session' }, () => this.exchange(request));
  }

  /** Renews the provider's tokens once, however many requests notice the expiry at the same time. */
  async ensureAuth(force = false): Promise<void> {
    const auth = this.options.auth;
    if (!force && !auth.needsRenewal(this.now())) return;
    if (!this.renewal) {
      if (force) auth.invalidate();
      this.renewal = auth.prepare(this).finally(() => {
        this.renewal = undefined;
      });
    }
    await this.renewal;
  }

  /** Sends one API request and returns the parsed JSON body, or throws a typed IbkrError. */
  async request<T = unknown>(req: IbkrRequest): Promise<T> {
    const idempotent = req.idempotent ?? req.method === 'GET';
    const maxRetries = this.options.maxRetries ?? 3;
    const maxRateRetries = this.options.maxRateLimitRetries ?? 3;
    const url = buildUrl(this.baseUrl, req.path, req.query);
    const limiter = this.options.limiter;
    const backoff = new Backoff({ baseMs: this.options.retryBaseMs ?? 250, capMs: this.options.retryCapMs ?? 8_000, random: this.random, scheduler: this.scheduler });
    const priority = req.priority ?? 'quote';
    let retries = 0;
    let rateRetries = 0;
    let renewed = false;
    for (;;) {
      await this.ensureAuth();
      let res: RawResponse;
      try {
        res = await limiter.schedule({ method: req.method, path: req.path, priority }, () => {
          req.beforeSend?.();
          const outgoing: OutgoingRequest = { method: req.method, url, headers: {}, body: req.body };
          // IBKR answers 411 to a body-less POST: send {} (fact sheet, section 1).
          if (outgoing.body === undefined && req.method === 'POST') outgoing.body = {};
          this.options.auth.decorate(outgoing);
          return this.exchange(outgoing, req.timeoutMs);
        });
      } catch (err) {
        const retryable = err instanceof TimeoutError || err instanceof NetworkError;
        if (idempotent && retryable && retries < maxRetries) {
          retries += 1;
          const waitMs = backoff.next();
          this.log('warn', `${(err as Error).message} Retry ${retries} of ${maxRetries} in ${waitMs} ms.`);
          await sleep(this.scheduler, waitMs);
          continue;
        }
        throw err;
      }
      if (res.status >= 200 && res.status < 300) {
        limiter.recordSuccess();
        return res.data as T;
      }
      if (res.status === 429) {
        const pauseMs = limiter.penalize(retryAfterMs(res.headers, this.now()), `429 on ${req.path}`);
        this.emit('rate-limited', { path: req.path, pauseMs });
        if (idempotent && rateRetries < maxRateRetries) {
          rateRetries += 1;
          this.log('debug', `IBKR 429 on ${req.method} ${req.path}: resending after the ${pauseMs} ms pause (${rateRetries} of ${maxRateRetries}).`);
          continue; // the limiter holds the retry until the pause ends
        }
        const error = mapHttpError(429, res.data, req.path, { retryAfterMs: pauseMs });
        throw error as RateLimitedError;
      }
      const error = mapHttpError(res.status, res.data, req.path);
      if (res.status === 410 && !renewed && this.options.auth.mode.startsWith('oauth')) {
        // OAuth 410: the session token is stale; IBKR did not process the request, so one resend is safe.
        renewed = true;
        await this.ensureAuth(true);
        continue;
      }
      if (idempotent && res.status >= 500 && !(error instanceof AccountsNotPrimedError) && retries < maxRetries) {
        retries += 1;
        const waitMs = backoff.next();
        this.log('warn', `IBKR answered ${res.status} to ${req.method} ${req.path}: retry ${retries} of ${maxRetries} in ${waitMs} ms.`);
        await sleep(this.scheduler, waitMs);
        continue;
      }
      throw error;
    }
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
