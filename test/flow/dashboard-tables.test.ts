// The shipped flow's two table feeds (flows/mia-ia-pipeline.json `mia_orders_by_id`, `mia_fill_row`), run as shipped in
// Node-RED: one row per order, newest first, the last 20; fills newest first, the last 50; each row with its New York
// time of day (daylight saving included).
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import { readPipeline, type FlowNode } from './support/pipeline-flow';

helper.init(require.resolve('node-red'));
const functionNode = require(require.resolve('@node-red/nodes/core/function/10-function.js')) as never;

type Row = { clientOrderId?: string; t?: number; time?: string; status?: string; price?: number };
type Probe = { on(e: 'input', cb: (msg: { payload: Row[] }) => void): void };
type Receiver = { receive(msg: object): void };

function feed(id: string): FlowNode[] {
  const node = readPipeline().find((n) => n.id === id);
  assert.ok(node, `${id} in the shipped flow`);
  return [
    { id: 'tab', type: 'tab' },
    { ...node, z: 'tab', g: undefined, wires: [['out']] },
    { id: 'out', type: 'helper', z: 'tab' },
  ];
}

/** Sends each payload in turn and resolves with the table sent after each. */
async function run(id: string, payloads: Row[]): Promise<Row[][]> {
  await helper.load(functionNode, feed(id));
  const tables: Row[][] = [];
  const out = helper.getNode('out') as unknown as Probe;
  const node = helper.getNode(id) as unknown as Receiver;
  for (const payload of payloads) {
    const next = new Promise<Row[]>((resolve) => out.on('input', (msg) => resolve(msg.payload)));
    node.receive({ topic: 'order-update', payload });
    tables.push(Array.from(await next)); // an array of the function node's sandbox: made one of ours for deepEqual
  }
  return tables;
}

describe('shipped flow: dashboard tables', () => {
  beforeEach((done) => void helper.startServer(done));
  afterEach(async () => {
    await helper.unload();
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
  });

  const winter = Date.UTC(2026, 10, 24, 15, 4, 5); // 10:04:05 New York (EST)
  const summer = Date.UTC(2026, 6, 1, 13, 30, 0); // 09:30:00 New York (EDT)

  it('keeps one row per order (its newest update), newest first, with the ET time', async () => {
    const tables = await run('mia_orders_by_id', [
      { clientOrderId: 'mia-1', t: winter, status: 'working' },
      { clientOrderId: 'mia-2', t: winter + 1000, status: 'working' },
      { clientOrderId: 'mia-1', t: winter + 2000, status: 'filled' },
    ]);
    assert.deepEqual(
      tables.map((rows) => Array.from(rows, (r) => `${r.clientOrderId} ${r.status} ${r.time}`)),
      [
        ['mia-1 working 10:04:05'],
        ['mia-2 working 10:04:06', 'mia-1 working 10:04:05'],
        ['mia-1 filled 10:04:07', 'mia-2 working 10:04:06'],
      ],
    );
  });

  it('lists at most the 20 newest orders', async () => {
    const updates = Array.from({ length: 25 }, (_, i) => ({ clientOrderId: `mia-${i}`, t: summer + i * 1000 }));
    const last = (await run('mia_orders_by_id', updates)).at(-1)!;
    assert.equal(last.length, 20);
    assert.equal(last[0]!.clientOrderId, 'mia-24');
    assert.equal(last[0]!.time, '09:30:24');
    assert.equal(last[19]!.clientOrderId, 'mia-5');
  });

  it('lists fills newest first, the last 50, with the ET time', async () => {
    const fills = Array.from({ length: 52 }, (_, i) => ({ clientOrderId: `mia-${i}`, t: summer + i * 60_000, price: 5000 + i }));
    const tables = await run('mia_fill_row', fills);
    assert.deepEqual(Array.from(tables[1]!, (r) => `${r.clientOrderId} ${r.time}`), ['mia-1 09:31:00', 'mia-0 09:30:00']);
    const last = tables.at(-1)!;
    assert.equal(last.length, 50);
    assert.deepEqual([last[0]!.clientOrderId, last[0]!.time, last[49]!.clientOrderId], ['mia-51', '10:21:00', 'mia-2']);
  });
});
