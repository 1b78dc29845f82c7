// The shipped flow's dashboard feeds that were JSONata change nodes (flows/mia-ia-pipeline.json `mia_stats_rows`,
// `mia_stats_equity`, `mia_gex_rows`), now function nodes: run as shipped in Node-RED beside a change node holding the
// JSONata each replaced, on the same messages, they must send the same payloads (JSONata's half-to-even rounding, its
// number text, the keys it leaves out) — also across a sequence of updates, as the trade rows are kept between them.
// The order and fill tables (`mia_orders_by_id`, `mia_fill_row`), made faster since, must send what their previous
// code sent, on the same sequences of updates.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import { readPipeline, type FlowNode } from './support/pipeline-flow';

helper.init(require.resolve('node-red'));
const functionNode = require(require.resolve('@node-red/nodes/core/function/10-function.js')) as never;
const changeNode = require(require.resolve('@node-red/nodes/core/function/15-change.js')) as never;

/** The JSONata of each node before it became a function node. */
const REPLACED: Record<string, string> = {
  mia_stats_rows:
    '$reverse($append([], payload.trades.{"#": id, "side": side, "qty": quantity, "entry": entryPrice, "exit": exitPrice, "P&L ($)": $round(pnl, 2), "R": r = null ? "—" : $string($round(r, 2)), "reason": reason}))',
  mia_stats_equity: '$append([], payload.equity.{"series": "equity", "t": t, "y": equity})',
  mia_gex_rows: '[payload.byStrike.{"strike": strike, "netGex": $round(netGex / 1000000000, 3)}]',
};

/** The order and fill tables' code before they kept their ET times per second and their rows in order. */
const ET_TIME_BEFORE =
  "// New York's wall-clock time of day (HH:MM:SS, daylight saving from the tz database) for the table's time column.\nconst etTime = new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hourCycle: 'h23', hour: '2-digit', minute: '2-digit', second: '2-digit' });\ncontext.set('etTime', (t) => etTime.format(new Date(t)));\n";
const PREVIOUS: Record<string, { func: string; initialize: string }> = {
  mia_et_price: {
    func: "const etOffsetMs = context.get('etOffsetMs');\nconst shift = (p) => (p && typeof p.t === 'number' ? { ...p, t: p.t + etOffsetMs(p.t) } : p);\nmsg.payload = Array.isArray(msg.payload) ? msg.payload.map(shift) : shift(msg.payload);\nreturn msg;\n",
    initialize:
      "const zone = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', timeZoneName: 'longOffset' });\nconst byHour = new Map();\ncontext.set('etOffsetMs', (t) => {\n    const hour = Math.floor(t / 3600000);\n    let offset = byHour.get(hour);\n    if (offset === undefined) {\n        const name = zone.formatToParts(new Date(hour * 3600000)).find((p) => p.type === 'timeZoneName').value;\n        const m = /GMT([+-])(\\d\\d):(\\d\\d)/.exec(name);\n        offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60000 : 0;\n        if (byHour.size > 1000) byHour.clear();\n        byHour.set(hour, offset);\n    }\n    return offset;\n});\n",
  },
  mia_orders_by_id: {
    func: "const etTime = context.get('etTime');\nconst row = typeof msg.payload.t === 'number' ? { ...msg.payload, time: etTime(msg.payload.t) } : { ...msg.payload };\nconst rows = (flow.get('orders') || []).filter((o) => o.clientOrderId !== row.clientOrderId);\nrows.push(row);\nrows.sort((a, b) => (a.t > b.t ? 1 : a.t < b.t ? -1 : 0)).reverse();\nmsg.payload = rows.slice(0, 20);\nflow.set('orders', msg.payload.slice());\nreturn msg;\n",
    initialize: ET_TIME_BEFORE,
  },
  mia_fill_row: {
    func: "const etTime = context.get('etTime');\nconst row = typeof msg.payload.t === 'number' ? { ...msg.payload, time: etTime(msg.payload.t) } : { ...msg.payload };\nmsg.payload = [row, ...(flow.get('fills') || [])].slice(0, 50);\nflow.set('fills', msg.payload.slice());\nreturn msg;\n",
    initialize: ET_TIME_BEFORE,
  },
};

