import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { IbkrConnection, type IbkrConnectionOptions } from '../../../lib/ibkr';
import { ClusterUnavailableError, clusterId, resolveClusterId } from '../../../lib/ibkr/cluster';
import { IbkrLimiter, type PauseEvent } from '../../../lib/ibkr/limiter';
import { startIbkrSimulator, type IbkrSimulator } from '../../../lib/sim/ibkr';
import type { RateLimitOptions } from '../../../lib/sim/ibkr/rate-limiter';
import { REDIS_SERVER, redisServerAvailable, startTestRedis, type TestRedis } from '../../support/redis';

const AUTH_STATUS = { method: 'GET', path: '/iserver/auth/status' } as const;

describe('IBKR limiter clustered over Redis', function () {
  this.timeout(20_000);
  let redis: TestRedis | undefined;
  let sim: IbkrSimulator | undefined;
  let connections: IbkrConnection[] = [];

  before(async function () {
    if (!redisServerAvailable()) {
      // CI installs redis-server; a developer without it still runs every other test.
      console.warn(`      skipped: ${REDIS_SERVER} is missing (apt-get install redis-server to run the clustering tests)`);
      this.skip();
    }
    redis = await startTestRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await Promise.all(connections.map((c) => c.close()));
    await sim?.close();
    connections = [];
    sim = undefined;
  });

  async function simulator(rateLimits: RateLimitOptions = {}): Promise<IbkrSimulator> {
    sim = await startIbkrSimulator({ seed: 7, tls: false, penaltyBoxMs: 100, rateLimits });
    return sim;
  }

  /** Two instances of the same IBKR username, both pointed at `target`; clustered unless `clustered` is false. */
  function twoInstances(target: IbkrSimulator, clustered: boolean, extra: Partial<IbkrConnectionOptions> = {}): IbkrConnection[] {
    const id = `test-${randomUUID()}`;
    connections = [0, 1].map(
      () =>
        new IbkrConnection({
          mode: 'simulator',
          baseUrl: target.baseUrl,
          ...(clustered && redis ? { cluster: { redis: { host: redis.host, port: redis.port }, id } } : {}),
          ...extra,
        }),
    );
    return connections;
  }

  async function redisClientNames(): Promise<string[]> {
    const admin = new Redis({ host: redis?.host, port: redis?.port, lazyConnect: true });
    try {
      await admin.connect();
      const list = (await admin.call('CLIENT', 'LIST')) as string;
      return list
        .split('\n')
        .map((line) => /name=(\S*)/.exec(line)?.[1] ?? '')
        .filter(Boolean);
    } finally {
      admin.disconnect();
    }
  }

  it('derives one shared id per IBKR username, without writing the username to Redis', () => {
    assert.equal(clusterId('TraderJoe'), clusterId(' traderjoe '));
    assert.notEqual(clusterId('traderjoe'), clusterId('traderjane'));
    assert.ok(!clusterId('traderjoe').includes('traderjoe'));
    assert.equal(resolveClusterId({ redis: { host: '127.0.0.1', port: 1 }, username: 'traderjoe' }), clusterId('traderjoe'));
    assert.equal(resolveClusterId({ redis: { host: '127.0.0.1', port: 1 }, id: 'desk-a', username: 'traderjoe' }), 'desk-a');
    assert.throws(() => resolveClusterId({ redis: { host: '127.0.0.1', port: 1 } }), /username/);
  });

  it('shares the limits of one account across instances when no cluster id is given, and never across two accounts', async () => {
    const target = await simulator();
    const redisAt = { host: redis!.host, port: redis!.port };
    const instance = (accountId: string, cluster: IbkrConnectionOptions['cluster']): IbkrConnection => {
      const connection = new IbkrConnection({ mode: 'simulator', baseUrl: target.baseUrl, accountId, cluster });
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
    assert.throws(() => new IbkrConnection({ mode: 'simulator', baseUrl: target.baseUrl, cluster: { redis: redisAt } }), /username/);
  });

  it('keeps two instances of one username under 10 req/s together: a burst at 10x the rate earns no 429', async () => {
    const target = await simulator();
    const [a, b] = twoInstances(target, true);
    await Promise.all([a.limiter.ready(), b.limiter.ready()]);
    const burst = (c: IbkrConnection): Array<Promise<unknown>> => Array.from({ length: 20 }, () => c.transport.request(AUTH_STATUS));
    const results = await Promise.allSettled([...burst(a), ...burst(b)]);

    const stats = target.control.stats();
    assert.equal(results.filter((r) => r.status === 'rejected').length, 0);
    assert.equal(stats.rejected429, 0);
    assert.equal(stats.total, 40);
    assert.ok(stats.maxRatePerSec <= 10, `the simulator saw ${stats.maxRatePerSec} requests in one second`);
    assert.equal(a.counts().sent + b.counts().sent, 40);
  });

  it('without clustering, the same two instances do exceed the limit (the control run)', async () => {
    const target = await simulator();
    const [a, b] = twoInstances(target, false);
    const burst = (c: IbkrConnection): Array<Promise<unknown>> => Array.from({ length: 10 }, () => c.transport.request(AUTH_STATUS));
    const pending = Promise.allSettled([...burst(a), ...burst(b)]);
    // Each instance alone keeps to 9.5 req/s; together they send about 19 in the first second.
    while (target.control.stats().total < 20) await new Promise((resolve) => setTimeout(resolve, 50));
    const stats = target.control.stats();
    await Promise.all(connections.map((c) => c.close()));
    await pending;

    assert.ok(stats.maxRatePerSec > 10, `the simulator saw only ${stats.maxRatePerSec} requests in one second`);
    assert.ok(stats.rejected429 > 0);
  });

  it('shares a "1 per interval" endpoint family: one username never sends two live-order requests in one interval', async () => {
    const target = await simulator({ endpoints: { liveOrders: { max: 1, perMs: 400 } } });
    const [a, b] = twoInstances(target, true, { familyLimits: { 'live-orders': { kind: 'interval', intervalMs: 400 } } });
    await Promise.all([a.limiter.ready(), b.limiter.ready()]);
    const orders = { method: 'GET', path: '/iserver/account/orders' } as const;
    const burst = (c: IbkrConnection): Array<Promise<unknown>> => Array.from({ length: 3 }, () => c.transport.request(orders));
    await Promise.allSettled([...burst(a), ...burst(b)]);

    const stats = target.control.stats();
    assert.equal(stats.requests['/iserver/account/orders'], 6);
    assert.equal(stats.rejected429, 0);
  });

  it('pauses every instance of the username when one of them gets a 429', async () => {
    const target = await simulator();
    const [a, b] = twoInstances(target, true);
    await Promise.all([a.limiter.ready(), b.limiter.ready()]);
    const bPaused = new Promise<PauseEvent>((resolve) => b.limiter.once('paused', resolve));
    target.control.inject429(1);
    const first = a.transport.request(AUTH_STATUS);

    const event = await bPaused;
    assert.match(event.reason, /another instance sharing this IBKR username/);
    assert.equal(b.limiter.isPaused, true);
    assert.equal(b.counts().rateLimited, 0, 'the 429 is counted once, by the instance that got it');
    await first; // a retries after its pause and succeeds
    assert.equal(target.control.stats().rejected429, 1);
  });

  it('closes every Redis connection and drops waiting requests on close()', async () => {
    const target = await simulator();
    const [a, b] = twoInstances(target, true);
    await Promise.all([a.limiter.ready(), b.limiter.ready()]);
    assert.equal((await redisClientNames()).filter((n) => n === 'mia-ibkr-limiter').length, 4, 'one command and one subscriber socket each');
    const waiting = Promise.allSettled(Array.from({ length: 10 }, () => a.transport.request(AUTH_STATUS)));
    await Promise.all(connections.map((c) => c.close()));
    const results = await waiting;

    assert.ok(results.some((r) => r.status === 'rejected' && /connection is closing/.test(String(r.reason))));
    assert.deepEqual((await redisClientNames()).filter((n) => n === 'mia-ibkr-limiter'), []);
  });

  it('tells the trader when Redis cannot be reached instead of hanging', async function () {
    this.timeout(15_000);
    const limiter = new IbkrLimiter({ cluster: { redis: { host: '127.0.0.1', port: 1 }, id: 'nowhere' } });
    limiter.on('log', () => undefined);
    let guard: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        limiter.schedule('GET', '/iserver/auth/status', () => Promise.resolve('sent')).catch((err: unknown) => err),
        new Promise((resolve) => (guard = setTimeout(() => resolve('still waiting'), 12_000))),
      ]);
      assert.ok(result instanceof ClusterUnavailableError, `got ${String(result)}`);
      assert.match(result.message, /Redis at 127\.0\.0\.1:1 did not answer/);
      assert.match(result.message, /turn clustering off/);
    } finally {
      clearTimeout(guard);
      await limiter.stop();
    }
  });
});
