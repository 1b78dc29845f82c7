// Fuzz: every node type of the package, in the Node-RED runtime, fed 10,000 seeded hostile messages (test/fuzz/support/
// messages.ts). Config nodes are in simulator mode with trading ENABLED and no risk rule in the way, so an order that
// leaked would reach a simulator. For each run: nothing crashes, no uncaught exception or unhandled rejection, every
// message ends either handled (a Complete node) or reported (a Catch node) and never both, every reported error is
// trader-readable (no internal crash such as a TypeError, no "Cannot convert object to primitive value" from a
// validator that printed a hostile value), Object.prototype stays clean, and neither simulator saw an order.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import { hostileMessages, type FuzzMsg } from './support/messages';
import ibkrConfig = require('../../nodes/ibkr-config/ibkr-config');
import ibkrAuth = require('../../nodes/ibkr-auth/ibkr-auth');
import ibkrQuote = require('../../nodes/ibkr-quote/ibkr-quote');
import ibkrHistory = require('../../nodes/ibkr-history/ibkr-history');
import ibkrOptionsChain = require('../../nodes/ibkr-options-chain/ibkr-options-chain');
import ibkrAccount = require('../../nodes/ibkr-account/ibkr-account');
import ibkrOrder = require('../../nodes/ibkr-order/ibkr-order');
import miaVwapDelta = require('../../nodes/mia-vwap-delta/mia-vwap-delta');
import miaGammaWalls = require('../../nodes/mia-gamma-walls/mia-gamma-walls');
import miaBattleNavale = require('../../nodes/mia-battle-navale/mia-battle-navale');
import sierraConfig = require('../../nodes/sierra-config/sierra-config');
import sierraOrder = require('../../nodes/sierra-order/sierra-order');
import miaTradeStats = require('../../nodes/mia-trade-stats/mia-trade-stats');
import miaBacktest = require('../../nodes/mia-backtest/mia-backtest');

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const completeNode = require('@node-red/nodes/core/common/24-complete.js');

helper.init(require.resolve('node-red'));

const MESSAGES_PER_NODE = 10_000;
const BATCH = 250;
const SEED = 20250321;
/** An error a validator never writes: the node crashed on the input instead of refusing it. */
const INTERNAL_ERROR = /Cannot read prop|Cannot set prop|is not a function|is not iterable|Maximum call stack|Invalid array length|Converting circular/;
/**
 * Reported, but unreadable for a trader: String() or a template literal on a null-prototype object throws this
 * TypeError while a validator builds its message (validators print values with describeValue of lib/errors.ts).
 */
const UNREADABLE_ERROR = /Cannot convert object to primitive value/;
const ACCOUNT_VIEWS = ['summary', 'ledger', 'positions', 'orders', 'pnl'];

type Flow = Record<string, unknown>[];
type Seen = { on(event: 'input', fn: (msg: FuzzMsg & { _fuzz?: number; error?: { message?: unknown } }) => void): void };
type Receiver = { receive(msg: object): void };

const IBKR_CONFIG = { id: 'ibkr', type: 'ibkr-config', name: 'sim', mode: 'simulator', simSeed: 7, simSpeed: 0.001, simTls: false, trading: true, marketData: false };
/** Trading on and every rule that could hide a leaked order switched off: a valid order would reach the simulator. */
const SIERRA_CONFIG = { id: 'sierra', type: 'sierra-config', mode: 'simulator', simSeed: 7, simSpeed: 0.001, heartbeatSec: 5, tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxOrderSize: 100, maxPosition: 100, maxOrdersPerMinute: 0, collarTicks: 0, dailyLossLimit: 1e9, maxConsecutiveLosses: 1000 };
const OPEN_IBKR_ORDER = { quantity: 1, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxOrderSize: 100, maxPosition: 100, dailyLossLimit: 1e9, maxConsecutiveLosses: 1000, acceptAll: true };

