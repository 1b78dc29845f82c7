// On the simulators an order takes no market time on its way: the seeded market's clock stands while held (and the
// trades after the one a hold was taken on wait, none lost, none twice), the replayed market's too, and the order-path
// gate holds from an instruction's start until it is answered and the answers read (bounded). All in virtual time
// (fake timers and performance.now).
import { strict as assert } from 'assert';
import FakeTimers from '@sinonjs/fake-timers';
import { createMarket } from '../../../lib/sim/market';
import type { MarketTrade } from '../../../lib/sim/market-types';
import { OrderPathGate, QUIET_TURNS, type GateTimers } from '../../../lib/sim/order-path-gate';
import { RecordedMarket } from '../../../lib/replay/recorded-market';
import { recordingOf } from '../../../lib/replay/recording';
import { SimAccount } from '../../../lib/sim/dtc/account';
import { BuySell, OpenClose, OrderType, TimeInForce } from '../../../lib/sierra/protocol';

const START = Date.UTC(2026, 2, 3, 15, 0); // 10:00 New York, a Tuesday

describe('seeded market: hold()', () => {
  let clock: ReturnType<typeof FakeTimers.install>;
  beforeEach(() => {
    clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => clock.uninstall());

  it('stands the clock while held, emits nothing, then goes on from where it stood', () => {
    const market = createMarket({ seed: 3, speed: 100, startTime: START });
    const seen: MarketTrade[] = [];
    market.on('trade', (x: MarketTrade) => seen.push(x));
    market.start();
    clock.tick(1000);
    assert.strictEqual(market.now(), START + 100_000);
    const release = market.hold();
    const emitted = seen.length;
    clock.tick(5000);
    assert.strictEqual(market.now(), START + 100_000, 'the clock stands');
    assert.strictEqual(seen.length, emitted, 'nothing is emitted while held');
    release();
    release(); // idempotent
    clock.tick(1000);
    assert.strictEqual(market.now(), START + 200_000, 'the held time is not skipped');
    market.stop();
  });

  it('a hold taken on a trade stands at the time it is (never back); the trades after it come once released, none lost or twice', () => {
    const market = createMarket({ seed: 3, speed: 100, startTime: START });
    const seen: MarketTrade[] = [];
    let release: (() => void) | undefined;
    let before = NaN;
    let heldAt = NaN;
    market.on('trade', (x: MarketTrade) => {
      seen.push(x);
      if (seen.length === 40) {
        before = market.now();
        release = market.hold();
        heldAt = market.now();
      }
    });
    market.start();
    clock.tick(2000); // 200 market s: hundreds of trades, bursts of 20 ms real = 2 market s
    assert.ok(release, 'the hold was taken');
    assert.strictEqual(heldAt, before, 'the clock stands where it was');
    assert.ok(heldAt >= seen[39].t);
    assert.strictEqual(seen.length, 40, 'the rest of its burst waits');
    assert.strictEqual(market.now(), heldAt);
    release();
    clock.tick(3000);
    market.stop();
    const all = market.tradesBetween(START, seen[seen.length - 1].t);
    assert.ok(seen.length > 100);
    assert.deepStrictEqual(seen, all, 'every trade once, in order');
  });
});

describe('replayed market: hold()', () => {
  it("at 'max', no batch plays while held; the next comes once released", async () => {
    const t0 = START;
    const lines = [{ t: t0, topic: 'meta', payload: { version: 2 } }];
    for (let i = 0; i < 20; i++) lines.push({ t: t0 + i * 1000, topic: 'trade', payload: { t: t0 + i * 1000, price: 5900 + i * 0.25, size: 1, side: 'buy', bid: 5900, ask: 5900.25 } as never });
    const market = new RecordedMarket(recordingOf(lines), { speed: 'max', maxBatchMs: 1 });
    let release: (() => void) | undefined;
    const seen: number[] = [];
    market.on('trade', (x: MarketTrade) => {
      seen.push(x.t);
      if (seen.length === 5) release = market.hold();
    });
    market.start();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.strictEqual(seen.length, 5, 'nothing after the hold');
    assert.strictEqual(market.now(), t0 + 4000);
    release?.();
    await new Promise<void>((resolve) => (market.status().ended ? resolve() : market.once('end', () => resolve())));
    assert.strictEqual(seen.length, 20);
    market.stop();
  });
});

describe('order-path gate', () => {
  /** Turns of the event loop and timers, by hand. */
  function rig(): { timers: GateTimers; turn(): void; elapse(ms: number): void; holds: number; releases: number; hold: () => () => void } {
    let immediates: (() => void)[] = [];
    let timeouts: { at: number; cb: () => void; id: number }[] = [];
    let now = 0;
    let id = 0;
    const r = {
      holds: 0,
      releases: 0,
      hold: () => {
        r.holds++;
        return () => void r.releases++;
      },
      timers: {
        setImmediate: (cb: () => void) => void immediates.push(cb),
        setTimeout: (cb: () => void, ms: number) => {
          timeouts.push({ at: now + ms, cb, id: ++id });
          return id;
        },
        clearTimeout: (h: unknown) => void (timeouts = timeouts.filter((x) => x.id !== h)),
      },
      turn: () => {
        const run = immediates;
        immediates = [];
        for (const cb of run) cb();
      },
      elapse: (ms: number) => {
        now += ms;
        const due = timeouts.filter((x) => x.at <= now);
        timeouts = timeouts.filter((x) => x.at > now);
        for (const x of due) x.cb();
      },
    };
    return r;
  }

  it('holds from the start of an instruction until it is answered and QUIET_TURNS turns have passed', () => {
    const r = rig();
    const gate = new OrderPathGate(r.hold, { timers: r.timers, maxHoldMs: 1000 });
    const end = gate.begin();
    assert.strictEqual(r.holds, 1);
    for (let i = 0; i < 10; i++) r.turn();
    assert.strictEqual(r.releases, 0, 'in flight: held');
    gate.touch(); // the simulator answers
    end();
    for (let i = 0; i < QUIET_TURNS - 1; i++) r.turn();
    assert.strictEqual(r.releases, 0);
    r.turn();
    assert.strictEqual(r.releases, 1);
    assert.ok(!gate.holding);
  });

  it("an answer of the simulator's own (a resting order filled) holds too; a later answer starts the quiet turns again", () => {
    const r = rig();
    const gate = new OrderPathGate(r.hold, { timers: r.timers });
    gate.touch();
    assert.strictEqual(r.holds, 1);
    r.turn();
    gate.touch();
    for (let i = 0; i < QUIET_TURNS - 1; i++) r.turn();
    assert.strictEqual(r.releases, 0);
    r.turn();
    assert.strictEqual(r.releases, 1);
    assert.strictEqual(r.holds, 1, 'one hold for the whole exchange');
  });

  it('never holds longer than maxHoldMs (an answer lost), and holds no more once disposed', () => {
    const r = rig();
    const gate = new OrderPathGate(r.hold, { timers: r.timers, maxHoldMs: 1000 });
    const end = gate.begin();
    r.elapse(999);
    assert.strictEqual(r.releases, 0);
    r.elapse(1);
    assert.strictEqual(r.releases, 1);
    end();
    r.turn();
    assert.strictEqual(r.releases, 1, 'released once');
    gate.dispose();
    gate.touch();
    assert.strictEqual(r.holds, 1, 'disposed: no new hold');
  });
});

describe('simulated Sierra account: a trade printed before an order reached the market', () => {
  it('does not fill it; the next trade at its price does', () => {
    const account = new SimAccount({ account: 'Sim1', symbol: 'ESZ25_FUT_CME', startingBalance: 50_000, pointValue: 50, marginPerContract: 500, commissionPerContract: 0, currency: 'USD' });
    const received = START + 10_000;
    const order = { clientOrderId: 'a', symbol: 'ESZ25_FUT_CME', account: 'Sim1', orderType: OrderType.LIMIT, side: BuySell.BUY, price1: 5900, price2: null, quantity: 1, timeInForce: TimeInForce.DAY, freeFormText: '', openOrClose: OpenClose.UNSET };
    account.submit(order, { bid: 5900.5, ask: 5900.75 }, received);
    const trade = { price: 5899.75, size: 5, bid: 5899.5, ask: 5899.75 };
    assert.deepStrictEqual(account.onTrade({ ...trade, t: received - 1 }), [], 'printed before the order arrived');
    assert.strictEqual(account.fills().length, 0);
    account.onTrade({ ...trade, t: received });
    assert.deepStrictEqual(account.fills().map((f) => [f.price, f.t]), [[5900, received]]);
  });
});
