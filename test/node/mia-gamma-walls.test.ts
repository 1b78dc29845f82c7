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
    // A toy chain: one SPXW expiry, strikes 4900–5100: the status says its scope cuts the levels.
    assert.equal(statuses.at(-1)?.fill, 'yellow');
    assert.match(statuses.at(-1)?.text ?? '', /^flip \d+ CW 5100 PW 4900 ⚠ cut$/);
  });

  it('says what share of the chain the levels cover and warns once while a scope cuts them', async () => {
    await helper.load(nodes, flow());
    const g = helper.getNode('g') as unknown as TestNode;
    const statuses = recordStatuses('g');
    const warnings = (): string[] =>
      helper
        .log()
        .args.map((a) => a[0] as { level: number; type: string; msg: unknown })
        .filter((e) => e.type === 'mia-gamma-walls' && e.level === 30) // Node-RED's level for node.warn
        .map((e) => String(e.msg));
    const cut: Chain = {
      ...chain,
      scope: {
        rule: 'SPXW: next 1 expiries, 1 strikes each side of spot',
        classes: ['SPXW'],
        expiries: ['20250411 SPXW'],
        leftOut: ['20250321 SPX', '20250418 SPX'],
        strikeBand: { lo: 4900, hi: 5100 },
        strikes: { taken: 3, listed: 200 },
      },
    };
    for (let i = 0; i < 2; i++) {
      const got = nextMessage('out');
      g.receive({ topic: 'chain', payload: cut });
      const coverage = ((await got).payload as GammaPayload).coverage;
      assert.ok(coverage);
      assert.deepEqual([coverage.of, coverage.openInterest, coverage.amSeries, coverage.scope?.leftOut], ['chain-received', 1, false, ['20250321 SPX', '20250418 SPX']]);
      assert.deepEqual(coverage.warnings.map((w) => w.code), ['no-am-series', 'narrow-strike-band', 'wall-at-band-edge']);
    }
    assert.equal(warnings().length, 3, 'each warning logged once, not once per chain');
    assert.match(warnings()[0], /No AM-settled SPX monthlies/);

    // A chain with an AM quarterly and a ±30 % band: no warning, green status.
    const am = (strike: number, right: 'C' | 'P', oi: number, iv: number): OptionQuote => ({ ...option(strike, right, oi, iv), expiry: '20250620', settlement: 'AM', tradingClass: 'SPX', conid: strike * 10 + 7 });
    const wide: Chain = {
      ...chain,
      contracts: [...chain.contracts, am(3500, 'P', 10, 0.4), am(4950, 'P', 20000, 0.18), am(5050, 'C', 20000, 0.15), am(6500, 'C', 10, 0.3)],
    };
    const got = nextMessage('out');
    g.receive({ topic: 'chain', payload: wide });
    const coverage = ((await got).payload as GammaPayload).coverage;
    assert.deepEqual([coverage?.warnings, coverage?.amQuarterly, coverage?.strikes], [[], true, { lo: 3500, hi: 6500 }]);
    assert.equal(statuses.at(-1)?.fill, 'green');
    assert.equal(warnings().length, 3);
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
