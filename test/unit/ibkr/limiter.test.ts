// The IBKR limiter in virtual time (./limiter-rig.ts): IBKR's documented windows, the priority a caller gives its
// request, the 429 pause, stop(). No test here waits on the wall clock.
import assert from 'node:assert/strict';
import { ConnectionClosedError } from '../../../lib/ibkr/errors';
import type { PauseEvent } from '../../../lib/ibkr/limiter';
import { ARRIVAL_BOUND_MS, CLOCK_MARGIN_MS, endpointFamily, priorityRank, type Priority } from '../../../lib/ibkr/limits';
import { LimiterRig, peakInWindow, type Sent } from './limiter-rig';

const ORDER: [string, string] = ['POST', '/iserver/account/U1/orders'];
const SNAPSHOT: [string, string] = ['GET', '/iserver/marketdata/snapshot?conids=1'];
const INFO: [string, string] = ['GET', '/iserver/secdef/info?conid=416904'];

describe('IBKR limiter (virtual time)', () => {
  let rig: LimiterRig;
  beforeEach(() => {
    rig = new LimiterRig({ jitterMs: 30, seed: 5 });
  });
  afterEach(async () => {
    await rig.stop();
  });

  it('maps request paths to their endpoint families, and priorities to ranks', () => {
    assert.equal(endpointFamily('GET', '/iserver/marketdata/snapshot?conids=1'), 'snapshot');
    assert.equal(endpointFamily('GET', 'https://localhost:5000/v1/api/iserver/marketdata/history'), 'history');
    assert.equal(endpointFamily('GET', '/iserver/account/orders'), 'live-orders');
    assert.equal(endpointFamily('POST', '/iserver/account/U1/orders'), 'other');
    assert.equal(endpointFamily('GET', '/iserver/account/pnl/partitioned'), 'pnl');
    assert.equal(endpointFamily('GET', '/portfolio/subaccounts'), 'portfolio-accounts');
    assert.equal(endpointFamily('GET', '/pa/summary'), 'pa');
    assert.equal(endpointFamily('POST', '/tickle'), 'tickle');
    assert.equal(endpointFamily('GET', '/fyi/unreadnumber'), 'fyi');
    assert.equal(endpointFamily('GET', '/sso/validate'), 'sso-validate');
    const order: Priority[] = ['chain', 'history', 'quote', 'account', 'session', 'order'];
    assert.deepEqual([...order].sort((a, b) => priorityRank(a) - priorityRank(b)), [...order].reverse());
    assert.throws(() => priorityRank('urgent' as Priority), /Unknown IBKR request priority "urgent"/);
  });

  it('takes a burst at 10× the allowed rate without one 429, at ≥ 95 % of the allowed rate', async () => {
    const limiter = rig.limiter();
    const asked: Promise<Sent>[] = [];
    // 100 req/s for 3 s, a third of them snapshots (their own 10/s), with up to 30 ms of network jitter.
    for (let i = 0; i < 300; i += 1) {
      asked.push(rig.request(limiter, ...(i % 3 === 0 ? SNAPSHOT : INFO), 'quote'));
      await rig.sched.advance(10);
    }
    await rig.sched.advance(40_000);
    const sent = await Promise.all(asked);
    assert.equal(rig.rejected, 0, 'IBKR never had to say 429');
    assert.ok(rig.ibkr.snapshot().maxRatePerSec <= 10);
    const first = Math.min(...sent.map((s) => s.sentAt));
    const last = Math.max(...sent.map((s) => s.sentAt));
    const rate = (sent.length - 1) / ((last - first) / 1000);
    assert.ok(rate >= 9.5 && rate <= 10, `${rate.toFixed(3)} req/s`);
  });

  it('keeps IBKR\'s window through event-loop stalls: requests due during a stall do not leave in a bunch', async () => {
    const limiter = rig.limiter();
    const asked = Array.from({ length: 40 }, (_, i) => rig.request(limiter, ...INFO, 'quote', `r${i}`));
    for (const at of [350, 1250, 2150]) {
      await rig.sched.advance(at - rig.sched.now);
      rig.sched.stall(400); // the loop is blocked: every timer due meanwhile fires late, together
    }
    await rig.sched.advance(10_000);
    await Promise.all(asked);
    assert.equal(rig.rejected, 0);
    assert.ok(peakInWindow(rig.sent.map((s) => s.sentAt), 1000 + CLOCK_MARGIN_MS) <= 10);
  });

  it('never earns a 429 however late requests reach IBKR: each counts until its answer, not its send plus a margin', async () => {
    // Up to 200 ms one way and 80 ms at the server: far beyond any fixed margin (its predecessor kept 40 ms).
    const slow = new LimiterRig({ jitterMs: 200, serviceMs: 80, seed: 17 });
    try {
      const limiter = slow.limiter();
      const asked = Array.from({ length: 60 }, (_, i) => slow.request(limiter, ...(i % 2 ? SNAPSHOT : INFO), 'quote', `r${i}`));
      await slow.sched.advance(20_000);
      const sent = await Promise.all(asked);
      assert.equal(slow.rejected, 0);
      assert.ok(slow.ibkr.snapshot().maxRatePerSec <= 10);
      // Each request leaves once 10 requests have not been on their way within the last window.
      const byTime = [...sent].sort((a, b) => a.sentAt - b.sentAt);
      for (let i = 10; i < byTime.length; i += 1) {
        const tenth = byTime.slice(0, i).map((s) => s.answeredAt!).sort((a, b) => b - a)[9]!;
        assert.ok(byTime[i]!.sentAt >= tenth + 1000, `request ${i} left ${(byTime[i]!.sentAt - tenth).toFixed(1)} ms after the 10th last answer`);
      }
    } finally {
      await slow.stop();
    }
  });

  it('frees the slot of a request that is never answered after the arrival bound', async () => {
    const limiter = rig.limiter();
    const sentAt: number[] = [];
    const answers: Array<() => void> = [];
    const hung = Array.from({ length: 10 }, () =>
      limiter.schedule({ method: INFO[0], path: INFO[1], priority: 'quote' }, () => {
        sentAt.push(rig.sched.now);
        return new Promise<void>((resolve) => answers.push(resolve)); // no answer until the end of the test
      }),
    );
    const next = rig.request(limiter, ...INFO, 'quote', 'next');
    await rig.sched.advance(ARRIVAL_BOUND_MS + 2_000);
    assert.equal(sentAt.length, 10);
    assert.equal(sentAt[0], 0);
    const left = (await next).sentAt;
    assert.ok(left >= ARRIVAL_BOUND_MS + 1_000 + CLOCK_MARGIN_MS && left < ARRIVAL_BOUND_MS + 1_000 + 20, `the 11th left at ${left} ms`);
    for (const answer of answers) answer();
    await Promise.all(hung);
  });

  it('keeps going, without a 429, when every timer fires late (a loop that is always behind)', async () => {
    const limiter = rig.limiter();
    rig.sched.lateMs = 60; // every timer 60 ms late: the windows count from the answers, the lateness costs rate only
    const asked = Array.from({ length: 30 }, (_, i) => rig.request(limiter, ...INFO, 'quote', `r${i}`));
    await rig.sched.advance(20_000);
    assert.equal(rig.sent.length, 30, 'every request was sent');
    await Promise.all(asked);
    assert.equal(rig.rejected, 0);
  });

  it('sends an order and a polled quote within 150 ms while a 2,000-contract chain refresh is in progress', async () => {
    const limiter = rig.limiter();
    // A 2,000-contract refresh: ~200 contract-detail calls and 20 snapshot batches (each twice: pre-flight), all at once.
    const chain = [
      ...Array.from({ length: 200 }, (_, i) => rig.request(limiter, ...INFO, 'chain', `info${i}`)),
      ...Array.from({ length: 40 }, (_, i) => rig.request(limiter, ...SNAPSHOT, 'chain', `batch${i}`)),
    ];
    const waits: Record<string, number[]> = { order: [], quote: [] };
    const others: Promise<Sent>[] = [];
    // An order every second, and a quote polled every second half a second later, at no particular phase of the pace.
    // (Two urgent requests asked at the same instant share the pace: the second leaves one pace, ~100 ms, later.)
    for (let t = 0; t < 20_000; t += 1_000) {
      await rig.sched.advance(t + 37 - rig.sched.now);
      others.push(rig.request(limiter, ...ORDER, 'order', 'order').then((s) => (waits.order!.push(s.sentAt - s.askedAt), s)));
      await rig.sched.advance(t + 537 + (t % 7) * 13 - rig.sched.now);
      others.push(rig.request(limiter, ...SNAPSHOT, 'quote', 'quote').then((s) => (waits.quote!.push(s.sentAt - s.askedAt), s)));
    }
    await rig.sched.advance(60_000);
    await Promise.all([...chain, ...others]);
    const chainLeft = rig.sent.filter((s) => s.priority === 'chain').map((s) => s.sentAt);
    assert.ok(Math.max(...chainLeft) > 20_000, 'the refresh was still in progress when the last order came');
    assert.equal(waits.order!.length, 20);
    for (const [what, list] of Object.entries(waits)) {
      assert.ok(Math.max(...list) <= 150, `${what} waited up to ${Math.max(...list).toFixed(0)} ms`);
    }
    assert.equal(rig.rejected, 0);
  });

  it('holds a "1 per interval" family from the actual send, and lets other requests pass the held one', async () => {
    const limiter = rig.limiter({ familyLimits: { 'live-orders': { kind: 'interval', intervalMs: 300 } } });
    limiter.pause(400, 'test');
    const reads = Array.from({ length: 3 }, (_, i) => rig.request(limiter, 'GET', '/iserver/account/orders', 'account', `orders${i}`));
    const search = rig.request(limiter, 'GET', '/iserver/secdef/search', 'quote', 'search');
    await rig.sched.advance(5_000);
    const sent = await Promise.all(reads);
    assert.ok(sent[0]!.sentAt >= 400, 'nothing leaves during the pause');
    // Counted from the send until the answer: the next one leaves an interval after the previous one's answer.
    for (let i = 1; i < sent.length; i += 1) assert.ok(sent[i]!.sentAt >= sent[i - 1]!.answeredAt! + 300, `read ${i}`);
    assert.ok((await search).sentAt < sent[1]!.sentAt, 'the search did not wait behind the held live-orders read');
  });

  it('pauses every request on a 429 for Retry-After, else a full-jitter backoff a success resets', async () => {
    const limiter = rig.limiter({ backoffInitialMs: 2_000, backoffMaxMs: 60_000, backoffMinMs: 1_000, random: () => 0.5 });
    const pauses: PauseEvent[] = [];
    let resumed = 0;
    limiter.on('paused', (e: PauseEvent) => pauses.push(e));
    limiter.on('resumed', () => (resumed += 1));
    assert.equal(limiter.penalize(undefined, '429'), 1_500, 'uniform in [1 s, 2 s]: the middle');
    assert.equal(limiter.penalize(undefined, 'a second 429 from a request already on the wire'), 1_500, 'no second step during the pause');
    const during = rig.request(limiter, ...INFO, 'order');
    await rig.sched.advance(1_499);
    assert.equal(rig.sent.length, 0, 'nothing leaves during the pause');
    await rig.sched.advance(100);
    await during;
    assert.equal(rig.sent[0]?.sentAt, 1_500, 'it leaves as the pause ends');
    assert.equal(resumed, 1);
    assert.equal(limiter.penalize(undefined, '429'), 2_500, 'the next step: uniform in [1 s, 4 s]');
    await rig.sched.advance(2_500);
    limiter.recordSuccess();
    assert.equal(limiter.penalize(undefined, '429'), 1_500, 'a success resets the backoff');
    await rig.sched.advance(1_500);
    assert.equal(limiter.penalize(7_000, '429 with Retry-After: 7'), 7_000);
    assert.equal(pauses.length, 4);
    assert.equal(limiter.getCounts().rateLimited, 5);
  });

  it('runs at most 4 history requests at once (Bottleneck), highest priority first', async () => {
    const limiter = rig.limiter();
    let open = 0;
    let peak = 0;
    const order: string[] = [];
    const answers: Array<() => void> = [];
    const history = (name: string, priority: Priority): Promise<void> =>
      limiter.schedule({ method: 'GET', path: '/iserver/marketdata/history?conid=1', priority }, () => {
        order.push(name);
        open += 1;
        peak = Math.max(peak, open);
        return new Promise<void>((resolve) => answers.push(() => {
          open -= 1;
          resolve();
        }));
      });
    const all = [...Array.from({ length: 6 }, (_, i) => history(`chain${i}`, 'chain')), history('quote', 'quote')];
    // Bottleneck hands jobs over on its own event-loop turns; the gate's pace on the virtual clock.
    for (let i = 0; i < 200 && order.length < 7; i += 1) {
      await rig.sched.advance(200);
      await new Promise((resolve) => setTimeout(resolve, 1));
      if (limiter.concurrencyCounts().history?.QUEUED === 3 || order.length > 4) answers.shift()?.();
    }
    while (answers.length) answers.shift()?.();
    await Promise.all(all);
    assert.equal(peak, 4);
    assert.ok(order.indexOf('quote') === 4, `the quote was the first to take a freed slot: ${order.join(' ')}`);
  });

  it('drops waiting requests on stop() with a clear error, and waits for the answer of one already sent', async () => {
    const limiter = rig.limiter({ preset: 'conservative-50rpm' });
    let answer: (() => void) | undefined;
    const order = limiter.schedule({ method: ORDER[0], path: ORDER[1], priority: 'order' }, () => new Promise<string>((resolve) => {
      answer = () => resolve('order acknowledged');
    }));
    const waiting = limiter.schedule({ method: 'GET', path: '/iserver/accounts', priority: 'account' }, () => Promise.resolve('never'));
    await rig.sched.advance(0);
    assert.ok(answer, 'an idle limiter sends at once');
    let stopped = false;
    const stopping = limiter.stop().then(() => (stopped = true));
    await assert.rejects(waiting, (err: unknown) => err instanceof ConnectionClosedError);
    await rig.sched.advance(10);
    assert.equal(stopped, false, 'stop() returned while the order was still on the wire');
    answer();
    assert.equal(await order, 'order acknowledged');
    await stopping;
    await assert.rejects(limiter.schedule({ method: 'GET', path: '/x', priority: 'quote' }, () => Promise.resolve(1)), ConnectionClosedError);
  });
});
