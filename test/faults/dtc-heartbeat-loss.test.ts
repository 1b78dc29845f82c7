// Fault: Sierra Chart stops sending heartbeats (DTC simulator's stopHeartbeats). The client must declare the link
// lost within about 2 heartbeat intervals (dtc-protocol.md §4.3) and reconnect once heartbeats flow again.
// Virtual time: the client's and the simulator's timers and clocks are fake (@sinonjs/fake-timers), moved in small
// steps with the real loopback socket drained between steps, so the measured detection time is the code's own and
// not how late a busy machine ran its timers.
import { strict as assert } from 'assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import { DtcClient } from '../../lib/sierra/client';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import { SYMBOL, TestMarket } from '../unit/sierra/support/harness';
import { reportFigures } from './support';

/** Sierra's default (10 s): in virtual time nothing needs shortening. */
const HEARTBEAT_SEC = 10;
/** Virtual time moves this much per step; between steps the socket is drained in real time. */
const STEP_MS = 250;

describe('fault: DTC heartbeat loss', function () {
  this.timeout(20_000);
  let sim: DtcSimulator | undefined;
  let client: DtcClient | undefined;
  let clock: FakeTimers.Clock | undefined;
  // Captured before the clock is installed: the real event loop, to let socket data in between virtual steps.
  const realSetImmediate = setImmediate;
  const drain = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => realSetImmediate(resolve));
  };
  /** Moves virtual time in steps until `condition` holds; fails after `limitMs` of virtual time. */
  const runUntil = async (condition: () => boolean, limitMs: number, what: string): Promise<void> => {
    for (let waited = 0; !condition(); waited += STEP_MS) {
      if (waited > limitMs) throw new Error(`${what}: not within ${limitMs} ms of virtual time`);
      clock!.tick(STEP_MS);
      await drain();
    }
  };
  const runFor = async (ms: number): Promise<void> => {
    for (let waited = 0; waited < ms; waited += STEP_MS) {
      clock!.tick(STEP_MS);
      await drain();
    }
  };

  afterEach(async () => {
    await client?.close();
    await sim?.close();
    clock?.uninstall();
    clock = undefined;
  });

  it('detects a silent Sierra Chart within about 2 heartbeat intervals and reconnects', async () => {
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: Date.UTC(2026, 2, 3, 15) });
    sim = await startDtcSimulator({ market: new TestMarket(), host: '127.0.0.1', port: 0, symbol: SYMBOL, heartbeatSec: HEARTBEAT_SEC });
    const server = sim;
    client = new DtcClient({ port: server.port, heartbeatSec: HEARTBEAT_SEC, reconnect: { initialDelayMs: 500, maxDelayMs: 1000 } });
    const dtc = client;
    client.on('error', () => undefined);
    let lostAt = 0;
    let lostReason = '';
    client.on('disconnected', (info: { error: Error }) => {
      lostAt = Date.now();
      lostReason = info.error.message;
    });
    const connected = client.connect();
    await runUntil(() => dtc.state === 'logged-on', 30_000, 'logged on');
    await connected;
    const intervalMs = HEARTBEAT_SEC * 1000;
    const ratios: number[] = [];
    for (let i = 0; i < 6; i++) {
      await runUntil(() => dtc.state === 'logged-on', 30_000, 'logged on');
      await runFor(intervalMs * (1 + i / 6)); // a different heartbeat phase each time
      assert.strictEqual(dtc.state, 'logged-on', 'heartbeats flowing: the link stays up');
      lostAt = 0;
      const stoppedAt = Date.now();
      server.stopHeartbeats();
      await runUntil(() => lostAt > 0, 10 * intervalMs, 'loss detected');
      ratios.push((lostAt - stoppedAt) / intervalMs);
      server.resumeHeartbeats();
    }
    await runUntil(() => dtc.state === 'logged-on', 30_000, 'logged on again');
    reportFigures('dtc-heartbeat-loss', { heartbeatMs: intervalMs, virtualTime: true, detectionIntervals: { min: Math.min(...ratios), max: Math.max(...ratios) }, all: ratios.map((r) => Number(r.toFixed(2))) });
    assert.match(lostReason, /Nothing heard from Sierra Chart for .* s \(heartbeat every 10 s\)/);
    // §4.3 "~2 intervals": silence > 2 intervals, checked every ¼ interval, so after 2 and at most 2.25 intervals since
    // the last heartbeat heard, which came at most 1 interval before the stop.
    assert.ok(Math.min(...ratios) > 1, `not declared lost before 2 intervals of silence: ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
    assert.ok(Math.max(...ratios) <= 2.25 + STEP_MS / intervalMs, `detected within about 2 intervals: ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  });
});
