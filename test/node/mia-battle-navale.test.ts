import { strict as assert } from 'assert';
import { readFileSync } from 'fs';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import { NEW_YORK, zonedTime } from '../../lib/clock';
import { DEFAULT_SETTINGS, SETTING_KEYS } from '../../lib/strategy/settings';
 
import nodeModule = require('../../nodes/mia-battle-navale/mia-battle-navale');

// The Catch node is core Node-RED; loaded next to ours so malformed input can be caught as a flow would.
 
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

const START = zonedTime(NEW_YORK, 2026, 3, 10, 10, 0);
/** 25 strong green 1-min bars (the specification's worked case), closes 5001 … 5025. */
const BARS = Array.from({ length: 25 }, (_, k) => ({ symbol: 'ESM6', t: START + k * 60_000, tf: '1min', o: 5000 + k, h: 5001.25 + k, l: 5000 + k, c: 5001 + k, v: 1200 }));

interface Msg {
  topic?: string;
  payload: Record<string, unknown> & { signal?: string; score?: number; reasons?: string[] };
}
type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Msg) => void): void };

function flow(config: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'bn', type: 'mia-battle-navale', z: 'tab', name: '', ...config, wires: [['signals'], ['evaluations']] },
    { id: 'signals', type: 'helper', z: 'tab' },
    { id: 'evaluations', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
  ];
}

async function load(config: Record<string, unknown> = {}) {
  await helper.load([nodeModule, catchNode], flow(config));
  const get = (id: string) => helper.getNode(id) as TestNode;
  return { bn: get('bn'), signals: get('signals'), evaluations: get('evaluations'), caught: get('caught') };
}

