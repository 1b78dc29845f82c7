// ibkr-history in the Node-RED runtime against ibkr-config in simulator mode.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Bar } from '../../lib/contracts';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import nodeModule = require('../../nodes/ibkr-history/ibkr-history');
import { collectMessages, loadWithIbkrConfig } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type Flow = Parameters<typeof helper.load>[1];

type TestNode = { receive(msg: unknown): void };
type StatusNode = { on(event: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void };
const at = { x: 0, y: 0 };
const MIN = 60_000;
/** How long a reply from the simulated gateway may take before a test fails. */
const WAIT_MS = 8000;

function flow(history: Record<string, unknown> = {}, config: Record<string, unknown> = {}): object[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', mode: 'simulator', simSeed: 4, simTls: false, ...config },
    { id: 'h', z: 'tab', type: 'ibkr-history', connection: 'cfg', symbol: 'ES', secType: 'FUT', conid: '', bar: '5min', rangeMode: 'period', period: '1d', outsideRth: true, source: 'trades', output: 'bars', wires: [['out']], ...at, ...history },
    { id: 'out', z: 'tab', type: 'helper', ...at },
    { id: 'catch', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', z: 'tab', type: 'helper', ...at },
  ];
}

const load = (history: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<IbkrSimulator> =>
  loadWithIbkrConfig([configModule, nodeModule, catchNode], flow(history, config));

describe('ibkr-history node', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('reckons a period back from the simulated market\'s clock, not the wall clock (the simulator runs 40× from 10:00 New York)', async () => {
    const sim = await load({ bar: '1min', period: '2h' }, { simSpeed: 40 });
    const out = collectMessages('out', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    const [msg] = await out;
    const bars = msg!.payload as Bar[];
    const now = sim.market.now();
    // Two hours of one-minute bars up to the market's now: the wall clock (hours later, or another day) would ask
    // for a window the simulated market has not reached, and get few bars or none.
    assert.ok(bars.length >= 115, `bars in the 2 h window: ${bars.length}`);
    assert.ok(now - bars.at(-1)!.t <= 2 * MIN, 'the newest bar is the market\'s current minute or the one before');
    assert.ok(bars[0]!.t >= now - 2 * 60 * MIN - MIN, 'nothing older than the period');
  });

  it('sends two days of 1-minute ES bars as one bars message, oldest first, with progress in the status', async () => {
    const sim = await load({ bar: '1min', period: '2d' });
    const statuses: string[] = [];
    (helper.getNode('h') as unknown as StatusNode).on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    const out = collectMessages('out', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    const [msg] = await out;
    assert.equal(msg!.topic, 'bars');
    const bars = msg!.payload as Bar[];
    assert.ok(bars.length > 1000, 'more than one page');
    for (let i = 1; i < bars.length; i += 1) assert.ok(bars[i]!.t > bars[i - 1]!.t);
    assert.ok(bars.every((b) => b.tf === '1min' && b.symbol === 'ES' && b.l <= b.o && b.o <= b.h));
    assert.ok(statuses.some((s) => /^history \d+ %$/.test(s) && s !== 'history 0 %' && s !== 'history 100 %'));
    assert.ok(sim.control.stats().maxHistoryConcurrent <= 4);
  });

  it('sends one bar message per bar when set to', async () => {
    await load({ bar: '1h', period: '8h', output: 'bar' });
    const out = collectMessages('out', 3, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    const msgs = await out;
    assert.ok(msgs.every((m) => m.topic === 'bar' && (m.payload as Bar).tf === '1h'));
  });

  it('takes a start and end from the message', async () => {
    const sim = await load({ bar: '15min' });
    const end = sim.market.now() - 60 * MIN;
    const out = collectMessages('out', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ start: new Date(end - 4 * 60 * MIN).toISOString(), end });
    const bars = (await out)[0]!.payload as Bar[];
    assert.ok(bars.length > 0 && bars.length <= 16);
    assert.ok(bars.every((b) => b.t >= end - 4 * 60 * MIN && b.t < end));
  });

  it('reports a range IBKR has no data for ("No data.") as not found, through Catch', async () => {
    await load({ conid: '' });
    const caught = collectMessages('caught', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ symbol: 'SPX', secType: 'IND', start: '2020-01-04T00:00:00Z', end: '2020-01-05T00:00:00Z' });
    assert.match((await caught)[0]!.error?.message ?? '', /no 5min bars|widen/i);
  });

  it('waits out a 429 and still delivers the bars', async () => {
    const sim = await load({ bar: '1h', period: '8h' });
    await (await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection()).client.esFrontMonth(sim.market.now()); // the simulated market's day, not today's
    sim.control.inject429(1);
    const out = collectMessages('out', 1, 10_000);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    assert.ok(((await out)[0]!.payload as Bar[]).length > 0);
    assert.equal(sim.control.stats().rejected429, 1);
  });

  it('reports an expired session to Catch', async () => {
    const sim = await load();
    sim.control.expireSession();
    const caught = collectMessages('caught', 1, 15_000);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught)[0]!.error?.message ?? '', /IBKR/);
  });

  it('requests nothing when market data is off', async () => {
    const sim = await load({}, { marketData: false });
    const caught = collectMessages('caught', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught)[0]!.error?.message ?? '', /market data is switched off/);
    assert.equal(sim.control.stats().requests['/iserver/marketdata/history'] ?? 0, 0);
  });

  it('runs its example flow: two days of 1-minute bars at deploy', async () => {
    const example = require('../../flows/nodes/ibkr-history.json') as object[];
    await helper.load([configModule, nodeModule, require('@node-red/nodes/core/common/20-inject.js'), require('@node-red/nodes/core/common/21-debug.js')], example as Flow);
    const msg = (await collectMessages('history-bars', 1, 15_000))[0]!;
    assert.equal(msg.topic, 'bars');
    assert.ok((msg.payload as Bar[]).length > 1000);
  });

  it('refuses an empty symbol at deploy instead of asking for ES bars, and says what to enter', async () => {
    const sim = await load({ symbol: '  ' });
    const caught = collectMessages('caught', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught)[0]!.error?.message ?? '', /IBKR history: the symbol is empty: enter one \(e\.g\. ES\)/);
    assert.equal(sim.control.stats().requests['/iserver/marketdata/history'] ?? 0, 0, 'no history was requested');
  });

  it('sends a bad bar size to Catch with the sizes IBKR offers', async () => {
    await load();
    const caught = collectMessages('caught', 1, WAIT_MS);
    (helper.getNode('h') as unknown as TestNode).receive({ bar: '7min' });
    assert.match((await caught)[0]!.error?.message ?? '', /7min.*1min, 2min/);
  });
});
