import assert from 'node:assert/strict';
import Bottleneck from 'bottleneck';
import { GatewayAuth } from '../../../lib/ibkr/auth/gateway';
import { CHECK_PHASE_YIELD, IbkrLimiter, endpointFamily, requestPriority, withoutTimerHops, type PauseEvent } from '../../../lib/ibkr/limiter';
import { RateLimitedError } from '../../../lib/ibkr/errors';
import { Transport } from '../../../lib/ibkr/transport';
import { startLoopback, type Loopback } from './loopback';

describe('IBKR limiter tree', () => {
  let server: Loopback | undefined;
  let limiter: IbkrLimiter | undefined;
  let transport: Transport | undefined;
  afterEach(async () => {
    transport?.close();
    await limiter?.stop();
    await server?.close();
    server = limiter = transport = undefined;
  });

  it('maps request paths to their endpoint families', () => {
    assert.equal(endpointFamily('GET', '/iserver/marketdata/snapshot?conids=1'), 'snapshot');
    assert.equal(endpointFamily('GET', 'https://localhost:5000/v1/api/iserver/marketdata/history'), 'history');
    assert.equal(endpointFamily('GET', '/iserver/account/orders'), 'live-orders');
    assert.equal(endpointFamily('POST', '/iserver/account/U1/orders'), 'other');
    assert.equal(endpointFamily('GET', '/iserver/account/pnl/partitioned'), 'pnl');
    assert.equal(endpointFamily('GET', '/portfolio/accounts'), 'portfolio-accounts');
    assert.equal(endpointFamily('POST', '/tickle'), 'tickle');
    assert.equal(endpointFamily('GET', '/fyi/unreadnumber'), 'fyi');
    assert.equal(endpointFamily('GET', '/sso/validate'), 'sso-validate');
  });

  it('runs every local limiter of the tree on check-phase yields, not 1-ms timers', async () => {
    limiter = new IbkrLimiter();
    for (const path of ['/iserver/secdef/search', '/iserver/marketdata/snapshot', '/iserver/marketdata/history', '/iserver/account/orders']) {
      assert.equal(await limiter.schedule('GET', path, () => Promise.resolve('answered')), 'answered');
    }
    const tree = limiter as unknown as { global: Bottleneck; families: Map<string, Bottleneck> };
    const limiters = [tree.global, ...tree.families.values()];
    assert.equal(limiters.length, 4, 'the global limiter and the snapshot, history and live-orders families');
    for (const l of limiters) assert.equal((l as unknown as { _store: { yieldLoop: unknown } })._store.yieldLoop, CHECK_PHASE_YIELD);
  });

  it('sends a request the tree has room for without waiting on any timer, through every limiter it passes', async () => {
    const realSetTimeout = globalThis.setTimeout;
    for (const path of ['/iserver/secdef/search', '/iserver/marketdata/snapshot', '/iserver/marketdata/history', '/iserver/account/orders']) {
      await limiter?.stop();
      limiter = new IbkrLimiter(); // idle: the global spacing reserves no wait for its first request
      const timers: number[] = [];
      let timersBeforeSend = -1;
      globalThis.setTimeout = ((fn: () => void, ms?: number) => {
        timers.push(ms ?? 0);
        return realSetTimeout(fn, ms);
      }) as typeof setTimeout;
      try {
        await limiter.schedule('GET', path, () => {
          timersBeforeSend = timers.length;
          return Promise.resolve('answered');
        });
      } finally {
        globalThis.setTimeout = realSetTimeout;
      }
      assert.equal(timersBeforeSend, 0, `${path}: a start timer (Node clamps 0 ms to 1 ms) was set before the request left`);
    }
  });

  it('refuses to start on a Bottleneck whose internals are not the ones it patches', () => {
    const changedInternals = { _store: {} } as unknown as Bottleneck;
    assert.throws(() => withoutTimerHops(changedInternals), (err: unknown) => {
      assert.ok(err instanceof Error && 'code' in err && err.code === 'IBKR_LIMITER_INCOMPATIBLE');
      assert.match(err.message, /Reinstall bottleneck 2\.19/);
      return true;
    });
  });

  it('sends a burst of 10x the allowed rate without a single 429 from a 10 req/s sliding window', async function () {
    this.timeout(10_000);
    const arrivals: number[] = [];
    let rejected = 0;
    server = await startLoopback(() => {
      const now = performance.now();
      const inWindow = arrivals.filter((t) => now - t < 1000).length;
      arrivals.push(now);
      if (inWindow >= 10) {
        rejected += 1;
        return { status: 429 };
      }
      return { body: { ok: true } };
    });
    limiter = new IbkrLimiter({ preset: 'ibkr-10rps' });
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    const burst = Array.from({ length: 28 }, (_, i) => transport!.request({ method: 'GET', path: `/iserver/contract/${i}/info` }));
    await Promise.all(burst);
    assert.equal(rejected, 0);
    assert.equal(limiter.getCounts().rateLimited, 0);
    assert.equal(limiter.getCounts().sent, 28);
  });

  it('spaces a "1 per interval" family by the time its requests were actually sent', async () => {
    const sentAt: number[] = [];
    server = await startLoopback(() => {
      sentAt.push(performance.now());
      return { body: { orders: [] } };
    });
    limiter = new IbkrLimiter({ familyLimits: { 'live-orders': { kind: 'interval', intervalMs: 300 } } });
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    const first = transport.request({ method: 'GET', path: '/iserver/account/orders' });
    limiter.pause(400, 'test'); // the first request waits in the paused global limiter
    await Promise.all([first, transport.request({ method: 'GET', path: '/iserver/account/orders' }), transport.request({ method: 'GET', path: '/iserver/account/orders' })]);
    assert.equal(sentAt.length, 3);
    for (let i = 1; i < sentAt.length; i += 1) {
      assert.ok(sentAt[i]! - sentAt[i - 1]! >= 290, `gap ${sentAt[i]! - sentAt[i - 1]!} ms`);
    }
  });

  it('paces queued snapshots at the global rate, never more than 10 in a second, without a second jitter margin', async () => {
    const sentAt: number[] = [];
    limiter = new IbkrLimiter();
    await Promise.all(
      Array.from({ length: 13 }, () =>
        limiter!.schedule('GET', '/iserver/marketdata/snapshot', () => Promise.resolve(sentAt.push(performance.now()))),
      ),
    );
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    for (let i = 10; i < sentAt.length; i += 1) {
      assert.ok(sentAt[i]! - sentAt[i - 10]! >= 1000, `11 snapshots within ${(sentAt[i]! - sentAt[i - 10]!).toFixed(0)} ms`);
    }
    // IBKR's snapshot limit is a rate (10/s), counted with its margin by the departure window: a hold of
    // 100 ms + 50 ms on top would leave them 150 ms apart (6.7/s).
    const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
    assert.ok(median < 140, `snapshots ${median.toFixed(0)} ms apart (median)`);
  });

  it('sends a queued order ahead of an options-chain refresh, and chain requests after everything else', async () => {
    assert.equal(requestPriority('POST', '/iserver/account/U1/orders'), 0);
    assert.equal(requestPriority('DELETE', '/v1/api/iserver/account/U1/order/42'), 0);
    assert.equal(requestPriority('POST', '/iserver/reply/abc'), 0);
    assert.equal(requestPriority('GET', '/iserver/account/orders'), 5, 'reading live orders is not an order');
    assert.equal(requestPriority('GET', '/iserver/marketdata/history?conid=1'), 5);
    assert.equal(requestPriority('GET', '/iserver/secdef/info?conid=416904'), 9);
    limiter = new IbkrLimiter();
    const sent: string[] = [];
    const send = (what: string) => () => {
      sent.push(what);
      return Promise.resolve(what);
    };
    // A chain refresh queues its contract details at once; a history request and then an order come after them.
    const chain = Array.from({ length: 12 }, (_, i) => limiter!.schedule('GET', `/iserver/secdef/info?conid=${i}`, send(`info${i}`)));
    const history = limiter.schedule('GET', '/iserver/marketdata/history?conid=1', send('history'));
    const order = limiter.schedule('POST', '/iserver/account/U1/orders', send('order'));
    await Promise.all([...chain, history, order]);
    // At most the requests already handed to the global limiter (its lookahead) leave before the order.
    assert.ok(sent.indexOf('order') <= 3, `the order left ${sent.indexOf('order') + 1}th: ${sent.join(' ')}`);
    assert.equal(sent.indexOf('history'), sent.indexOf('order') + 1, `the history request next: ${sent.join(' ')}`);
  });

  it('runs at most 4 history requests at once', async () => {
    let open = 0;
    let peak = 0;
    server = await startLoopback(() => {
      open += 1;
      peak = Math.max(peak, open);
      return new Promise((resolve) => setTimeout(() => {
        open -= 1;
        resolve({ body: { data: [] } });
      }, 700));
    });
    limiter = new IbkrLimiter();
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    await Promise.all(Array.from({ length: 8 }, () => transport!.request({ method: 'GET', path: '/iserver/marketdata/history', query: { conid: 1 } })));
    assert.equal(peak, 4);
  });

  it('pauses the connection on 429 and resumes after the penalty, without a storm', async () => {
    let penaltyUntil = 0;
    let during = 0;
    let served429 = 0;
    let first = true;
    server = await startLoopback(() => {
      const now = performance.now();
      if (first) {
        first = false;
        penaltyUntil = now + 300;
        served429 += 1;
        return { status: 429 };
      }
      if (now < penaltyUntil) {
        during += 1;
        served429 += 1;
        return { status: 429 };
      }
      return { body: { ok: true } };
    });
    limiter = new IbkrLimiter({ backoffInitialMs: 400 });
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    const pauses: PauseEvent[] = [];
    const rateEvents: unknown[] = [];
    limiter.on('paused', (e: PauseEvent) => pauses.push(e));
    transport.on('rate-limited', (e) => rateEvents.push(e));
    let resumed = 0;
    limiter.on('resumed', () => (resumed += 1));
    await Promise.all(Array.from({ length: 6 }, (_, i) => transport!.request({ method: 'GET', path: `/iserver/contract/${i}/info` })));
    assert.equal(pauses.length, 1, 'one pause for the whole connection');
    assert.equal(pauses[0]?.ms, 400);
    assert.ok(rateEvents.length >= 1);
    assert.equal(resumed, 1);
    assert.equal(served429, 1, 'no request is sent while the connection is paused');
    assert.equal(during, 0);
  });

  it('does not retry an order after a 429: the caller gets RateLimitedError with the pause', async () => {
    server = await startLoopback(() => ({ status: 429, headers: { 'retry-after': '1' } }));
    limiter = new IbkrLimiter();
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    await assert.rejects(transport.request({ method: 'POST', path: '/iserver/account/U1/orders', body: { orders: [] } }), (err: unknown) => {
      assert.ok(err instanceof RateLimitedError);
      assert.equal(err.retryAfterMs, 1000);
      return true;
    });
    assert.equal(server.requests.length, 1);
  });

  it('drops waiting requests on stop() with a clear error', async () => {
    server = await startLoopback(() => ({ body: {} }));
    limiter = new IbkrLimiter({ preset: 'conservative-50rpm' });
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    const a = transport.request({ method: 'GET', path: '/iserver/accounts' });
    const b = assert.rejects(transport.request({ method: 'GET', path: '/iserver/accounts' }), /connection is closing/);
    await a;
    await limiter.stop();
    await b;
    assert.equal(server.requests.length, 1);
  });

  it('waits on stop() for the answer to a request already sent, so an order in flight is not cut off', async () => {
    limiter = new IbkrLimiter();
    let answer: (() => void) | undefined;
    const order = limiter.schedule('POST', '/iserver/account/U1/orders', () => new Promise<string>((resolve) => {
      answer = () => resolve('order acknowledged');
    }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(answer, 'an idle tree sends at once');
    let stopped = false;
    const stopping = limiter.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(stopped, false, 'stop() returned while the order was still on the wire');
    answer();
    assert.equal(await order, 'order acknowledged');
    await stopping;
  });
});
