import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import zlib from 'zlib';
import { Recorder, recordingFileName } from '../../../lib/replay/recorder';
import { encodeRecording, readRecording, recordLines, recordingOf } from '../../../lib/replay/recording';

// Wednesday 11 June 2025 10:00 New York, inside the session of trade date 2025-06-11.
const T0 = Date.UTC(2025, 5, 11, 14, 0);
const trade = (t: number, price: number) => ({ t, price, size: 2, side: 'buy' as const, bid: price - 0.25, ask: price });

describe('replay: recorder and recording format', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-rec-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes gzip JSON lines {t, topic, payload} to one file per trading day, read back unchanged', async () => {
    const rec = new Recorder({ dir, maxBytes: 1 << 20 });
    rec.record('trade', trade(T0, 5900), T0);
    rec.record('bar', { t: T0, o: 5900, h: 5901, l: 5899, c: 5900.5, v: 10 }, T0 + 60_000);
    // 17:30 Chicago belongs to the next trade date.
    const evening = Date.UTC(2025, 5, 11, 22, 30);
    rec.record('trade', trade(evening, 5910), evening);
    await rec.close();
    const files = fs.readdirSync(dir).sort();
    assert.deepStrictEqual(files, ['ES-2025-06-11.jsonl.gz', 'ES-2025-06-12.jsonl.gz']);
    const lines = zlib.gunzipSync(fs.readFileSync(path.join(dir, files[0]))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepStrictEqual(lines.map((l) => l.topic), ['meta', 'trade', 'bar']);
    const r = readRecording(path.join(dir, files[0]));
    assert.deepStrictEqual(r.trades, [trade(T0, 5900)]);
    assert.strictEqual(r.bars[0].c, 5900.5);
    assert.strictEqual(recordingFileName('ES', evening), files[1]);
  });

  it('appends a new gzip member after a restart, read as one stream', async () => {
    for (const k of [0, 1]) {
      const rec = new Recorder({ dir, maxBytes: 1 << 20 });
      rec.record('trade', trade(T0 + k * 1000, 5900 + k), T0 + k * 1000);
      await rec.close();
    }
    const r = readRecording(path.join(dir, 'ES-2025-06-11.jsonl.gz'));
    assert.deepStrictEqual(r.trades.map((x) => x.price), [5900, 5901]);
    assert.strictEqual(r.meta.length, 2);
  });

  it('stops at the size cap with one warning and writes nothing more that day', async () => {
    const warnings: string[] = [];
    const cap = 16_384;
    const rec = new Recorder({ dir, maxBytes: cap, flushBytes: 4096, flushMs: 0, onWarning: (m) => warnings.push(m) });
    let written = 0;
    for (let i = 0; i < 200_000 && rec.active(T0 + i); i++) {
      // Random-ish prices so gzip cannot shrink the lines to nothing.
      if (rec.record('trade', trade(T0 + i, 5000 + ((i * 7919) % 1000) * 0.25), T0 + i)) written++;
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await rec.close();
    assert.strictEqual(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], /cap/);
    const size = fs.statSync(path.join(dir, 'ES-2025-06-11.jsonl.gz')).size;
    assert.ok(size <= cap && size > cap / 2, `size ${size}`);
    assert.ok(written < 200_000);
    assert.strictEqual(readRecording(path.join(dir, 'ES-2025-06-11.jsonl.gz')).trades.length > 0, true);
  });

  it('refuses records that go back in time, and bad records when reading', () => {
    const rec = new Recorder({ dir, maxBytes: 1 << 20 });
    rec.record('trade', trade(T0, 5900), T0);
    assert.throws(() => rec.record('trade', trade(T0 - 1, 5900), T0 - 1), /older/);
    void rec.close();
    assert.throws(() => new Recorder({ dir, maxBytes: 0 }), /cap/);
    const bad = encodeRecording([{ t: T0, topic: 'trade', payload: { ...trade(T0, 5900), price: 'x' } }]);
    assert.throws(() => recordingOf(recordLines(bad)), /payload\.price/);
    const unordered = encodeRecording([
      { t: T0, topic: 'trade', payload: trade(T0, 1) },
      { t: T0 - 1, topic: 'trade', payload: trade(T0 - 1, 1) },
    ]);
    assert.throws(() => recordingOf(recordLines(unordered)), /before the previous/);
    assert.throws(() => recordingOf(recordLines(Buffer.from('not gzip'))), /not a gzip file/);
  });

  it('keeps what a truncated file holds (a recorder killed mid-write)', () => {
    const full = encodeRecording(Array.from({ length: 2000 }, (_, i) => ({ t: T0 + i, topic: 'trade', payload: trade(T0 + i, 5900 + (i % 9)) })));
    const cut = full.subarray(0, Math.floor(full.length * 0.6));
    const r = recordingOf(recordLines(cut));
    assert.ok(r.trades.length > 100 && r.trades.length < 2000, String(r.trades.length));
  });
});
