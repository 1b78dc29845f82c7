import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Bar } from '../../lib/contracts';
import { runBacktest, type BacktestResult } from '../../lib/replay/backtest';
import { createMarket } from '../../lib/sim/market';
import type { MarketBar } from '../../lib/sim/market-types';
import backtestModule = require('../../nodes/mia-backtest/mia-backtest');
import statsModule = require('../../nodes/mia-trade-stats/mia-trade-stats');
import battleNavaleModule = require('../../nodes/mia-battle-navale/mia-battle-navale');

import ibkrConfigModule = require('../../nodes/ibkr-config/ibkr-config');
import ibkrHistoryModule = require('../../nodes/ibkr-history/ibkr-history');
import { collectMessages, recordMessages, recordStatuses, type TestMessage as Msg } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void };

// The seeded market's 1-minute bars from Monday 9 June 2025 (the session opening Sunday 8 at 18:00 New York) to the
// close of the Friday `to` (17:00 New York = 21:00 UTC).
function seededBars(to: number): MarketBar[] {
  return createMarket({ seed: 11, startTime: to, speed: 0 }).esBars(Date.UTC(2025, 5, 8, 22, 0), to, 60_000);
}
const WEEK = seededBars(Date.UTC(2025, 5, 13, 21, 0));
const SETTINGS = { commissionPerContract: '2.25', slippageTicks: '1', cooldownMin: '5' };
const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1, risk: { cooldownMin: 5 } };

function garbageAfter(bars: MarketBar[], k: number): MarketBar[] {
  return bars.map((b, i) => (i <= k ? b : { t: b.t, o: 1, h: 9999, l: 1, c: 9999, v: 1e6 }));
}

type FlowItem = { id: string; type: string; [key: string]: unknown };

function flow(config: Record<string, unknown> = {}, extra: FlowItem[] = []): FlowItem[] {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'bt', type: 'mia-backtest', z: 'tab', name: '', ...SETTINGS, ...config, wires: [['result'], ['ts', 'feed'], ['progress']] },
    { id: 'ts', type: 'mia-trade-stats', z: 'tab', pointValue: 50, wires: [['stats'], []] },
    ...['result', 'feed', 'progress', 'stats', 'caught'].map((id) => ({ id, type: 'helper', z: 'tab' })),
    { id: 'catcher', type: 'catch', z: 'tab', scope: ['bt'], uncaught: false, wires: [['caught']] },
    ...extra,
  ];
}

async function load(config: Record<string, unknown> = {}, extra: FlowItem[] = []) {
  await helper.load([backtestModule, statsModule, battleNavaleModule, catchNode], flow(config, extra));
  const record = (id: string) => recordMessages(id, { timeoutMs: 20_000 });
  return {
    bt: helper.getNode('bt') as TestNode,
    result: record('result'),
    feed: record('feed'),
    progress: record('progress'),
    stats: record('stats'),
    caught: record('caught'),
  };
}

type Payload = Omit<BacktestResult, 'signals'> & { stopped: boolean; commission: number; signals: Record<string, unknown>[] };

/** The time a trade-stats message speaks of: a signal's evaluation (its bar's close), a fill's time. */
function messageTime(m: Msg): number {
  const p = m.payload as { t?: number; bar?: { t: number } };
  return m.topic === 'signal' ? (p.bar as { t: number }).t + 60_000 : (p.t as number);
}