const NODE_SETTINGS: Record<string, Record<string, unknown>> = {
  'ibkr-auth': { connection: 'ibkr' },
  'ibkr-quote': { connection: 'ibkr', symbol: 'ES', mode: 'snapshot' },
  'ibkr-history': { connection: 'ibkr', symbol: 'ES', bar: '1min', rangeMode: 'period', period: '1d', output: 'bars' },
  'ibkr-options-chain': { connection: 'ibkr', classes: 'both', expiryMode: '0dte', windowMode: 'percent', windowPct: 2, refreshSec: 0 },
  'ibkr-account': { connection: 'ibkr', view: 'summary', pollSec: 0 },
  'ibkr-order': { connection: 'ibkr', ...OPEN_IBKR_ORDER },
  'mia-vwap-delta': {},
  'mia-gamma-walls': {},
  'mia-battle-navale': {},
  'sierra-order': { connection: 'sierra', quantity: 1, entry: 'market', staleAfterSec: 0 },
};
const IBKR_NODES = ['ibkr-auth', 'ibkr-quote', 'ibkr-history', 'ibkr-options-chain', 'ibkr-account', 'ibkr-order'];

/** A flow of the nodes under fuzz, both config nodes, and a Catch and a Complete node scoped to the nodes under fuzz. */
function fuzzFlow(types: string[]): Flow {
  const ids = types.map((_, i) => `n${i}`);
  return [
    { id: 'tab', type: 'tab', label: 'fuzz' },
    IBKR_CONFIG,
    SIERRA_CONFIG,
    ...types.map((type, i) => ({ id: ids[i], type, z: 'tab', ...NODE_SETTINGS[type], wires: [] })),
    { id: 'fuzz-catch', type: 'catch', z: 'tab', scope: ids, uncaught: false, wires: [] },
    { id: 'fuzz-complete', type: 'complete', z: 'tab', scope: ids, uncaught: false, wires: [] },
  ];
}

/** ibkr-account reads the account on any message it accepts (IBKR allows 1 per 5 s): give it only views it refuses. */
function accountWouldRead(msg: FuzzMsg): boolean {
  if (msg.what !== undefined) return typeof msg.what === 'string' && ACCOUNT_VIEWS.includes(msg.what.trim().toLowerCase());
  return !(typeof msg.payload === 'string' && msg.payload.trim() !== '') || ACCOUNT_VIEWS.includes(msg.payload.trim().toLowerCase());
}

interface FuzzResult {
  sent: number;
  filtered: number;
  handled: number;
  caught: number;
  ms: number;
}

const processFaults: unknown[] = [];
const onFault = (err: unknown): void => {
  processFaults.push(err);
};

