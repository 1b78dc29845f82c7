// The limiter under event-loop stalls. Bottleneck reserves each request's start time in advance and fires it with a
// timer; a stall (the in-process simulator pricing option chains, any CPU-heavy node) fires every reserved timer that
// fell due at once, and IBKR, counting a sliding 1-s window as requests ARRIVE, answers 429 and a penalty box.
// These tests block the event loop with busy-waits while a burst is queued against the real IBKR simulator (IBKR's
// documented limits on), first without the departure guard (the bug, reproduced), then with it.
import assert from 'node:assert/strict';
import { GatewayAuth } from '../../../lib/ibkr/auth/gateway';
import { DEPARTURE_MARGIN_MS, DepartureWindow, IbkrLimiter } from '../../../lib/ibkr/limiter';
import { Transport } from '../../../lib/ibkr/transport';
import { startIbkrSimulator, type IbkrSimulator } from '../../../lib/sim/ibkr';
import { startLoopback, type Loopback } from './loopback';

const BURST = 30; // ≈ 3 s of requests at the limiter's 9.5 req/s
const STALLS_AT_MS = [350, 1250, 2150];
const STALL_MS = 400;

/** Blocks the event loop, as a CPU-bound callback does. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* spin */
  }
}

/** Arrival times (ms) → the most requests any sliding 1-s window (t − 1000, t] held. */
function peakPerSecond(arrivals: readonly number[]): number {
  let peak = 0;
  for (let i = 0, start = 0; i < arrivals.length; i += 1) {
    while ((arrivals[start] as number) <= (arrivals[i] as number) - 1000) start += 1;
    peak = Math.max(peak, i - start + 1);
  }
  return peak;
}

