// The limiter clustered over a real redis-server: the windows and the pause are shared by every instance of one
// username. The rate tests run in virtual time: the instances share one virtual clock, which the Lua script is
// given instead of Redis's TIME, and the clock moves only once every Redis call in progress has answered.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { IbkrConnection, type IbkrConnectionOptions } from '../../../lib/ibkr';
import { ClusterUnavailableError, RedisDepartures, clusterId, resolveClusterId } from '../../../lib/ibkr/cluster';
import { LocalDepartures, departureRule, type DepartureRule, type Ticket, type Verdict } from '../../../lib/ibkr/departures';
import { IbkrLimiter, type LimiterOptions, type PauseEvent } from '../../../lib/ibkr/limiter';
import { rng } from '../../../lib/sim/prng';
import { useTestRedis } from '../../support/redis';
import { LimiterRig, peakInWindow, settle, type Sent } from './limiter-rig';

describe('IBKR limiter clustered over Redis', function () {
  this.timeout(60_000);
  const redis = useTestRedis('the clustering tests');
  let rig: LimiterRig | undefined;
  let connections: IbkrConnection[] = [];
  let pending = 0;
  const original = {
    tryDepart: RedisDepartures.prototype.tryDepart,
    pause: RedisDepartures.prototype.pause,
    answered: RedisDepartures.prototype.answered,
    renew: RedisDepartures.prototype.renew,
  };

  before(() => {
    // Counts the Redis calls in progress, so that virtual time stands still until they have answered.
    RedisDepartures.prototype.tryDepart = function (this: RedisDepartures, rules: readonly DepartureRule[]): Promise<Verdict> {
      pending += 1;
      return original.tryDepart.call(this, rules).finally(() => (pending -= 1));
    };
    RedisDepartures.prototype.pause = function (this: RedisDepartures, ms: number): Promise<void> {
      pending += 1;
      return original.pause.call(this, ms).finally(() => (pending -= 1));
    };
    RedisDepartures.prototype.answered = function (this: RedisDepartures, ticket: Ticket): Promise<void> {
      pending += 1;
      return original.answered.call(this, ticket).finally(() => (pending -= 1));
    };
    RedisDepartures.prototype.renew = function (this: RedisDepartures, ticket: Ticket): Promise<void> {
      pending += 1;
      return original.renew.call(this, ticket).finally(() => (pending -= 1));
    };
  });
  after(() => {
    Object.assign(RedisDepartures.prototype, original);
  });
  afterEach(async () => {
    await rig?.stop();
    await Promise.all(connections.map((c) => c.close()));
    connections = [];
    rig = undefined;
  });

  /** A rig whose instances share one Redis id and the rig's virtual clock. */
  function clusteredRig(seed: number): { rig: LimiterRig; instance: (extra?: LimiterOptions) => IbkrLimiter } {
    const r = new LimiterRig({ jitterMs: 30, seed });
    r.sched.settle = async () => {
      do await settle();
      while (pending > 0);
    };
    const id = `test-${randomUUID()}`;
    const instance = (extra: LimiterOptions = {}): IbkrLimiter =>
      r.limiter({ cluster: { redis: { host: redis.host, port: redis.port }, id }, clusterClock: () => r.sched.now, ...extra });
    rig = r;
    return { rig: r, instance };
  }

  it('derives one shared id per IBKR username, without writing the username to Redis', () => {
    assert.equal(clusterId('TraderJoe'), clusterId(' traderjoe '));
    assert.notEqual(clusterId('traderjoe'), clusterId('traderjane'));
    assert.ok(!clusterId('traderjoe').includes('traderjoe'));
    assert.equal(resolveClusterId({ redis: { host: '127.0.0.1', port: 1 }, username: 'traderjoe' }), clusterId('traderjoe'));
    assert.equal(resolveClusterId({ redis: { host: '127.0.0.1', port: 1 }, id: 'desk-a', username: 'traderjoe' }), 'desk-a');
    assert.throws(() => resolveClusterId({ redis: { host: '127.0.0.1', port: 1 } }), /username/);
  });

  it('shares the limits of one account across instances when no cluster id is given, and never across two accounts', () => {
    const redisAt = { host: redis.host, port: redis.port };
    const instance = (accountId: string, cluster: IbkrConnectionOptions['cluster']): IbkrConnection => {
      const connection = new IbkrConnection({ mode: 'simulator', baseUrl: 'http://127.0.0.1:1/v1/api', accountId, cluster });
      connections.push(connection);
      return connection;
    };
    const a = instance('U1234567', { redis: redisAt });
    const b = instance('u1234567 ', { redis: redisAt });
    const other = instance('U7654321', { redis: redisAt });
    const named = instance('U1234567', { redis: redisAt, username: 'traderjoe' });
    assert.equal(a.limiter.clusterId, clusterId('U1234567'));
    assert.equal(b.limiter.clusterId, a.limiter.clusterId);
    assert.notEqual(other.limiter.clusterId, a.limiter.clusterId);
    assert.equal(named.limiter.clusterId, clusterId('traderjoe'), 'an explicit username wins over the account id');
    assert.throws(() => new IbkrConnection({ mode: 'simulator', baseUrl: 'http://127.0.0.1:1/v1/api', cluster: { redis: redisAt } }), /username/);
  });

  it('the Lua script and the in-memory ledger give the same verdicts', async () => {
    const client = new Redis({ host: redis.host, port: redis.port });
    try {
      let now = 0;
      const shared = departureRule('g', { max: 10, perMs: 1_000 }, true);
      const family = departureRule('f', { max: 1, perMs: 300 }, false);
      const local = new LocalDepartures(() => now);
      const remote = new RedisDepartures(client, `test-${randomUUID()}`, () => now);
      const random = rng(11).next;
      // Requests on the wire in both ledgers; each is answered, renewed, or never answered (the arrival bound).
      const onTheWire: Array<[Ticket, Ticket]> = [];
      for (let step = 0; step < 400; step += 1) {
        now += Math.floor(random() * 60);
        const rules = random() < 0.3 ? [shared, family] : [shared];
        if (step === 150) {
          local.pause(500);
          await remote.pause(500);
        }
        if (step % 97 === 0) now += 6_000; // past the arrival bound of whatever was never answered
        const event = random();
        if (onTheWire.length > 0 && event < 0.5) {
          const [x, y] = onTheWire.splice(Math.floor(random() * onTheWire.length), 1)[0]!;
          if (event < 0.45) {
            local.answered(x);
            await remote.answered(y);
          } else {
            local.renew(x);
            await remote.renew(y);
            onTheWire.push([x, y]);
          }
        }
        const [a, b] = [local.tryDepart(rules), await remote.tryDepart(rules)];
        assert.equal(b.ok, a.ok, `step ${step} at ${now}`);
        if (a.ok && b.ok && random() < 0.9) onTheWire.push([a.ticket, b.ticket]);
        if (!a.ok && !b.ok) {
          assert.equal(b.blocker, a.blocker, `step ${step}`);
          assert.equal(b.recheckMs, a.recheckMs, `step ${step}`);
          assert.ok(Math.abs(b.waitMs - a.waitMs) < 1e-6, `step ${step}: ${b.waitMs} vs ${a.waitMs}`);
        }
      }
    } finally {
      client.disconnect();
    }
  });

  it('keeps 3 instances of one username within every documented rule under a burst at 10× the rate: 0 × 429', async () => {
    const { rig: r, instance } = clusteredRig(21);
    const instances = [instance(), instance(), instance()];
    await Promise.all(instances.map((l) => l.ready()));
    const paths: Array<[string, string]> = [
      ['GET', '/iserver/secdef/info'],
      ['GET', '/iserver/marketdata/snapshot'],
      ['GET', '/iserver/marketdata/snapshot'],
      ['GET', '/iserver/account/orders'], // 1 per 5 s across the username
    ];
    const asked: Promise<Sent>[] = [];
    // 100 req/s in all for 3 s: each instance asks every 30 ms, in turn.
    for (let i = 0; i < 300; i += 1) {
      asked.push(r.request(instances[i % 3]!, ...paths[i % paths.length]!, 'quote', `i${i % 3}`));
      await r.sched.advance(10);
    }
    let done = false;
    const all = Promise.all(asked).then(() => (done = true));
    while (!done) await r.sched.advance(1_000);
    await all;
    const stats = r.ibkr.snapshot();
    assert.equal(r.rejected, 0, 'IBKR never had to say 429');
    assert.ok(stats.maxRatePerSec <= 10, `${stats.maxRatePerSec} in one second at the simulator`);
    assert.equal(stats.total, 300);
    for (const name of ['i0', 'i1', 'i2']) assert.ok(r.sent.some((s) => s.name === name), `${name} sent nothing`);
    const liveOrders = r.sent.filter((s) => s.path === '/iserver/account/orders').map((s) => s.sentAt).sort((x, y) => x - y);
    assert.equal(liveOrders.length, 75);
    for (let i = 1; i < liveOrders.length; i += 1) assert.ok(liveOrders[i]! - liveOrders[i - 1]! >= 5_000, 'live orders: 1 per 5 s across the username');
    assert.ok(peakInWindow(r.sent.map((s) => s.sentAt), 1_000) <= 10);
    // Together they keep ≥ 95 % of the allowed rate while the other requests last (live orders go on, 1 per 5 s).
    const others = r.sent.filter((s) => s.path !== '/iserver/account/orders').map((s) => s.sentAt);
    const until = Math.max(...others);
    const sentMeanwhile = r.sent.filter((s) => s.sentAt <= until).length;
    const rate = (sentMeanwhile - 1) / ((until - Math.min(...others)) / 1000);
    assert.ok(rate >= 9.5, `${rate.toFixed(2)} req/s together`);
  });

  it('without clustering, the same 3 instances do exceed the limit (the control run)', async () => {
    const r = new LimiterRig({ jitterMs: 30, seed: 21 });
    rig = r;
    const instances = [r.limiter(), r.limiter(), r.limiter()];
    const asked = Array.from({ length: 60 }, (_, i) => r.request(instances[i % 3]!, 'GET', '/iserver/secdef/info', 'quote'));
    await r.sched.advance(30_000);
    await Promise.all(asked);
    assert.ok(r.rejected > 0);
  });

  it('pauses every instance of the username when one of them gets a 429', async () => {
    const { rig: r, instance } = clusteredRig(3);
    const [a, b] = [instance(), instance()];
    await Promise.all([a.ready(), b.ready()]);
    const bPaused = new Promise<PauseEvent>((resolve) => b.once('paused', resolve));
    a.penalize(2_000, '429 on /iserver/auth/status');
    await r.sched.advance(0);
    const asked = r.request(b, 'GET', '/iserver/accounts', 'account');
    await r.sched.advance(100);
    const event = await bPaused;
    assert.match(event.reason, /another instance sharing this IBKR username/);
    assert.equal(b.isPaused, true);
    assert.equal(b.getCounts().rateLimited, 0, 'the 429 is counted once, by the instance that got it');
    await r.sched.advance(2_000);
    assert.ok((await asked).sentAt >= 2_000, 'b sent nothing during the pause');
  });

  it('runs at most 4 history requests at once across instances (Bottleneck clustering)', async () => {
    const { rig: r, instance } = clusteredRig(8);
    const instances = [instance(), instance()];
    await Promise.all(instances.map((l) => l.ready()));
    let open = 0;
    let peak = 0;
    let started = 0;
    const answers: Array<() => void> = [];
    const history = (l: IbkrLimiter): Promise<void> =>
      l.schedule({ method: 'GET', path: '/iserver/marketdata/history', priority: 'history' }, () => {
        started += 1;
        open += 1;
        peak = Math.max(peak, open);
        return new Promise<void>((resolve) => answers.push(() => {
          open -= 1;
          resolve();
        }));
      });
    const all = Promise.all(Array.from({ length: 8 }, (_, i) => history(instances[i % 2]!)));
    // Bottleneck's slots are in Redis (real I/O); the gate's pace on the virtual clock. An answer comes only once 4
    // are open (or every request has started), so a fifth would show if a slot were not shared.
    for (let i = 0; i < 500 && (started < 8 || answers.length > 0); i += 1) {
      await r.sched.advance(200);
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (open === 4 || (started === 8 && open > 0)) answers.shift()?.();
    }
    await all;
    assert.equal(started, 8);
    assert.equal(peak, 4);
  });

  it('closes its Redis connections and drops waiting requests on stop()', async () => {
    const admin = new Redis({ host: redis.host, port: redis.port });
    const names = async (): Promise<string[]> =>
      ((await admin.call('CLIENT', 'LIST')) as string).split('\n').map((line) => /name=(\S*)/.exec(line)?.[1] ?? '').filter((n) => n === 'mia-ibkr-limiter');
    try {
      const { rig: r, instance } = clusteredRig(4);
      const a = instance();
      await a.ready();
      assert.equal((await names()).length, 1, 'one socket: Bottleneck opens its own only for the history family');
      const waiting = Promise.allSettled(Array.from({ length: 5 }, () => r.request(a, 'GET', '/iserver/accounts', 'account')));
      await r.sched.advance(0);
      await r.stop();
      const results = await waiting;
      assert.ok(results.some((x) => x.status === 'rejected' && /connection is closing/.test(String(x.reason))));
      assert.deepEqual(await names(), []);
    } finally {
      admin.disconnect();
    }
  });

  it('tells the trader when Redis cannot be reached instead of hanging', async function () {
    this.timeout(15_000);
    const limiter = new IbkrLimiter({ cluster: { redis: { host: '127.0.0.1', port: 1 }, id: 'nowhere' } });
    limiter.on('log', () => undefined);
    try {
      const result = await limiter.schedule({ method: 'GET', path: '/iserver/auth/status', priority: 'session' }, () => Promise.resolve('sent')).catch((err: unknown) => err);
      assert.ok(result instanceof ClusterUnavailableError, `got ${String(result)}`);
      assert.match(result.message, /Redis at 127\.0\.0\.1:1 did not answer/);
      assert.match(result.message, /turn clustering off/);
    } finally {
      await limiter.stop();
    }
  });
});
