// SierraConnection: what one sierra-config node owns (STYLE.md, "one of each"): the DTC simulator and its seeded
// market in simulator mode, one DtcClient and one OrderManager. Every order passes the risk engine of its trade
// account (lib/trading/risk-engine.ts, shared with every other node trading that account and journaled), which
// also holds the kill switch: every sierra-order node of the account sees the same HALTED, across redeploys and
// restarts.
//
// Events: 'order-update' (OrderUpdate), 'fill' (Fill), 'position' (Position), 'account' (AccountSnapshot), all as the
// order manager reports them, 'status' (ConnectionStatus) whenever something a status ring shows changes, and
// 'risk-warning' (string) when the journal and the broker disagree or the journal cannot be written.

import { EventEmitter } from 'events';
import type { AccountSnapshot, Fill, OrderUpdate, Position } from '../contracts';
import { InvalidInputError, MiaError, errorMessage } from '../errors';
import type { KillSwitchState, RiskLimits, RiskState } from '../trading/risk-rules';
import { acquireEngine, type EngineHandle } from '../trading/accounts';
import type { Journal } from '../trading/journal';
import type { Discrepancy, RiskEngine, Verdict } from '../trading/risk-engine';
import { cancelEntries, guardInFlight, kill as killAccount, type ExecutionAdapter, type KillReport, type PositionRef, type WorkingOrderRef } from '../trading/kill-switch';
import type { Market, MarketTrade } from '../sim/market-types';
import { acquireReplay, type ReplayLease } from '../replay/registry';
import { createMarket } from '../sim/market';
import { acquireSimMarket, type SimMarketLease } from '../sim/shared-market';
import { OrderPathGate } from '../sim/order-path-gate';
import { OrderPathRecorder, OrderPathReplayer, type RecordedOrder } from '../replay/order-path';
import { startDtcSimulator, type DtcSimulator } from '../sim/dtc';
import { DtcMetrics, type DtcMetricsPayload } from '../metrics';
import { DtcClient, type DtcClientOptions, type DtcClientState, type DtcLogLevel, type DisconnectInfo } from './client';
import { DtcLogonError, DtcTimeoutError } from './errors';
import { sameInstrument } from '../trading/instrument-of';
import { instrument } from '../trading/instruments';
import { frontMonthSymbol, SYMBOL_FORMATS, type SymbolFormat } from './symbols';
import { OrderManager, type ManagerState, type SierraModify, type SierraOrder, type RiskIntent, type RiskVerdict, type SubmitResult } from './order-manager';

/** The connection's contribution to its account's limits (the account applies the strictest of all its nodes'). */
export interface SierraRiskSettings {
  limits: Partial<RiskLimits>;
  /** Largest distance of a limit or stop price from the last trade, in ticks of the contract; 0 turns the collar off. */
  collarTicks: number;
  /** Kept for the dialog; the tick comes from the instrument. */
  tickSize?: number;
  /** New orders in any rolling 60 s; 0 turns the cap off. */
  maxOrdersPerMinute: number;
  /** The dialog's kill switch: applied at deploy when it is stricter than the account's. */
  killSwitch?: KillSwitchState;
}

/** Real ms a replay waits at most for its simulated Sierra account to be ready (holdReplayUntilReady). */
const REPLAY_READY_WAIT_MS = 10_000;

const STRICTNESS: Readonly<Record<KillSwitchState, number>> = { ACTIVE: 0, REDUCING: 1, HALTED: 2 };

/**
 * The account whose risk engine this connection uses. A live trade account is one account whichever connection
 * trades it; Sierra's simulated accounts (Sim1, …) are one per Sierra Chart instance, and the in-process simulator is
 * one per config node.
 */
export function riskAccountOf(options: Pick<SierraConnectionOptions, 'client' | 'simulator'>, holder: string): string {
  const account = options.client.tradeAccount || 'Sim1';
  if (options.simulator) return `${account}@simulator-${holder}`;
  if (/^sim\d*$/i.test(account)) return `${account}@${options.client.host ?? '127.0.0.1'}:${options.client.port ?? 11099}`;
  return account;
}

// ---------------------------------------------------------------------------------------------------------------

export interface SimulatorSettings {
  /** Same seed → same prices: an ibkr-config simulator with this seed quotes the very market this one fills on. */
  seed: number;
  /** Simulated ms per real ms. */
  speed: number;
  /**
   * Fill against the replay of this recording (absolute path) instead of the seeded market: the very market an
   * ibkr-config in replay mode of the same file serves (lib/replay/registry.ts). Seed and speed are then unused.
   */
  replayFile?: string;
}

export interface SierraConnectionOptions {
  /** The DTC client's settings; `port` is ignored in simulator mode (the simulator's ephemeral port is used). */
  client: Omit<DtcClientOptions, 'port' | 'log'> & { port?: number };
  /**
   * The Sierra Chart symbol signals trade and the kill switch flattens: one the trader fixed (kept as typed), or the
   * instrument registry's front month of a root spelled in a Sierra format, which rolls while the connection runs.
   */
  symbol: string | FrontMonthSymbol;
  risk: SierraRiskSettings;
  /** Where the account's risk journal is kept (the Node-RED user dir's mia-trading/); absent: in memory. */
  journalDir?: string;
  /** Another journal (Redis); takes precedence over journalDir. */
  journal?: Journal;
  /** Who holds the account's engine (the config node id). */
  holder?: string;
  /** Present: start the DTC simulator in-process on 127.0.0.1 with a seeded market. */
  simulator?: SimulatorSettings;
  idPrefix?: string;
  answerTimeoutMs?: number;
  log?: (level: DtcLogLevel, text: string) => void;
  /** Live mode's clock (default: the wall clock); simulator mode uses the simulated market's. Tests inject one. */
  clock?: () => number;
}

