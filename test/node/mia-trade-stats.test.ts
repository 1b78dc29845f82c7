import { strict as assert } from 'assert';
import { readFileSync } from 'fs';
import path from 'path';
import helper from 'node-red-node-test-helper';
import { NEW_YORK, zonedTime } from '../../lib/clock';
import nodeModule = require('../../nodes/mia-trade-stats/mia-trade-stats');
import { recordMessages, recordStatuses } from './support/messages';

// Core Node-RED nodes, loaded beside ours as a flow would.
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const injectNode = require('@node-red/nodes/core/common/20-inject.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void };
type Stats = Record<string, unknown> & { trades: unknown[]; bySide: Record<string, Record<string, unknown>>; byReason: Record<string, Record<string, unknown>> };

const T0 = zonedTime(NEW_YORK, 2026, 3, 3, 10, 0);
const fill = (side: 'buy' | 'sell', quantity: number, price: number, minutes: number) => ({
  topic: 'fill',
  payload: { clientOrderId: `c${minutes}`, serverOrderId: null, side, quantity, price, t: T0 + minutes * 60_000 },
});
const SIGNAL = {
  topic: 'signal',
  payload: { signal: 'SHORT', stop: 5012, components: { battle: 0, trend: 0, base: 0, vwap: -1, orderflow: 0, gamma: 0 } },
};

function flow(config: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'ts', type: 'mia-trade-stats', z: 'tab', name: '', pointValue: 50, ...config, wires: [['stats'], ['trades']] },
    { id: 'stats', type: 'helper', z: 'tab' },
    { id: 'trades', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

async function load(config: Record<string, unknown> = {}) {
  await helper.load([nodeModule, catchNode], flow(config));
  const record = (id: string) => recordMessages(id, { timeoutMs: 2000 });
  return { ts: helper.getNode('ts') as TestNode, stats: record('stats'), trades: record('trades'), caught: record('caught') };
}

describe('mia-trade-stats node', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('turns a signal and fills into a trade and statistics, and the table into CSV on request', async () => {
    const { ts, stats, trades } = await load();
    ts.receive(SIGNAL);
    ts.receive({ topic: 'order-update', payload: { clientOrderId: 'x', status: 'rejected' } });
    ts.receive(fill('sell', 1, 5010, 0));
    ts.receive({ topic: 'position', payload: { symbol: 'ESM6', quantity: -1 } }); // ignored, not an error
    ts.receive(fill('buy', 1, 5013, 20));
    const [s] = await stats.firstMessages(1);
    const [t] = await trades.firstMessages(1);
    assert.equal(s.topic, 'trade-stats');
    const p = s.payload as Stats;
    // 5010 → 5013 short: −3 points × 1 × $50 = −$150; stop 5012 is 2 points away → R = −1.5.
    assert.deepEqual([p.trades.length, p.netPnl, p.avgR, p.maxDrawdown, p.rejectedOrders, p.position], [1, -150, -1.5, 150, 1, 0]);
    assert.equal(p.byReason.vwap.netPnl, -150);
    assert.equal(t.topic, 'trade');
    assert.deepEqual((t.payload as Record<string, unknown>).reason, 'vwap');
    ts.receive({ topic: 'csv' });
    const [, csv] = await trades.firstMessages(2);
    assert.equal(csv.topic, 'csv');
    const lines = String(csv.payload).trimEnd().split('\r\n');
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^1,short,1,.*,5010,.*,5013,50,-3,-150,5012,-1.5,vwap,2026-03-03$/);
  });

  it('takes the point value from its setting (MES 5) and from msg.pointValue', async () => {
    const { ts, stats } = await load({ pointValue: '5' });
    const shown = recordStatuses(ts);
    ts.receive(fill('buy', 2, 5000, 0));
    ts.receive(fill('sell', 2, 5001.5, 1));
    ts.receive({ ...fill('buy', 1, 5000, 2), pointValue: 5 });
    ts.receive({ ...fill('sell', 1, 5002, 3), pointValue: 5 });
    const [a, b] = await stats.firstMessages(2);
    assert.equal((a.payload as Stats).netPnl, 15); // 1.5 × 2 × 5
    assert.equal((b.payload as Stats).netPnl, 25); // + 2 × 1 × 5
    assert.deepEqual(shown.map((s) => String(s.text)), ['no trade yet, pos +2', '1 trades +$15 100%', '1 trades +$15 100%, pos +1', '2 trades +$25 100%']);
  });

  it('reports malformed input and unknown topics to a Catch node, and keeps working', async () => {
    const { ts, stats, caught } = await load();
    ts.receive({ topic: 'fill', payload: { side: 'buy', quantity: -1, price: 5000, t: T0 } });
    ts.receive({ topic: 'bar', payload: {} });
    const [bad, unknown] = await caught.firstMessages(2);
    assert.match(bad.error!.message, /fill quantity must be a positive number/);
    assert.match(unknown.error!.message, /msg.topic "bar" is not handled/);
    ts.receive(fill('buy', 1, 5000, 0));
    ts.receive(fill('sell', 1, 5001, 1));
    assert.equal(((await stats.firstMessages(1))[0].payload as Stats).netPnl, 50);
  });

  it('refuses a bad point value setting on every message', async () => {
    const { ts, caught } = await load({ pointValue: 'fifty' });
    ts.receive(fill('buy', 1, 5000, 0));
    assert.match((await caught.firstMessages(1))[0].error!.message, /point value \(dollars per point\) must be a positive number/);
  });

  it('refuses a bad signal validity setting, naming it', async () => {
    const { ts, caught } = await load({ signalMaxAgeMin: '-1' });
    ts.receive(fill('buy', 1, 5000, 0));
    assert.match((await caught.firstMessages(1))[0].error!.message, /"Signal valid for \(min\)" must be a number of minutes ≥ 0; got "-1"/);
  });

  it('forgets its trades on reset, and serves them as CSV on the admin route', async () => {
    const { ts, stats } = await load();
    ts.receive(fill('buy', 1, 5000, 0));
    ts.receive(fill('sell', 1, 5001, 1));
    await stats.firstMessages(1);
    const res = await helper.request().get('/mia-trade-stats/ts/trades.csv').expect(200);
    assert.match(String(res.headers['content-type']), /text\/csv/);
    assert.match(String(res.headers['content-disposition']), /attachment; filename="trades.csv"/);
    assert.equal(res.text.trimEnd().split('\r\n').length, 2);
    await helper.request().get('/mia-trade-stats/nope/trades.csv').expect(404);
    ts.receive({ reset: true });
    ts.receive({ topic: 'stats' });
    const [, after] = await stats.firstMessages(2);
    assert.equal((after.payload as Stats).trades.length, 0);
  });

  it('runs its example flow (Import › Examples): +$400 then −$150', async () => {
    const example = JSON.parse(readFileSync(path.join(__dirname, '../../flows/nodes/mia-trade-stats.json'), 'utf8')) as ({ id: string; type: string } & Record<string, unknown>)[];
    const nodes = example.map((n) => (n.type === 'debug' ? { ...n, type: 'helper' } : n));
    await helper.load([nodeModule, injectNode], nodes);
    const stats = recordMessages('ts-example-stats', { timeoutMs: 2000 });
    const trades = recordMessages('ts-example-trades', { timeoutMs: 2000 });
    for (const id of ['ts-example-reset', 'ts-example-signal', 'ts-example-buy', 'ts-example-sell', 'ts-example-short', 'ts-example-cover', 'ts-example-csv']) {
      (helper.getNode(id) as TestNode).receive({});
    }
    const [, second] = await stats.firstMessages(2);
    const p = second.payload as Stats;
    // +4 × 2 × 50 = +400 (R +2, reason battle), then −3 × 1 × 50 = −150 (no signal): net 250, PF 400/150.
    assert.deepEqual([p.netPnl, p.winRate, p.maxDrawdown, p.avgR], [250, 0.5, 150, 2]);
    assert.ok(Math.abs((p.profitFactor as number) - 400 / 150) < 1e-12);
    assert.deepEqual(Object.keys(p.byReason), ['battle', 'no signal']);
    const [, , csv] = await trades.firstMessages(3);
    assert.equal(csv.topic, 'csv');
  });
});
