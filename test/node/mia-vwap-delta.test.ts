import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Bar, Tick, VwapPayload } from '../../lib/contracts';
import { CHICAGO, zonedTime } from '../../lib/clock';
import nodeModule = require('../../nodes/mia-vwap-delta/mia-vwap-delta');
import { nextMessage, recordStatuses, type TestMessage } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const completeNode = require('@node-red/nodes/core/common/24-complete.js');
const nodes = [nodeModule, catchNode, completeNode];

helper.init(require.resolve('node-red'));

type Msg = TestMessage;
type TestNode = { on(event: 'input', cb: (msg: Msg) => void): void; receive(msg: unknown): void };

const T0 = zonedTime(CHICAGO, 2025, 3, 11, 9, 0);

// Nodes need x and y, or Node-RED's flow parser takes them for config nodes.
const at = { x: 0, y: 0 };

function flow(props: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'n1', z: 'tab', type: 'mia-vwap-delta', name: '', symbol: '', anchor: 'globex', customAnchor: '', timeframe: '1min',
      emit: 'tick', intervalMs: 1000, tickSize: 0.25, imbalanceRatio: 3, imbalanceMinVolume: 10, stackedLevels: 3,
      pressureBars: 5, approxMethod: 'close-location', wires: [['vwap'], ['bars']], ...at, ...props },
    { id: 'vwap', z: 'tab', type: 'helper', ...at },
    { id: 'bars', z: 'tab', type: 'helper', ...at },
    { id: 'catch', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', z: 'tab', type: 'helper', ...at },
    { id: 'handled', z: 'tab', type: 'complete', scope: ['n1'], uncaught: false, wires: [['completed']], ...at },
    { id: 'completed', z: 'tab', type: 'helper', ...at },
  ];
}

/**
 * Gives n1 the messages and waits until it is done with each: what it sends for a message is delivered before the
 * Complete node hears of it (a fixed wait instead could end first on a busy machine).
 */
async function through(messages: unknown[]): Promise<void> {
  const n1 = helper.getNode('n1') as unknown as TestNode;
  const completed = helper.getNode('completed') as unknown as TestNode;
  let n = 0;
  const all = new Promise<void>((resolve) => completed.on('input', () => ++n === messages.length && resolve()));
  for (const m of messages) n1.receive(m);
  await all;
}

const tick = (i: number, price: number, size: number, side?: Tick['side']): Tick => ({
  symbol: 'ES', t: T0 + i * 1000, price, size, side,
});