/** "Trade the front month of `root`", spelled as Sierra's service wants it (lib/sierra/symbols.ts). */
export interface FrontMonthSymbol {
  root: string;
  format: SymbolFormat;
  exchange?: string;
}

export type ConnectionState = 'starting' | 'connecting' | 'reconciling' | 'ready' | 'disconnected' | 'closed' | 'error';

export interface ConnectionStatus {
  state: ConnectionState;
  /** What happened last, in a trader's words (empty when all is well). */
  reason: string;
  tradingEnabled: boolean;
  killSwitch: KillSwitchState;
  /** Signed position of the connection's symbol. */
  position: number;
  /** Today's P&L, realized + open ($), from the account. */
  dailyPnl: number;
  /** Sierra Chart refused the logon (wrong username or password, IP not allowed): retrying will not help. */
  logonRefused: boolean;
}

export type KillResult = KillReport;

/** The kill switch is HALTED but cancelling or flattening failed: the trader must act in Sierra Chart. */
export class KillSwitchIncompleteError extends MiaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KILL_INCOMPLETE', message, options);
  }
}

/** Per-order rules an order node adds to the connection's risk gate (its own settings). */
export interface EntryRules {
  /** Refuse new entries when no tick, quote or bar arrived for this many seconds (lib/strategy/stale-data.ts); 0 or absent = off. */
  staleAfterSec?: number;
}

/** The open connections of each trade account (by its risk engine): the kill switch acts through all of them. */
const ACCOUNT_CONNECTIONS = new Map<RiskEngine, Set<SierraConnection>>();

const OPEN_STATUSES: ReadonlySet<OrderUpdate['status']> = new Set(['pending', 'working', 'partially-filled']);

export class SierraConnection extends EventEmitter {
  /** The symbol traded at an instant: fixed, or the front month then (lib/trading/instruments.ts). */
  readonly symbolAt: (now: number) => string;
  /** True when the symbol follows the front month and so changes on the roll date. */
  readonly rolls: boolean;
  private lastSymbol: string | undefined;
  private readonly options: SierraConnectionOptions;
  private readonly handle: EngineHandle;
  private readonly engine: RiskEngine;
  private readonly detachEngine: (() => void)[] = [];
  /** The order node's rules for the instruction being reserved now (set and cleared around the synchronous call). */
  private pendingRules: EntryRules = {};
  private readonly log: (level: DtcLogLevel, text: string) => void;
  private simulatorInstance: DtcSimulator | undefined;
  private market: Market | undefined;
  private replayLease: ReplayLease | undefined;
  private simLease: SimMarketLease | undefined;
  /** Simulator mode: the market's clock stands while an order is on its way (lib/sim/order-path-gate.ts). */
  private orderPath: OrderPathGate | undefined;
  /** Simulator mode on a shared seeded market: what the simulator did, for a recorder of that market. */
  private pathRecorder: OrderPathRecorder | undefined;
  /** On a replay: lets the replayed clock run (held until this connection is ready: holdReplayUntilReady). */
  private releaseReplay: (() => void) | undefined;
  /** Simulator mode on a replay that holds the simulated Sierra side: the recorded orders' times and fills. */
  private pathReplayer: OrderPathReplayer | undefined;
  private client: DtcClient | undefined;
  private manager: OrderManager | undefined;
  private state: ConnectionState = 'starting';
  private reason = '';
  private logonRefused = false;
  private readonly positions = new Map<string, number>();
  private dailyPnl = 0;
  // The trade itself is the last trade: a full quote per trade (esQuote walks the minute's trades) was the biggest CPU
  // cost of a running simulated pipeline. The market emits its trades in bursts (every trade since its last pump, in
  // one synchronous loop, ~1,000 a second at the example's speed) and nothing reads the last trade in between: the
  // newest of a burst is recorded once, on the microtask after it (resolving the contract at each trade cost ~10 µs).
  private burstLast: MarketTrade | undefined;
  private readonly onMarketTrade = (trade: MarketTrade): void => {
    if (this.burstLast === undefined) queueMicrotask(this.recordBurst);
    this.burstLast = trade;
  };
  private readonly recordBurst = (): void => {
    const trade = this.burstLast;
    this.burstLast = undefined;
    if (!trade) return;
    this.noteMarketData();
    this.setLastTrade(trade.price);
  };
  private opening: Promise<void> | undefined;
  private closed = false;
  /** Logon uptime, order round trips, missed heartbeats, reconnects (sierra-order's 'metrics'); wall-clock times. */
  private readonly dtcMetrics = new DtcMetrics();

