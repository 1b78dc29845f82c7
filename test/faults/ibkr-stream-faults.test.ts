// Faults on the IBKR link, against the IBKR simulator over real HTTPS and WebSocket: the WebSocket killed 100 times
// mid-stream, the session expiring and the nightly reset mid-session, and heartbeat loss. IBKR's time constants are
// shortened (support.ts); the figures printed are what the README's "Reliability" section quotes.
import { strict as assert } from 'assert';
import { DEFAULT_STREAM_TIMING, type StreamGap, type StreamState } from '../../lib/ibkr/stream';
import { FreezableProxy, HEARTBEAT_MS, percentile, reportFigures, sleep, startIbkrRig, until, type IbkrRig } from './support';
import { testTimeLeft } from '../support/budget';

const FIELDS = ['31', '84', '86'];

/** Subscribes market data, orders and P&L; counts market-data messages. */
function subscribeAll(rig: IbkrRig): { marketData: () => number } {
  let marketData = 0;
  rig.stream.subscribeMarketData(rig.conid, FIELDS, () => marketData++);
  rig.stream.subscribeOrders(() => undefined);
  rig.stream.subscribePnl(() => undefined);
  return { marketData: () => marketData };
}

describe('fault: IBKR WebSocket killed 100 times mid-stream', function () {
  this.timeout(60_000);
  let rig: IbkrRig | undefined;
  afterEach(async () => rig?.close());

  it('reconnects and resubscribes after every one of 100 kills and reports each gap once', async () => {
    rig = await startIbkrRig();
    const live = rig;
    const gaps: StreamGap[] = [];
    live.stream.on('gap', (g) => gaps.push(g));
    const counter = subscribeAll(live);
    await until(() => live.stream.state === 'open' && counter.marketData() > 0, testTimeLeft(), 'first quotes');

    const reconnectMs: number[] = [];
    const resubscribedMs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const seen = counter.marketData();
      const gapsBefore = gaps.length;
      const cutAt = Date.now();
      live.sim.control.dropWebSockets();
      await until(() => gaps.length > gapsBefore, testTimeLeft(), `reconnect ${i + 1}`);
      reconnectMs.push(Date.now() - cutAt);
      // Resubscribed: quotes flow again on the new socket (mid-stream again before the next kill).
      await until(() => counter.marketData() > seen, testTimeLeft(), `quotes after reconnect ${i + 1}`);
      resubscribedMs.push(Date.now() - cutAt);
    }
    const figures = {
      kills: 100,
      gapEvents: gaps.length,
      reconnectMs: { p50: percentile(reconnectMs, 50), p99: percentile(reconnectMs, 99), max: Math.max(...reconnectMs) },
      quotesAgainMs: { p50: percentile(resubscribedMs, 50), p99: percentile(resubscribedMs, 99), max: Math.max(...resubscribedMs) },
      openSocketsAtSimulator: live.sim.control.stats().webSockets,
    };
    reportFigures('ws-kill-100', figures);
    assert.equal(gaps.length, 100, 'one gap per kill, none hidden and none doubled');
    for (const gap of gaps) {
      assert.ok(gap.to >= gap.from);
      assert.deepEqual([...gap.subscriptions].sort(), [`smd+${live.conid}`, 'sor', 'spl'].sort(), 'each gap names the subscriptions that missed data');
    }
    assert.equal(figures.openSocketsAtSimulator, 1, 'no socket leaked across 100 reconnects');
  });
});

describe('fault: IBKR session expiry and nightly reset mid-session', function () {
  this.timeout(30_000);
  let rig: IbkrRig | undefined;
  afterEach(async () => rig?.close());

  for (const fault of ['expireSession', 'nightlyReset'] as const) {
    it(`recovers from ${fault} while streaming and polling, without a redeploy, and shows the states`, async () => {
      rig = await startIbkrRig({ connection: { tickleIntervalMs: 250 } });
      const live = rig;
      const counter = subscribeAll(live);
      const streamStates: StreamState[] = [];
      live.stream.on('state', (s) => streamStates.push(s));
      await until(() => live.stream.state === 'open' && counter.marketData() > 0 && live.connection.state === 'authenticated', testTimeLeft(), 'streaming');

      // Polling: a snapshot every 100 ms, as ibkr-quote's snapshot mode would.
      let polling = true;
      let polled = 0;
      let pollErrors = 0;
      const poller = (async () => {
        while (polling) {
          await live.connection.client.snapshot([live.conid], ['last']).then(() => polled++, () => pollErrors++);
          await sleep(100);
        }
      })();

      const statesBefore = live.states.length;
      const faultAt = Date.now();
      live.sim.control[fault]();
      await until(() => live.states.slice(statesBefore).some((e) => e.state === 'expired' || e.state === 'reconnecting'), testTimeLeft(), 'the loss is reported');
      await until(() => live.connection.state === 'authenticated', testTimeLeft(), 'authenticated again');
      const sessionBackMs = Date.now() - faultAt;
      const quotes = counter.marketData();
      await until(() => live.stream.state === 'open' && counter.marketData() > quotes + 1, testTimeLeft(), 'quotes again');
      const streamBackMs = Date.now() - faultAt;
      const polledAtRecovery = polled;
      await until(() => polled > polledAtRecovery, testTimeLeft(), 'polling answers again');
      polling = false;
      await poller;

      const trail = live.states.slice(statesBefore).map((e) => e.state);
      reportFigures(`ibkr-${fault}`, { sessionBackMs, streamBackMs, pollErrorsDuringOutage: pollErrors, sessionStates: trail, streamStates });
      assert.ok(trail.includes('expired') || trail.includes('reconnecting'), `the loss is visible as a state (${trail.join(' → ')})`);
      assert.equal(trail[trail.length - 1], 'authenticated');
      assert.ok(streamStates.includes('reconnecting') && streamStates[streamStates.length - 1] === 'open', `the stream says it dropped and came back (${streamStates.join(' → ')})`);
      const reasons = live.states.slice(statesBefore).map((e) => e.reason).join(' | ');
      assert.doesNotMatch(reasons, new RegExp(live.sim.control.sessionId), 'no session id in any reason');
    });
  }
});

