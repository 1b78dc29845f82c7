import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { TradePipeline } from '../../../lib/replay/pipeline';
import { RecordedMarket } from '../../../lib/replay/recorded-market';
import { Recorder } from '../../../lib/replay/recorder';
import { readRecording } from '../../../lib/replay/recording';
import { createMarket } from '../../../lib/sim/market';
import type { BacktestResult } from '../../../lib/replay/backtest';

// The Globex session of trade date Wednesday 11 June 2025: 17:00 CT the 10th to 16:00 CT the 11th (23 h).
const OPEN = Date.UTC(2025, 5, 10, 22, 0);
const CLOSE = Date.UTC(2025, 5, 11, 21, 0);
const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1, risk: { cooldownMin: 5 } };

async function replay(file: string): Promise<BacktestResult> {
  const market = new RecordedMarket(readRecording(file), { speed: 'max', maxBatch: 5000 });
  const pipeline = new TradePipeline(OPTIONS);
  market.on('trade', pipeline.onTrade);
  const ended = new Promise<void>((resolve) => market.once('end', resolve));
  market.start();
  await ended;
  market.stop();
  return pipeline.finish();
}

describe('replay: determinism (live run vs its recording, replayed twice)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-det-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the same signals and orders as the live run that recorded it, on every replay', async function () {
    this.timeout(120_000);
    // "Live": the seeded market's trades as its pump emits them, through the pipeline, recorded as they arrive.
    const live = createMarket({ seed: 21, startTime: CLOSE, speed: 0 });
    const recorder = new Recorder({ dir, maxBytes: 200 * 1024 * 1024, flushMs: 0 });
    const pipeline = new TradePipeline(OPTIONS);
    let n = 0;
    for (let t = OPEN; t < CLOSE; t += 3_600_000) {
      for (const trade of live.tradesBetween(t - 1, Math.min(CLOSE, t + 3_600_000) - 1)) {
        pipeline.onTrade(trade);
        recorder.record('trade', trade, trade.t);
        n++;
      }
    }
    await recorder.close();
    const liveResult = pipeline.finish();
    assert.ok(liveResult.signals.length > 0 && liveResult.trades.length > 0, 'the session gives signals and trades');

    const file = path.join(dir, 'ES-2025-06-11.jsonl.gz');
    const first = await replay(file);
    const second = await replay(file);
    assert.strictEqual(readRecording(file).trades.length, n);
    assert.deepStrictEqual(first, liveResult);
    assert.deepStrictEqual(second, first);
  });
});
