// ibkr-config's "Record market data" and replay mode in the Node-RED runtime: ibkr-quote streams from the simulator
// and its ticks land in <userDir>/mia-recordings; a recording replayed through ibkr-config (replay mode) streams to
// an unchanged ibkr-quote node through the same client paths (REST contract lookup, WebSocket market data).
import assert from 'node:assert/strict';
import fs from 'fs';
import os from 'os';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { Tick } from '../../lib/contracts';
import { seededRecordLines } from '../../lib/replay/from-seeded';
import { encodeRecording, readRecording } from '../../lib/replay/recording';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import quoteModule = require('../../nodes/ibkr-quote/ibkr-quote');
import authModule = require('../../nodes/ibkr-auth/ibkr-auth');
import { nextMessage, type MessageSource } from './support/messages';

helper.init(require.resolve('node-red'));
const at = { x: 0, y: 0 };

function flow(config: Record<string, unknown>): object[] {
  return [
    { id: 'tab', type: 'tab' },
    { id: 'cfg', type: 'ibkr-config', z: 'tab', simTls: false, ...config },
    { id: 'q', z: 'tab', type: 'ibkr-quote', connection: 'cfg', symbol: 'ES', secType: 'FUT', conid: '', mode: 'stream', pollSec: 1, wires: [['quotes'], ['ticks']], ...at },
    { id: 'auth', z: 'tab', type: 'ibkr-auth', connection: 'cfg', wires: [['authOut']], ...at },
    { id: 'quotes', z: 'tab', type: 'helper', ...at },
    { id: 'ticks', z: 'tab', type: 'helper', ...at },
    { id: 'authOut', z: 'tab', type: 'helper', ...at },
  ];
}

