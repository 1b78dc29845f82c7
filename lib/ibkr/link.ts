// One live IBKR link as the ibkr-config node owns it (beside lib/sierra/connection.ts, the Sierra side's equivalent): the in-process simulator (simulator mode only), the one
// IbkrConnection, the one IbkrStream (created on first use), and the session commands of ibkr-auth. It turns the
// session keeper's events into IbkrStateEvents with the account id, in order, and closes everything it opened.
import { EventEmitter } from 'node:events';
import { errorMessage } from '../errors';
import { IbkrConnection, type TraceEntry, type SessionState, type SessionStateEvent } from '.';
import type { IbkrStream } from './stream';
import type { IbkrMetrics, IbkrMetricsPayload } from '../metrics';
import { startIbkrSimulator, type IbkrSimulator } from '../sim/ibkr';
import { Recorder } from '../replay/recorder';
import { acquireSimMarket, type SimMarketLease } from '../sim/shared-market';
import type { RecordedMarket, ReplayStatus } from '../replay/recorded-market';
import { acquireReplay, type ReplayLease } from '../replay/registry';
import { ObservedStream, formatTrace, metricsFor, observeConnection, type LinkLogger } from './link-observer';
import type { IbkrConnectionOptions } from '.';
import type { IbkrSimulatorOptions } from '../sim/ibkr';
import type { ReplaySpeed } from '../replay/recorded-market';


/** What an ibkr-config node's settings ask for (nodes/ibkr-config/settings.ts planConnection builds it). */
export interface ConnectionPlan {
  mode: IbkrConnectionOptions['mode'];
  paper: boolean;
  /** Without baseUrl in simulator mode: the simulator's own URL is filled in once it listens. */
  connection: IbkrConnectionOptions;
  simulator?: IbkrSimulatorOptions;
  /** Log every request and answer (redacted) at debug level. */
  traceRequests: boolean;
  /** Replay mode: the simulator serves this recording (mode and connection stay 'simulator': same client paths). */
  replay?: { file: string; speed: ReplaySpeed };
  /** Recording switched on: folder and per-day cap. */
  record?: { dir: string; maxBytes: number };
}

/** 'error': the settings cannot open a connection (missing credentials, bad URL). */
export type IbkrLinkState = SessionState | 'error';

export interface IbkrStateEvent {
  state: IbkrLinkState;
  previous: IbkrLinkState;
  /** What happened and what to do, in a trader's words. */
  reason: string;
  accountId: string | undefined;
  /** Set while trading is turned off by the account check (paper/live mismatch, account not in the login, unreadable). */
  tradingBlocked?: string;
  t: number;
}

export type SessionCommand = 'status' | 'login' | 'reauth' | 'logout';
export const SESSION_COMMANDS: readonly SessionCommand[] = ['status', 'login', 'reauth', 'logout'];

/**
 * IBKR streams market data about every 250 ms of real time; a replay at N× keeps that cadence in market time (250/N
 * real ms, at least 5 ms), so the flow sees as many updates per market minute as live. At 'max' the updates go out per
 * batch of trades (each batch a market second at most, the next once this one is written: see RecordedMarket); the
 * timer then only carries what a step or a pause changed.
 */
export function replayStreamIntervalMs(speed: number | 'max'): number {
  if (speed === 'max') return 5;
  return Math.min(250, Math.max(5, Math.round(250 / speed)));
}

/** Node-RED allows 15 s for a node's close; keep a margin for the rest of the redeploy. */
const CLOSE_BUDGET_MS = 10_000;

function withinBudget(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([work.then(() => undefined), budget]).finally(() => clearTimeout(timer));
}

export interface IbkrLinkOptions {
  logger: LinkLogger;
  now?: () => number;
  /** Tests: a shorter keep-alive than IBKR's 60 s, so expiries are noticed quickly. */
  tickleIntervalMs?: number;
  /** The timer of the replay's stall warning (default setTimeout/clearTimeout); tests give a virtual one. */
  timers?: LinkTimers;
}

