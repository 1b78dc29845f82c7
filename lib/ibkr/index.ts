// IbkrConnection: one IBKR connection, owning one transport, one limiter tree, one session keeper and one client
// (the ibkr-config node holds exactly one). Events: 'state' (SessionStateEvent), 'rate-limited'
// ({path?, pauseMs, reason}), 'log' (level, message).

import { EventEmitter } from 'node:events';
import { InvalidInputError } from '../errors';
import { GatewayAuth } from './auth/gateway';
import { OAuth1aAuth, type OAuth1aCredentials } from './auth/oauth1a';
import { OAuth2Auth, type OAuth2Credentials } from './auth/oauth2';
import { SimulatorAuth } from './auth/simulator';
import type { AuthProvider, WebSocketTarget } from './auth/types';
import { IbkrClient } from './client';
import { IbkrLimiter, type ClusterSettings, type FamilyLimit, type LimiterCounts, type PauseEvent, type RatePreset } from './limiter';
import { realScheduler, type Scheduler } from './scheduler';
import { SessionKeeper, type SessionState, type SessionStateEvent } from './session';
import { Transport, type TraceEntry } from './transport';

export type ConnectionMode = 'simulator' | 'gateway' | 'oauth1a' | 'oauth2';

export interface IbkrLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface IbkrConnectionOptions {
  mode: ConnectionMode;
  baseUrl?: string;
  accountId?: string;
  /** Gateway only: accept its self-signed certificate, for the Gateway's host only. */
  allowSelfSigned?: boolean;
  /** Simulator: the certificate it generated, pinned. */
  simulatorCertificatePem?: string;
  paper?: boolean;
  marketDataEnabled?: boolean;
  /** Orders are refused (nothing sent) unless this is true. */
  tradingEnabled?: boolean;
  ratePreset?: RatePreset;
  /** Shares the rate limits over Redis; the cluster id defaults to one derived from `accountId`. */
  cluster?: ClusterSettings;
  /** Stricter (or, in tests, shorter) endpoint-family limits than the documented ones. */
  familyLimits?: Partial<Record<string, FamilyLimit>>;
  credentials?: { oauth1a?: OAuth1aCredentials; oauth2?: OAuth2Credentials };
  /** CME Rule 536-B operator id on futures orders. */
  extOperator?: string;
  logger?: IbkrLogger;
  clock?: () => number;
  scheduler?: Scheduler;
  timeoutMs?: number;
  tickleIntervalMs?: number;
  /** Request/response tracing (redacted). */
  debug?: (entry: TraceEntry) => void;
}

function authFor(options: IbkrConnectionOptions, now: () => number): AuthProvider {
  switch (options.mode) {
    case 'simulator':
      if (!options.baseUrl) throw new InvalidInputError('IBKR simulator mode needs the simulator base URL.');
      return new SimulatorAuth({ baseUrl: options.baseUrl, certificatePem: options.simulatorCertificatePem });
    case 'gateway':
      return new GatewayAuth({ baseUrl: options.baseUrl, allowSelfSigned: options.allowSelfSigned });
    case 'oauth1a':
      if (!options.credentials?.oauth1a) throw new InvalidInputError('IBKR OAuth 1.0a mode needs its credentials (consumer key, tokens, keys).');
      return new OAuth1aAuth({ ...options.credentials.oauth1a, baseUrl: options.baseUrl, now });
    case 'oauth2':
      if (!options.credentials?.oauth2) throw new InvalidInputError('IBKR OAuth 2.0 mode needs its credentials (client id and key).');
      return new OAuth2Auth({ ...options.credentials.oauth2, baseUrl: options.baseUrl, now });
    default:
      throw new InvalidInputError(`Unknown IBKR connection mode "${String(options.mode)}": use simulator, gateway, oauth1a or oauth2.`);
  }
}

/** Session states of a normal start and close: logged as info; the others need the trader's eye (warn). */
const ROUTINE_STATES: ReadonlySet<SessionState> = new Set(['connecting', 'authenticated', 'disconnected']);

export class IbkrConnection extends EventEmitter {
  readonly options: IbkrConnectionOptions;
  readonly auth: AuthProvider;
  readonly limiter: IbkrLimiter;
  readonly transport: Transport;
  readonly session: SessionKeeper;
  readonly client: IbkrClient;
  private closing: Promise<void> | undefined;