describe('replay: record and replay through ibkr-config', function () {
  this.timeout(30_000);
  let userDir: string;
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-nr-'));
    helper.settings({ userDir });
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('records the ticks ibkr-quote receives to <userDir>/mia-recordings/ES-<trade date>.jsonl.gz', async () => {
    await helper.load([configModule, quoteModule, authModule], flow({ mode: 'simulator', simSeed: 3, simSpeed: 20, record: true, recordMaxMb: 5 }) as never);
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await cfg.connection();
    const received: Tick[] = [];
    for (let i = 0; i < 5; i++) received.push((await nextMessage('ticks', 'tick', 8000)).payload as Tick);
    await helper.unload(); // closes the link: the recorder flushes
    const folder = path.join(userDir, 'mia-recordings');
    const files = fs.readdirSync(folder);
    assert.equal(files.length, 1);
    assert.match(files[0], /^ES-\d{4}-\d{2}-\d{2}\.jsonl\.gz$/);
    const rec = readRecording(path.join(folder, files[0]));
    assert.ok(rec.ticks.length >= received.length);
    assert.deepEqual(rec.ticks.slice(0, received.length), received);
    assert.ok(rec.quotes.length > 0, 'the streamed quotes are recorded too');
    assert.ok(rec.quotes.every((q) => q.symbol === 'ES'));
  });

  it('serves a recording to an unchanged ibkr-quote node, with pause and step from ibkr-auth', async () => {
    // A recording of the seeded market (its trades), replayed at 50x.
    const from = Date.UTC(2025, 5, 11, 14, 0);
    const file = path.join(userDir, 'mia-recordings', 'ES-2025-06-11.jsonl.gz');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, encodeRecording(seededRecordLines(9, from, from + 30 * 60_000)));
    const prices = new Set(readRecording(file).trades.map((x) => x.price));
    await helper.load([configModule, quoteModule, authModule], flow({ mode: 'replay', replayFile: 'ES-2025-06-11.jsonl.gz', replaySpeed: '50' }) as never);
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await cfg.connection();
    const tick = (await nextMessage('ticks', 'tick', 10_000)).payload as Tick;
    assert.equal(tick.symbol, 'ES');
    assert.ok(prices.has(tick.price), `tick price ${tick.price} is one the recording traded`);
    assert.ok(tick.t >= from && tick.t <= from + 30 * 60_000);

    const auth = helper.getNode('auth') as unknown as { receive(msg: unknown): void };
    const paused = nextMessage('authOut', 'replay', 5000);
    auth.receive({ payload: { replay: 'pause' } });
    const status = (await paused).payload as { paused: boolean; now: number };
    assert.equal(status.paused, true);
    const stepped = nextMessage('authOut', 'replay', 5000);
    auth.receive({ payload: { replay: 'step', ms: 60_000 } });
    assert.equal(((await stepped).payload as { now: number }).now, status.now + 60_000);
    assert.equal(cfg.marketNow(), status.now + 60_000);
  });
  it('replays a recording that starts with the preload of history (no price yet at its first record) without ending the process', async () => {
    // As a live day at 1x records it: ibkr-history's answer (the preload) arrives before the stream's first tick, so
    // the replay's clock starts where no price is known. The stream sends nothing until the first tick (before:
    // "no ES price recorded" thrown out of the simulator's socket handler: an uncaught exception).
    const t0 = Date.UTC(2025, 5, 11, 14, 0);
    const bar = (t: number, c: number) => ({ t, o: c, h: c + 1, l: c - 1, c, v: 10, symbol: 'ES', asOf: t0 + 2_000 });
    const tick = (t: number, price: number) => ({ symbol: 'ES', t, price, size: 2, bid: price - 0.25, ask: price });
    const file = path.join(userDir, 'mia-recordings', 'ES-2025-06-11.jsonl.gz');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(
      file,
      encodeRecording([
        { t: t0 + 3_000, topic: 'meta', payload: { version: 2 } },
        { t: t0 + 3_000, topic: 'bar', payload: bar(t0 - 120_000, 5000) },
        { t: t0 + 3_000, topic: 'bar', payload: bar(t0 - 60_000, 5001) },
        ...Array.from({ length: 30 }, (_, i) => ({ t: t0 + 9_000 + i * 2_000, topic: 'tick', payload: tick(t0 + 9_000 + i * 2_000, 5002 + i * 0.25) })),
      ]),
    );
    await helper.load([configModule, quoteModule, authModule], flow({ mode: 'replay', replayFile: 'ES-2025-06-11.jsonl.gz', replaySpeed: '20' }) as never);
    await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
    const first = (await nextMessage('ticks', 'tick', 10_000)).payload as Tick;
    const prices = Array.from({ length: 30 }, (_, i) => 5002 + i * 0.25);
    assert.ok(first.t >= t0 + 9_000 && prices.includes(first.price), `a recorded tick: ${JSON.stringify(first)}`);
  });

  it("replays a live recording at 'max' with the very ticks and quotes ibkr-quote received live, the first one delivered late included", async () => {
    // As a live run on a loaded machine records it: the stream's snapshot (q0) and its first trade update (q1, the
    // trade printed at 10:00:59.7) reach ibkr-quote late, so the recording's first record (10:01:00.2, q0's) comes after
    // that trade's print. Live, the tick is 4999 against the touch before it (q0: 5000 / 5000.25), a sell; q1 is the
    // touch after it (4998.75 / 4999). Before: the replay showed q1 before playing the trade (picked by time), so its
    // tick was a buy at the ask, and stamped with the replay's clock (10:01:00.2, the next minute's bar).
    const t0 = Date.UTC(2025, 5, 11, 14, 0);
    const R0 = t0 + 60_200;
    const quote = (t: number, last: number, bid: number, volume: number) => ({ symbol: 'ES', t, last, bid, ask: bid + 0.25, bidSize: 10, askSize: 12, volume });
    const ticks = [{ symbol: 'ES', t: t0 + 59_700, price: 4999, size: 7, bid: 5000, ask: 5000.25 }];
    const records: { t: number; topic: string; payload: unknown }[] = [
      { t: R0, topic: 'meta', payload: { version: 2 } },
      { t: R0, topic: 'quote', payload: quote(t0 + 58_000, 5000, 5000, 1000) },
      { t: R0 + 400, topic: 'quote', payload: quote(ticks[0].t, 4999, 4998.75, 1007) },
      { t: R0 + 450, topic: 'tick', payload: ticks[0] },
    ];
    let before = { bid: 4998.75, ask: 4999 };
    for (let i = 1; i <= 4; i++) {
      const t = R0 + i * 15_000;
      const price = 4999 + (i % 2 === 1 ? 1.5 : -1);
      const tick = { symbol: 'ES', t, price, size: 3 + i, ...before };
      ticks.push(tick);
      const bid = i % 2 === 1 ? price - 0.25 : price;
      records.push({ t: t + 300, topic: 'quote', payload: quote(t, price, bid, 1007 + i * 10) }, { t: t + 350, topic: 'tick', payload: tick });
      before = { bid, ask: bid + 0.25 };
    }
    const file = path.join(userDir, 'mia-recordings', 'ES-2025-06-11.jsonl.gz');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, encodeRecording(records));
    const received: Tick[] = [];
    const quotes: { t: number; bid: number | null; ask: number | null }[] = [];
    await helper.load([configModule, quoteModule, authModule], flow({ mode: 'replay', replayFile: 'ES-2025-06-11.jsonl.gz', replaySpeed: 'max' }) as never);
    (helper.getNode('ticks') as unknown as MessageSource<{ payload: Tick }>).on('input', (m) => received.push(m.payload));
    (helper.getNode('quotes') as unknown as MessageSource<{ payload: { t: number; bid: number | null; ask: number | null } }>).on('input', (m) => quotes.push(m.payload));
    await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
    for (let i = 0; i < 200 && received.length < ticks.length; i++) await new Promise((r) => setTimeout(r, 25));
    const fields = (x: { t: number; price: number; size: number; bid?: number; ask?: number }) => ({ t: x.t, price: x.price, size: x.size, bid: x.bid, ask: x.ask });
    assert.deepStrictEqual(received.map(fields), ticks.map(fields));
    // The stream's snapshot before the first trade is the live one (q0, its stamp included), then q1.
    assert.deepStrictEqual(
      quotes.slice(0, 2).map((q) => ({ t: q.t, bid: q.bid, ask: q.ask })),
      [
        { t: t0 + 58_000, bid: 5000, ask: 5000.25 },
        { t: ticks[0].t, bid: 4998.75, ask: 4999 },
      ],
    );
  });
});