  constructor(options: SierraConnectionOptions) {
    super();
    const choice = options.symbol;
    if (typeof choice === 'string' && choice.trim() === '') {
      throw new InvalidInputError('Sierra Chart symbol is missing: set it in sierra-config exactly as File › Find Symbol shows it (e.g. ESZ25_FUT_CME).');
    }
    if (typeof choice !== 'string') {
      instrument(choice.root); // an unknown root is refused here, not at the first order
      if (!SYMBOL_FORMATS.includes(choice.format)) throw new InvalidInputError(`Symbol format "${choice.format}" is not valid: use ${SYMBOL_FORMATS.join(', ')}.`);
    }
    this.symbolAt = symbolAtOf(choice);
    this.rolls = typeof choice !== 'string';
    this.options = options;
    this.log = options.log ?? (() => undefined);
    const holder = options.holder ?? `sierra-connection:${Math.random().toString(36).slice(2)}`;
    this.handle = acquireEngine({
      broker: 'sierra',
      account: riskAccountOf(options, holder),
      holder,
      limits: { ...options.risk.limits, collarTicks: options.risk.collarTicks, maxOrdersPerMinute: options.risk.maxOrdersPerMinute },
      journalDir: options.journalDir,
      journal: options.journal,
    });
    this.engine = this.handle.engine;
    const peers = ACCOUNT_CONNECTIONS.get(this.engine) ?? new Set<SierraConnection>();
    peers.add(this);
    ACCOUNT_CONNECTIONS.set(this.engine, peers);
    const configured = options.risk.killSwitch ?? 'ACTIVE';
    if (STRICTNESS[configured] > STRICTNESS[this.engine.killSwitch]) this.engine.setKillSwitch(configured);
    const onChange = (): void => this.emitStatus();
    const onDiscrepancy = (d: Discrepancy): void => this.warnRisk(`Risk journal and Sierra Chart disagree: ${d.message}.`);
    const onJournalError = (err: Error): void => this.warnRisk(err.message);
    this.engine.on('change', onChange);
    this.engine.on('kill-switch', onChange);
    this.engine.on('discrepancy', onDiscrepancy);
    this.engine.on('journal-error', onJournalError);
    this.detachEngine.push(
      () => this.engine.off('change', onChange),
      () => this.engine.off('kill-switch', onChange),
      () => this.engine.off('discrepancy', onDiscrepancy),
      () => this.engine.off('journal-error', onJournalError),
    );
  }

  /** The account's risk engine (shared with every node trading the account). */
  get riskEngine(): RiskEngine {
    return this.engine;
  }

  private warnRisk(text: string): void {
    this.log('warn', text);
    this.emit('risk-warning', text);
  }

  /** The symbol orders go out with now (asked at each order, so a front-month connection rolls on the roll date). */
  get symbol(): string {
    const symbol = this.symbolAt(this.now());
    if (this.rolls && this.lastSymbol !== undefined && symbol !== this.lastSymbol) {
      this.log('info', `Front month rolled: new orders now go to ${symbol} (was ${this.lastSymbol}); positions in ${this.lastSymbol} stay until closed.`);
    }
    this.lastSymbol = symbol;
    return symbol;
  }

  /** The in-process simulator (simulator mode, once open). */
  get simulator(): DtcSimulator | undefined {
    return this.simulatorInstance;
  }

  get tradingEnabled(): boolean {
    return this.client?.tradingEnabled ?? this.options.client.tradingEnabled ?? false;
  }

  /**
   * Simulator mode: the seeded market's clock (its trading hours); live: the wall clock. The one clock of every `t`
   * this connection emits (order updates, fills, positions, accounts) and of its risk rules; Sierra Chart's own time
   * stamps are not used (order-manager.ts, "Time"). Only metrics() measures durations on the wall clock.
   */
  now(): number {
    return this.market ? this.market.now() : (this.options.clock ?? Date.now)();
  }

  status(): ConnectionStatus {
    return {
      state: this.state,
      reason: this.reason,
      tradingEnabled: this.tradingEnabled,
      killSwitch: this.engine.killSwitch,
      position: this.instrumentPosition(this.symbol),
      dailyPnl: this.dailyPnl,
      logonRefused: this.logonRefused,
    };
  }

  riskState(): RiskState {
    return this.engine.riskState(this.now());
  }

  /**
   * Starts the simulator (simulator mode) and the connection. Resolves once the first logon was attempted; a
   * failed logon is reported through 'status' and retried by the client. Rejects only if nothing could start.
   */
  open(): Promise<void> {
    this.opening ??= this.start();
    return this.opening;
  }

