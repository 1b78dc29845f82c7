// The session keeper: one per connection. It keeps IBKR's session alive (POST /tickle about every 60 s; a silent
// session dies after 5–6 min), opens the brokerage session when IBKR says "connected but not authenticated"
// (ssodh/init), notices competing logins, recovers from the nightly /iserver restart, and primes
// GET /iserver/accounts once per session for the calls that need it. Every state change is an event with a reason
// a trader can read. Timers come from an injectable scheduler; close() clears them all.

import { EventEmitter } from 'node:events';
import { Backoff } from '../backoff';
import { errorMessage } from '../errors';
import {
  IbkrError,
  NetworkError,
  NotAuthenticatedError,
  RateLimitedError,
  ServerError,
  SessionExpiredError,
  TimeoutError,
} from './errors';
import type { Primer } from './client';
import { realScheduler, type Scheduler } from './scheduler';
import type { AuthStatus, BrokerageAccounts, TickleResult } from './types';

export type SessionState = 'connecting' | 'authenticated' | 'competing' | 'expired' | 'reconnecting' | 'rate-limited' | 'disconnected';

export interface SessionStateEvent {
  state: SessionState;
  previous: SessionState;
  reason: string;
}

export interface SessionApi {
  authStatus(): Promise<AuthStatus>;
  tickle(): Promise<TickleResult>;
  ssodhInit(): Promise<AuthStatus>;
  accounts(): Promise<BrokerageAccounts>;
}

export interface SessionKeeperOptions {
  api: SessionApi;
  /** Obtains fresh credentials (OAuth: a new LST or bearer token). Gateway: nothing to do. */
  renewCredentials?: () => Promise<void>;
  /** True when credentials can be renewed without a human (OAuth); false for the Gateway's browser login. */
  canRenew?: boolean;
  scheduler?: Scheduler;
  tickleIntervalMs?: number;
  /** Retries after a failure: full jitter up to retryMs, doubled per failure up to maxRetryMs (the nightly restart
   * lasts minutes). */
  retryMs?: number;
  maxRetryMs?: number;
  /** [0, 1), the retries' jitter. */
  random?: () => number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

/** Events: 'state' (SessionStateEvent), 'session' (the /tickle session id, for the WebSocket). */
export class SessionKeeper extends EventEmitter implements Primer {
  private readonly options: SessionKeeperOptions;
  private readonly scheduler: Scheduler;
  private current: SessionState = 'disconnected';
  private beforeRateLimit: SessionState | undefined;
  private timer: unknown;
  private closed = false;
  private readonly retries: Backoff;
  private primed = false;
  private priming: Promise<void> | undefined;
  private primingCount = 0;
  private session = '';
  private running: Promise<void> | undefined;

  constructor(options: SessionKeeperOptions) {
    super();
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.retries = new Backoff({ baseMs: options.retryMs ?? 5_000, capMs: Math.max(options.maxRetryMs ?? 60_000, options.retryMs ?? 5_000), random: options.random });
  }

  get state(): SessionState {
    return this.current;
  }

  get sessionId(): string {
    return this.session;
  }

  private setState(state: SessionState, reason: string): void {
    if (this.closed && state !== 'disconnected') return;
    if (state === this.current) return;
    const previous = this.current;
    this.current = state;
    if (state !== 'authenticated' && state !== 'rate-limited') this.primed = false;
    this.emit('state', { state, previous, reason } satisfies SessionStateEvent);
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.options.log?.(level, message);
  }

