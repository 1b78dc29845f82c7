// ibkr-order: `order` messages (place, modify, cancel, cancel-all, flatten; msg.whatIf for a what-if), Battle
// Navale `signal`s (LONG/SHORT → entry + bracket; NO_SIGNAL ignored) and the kill switch ('kill' / 'resume' /
// 'kill-switch') → IBKR orders, through the risk rules and the confirmation-question rules. Messages are read by the
// one parser both order nodes share (lib/trading/order-intent.ts). Out: `order-update`, `fill` (from the sor stream) and `what-if` messages.
// Ticks, quotes and bars wired in (in simulator mode, the simulated market's own trades too) keep the market-data
// clock: with none for "Stale data after (s)", new entries are refused (lib/strategy/stale-data.ts).
// The work is lib/ibkr/order-desk.ts; this file reads settings and messages, and reports.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError, errorMessage, isRefusal } from '../../lib/errors';
import type { ContractSpec } from '../../lib/ibkr/contract-resolver';
import { IbkrOrderDesk, type DeskMessage, type DeskOutcome } from '../../lib/ibkr/order-desk';
import { knownTickSize, parseOrderMessage, type ParseSettings, type SignalSettings } from '../../lib/trading/order-intent';
import { DEFAULT_ACCEPTED_QUESTIONS, parseQuestionIds, type QuestionRuleSettings } from '../../lib/ibkr/question-rules';
import type { StreamGap, SubscriptionHandle } from '../../lib/ibkr/stream';
import path from 'node:path';
import { resolveRiskLimits, type RiskLimits } from '../../lib/trading/risk-rules';
import { acquireEngine, findEngine, type EngineHandle } from '../../lib/trading/accounts';
import { FileJournal, RedisJournal } from '../../lib/trading/journal';
import { RedisSharedBudget } from '../../lib/trading/shared-budget';
import { EntryExpiry, checkSignalEntryExpiryMin, isSignalEntry } from '../../lib/trading/entry-expiry';
import { guardInFlight } from '../../lib/trading/kill-switch';
import { checkStaleAfterSec, isMarketDataTopic, readMarketData } from '../../lib/strategy/stale-data';
import { ibkrConfigNode, showSessionStatus, type IbkrConfigNode, type IbkrStateEvent } from '../shared/ibkr-connection-registry';
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
  /** "Cancel an unfilled signal entry after (min)", market time; 0 = never. */
  signalEntryExpiryMin?: string | number;
}

/** "Stale data after (s)" when the node was saved before the setting existed (as sierra-order). */
const DEFAULT_STALE_AFTER_SEC = 10;

const flag = (v: unknown, fallback: boolean): boolean => (v === undefined || v === '' ? fallback : v === true || v === 'true');
const num = (v: unknown): number | undefined => (v === undefined || v === null || v === '' ? undefined : Number(v));

