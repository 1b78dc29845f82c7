// SierraConnection: what one sierra-config node owns (STYLE.md, "one of each"): the DTC simulator and its seeded
// market in simulator mode, one DtcClient, one OrderManager, and the risk gate every order passes first (RiskGuard
// fed with the broker's position and P&L, plus a price collar around the last trade and a cap on orders per minute).
// The kill switch lives here too, so every sierra-order node on the connection sees the same HALTED.
//
// Events: 'order-update' (OrderUpdate), 'fill' (Fill), 'position' (Position), 'account' (AccountSnapshot), all as the
// order manager reports them, and 'status' (ConnectionStatus) whenever something a status ring shows changes.

import { EventEmitter } from 'events';
import type { AccountSnapshot, Fill, OrderUpdate, Position } from '../contracts';
import { InvalidInputError, MiaError, errorMessage } from '../errors';
import { RiskGuard, type KillSwitchState, type RiskLimits, type RiskState } from '../trading/risk-rules';
import { MarketDataClock } from '../strategy/stale-data';
import { createMarket } from '../sim/market';
import { startDtcSimulator, type DtcSimulator } from '../sim/dtc';
import { DtcMetrics, type DtcMetricsPayload } from '../metrics';
import { DtcClient, type DtcClientOptions, type DtcClientState, type DtcLogLevel } from './client';
import { RiskDeniedError } from './errors';
import { OrderManager, type ManagerState, type ModifyIntent, type OrderIntent, type RiskIntent, type RiskVerdict, type SubmitResult } from './order-manager';

/** The rules the gate adds to RiskGuard's. */
export type GateRule = 'price-collar' | 'max-orders-per-minute';

export interface RiskGateOptions {
  limits: Partial<RiskLimits>;
  /** Largest distance of a limit or stop price from the last trade, in ticks; 0 turns the collar off. */
  collarTicks: number;
  tickSize: number;
  /** New orders in any rolling 60 s; 0 turns the cap off. */
  maxOrdersPerMinute: number;
  killSwitch?: KillSwitchState;
}

export interface RiskContext {
  now: number;
  /** Signed position of the symbol, from the broker. */
  position: number;
  /** Signed quantity of entry orders still working (bracket exits left out). */
  workingQuantity: number;
  /** The last trade price known, or null. */
  lastTrade: number | null;
  /** For a modify: the order's current total quantity (a larger new quantity is checked as new exposure). */
  orderQuantity?: number;
}

const MINUTE_MS = 60_000;
const PRICE_EPSILON = 1e-9;

/**
 * The pre-trade check: RiskGuard's rules (kill switch, trading hours, daily loss, trades per day, cooldown, order size,
 * position), then the price collar, then the orders-per-minute cap. Pure: time and the broker's figures come in.
 */
export class RiskGate {
  readonly guard: RiskGuard;
  private readonly collarTicks: number;
  private readonly tickSize: number;
  private readonly maxOrdersPerMinute: number;
  private readonly sentAt: number[] = [];

  constructor(options: RiskGateOptions) {
    this.guard = new RiskGuard(options.limits);
    if (options.killSwitch) this.guard.setKillSwitch(options.killSwitch);
    checkSetting(options.collarTicks, 'price collar (ticks)', true);
    checkSetting(options.maxOrdersPerMinute, 'max orders per minute', true);
    if (!(options.tickSize > 0)) throw new InvalidInputError(`Tick size ${options.tickSize} is not valid: use the contract's tick, 0.25 for ES.`);
    this.collarTicks = options.collarTicks;
    this.tickSize = options.tickSize;
    this.maxOrdersPerMinute = options.maxOrdersPerMinute;
  }

  get killSwitch(): KillSwitchState {
    return this.guard.state().killSwitch;
  }

