// sierra-order: a Battle Navale signal or an order message in → Sierra Chart orders through the connection of its
// sierra-config node (every order passes the risk gate first); order updates, fills, positions and account snapshots
// out, one output each. Messages are read by the one parser both order nodes share (lib/trading/order-intent.ts).
// `kill` (or 'kill-switch' "HALTED") halts trading, cancels working orders and flattens; `resume` returns to ACTIVE.
// Ticks, quotes and bars wired in keep the market-data clock: with none for "Stale data after (s)", new entries are
// refused (lib/strategy/stale-data.ts) until fresh data returns.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { AccountSnapshot, Fill, OrderUpdate, Position } from '../../lib/contracts';
import { InvalidInputError, errorMessage } from '../../lib/errors';
import { metricsPeriodMs } from '../../lib/metrics';
import type { ConnectionStatus, EntryRules, SierraConnection } from '../../lib/sierra/connection';
import { toSierraCommand, type OrderCommand } from '../../lib/sierra/order-command';
import { checkStaleAfterSec, isMarketDataTopic, readMarketData } from '../../lib/strategy/stale-data';
import { EntryExpiry, checkSignalEntryExpiryMin, isSignalEntry } from '../../lib/trading/entry-expiry';
import type { CancelEntriesReport } from '../../lib/trading/kill-switch';
import { knownTickSize, parseOrderMessage, type SignalSettings as ParserSignalSettings } from '../../lib/trading/order-intent';
import { handleClose, handleInput, setStatus, statusError } from '../shared/node-kit';
import { sierraConfigNode } from '../sierra-config/api';

interface SierraOrderDef extends NodeDef {
  connection?: string;
  quantity?: number | string;
  entry?: string;
  target?: string | number;
  staleAfterSec?: number | string;
  /** "Metrics every (s)": the DTC metrics on the 4th output this often; 0 or empty = only on request. */
  metricsEverySec?: number | string;
  /** "Cancel an unfilled signal entry after (min)", market time; 0 = never. */
  signalEntryExpiryMin?: number | string;
}

interface SignalSettings {
  quantity: number;
  entry: 'limit' | 'market';
  target: 1 | 2;
  /** New entries refused after this many seconds without a tick, quote or bar; 0 = off. */
  staleAfterSec: number;
  /** Minutes of market time before an unfilled signal entry is cancelled; 0 = never. */
  signalEntryExpiryMin: number;
}

/** "Stale data after (s)" when the node was saved before the setting existed. */
const DEFAULT_STALE_AFTER_SEC = 10;

function readSettings(config: SierraOrderDef): SignalSettings {
  const quantity = config.quantity === undefined || config.quantity === '' ? 1 : Number(config.quantity);
  if (!Number.isInteger(quantity) || quantity <= 0) throw new InvalidInputError(`sierra-order: quantity "${String(config.quantity)}" is not valid: use a whole number of contracts ≥ 1.`);
  const entry = config.entry === 'market' ? 'market' : 'limit';
  const target = String(config.target ?? '1') === '2' ? 2 : 1;
  const staleText = config.staleAfterSec === undefined || config.staleAfterSec === '' ? DEFAULT_STALE_AFTER_SEC : Number(config.staleAfterSec);
  let staleAfterSec: number;
  try {
    staleAfterSec = checkStaleAfterSec(staleText);
  } catch {
    throw new InvalidInputError(`sierra-order: "Stale data after (s)" "${String(config.staleAfterSec)}" is not valid: use seconds ≥ 0 (0 turns the guard off).`);
  }
  const signalEntryExpiryMin = checkSignalEntryExpiryMin(config.signalEntryExpiryMin, 'sierra-order');
  return { quantity, entry, target, staleAfterSec, signalEntryExpiryMin };
}

const usd = (x: number): string => `${x < 0 ? '−' : '+'}$${Math.abs(Math.round(x))}`;
const describePosition = (q: number): string => (q > 0 ? `long ${q}` : q < 0 ? `short ${-q}` : 'flat');

/** The status ring: connection first, then HALTED, trading off, and position with today's P&L. */
function showStatus(node: Node, s: ConnectionStatus, note = ''): void {
  switch (s.state) {
    case 'starting':
    case 'connecting':
      setStatus(node, 'yellow', 'ring', 'connecting');
      return;
    case 'reconciling':
      setStatus(node, 'yellow', 'ring', 'reconciling orders');
      return;
    case 'disconnected':
      setStatus(node, 'red', 'ring', s.logonRefused ? 'logon refused: check login' : 'disconnected: retrying');
      return;
    case 'error':
      setStatus(node, 'red', 'ring', s.logonRefused ? 'logon refused: check login' : s.reason || 'connection failed');
      return;
    case 'closed':
      setStatus(node, 'grey', 'ring', 'closed');
      return;
    case 'ready':
      break;
  }
  const book = `${describePosition(s.position)} · ${usd(s.dailyPnl)}`;
  if (s.killSwitch === 'HALTED') setStatus(node, 'red', 'dot', `HALTED · ${book}`);
  else if (!s.tradingEnabled) setStatus(node, 'grey', 'ring', `trading off · ${book}`);
  else if (note) setStatus(node, 'yellow', 'dot', note); // the rule and what it cancelled: short enough to be read whole
  else if (s.killSwitch === 'REDUCING') setStatus(node, 'yellow', 'dot', `reducing · ${book}`);
  else setStatus(node, 'green', 'dot', book);
}

