// ibkr-order: `order` messages (place, modify, cancel, cancel-all; msg.whatIf for a what-if) and Battle Navale
// `signal`s (LONG/SHORT → entry + bracket; NO_SIGNAL ignored) → IBKR orders, through the risk rules and the
// confirmation-question rules. Out: `order-update`, `fill` (from the sor stream) and `what-if` messages.
// Ticks, quotes and bars wired in (in simulator mode, the simulated market's own trades too) keep the market-data
// clock: with none for "Stale data after (s)", new entries are refused (lib/strategy/stale-data.ts).
// The work is lib/ibkr/order-desk.ts; this file reads settings and messages, and reports.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError, MiaError, errorMessage } from '../../lib/errors';
import type { ContractSpec } from '../../lib/ibkr/contract-resolver';
import { IbkrOrderDesk, type DeskMessage, type DeskOutcome } from '../../lib/ibkr/order-desk';
import { intentFromMessage, type SignalOrderSettings } from '../../lib/ibkr/order-intent';
import { DEFAULT_ACCEPTED_QUESTIONS, parseQuestionIds, type QuestionRuleSettings } from '../../lib/ibkr/question-rules';
import type { StreamGap, SubscriptionHandle } from '../../lib/ibkr/stream';
import path from 'node:path';
import { resolveRiskLimits, type RiskLimits } from '../../lib/trading/risk-rules';
import { acquireEngine, type EngineHandle } from '../../lib/trading/accounts';
import { guardInFlight, kill } from '../../lib/trading/kill-switch';
import { checkBarPayload, checkStaleAfterSec, isMarketDataTopic } from '../../lib/strategy/stale-data';
import { ibkrConfigNode, showSessionStatus, type IbkrConfigNode } from '../shared/ibkr-connection-registry';
import { handleClose, handleInput, setStatus, statusError } from '../shared/node-kit';

interface IbkrOrderDef extends NodeDef {
  connection: string;
  contract?: string; // 'es-front' | 'conid'
  conid?: string | number;
  quantity?: string | number;
  entryType?: string;
  target?: string; // 'tp1' | 'tp2'
  tif?: string;
  acceptQuestions?: string;
  acceptAll?: boolean | string;
  whatIf?: boolean | string;
  dailyLossLimit?: string | number;
  maxTradesPerDay?: string | number;
  cooldownMin?: string | number;
  tradingHoursEnabled?: boolean | string;
  tradingStart?: string;
  tradingEnd?: string;
  maxPosition?: string | number;
  maxOrderSize?: string | number;
  maxConsecutiveLosses?: string | number;
  staleAfterSec?: string | number;
}

/** "Stale data after (s)" when the node was saved before the setting existed (as sierra-order). */
const DEFAULT_STALE_AFTER_SEC = 10;

const flag = (v: unknown, fallback: boolean): boolean => (v === undefined || v === '' ? fallback : v === true || v === 'true');
const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));

function signalSettings(config: IbkrOrderDef): SignalOrderSettings {
  const quantity = num(config.quantity) ?? 1;
  const entryType = config.entryType === 'limit' ? 'limit' : 'market';
  const targetIndex = config.target === 'tp2' ? 1 : 0;
  const tif = config.tif === 'gtc' ? 'gtc' : 'day';
  if (!Number.isInteger(quantity) || quantity <= 0) throw new InvalidInputError(`ibkr-order: "Quantity (contracts)" must be a whole number above 0; got ${String(config.quantity)}.`);
  return { quantity, entryType, targetIndex, tif };
}

function riskLimits(config: IbkrOrderDef): Partial<RiskLimits> {
  return {
    dailyLossLimit: num(config.dailyLossLimit),
    maxTradesPerDay: num(config.maxTradesPerDay),
    cooldownMin: num(config.cooldownMin),
    tradingHoursEnabled: config.tradingHoursEnabled === undefined ? undefined : flag(config.tradingHoursEnabled, true),
    tradingStart: config.tradingStart || undefined,
    tradingEnd: config.tradingEnd || undefined,
    maxPosition: num(config.maxPosition),
    maxOrderSize: num(config.maxOrderSize),
    maxConsecutiveLosses: num(config.maxConsecutiveLosses),
  };
}