  constructor(options: IbkrConnectionOptions) {
    super();
    this.options = options;
    const now = options.clock ?? Date.now;
    const scheduler = options.scheduler ?? realScheduler;
    this.auth = authFor(options, now);
    // IBKR counts requests per username; without an explicit id the instances of one account share its limits.
    const cluster = options.cluster && { ...options.cluster, username: options.cluster.username ?? options.accountId };
    // The limiter keeps its own monotonic clock unless the connection runs on an injected one (tests).
    this.limiter = new IbkrLimiter({
      preset: options.ratePreset,
      cluster,
      familyLimits: options.familyLimits,
      ...(options.clock ? { now: options.clock } : {}),
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
    });
    this.transport = new Transport({
      auth: this.auth,
      limiter: this.limiter,
      scheduler,
      now,
      timeoutMs: options.timeoutMs,
      debug: options.debug,
    });
    this.session = new SessionKeeper({
      api: {
        authStatus: () => this.client.authStatus(),
        tickle: () => this.client.tickle(),
        ssodhInit: () => this.client.ssodhInit(),
        accounts: () => this.client.accounts(),
      },
      renewCredentials: () => this.transport.ensureAuth(true),
      canRenew: options.mode === 'oauth1a' || options.mode === 'oauth2',
      scheduler,
      tickleIntervalMs: options.tickleIntervalMs,
      log: (level, message) => this.log(level, message),
    });
    this.client = new IbkrClient(this.transport, this.session, {
      accountId: options.accountId,
      tradingEnabled: options.tradingEnabled === true,
      extOperator: options.extOperator,
      scheduler,
    });

    this.session.on('state', (event: SessionStateEvent) => {
      this.log(ROUTINE_STATES.has(event.state) ? 'info' : 'warn', `IBKR session ${event.state}: ${event.reason}`);
      this.emit('state', event);
    });
    this.limiter.on('paused', (event: PauseEvent) => {
      this.session.noteRateLimited(event.ms, `IBKR rate limit: every request paused for ${Math.ceil(event.ms / 1000)} s (${event.reason})`);
      this.emit('rate-limited', { pauseMs: event.ms, reason: event.reason });
    });
    this.limiter.on('resumed', () => this.session.noteResumed());
    this.limiter.on('log', (level: 'warn', message: string) => this.log(level, message));
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.options.logger?.[level](message);
    this.emit('log', level, message);
  }

  get state(): SessionState {
    return this.session.state;
  }

  get tradingEnabled(): boolean {
    return this.client.tradingEnabled;
  }

  counts(): LimiterCounts {
    return this.limiter.getCounts();
  }

  /** Obtains credentials (OAuth) and checks the session. Failures are reported as states, not thrown. */
  async start(): Promise<void> {
    try {
      await this.transport.ensureAuth();
    } catch (err) {
      this.log('error', err instanceof Error ? err.message : String(err));
    }
    await this.session.start();
  }

  /** Where and how the streaming module opens the one WebSocket of this connection. */
  async websocketTarget(): Promise<WebSocketTarget & { certificatePem?: string; allowSelfSigned?: boolean }> {
    const session = await this.session.websocketSession();
    return { ...this.auth.websocketTarget(session), ...this.auth.tls };
  }

  /** Stops timers, drops queued requests, closes sockets. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        this.session.close();
        await this.limiter.stop();
        this.transport.close();
        this.auth.close();
      })();
    }
    return this.closing;
  }
}

export { IbkrClient, refuseAllQuestions } from './client';
export * from './errors';
export * from './types';
export { FIELD_IDS, parseWireNumber, parseWirePrice, parseAvailability } from './wire';
export type { FieldName, Availability, DataSource } from './wire';
export { IbkrLimiter, endpointFamily, FAMILY_LIMITS, RATE_PRESETS } from './limiter';
export type { RatePreset, ClusterSettings, LimiterCounts } from './limiter';
export { SessionKeeper } from './session';
export type { SessionState, SessionStateEvent } from './session';
export { Transport } from './transport';
export type { TraceEntry, IbkrRequest } from './transport';
export type { WebSocketTarget, AuthProvider } from './auth/types';
export { frontMonth } from './futures';
export { BAR_SIZES } from './history';
export { redact, redactText } from './redact';