describe('fault: heartbeat loss on the IBKR stream', function () {
  this.timeout(30_000);
  let rig: IbkrRig | undefined;
  afterEach(async () => rig?.close());

  it('declares the link dead within 2 heartbeat intervals when the server goes silent, and reconnects', async () => {
    const proxy = new FreezableProxy();
    rig = await startIbkrRig({ proxy });
    const live = rig;
    const counter = subscribeAll(live);
    await until(() => live.stream.state === 'open' && counter.marketData() > 0, testTimeLeft(), 'streaming');
    let lastFrameAt = Date.now();
    live.stream.subscribeMarketData(live.conid, FIELDS, () => (lastFrameAt = Date.now()));
    const ratios: number[] = [];
    const sinceLastFrame: number[] = [];
    for (let i = 0; i < 6; i++) {
      await until(() => live.stream.state === 'open', testTimeLeft(), 'open');
      await sleep(HEARTBEAT_MS * (0.5 + (i % 4) / 4)); // a different heartbeat phase each time
      const before = live.stream.state;
      assert.equal(before, 'open');
      const frozenAt = Date.now();
      proxy.frozen = true; // the socket stays up; nothing more arrives
      await until(() => live.stream.state !== 'open', 5 * HEARTBEAT_MS, 'loss detected');
      const detectedAt = Date.now();
      ratios.push((detectedAt - frozenAt) / HEARTBEAT_MS);
      sinceLastFrame.push((detectedAt - Math.min(lastFrameAt, frozenAt)) / HEARTBEAT_MS);
      proxy.frozen = false;
    }
    await until(() => live.stream.state === 'open', testTimeLeft(), 'reconnected after the last loss');
    reportFigures('ibkr-heartbeat-loss', {
      heartbeatMs: HEARTBEAT_MS,
      detectionIntervals: { min: Math.min(...ratios), max: Math.max(...ratios) },
      sinceLastFrameIntervals: { max: Math.max(...sinceLastFrame) },
    });
    assert.ok(Math.max(...ratios) <= 2.25, `detected within 2 intervals (+ timer slack): ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  });

  it('with the shipped default (20 s for IBKR\'s 10 s heartbeat) a dead link is detected within 2 intervals', async () => {
    const defaultRatio = DEFAULT_STREAM_TIMING.heartbeatTimeoutMs / 10_000; // IBKR: server hb about every 10 s
    const proxy = new FreezableProxy();
    rig = await startIbkrRig({ proxy, timing: { heartbeatTimeoutMs: defaultRatio * HEARTBEAT_MS } });
    const live = rig;
    const counter = subscribeAll(live);
    const ratios: number[] = [];
    for (let i = 0; i < 4; i++) {
      await until(() => live.stream.state === 'open' && counter.marketData() > 0, testTimeLeft(), 'streaming');
      await sleep(HEARTBEAT_MS * (0.5 + i / 4));
      const frozenAt = Date.now();
      proxy.frozen = true;
      await until(() => live.stream.state !== 'open', 5 * HEARTBEAT_MS, 'loss detected');
      ratios.push((Date.now() - frozenAt) / HEARTBEAT_MS);
      proxy.frozen = false;
    }
    reportFigures('ibkr-heartbeat-loss-default-timing', { timeoutIntervals: defaultRatio, detectionIntervals: { min: Math.min(...ratios), max: Math.max(...ratios) } });
    assert.equal(defaultRatio, 2);
    assert.ok(Math.max(...ratios) <= 2.25, `detected within 2 intervals (+ timer slack): ${ratios.map((r) => r.toFixed(2)).join(', ')}`);
  });
});
