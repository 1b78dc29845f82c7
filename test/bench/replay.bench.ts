// replay.speed: a recorded full ES session (23 h of the seeded market: every trade and 1-minute bar, gzip JSON
// lines) replayed at speed 'max' through the replay pipeline: file read and checked, RecordedMarket emitting every
// trade on the event loop, minute bars, Battle Navale, risk rules and simulated fills (goal ≥ 500× real time).
// Baseline, same run: the same pipeline fed straight from the in-memory trade list (no file, no market, no event
// loop turns), so the ratio is what the replay machinery costs. Determinism: the run is made twice and compared.
import fs from 'fs';
import os from 'os';
import path from 'path';
import { report } from './harness';
import { seededRecordLines } from '../../lib/replay/from-seeded';
import { TradePipeline } from '../../lib/replay/pipeline';
import { RecordedMarket } from '../../lib/replay/recorded-market';
import { encodeRecording, readRecording, recordingOf } from '../../lib/replay/recording';
import type { BacktestResult } from '../../lib/replay/backtest';

// The session of trade date Tuesday 3 March 2026: 17:00 CT Monday to 16:00 CT Tuesday (fixed: not today's date).
const OPEN = Date.UTC(2026, 2, 2, 23, 0);
const CLOSE = Date.UTC(2026, 2, 3, 22, 0);
const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1 };

async function replayOnce(file: string): Promise<{ ms: number; result: BacktestResult; trades: number }> {
  const start = performance.now();
  const market = new RecordedMarket(readRecording(file), { speed: 'max', maxBatch: 5000 });
  const pipeline = new TradePipeline(OPTIONS);
  market.on('trade', pipeline.onTrade);
  const ended = new Promise<void>((resolve) => market.once('end', resolve));
  market.start();
  await ended;
  market.stop();
  const result = pipeline.finish();
  return { ms: performance.now() - start, result, trades: pipeline.trades };
}

async function main(): Promise<void> {
  const lines = seededRecordLines(1, OPEN, CLOSE);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-bench-replay-'));
  const file = path.join(dir, 'ES-2026-03-03.jsonl.gz');
  fs.writeFileSync(file, encodeRecording(lines));
  const size = fs.statSync(file).size;
  try {
    await replayOnce(file); // warm-up
    const a = await replayOnce(file);
    const b = await replayOnce(file);
    const same = JSON.stringify(a.result) === JSON.stringify(b.result);

    const trades = recordingOf(lines).trades;
    const t0 = performance.now();
    const direct = new TradePipeline(OPTIONS);
    for (const x of trades) direct.onTrade(x);
    const directResult = direct.finish();
    const directMs = performance.now() - t0;
    const sameAsDirect = JSON.stringify(directResult) === JSON.stringify(a.result);

    const sessionMs = CLOSE - OPEN;
    const ms = Math.min(a.ms, b.ms);
    report({
      id: 'replay.speed',
      value: Math.round(sessionMs / ms),
      unit: '× real time',
      baseline: Math.round(sessionMs / directMs),
      goal: '≥ 500× real time',
      note:
        `23 h session, ${a.trades} trades, file ${(size / 1048576).toFixed(1)} MB, replay ${(ms / 1000).toFixed(2)} s; ` +
        `${a.result.signals.length} signals, ${a.result.trades.length} trades; deterministic: ${same && sameAsDirect ? 'yes' : 'NO'}`,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