async function fuzz(types: string[], seed: number): Promise<FuzzResult> {
  await helper.load([ibkrConfig, ibkrAuth, ibkrQuote, ibkrHistory, ibkrOptionsChain, ibkrAccount, ibkrOrder, miaVwapDelta, miaGammaWalls, miaBattleNavale, sierraConfig, sierraOrder, miaTradeStats, miaBacktest, catchNode, completeNode], fuzzFlow(types) as unknown as Parameters<typeof helper.load>[1]);
  const ibkr = helper.getNode('ibkr') as unknown as IbkrConfigNode;
  const sierra = helper.getNode('sierra') as unknown as SierraConfigNode;
  const dtc = (await sierra.connection()).simulator;
  await ibkr.connection();
  const ibkrSim = ibkr.simulator();
  assert.ok(dtc && ibkrSim, 'both config nodes run their simulator');
  const orderPosts = (): number =>
    Object.entries(ibkrSim.control.stats().requests)
      // Placements (/iserver/account/<acct>/orders) and question replies; reading the live orders
      // (/iserver/account/orders, no account segment: the risk engine's reconciliation and the kill switch) is no order.
      .filter(([path]) => /\/account\/[^/]+\/orders?$|\/reply\//.test(path))
      .reduce((sum, [, n]) => sum + n, 0);
  const postsBefore = orderPosts();

  const { messages, filtered } = hostileMessages(seed, MESSAGES_PER_NODE);
  const handled = new Set<number>();
  const caught = new Set<number>();
  const both: number[] = [];
  const internal: string[] = [];
  const unreadable: string[] = [];
  (helper.getNode('fuzz-complete') as unknown as Seen).on('input', (msg) => {
    if (typeof msg._fuzz !== 'number') return;
    if (caught.has(msg._fuzz)) both.push(msg._fuzz);
    handled.add(msg._fuzz);
  });
  (helper.getNode('fuzz-catch') as unknown as Seen).on('input', (msg) => {
    if (typeof msg._fuzz !== 'number') return;
    if (handled.has(msg._fuzz)) both.push(msg._fuzz);
    caught.add(msg._fuzz);
    const text = typeof msg.error?.message === 'string' ? msg.error.message : '';
    const sample = `#${msg._fuzz} ${JSON.stringify(text).slice(0, 200)}`;
    if (UNREADABLE_ERROR.test(text)) unreadable.push(sample);
    else if (text === '' || INTERNAL_ERROR.test(text)) internal.push(sample);
  });

  const targets = types.map((_, i) => helper.getNode(`n${i}`) as unknown as Receiver);
  const started = Date.now();
  for (let i = 0; i < messages.length; i++) {
    const msg: FuzzMsg = { ...messages[i] };
    const type = types[i % types.length];
    if (type === 'ibkr-account' && accountWouldRead(msg)) msg.what = `not-a-view-${i % 5}`;
    Object.defineProperty(msg, '_fuzz', { value: i, enumerable: true, writable: true, configurable: true });
    targets[i % targets.length].receive(msg);
    if (i % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  const deadline = Date.now() + 60_000;
  while (handled.size + caught.size - both.length < messages.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const ms = Date.now() - started;

  const lost = messages.map((_, i) => i).filter((i) => !handled.has(i) && !caught.has(i));
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} message(s) neither handled nor reported, e.g. ${lost.slice(0, 3).map((i) => JSON.stringify(messages[i])?.slice(0, 200)).join(' | ')}`);
  assert.deepEqual(both.slice(0, 5), [], 'a message was both handled and reported as an error');
  assert.deepEqual(internal.slice(0, 5), [], `${internal.length} error(s) were crashes, not refusals`);
  assert.deepEqual(unreadable.slice(0, 5), [], `${unreadable.length} error(s) were unreadable: a validator printed a hostile value`);
  assert.deepEqual(processFaults, [], 'no uncaught exception or unhandled rejection');
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).filter((k) => k === 'polluted'), [], 'Object.prototype is not polluted');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted');
  assert.deepEqual(dtc.orders(), [], 'the DTC simulator received no order');
  assert.equal(orderPosts(), postsBefore, 'the IBKR simulator received no order request');
  return { sent: messages.length, filtered, handled: handled.size, caught: caught.size, ms };
}

const figures: string[] = [];

describe('fuzz: 10,000 hostile messages per node type, in the Node-RED runtime', function () {
  this.timeout(120_000);

  before(() => {
    process.on('uncaughtException', onFault);
    process.on('unhandledRejection', onFault);
  });
  after(() => {
    process.off('uncaughtException', onFault);
    process.off('unhandledRejection', onFault);
    console.log(`    fuzz figures (seed ${SEED}):\n${figures.map((f) => `      ${f}`).join('\n')}`);
  });
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  const runs: [string, string[]][] = [
    ...Object.keys(NODE_SETTINGS).map((type): [string, string[]] => [type, [type]]),
    // A config node has no input: it is fuzzed through every node that shares it, all at once.
    ['ibkr-config', IBKR_NODES],
    ['sierra-config', ['sierra-order', 'sierra-order']],
    ['mia-trade-stats', ['mia-trade-stats']],
    ['mia-backtest', ['mia-backtest']],
  ];
  runs.forEach(([name, types], k) => {
    it(`${name}: no crash, every message handled or reported in readable words, no order reaches a broker`, async function () {
      const r = await fuzz(types, SEED + k * 1_000);
      figures.push(`${name.padEnd(20)} ${r.sent} sent (${r.filtered} possibly-trading filtered out), ${r.handled} handled, ${r.caught} caught, all readable, ${r.ms} ms`);
    });
  });
});
