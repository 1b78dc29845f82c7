// 429s on the IBKR link, against the IBKR simulator's documented limits (10 req/s global, snapshot 10/s): our own
// burst never earns one (in virtual time, so a busy machine cannot change the verdict), and one the server injects
// pauses the whole connection once, is reported once, and ends without a storm.
import { strict as assert } from 'assert';
import { LimiterRig } from '../unit/ibkr/limiter-rig';
import { reportFigures, sleep, startIbkrRig, until, type IbkrRig } from './support';
import { testTimeLeft } from '../support/budget';

describe('fault: IBKR 429', function () {
  this.timeout(30_000);
  let rig: IbkrRig | undefined;
  afterEach(async () => rig?.close());

  it('never earns a 429 from its own traffic at 10× the allowed rate, through network jitter and event-loop stalls (virtual time)', async () => {
    // The limiter on a virtual clock against the simulator's own rate rules (test/unit/ibkr/limiter-rig.ts): 50
    // snapshots asked in 0.5 s, up to 200 ms of network delay (the limiter counts each request until its answer, so no
    // margin is assumed; 5 × the 40 ms its predecessor kept), the loop blocked twice.
    const virtual = new LimiterRig({ jitterMs: 200, seed: 99 });
    try {
      const limiter = virtual.limiter();
      const asked: Promise<unknown>[] = [];
      for (let burst = 0; burst < 5; burst++) {
        for (let i = 0; i < 10; i++) asked.push(virtual.request(limiter, 'GET', '/iserver/marketdata/snapshot', 'quote'));
        await virtual.sched.advance(100);
      }
      for (const at of [1_300, 3_100]) {
        await virtual.sched.advance(at - virtual.sched.now);
        virtual.sched.stall(450);
      }
      await virtual.sched.advance(10_000);
      await Promise.all(asked);
      const stats = virtual.ibkr.snapshot();
      const figures = { asked: asked.length, requestsAtServer: stats.total, rejected429: stats.rejected429, maxRatePerSecAtServer: stats.maxRatePerSec };
      reportFigures('ibkr-burst-10x', figures);
      assert.equal(figures.requestsAtServer, 50);
      assert.equal(figures.rejected429, 0, 'IBKR never had to say 429');
      assert.ok(figures.maxRatePerSecAtServer <= 10, `at most 10 requests in any second at the server (${figures.maxRatePerSecAtServer})`);
    } finally {
      await virtual.stop();
    }
  });

  it('pauses the connection on an injected 429, reports it once, and resumes without a storm', async () => {
    rig = await startIbkrRig();
    const live = rig;
    await until(() => live.connection.state === 'authenticated', testTimeLeft(), 'authenticated');
    const rateLimited: { pauseMs: number }[] = [];
    live.connection.on('rate-limited', (e: { pauseMs: number }) => rateLimited.push(e));
    let atPause = -1;
    let atResume = -1;
    let pausedAt = 0;
    let resumedAt = 0;
    live.connection.limiter.on('paused', () => {
      atPause = live.sim.control.stats().total;
      pausedAt = Date.now();
    });
    live.connection.limiter.on('resumed', () => {
      atResume = live.sim.control.stats().total;
      resumedAt = Date.now();
    });
    const statesBefore = live.states.length;
    const before = live.sim.control.stats();

    live.sim.control.inject429(1);
    // Demand keeps coming during the pause (2 s with no Retry-After): a snapshot every 80 ms for 2.4 s.
    const asked: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      asked.push(live.connection.client.snapshot([live.conid], ['last']));
      await sleep(80);
    }
    const results = await Promise.allSettled(asked);
    await until(() => atResume >= 0, testTimeLeft(), 'resumed');
    await until(() => live.connection.state === 'authenticated', testTimeLeft(), 'authenticated again');
    const after = live.sim.control.stats();
    const trail = live.states.slice(statesBefore).map((e) => e.state);
    const figures = {
      pauseMs: rateLimited[0]?.pauseMs,
      measuredPauseMs: resumedAt - pausedAt,
      reported: rateLimited.length,
      requestsDuringPenalty: atResume - atPause,
      rejected429: after.rejected429 - before.rejected429,
      answered: results.filter((r) => r.status === 'fulfilled').length,
      asked: asked.length,
      sessionStates: trail,
    };
    reportFigures('ibkr-injected-429', figures);
    assert.equal(figures.reported, 1, 'one 429, one report');
    assert.equal(figures.rejected429, 1, 'no second 429: nothing stormed the server after the pause');
    assert.ok(figures.requestsDuringPenalty <= 1, `nothing (or only what was already on the wire) reached IBKR during the pause: ${figures.requestsDuringPenalty}`);
    assert.equal(figures.answered, figures.asked, 'every request asked during the pause was answered after it');
    assert.deepEqual(trail.slice(0, 1), ['rate-limited']);
    assert.equal(trail[trail.length - 1], 'authenticated');
  });
});