function signalSettings(config: IbkrOrderDef): SignalSettings {
  const quantity = num(config.quantity) ?? 1;
  const entryType = config.entryType === 'limit' ? 'limit' : 'market';
  const target = config.target === 'tp2' ? 2 : 1;
  const tif = config.tif === 'gtc' ? 'gtc' : 'day';
  if (!Number.isInteger(quantity) || quantity <= 0) throw new InvalidInputError(`ibkr-order: "Quantity (contracts)" must be a whole number above 0; got ${String(config.quantity)}.`);
  return { quantity, entryType, target, tif };
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
    let expiry: EntryExpiry | undefined;
    let stopExpiry: (() => void) | undefined;
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
    let signals: SignalSettings = { quantity: 1, entryType: 'market', target: 1, tif: 'day' };
    const whatIfDefault = flag(config.whatIf, false);
    // The node's own contract: ES front month trades on a 0.25 tick; a conid's grid is checked by IBKR.
    const tickSize = config.contract === 'conid' ? null : knownTickSize('ES');

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
      const expiryMin = checkSignalEntryExpiryMin(config.signalEntryExpiryMin, 'ibkr-order');
      const configNode = ibkrConfigNode(RED, config.connection, 'ibkr-order');
      ibkr = configNode;
      // An order node shows trading turned off by the account check (paper/live, unknown account) above the session.
      const showState = (event: IbkrStateEvent): void => {
        if (event.tradingBlocked) setStatus(node, 'red', 'ring', 'trading off: account check');
        else showSessionStatus(node, event);
      };
      showState(configNode.sessionState());
      unsubscribeState = configNode.onState(showState);
      desk = (async () => {
        const connection = await configNode.connection();
        // Simulator mode trades the simulated market, so its clock drives the risk rules (trading hours, cooldown,
        // daily reset) as sierra-order's does: a demo or test at night or at the weekend meets the simulated session.
        const now = (): number => configNode.marketNow();
        const market = configNode.simulator()?.market;
        const log = { info: (m: string) => node.log(m), warn: (m: string) => node.warn(m) };
        // One risk engine per IBKR account, shared by every ibkr-order node of the account (strictest limits apply).
        // The account's id, not the connection's: two connections (config nodes) to one account share its engine.
        const accountId =
          configNode.sessionState().accountId ??
          (configNode.simulator()
            ? undefined
            : await connection.client.accountId().catch((err: unknown) => {
                node.warn(`The IBKR account id could not be read (${errorMessage(err)}): this node's risk limits are counted per connection until the next deploy.`);
                return undefined;
              }));
        const account = configNode.simulator() ? `${accountId ?? 'sim'}@simulator-${config.connection}` : (accountId ?? `connection-${config.connection}`);
        const userDir = (RED.settings as { userDir?: unknown }).userDir;
        const journalDir = typeof userDir === 'string' && userDir ? path.join(userDir, 'mia-trading') : undefined;
        // Limits shared over Redis: the account's journal is kept there too (one budget for every instance), with
        // the file as the copy written before each order leaves.
        const redis = configNode.sharedRedis();
        const journal = redis && !findEngine('ibkr', account)
          ? new RedisJournal({ redis, broker: 'ibkr', account, local: journalDir ? new FileJournal(journalDir, 'ibkr', account) : undefined, onError: (err) => node.warn(`The shared risk journal in Redis could not be written (the local copy holds the state): ${errorMessage(err)}`) })
          : undefined;
        // ... and the budget itself: every instance's orders are claimed there atomically before they leave.
        const shared = journal && redis ? new RedisSharedBudget({ redis, broker: 'ibkr', account }) : undefined;
        handle = acquireEngine({ broker: 'ibkr', account, holder: node.id, limits, journalDir, journal, shared });
        if (closed) handle.release();
        const engine = handle.engine;
        const created = new IbkrOrderDesk({ client: connection.client, engine, questions, contract: spec, now, staleAfterSec: stale, log });
        // The account's positions and working orders are read now, not when the first order is already waiting.
        created.reconcileEngine().catch((err: unknown) => node.warn(`IBKR positions and orders could not be read for the risk rules (new entries wait until they are): ${errorMessage(err)}`));
        const onDiscrepancy = (d: { message: string }): void => node.warn(`Risk journal and IBKR disagree: ${d.message}.`);
        engine.on('discrepancy', onDiscrepancy);
        const stopInFlight = guardInFlight(engine, async (o) => connection.client.cancelOrder(Number(o.brokerOrderId), { futures: true }), (m) => node.warn(m));
        // A stop reached (daily loss, losing streak, max trades, REDUCING / HALTED): resting entries are cancelled.
        const onEntryStop = (): void => {
          void created.cancelStoppedEntries().then((r) => {
            if (!r.summary) return;
            node.warn(r.summary);
            setStatus(node, r.failures.length ? 'red' : 'yellow', 'dot', `${r.rule}: ${r.failures.length ? 'cancel failed' : `${r.cancelled.length} cancelled`}`);
          });
        };
        engine.on('entry-stop', onEntryStop);
        if (expiryMin > 0 && !closed) {
          // Signal entries not filled within the setting (market time) are cancelled through this desk.
          const signalExpiry = new EntryExpiry({
            afterMin: expiryMin,
            now,
            isWorking: (id) => engine.orderOf(id) !== null,
            cancel: async (id) => {
              const outcome = await created.execute({ kind: 'cancel', clientOrderId: id });
              for (const m of outcome.messages) node.send(asMessage(m));
              if (outcome.error) throw outcome.error;
            },
            onExpired: (_id, text) => node.log(text),
            onError: (_id, text) => node.warn(text),
            memory: engine,
          });
          expiry = signalExpiry;
          stopExpiry = signalExpiry.start();
        }
        stopGuard = () => {
          stopInFlight();
          engine.off('discrepancy', onDiscrepancy);
          engine.off('entry-stop', onEntryStop);
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
          let pricing = false;
          orders = stream.subscribeOrders((args) => {
            for (const m of created.onStream(args)) node.send(asMessage(m));
            // IBKR left later fills without a price: live orders carry the average of every fill.
            if (created.awaitingFillPrices && !pricing) {
              pricing = true;
              void created
                .reconcile()
                .then((messages) => {
                  for (const m of messages) node.send(asMessage(m));
                })
                .catch((err: unknown) => node.warn(`IBKR live orders could not be read to price the latest fills: ${errorMessage(err)}`))
                .finally(() => {
                  pricing = false;
                });
            }
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
      if (isMarketDataTopic(msg.topic)) {
        // Judged by the data's own time t: a message stamped long ago does not make the feed look fresh.
        const point = readMarketData(msg.topic, msg.payload);
        (await (desk as Promise<IbkrOrderDesk>)).noteMarketData(point);
        expiry?.sweep();
        return;
      }
      // ibkr-quote reports a stream gap on its quote output: not data (the stale clock keeps running), not an error.
      if (msg.topic === 'gap') return;
      const parseSettings: ParseSettings = { signal: signals, tickSize, whatIf: whatIfDefault };
      const parsed = parseOrderMessage(msg, parseSettings);
      if (parsed.kind === 'ignored') {
        setStatus(node, 'grey', 'ring', `${parsed.reason} ignored`);
        return;
      }
      const engine = await (desk as Promise<IbkrOrderDesk>);
      if (parsed.kind === 'kill-switch') {
        if (parsed.state !== 'HALTED') {
          engine.setKillSwitch(parsed.state);
          setStatus(node, parsed.state === 'ACTIVE' ? 'green' : 'yellow', 'dot', `kill switch ${parsed.state}`);
          return;
        }
        setStatus(node, 'red', 'ring', 'kill switch HALTED');
        const outcome = await engine.kill((line) => {
          // Each step as it ends (the last, the sweep, may wait up to 5 s for IBKR's live-orders slot).
          setStatus(node, 'red', 'ring', `HALTED: ${line}`);
          node.log(`Kill switch step ${line}`);
        });
        // The account's positions and working orders are read again before the next entry (the kill may have met
        // orders and positions of other nodes or made by hand).
        handle?.engine.markUnreconciled();
        for (const m of outcome.messages) send(asMessage(m));
        setStatus(node, 'red', 'dot', outcome.error ? 'HALTED: cancel/flatten failed' : 'kill switch HALTED');
        if (outcome.error) throw outcome.error;
        node.warn(`Kill switch HALTED: ${outcome.status}. Send 'resume' to trade again.`);
        return;
      }
      const { intent, instrument } = parsed;
      setStatus(node, 'blue', 'ring', `${intent.kind} sending…`);
      const sentAt = ibkr?.marketNow() ?? Date.now();
      const outcome = await engine.execute(intent, instrument);
      if (outcome.clientOrderId && isSignalEntry(intent)) expiry?.track(outcome.clientOrderId, sentAt, intent.origin);
      for (const m of outcome.messages) send(asMessage(m));
      report(outcome);
      // A risk refusal was already reported by the desk (a 'rejected' update on the output and one warn line).
      if (outcome.error && isRefusal(outcome.error)) {
        setStatus(node, 'yellow', 'ring', outcome.status);
        return;
      }
      if (outcome.error) throw outcome.error;
    });

    handleClose(node, () => {
      closed = true;
      orders?.unsubscribe();
      stopGaps?.();
      stopMarket?.();
      unsubscribeState?.();
      stopGuard?.();
      stopExpiry?.();
      handle?.release();
    });
  }

  RED.nodes.registerType('ibkr-order', IbkrOrderNode);
};