  private async start(): Promise<void> {
    let port = this.options.client.port ?? 0;
    if (this.options.simulator) {
      let market: Market;
      if (this.options.simulator.replayFile) {
        // Shared and started by the registry: whichever of ibkr-config and sierra-config opens first reads the file.
        this.replayLease = acquireReplay(this.options.simulator.replayFile);
        market = this.replayLease.market;
      } else {
        // The one seeded market of this seed and speed (lib/sim/shared-market.ts): an ibkr-config simulator of the
        // same seed and speed quotes it, so orders fill on the prices and at the market time the flow sees.
        this.simLease = acquireSimMarket({ seed: this.options.simulator.seed, speed: this.options.simulator.speed });
        market = this.simLease.market;
      }
      this.market = market;
      // The simulated market is live from the instant it starts; its trades keep it fresh while it runs.
      this.engine.noteMarketData(market.now());
      this.engine.setLastTrade(this.symbol, market.esQuote().last, market.now());
      market.on('trade', this.onMarketTrade);
      const gate = (this.orderPath = new OrderPathGate(() => market.hold()));
      this.startOrderPath();
      const simulator = await startDtcSimulator({
        market,
        onAnswer: () => gate.touch(),
        onOrderArrival: (t, ids) => this.pathRecorder?.onArrival(t, ids),
        onFill: (fill) => this.pathRecorder?.onFill(fill, market.now()),
        host: '127.0.0.1',
        port: 0,
        encoding: this.options.client.encoding ?? 'automatic',
        account: this.options.client.tradeAccount || 'Sim1',
        symbol: this.symbolAt,
      }).catch((err: unknown) => {
        this.replayLease?.release();
        this.simLease?.release();
        this.setState('error', `The Sierra Chart simulator could not start: ${errorMessage(err)}`);
        throw err;
      });
      if (this.closed) {
        await simulator.close();
        return;
      }
      this.simulatorInstance = simulator;
      port = simulator.port;
    }
    const client = new DtcClient({ ...this.options.client, host: this.options.simulator ? '127.0.0.1' : this.options.client.host, port, log: this.log });
    const manager = new OrderManager(client, {
      tradeAccount: this.options.client.tradeAccount,
      idPrefix: this.options.idPrefix,
      lastSequence: this.engine.lastIdSequence,
      idSequence: this.engine,
      symbols: [this.symbol],
      answerTimeoutMs: this.options.answerTimeoutMs,
      risk: {
        reserve: (intent, ids) => this.reserve(intent, ids),
        authorizeSend: (id, action) => this.authorize(id, action),
        release: (id, action) => (action === 'modify' ? this.engine.releaseModify(id) : this.engine.release(id)),
        modified: (id, quantity) => this.engine.modifyConfirmed(id, quantity),
        journalId: (id) => this.engine.journalOrderId(id),
      },
      now: () => this.now(), // one clock for every `t` this connection emits (see now())
    });
    this.client = client;
    this.manager = manager;
    this.holdReplayUntilReady(manager);
    client.on('error', () => undefined); // reported through 'disconnected'
    client.on('state', (s: DtcClientState) => this.onClientState(s));
    client.on('disconnected', (info: { error: Error; willReconnect: boolean }) => {
      const refused = info.error instanceof DtcLogonError;
      // A refused logon is the trader's to fix (credentials, allowed IPs): an error in the log, once per cause.
      if (refused && info.error.message !== this.reason) this.log('error', info.error.message);
      this.logonRefused = refused;
      this.setState(info.willReconnect ? 'disconnected' : 'error', info.error.message);
    });
    manager.on('state', (s: ManagerState) => {
      if (s === 'ready') {
        this.reconcileEngine(manager);
        this.setState('ready', '');
      } else {
        this.engine.markUnreconciled();
        if (s === 'reconciling') {
          this.logonRefused = false;
          this.setState('reconciling', '');
        }
      }
    });
    manager.on('warning', (err: Error) => this.log('warn', err.message));
    manager.on('order-update', (u: OrderUpdate) => {
      this.pathRecorder?.onUpdate(u);
      this.pathReplayer?.onUpdate(u);
      this.engine.onOrderUpdate(u.clientOrderId, { status: u.status, quantity: u.quantity, filled: u.filledQuantity, brokerOrderId: u.serverOrderId });
      this.emit('order-update', u);
      if (OPEN_STATUSES.has(u.status) && manager.state === 'ready' && !this.engineKnows(u.clientOrderId)) {
        // Placed by hand in Sierra Chart, or acknowledged under an id we never sent: it can fill, so it is counted
        // before any new entry — by reconciling with Sierra, as after a reconnect.
        this.warnRisk(`Sierra Chart reports working order ${u.clientOrderId || '(no id)'}, which was not sent through this account's risk engine: reconciling with Sierra Chart before any new entry.`);
        manager.resync();
      }
    });
    this.detachEngine.push(guardInFlight(this.engine, (o) => this.cancelLate(manager, o.clientOrderId), (text) => this.warnRisk(text)));
    const onEntryStop = (): void => {
      if (this.closed) return;
      void cancelEntries(this.engine, this.adapter()).then((report) => {
        if (!report.summary) return;
        this.warnRisk(report.summary);
        this.emit('entries-cancelled', report);
      });
    };
    this.engine.on('entry-stop', onEntryStop);
    this.detachEngine.push(() => this.engine.off('entry-stop', onEntryStop));
    manager.on('fill', (f: Fill) => this.onFill(f));
    manager.on('position', (p: Position) => this.onPosition(p));
    manager.on('account', (a: AccountSnapshot) => this.onAccount(a));
    this.observeMetrics(client, manager);
    manager.on('invalid-transition', (t: { clientOrderId: string; from: string; to: string; reason: string }) =>
      this.log('warn', `Sierra Chart reported an impossible change for order ${t.clientOrderId} (${t.from} → ${t.to}: ${t.reason}); it was ignored.`));
    this.setState('connecting', '');
    client.connect().catch((err: unknown) => this.setState(client.state === 'stopped' ? 'error' : 'disconnected', errorMessage(err)));
  }

  /** Resolves when orders are reconciled and new instructions are accepted. */
  async whenReady(timeoutMs = 30_000): Promise<void> {
    await this.open();
    await this.requireManager().whenReady(timeoutMs);
  }