  check(intent: RiskIntent, ctx: RiskContext): RiskVerdict {
    if (intent.action === 'modify') {
      if (this.killSwitch === 'HALTED') return denied('kill-switch', `kill switch is HALTED: no order may be modified (${intent.clientOrderId}). Set it to ACTIVE to trade again`);
      const increase = intent.quantity === undefined || ctx.orderQuantity === undefined ? 0 : intent.quantity - ctx.orderQuantity;
      if (increase > 0) {
        // A bigger order is new exposure: the same rules as a new order of the added contracts, and the new total
        // must still fit the order size.
        const maxOrderSize = this.guard.limits.maxOrderSize;
        if ((intent.quantity ?? 0) > maxOrderSize) return denied('max-order-size', `modify to ${intent.quantity} contracts exceeds the maximum order size of ${maxOrderSize}`);
        const decision = this.guard.check({ side: intent.side, quantity: increase, now: ctx.now, position: ctx.position, workingQuantity: ctx.workingQuantity });
        if (!decision.allowed) return denied(decision.rule, decision.reason);
      }
      return this.checkCollar([intent.price, intent.stopPrice], ctx.lastTrade) ?? { allowed: true };
    }
    const decision = this.guard.check({ side: intent.side, quantity: intent.quantity, now: ctx.now, position: ctx.position, workingQuantity: ctx.workingQuantity });
    if (!decision.allowed) return denied(decision.rule, decision.reason);
    const collar = this.checkCollar([intent.price, intent.stopPrice], ctx.lastTrade);
    if (collar) return collar;
    const recent = this.recentOrders(ctx.now);
    if (this.maxOrdersPerMinute > 0 && recent >= this.maxOrdersPerMinute) {
      return denied('max-orders-per-minute', `${recent} orders in the last minute, the maximum is ${this.maxOrdersPerMinute}: wait until the oldest is a minute old`);
    }
    this.sentAt.push(ctx.now);
    return { allowed: true };
  }

  /** Limit and stop prices (the entry, not a bracket's exits) must lie within the collar around the last trade. */
  private checkCollar(prices: (number | undefined)[], lastTrade: number | null): RiskVerdict | null {
    const priced = prices.filter((p): p is number => typeof p === 'number');
    if (this.collarTicks === 0 || priced.length === 0) return null;
    if (lastTrade === null) {
      return denied('price-collar', 'no last trade price is known to check the price against: wire quotes (topic quote or tick) into sierra-order, or set the price collar to 0');
    }
    const width = this.collarTicks * this.tickSize;
    for (const price of priced) {
      if (Math.abs(price - lastTrade) > width + PRICE_EPSILON) {
        const ticks = Math.round(Math.abs(price - lastTrade) / this.tickSize);
        return denied('price-collar', `price ${price} is ${ticks} ticks from the last trade ${lastTrade}, beyond the ${this.collarTicks}-tick collar (${lastTrade - width} to ${lastTrade + width})`);
      }
    }
    return null;
  }

  private recentOrders(now: number): number {
    while (this.sentAt.length > 0 && now - this.sentAt[0] >= MINUTE_MS) this.sentAt.shift();
    return this.sentAt.length;
  }
}

function denied(rule: string, reason: string): RiskVerdict {
  return { denied: true, rule, reason };
}

function checkSetting(value: number, what: string, allowZero: boolean): void {
  if (!Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidInputError(`Risk setting ${what} ${JSON.stringify(value)} is not valid: use a whole number ≥ ${allowZero ? 0 : 1}.`);
  }
}

// ---------------------------------------------------------------------------------------------------------------

export interface SimulatorSettings {
  /** Same seed → same prices: an ibkr-config simulator with this seed quotes the very market this one fills on. */
  seed: number;
  /** Simulated ms per real ms. */
  speed: number;
}

export interface SierraConnectionOptions {
  /** The DTC client's settings; `port` is ignored in simulator mode (the simulator's ephemeral port is used). */
  client: Omit<DtcClientOptions, 'port' | 'log'> & { port?: number };
  /** The Sierra Chart symbol signals trade and the kill switch flattens. */
  symbol: string;
  risk: RiskGateOptions;
  /** Present: start the DTC simulator in-process on 127.0.0.1 with a seeded market. */
  simulator?: SimulatorSettings;
  idPrefix?: string;
  answerTimeoutMs?: number;
  log?: (level: DtcLogLevel, text: string) => void;
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
}