describe('mia-backtest node', function () {
  this.timeout(60_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it("backtests a week of ibkr-history bars: progress each day, runBacktest's trades, and mia-trade-stats rebuilds them", async () => {
    const { bt, result, feed, progress, stats } = await load();
    const shown = recordStatuses(bt);
    // As ibkr-history sends them: symbol and bar size on each bar.
    bt.receive({ topic: 'bars', payload: WEEK.map((b) => ({ symbol: 'ESM5', tf: '1min', ...b })) });
    const [r] = await result.firstMessages(1);
    const expected = runBacktest(WEEK, OPTIONS);
    const p = r.payload as Payload;
    assert.equal(r.topic, 'backtest');
    assert.equal(p.stopped, false);
    assert.deepEqual(p.trades, JSON.parse(JSON.stringify(expected.trades)));
    assert.equal(p.signals.length, expected.signals.length);
    assert.ok(Math.abs(p.pnl - expected.pnl) < 1e-9);
    assert.ok(expected.trades.length > 0);

    const days = progress.all.map((m) => m.payload as { daysDone: number; days: number; percent: number; day: string });
    assert.deepEqual(
      days.map((d) => [d.day, d.daysDone, d.days, d.percent]),
      [
        ['2025-06-09', 1, 5, 20],
        ['2025-06-10', 2, 5, 40],
        ['2025-06-11', 3, 5, 60],
        ['2025-06-12', 4, 5, 80],
        ['2025-06-13', 5, 5, 100],
      ],
    );
    const statuses = shown.map((s) => String(s.text));
    for (const k of [1, 2, 3, 4, 5]) assert.ok(statuses.some((s) => s.startsWith(`day ${k}/5 ${k * 20}%`)), `no status for day ${k}: ${statuses.join(' | ')}`);
    assert.match(statuses[statuses.length - 1], new RegExp(`^${expected.trades.length} tr [+−]\\$\\d+ \\d+%$`));

    // The feed: a reset first, then signal + two fills per trade; the statistics node agrees with the backtest.
    assert.equal(feed.all[0].topic, 'reset');
    assert.equal(feed.all.length, 1 + 3 * expected.trades.length);
    const [last] = (await stats.firstMessages(expected.trades.length)).slice(-1);
    const s = last.payload as { trades: { pnl: number; reason: string }[]; netPnl: number };
    assert.equal(s.trades.length, expected.trades.length);
    const gross = expected.trades.reduce((sum, t) => sum + t.pnl + t.commission, 0);
    assert.ok(Math.abs(s.netPnl - gross) < 1e-6, `trade stats ${s.netPnl} vs backtest before commission ${gross}`);
    assert.ok(s.trades.every((t) => t.reason !== 'no signal'));
  });

  it('has no look-ahead through the node: garbage after bar t leaves every message about t or before unchanged', async () => {
    const runs: Msg[][] = [];
    const k = Math.floor(WEEK.length * 0.6);
    const cut = WEEK[k].t + 60_000;
    for (const bars of [WEEK, garbageAfter(WEEK, k)]) {
      const { bt, result, feed } = await load();
      bt.receive({ topic: 'bars', payload: bars });
      await result.firstMessages(1);
      runs.push(feed.all.filter((m) => m.topic !== 'reset' && messageTime(m) <= cut).map(({ topic, payload }) => ({ topic, payload })));
      await helper.unload();
    }
    assert.ok(runs[0].length > 3, 'trades before the cut');
    assert.deepEqual(runs[1], runs[0]);
  });

  it('takes a CSV of bars, as the bars message gives', async () => {
    const csv = ['timestamp,open,high,low,close,volume', ...WEEK.map((b) => `${new Date(b.t).toISOString()},${b.o},${b.h},${b.l},${b.c},${b.v}`)].join('\n');
    const { bt, result } = await load();
    bt.receive({ payload: csv });
    const [r] = await result.firstMessages(1);
    assert.deepEqual((r.payload as Payload).trades, JSON.parse(JSON.stringify(runBacktest(WEEK, OPTIONS).trades)));
  });

  it('uses the settings of the deployed Battle Navale node it names', async () => {
    const bnSettings = { longThreshold: 0.15, shortThreshold: 0.15 };
    const bn = { id: 'bn', type: 'mia-battle-navale', z: 'tab', ...bnSettings, wires: [[], []] };
    const { bt, result } = await load({ battleNavale: 'bn' }, [bn]);
    bt.receive({ topic: 'bars', payload: WEEK });
    const [r] = await result.firstMessages(1);
    const expected = runBacktest(WEEK, { ...OPTIONS, settings: bnSettings });
    assert.notEqual(expected.signals.length, runBacktest(WEEK, OPTIONS).signals.length, 'the settings make a difference');
    assert.equal((r.payload as Payload).signals.length, expected.signals.length);
    assert.deepEqual((r.payload as Payload).trades, JSON.parse(JSON.stringify(expected.trades)));
  });

  it('keeps Node-RED running during a backtest: a cancel sent after the first day stops it there or soon after', async () => {
    const threeWeeks = seededBars(Date.UTC(2025, 5, 27, 21, 0));
    const { bt, result, progress } = await load();
    bt.receive({ topic: 'bars', payload: threeWeeks });
    await progress.firstMessages(1);
    bt.receive({ topic: 'cancel' });
    const [r] = await result.firstMessages(1);
    const p = r.payload as Payload;
    const total = (progress.all[0].payload as { days: number }).days;
    assert.ok(total >= 10, `${total} days`);
    assert.equal(p.stopped, true);
    assert.ok(p.days < total, `stopped after ${p.days} of ${total} days`);
    assert.equal(progress.all.length, p.days);
  });

  it('refuses a second run while one runs, bars of another size and a payload that is not bars, with the reason', async () => {
    const { bt, result, caught } = await load();
    bt.receive({ topic: 'bars', payload: WEEK });
    bt.receive({ topic: 'bars', payload: WEEK });
    const [busy] = await caught.firstMessages(1);
    assert.match(String(busy.error?.message), /already running.*cancel/);
    await result.firstMessages(1);
    bt.receive({ topic: 'bars', payload: [{ ...WEEK[0], tf: '5min' }] });
    bt.receive({ topic: 'bars', payload: 42 });
    bt.receive({ topic: 'bars', payload: [{ ...WEEK[0], o: 'x' }] });
    bt.receive({ topic: 'bars', payload: WEEK, risk: { maxTradesPerDay: 0 } });
    const errors = (await caught.firstMessages(5)).slice(1).map((m) => String(m.error?.message));
    assert.match(errors[0], /5min.*1-minute bars/);
    assert.match(errors[1], /must be 1-minute bars/);
    assert.match(errors[2], /bar 0 field o must be a number/);
    assert.match(errors[3], /maxTradesPerDay/);
    assert.equal(result.all.length, 1);
  });

  it('refuses a bad setting at deploy, and a Battle Navale node that is not deployed at run', async () => {
    const { bt, caught } = await load({ slippageTicks: '-1', battleNavale: 'missing' });
    bt.receive({ topic: 'bars', payload: WEEK });
    const [err] = await caught.firstMessages(1);
    assert.match(String(err.error?.message), /Slippage \(ticks\)/);
    await helper.unload();
    const second = await load({ battleNavale: 'missing' });
    second.bt.receive({ topic: 'bars', payload: WEEK });
    const [err2] = await second.caught.firstMessages(1);
    assert.match(String(err2.error?.message), /Battle Navale node chosen .* not deployed/);
  });

  it('runs its example flow: ibkr-history pages 5 days of 1-minute bars from the simulator, backtested into mia-trade-stats', async () => {
    const example = require('../../flows/nodes/mia-backtest.json') as FlowItem[];
    const nodes = [ibkrConfigModule, ibkrHistoryModule, backtestModule, statsModule, require('@node-red/nodes/core/common/20-inject.js'), require('@node-red/nodes/core/common/21-debug.js')];
    await helper.load(nodes, example);
    const history = recordMessages('backtest-node', { timeoutMs: 20_000 });
    const results = collectMessages('backtest-result', 1, 50_000);
    (helper.getNode('backtest-go') as TestNode).receive({ payload: Date.now() });
    const [r] = await results;
    const [bars] = await history.firstMessages(1);
    const p = r!.payload as Payload;
    assert.ok((bars.payload as Bar[]).length > 3000, `${(bars.payload as Bar[]).length} bars`);
    assert.ok(p.days >= 4 && p.bars === (bars.payload as Bar[]).length, `${p.days} days, ${p.bars} bars`);
    assert.equal(p.stopped, false);
  });
});