  /** Sends LOGOFF and releases the client, the order manager, the simulator and its market. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.detachEngine.splice(0)) off();
    const peers = ACCOUNT_CONNECTIONS.get(this.engine);
    peers?.delete(this);
    if (peers?.size === 0) ACCOUNT_CONNECTIONS.delete(this.engine);
    this.handle.release();
    await this.opening?.catch(() => undefined);
    this.manager?.dispose();
    await this.client?.close('Node-RED redeploy').catch(() => undefined);
    await this.simulatorInstance?.close().catch(() => undefined);
    this.orderPath?.dispose();
    this.pathReplayer?.dispose();
    this.releaseReplay?.();
    this.market?.off('trade', this.onMarketTrade);
    this.replayLease?.release();
    this.simLease?.release();
    this.setState('closed', '');
    this.removeAllListeners();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Instructions (each refused with a clear error when trading is off or the connection is not ready)

  submit(intent: SierraOrder, rules: EntryRules = {}): Promise<SubmitResult> {
    // A replay of a live run: the flow's order that is the next recorded one leaves at its recorded market time (it
    // waits for the replay to get there, every check of the manager and the risk engine then made as usual).
    const recorded = this.pathReplayer?.match(intent);
    const replayer = this.pathReplayer;
    if (recorded && replayer) {
      return replayer.whenAt(recorded.t).then((release) => {
        try {
          // The price collar's reference as it was live: the recording holds the ticks the flow got, not every trade
          // of the simulated market that also set it (lib/replay/order-path.ts, `last`).
          if (recorded.last !== undefined) this.engine.setLastTrade(intent.symbol, recorded.last, this.now());
          // The stale-data rule's reference likewise: live, the simulated market's every trade kept the data fresh.
          if (recorded.dataAt !== undefined) this.engine.noteMarketData(this.now(), { t: recorded.dataAt, from: recorded.dataAt });
          return this.submitNow(intent, rules, recorded);
        } finally {
          release();
        }
      });
    }
    return this.submitNow(intent, rules, undefined);
  }

  private submitNow(intent: SierraOrder, rules: EntryRules, recorded: RecordedOrder | undefined): Promise<SubmitResult> {
    // Not async: the manager reserves with the engine before its first await, and the node's rules must be the ones
    // read in that synchronous part. Every failure still comes back as a rejection.
    this.pendingRules = rules;
    try {
      return this.onOrderPath(() => {
        const manager = this.requireManager();
        // The simulated Sierra side, recorded (live) or replayed (the recorded order it matched, for its fills).
        const path = this.pathRecorder?.submitted(intent, this.engine.lastTradeOf(intent.symbol, this.now()), this.marketDataAt()) ?? this.pathReplayer?.submitted(intent, recorded);
        let result: Promise<SubmitResult>;
        try {
          result = manager.submit(intent);
        } catch (err) {
          path?.withdraw();
          throw err;
        }
        if (path) result.catch(() => path.withdraw());
        this.engine.noteIdSequence(manager.lastSequence);
        return result;
      });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(errorMessage(err)));
    } finally {
      this.pendingRules = {};
    }
  }

  cancel(clientOrderId: string): Promise<OrderUpdate> {
    // A replay of a live run: the flow's cancel that is the next recorded one leaves at its recorded market time.
    const recorded = this.pathReplayer?.matchCancel(clientOrderId);
    const replayer = this.pathReplayer;
    if (recorded && replayer) {
      return replayer.whenAt(recorded.t).then((release) => {
        try {
          return this.cancelNow(clientOrderId);
        } finally {
          release();
        }
      });
    }
    return this.cancelNow(clientOrderId);
  }

  private cancelNow(clientOrderId: string): Promise<OrderUpdate> {
    return this.onOrderPath(() => {
      this.pathRecorder?.onCancel(clientOrderId, this.now());
      return this.requireManager().cancel(clientOrderId);
    });
  }

  modify(clientOrderId: string, change: SierraModify, rules: EntryRules = {}): Promise<OrderUpdate> {
    this.pendingRules = rules;
    try {
      return this.onOrderPath(() => this.requireManager().modify(clientOrderId, change));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(errorMessage(err)));
    } finally {
      this.pendingRules = {};
    }
  }

  /**
   * The simulated Sierra side of the recording (lib/replay/order-path.ts): live on a shared seeded market, written
   * through the market's tap to an ibkr-config recorder of it (none listening: nothing written); on a replay that
   * holds it, replayed.
   */
  private startOrderPath(): void {
    const tap = this.simLease?.tap;
    if (tap) {
      this.pathRecorder = new OrderPathRecorder((topic, payload, t) => {
        if (tap.listenerCount('record') > 0) tap.emit('record', topic, payload, t);
      });
      return;
    }
    const replay = this.replayLease?.market;
    if (!replay || replay.orderPath.orders.length === 0) return;
    const path = replay.orderPath;
    this.pathReplayer = new OrderPathReplayer(
      path.orders,
      path.fills,
      {
        get atMax() {
          return replay.status().speed === 'max';
        },
        now: () => replay.now(),
        hold: () => replay.hold(),
        at: (t, onReach) => replay.at(t, onReach),
      },
      () => this.simulatorInstance,
      { warn: (text) => this.log('warn', text), cancels: path.cancels },
    );
  }

  /**
   * On a replay: the replayed clock stands until this connection is ready to trade (logged on, reconciled), at most
   * REPLAY_READY_WAIT_MS of real time. At 'max' the replay would otherwise reach its first signal before the simulated
   * account is connected, and that signal's order be refused (seen under load: a replay of a live run without its first
   * order, the live run's connection having been ready long before its first signal).
   */
  private holdReplayUntilReady(manager: OrderManager): void {
    const replay = this.replayLease?.market;
    if (!replay) return;
    const release = (this.releaseReplay = replay.hold());
    manager.whenReady(REPLAY_READY_WAIT_MS).then(release, (err: unknown) => {
      release();
      if (!this.closed) this.log('warn', `Replay goes on without the simulated Sierra account ready: ${errorMessage(err)}`);
    });
  }