/** Carries out one command; a submit returns the entry's client order id. */
async function execute(connection: SierraConnection, command: OrderCommand, rules: EntryRules): Promise<string | undefined> {
  switch (command.action) {
    case 'submit':
      return (await connection.submit(command.intent, rules)).order.clientOrderId;
    case 'cancel':
      await connection.cancel(command.clientOrderId);
      return;
    case 'modify':
      await connection.modify(command.clientOrderId, command.change, rules);
      return;
    case 'flatten':
      await connection.flatten(command.symbol);
      return;
    case 'cancel-all':
      await connection.cancelAll(command.symbol);
      return;
  }
}

const TERMINAL: readonly OrderUpdate['status'][] = ['filled', 'cancelled', 'rejected'];

/** The DTC metrics leave on the 4th output (account and link health), topic 'metrics'. */
function metricsMessage(c: SierraConnection): (NodeMessage | null)[] {
  return [null, null, null, { topic: 'metrics', payload: c.metrics() }];
}

/** The risk state (kill switch, trades today, day P&L against its limit, losing streak) on the 4th output, topic 'risk'. */
function riskMessage(c: SierraConnection): (NodeMessage | null)[] {
  return [null, null, null, { topic: 'risk', payload: c.riskState() }];
}

/**
 * Sends the risk state when it changed: after every status change (position, P&L, kill switch, connection), every
 * fill, and on the metrics timer (a new session resets the day's counts without any event). Returns the sender.
 */
function observeRisk(node: Node, c: SierraConnection, detach: (() => void)[]): () => void {
  let lastSent = '';
  const sendIfChanged = (): void => {
    const message = riskMessage(c);
    const text = JSON.stringify(message[3]?.payload);
    if (text === lastSent) return;
    lastSent = text;
    node.send(message);
  };
  c.on('status', sendIfChanged);
  c.on('fill', sendIfChanged);
  detach.push(() => c.off('status', sendIfChanged), () => c.off('fill', sendIfChanged));
  return sendIfChanged;
}

/**
 * Orders sent and filled reach Node-RED's log at info (what Sierra was asked and what it did). An order reports
 * 'pending' more than once (when it is sent, then when Sierra Chart acknowledges it as pending): "order sent" is
 * logged for its first report only, and the order is forgotten once it ends.
 */
function observeOrders(node: Node, c: SierraConnection, detach: (() => void)[]): void {
  const announced = new Set<string>();
  const onUpdate = (u: OrderUpdate): void => {
    if (TERMINAL.includes(u.status)) announced.delete(u.clientOrderId);
    else if (!announced.has(u.clientOrderId)) {
      announced.add(u.clientOrderId);
      if (u.status === 'pending') node.log(`Sierra order sent: ${u.side} ${u.quantity} (${u.clientOrderId})`);
    }
    if (u.status === 'rejected') node.warn(`Sierra order rejected: ${u.side} ${u.quantity} (${u.clientOrderId})${u.reason ? `: ${u.reason}` : ''}`);
  };
  const onFill = (f: Fill): void => node.log(`Sierra fill: ${f.side} ${f.quantity} @ ${f.price} (${f.clientOrderId})`);
  c.on('order-update', onUpdate);
  c.on('fill', onFill);
  detach.push(() => c.off('order-update', onUpdate), () => c.off('fill', onFill));
}