export interface LinkTimers {
  setTimeout(cb: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: LinkTimers = {
  setTimeout: (cb, ms) => {
    const timer = setTimeout(cb, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Events: 'state' (IbkrStateEvent). */
/** How long a replay at 'max' stands at its recorded preload, with no history request, before it says so. */
const REPLAY_STALL_WARN_MS = 30_000;

export class IbkrLink extends EventEmitter {
  private readonly plan: ConnectionPlan;
  private readonly options: IbkrLinkOptions;
  private readonly now: () => number;
  private readonly metricsRecorder: IbkrMetrics;
  private simulatorInstance: IbkrSimulator | undefined;
  private simulatorStarting: Promise<IbkrSimulator> | undefined;
  private connectionInstance: IbkrConnection | undefined;
  private streamInstance: IbkrStream | undefined;
  private last: IbkrStateEvent;
  private knownAccountId: string | undefined;
  /** Why the account check turned trading off, or undefined. */
  private tradingBlocked: string | undefined;
  /** State events leave in the order the session produced them, even when one waits for the account id. */
  private relay: Promise<void> = Promise.resolve();
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private replayLease: ReplayLease | undefined;
  /** Simulator mode: the seeded market shared with a sierra-config simulator of the same seed and speed. */
  private simLease: SimMarketLease | undefined;
  private readonly recorder: Recorder | undefined;
  private recordWarned = false;
  private onReplaySubscribed: () => void = () => undefined;
  private replayHistoryGate: (() => Promise<void>) | undefined;
  /** A replay at 'max' stands at its recorded preload until the flow has taken a history answer in. */
  replayAwaitsHistory = false;
  private replayStallTimer: unknown;
  private readonly timers: LinkTimers;

  constructor(plan: ConnectionPlan, options: IbkrLinkOptions) {
    super();
    this.plan = plan;
    this.options = options;
    this.now = options.now ?? Date.now;
    this.timers = options.timers ?? REAL_TIMERS;
    this.metricsRecorder = metricsFor(plan.connection);
    this.knownAccountId = plan.connection.accountId;
    this.last = { state: 'disconnected', previous: 'disconnected', reason: 'IBKR connection not started', accountId: this.knownAccountId, t: this.now() };
    if (plan.record) {
      this.recorder = new Recorder({
        dir: plan.record.dir,
        maxBytes: plan.record.maxBytes,
        onWarning: (message) => options.logger.warn(message),
        meta: { mode: plan.mode },
      });
    }
  }

  /** Whether market data is being recorded (the recorder node API for the IBKR data nodes). */
  get recording(): boolean {
    return this.recorder !== undefined;
  }

  /**
   * Records one thing the IBKR side received (topic: trade, quote, bar, chain; payload as lib/replay/recording.ts
   * documents). A record the recorder refuses (time going back) is reported once as a warning, never thrown at the
   * data node: recording must not change what the flow does.
   */
  record(topic: string, payload: object, t: number): void {
    if (!this.recorder) return;
    try {
      this.recorder.record(topic, payload, t);
    } catch (err) {
      // Once per connection: a clock that goes back would otherwise warn on every tick.
      if (!this.recordWarned) this.options.logger.warn(`recording: ${errorMessage(err)} (further refusals are not logged)`);
      this.recordWarned = true;
    }
  }

  private readonly onSierraRecord = (topic: string, payload: object, t: number): void => this.record(topic, payload, t);

  /**
   * The flow has taken in a history answer (ibkr-history sent it and the messages it caused were delivered): a replay
   * standing at its recorded preload goes on.
   */
  replayHistoryTaken(): void {
    if (!this.replayAwaitsHistory) return;
    this.replayAwaitsHistory = false;
    this.timers.clearTimeout(this.replayStallTimer);
    this.replay?.clearStop();
  }

  /**
   * The market time a history request is to be reckoned from instead of the clock (its "last 4 h" ends there), or
   * undefined: on a replay at 'max' standing at its recorded preload, the time the live flow asked for it when the
   * recording tells it (the bars' asOf), so the replay asks for the very window the live run asked for.
   */
  historyRequestTime(): number | undefined {
    return this.replayAwaitsHistory ? this.replay?.preloadAskedAt : undefined;
  }

  /** Replay mode: the replayed market (pause, resume, step, speed, status), or undefined in other modes. */
  get replay(): RecordedMarket | undefined {
    return this.replayLease?.market;
  }

  replayStatus(): ReplayStatus | undefined {
    return this.replayLease?.market.status();
  }

  get state(): IbkrLinkState {
    return this.last.state;
  }

  get accountId(): string | undefined {
    return this.knownAccountId;
  }

  get simulator(): IbkrSimulator | undefined {
    return this.simulatorInstance;
  }

  /** The connection's figures now (ibkr-auth's 'metrics' message), with the account they belong to. */
  metrics(): IbkrMetricsPayload & { accountId: string | undefined } {
    return { ...this.metricsRecorder.snapshot(this.now()), accountId: this.knownAccountId };
  }

  /** The latest state, as ibkr-auth reports it on 'status'. */
  snapshot(): IbkrStateEvent {
    return this.withAccount(this.last);
  }

  private withAccount(event: IbkrStateEvent): IbkrStateEvent {
    const { tradingBlocked: _, ...rest } = event;
    return { ...rest, accountId: this.knownAccountId, ...(this.tradingBlocked ? { tradingBlocked: this.tradingBlocked } : {}) };
  }

  /** The latest state once every pending state event has been published. */
  async settled(): Promise<IbkrStateEvent> {
    await this.relay;
    return this.snapshot();
  }

  /** Starts the simulator (simulator mode) and the connection; resolves after the first session check. */
  open(): Promise<void> {
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const logger = this.options.logger;
    const options = {
      ...this.plan.connection,
      logger,
      tickleIntervalMs: this.options.tickleIntervalMs,
      // "Trace requests": entries arrive redacted by the transport (lib/ibkr/redact.ts).
      ...(this.plan.traceRequests ? { debug: (entry: TraceEntry) => logger.debug(formatTrace(entry)) } : {}),
    };
    if (this.plan.replay) {
      // The same recording replayed by a sierra-config simulator is the same market (lib/replay/registry.ts).
      this.replayLease = acquireReplay(this.plan.replay.file, { speed: this.plan.replay.speed });
      // Paused until the flow subscribes to market data: at 'max' a whole day could otherwise be over before it listens.
      const market = this.replayLease.market;
      if (market.status().emitted === 0) market.pause();
      // A sierra-config filling on the same recording may have started the replay first, at its default speed.
      if (market.status().speed !== this.plan.replay.speed) market.setSpeed(this.plan.replay.speed);
      let waiting = market.status().paused;
      this.onReplaySubscribed = () => {
        if (!waiting) return;
        waiting = false;
        market.resume();
      };
      // At 'max', a recording that holds a preload of history (the bars ibkr-history received at the live flow's
      // start) plays up to the time that preload was received and stops there until the flow has asked for history
      // and taken the answer in (replayHistoryTaken): the flow gets the preload where the live run got it, between
      // the same ticks, instead of the stream running ahead of it or the request coming before the bars were known.
      const preloadAt = market.preloadAt;
      if (this.plan.replay.speed === 'max' && preloadAt !== undefined && market.status().emitted === 0) {
        const stop = market.preloadStop ?? { t: preloadAt, tradesBefore: Infinity };
        market.stopAt(stop.t, stop.tradesBefore);
        this.replayAwaitsHistory = true;
        // A request waits for the replay to reach the time the preload was received (it is answered as of then).
        this.replayHistoryGate = () =>
          !this.replayAwaitsHistory || market.stopped ? Promise.resolve() : new Promise<void>((resolve) => market.once('stopped', () => resolve()));
        // A flow without ibkr-history never asks: say so rather than stand still in silence.
        market.once('stopped', () => {
          this.replayStallTimer = this.timers.setTimeout(() => {
            if (this.replayAwaitsHistory && !this.closing)
              this.options.logger.warn(
                `IBKR replay of ${this.plan.replay?.file ?? ''}: standing at its recorded preload for ${REPLAY_STALL_WARN_MS / 1000} s, waiting for the flow to ask for history (ibkr-history). A flow without ibkr-history: replay at a paced speed (1–100000×) instead of max.`,
              );
          }, REPLAY_STALL_WARN_MS);
        });
      }
      this.options.logger.info(
        `IBKR replay of ${this.plan.replay.file} at ${String(this.plan.replay.speed)}×` +
          (this.replayHistoryGate
            ? `: the recording holds a preload of history, received at ${new Date(preloadAt as number).toISOString()}; the replay stops there until the flow asks for history (ibkr-history)`
            : ''),
      );
    }
    if (this.plan.simulator) {
      this.simulatorStarting = startIbkrSimulator(
        this.replayLease
          ? {
              ...this.plan.simulator,
              market: this.replayLease.market,
              streamIntervalMs: replayStreamIntervalMs(this.plan.replay?.speed ?? 1),
              onMarketDataSubscribed: () => this.onReplaySubscribed(),
              historyGate: () => this.replayHistoryGate?.() ?? Promise.resolve(),
            }
          : { ...this.plan.simulator, market: this.sharedMarket().market },
      );
      // A live simulator run records sierra-config's simulator side too (its orders and fills, on this market).
      if (!this.replayLease && this.recorder) this.sharedMarket().tap.on('record', this.onSierraRecord);
      const simulator = await this.simulatorStarting;
      this.simulatorInstance = simulator;
      if (this.closing) return;
      options.baseUrl = simulator.baseUrl;
      options.simulatorCertificatePem = simulator.certificatePem;
      this.options.logger.info(`IBKR simulator listening on ${simulator.baseUrl} (seed ${this.plan.simulator.seed ?? 1})`);
    }
    const connection = new IbkrConnection(options);
    this.connectionInstance = connection;
    connection.on('state', (event: SessionStateEvent) => this.onSessionState(event));
    observeConnection(connection, this.metricsRecorder, logger);
    // Rate-limit pauses and reconnects reach the log through the connection's own session-state log lines.
    if (this.closing) return;
    await connection.start();
  }

  /**
   * Simulator mode: the one seeded market of this seed and speed in the process (lib/sim/shared-market.ts), which a
   * sierra-config simulator of the same seed and speed fills on: one market, one clock for the flow and its orders.
   */
  private sharedMarket(): SimMarketLease {
    this.simLease ??= acquireSimMarket({ seed: this.plan.simulator?.seed, speed: this.plan.simulator?.speed });
    return this.simLease;
  }

  /** The connection, once open() has created it. */
  connection(): IbkrConnection {
    if (!this.connectionInstance) throw new Error('IBKR connection is not open yet');
    return this.connectionInstance;
  }

  /** The one WebSocket of this connection, created on first use; streaming nodes share it. */
  stream(): IbkrStream {
    if (!this.streamInstance) {
      const connection = this.connection();
      const logger = this.options.logger;
      this.streamInstance = new ObservedStream(
        {
          target: () => connection.websocketTarget(),
          logger: { debug: (m) => logger.debug(m), warn: (m) => logger.warn(m) },
        },
        this.metricsRecorder,
        logger,
        this.now,
      );
    }
    return this.streamInstance;
  }

  private onSessionState(event: SessionStateEvent): void {
    const t = this.now();
    this.metricsRecorder.sessionChanged(event.state, t);
    this.relay = this.relay.then(async () => {
      if (event.state === 'authenticated') await this.learnAccount();
      this.publish({ ...event, accountId: this.knownAccountId, t });
    });
  }

  /** Reports a settings error as the link's state (the using nodes show it on their status). */
  fail(reason: string): void {
    this.publish({ state: 'error', previous: this.last.state, reason, accountId: this.knownAccountId, t: this.now() });
  }

  private publish(event: IbkrStateEvent): void {
    this.last = this.withAccount(event);
    this.emit('state', this.last);
  }

  /**
   * The account the session trades, checked at every authentication against what the trader chose: a live account
   * on a paper connection (or the reverse), an account id this login does not have, or an account list that cannot
   * be read turns trading off (orders refused with the reason, red status on ibkr-order) until a later check passes.
   */
  private async learnAccount(): Promise<void> {
    const connection = this.connectionInstance;
    if (!connection) return;
    const block = (reason: string): void => {
      if (reason !== this.tradingBlocked) this.options.logger.error(reason);
      this.tradingBlocked = reason;
      connection.client.blockTrading(reason);
    };
    let accounts;
    try {
      accounts = await connection.client.accounts();
      this.knownAccountId = await connection.client.accountId();
    } catch (err) {
      if (this.closing) return; // a redeploy cut the read short: nothing to report, the link is going away
      block(`IBKR connected, but the account list could not be read (${errorMessage(err)}): trading stays off until it can be checked.`);
      return;
    }
    const kind = accounts.isPaper ? 'paper' : 'live';
    const wanted = this.plan.connection.accountId;
    if (wanted && !accounts.accounts.includes(wanted)) {
      block(`IBKR account ${wanted} is not among this login's accounts (${accounts.accounts.join(', ') || 'none'}): check the account id in the IBKR connection.`);
      return;
    }
    if (accounts.isPaper !== this.plan.paper) {
      block(`IBKR connection is set to ${this.plan.paper ? 'paper' : 'live'} but IBKR reports a ${kind} account: check the login and the paper/live setting.`);
      return;
    }
    if (this.tradingBlocked) this.options.logger.info(`IBKR account check passed: trading follows the connection's switch again.`);
    this.tradingBlocked = undefined;
    connection.client.blockTrading(null);
    this.options.logger.info(`IBKR connected (${this.plan.mode}, account ${this.knownAccountId}, ${kind})`);
  }

  /** Runs one ibkr-auth command; resolves with the state after it (state changes are also emitted as events). */
  async command(command: SessionCommand): Promise<IbkrStateEvent> {
    const connection = this.connection();
    switch (command) {
      case 'status':
        break;
      case 'login':
        if (this.simulatorInstance) {
          // Simulator: stands for the trader's browser login at the Gateway.
          this.simulatorInstance.control.login();
        } else if (this.plan.mode === 'oauth1a' || this.plan.mode === 'oauth2') {
          await connection.transport.ensureAuth(true);
        }
        await connection.client.ssodhInit();
        break;
      case 'reauth':
        await connection.client.reauthenticate();
        break;
      case 'logout':
        await connection.client.logout();
        break;
    }
    await connection.session.check();
    return this.settled();
  }

  /** Closes the stream, the connection and the simulator, within Node-RED's close budget. Idempotent. */
  close(): Promise<void> {
    this.closing ??= withinBudget(this.doClose(), CLOSE_BUDGET_MS);
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // A simulator still starting is waited for (milliseconds), so its port is closed too; a connection still in
    // its first check is not: closing it rejects whatever it waits for.
    this.timers.clearTimeout(this.replayStallTimer);
    const simulator = await this.simulatorStarting?.catch(() => undefined);
    await this.streamInstance?.close();
    await this.connectionInstance?.close();
    await simulator?.close();
    this.replayLease?.release();
    this.simLease?.tap.off('record', this.onSierraRecord);
    this.simLease?.release();
    await this.recorder?.close();
    this.removeAllListeners();
  }
}