type Probe = { on(e: 'input', cb: (msg: { payload: unknown }) => void): void };
type Receiver = { receive(msg: object): void };

/**
 * The shipped node beside the reference it must equal (node `jsonata`): the JSONata it replaced, or its previous code.
 * Each on its own tab: the tables keep their rows in their tab's flow context.
 */
async function load(id: string): Promise<void> {
  const node = readPipeline().find((n) => n.id === id);
  assert.ok(node, `${id} in the shipped flow`);
  assert.equal(node.type, 'function');
  const before = PREVIOUS[id];
  const reference: FlowNode = before
    ? { ...node, id: 'jsonata', z: 'tab2', g: undefined, ...before, wires: [['jsonata-out']] }
    : { id: 'jsonata', type: 'change', z: 'tab2', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: REPLACED[id], tot: 'jsonata' }], wires: [['jsonata-out']] };
  const flow: FlowNode[] = [
    { id: 'tab', type: 'tab' },
    { id: 'tab2', type: 'tab' },
    { ...node, z: 'tab', g: undefined, wires: [['shipped-out']] },
    { id: 'shipped-out', type: 'helper', z: 'tab' },
    reference,
    { id: 'jsonata-out', type: 'helper', z: 'tab2' },
  ];
  await helper.load([functionNode, changeNode], flow);
}

/** What a node sends for `payload`, copied into this realm (the function node's sandbox has its own Object). */
function sent(node: string, out: string, payload: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    (helper.getNode(out) as unknown as Probe).on('input', (msg) => resolve(structuredClone(msg.payload)));
    (helper.getNode(node) as unknown as Receiver).receive({ topic: 'x', payload });
  });
}

async function assertSame(id: string, payloads: unknown[]): Promise<void> {
  for (const payload of payloads) {
    const shipped = await sent(id, 'shipped-out', payload);
    const reference = await sent('jsonata', 'jsonata-out', payload);
    assert.deepStrictEqual(shipped, reference, JSON.stringify(payload).slice(0, 300));
  }
}

/** A deterministic generator (mulberry32): the same cases every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Numbers that test rounding: halves at the rounding place (both ways of even), tiny negatives (→ -0), doubles. */
function awkward(rnd: () => number, scale: number): number {
  const pick = Math.floor(rnd() * 6);
  if (pick === 0) return (Math.floor(rnd() * 2000) - 1000 + 0.5) / scale; // an exact half at the place
  if (pick === 1) return (Math.floor(rnd() * 2000) - 1000 + 0.005 * scale * 100) / scale; // 1.005-like
  if (pick === 2) return -rnd() / (scale * 10); // rounds to -0
  if (pick === 3) return Math.round(rnd() * 4000 - 2000) * 12.5; // ES dollars
  if (pick === 4) return (rnd() - 0.5) * 10 ** Math.floor(rnd() * 25 - 5);
  return (rnd() - 0.5) * 1000;
}

function trade(rnd: () => number, id: number): Record<string, unknown> {
  const t: Record<string, unknown> = {
    id,
    side: rnd() < 0.5 ? 'long' : 'short',
    quantity: 1 + Math.floor(rnd() * 3),
    entryTime: 1_770_000_000_000 + id * 60_000,
    entryPrice: 5000 + Math.round(rnd() * 400) / 4,
    exitTime: 1_770_000_000_000 + id * 60_000 + 30_000,
    exitPrice: 5000 + Math.round(rnd() * 400) / 4,
    pointValue: 50,
    points: Math.round(rnd() * 40 - 20) / 4,
    pnl: awkward(rnd, 100),
    stop: null,
    r: rnd() < 0.2 ? null : awkward(rnd, 100),
    reason: rnd() < 0.1 ? 'no signal' : 'delta',
  };
  if (rnd() < 0.05) delete t.r; // a key JSONata leaves out
  if (rnd() < 0.05) delete t.reason;
  return t;
}

