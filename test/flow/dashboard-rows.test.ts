// The shipped flow's three dashboard feeds that were JSONata change nodes (flows/mia-ia-pipeline.json
// `mia_stats_rows`, `mia_stats_equity`, `mia_gex_rows`), now function nodes: run as shipped in Node-RED beside a
// change node holding the JSONata each replaced, on the same messages, they must send the same payloads (JSONata's
// half-to-even rounding, its number text, the keys it leaves out).
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

type Probe = { on(e: 'input', cb: (msg: { payload: unknown }) => void): void };
type Receiver = { receive(msg: object): void };

async function load(id: string): Promise<void> {
  const node = readPipeline().find((n) => n.id === id);
  assert.ok(node, `${id} in the shipped flow`);
  assert.equal(node.type, 'function');
  const flow: FlowNode[] = [
    { id: 'tab', type: 'tab' },
    { ...node, z: 'tab', g: undefined, wires: [['shipped-out']] },
    { id: 'shipped-out', type: 'helper', z: 'tab' },
    { id: 'jsonata', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: REPLACED[id], tot: 'jsonata' }], wires: [['jsonata-out']] },
    { id: 'jsonata-out', type: 'helper', z: 'tab' },
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
});