function staleAfterSec(config: IbkrOrderDef): number {
  const value = config.staleAfterSec === undefined || config.staleAfterSec === '' ? DEFAULT_STALE_AFTER_SEC : Number(config.staleAfterSec);
  try {
    return checkStaleAfterSec(value);
  } catch {
    throw new InvalidInputError(`ibkr-order: "Stale data after (s)" "${String(config.staleAfterSec)}" is not valid: use seconds ≥ 0 (0 turns the guard off).`);
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** A tick, quote or bar refreshes the stale-data clock only if it carries a price (ARCHITECTURE.md contracts). */
function checkMarketData(topic: 'tick' | 'quote' | 'bar', payload: unknown): void {
  if (topic === 'bar') return checkBarPayload(payload);
  if (topic === 'tick' && !(isRecord(payload) && positive(payload.price))) {
    throw new InvalidInputError(`A tick message needs a positive price: got ${JSON.stringify(payload)?.slice(0, 120)}.`);
  }
  // A quote may lack a last trade (IBKR sends bid/ask first), but it needs one price.
  if (topic === 'quote' && !(isRecord(payload) && (positive(payload.last) || positive(payload.bid) || positive(payload.ask)))) {
    throw new InvalidInputError(`A quote message needs a positive last, bid or ask: got ${JSON.stringify(payload)?.slice(0, 120)}.`);
  }
}

function contractSpec(config: IbkrOrderDef): ContractSpec {
  if (config.contract !== 'conid') return { symbol: 'ES', secType: 'FUT' };
  const conid = Number(config.conid);
  if (!Number.isInteger(conid) || conid <= 0) throw new InvalidInputError(`ibkr-order: "Contract id" must be an IBKR conid (a whole number); got ${String(config.conid)}.`);
  return { conid };
}

const asMessage = (m: DeskMessage): NodeMessage => ({ topic: m.topic, payload: m.payload }) as NodeMessage;

export = function register(RED: NodeAPI): void {
  function IbkrOrderNode(this: Node, config: IbkrOrderDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    let ibkr: IbkrConfigNode | undefined;
    let desk: Promise<IbkrOrderDesk> | undefined;
    let unsubscribeState: (() => void) | undefined;
    let orders: SubscriptionHandle | undefined;
    let closed = false;
    let stopGaps: (() => void) | undefined;
    let stopMarket: (() => void) | undefined;
    let handle: EngineHandle | undefined;
    let stopGuard: (() => void) | undefined;
    /** Order updates missed while the stream was down are read back from IBKR's live orders. */
    const onGap = (gap: StreamGap): void => {
      if (!gap.subscriptions.includes('sor') || !desk) return;
      node.warn(`IBKR order stream was interrupted (${gap.reason}): reading live orders to catch up`);
      void desk
        .then((d) => d.reconcile())
        .then((messages) => {
          for (const m of messages) node.send(asMessage(m));
        })
        .catch((err: unknown) => node.warn(`IBKR live orders could not be read after the stream gap: ${errorMessage(err)}`));
    };
    let setupError: Error | undefined;
    let signals: SignalOrderSettings = { quantity: 1, entryType: 'market', targetIndex: 0, tif: 'day' };
    const whatIfDefault = flag(config.whatIf, false);

    try {
      signals = signalSettings(config);
      const questions: QuestionRuleSettings = {
        accepted: config.acceptQuestions === undefined ? DEFAULT_ACCEPTED_QUESTIONS : parseQuestionIds(config.acceptQuestions),
        acceptAll: flag(config.acceptAll, false),
      };
      const limits = riskLimits(config);
      resolveRiskLimits(limits); // a bad setting is refused at deploy, with the field named
      const spec = contractSpec(config);
      const stale = staleAfterSec(config);
      const configNode = ibkrConfigNode(RED, config.connection, 'ibkr-order');
      ibkr = configNode;
      showSessionStatus(node, configNode.sessionState());
      unsubscribeState = configNode.onState((event) => showSessionStatus(node, event));
      desk = (async () => {
        const connection = await configNode.connection();
        // Simulator mode trades the simulated market, so its clock drives the risk rules (trading hours, cooldown,
        // daily reset) as sierra-order's does: a demo or test at night or at the weekend meets the simulated session.
        const now = (): number => configNode.marketNow();
        const market = configNode.simulator()?.market;
        const log = { info: (m: string) => node.log(m), warn: (m: string) => node.warn(m) };
        // One risk engine per IBKR account, shared by every ibkr-order node of the account (strictest limits apply).
        const accountId = configNode.sessionState().accountId;
        const account = configNode.simulator() ? `${accountId ?? 'sim'}@simulator-${config.connection}` : (accountId ?? `connection-${config.connection}`);
        const userDir = (RED.settings as { userDir?: unknown }).userDir;
        handle = acquireEngine({ broker: 'ibkr', account, holder: node.id, limits, journalDir: typeof userDir === 'string' && userDir ? path.join(userDir, 'mia-trading') : undefined });
        if (closed) handle.release();
        const engine = handle.engine;
        const created = new IbkrOrderDesk({ client: connection.client, engine, questions, contract: spec, now, staleAfterSec: stale, log });
        // The account's positions and working orders are read now, not when the first order is already waiting.
        created.reconcileEngine().catch((err: unknown) => node.warn(`IBKR positions and orders could not be read for the risk rules (new entries wait until they are): ${errorMessage(err)}`));
        const onDiscrepancy = (d: { message: string }): void => node.warn(`Risk journal and IBKR disagree: ${d.message}.`);
        engine.on('discrepancy', onDiscrepancy);
        const stopInFlight = guardInFlight(engine, async (o) => connection.client.cancelOrder(Number(o.brokerOrderId), { futures: true }), (m) => node.warn(m));
        stopGuard = () => {
          stopInFlight();
          engine.off('discrepancy', onDiscrepancy);
        };
        if (market && !closed) {
          // The simulated market is the feed: live from the instant it runs, kept fresh by its trades.
          const onTrade = (): void => created.noteMarketData();
          created.noteMarketData();
          market.on('trade', onTrade);
          stopMarket = () => market.off('trade', onTrade);
        }
        const stream = await configNode.stream();
        if (!closed) {
          orders = stream.subscribeOrders((args) => {
            for (const m of created.onStream(args)) node.send(asMessage(m));
          });
          stream.on('gap', onGap);
          stopGaps = () => stream.off('gap', onGap);
        }
        return created;
      })();
      desk.catch((err: unknown) => statusError(node, err));
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(errorMessage(err));
      statusError(node, setupError);
    }

    function report(outcome: DeskOutcome): void {
      const refused = outcome.questions.filter((q) => !q.accepted).map((q) => q.id);
      const accepted = outcome.questions.filter((q) => q.accepted).map((q) => q.id);
      if (accepted.length) node.log(`IBKR questions accepted by rule: ${accepted.join(', ')}`);
      if (refused.length) node.warn(`IBKR questions refused by rule: ${refused.join(', ')}`);
      if (!outcome.error) setStatus(node, 'green', 'dot', outcome.status);
    }

    handleInput(node, async (msg, send) => {
      if (setupError) throw setupError;
      if (ibkr?.settingsError) throw ibkr.settingsError;
      if (msg.topic === 'kill-switch') {
        const d = await (desk as Promise<IbkrOrderDesk>);
        if (msg.payload === 'HALTED' && handle) {
          // HALTED is the kill: every working order of the account cancelled, every position flattened; never throws.
          const killing = kill(handle.engine, d.executionAdapter()); // HALTED from this instant (synchronous)
          setStatus(node, 'red', 'ring', 'kill switch HALTED');
          const report = await killing;
          // The flatten orders are not this node's orders (their fills do not reach the desk): the account is read
          // again before the next entry.
          handle.engine.markUnreconciled();
          if (report.failures.length) throw new MiaError('KILL_INCOMPLETE', report.summary);
          node.warn(report.summary);
          return;
        }
        const state = d.setKillSwitch(msg.payload);
        setStatus(node, state === 'ACTIVE' ? 'green' : 'red', state === 'ACTIVE' ? 'dot' : 'ring', `kill switch ${state}`);
        return;
      }
      if (isMarketDataTopic(msg.topic)) {
        checkMarketData(msg.topic, msg.payload);
        (await (desk as Promise<IbkrOrderDesk>)).noteMarketData();
        return;
      }
      // ibkr-quote reports a stream gap on its quote output: not data (the stale clock keeps running), not an error.
      if (msg.topic === 'gap') return;
      const whatIf = msg.whatIf === undefined ? whatIfDefault : msg.whatIf === true;
      const { intent, conid, symbol } = intentFromMessage(msg.topic, msg.payload, signals, whatIf);
      if (!intent) {
        setStatus(node, 'grey', 'ring', 'NO_SIGNAL ignored');
        return;
      }
      const engine = await (desk as Promise<IbkrOrderDesk>);
      setStatus(node, 'blue', 'ring', `${intent.kind} sending…`);
      const outcome = await engine.execute(intent, { conid, symbol });
      for (const m of outcome.messages) send(asMessage(m));
      report(outcome);
      if (outcome.error) throw outcome.error;
    });

    handleClose(node, () => {
      closed = true;
      orders?.unsubscribe();
      stopGaps?.();
      stopMarket?.();
      unsubscribeState?.();
      stopGuard?.();
      handle?.release();
    });
  }

  RED.nodes.registerType('ibkr-order', IbkrOrderNode);
};
