import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { seededRecordLines } from '../../../lib/replay/from-seeded';
import { encodeRecording } from '../../../lib/replay/recording';
import { acquireReplay, runningReplay } from '../../../lib/replay/registry';
import { planConnection } from '../../../nodes/sierra-config/settings';
import { SierraConnection } from '../../../lib/sierra/connection';

const FROM = Date.UTC(2025, 5, 11, 13, 0);
const TO = Date.UTC(2025, 5, 11, 13, 30);

describe('replay: one replayed market per recording, shared by the IBKR and DTC simulators', () => {
  let dir: string;
  let file: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-'));
    file = path.join(dir, 'ES-2025-06-11.jsonl.gz');
    fs.writeFileSync(file, encodeRecording(seededRecordLines(5, FROM, TO)));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the second user the same market, stops it when the last releases', () => {
    const a = acquireReplay(file, { speed: 'max' });
    const b = acquireReplay(path.join(dir, '.', 'ES-2025-06-11.jsonl.gz'));
    assert.strictEqual(b.market, a.market);
    a.market.pause();
    a.release();
    assert.strictEqual(runningReplay(file), a.market);
    b.release();
    b.release(); // idempotent
    assert.strictEqual(runningReplay(file), undefined);
  });

  it('sierra-config simulator settings name the replay to fill on', () => {
    const opts = planConnection({ mode: 'simulator', simReplayFile: 'ES-2025-06-11.jsonl.gz' }, {}, dir);
    assert.strictEqual(opts.simulator?.replayFile, path.join(dir, 'mia-recordings', 'ES-2025-06-11.jsonl.gz'));
    assert.strictEqual(planConnection({ mode: 'simulator' }, {}, dir).simulator?.replayFile, undefined);
  });

  it('refuses a missing recording with its path', () => {
    assert.throws(() => acquireReplay(path.join(dir, 'nope.jsonl.gz')), /cannot read it \(ENOENT\)/);
  });
});

describe('replay: sierra-config simulator on the replayed market', () => {
  it('the DTC simulator runs on the replay of the file (same clock, same last price) and releases it on close', async function () {
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-sierra-'));
    const file = path.join(dir, 'ES-2025-06-11.jsonl.gz');
    fs.writeFileSync(file, encodeRecording(seededRecordLines(5, FROM, TO)));
    const ibkrSide = acquireReplay(file, { speed: 'max' });
    ibkrSide.market.pause();
    ibkrSide.market.step(10 * 60_000);
    const sierra = new SierraConnection({
      client: { tradeAccount: 'Sim1' },
      symbol: { root: 'ES', format: 'sierra-cme' },
      risk: { limits: {}, collarTicks: 0, tickSize: 0.25, maxOrdersPerMinute: 0 },
      simulator: { seed: 1, speed: 1, replayFile: file },
    });
    try {
      await sierra.open();
      assert.strictEqual(sierra.now(), ibkrSide.market.now());
      assert.strictEqual(sierra.lastTrade(), ibkrSide.market.esQuote().last);
      ibkrSide.market.step(60_000);
      assert.strictEqual(sierra.now(), FROM + 11 * 60_000);
    } finally {
      await sierra.close();
      ibkrSide.release();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.strictEqual(runningReplay(file), undefined);
  });
});