export = function register(RED: NodeAPI): void {
  function SierraOrderNode(this: Node, config: SierraOrderDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    let settings: SignalSettings | undefined;
    let setupError: Error | undefined;
    let connection: Promise<SierraConnection> = Promise.reject(new Error('not connected'));
    connection.catch(() => undefined);
    const detach: (() => void)[] = [];
    let closed = false;
    let metricsMs = 0;
    /** What the last risk stop cancelled, shown until the kill switch is set again. */
    let stopNote = '';
    let expiry: EntryExpiry | undefined;

    setStatus(node, 'yellow', 'ring', 'connecting');
    try {
      settings = readSettings(config);
      metricsMs = metricsPeriodMs(config.metricsEverySec, 'sierra-order');
      const configNode = sierraConfigNode(RED, config.connection, 'sierra-order');
      connection = configNode.connection();
      connection.catch(() => undefined); // reported by the status below and by every input
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(errorMessage(err));
      statusError(node, setupError);
    }

    void connection.then(
      (c) => {
        if (closed) return; // redeployed before the connection started
        const relay = <T>(event: string, output: number, topic: string) => {
          const listener = (payload: T): void => {
            const out: (NodeMessage | null)[] = [null, null, null, null];
            out[output] = { topic, payload };
            node.send(out);
          };
          c.on(event, listener);
          detach.push(() => c.off(event, listener));
        };
        relay<OrderUpdate>('order-update', 0, 'order-update');
        relay<Fill>('fill', 1, 'fill');
        relay<Position>('position', 2, 'position');
        relay<AccountSnapshot>('account', 3, 'account');
        const onStatus = (s: ConnectionStatus): void => showStatus(node, s, stopNote);
        c.on('status', onStatus);
        detach.push(() => c.off('status', onStatus));
        // A risk stop cancelled resting entries (the connection logs the warn line): the status says so.
        const onStopped = (r: CancelEntriesReport): void => {
          stopNote = `${r.rule}: ${r.failures.length ? 'cancel failed' : `${r.cancelled.length} cancelled`}`;
          showStatus(node, c.status(), stopNote);
        };
        c.on('entries-cancelled', onStopped);
        detach.push(() => c.off('entries-cancelled', onStopped));
        showStatus(node, c.status());
        observeOrders(node, c, detach);
        if (settings && settings.signalEntryExpiryMin > 0) {
          const signalExpiry = new EntryExpiry({
            afterMin: settings.signalEntryExpiryMin,
            now: () => c.now(),
            isWorking: (id) => c.riskEngine.orderOf(id) !== null,
            cancel: (id) => c.cancel(id),
            onExpired: (_id, text) => node.log(text),
            onError: (_id, text) => node.warn(text),
            memory: c.riskEngine,
          });
          expiry = signalExpiry;
          detach.push(signalExpiry.start());
          const sweep = (): void => signalExpiry.sweep();
          c.on('status', sweep);
          detach.push(() => c.off('status', sweep));
        }
        const sendRisk = observeRisk(node, c, detach);
        sendRisk();
        if (metricsMs > 0) {
          const timer = setInterval(() => {
            node.send(metricsMessage(c));
            sendRisk();
          }, metricsMs);
          detach.push(() => clearInterval(timer));
        }
      },
      (err: unknown) => {
        if (!setupError) statusError(node, err);
      },
    );

    handleInput(node, async (msg) => {
      if (setupError || !settings) throw setupError ?? new Error('sierra-order is not configured.');
      if (msg.payload === 'metrics') {
        node.send(metricsMessage(await connection));
        return;
      }
      if (msg.payload === 'risk') {
        node.send(riskMessage(await connection));
        return;
      }
      if (isMarketDataTopic(msg.topic)) {
        // Judged by the data's own time t: a message stamped long ago does not make the feed look fresh.
        const point = readMarketData(msg.topic, msg.payload);
        const c = await connection;
        if (msg.topic !== 'bar' && point.price !== null) c.setLastTrade(point.price, point.contract, point.t);
        c.noteMarketData(point);
        expiry?.sweep();
        return;
      }
      // ibkr-quote reports a stream gap on its quote output: not data (the stale clock keeps running), not an error.
      if (msg.topic === 'gap') return;
      const signal: ParserSignalSettings = { quantity: settings.quantity, entryType: settings.entry, target: settings.target, tif: 'day' };
      const c = await connection;
      const parsed = parseOrderMessage(msg, { signal, tickSize: knownTickSize(c.symbol), whatIf: false });
      const rules: EntryRules = { staleAfterSec: settings.staleAfterSec };
      switch (parsed.kind) {
        case 'ignored':
          setStatus(node, 'grey', 'ring', `${parsed.reason} ignored`);
          return;
        case 'kill-switch':
          stopNote = '';
          if (parsed.state === 'HALTED') {
            const result = await c.kill();
            node.warn(`Kill switch HALTED: ${result.cancelled.length} order(s) cancelled, ${result.flattened.length} position(s) flattened. Send 'resume' to trade again.`);
          } else if (parsed.state === 'ACTIVE') {
            c.resume();
            node.log('Kill switch back to ACTIVE: new orders pass the risk rules again.');
          } else {
            c.setKillSwitch('REDUCING');
            node.log('Kill switch REDUCING: only orders that reduce the position pass.');
          }
          return;
        case 'order': {
          const sentAt = c.now();
          const id = await execute(c, toSierraCommand(parsed.intent, parsed.instrument, c.symbol, sentAt), rules);
          if (id && isSignalEntry(parsed.intent)) expiry?.track(id, sentAt, parsed.intent.origin);
          return;
        }
      }
    });

    handleClose(node, () => {
      closed = true;
      for (const off of detach.splice(0)) off();
    });
  }

  RED.nodes.registerType('sierra-order', SierraOrderNode);
};