describe('shipped flow: dashboard rows (were JSONata)', () => {
  beforeEach((done) => void helper.startServer(done));
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
  });

  it('trade rows: the same rows, newest first, with JSONata rounding and R text', async () => {
    await load('mia_stats_rows');
    const rnd = random(13);
    const sizes = [0, 1, 2, 7, 60];
    const payloads: unknown[] = sizes.map((n) => ({ trades: Array.from({ length: n }, (_, i) => trade(rnd, i + 1)), netPnl: 0 }));
    payloads.push({ trades: Array.from({ length: 300 }, (_, i) => trade(rnd, i + 1)) }, { netPnl: 0 }, 'not an object');
    await assertSame('mia_stats_rows', payloads);
    const row = ((await sent('mia_stats_rows', 'shipped-out', { trades: [{ id: 1, side: 'long', quantity: 1, entryPrice: 5000, exitPrice: 5001.25, pnl: 62.5, r: 0.125, reason: 'delta' }] })) as Array<Record<string, unknown>>)[0];
    assert.deepEqual(row, { '#': 1, side: 'long', qty: 1, entry: 5000, exit: 5001.25, 'P&L ($)': 62.5, R: '0.12', reason: 'delta' });
  });

  it('equity points: the same points in the same order', async () => {
    await load('mia_stats_equity');
    const rnd = random(14);
    const curve = (n: number): unknown => ({ equity: Array.from({ length: n }, (_, i) => ({ t: 1_770_000_000_000 + i * 60_000, equity: awkward(rnd, 100) })) });
    await assertSame('mia_stats_equity', [curve(0), curve(1), curve(3), curve(500), { trades: [] }, { equity: [{ equity: 5 }] }]);
  });

  it('GEX rows: the same strikes and $ bn figures, rounded to 3 decimals as JSONata does', async () => {
    await load('mia_gex_rows');
    const rnd = random(15);
    const chain = (n: number): unknown => ({
      byStrike: Array.from({ length: n }, (_, i) => ({ strike: 4000 + 5 * i, callGex: 1, putGex: -1, netGex: awkward(rnd, 1000) * 1e9 })),
      levels: {},
    });
    await assertSame('mia_gex_rows', [chain(0), chain(1), chain(2), chain(400), { byStrike: [{ strike: 5000, netGex: 2_500_000_000 }, { strike: 5005 }] }, {}]);
  });

  it('trade rows across a day of updates (rows kept between them): the same rows as trades are added, corrected, or the list starts again', async () => {
    await load('mia_stats_rows');
    const rnd = random(16);
    const trades: Array<Record<string, unknown>> = [];
    const payloads: unknown[] = [];
    for (let k = 0; k < 60; k++) {
      trades.push(trade(rnd, k + 1));
      const earlier = trades[Math.floor(rnd() * trades.length)]!;
      if (k % 7 === 3) earlier.pnl = awkward(rnd, 100); // a trade corrected at the same place
      if (k % 11 === 5) earlier.r = earlier.r === null ? awkward(rnd, 100) : null;
      if (k % 13 === 6) delete earlier.reason;
      if (k % 17 === 8) earlier.id = -0; // a value only Object.is tells from 0
      payloads.push({ trades: trades.map((t) => ({ ...t })), netPnl: 0 });
    }
    payloads.push({ trades: [trade(rnd, 1), trade(rnd, 2)] }, { trades: [] }, { trades: trades.slice(0, 30) }, { trades: trade(rnd, 3) });
    await assertSame('mia_stats_rows', payloads);
  });

  it('trade rows: a trade changed in place between two updates (the same objects sent again) gets its new row', async () => {
    await load('mia_stats_rows');
    const rnd = random(17);
    const trades = [trade(rnd, 1), trade(rnd, 2), trade(rnd, 3), trade(rnd, 0)];
    const reason = { why: 'delta' };
    trades[2]!.reason = reason;
    const payload = { trades };
    await assertSame('mia_stats_rows', [payload]);
    trades[0]!.pnl = 1.005;
    trades[1]!.side = 'short';
    trades[3]!.id = -0; // only Object.is tells it from the 0 before
    reason.why = 'gamma';
    await assertSame('mia_stats_rows', [payload]);
    const rows = (await sent('mia_stats_rows', 'shipped-out', payload)) as Array<Record<string, unknown>>;
    assert.deepEqual([rows[3]!['P&L ($)'], rows[2]!.side, rows[1]!.reason, Object.is(rows[0]!['#'], -0)], [1, 'short', { why: 'gamma' }, true]);
  });

  /** Order updates as the tables get them: ids that come back, times that tie, go back, miss, are text or fractions, cross a DST change. */
  function updates(rnd: () => number, n: number): unknown[] {
    const spring = Date.UTC(2026, 2, 8, 6, 59, 50); // 01:59:50 EST, 10 s before clocks go forward
    const fall = Date.UTC(2026, 10, 1, 5, 59, 50); // 01:59:50 EDT, 10 s before clocks go back
    const out: unknown[] = [];
    let t = spring;
    for (let k = 0; k < n; k++) {
      if (k === Math.floor(n / 2)) t = fall;
      const pick = rnd();
      t += pick < 0.3 ? 0 : pick < 0.85 ? Math.floor(rnd() * 1500) : -Math.floor(rnd() * 3000);
      const time = pick < 0.03 ? undefined : pick < 0.05 ? String(t) : pick < 0.1 ? t + rnd() : t;
      out.push({ clientOrderId: `mia-${Math.floor(rnd() * 30)}`, status: ['pending', 'working', 'filled'][k % 3], quantity: 1, ...(time === undefined ? {} : { t: time }) });
    }
    return out;
  }

  /** Times at the edges of what a Date holds, fractions before 1970 (a Date keeps -1000.5 as -1000: 23:59:59 UTC). */
  const EDGES = [-1000.5, -1500, -1, -0, 0.9, 8.64e15, -8.64e15, 1e15, 999.9, 1000].map((t, i) => ({ clientOrderId: `mia-${i}`, status: 'working', t }));

  it('order table: the same rows as its previous code at every update (ties, times out of order, missing or not numbers, ET across DST)', async () => {
    await load('mia_orders_by_id');
    await assertSame('mia_orders_by_id', updates(random(18), 250));
  });

  it('order table: the same rows and ET times as its previous code for times at the edges of a Date', async () => {
    await load('mia_orders_by_id');
    await assertSame('mia_orders_by_id', EDGES);
  });

  it('ET time axis: the same points as its previous code (a point, arrays, points without a time, across both DST changes), the same code in all three charts', async () => {
    const shipped = readPipeline();
    const code = (id: string): string => JSON.stringify([shipped.find((n) => n.id === id)?.func, shipped.find((n) => n.id === id)?.initialize]);
    assert.equal(code('mia_et_delta'), code('mia_et_price'));
    assert.equal(code('mia_et_stats'), code('mia_et_price'));
    await load('mia_et_price');
    const rnd = random(20);
    const around = [Date.UTC(2026, 2, 8, 6, 30), Date.UTC(2026, 10, 1, 5, 30), Date.UTC(2026, 5, 1, 14, 0), -1800.5, 0];
    const point = (): unknown => {
      const t = around[Math.floor(rnd() * around.length)]! + Math.floor(rnd() * 7_200_000) + (rnd() < 0.1 ? rnd() : 0);
      const pick = rnd();
      return pick < 0.05 ? { series: 'x', y: 1 } : pick < 0.08 ? { series: 'x', t: String(t), y: 1 } : pick < 0.1 ? null : { series: 'price', t, y: 5000 + pick };
    };
    const payloads: unknown[] = [];
    for (let k = 0; k < 60; k++) payloads.push(k % 3 === 0 ? Array.from({ length: Math.floor(rnd() * 40) }, point) : point());
    payloads.push([], 'text', 7);
    await assertSame('mia_et_price', payloads);
  });

  it('fill table: the same rows as its previous code at every fill', async () => {
    await load('mia_fill_row');
    await assertSame('mia_fill_row', [...updates(random(19), 120), ...EDGES]);
  });
});
