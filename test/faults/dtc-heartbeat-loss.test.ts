// Fault: Sierra Chart stops sending heartbeats (DTC simulator's stopHeartbeats). The client must declare the link
// lost within about 2 heartbeat intervals (dtc-protocol.md §4.3) and reconnect once heartbeats flow again.
import { strict as assert } from 'assert';
import { DtcClient } from '../../lib/sierra/client';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import { SYMBOL, TestMarket } from '../unit/sierra/support/harness';
import { reportFigures, sleep, until } from './support';

/** Sierra's default is 10 s; ÷ 50 here, on both sides. */
const HEARTBEAT_SEC = 0.2;

describe('fault: DTC heartbeat loss', function () {
  this.timeout(20_000);
  let sim: DtcSimulator | undefined;
  let client: DtcClient | undefined;
  afterEach(async () => {
    await client?.close();
    await sim?.close();
  });

  it('detects a silent Sierra Chart within about 2 heartbeat intervals and reconnects', async () => {
    sim = await startDtcSimulator({ market: new TestMarket(), host: '127.0.0.1', port: 0, symbol: SYMBOL, heartbeatSec: HEARTBEAT_SEC });
    const server = sim;
    client = new DtcClient({ port: server.port, heartbeatSec: HEARTBEAT_SEC, reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    const dtc = client;
    client.on('error', () => undefined);
    let lostAt = 0;
    let lostReason = '';
    client.on('disconnected', (info: { error: Error }) => {
      lostAt = Date.now();
      lostReason = info.error.message;
    });
    await client.connect();
    const intervalMs = HEARTBEAT_SEC * 1000;
    const ratios: number[] = [];
    for (let i = 0; i < 6; i++) {
      await until(() => dtc.state === 'logged-on', 5000, 'logged on');
      await sleep(intervalMs * (1 + i / 6)); // a different heartbeat phase each time
      lostAt = 0;
      const stoppedAt = Date.now();
      server.stopHeartbeats();
      await until(() => lostAt > 0, 10 * intervalMs, 'loss detected');
      ratios.push((lostAt - stoppedAt) / intervalMs);
      server.resumeHeartbeats();
    }
    await until(() => dtc.state === 'logged-on', 5000, 'logged on again');
    reportFigures('dtc-heartbeat-loss', { heartbeatMs: intervalMs, detectionIntervals: { min: Math.min(...ratios), max: Math.max(...ratios) }, all: ratios.map((r) => Number(r.toFixed(2))) });
    assert.match(lostReason, /Nothing heard from Sierra Chart for .* s \(heartbeat every 0\.2 s\)/);
    // §4.3 "~2 intervals": silence > 2 intervals, checked every ¼ interval, so at most 2.25 after the last heartbeat.
    assert.ok(Math.max(...ratios) <= 2.5, `detected within about 2 intervals: ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  });
});
