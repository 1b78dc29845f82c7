// ibkr-quote in the Node-RED runtime against ibkr-config in simulator mode: snapshots, polling, streaming with
// ticks, delayed data, a 429, an expired session, market data switched off, malformed input, and the editor's
// contract search.
import assert from 'node:assert/strict';
import helper from 'node-red-node-test-helper';
import type { Quote, Tick } from '../../lib/contracts';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import nodeModule = require('../../nodes/ibkr-quote/ibkr-quote');
import { anyMessage, loadWithIbkrConfig, nextMessage } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type Flow = Parameters<typeof helper.load>[1];

type TestNode = { receive(msg: unknown): void };
type StatusNode = { on(event: 'call:status', cb: (call: { args: [{ fill?: string; text?: string }] }) => void): void };
const at = { x: 0, y: 0 };
/** How long a reply from the simulated gateway may take before a test fails. */
const WAIT_MS = 6000;

function flow(quote: Record<string, unknown> = {}, config: Record<string, unknown> = {}): object[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', mode: 'simulator', simSeed: 3, simTls: false, ...config },
    { id: 'q', z: 'tab', type: 'ibkr-quote', connection: 'cfg', symbol: 'ES', secType: 'FUT', conid: '', mode: 'snapshot', pollSec: 1, wires: [['quotes'], ['ticks']], ...at, ...quote },
    { id: 'quotes', z: 'tab', type: 'helper', ...at },
    { id: 'ticks', z: 'tab', type: 'helper', ...at },
    { id: 'catch', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', z: 'tab', type: 'helper', ...at },
  ];
}

const load = (quote: Record<string, unknown> = {}, config: Record<string, unknown> = {}): Promise<IbkrSimulator> =>
  loadWithIbkrConfig([configModule, nodeModule, catchNode], flow(quote, config));