  /**
   * Runs an instruction; in simulator mode the market's clock stands from its start until it is answered (and the
   * answers read): on the simulators an order takes no market time on its way (lib/sim/order-path-gate.ts).
   */
  private onOrderPath<T>(instruction: () => Promise<T>): Promise<T> {
    const end = this.orderPath?.begin();
    if (!end) return instruction();
    try {
      const result = instruction();
      result.then(end, end);
      return result;
    } catch (err) {
      end();
      throw err;
    }
  }

  /**
   * Flattens `symbol`; without one, the current contract and every contract of the connection's instrument that
   * holds a position or a working order (after a roll, the old contract too), one at a time.
   */
  async flatten(symbol?: string): Promise<{ cancelled: OrderUpdate[]; flatten: OrderUpdate | null; flattened: OrderUpdate[] }> {
    const manager = this.requireManager();
    const current = this.symbol;
    const symbols = new Set(symbol !== undefined ? [symbol] : [current]);
    if (symbol === undefined) {
      for (const [s, q] of this.positions) if (q !== 0 && sameInstrument(s, current)) symbols.add(s);
      for (const o of manager.snapshot()) {
        const s = OPEN_STATUSES.has(o.status) ? manager.symbolOf(o.clientOrderId) : undefined;
        if (s !== undefined && sameInstrument(s, current)) symbols.add(s);
      }
    }
    const cancelled: OrderUpdate[] = [];
    const flattened: OrderUpdate[] = [];
    for (const s of symbols) {
      const done = await this.onOrderPath(() => manager.flatten(s));
      cancelled.push(...done.cancelled);
      if (done.flatten) flattened.push(done.flatten);
    }
    return { cancelled, flatten: flattened[0] ?? null, flattened };
  }

  cancelAll(symbol?: string): Promise<OrderUpdate[]> {
    return this.onOrderPath(() => this.requireManager().cancelAll(symbol));
  }

  /**
   * Market data (a tick, quote or bar) arrived: the stale-data guard judges it by its own time (`point`, from
   * readMarketData); without one (the simulated market's own trades) it is data of this instant.
   */
  noteMarketData(point?: { t: number; from: number }): void {
    this.engine.noteMarketData(this.now(), point);
  }

  /** The time of the newest market data (on this connection's clock), or null when none has arrived. */
  private marketDataAt(): number | null {
    const now = this.now();
    const age = this.engine.marketDataAgeMs(now);
    return age === null ? null : now - age;
  }

  /** Age of the newest market data (ms, on this connection's clock), or null when none has arrived. */
  marketDataAgeMs(): number | null {
    return this.engine.marketDataAgeMs(this.now());
  }

  /**
   * The last trade seen upstream (quotes, ticks): the price collar's reference in live mode, kept per contract by the
   * account's engine. `symbol` names the contract (any Sierra spelling, or a bare root such as IBKR's "ES", which is
   * the registry's front month at `t`); without one the price is taken as the connection's own contract at `t`.
   */
  setLastTrade(price: number, symbol?: string, t = this.now()): void {
    if (!(Number.isFinite(price) && price > 0)) return;
    this.engine.setLastTrade(symbol ?? this.symbolAt(t), price, t);
  }

  /**
   * The kill switch of the trade account: HALTED first (journaled), then every working order of the account on this
   * connection cancelled and every position flattened, all attempted whatever fails. Rejects with
   * KillSwitchIncompleteError (still HALTED) naming what failed; never leaves a rejection unhandled.
   */
  async kill(): Promise<KillResult> {
    const report = await killAccount(this.engine, this.adapter());
    this.emitStatus();
    if (report.failures.length) throw new KillSwitchIncompleteError(`${report.summary} Check Sierra Chart's Trade Orders and Positions windows now.`);
    return report;
  }

  /**
   * What the kill switch drives: the orders and positions of the whole trade ACCOUNT, through every open connection
   * that trades it (two sierra-config nodes on one account, e.g. one for ES and one for MES: Sierra Chart may tell a
   * connection only of its own orders). Each order is cancelled, each position flattened, through a connection that
   * knows it; this connection first.
   */
  private adapter(): ExecutionAdapter {
    const peers = [this, ...[...(ACCOUNT_CONNECTIONS.get(this.engine) ?? [])].filter((c) => c !== this && c.manager !== undefined && !c.closed)];
    const orderVia = new Map<string, SierraConnection>();
    const positionVia = new Map<string, SierraConnection>();
    return {
      workingOrders: async () => {
        const all: WorkingOrderRef[] = [];
        for (const c of peers) {
          for (const o of c.ownWorkingOrders()) {
            if (orderVia.has(o.clientOrderId)) continue;
            orderVia.set(o.clientOrderId, c);
            all.push(o);
          }
        }
        return all;
      },
      positions: async () => {
        const merged = new Map<string, number>();
        for (const c of peers) {
          for (const p of c.ownPositions()) {
            const known = merged.get(p.instrument);
            // A figure Sierra reported wins over "unknown" (NaN); the first connection to report it flattens it.
            if (known === undefined || (Number.isNaN(known) && !Number.isNaN(p.quantity))) {
              merged.set(p.instrument, p.quantity);
              positionVia.set(p.instrument, c);
            }
          }
        }
        return [...merged].filter(([, q]) => q !== 0).map(([instrument, quantity]) => ({ instrument, quantity }));
      },
      cancel: async (o) => void (await (orderVia.get(o.clientOrderId) ?? this).requireManager().cancel(o.clientOrderId)),
      flatten: async (p) => void (await (positionVia.get(p.instrument) ?? this).requireManager().flattenPosition(p.instrument)),
    };
  }