describe('IBKR limiter under event-loop stalls', function () {
  this.timeout(20_000);
  let sim: IbkrSimulator | undefined;
  let server: Loopback | undefined;
  let limiter: IbkrLimiter | undefined;
  let transport: Transport | undefined;
  const stallTimers = new Set<NodeJS.Timeout>();
  afterEach(async () => {
    for (const t of stallTimers) clearTimeout(t);
    stallTimers.clear();
    transport?.close();
    await limiter?.stop();
    await sim?.close();
    await server?.close();
    sim = server = limiter = transport = undefined;
  });

  /** A burst of reads against the simulator while the event loop stalls three times; the simulator's verdict. */
  async function burstThroughStalls(departureGuard: boolean): Promise<{ rejected429: number; peakPerSec: number; answered: number }> {
    sim = await startIbkrSimulator({ seed: 3, tls: false, penaltyBoxMs: 200 }); // IBKR's documented limits on
    sim.control.login();
    limiter = new IbkrLimiter({ preset: 'ibkr-10rps', backoffInitialMs: 200, departureGuard });
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: sim.baseUrl }), limiter });
    const before = sim.control.stats();
    const burst = Array.from({ length: BURST }, () =>
      transport!.request({ method: 'GET', path: '/iserver/secdef/search', query: { symbol: 'SPX' } }).then(
        () => true,
        () => false,
      ),
    );
    for (const at of STALLS_AT_MS) stallTimers.add(setTimeout(() => busyWait(STALL_MS), at));
    const answered = (await Promise.all(burst)).filter(Boolean).length;
    const after = sim.control.stats();
    return { rejected429: after.rejected429 - before.rejected429, peakPerSec: after.maxRatePerSec, answered };
  }

  it('without the departure guard, a stalled event loop bunches reserved requests into a 429 (the bug)', async () => {
    const run = await burstThroughStalls(false);
    assert.ok(run.rejected429 > 0, `expected the simulator to answer 429, got ${JSON.stringify(run)}`);
    assert.ok(run.peakPerSec > 10, `peak ${run.peakPerSec} requests in a 1-s window`);
  });

  it('with the departure guard, the same stalls earn no 429 and never more than 10 requests in any 1-s window', async () => {
    const run = await burstThroughStalls(true);
    assert.equal(run.rejected429, 0);
    assert.ok(run.peakPerSec <= 10, `peak ${run.peakPerSec} requests in a 1-s window`);
    assert.equal(run.answered, BURST);
    assert.equal(limiter!.getCounts().rateLimited, 0);
  });

  /** A loopback server recording arrival times; the limiter and transport in front of it. */
  async function loopbackRig(options: ConstructorParameters<typeof IbkrLimiter>[0] = {}): Promise<number[]> {
    const arrivals: number[] = [];
    server = await startLoopback(() => {
      arrivals.push(performance.now());
      return { body: [] };
    });
    limiter = new IbkrLimiter(options);
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    return arrivals;
  }

  it('sends nothing that waits at the guard while a 429 pause is in force', async () => {
    const arrivals = await loopbackRig();
    const burst = Array.from({ length: 20 }, (_, i) => transport!.request({ method: 'GET', path: `/iserver/contract/${i}/info` }));
    let pauseFrom = 0;
    stallTimers.add(
      setTimeout(() => {
        busyWait(600); // the reserved requests of the next 600 ms now wait at the guard
        pauseFrom = performance.now();
        limiter!.pause(400, 'test');
      }, 500),
    );
    await Promise.all(burst);
    const during = arrivals.filter((t) => t >= pauseFrom && t < pauseFrom + 400);
    assert.deepEqual(during, [], 'no request leaves during the pause');
    assert.equal(arrivals.length, 20, 'every request is sent once, after the pause');
    assert.ok(peakPerSecond(arrivals) <= 10);
  });

  it('drops requests waiting at the guard on stop(), with the connection-closing error, and sends none of them', async () => {
    const arrivals = await loopbackRig();
    const outcomes = Array.from({ length: 20 }, (_, i) =>
      transport!.request({ method: 'GET', path: `/iserver/contract/${i}/info` }).then(
        () => 'sent',
        (err: unknown) => (err instanceof Error && /connection is closing/.test(err.message) ? 'closed' : String(err)),
      ),
    );
    await new Promise<void>((resolve) => stallTimers.add(setTimeout(resolve, 300)));
    busyWait(800); // most of the next 800 ms of reserved requests now wait at the guard
    await new Promise((resolve) => setImmediate(resolve));
    const sentBeforeStop = arrivals.length;
    await limiter!.stop();
    const results = await Promise.all(outcomes);
    assert.deepEqual(new Set(results), new Set(['sent', 'closed']));
    assert.equal(arrivals.length, results.filter((r) => r === 'sent').length);
    assert.ok(arrivals.length <= sentBeforeStop + 1, 'nothing leaves after stop()');
  });

  it('keeps a "1 per interval" family spaced by its actual sends when stalls bunch the other traffic', async () => {
    const arrivals: { path: string; t: number }[] = [];
    server = await startLoopback((req) => {
      arrivals.push({ path: req.path, t: performance.now() });
      return { body: [] };
    });
    limiter = new IbkrLimiter({ familyLimits: { 'live-orders': { kind: 'interval', intervalMs: 300 } } });
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: server.baseUrl }), limiter });
    const burst = Array.from({ length: 24 }, (_, i) =>
      transport!.request({ method: 'GET', path: i % 3 === 0 ? '/iserver/account/orders' : `/iserver/contract/${i}/info` }),
    );
    for (const at of STALLS_AT_MS) stallTimers.add(setTimeout(() => busyWait(STALL_MS), at));
    await Promise.all(burst);
    const orders = arrivals.filter((a) => a.path === '/iserver/account/orders').map((a) => a.t);
    assert.equal(orders.length, 8);
    for (let i = 1; i < orders.length; i += 1) assert.ok(orders[i]! - orders[i - 1]! >= 300, `gap ${orders[i]! - orders[i - 1]!} ms`);
    assert.ok(peakPerSecond(arrivals.map((a) => a.t)) <= 10);
  });
});

describe('DepartureWindow (the guard\'s sliding log)', () => {
  it('lets the 11th request of a 10-per-second window leave only once the oldest has left it, plus the jitter margin', () => {
    const window = new DepartureWindow({ max: 10, perMs: 1000 });
    for (let i = 0; i < 10; i += 1) {
      assert.equal(window.waitMs(i), 0);
      window.record(i);
    }
    assert.equal(window.waitMs(10), 1000 + DEPARTURE_MARGIN_MS - 10);
    assert.equal(window.waitMs(1000 + DEPARTURE_MARGIN_MS - 1), 1);
    assert.equal(window.waitMs(1000 + DEPARTURE_MARGIN_MS), 0);
  });

  it('counts only the departures still inside the window', () => {
    const window = new DepartureWindow({ max: 2, perMs: 1000 });
    window.record(0);
    window.record(500);
    assert.equal(window.waitMs(600), 1000 + DEPARTURE_MARGIN_MS - 600);
    assert.equal(window.waitMs(2000), 0);
  });
});