describe('ibkr-quote node', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('answers an input with a real-time quote of the ES front month', async () => {
    const sim = await load();
    const out = nextMessage('quotes', 'quote', WAIT_MS);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 'go' });
    const quote = (await out).payload as Quote & { source: string };
    const front = sim.market.esContracts()[0]!;
    assert.equal(quote.symbol, 'ES');
    assert.ok(sim.market.esContracts().some((c) => c.conid === quote.conid));
    assert.ok(quote.conid === front.conid || quote.conid === sim.market.esContracts()[1]!.conid);
    assert.ok(quote.bid !== null && quote.ask !== null && quote.bid < quote.ask);
    assert.ok(Math.abs((quote.last ?? 0) - sim.market.esQuote().last) < 10);
    assert.equal(quote.delayed, false);
    assert.equal(quote.source, 'real-time');
  });

  it('marks delayed data as delayed in the quote and the status', async () => {
    const sim = await load();
    sim.control.setMarketDataAvailability('D');
    const statuses: string[] = [];
    (helper.getNode('q') as unknown as StatusNode).on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    const out = nextMessage('quotes', 'quote', WAIT_MS);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 1 });
    const quote = (await out).payload as Quote;
    assert.equal(quote.delayed, true);
    assert.ok(statuses.some((s) => /delayed/.test(s)));
  });

  it('polls every N seconds', async () => {
    await load({ mode: 'poll', pollSec: 1 });
    const first = (await nextMessage('quotes', 'quote', WAIT_MS)).payload as Quote;
    const second = (await nextMessage('quotes', 'quote', 4000)).payload as Quote;
    assert.equal(first.conid, second.conid);
  });

  it('streams quotes and a tick per trade on the second output', async () => {
    await load({ mode: 'stream' }, { simSpeed: 20 });
    const tick = (await nextMessage('ticks', 'tick', 8000)).payload as Tick;
    assert.equal(tick.symbol, 'ES');
    assert.ok(tick.size > 0 && tick.price > 1000);
    const quote = (await nextMessage('quotes', 'quote', WAIT_MS)).payload as Quote;
    assert.ok(quote.last !== null);
  });

  it('reports a stream gap (status and a gap message) after the WebSocket drops, then streams on', async () => {
    const sim = await load({ mode: 'stream' }, { simSpeed: 5 });
    await nextMessage('quotes', 'quote', 8000);
    const statuses: string[] = [];
    (helper.getNode('q') as unknown as StatusNode).on('call:status', (c) => statuses.push(c.args[0].text ?? ''));
    const gap = nextMessage('quotes', 'gap', 10_000);
    sim.control.dropWebSockets();
    const report = (await gap).payload as { symbol: string; from: number; to: number; reason: string };
    assert.equal(report.symbol, 'ES');
    assert.ok(report.to >= report.from);
    assert.ok(statuses.some((s) => /^gap \d+ s/.test(s)));
    await nextMessage('quotes', 'quote', 8000);
  });

  it('survives a 429: the quote comes once the rate-limit pause is over', async () => {
    const sim = await load();
    await (await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection()).client.esFrontMonth(sim.market.now()); // warm: the simulated market's day, not today's
    sim.control.inject429(1);
    const out = nextMessage('quotes', 'quote', 10_000);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 1 });
    assert.ok(((await out).payload as Quote).last !== null);
    assert.equal(sim.control.stats().rejected429, 1);
  });

  it('reports an expired session to Catch with what to do', async () => {
    const sim = await load();
    sim.control.expireSession();
    const caught = nextMessage('caught', anyMessage, 15_000);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 1 });
    const msg = await caught;
    assert.match(msg.error?.message ?? '', /IBKR/);
  });

  it('requests nothing when market data is off in the connection, and says so', async () => {
    const sim = await load({}, { marketData: false });
    const before = sim.control.stats().requests['/iserver/marketdata/snapshot'] ?? 0;
    const caught = nextMessage('caught', anyMessage, WAIT_MS);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught).error?.message ?? '', /market data is switched off/);
    assert.equal(sim.control.stats().requests['/iserver/marketdata/snapshot'] ?? 0, before);
  });

  it('refuses an empty symbol instead of quoting ES, and says what to enter', async () => {
    const sim = await load({ symbol: '  ' });
    const before = sim.control.stats().requests['/iserver/marketdata/snapshot'] ?? 0;
    const caught = nextMessage('caught', anyMessage, WAIT_MS);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 1 });
    assert.match((await caught).error?.message ?? '', /symbol is empty: enter one \(e\.g\. ES\)/);
    assert.equal(sim.control.stats().requests['/iserver/marketdata/snapshot'] ?? 0, before, 'no quote was requested');
  });

  it('sends malformed input (a bad conid) to Catch and turns the ring red', async () => {
    await load();
    const statuses: Array<{ fill?: string }> = [];
    (helper.getNode('q') as unknown as StatusNode).on('call:status', (c) => statuses.push(c.args[0]));
    const caught = nextMessage('caught', anyMessage, WAIT_MS);
    (helper.getNode('q') as unknown as TestNode).receive({ payload: 1, conid: 'twelve' });
    assert.match((await caught).error?.message ?? '', /not an IBKR conid/);
    assert.equal(statuses.at(-1)?.fill, 'red');
  });

  it('runs its example flow: streamed ES quotes', async () => {
    const example = require('../../flows/nodes/ibkr-quote.json') as object[];
    await helper.load([configModule, nodeModule, require('@node-red/nodes/core/common/20-inject.js'), require('@node-red/nodes/core/common/21-debug.js')], example as Flow);
    const quote = (await nextMessage('quote-quotes', 'quote', 10_000)).payload as Quote;
    assert.equal(quote.symbol, 'ES');
  });

  it('lists ES contracts for the editor, front month first', async () => {
    const sim = await load();
    const res = await helper.request().get('/ibkr-quote/contracts').query({ config: 'cfg', q: 'es' }).expect(200);
    const contracts = (res.body as { contracts: Array<{ conid: number; description: string; secType: string }> }).contracts;
    assert.match(contracts[0]!.description, /front month/);
    const futures = contracts.filter((c) => c.secType === 'FUT').map((c) => c.conid);
    assert.ok(futures.every((c) => sim.market.esContracts().some((x) => x.conid === c)));
    await helper.request().get('/ibkr-quote/contracts').query({ config: 'nope', q: 'es' }).expect(400);
  });
});