  /**
   * An order acknowledged after the kill: every connection of the account hears it, and the first to know its
   * ServerOrderID cancels it (another connection may not have read the acknowledgement yet, or never will).
   */
  private cancelLate(manager: OrderManager, clientOrderId: string): Promise<unknown> {
    const acknowledged = (m: OrderManager | undefined): boolean => Boolean(m?.order(clientOrderId)?.serverOrderId);
    if (!acknowledged(manager) && [...(ACCOUNT_CONNECTIONS.get(this.engine) ?? [])].some((c) => c !== this && acknowledged(c.manager))) return Promise.resolve();
    return manager.cancel(clientOrderId);
  }

  /** An order the account's engine sent or counts (any connection's, a flatten's id included). */
  private engineKnows(clientOrderId: string): boolean {
    return this.engine.isUsedId(clientOrderId) || this.engine.openOrders().some((o) => o.clientOrderId === clientOrderId);
  }

  /** This connection's working orders (acknowledged by Sierra). */
  private ownWorkingOrders(): WorkingOrderRef[] {
    return this.requireManager()
      .openOrders()
      .filter((o) => o.serverOrderId !== null)
      .map((o) => ({ clientOrderId: o.clientOrderId, instrument: o.symbol, side: o.side, quantity: o.quantity - o.filled, ...(o.parentClientOrderId ? { parent: o.parentClientOrderId } : {}) }));
  }

  /** This connection's positions; its own symbol is flattened unless Sierra said it is flat (an unknown position is not flat). */
  private ownPositions(): PositionRef[] {
    const symbols = new Map(this.requireManager().positions().map((p) => [p.symbol, p.quantity]));
    if (!symbols.has(this.symbol)) symbols.set(this.symbol, Number.NaN);
    return [...symbols].map(([instrument, quantity]) => ({ instrument, quantity }));
  }

  /** Back to ACTIVE: new orders pass the risk rules again. */
  resume(): void {
    this.engine.setKillSwitch('ACTIVE');
    this.emitStatus();
  }

  setKillSwitch(state: KillSwitchState): void {
    this.engine.setKillSwitch(state);
    this.emitStatus();
  }

  // -------------------------------------------------------------------------------------------------------------

  private reserve(intent: RiskIntent, ids: { clientOrderId: string; exits: string[] }): RiskVerdict {
    const rules = this.pendingRules;
    const now = this.now();
    if (intent.action === 'modify') return this.engine.reserveModify({ clientOrderId: intent.clientOrderId, quantity: intent.quantity, price: intent.price, stopPrice: intent.stopPrice, staleAfterSec: rules.staleAfterSec, now });
    return this.engine.reserve({
      clientOrderId: ids.clientOrderId,
      instrument: intent.symbol,
      side: intent.side,
      quantity: intent.quantity,
      type: intent.type,
      price: intent.price,
      stopPrice: intent.stopPrice,
      exits: ids.exits,
      staleAfterSec: rules.staleAfterSec,
      now,
    });
  }

  private authorize(clientOrderId: string, action: 'submit' | 'modify'): Verdict {
    const enabled = this.tradingEnabled;
    return action === 'modify' ? this.engine.authorizeModify(clientOrderId, enabled) : this.engine.authorizeSend(clientOrderId, enabled);
  }

  /** After every (re)connect's reconciliation: Sierra's positions and open orders are the engine's truth. */
  private reconcileEngine(manager: OrderManager): void {
    this.engine.reconcile({
      now: this.now(),
      positions: manager.positions().filter((p) => p.quantity !== 0).map((p) => ({ instrument: p.symbol, quantity: p.quantity })),
      working: manager
        .openOrders()
        .filter((o) => o.symbol !== '')
        .map((o) => ({ clientOrderId: o.clientOrderId, instrument: o.symbol, side: o.side, quantity: o.quantity, filled: o.filled, ...(o.parentClientOrderId ? { parent: o.parentClientOrderId } : {}), ...(o.serverOrderId ? { brokerOrderId: o.serverOrderId } : {}), ...(o.parentServerOrderId ? { parentBrokerOrderId: o.parentServerOrderId } : {}) })),
      fills: manager
        .sessionFills()
        .filter((f) => f.symbol !== '')
        .map((f) => ({ brokerOrderId: f.serverOrderId, ...(f.clientOrderId ? { clientOrderId: f.clientOrderId } : {}), instrument: f.symbol, side: f.side, quantity: f.quantity, executionId: f.executionId })),
    });
    this.engine.noteIdSequence(manager.lastSequence);
  }

  /**
   * The price collar's reference for `symbol`'s contract: the simulated market's last trade (its one price series
   * stands for every contract), else the last quote, tick or fill seen of that very contract.
   */
  lastTrade(symbol = this.symbol): number | null {
    if (this.market) return this.market.esQuote().last;
    return this.engine.lastTradeOf(symbol, this.now());
  }

  /** Signed position across every contract of `symbol`'s instrument (ESM26 and ESU26 across a roll are one exposure). */
  private instrumentPosition(symbol: string): number {
    let sum = 0;
    for (const [s, q] of this.positions) if (sameInstrument(s, symbol)) sum += q;
    return sum;
  }

