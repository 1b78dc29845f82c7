// Faults on the IBKR link, against the IBKR simulator over real HTTPS and WebSocket: the WebSocket killed 100 times
// mid-stream, the session expiring and the nightly reset mid-session, and heartbeat loss. IBKR's time constants are
// shortened (support.ts); heartbeat loss runs the stream's timers in virtual time. The figures printed are what the
// README's "Reliability" section quotes.
import { strict as assert } from 'assert';
import { DEFAULT_STREAM_TIMING, type StreamGap, type StreamState } from '../../lib/ibkr/stream';
import { FreezableProxy, HEARTBEAT_MS, STREAM_BACKOFF, STREAM_TIMING, percentile, reportFigures, sleep, startIbkrRig, until, type IbkrRig } from './support';
import { FakeScheduler, flush } from '../unit/ibkr/loopback';
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
  // The simulator and the sockets run in real time; the stream's timers (watchdog, tic, reconnect backoff) and clock
  // run on a virtual scheduler that moves only when the test says so. While the test waits for real frames virtual time
  // stands still, so a slow machine cannot make a silence look longer (or shorter) than it was.
  this.timeout(30_000);
  let rig: IbkrRig | undefined;
  afterEach(async () => rig?.close());

  /** Lets bytes the proxy wrote before it froze reach the stream (they can only re-arm the watchdog at the same virtual instant). */
  async function drain(): Promise<void> {
    await sleep(50);
    await flush();
  }

  /** Freezes the link right after a frame, then moves virtual time: still open 1 ms before `timeoutMs`, dead at it. */
  async function silenceUntilDead(live: IbkrRig, clock: FakeScheduler, proxy: FreezableProxy, counter: { marketData: () => number }, timeoutMs: number): Promise<string> {
    const seen = counter.marketData();
    await until(() => counter.marketData() > seen, testTimeLeft(), 'a frame before the silence');
    proxy.frozen = true; // the socket stays up; nothing more arrives
    await drain();
    const silentFrom = clock.now;
    const reasons: string[] = [];
    let deadAt: number | null = null;
    const onState = (state: StreamState, reason: string): void => {
      reasons.push(`${state}: ${reason}`);
      if (state === 'open' || deadAt !== null) return;
      deadAt = clock.now;
      // Unfrozen at once: the reconnect (its backoff may be 0 ms) must reach a server that answers again.
      proxy.frozen = false;
    };
    live.stream.on('state', onState);
    const after = (): string => (deadAt === null ? 'not declared dead' : `declared dead after ${deadAt - silentFrom} ms`);
    try {
      await clock.advance(timeoutMs - 1);
      assert.equal(deadAt, null, `${after()} of silence, before the ${timeoutMs} ms bound (${reasons.join(' | ')})`);
      await clock.advance(1);
      assert.equal(deadAt === null ? null : deadAt - silentFrom, timeoutMs, `${after()} of silence: the bound is ${timeoutMs} ms (${reasons.join(' | ')})`);
    } finally {
      live.stream.off('state', onState);
      proxy.frozen = false;
    }
    return reasons.join(' | ');
  }

  /** Lets the reconnect backoff elapse in virtual time and waits (real time) for quotes on the new socket. */
  async function reconnect(live: IbkrRig, clock: FakeScheduler, counter: { marketData: () => number }): Promise<void> {
    const trail: string[] = [];
    const onState = (s: StreamState, reason: string): number => trail.push(`${clock.now} ${s}: ${reason}`);
    live.stream.on('state', onState);
    await clock.advance(STREAM_BACKOFF.maxMs);
    const seen = counter.marketData();
    await until(() => live.stream.state === 'open' && counter.marketData() > seen, testTimeLeft(), 'quotes again after the reconnect').catch((err: Error) => {
      throw new Error(`${err.message}; stream ${live.stream.state}, timers due in ${clock.delays().join(', ')} ms; ${trail.join(' → ')}`);
    }).finally(() => live.stream.off('state', onState));
  }

  it('declares the link dead after 2 heartbeat intervals of silence, not before, and reconnects (virtual time)', async () => {
    const proxy = new FreezableProxy();
    const clock = new FakeScheduler();
    rig = await startIbkrRig({ proxy, streamClock: { scheduler: clock, now: () => clock.now } });
    const live = rig;
    const counter = subscribeAll(live);
    const gaps: StreamGap[] = [];
    live.stream.on('gap', (g) => gaps.push(g));
    const timeoutMs = STREAM_TIMING.heartbeatTimeoutMs!;
    assert.equal(timeoutMs, 2 * HEARTBEAT_MS);
    await until(() => live.stream.state === 'open' && counter.marketData() > 0, testTimeLeft(), 'streaming');

    for (let i = 0; i < 6; i++) {
      // While frames arrive the link stays up, however much virtual time passes: 3 + i steps of 3/4 of an interval,
      // each after a real frame, so well past the timeout in total.
      for (let step = 0; step < 3 + i; step++) {
        const seen = counter.marketData();
        await until(() => counter.marketData() > seen, testTimeLeft(), 'a frame');
        await clock.advance(0.75 * HEARTBEAT_MS);
        assert.equal(live.stream.state, 'open', `frames keep the link open (loss ${i + 1}, step ${step + 1})`);
      }
      const reasons = await silenceUntilDead(live, clock, proxy, counter, timeoutMs);
      assert.match(reasons, /no heartbeat from IBKR/);
      await reconnect(live, clock, counter);
    }
    reportFigures('ibkr-heartbeat-loss', { heartbeatMs: HEARTBEAT_MS, losses: 6, detectedAfterSilenceMs: timeoutMs, gaps: gaps.length });
    assert.equal(gaps.length, 6, 'one gap per loss');
    for (const gap of gaps) {
      assert.match(gap.reason, /no heartbeat/);
      assert.ok(gap.to >= gap.from && gap.to - gap.from <= STREAM_BACKOFF.maxMs, `the gap is the reconnect backoff, in virtual time: ${JSON.stringify(gap)}`);
    }
  });

  it('with the shipped default (20 s for IBKR\'s 10 s heartbeat) a dead link is declared after 2 intervals, not before', async () => {
    const ibkrHeartbeatMs = 10_000; // IBKR: server hb about every 10 s
    assert.equal(DEFAULT_STREAM_TIMING.heartbeatTimeoutMs, 2 * ibkrHeartbeatMs);
    const proxy = new FreezableProxy();
    const clock = new FakeScheduler();
    rig = await startIbkrRig({ proxy, timing: { heartbeatTimeoutMs: DEFAULT_STREAM_TIMING.heartbeatTimeoutMs }, streamClock: { scheduler: clock, now: () => clock.now } });
    const live = rig;
    const counter = subscribeAll(live);
    await until(() => live.stream.state === 'open' && counter.marketData() > 0, testTimeLeft(), 'streaming');
    for (let i = 0; i < 2; i++) {
      const reasons = await silenceUntilDead(live, clock, proxy, counter, DEFAULT_STREAM_TIMING.heartbeatTimeoutMs);
      assert.match(reasons, /no heartbeat from IBKR for 20 s/);
      await reconnect(live, clock, counter);
    }
    reportFigures('ibkr-heartbeat-loss-default-timing', { timeoutIntervals: DEFAULT_STREAM_TIMING.heartbeatTimeoutMs / ibkrHeartbeatMs, detectedAfterSilenceMs: DEFAULT_STREAM_TIMING.heartbeatTimeoutMs });
  });
});