export interface KillResult {
  killSwitch: 'HALTED';
  /** Orders whose cancel Sierra confirmed (bracket children go with their parent). */
  cancelled: OrderUpdate[];
  /** The flatten orders sent (none when already flat). */
  flattened: OrderUpdate[];
}

/** The kill switch is HALTED but cancelling or flattening failed: the trader must act in Sierra Chart. */
export class KillSwitchIncompleteError extends MiaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KILL_INCOMPLETE', message, options);
  }
}

const OPEN_STATUSES: ReadonlySet<OrderUpdate['status']> = new Set(['pending', 'working', 'partially-filled']);

/** Per-order rules an order node adds to the connection's risk gate (its own settings). */
export interface EntryRules {
  /** Refuse new entries when no tick, quote or bar arrived for this many seconds (lib/strategy/stale-data.ts); 0 or absent = off. */
  staleAfterSec?: number;
}

export class SierraConnection extends EventEmitter {
  readonly symbol: string;
  private readonly options: SierraConnectionOptions;
  private readonly gate: RiskGate;
  private readonly log: (level: DtcLogLevel, text: string) => void;
  private simulatorInstance: DtcSimulator | undefined;
  private market: ReturnType<typeof createMarket> | undefined;
  private client: DtcClient | undefined;
  private manager: OrderManager | undefined;
  private state: ConnectionState = 'starting';
  private reason = '';
  private readonly positions = new Map<string, number>();
  private dailyPnl = 0;
  private lastTradePrice: number | null = null;
  /** When market data last arrived (simulator trades, or ticks / quotes / bars an order node passes on). */
  private readonly marketData = new MarketDataClock();
  private readonly onMarketTrade = (): void => this.noteMarketData();
  /** Bracket exits (profit target and stop): not entries, so left out of the working quantity. */
  private readonly exitIds = new Set<string>();
  private opening: Promise<void> | undefined;
  private closed = false;
  /** Logon uptime, order round trips, missed heartbeats, reconnects (sierra-order's 'metrics'); wall-clock times. */
  private readonly dtcMetrics = new DtcMetrics();

  constructor(options: SierraConnectionOptions) {
    super();
    if (typeof options.symbol !== 'string' || options.symbol.trim() === '') {
      throw new InvalidInputError('Sierra Chart symbol is missing: set it in sierra-config exactly as File › Find Symbol shows it (e.g. ESZ25_FUT_CME).');
    }
    this.symbol = options.symbol;
    this.options = options;
    this.gate = new RiskGate(options.risk);
    this.log = options.log ?? (() => undefined);
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
    return this.market ? this.market.now() : Date.now();
  }

  status(): ConnectionStatus {
    return {
      state: this.state,
      reason: this.reason,
      tradingEnabled: this.tradingEnabled,
      killSwitch: this.gate.killSwitch,
      position: this.positions.get(this.symbol) ?? 0,
      dailyPnl: this.dailyPnl,
    };
  }

