import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import { NEW_YORK, zonedTime } from '../../lib/clock';
import type { Chain, GammaPayload, OptionQuote } from '../../lib/contracts';
 
import nodeModule = require('../../nodes/mia-gamma-walls/mia-gamma-walls');
import { nextMessage, recordStatuses } from './support/messages';

 
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const nodes = [nodeModule, catchNode];

helper.init(require.resolve('node-red'));

type TestNode = { receive(msg: unknown): void };

const NOW = zonedTime(NEW_YORK, 2025, 3, 11, 10, 0);
const at = { x: 0, y: 0 }; // without x and y Node-RED's flow parser takes a node for a config node

function flow(props: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'g', z: 'tab', type: 'mia-gamma-walls', unit: 'per-1pct', convention: 'dealer-long-calls', zeroDteFloorMinutes: 15,
      includeZeroDte: true, ratePct: 0, dividendYieldPct: 0, profileRangePct: 20, profilePoints: 60, maxExpiries: 0,
      wires: [['out']], ...at, ...props },
    { id: 'out', z: 'tab', type: 'helper', ...at },
    { id: 'catch', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', z: 'tab', type: 'helper', ...at },
  ];
}

function option(strike: number, right: 'C' | 'P', oi: number, iv: number): OptionQuote {
  return { conid: strike * 10 + (right === 'C' ? 1 : 2), expiry: '20250411', settlement: 'PM', tradingClass: 'SPXW', strike, right,
    bid: null, ask: null, last: null, iv, delta: null, gamma: null, openInterest: oi, volume: 0 };
}

const chain: Chain = {
  underlying: 'SPX',
  spot: 5000,
  t: NOW,
  contracts: [option(4900, 'P', 9000, 0.2), option(5000, 'C', 3000, 0.15), option(5000, 'P', 3000, 0.15), option(5100, 'C', 8000, 0.13)],
};

describe('mia-gamma-walls node', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('turns a chain into one gamma message with walls and flip, and shows them in the status', async () => {
    await helper.load(nodes, flow());
    const g = helper.getNode('g');
    const statuses = recordStatuses('g');
    const got = nextMessage('out');
    (g as unknown as TestNode).receive({ topic: 'chain', payload: chain });
    const msg = await got;
    const p = msg.payload as GammaPayload;
    assert.equal(msg.topic, 'gamma');
    assert.deepEqual([p.callWall, p.putWall, p.unit, p.convention], [5100, 4900, 'per-1pct', 'dealer-long-calls']);
    assert.ok(p.flip !== null && p.flip > 4800 && p.flip < 5200);
    assert.equal(p.profile.length, 60);
    assert.equal(p.es.method, 'fixed-rate');
    assert.equal(statuses.at(-1)?.fill, 'green');
    assert.match(statuses.at(-1)?.text ?? '', /^flip \d+ CW 5100 PW 4900$/);
  });

  it('maps levels by the observed basis after an ES quote, or msg.esPrice', async () => {
    await helper.load(nodes, flow());
    const g = helper.getNode('g') as unknown as TestNode;
    g.receive({ topic: 'quote', payload: { symbol: 'ESM25', conid: 1, t: NOW, last: 5030, bid: 5029.75, ask: 5030, bidSize: 1, askSize: 1, volume: 1, delayed: false } });
    const first = nextMessage('out');
    g.receive({ topic: 'chain', payload: chain });
    const es = ((await first).payload as GammaPayload).es;
    assert.deepEqual([es.method, es.basis, es.callWall], ['observed-basis', 30, 5130]);
  });

  it('reports a malformed chain to a Catch node with a clear message and a red ring, and keeps working', async () => {
    await helper.load(nodes, flow());
    const g = helper.getNode('g');
    const statuses = recordStatuses('g');
    const caught = nextMessage('caught');
    (g as unknown as TestNode).receive({ topic: 'chain', payload: { ...chain, spot: 'n/a' } });
    assert.match((await caught).error?.message ?? '', /spot must be a positive price/);
    assert.equal(statuses.at(-1)?.fill, 'red');
    const got = nextMessage('out');
    (g as unknown as TestNode).receive({ topic: 'chain', payload: chain });
    assert.equal(((await got).payload as GammaPayload).callWall, 5100);
  });

  it('takes the ES stream as wired in the shipped flow: quotes set the basis, its gap notices are no error', async () => {
    await helper.load(nodes, flow());
    const g = helper.getNode('g') as unknown as TestNode;
    const caught = nextMessage('caught');
    g.receive({ topic: 'gap', payload: { symbol: 'ESM25', conid: 1, from: NOW - 5000, to: NOW, reason: 'reconnect' } });
    g.receive({ topic: 'quote', payload: { symbol: 'ESM25', conid: 1, t: NOW, last: 5031.25, bid: 5031, ask: 5031.25, bidSize: 1, askSize: 1, volume: 1, delayed: false } });
    const got = nextMessage('out');
    g.receive({ topic: 'chain', payload: chain });
    const es = ((await got).payload as GammaPayload).es;
    assert.deepEqual([es.method, es.reference, es.callWall], ['observed-basis', 5031.25, 5131.25]);
    // Errors reach the Catch node in order: the first one caught is this later, bad message, not the gap.
    g.receive({ topic: 'bars', payload: [] });
    assert.match((await caught).error?.message ?? '', /got topic "bars"/);
  });

  it('refuses other topics with a message naming what it takes', async () => {
    await helper.load(nodes, flow());
    const caught = nextMessage('caught');
    (helper.getNode('g') as unknown as TestNode).receive({ topic: 'bars', payload: [] });
    assert.match((await caught).error?.message ?? '', /takes "chain" messages/);
  });
});

describe('mia-gamma-walls example flow', () => {
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('runs the bundled example chain to walls and a flip', async () => {
     
    const example = require('../../flows/nodes/mia-gamma-walls.json') as { id: string; type: string; payload?: string }[];
    const chainNode = example.find((n) => n.id === 'gw-inject');
    const exampleChain = JSON.parse(chainNode?.payload ?? '{}') as Chain;
    await helper.load(nodes, flow());
    const got = nextMessage('out');
    (helper.getNode('g') as unknown as TestNode).receive({ topic: 'chain', payload: exampleChain, esPrice: 5731.25 });
    const p = (await got).payload as GammaPayload;
    assert.deepEqual([p.callWall, p.putWall, p.es.method, p.es.callWall], [5800, 5500, 'observed-basis', 5831.25]);
    assert.ok(p.flip !== null);
  });
});