describe('mia-vwap-delta node', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('turns a tick into a vwap message with bands, delta and pressure', async () => {
    await helper.load(nodes, flow());
    const got = nextMessage('vwap');
    (helper.getNode('n1') as unknown as TestNode).receive({ topic: 'tick', payload: tick(0, 5000, 4, 'buy') });
    const msg = await got;
    const p = msg.payload as VwapPayload;
    assert.equal(msg.topic, 'vwap');
    assert.deepEqual([p.vwap, p.sigma, p.barDelta, p.cumDelta, p.buyPressure], [5000, 0, 4, 4, 1]);
    assert.equal(p.anchor, zonedTime(CHICAGO, 2025, 3, 10, 17, 0));
  });

  it('takes a batch of ticks, sends one vwap and every bar the batch closed', async () => {
    await helper.load(nodes, flow());
    const vwapNode = helper.getNode('vwap') as unknown as TestNode;
    const barsNode = helper.getNode('bars') as unknown as TestNode;
    const vwaps: Msg[] = [];
    const bars: Msg[] = [];
    vwapNode.on('input', (m) => vwaps.push(m));
    barsNode.on('input', (m) => bars.push(m));
    const batch = Array.from({ length: 180 }, (_, i) => tick(i, 5000 + (i % 4) * 0.25, 1, i % 3 === 0 ? 'sell' : 'buy'));
    await through([{ payload: batch }]);
    assert.equal(vwaps.length, 1);
    assert.equal(bars.length, 2); // 09:00 and 09:01 closed by the 09:02 ticks
    const first = bars[0].payload as Bar;
    assert.deepEqual([first.t, first.v, first.delta, first.tf], [T0, 60, 20, '1min']);
    assert.equal((vwaps[0].payload as VwapPayload).cumDelta, 60);
  });

  it('sends a bars batch as one bars message, each bar with the VWAP of its close, then one vwap; flags approximated delta', async () => {
    await helper.load(nodes, flow({ emit: 'bar' }));
    const vwaps: Msg[] = [];
    const bars: Msg[] = [];
    (helper.getNode('vwap') as unknown as TestNode).on('input', (m) => vwaps.push(m));
    (helper.getNode('bars') as unknown as TestNode).on('input', (m) => bars.push(m));
    const input: Bar[] = [0, 1, 2].map((i) => ({ symbol: 'ES', t: T0 + i * 60_000, tf: '1min', o: 5000, h: 5002, l: 4999, c: 5001, v: 30 }));
    await through([{ topic: 'bars', payload: input }]);
    assert.equal(vwaps.length, 1);
    assert.deepEqual(bars.map((m) => m.topic), ['bars']);
    const out = bars[0].payload as Bar[];
    assert.equal(out.length, 3);
    assert.equal(out[0].approxDelta, true);
    assert.deepEqual(out.map((b) => b.cumDelta), [1, 2, 3].map((k) => k * out[0].delta!), 'each bar with the cumulative delta of its close');
    assert.ok(out.every((b) => b.vwap === (5002 + 4999 + 5001) / 3 && b.sigma === 0));
    assert.equal((vwaps[0].payload as VwapPayload).cumDelta, 3 * out[0].delta!);
  });

  it('shows the cumulative delta rounded to whole contracts while the payload keeps it exact', async () => {
    await helper.load(nodes, flow());
    const n1 = helper.getNode('n1');
    const statuses = recordStatuses('n1');
    const got = nextMessage('vwap');
    // Close-location approximation: (c - l) / (h - l) of 7 contracts bought → a fractional delta.
    (n1 as unknown as TestNode).receive({ topic: 'bar', payload: { symbol: 'ES', t: T0, tf: '1min', o: 5000, h: 5003, l: 5000, c: 5001, v: 7 } });
    const exact = ((await got).payload as VwapPayload).cumDelta;
    assert.notEqual(exact, Math.round(exact), 'the test needs a fractional delta');
    const shown = Math.round(exact);
    assert.match(statuses.at(-1)?.text ?? '', new RegExp(`Δ${shown >= 0 ? '\\+' : ''}${shown}$`));
  });

  /** Loads the node, sends `messages` in order, and returns the last vwap, the closed bars' times and the warnings. */
  async function runThrough(messages: object[]): Promise<{ vwap: VwapPayload; closed: number[]; topics: string[]; warnings: string[]; infos: string[] }> {
    await helper.load(nodes, flow());
    const closed: number[] = [];
    const topics: string[] = [];
    const vwaps: VwapPayload[] = [];
    (helper.getNode('bars') as unknown as TestNode).on('input', (m) => {
      topics.push(m.topic ?? '');
      for (const bar of m.topic === 'bars' ? (m.payload as Bar[]) : [m.payload as Bar]) closed.push(bar.t);
    });
    (helper.getNode('vwap') as unknown as TestNode).on('input', (m) => vwaps.push(m.payload as VwapPayload));
    await through(messages);
    const logged = (level: number): string[] =>
      helper.log().args.map((a) => a[0] as { level: number; type: string; msg: unknown })
        .filter((e) => e.type === 'mia-vwap-delta' && e.level === level)
        .map((e) => String(e.msg));
    return { vwap: vwaps.at(-1)!, closed, topics, warnings: logged(30), infos: logged(40) }; // Node-RED's warn, info levels
  }

  // Live ticks from 09:02:00 to 09:02:30 at 5000; the history 09:00…09:04 at 4990, heavier.
  const live = Array.from({ length: 31 }, (_, i) => tick(120 + i, 5000, 1, 'buy'));
  const history: Bar[] = [0, 1, 2, 3, 4].map((i) => ({ symbol: 'ES', t: T0 + i * 60_000, tf: '1min', o: 4990, h: 4991, l: 4989, c: 4990, v: 100 }));

  it('counts a preload that arrives after live data as if it had come first: every bar, and no trade twice', async () => {
    const late = await runThrough([{ payload: live }, { topic: 'bars', payload: history }]);
    await helper.unload();
    // The same data in the order it should have come: the preload, then the live ticks (printed inside its bars).
    const inOrder = await runThrough([{ topic: 'bars', payload: history }, { payload: live }]);
    // The 09:02 bar the live data began in counts as IBKR's bar (every trade of the minute); the live ticks printed
    // inside a counted bar are in it already, whichever came first.
    assert.deepEqual(late.closed, [0, 1, 2, 3, 4].map((i) => T0 + i * 60_000), 'every bar of the preload');
    assert.deepEqual(inOrder.closed, late.closed);
    for (const key of ['vwap', 'sigma', 'cumDelta', 'anchor', 'buyPressure'] as const) {
      assert.equal(late.vwap[key], inOrder.vwap[key], `${key} as if the preload had come first`);
    }
    assert.equal(late.vwap.vwap, 4990, "only the preload's trades: the live ticks at 5000 were inside its bars");
    assert.deepEqual(late.topics, ['bars'], 'the bars leave as one history batch (downstream refuses a single late bar)');
    assert.deepEqual(late.warnings, []);
    assert.equal(late.infos.filter((m) => /recounted with its 3 bar\(s\), then the live data again \(31 tick\(s\) printed inside those bars were already in them\)\.$/.test(m)).length, 1, late.infos.join('\n'));
  });

  it('counts the live ticks after the preload\'s last bar, whichever came first, and says a late preload at info level', async () => {
    const older = history.slice(0, 2); // 09:00 and 09:01: they end before the live ticks (09:02:00 on)
    const next = { payload: [tick(180, 5001, 1, 'buy')] }; // 09:03:00: closes the 09:02 bar in both
    const late = await runThrough([{ payload: live }, { topic: 'bars', payload: older }, next]);
    await helper.unload();
    const inOrder = await runThrough([{ topic: 'bars', payload: older }, { payload: live }, next]);
    assert.deepEqual(late.closed, inOrder.closed);
    for (const key of ['vwap', 'sigma', 'cumDelta', 'anchor', 'buyPressure'] as const) assert.equal(late.vwap[key], inOrder.vwap[key], key);
    assert.ok(late.vwap.vwap > 4990 && late.vwap.vwap < 5000, `the preload and the live ticks: ${late.vwap.vwap}`);
    assert.deepEqual(late.warnings, []);
    assert.equal(late.infos.filter((m) => /recounted with its 2 bar\(s\), then the live data again\.$/.test(m)).length, 1, late.infos.join('\n'));
  });

  it("in 'bar' mode sends the same messages whether a live tick came just before the preload or just after it", async () => {
    // Live, a tick the stream delivered just after the preload's answer can reach the node first (the preload has more
    // hops); a replay of the day delivers them in record order. Before: after a recount the node sent the VWAP with
    // that tick counted (its time, its delta), after the preload in order the VWAP of the preload's last bar.
    const older = history.slice(0, 2); // 09:00 and 09:01
    const first = { payload: [tick(130, 5001, 4, 'sell')] }; // 09:02:10
    const next = { payload: [tick(180, 5002, 1, 'buy')] }; // 09:03:00: closes the 09:02 bar
    const outputs = async (messages: object[]): Promise<{ to: string; topic?: string; payload: unknown }[]> => {
      await helper.load(nodes, flow({ emit: 'bar' }));
      const out: { to: string; topic?: string; payload: unknown }[] = [];
      for (const to of ['vwap', 'bars']) (helper.getNode(to) as unknown as TestNode).on('input', (m) => out.push({ to, topic: m.topic, payload: m.payload }));
      await through(messages);
      await helper.unload();
      return out;
    };
    const late = await outputs([first, { topic: 'bars', payload: older }, next]);
    const inOrder = await outputs([{ topic: 'bars', payload: older }, first, next]);
    assert.deepEqual(
      late.map((m) => `${m.to}:${m.topic}`),
      ['bars:bars', 'vwap:vwap', 'vwap:vwap', 'bars:bar'],
      'the preload, its VWAP, then the 09:02 bar with its own',
    );
    assert.deepEqual(late, inOrder);
    assert.equal((late[1].payload as VwapPayload).t, T0 + 60_000, "the VWAP at the preload's last bar");
  });

  describe('chart outputs (Dashboard 2.0 ui-chart batches)', () => {
    const chartFlow = (props: Record<string, unknown> = {}) =>
      [...flow({ wires: [['vwap'], ['bars'], ['price'], ['delta']], ...props }), { id: 'price', z: 'tab', type: 'helper', ...at }, { id: 'delta', z: 'tab', type: 'helper', ...at }];
    type ChartMsg = { topic?: string; action?: string; payload: { series: string; t: number; y: number }[] };

    /** Loads the node, sends `messages` one by one, and returns the chart messages and the charts they draw. */
    async function charts(messages: object[], props: Record<string, unknown> = {}) {
      await helper.load(nodes, chartFlow(props));
      const sent = { price: [] as ChartMsg[], delta: [] as ChartMsg[] };
      const drawn = { price: [] as ChartMsg['payload'], delta: [] as ChartMsg['payload'] };
      for (const which of ['price', 'delta'] as const) {
        (helper.getNode(which) as unknown as TestNode).on('input', (m) => {
          const c = m as unknown as ChartMsg;
          sent[which].push(c);
          drawn[which] = c.action === 'replace' ? [...c.payload] : [...drawn[which], ...c.payload];
        });
      }
      for (const m of messages) await through([m]);
      return { sent, drawn };
    }

    it('sends a preload as one replace, then one append per message that closes a bar, never a point per tick', async () => {
      const ticks = Array.from({ length: 150 }, (_, i) => tick(300 + i, 5000 + (i % 4) * 0.25, 1, 'buy')); // 09:05:00 to 09:07:29
      const { sent, drawn } = await charts([{ topic: 'bars', payload: history }, ...ticks.map((t) => ({ topic: 'tick', payload: t }))], { emit: 'tick' });
      assert.deepEqual(sent.price.map((m) => [m.topic, m.action, m.payload.length]), [['chart-price', 'replace', 30], ['chart-price', 'append', 6], ['chart-price', 'append', 6]]);
      assert.deepEqual(sent.delta.map((m) => [m.topic, m.action, m.payload.length]), [['chart-delta', 'replace', 5], ['chart-delta', 'append', 1], ['chart-delta', 'append', 1]]);
      const es = drawn.price.filter((p) => p.series === 'ES');
      assert.deepEqual(es.map((p) => p.t), [0, 1, 2, 3, 4, 5, 6].map((i) => T0 + i * 60_000));
      assert.deepEqual(es.map((p) => p.y).slice(0, 5), [4990, 4990, 4990, 4990, 4990]);
      assert.deepEqual([...new Set(drawn.price.map((p) => p.series))], ['VWAP', '+1σ', '−1σ', '+2σ', '−2σ', 'ES']);
      const vwap = drawn.price.filter((p) => p.series === 'VWAP');
      const upper1 = drawn.price.filter((p) => p.series === '+1σ');
      assert.ok(vwap.every((p, k) => upper1[k]!.y >= p.y && p.y > 4980 && p.y < 5010));
    });

    it('keeps at most the set points per series, sending the thinned history as a replace', async () => {
      const many: Bar[] = Array.from({ length: 25 }, (_, i) => ({ symbol: 'ES', t: T0 + i * 60_000, tf: '1min', o: 4990, h: 4991 + i, l: 4989, c: 4990 + i, v: 100 }));
      const { sent, drawn } = await charts(many.map((b) => ({ topic: 'bar', payload: b })), { chartPoints: 10 });
      assert.ok(sent.price.length > 10 && sent.price.length <= 25, JSON.stringify(sent.price.map((m) => [m.action, m.payload.length])));
      assert.ok(sent.price.every((m) => m.payload.length <= 6 * 10));
      assert.equal(sent.price.filter((m) => m.action === 'replace').length, 3, 'the first message and two thinnings');
      const es = drawn.price.filter((p) => p.series === 'ES');
      assert.ok(es.length <= 10, `${es.length} ES points drawn`);
      assert.deepEqual(es.map((p) => p.y), [0, 4, 8, 12, 16, 20, 24].map((i) => 4990 + i), 'every fourth bar, oldest first, up to the newest');
    });

    it('draws a preload that arrives after live data as if it had come first (one replace)', async () => {
      const late = await charts([{ payload: live }, { topic: 'bars', payload: history }]);
      await helper.unload();
      const inOrder = await charts([{ topic: 'bars', payload: history }, { payload: live }]);
      assert.equal(late.sent.price.at(-1)!.action, 'replace');
      assert.deepEqual(late.drawn.price.filter((p) => p.series === 'ES').map((p) => p.t), [0, 1, 2, 3, 4].map((i) => T0 + i * 60_000));
      assert.deepEqual(late.drawn, inOrder.drawn);
    });

    it('refuses a points setting outside 10 to 5,000 with a red status', async () => {
      await helper.load(nodes, chartFlow({ chartPoints: 3 }));
      const caught = nextMessage('caught');
      (helper.getNode('n1') as unknown as TestNode).receive({ topic: 'tick', payload: tick(0, 5000, 1) });
      assert.match((await caught).error?.message ?? '', /chart points per series must be a whole number from 10 to 5000/);
    });
  });

  it('skips the overlapping bars of a second batch, says so once, and refuses a single late bar', async () => {
    await helper.load(nodes, flow());
    const n1 = helper.getNode('n1') as unknown as TestNode;
    const statuses = recordStatuses('n1');
    const closed: Bar[] = [];
    (helper.getNode('bars') as unknown as TestNode).on('input', (m) => closed.push(...(m.topic === 'bars' ? (m.payload as Bar[]) : [m.payload as Bar])));
    let errors = 0;
    (helper.getNode('caught') as unknown as TestNode).on('input', () => errors++);
    // The preload came first; live ticks follow it; then the same history is sent again.
    await through([{ topic: 'bars', payload: history.slice(0, 2) }, { payload: live }, { topic: 'bars', payload: history }]);
    assert.deepEqual(closed.map((b) => b.t), [0, 1, 3, 4].map((i) => T0 + i * 60_000), 'only the bars after the live data are added');
    const warnings = helper.log().args.map((a) => a[0] as { level: number; type: string; msg: unknown })
      .filter((e) => e.type === 'mia-vwap-delta' && e.level === 30);
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0].msg), /skipped 3 of 5 bars/);
    assert.match(statuses.at(-1)?.text ?? '', /^skipped 3 old bars/);
    assert.equal(errors, 0);
    const caught = nextMessage('caught');
    n1.receive({ topic: 'bar', payload: history[1] });
    assert.match((await caught).error?.message ?? '', /bar at .* is not after the newest data already counted .* 'bars' batch/);
  });

  it('reports malformed input to a Catch node with a clear message and a red ring, and keeps running', async () => {
    await helper.load(nodes, flow());
    const n1 = helper.getNode('n1');
    const statuses = recordStatuses('n1');
    const caught = nextMessage('caught');
    (n1 as unknown as TestNode).receive({ topic: 'tick', payload: { symbol: 'ES', t: T0, price: 'abc', size: 1 } });
    const err = await caught;
    assert.match(err.error?.message ?? '', /price must be a positive number/);
    assert.equal(statuses.at(-1)?.fill, 'red');
    const got = nextMessage('vwap');
    (n1 as unknown as TestNode).receive({ topic: 'tick', payload: tick(1, 5001, 1) });
    assert.equal(((await got).payload as VwapPayload).vwap, 5001);
  });

  it('refuses a message it does not handle, naming what it takes', async () => {
    await helper.load(nodes, flow());
    const caught = nextMessage('caught');
    (helper.getNode('n1') as unknown as TestNode).receive({ topic: 'chain', payload: 42 });
    assert.match((await caught).error?.message ?? '', /takes "tick", "bar" or "bars" messages/);
  });

  it('shows a bad setting as a red status and reports it on input', async () => {
    await helper.load(nodes, flow({ timeframe: 'fortnight' }));
    const caught = nextMessage('caught');
    (helper.getNode('n1') as unknown as TestNode).receive({ topic: 'tick', payload: tick(0, 5000, 1) });
    assert.match((await caught).error?.message ?? '', /Timeframe "fortnight" is not understood/);
  });
});