  riskState(): RiskState {
    return this.gate.guard.state(this.now());
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
      const market = createMarket({ seed: this.options.simulator.seed, speed: this.options.simulator.speed });
      market.start();
      this.market = market;
      // The simulated market is live from the instant it starts; its trades keep it fresh while it runs.
      this.marketData.observe(market.now());
      market.on('trade', this.onMarketTrade);
      const simulator = await startDtcSimulator({
        market,
        host: '127.0.0.1',
        port: 0,
        encoding: this.options.client.encoding ?? 'automatic',
        account: this.options.client.tradeAccount || 'Sim1',
        symbol: this.symbol,
      }).catch((err: unknown) => {
        market.stop();
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
      symbols: [this.symbol],
      answerTimeoutMs: this.options.answerTimeoutMs,
      beforeSubmit: (intent) => this.checkRisk(intent),
      now: () => this.now(), // one clock for every `t` this connection emits (see now())
    });
    this.client = client;
    this.manager = manager;
    client.on('error', () => undefined); // reported through 'disconnected'
    client.on('state', (s: DtcClientState) => this.onClientState(s));
    client.on('disconnected', (info: { error: Error; willReconnect: boolean }) => {
      this.setState(info.willReconnect ? 'disconnected' : 'error', info.error.message);
    });
    manager.on('state', (s: ManagerState) => {
      if (s === 'ready') this.setState('ready', '');
      else if (s === 'reconciling') this.setState('reconciling', '');
    });
    manager.on('warning', (err: Error) => this.log('warn', err.message));
    manager.on('order-update', (u: OrderUpdate) => this.emit('order-update', u));
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
    await this.opening?.catch(() => undefined);
    this.manager?.dispose();
    await this.client?.close('Node-RED redeploy').catch(() => undefined);
    await this.simulatorInstance?.close().catch(() => undefined);
    this.market?.off('trade', this.onMarketTrade);
    this.market?.stop();
    this.setState('closed', '');
    this.removeAllListeners();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Instructions (each refused with a clear error when trading is off or the connection is not ready)

  async submit(intent: OrderIntent, rules: EntryRules = {}): Promise<SubmitResult> {
    const manager = this.requireManager();
    this.checkStaleData(intent.symbol, intent.side, intent.quantity, rules);
    const result = await manager.submit(intent);
    if (result.target) this.exitIds.add(result.target.clientOrderId);
    if (result.stop) this.exitIds.add(result.stop.clientOrderId);
    return result;
  }

  cancel(clientOrderId: string): Promise<OrderUpdate> {
    return this.requireManager().cancel(clientOrderId);
  }

  async modify(clientOrderId: string, change: ModifyIntent, rules: EntryRules = {}): Promise<OrderUpdate> {
    const manager = this.requireManager();
    const order = manager.order(clientOrderId);
    const increase = order && change.quantity !== undefined ? change.quantity - order.quantity : 0;
    // A bigger entry is new exposure (as RiskGate sees it); price changes and exits are not entries.
    if (order && increase > 0 && !this.exitIds.has(clientOrderId)) this.checkStaleData(this.symbol, order.side, increase, rules);
    return manager.modify(clientOrderId, change);
  }

  flatten(symbol = this.symbol): Promise<{ cancelled: OrderUpdate[]; flatten: OrderUpdate | null }> {
    return this.requireManager().flatten(symbol);
  }

  cancelAll(symbol?: string): Promise<OrderUpdate[]> {
    return this.requireManager().cancelAll(symbol);
  }

  /** Market data (a tick, quote or bar) arrived now: the stale-data guard's clock. */
  noteMarketData(): void {
    this.marketData.observe(this.now());
  }

  /** Age of the newest market data (ms, on this connection's clock), or null when none has arrived. */
  marketDataAgeMs(): number | null {
    return this.marketData.ageMs(this.now());
  }

  /** The last trade seen upstream (quotes, ticks): the price collar's reference in live mode. */
  setLastTrade(price: number): void {
    if (Number.isFinite(price) && price > 0) this.lastTradePrice = price;
  }

  /**
   * The kill switch: HALTED first (no new order can pass the gate from this instant), then every working order is
   * cancelled and every known position flattened. Rejects with KillSwitchIncompleteError, still HALTED, when
   * Sierra could not be told (trading off, disconnected, refused).
   */
  async kill(): Promise<KillResult> {
    this.gate.guard.setKillSwitch('HALTED');
    this.emitStatus();
    const manager = this.requireManager();
    const symbols = new Set([this.symbol, ...[...this.positions].filter(([, q]) => q !== 0).map(([s]) => s)]);
    const cancelled: OrderUpdate[] = [];
    const flattened: OrderUpdate[] = [];
    try {
      // One symbol at a time: flatten cancels that symbol's orders itself, and a second cancel of the same order
      // would only race the first.
      for (const symbol of symbols) {
        const done = await manager.flatten(symbol);
        cancelled.push(...done.cancelled);
        if (done.flatten) flattened.push(done.flatten);
      }
      cancelled.push(...(await manager.cancelAll()));
    } catch (err) {
      throw new KillSwitchIncompleteError(
        `Kill switch is HALTED (no new orders), but cancelling and flattening did not complete: ${errorMessage(err)} Check Sierra Chart's Trade Orders and Positions windows now.`,
        { cause: err },
      );
    }
    return { killSwitch: 'HALTED', cancelled, flattened };
  }

  /** Back to ACTIVE: new orders pass the risk rules again. */
  resume(): void {
    this.gate.guard.setKillSwitch('ACTIVE');
    this.emitStatus();
  }

  setKillSwitch(state: KillSwitchState): void {
    this.gate.guard.setKillSwitch(state);
    this.emitStatus();
  }

  // -------------------------------------------------------------------------------------------------------------

  /** Throws RiskDeniedError('stale-data') for a new entry while market data is stale; reducing orders pass. */
  private checkStaleData(symbol: string, side: OrderIntent['side'], quantity: number, rules: EntryRules): void {
    if (!rules.staleAfterSec) return;
    const position = this.positions.get(symbol) ?? 0;
    const decision = this.marketData.check({ side, quantity, position, workingQuantity: this.workingEntryQuantity(symbol) }, this.now(), rules.staleAfterSec);
    if (!decision.allowed) throw new RiskDeniedError(decision.rule, `Order refused by the risk rule "${decision.rule}": ${decision.reason}. Nothing was sent.`);
  }

  private checkRisk(intent: RiskIntent): RiskVerdict {
    const ctx: RiskContext = {
      now: this.now(),
      position: this.positions.get(intent.symbol) ?? 0,
      workingQuantity: this.workingEntryQuantity(intent.symbol),
      lastTrade: this.lastTrade(),
    };
    if (intent.action === 'modify') ctx.orderQuantity = this.requireManager().order(intent.clientOrderId)?.quantity;
    return this.gate.check(intent, ctx);
  }

  /** The price collar's reference: the simulated market's last trade, else the last quote, tick or fill seen. */
  lastTrade(): number | null {
    return this.market ? this.market.esQuote().last : this.lastTradePrice;
  }

  private workingEntryQuantity(symbol: string): number {
    const manager = this.requireManager();
    let sum = 0;
    for (const o of manager.snapshot()) {
      if (!OPEN_STATUSES.has(o.status) || this.exitIds.has(o.clientOrderId)) continue;
      // OrderUpdate carries no symbol; orders of this connection are of its one symbol unless sent otherwise.
      if (symbol !== this.symbol) continue;
      const open = o.quantity - o.filledQuantity;
      sum += o.side === 'buy' ? open : -open;
    }
    return sum;
  }

  private onFill(fill: Fill): void {
    this.lastTradePrice = fill.price;
    try {
      this.gate.guard.recordFill({ side: fill.side, quantity: fill.quantity, price: fill.price, now: this.now() });
    } catch (err) {
      this.log('warn', `A fill could not be counted by the risk rules: ${errorMessage(err)}`);
    }
    this.emit('fill', fill);
  }

  private onPosition(position: Position): void {
    this.positions.set(position.symbol, position.quantity);
    if (position.symbol === this.symbol) {
      this.gate.guard.syncBroker({ now: this.now(), position: position.quantity, averagePrice: position.averagePrice });
    }
    this.emit('position', position);
    this.emitStatus();
  }

  private onAccount(account: AccountSnapshot): void {
    const snapshot = { now: this.now(), realizedPnl: account.realizedPnl ?? undefined, unrealizedPnl: account.unrealizedPnl ?? undefined };
    this.gate.guard.syncBroker(snapshot);
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
    client.on('disconnected', () => m.lost(Date.now()));
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
      simulator = await startDtcSimulator({ market, port: 0, encoding: options.client.encoding ?? 'automatic', account: options.client.tradeAccount || 'Sim1', symbol: options.symbol });
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