  /** Starts checking the session; resolves after the first check (whatever its outcome, reported as a state). */
  start(): Promise<void> {
    this.closed = false;
    this.setState('connecting', 'Checking the IBKR session');
    return this.runCheck();
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined;
      void this.runCheck(true);
    }, ms);
  }

  private runCheck(viaTickle = false): Promise<void> {
    if (!this.running) {
      this.running = (viaTickle && this.current === 'authenticated' ? this.tickleOnce() : this.check()).finally(() => {
        this.running = undefined;
      });
    }
    return this.running;
  }

  /** Checks auth status and opens the brokerage session if needed. Never throws: outcomes become states. */
  async check(): Promise<void> {
    try {
      let status = await this.options.api.authStatus();
      if (status.connected && !status.authenticated && !status.competing) {
        this.noteBrokerageClosed(status);
        await this.options.api.ssodhInit();
        status = await this.options.api.authStatus();
      }
      this.applyStatus(status);
    } catch (err) {
      await this.handleFailure(err);
    }
  }

  /**
   * IBKR closed the brokerage session (idle timeout, the nightly reset): said out loud before it is reopened, so a
   * trader sees it happened. Not an expiry on the first check of a connection (the session is not open yet) nor
   * after a competing login left (the session is being taken back, and the state already says so).
   */
  private noteBrokerageClosed(status: AuthStatus): void {
    const detail = [status.fail, status.message].filter(Boolean).join('; ');
    if (this.current === 'connecting' || this.current === 'competing') {
      this.log('info', `IBKR brokerage session not open${detail ? ` (${detail})` : ''}: opening it (ssodh/init)`);
      return;
    }
    this.setState(
      'expired',
      `IBKR closed the brokerage session${detail ? ` (${detail})` : ''}, after an idle timeout or its nightly reset: reopening it (ssodh/init). Orders and market data resume once it is back.`,
    );
  }

  private async tickleOnce(): Promise<void> {
    try {
      const result = await this.options.api.tickle();
      if (result.session && result.session !== this.session) {
        this.session = result.session;
        this.emit('session', result.session);
      }
      if (result.status && !result.status.authenticated) {
        await this.check(); // ssodh/init path
        return;
      }
      if (result.status) this.applyStatus(result.status);
      else this.scheduleTickle();
    } catch (err) {
      await this.handleFailure(err);
    }
  }

  private applyStatus(status: AuthStatus): void {
    if (status.competing) {
      this.setState(
        'competing',
        'Another IBKR login (TWS, mobile or the Portal) holds the brokerage session: log out there or use a second username. Retrying.',
      );
      this.scheduleRetry();
      return;
    }
    if (!status.authenticated) {
      this.setState(
        'expired',
        status.connected
          ? `IBKR brokerage session not open${status.fail ? ` (${status.fail})` : ''}: retrying ssodh/init.`
          : 'IBKR session not logged in: log in to the Client Portal Gateway in a browser (two-factor), the connection then resumes.',
      );
      this.scheduleRetry();
      return;
    }
    this.retries.reset();
    this.setState('authenticated', 'IBKR session authenticated');
    this.scheduleTickle();
    void this.ensurePrimed().catch((err: unknown) => this.log('warn', `IBKR account priming failed: ${errorMessage(err)}`));
  }

  private scheduleTickle(): void {
    this.schedule(this.options.tickleIntervalMs ?? 60_000);
  }

  private scheduleRetry(): void {
    const ms = this.retries.next();
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = this.scheduler.setTimeout(() => {
      this.timer = undefined;
      void this.runCheck(false);
    }, ms);
  }

  private async handleFailure(err: unknown): Promise<void> {
    if (this.closed) return;
    if (err instanceof RateLimitedError) {
      this.noteRateLimited(err.retryAfterMs, err.message);
      return;
    }
    if (err instanceof SessionExpiredError || err instanceof NotAuthenticatedError) {
      this.setState('expired', err.message);
      if (this.options.canRenew && this.options.renewCredentials) {
        try {
          await this.options.renewCredentials();
          this.setState('reconnecting', 'New IBKR session token obtained: reopening the brokerage session');
        } catch (renewErr) {
          this.log('warn', errorMessage(renewErr));
        }
      }
      this.scheduleRetry();
      return;
    }
    if (err instanceof NetworkError || err instanceof TimeoutError || err instanceof ServerError) {
      // The nightly /iserver restart and Gateway restarts look like this: keep trying with backoff.
      this.setState('reconnecting', `${err.message} Reconnecting.`);
      this.scheduleRetry();
      return;
    }
    this.log('error', `IBKR session check failed: ${errorMessage(err)}`);
    this.setState('reconnecting', err instanceof IbkrError ? err.message : `IBKR session check failed: ${errorMessage(err)}`);
    this.scheduleRetry();
  }

  /** The limiter paused the connection after a 429: shown as a state until the pause ends. */
  noteRateLimited(ms: number, reason: string): void {
    if (this.closed) return;
    if (this.current !== 'rate-limited') this.beforeRateLimit = this.current;
    this.setState('rate-limited', reason || `IBKR rate limit: paused for ${Math.ceil(ms / 1000)} s`);
  }

  /** The limiter resumed: back to the state held before, confirmed by a fresh check. */
  noteResumed(): void {
    if (this.closed || this.current !== 'rate-limited') return;
    const back = this.beforeRateLimit ?? 'connecting';
    this.beforeRateLimit = undefined;
    this.setState(back, 'IBKR rate-limit pause over');
    void this.runCheck(false);
  }

  /** GET /iserver/accounts once per brokerage session, shared by concurrent callers. */
  ensurePrimed(): Promise<void> {
    if (this.primed) return Promise.resolve();
    if (!this.priming) {
      this.priming = this.options.api
        .accounts()
        .then(() => {
          this.primed = true;
          this.primingCount += 1;
        })
        .finally(() => {
          this.priming = undefined;
        });
    }
    return this.priming;
  }

  invalidatePriming(): void {
    this.primed = false;
  }

  /** How many times the accounts were primed: a new count is a new brokerage session (see Primer). */
  get primings(): number {
    return this.primingCount;
  }

  /**
   * The session id for the WebSocket cookie. Always asks /tickle: after a re-login IBKR issues a new session id,
   * and a cached one would keep the stream locked out until the next scheduled tickle.
   */
  async websocketSession(): Promise<string> {
    const result = await this.options.api.tickle();
    this.session = result.session;
    return this.session;
  }

  close(): void {
    if (this.timer !== undefined) this.scheduler.clearTimeout(this.timer);
    this.timer = undefined;
    this.setState('disconnected', 'IBKR connection closed');
    this.closed = true;
  }
}