  private onFill(fill: Fill): void {
    const instrument = this.manager?.symbolOf(fill.clientOrderId) || this.symbol;
    try {
      this.engine.onFill({ clientOrderId: fill.clientOrderId, instrument, side: fill.side, quantity: fill.quantity, price: fill.price, now: this.now(), ...(fill.serverOrderId ? { brokerOrderId: fill.serverOrderId } : {}) });
    } catch (err) {
      this.warnRisk(`A fill could not be counted by the risk rules: ${errorMessage(err)}`);
    }
    this.emit('fill', fill);
  }

  private onPosition(position: Position): void {
    this.positions.set(position.symbol, position.quantity);
    try {
      this.engine.syncPosition({ instrument: position.symbol, quantity: position.quantity, averagePrice: position.averagePrice }, this.now());
    } catch (err) {
      this.warnRisk(`A position could not be counted by the risk rules: ${errorMessage(err)}`);
    }
    this.emit('position', position);
    this.emitStatus();
  }

  private onAccount(account: AccountSnapshot): void {
    this.engine.syncAccount({ now: this.now(), realizedPnl: account.realizedPnl, unrealizedPnl: account.unrealizedPnl });
    this.dailyPnl = (account.realizedPnl ?? 0) + (account.unrealizedPnl ?? 0);
    this.emit('account', account);
    this.emitStatus();
  }

  /** The DTC figures now: logon uptime, order round trip (submit → Sierra's first answer), missed heartbeats, reconnects. */
  metrics(): DtcMetricsPayload {
    return this.dtcMetrics.snapshot(Date.now());
  }

  private observeMetrics(client: DtcClient, manager: OrderManager): void {
    const m = this.dtcMetrics;
    m.heartbeatMs = 1000 * (this.options.client.heartbeatSec ?? 10);
    client.on('logon', () => m.loggedOn(Date.now()));
    client.on('disconnected', (info: DisconnectInfo) => m.lost(Date.now(), info.error instanceof DtcTimeoutError));
    client.on('message', () => m.heard(Date.now()));
    manager.on('order-update', (u: OrderUpdate) => m.orderUpdate(u.clientOrderId, u.status, Date.now()));
    this.on('status', (s: ConnectionStatus) => m.stateChanged(s.state));
  }

  private onClientState(s: DtcClientState): void {
    if (s === 'connecting') this.setState('connecting', this.reason);
  }

  private setState(state: ConnectionState, reason: string): void {
    if (this.closed && state !== 'closed') return;
    this.state = state;
    this.reason = reason;
    this.emitStatus();
  }

  private emitStatus(): void {
    this.emit('status', this.status());
  }

  private requireManager(): OrderManager {
    if (!this.manager) {
      throw new MiaError('DTC_NOT_CONNECTED', this.closed ? 'The Sierra Chart connection is closed (redeploy in progress).' : 'The Sierra Chart connection is still starting: try again in a moment.');
    }
    return this.manager;
  }
}

// ---------------------------------------------------------------------------------------------------------------

function symbolAtOf(choice: string | FrontMonthSymbol): (now: number) => string {
  return typeof choice === 'string' ? () => choice : (now) => frontMonthSymbol(choice.root, now, choice.format, choice.exchange);
}

export interface LogonTestResult {
  ok: boolean;
  /** Trader-readable: the accounts found, or what failed and what to do. */
  message: string;
  serverName?: string;
  tradingSupported?: boolean;
  accounts?: string[];
}

/**
 * One logon with these settings (the editor's "Test connection"): trade accounts on success, else the reason.
 * Never retries; always closes what it opened (in simulator mode, its own simulator).
 */
export async function testLogon(options: SierraConnectionOptions, timeoutMs = 10_000): Promise<LogonTestResult> {
  let simulator: DtcSimulator | undefined;
  let market: ReturnType<typeof createMarket> | undefined;
  let client: DtcClient | undefined;
  try {
    let port = options.client.port ?? 0;
    if (options.simulator) {
      market = createMarket({ seed: options.simulator.seed, speed: options.simulator.speed });
      simulator = await startDtcSimulator({ market, port: 0, encoding: options.client.encoding ?? 'automatic', account: options.client.tradeAccount || 'Sim1', symbol: symbolAtOf(options.symbol) });
      port = simulator.port;
    }
    client = new DtcClient({
      ...options.client,
      host: options.simulator ? '127.0.0.1' : options.client.host,
      port,
      reconnect: { enabled: false },
      connectTimeoutMs: timeoutMs,
      logonTimeoutMs: timeoutMs,
      encodingTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
    });
    client.on('error', () => undefined);
    const info = await client.connect();
    const accounts = (await client.tradeAccounts()).map((a) => a.account);
    const wanted = options.client.tradeAccount;
    const server = info.serverName || 'Sierra Chart';
    if (wanted && accounts.length > 0 && !accounts.includes(wanted)) {
      return { ok: false, serverName: server, tradingSupported: info.tradingSupported, accounts, message: `Logged on to ${server}, but trade account "${wanted}" is not one it lists (${accounts.join(', ')}): fix the trade account.` };
    }
    const trading = info.tradingSupported ? 'trading allowed' : 'trading NOT allowed (enable "Allow Trading" in Sierra\'s DTC server settings)';
    return { ok: true, serverName: server, tradingSupported: info.tradingSupported, accounts, message: `Logged on to ${server}: accounts ${accounts.join(', ') || 'none'}; ${trading}.` };
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  } finally {
    await client?.close('connection test').catch(() => undefined);
    await simulator?.close().catch(() => undefined);
    market?.stop();
  }
}