function collect(node: TestNode, count: number, timeoutMs = 2000): Promise<Msg[]> {
  return new Promise((resolve, reject) => {
    const got: Msg[] = [];
    const timer = setTimeout(() => reject(new Error(`expected ${count} messages, got ${got.length}`)), timeoutMs);
    node.on('input', (msg: Msg) => {
      got.push(msg);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

describe('mia-battle-navale node', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('replays bars, sending the newest evaluation of each message on output 2 and the LONG on output 1, with context from vwap and vix', async () => {
    const { bn, signals, evaluations } = await load();
    const evaluated = collect(evaluations, 2);
    const signalled = collect(signals, 1);
    // The worked case: 24 bars, then the VWAP one σ under the 25th close.
    bn.receive({ topic: 'vix', payload: 18 });
    bn.receive({ topic: 'bars', payload: BARS.slice(0, 24) });
    bn.receive({ topic: 'vwap', payload: { symbol: 'ESM6', vwap: 5023, sigma: 2, cumDelta: 0 } });
    bn.receive({ topic: 'bar', payload: BARS[24] });
    const evals = await evaluated;
    assert.ok(evals.every((m) => m.topic === 'battle-navale'));
    assert.deepEqual(evals.map((m) => (m.payload.bar as { t: number }).t), [BARS[23].t, BARS[24].t], 'one message per input: the batch gives its newest evaluation');
    assert.equal(evals[1].payload.signal, 'LONG');
    const [signal] = await signalled;
    assert.equal(signal.topic, 'signal');
    assert.deepEqual([signal.payload.signal, signal.payload.score, signal.payload.symbol, signal.payload.entry, signal.payload.stop], ['LONG', 0.3542, 'ESM6', 5025, 5023.25]);
    assert.deepEqual(signal.payload.targets, [5028.5, 5030.25]);
  });

  it('evaluates each bar of a batch with the VWAP it carries, as if a vwap message had come just before it', async () => {
    const viaMessages = await load();
    const first = collect(viaMessages.signals, 1);
    viaMessages.bn.receive({ topic: 'bars', payload: BARS.slice(0, 24) });
    viaMessages.bn.receive({ topic: 'vwap', payload: { vwap: 5023, sigma: 2 } });
    viaMessages.bn.receive({ topic: 'bar', payload: BARS[24] });
    const expected = (await first)[0].payload;
    await helper.unload();
    const carried = await load();
    const second = collect(carried.signals, 1);
    const far = { vwap: 6000, sigma: 1 }; // a context that would make every earlier bar's VWAP component −1
    carried.bn.receive({ topic: 'bars', payload: [...BARS.slice(0, 24).map((b) => ({ ...b, ...far })), { ...BARS[24], vwap: 5023, sigma: 2 }] });
    assert.deepEqual((await second)[0].payload, expected);
    const refused = collect(carried.caught, 1);
    carried.bn.receive({ topic: 'bars', payload: [{ ...BARS[0], t: BARS[24].t + 60_000, vwap: 'high' }] });
    assert.match(((await refused)[0] as unknown as { error: { message: string } }).error.message, /bars\[0\]\.vwap must be a number/);
  });

  it('evaluates a long history batch over several event-loop turns, in order with what follows, as bar by bar', async () => {
    // 200 bars (five slices) with a wave in them, then one more bar sent in the same turn as the batch.
    const bars = Array.from({ length: 201 }, (_, k) => {
      const o = 5000 + 8 * Math.sin(k / 7) + k / 10;
      const c = o + (k % 3 === 0 ? -1.5 : 2);
      return { symbol: 'ESM6', t: START + k * 60_000, tf: '1min', o, h: Math.max(o, c) + 0.5, l: Math.min(o, c) - 0.5, c, v: 1000 + 10 * (k % 17) };
    });
    const one = await load({ cooldownMin: 0, tradingHoursEnabled: false, longThreshold: 0.05, shortThreshold: 0.05 });
    const oneEvals = collect(one.evaluations, 201, 20_000);
    const oneSignals: Msg[] = [];
    one.signals.on('input', (m: Msg) => oneSignals.push(m));
    for (const bar of bars) one.bn.receive({ topic: 'bar', payload: bar });
    const expected = await oneEvals;
    await helper.unload();

    const batched = await load({ cooldownMin: 0, tradingHoursEnabled: false, longThreshold: 0.05, shortThreshold: 0.05 });
    const evals = collect(batched.evaluations, 2, 20_000);
    const batchSignals: Msg[] = [];
    batched.signals.on('input', (m: Msg) => batchSignals.push(m));
    let turns = 0;
    let counting = true;
    const count = (): void => {
      turns += 1;
      if (counting) setImmediate(count);
    };
    batched.evaluations.on('input', () => {
      counting = false;
    });
    batched.bn.receive({ topic: 'bars', payload: bars.slice(0, 200) });
    batched.bn.receive({ topic: 'bar', payload: bars[200] });
    setImmediate(count);
    const [ofBatch, ofBar] = await evals;
    assert.ok(turns >= 4, `the batch took ${turns} event-loop turn(s): other work must run between its slices`);
    assert.deepEqual(ofBatch.payload, expected[199].payload, 'the batch ends where bar-by-bar evaluation does');
    assert.deepEqual(ofBar.payload, expected[200].payload, 'the bar sent after the batch is evaluated after it');
    assert.ok(oneSignals.length > 0, 'the wave gives signals');
    assert.deepEqual(batchSignals.map((m) => m.payload), oneSignals.map((m) => m.payload));
  });

  it('reads gamma levels from payload.es and vetoes a LONG right under the call wall', async () => {
    const { bn, signals, evaluations } = await load();
    const evaluated = collect(evaluations, 25);
    let signalCount = 0;
    signals.on('input', () => signalCount++);
    BARS.slice(0, 24).forEach((bar) => bn.receive({ topic: 'bar', payload: bar }));
    bn.receive({ topic: 'vwap', payload: { vwap: 5023, sigma: 2 } });
    bn.receive({ topic: 'gamma', payload: { callWall: 9999, es: { callWall: 5026, putWall: 4990, flip: null } } });
    bn.receive({ topic: 'bar', payload: BARS[24] });
    const evals = await evaluated;
    assert.match(evals[24].payload.reasons![0], /LONG vetoed: 4.0 ticks under the call wall/);
    assert.equal(signalCount, 0);
  });

  it('applies its settings: a lower LONG threshold fires without VWAP', async () => {
    const { bn, signals } = await load({ longThreshold: '0.2' });
    const signalled = collect(signals, 1);
    bn.receive({ payload: BARS });
    const [signal] = await signalled;
    assert.equal(signal.payload.signal, 'LONG');
  });

  it('reports malformed input to a Catch node with a red ring, and keeps working', async () => {
    const { bn, caught, evaluations } = await load();
    const errors = collect(caught, 4);
    const statuses: NodeStatus[] = [];
    const originalStatus = bn.status.bind(bn);
    bn.status = (s: string | NodeStatus) => {
      if (typeof s === 'object') statuses.push(s);
      return originalStatus(s);
    };
    bn.receive({ topic: 'bar', payload: { ...BARS[0], h: 4990 } });
    bn.receive({ topic: 'bar', payload: 'not a bar' });
    bn.receive({ topic: 'quote', payload: { last: 5000 } });
    bn.receive({ topic: 'gamma', payload: { callWall: 5100 } });
    const got = (await errors) as unknown as { error: { message: string } }[];
    const messages = got.map((m) => m.error.message);
    assert.match(messages[0], /bar at .* is inconsistent: high 4990/);
    assert.match(messages[1], /bar must be an object \{t, o, h, l, c, v\}; got string/);
    assert.match(messages[2], /msg.topic "quote" is not handled/);
    assert.match(messages[3], /needs payload.es/);
    assert.ok(statuses.some((s) => s.fill === 'red' && s.shape === 'ring'));
    const next = collect(evaluations, 1);
    bn.receive({ topic: 'bar', payload: BARS[0] });
    assert.equal((await next)[0].payload.signal, 'NO_SIGNAL');
  });

  it('refuses bars out of time order until msg.reset', async () => {
    const { bn, caught, evaluations } = await load();
    const first = collect(evaluations, 1);
    bn.receive({ payload: BARS[1] });
    await first;
    const error = collect(caught, 1);
    bn.receive({ payload: BARS[0] });
    assert.match(((await error)[0] as unknown as { error: { message: string } }).error.message, /not after the previous bar/);
    const replay = collect(evaluations, 1);
    bn.receive({ reset: true, topic: 'bar', payload: BARS[0] });
    assert.equal((await replay)[0].payload.signal, 'NO_SIGNAL');
  });

  it('skips the bars of a late preload batch it already evaluated, says so once, and evaluates the newer ones', async () => {
    const { bn, caught, evaluations } = await load();
    const statuses: NodeStatus[] = [];
    const originalStatus = bn.status.bind(bn);
    bn.status = (s: string | NodeStatus) => {
      if (typeof s === 'object') statuses.push(s);
      return originalStatus(s);
    };
    let errors = 0;
    caught.on('input', () => errors++);
    const live = collect(evaluations, 2);
    bn.receive({ topic: 'bar', payload: BARS[20] });
    bn.receive({ topic: 'bar', payload: BARS[21] });
    await live;
    // The history preload (bars 0…23) lands after live bars 20 and 21.
    const preload = collect(evaluations, 1);
    bn.receive({ topic: 'bars', payload: BARS.slice(0, 24) });
    const evaluated = await preload;
    assert.deepEqual(evaluated.map((m) => (m.payload.bar as { t: number }).t), [BARS[23].t], 'the newer bars evaluated, the newest sent');
    assert.equal(evaluated[0].payload.reasons!.length > 0, true);
    const warnings = helper.log().args.map((a) => a[0] as { level: number; type: string; msg: unknown })
      .filter((e) => e.type === 'mia-battle-navale' && e.level === 30) // Node-RED's level for node.warn;
    assert.equal(warnings.length, 1, 'one warning per batch');
    assert.match(String(warnings[0].msg), /skipped 22 of 24 bars/);
    assert.match(String(statuses.at(-1)?.text), /skipped 22 old bars/);
    // A batch entirely already seen evaluates nothing and says so in the status; a single late bar is still refused.
    bn.receive({ topic: 'bars', payload: BARS.slice(0, 5) });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual([statuses.at(-1)?.fill, statuses.at(-1)?.text], ['yellow', 'skipped 5 old bars: all seen']);
    assert.equal(errors, 0, 'an overlapping batch is not an error');
    const refused = collect(caught, 1);
    bn.receive({ topic: 'bar', payload: BARS[10] });
    assert.match(((await refused)[0] as unknown as { error: { message: string } }).error.message, /not after the previous bar .* 'bars' batch/);
  });

  it('turns an invalid setting into a clear error on every message', async () => {
    const { bn, caught } = await load({ stopTicks: 'seven' });
    const error = collect(caught, 1);
    bn.receive({ payload: BARS[0] });
    assert.match(((await error)[0] as unknown as { error: { message: string } }).error.message, /"Stop \(ticks\)" \(stopTicks\) must be a number/);
  });

  it('refuses a score expression with an unknown symbol at deploy, naming it, on every message', async () => {
    const { bn, caught } = await load({ scoreExpression: 'battle + momentum' });
    const error = collect(caught, 1);
    bn.receive({ payload: BARS[0] });
    assert.match(((await error)[0] as unknown as { error: { message: string } }).error.message, /score expression "battle \+ momentum" is refused: unknown symbol "momentum"/);
  });

  it('scores with a trader expression: a constant 1 fires a LONG with score 1 once the warm-up is over', async () => {
    const { bn, signals } = await load({ scoreExpression: '1' });
    const got = collect(signals, 1);
    bn.receive({ topic: 'bars', payload: BARS });
    const [msg] = await got;
    assert.equal(msg.payload.signal, 'LONG');
    assert.equal(msg.payload.score, 1);
  });

  it('checks a score expression for the editor on the admin route', async () => {
    await load();
    const bad = await helper.request().post('/mia-battle-navale/score-expression').send({ expression: 'battle * foo' }).expect(200);
    assert.equal(bad.body.ok, false);
    assert.match(bad.body.message, /unknown symbol "foo"/);
    const good = await helper.request().post('/mia-battle-navale/score-expression').send({ expression: '0.5 * trend + 0.5 * battle' }).expect(200);
    assert.deepEqual(good.body, { ok: true, isDefault: false });
    const dflt = await helper.request().post('/mia-battle-navale/score-expression').send({ expression: '' }).expect(200);
    assert.deepEqual(dflt.body, { ok: true, isDefault: true });
  });

  it('declares every setting in the editor with the documented default', () => {
    const html = readFileSync(path.join(__dirname, '../../nodes/mia-battle-navale/mia-battle-navale.html'), 'utf8');
    assert.match(html, /\n\s+scoreExpression: \{ value: '',/);
    assert.ok(html.includes('id="node-input-scoreExpression"'));
    for (const key of SETTING_KEYS) {
      const m = new RegExp(`\\n\\s+${key}: \\{ value: ('([^']*)'|[^, }]+)`).exec(html);
      assert.ok(m, `${key} is missing from the editor`);
      assert.equal(String(m[2] ?? m[1]), String(DEFAULT_SETTINGS[key]), key);
      assert.ok(html.includes(`id="node-input-${key}"`), `${key} has no field`);
    }
  });
});
