// The IBKR kill switch does not wait for IBKR's 1-per-5-s live-orders slot: with a live-orders read made just before
// the kill, every working order the account's engine knows (and every open one of that last answer) is cancelled and
// the position closed before the slot frees; the sweep that follows (one read, as soon as the slot frees) cancels an
// order placed by hand that nothing knew. In virtual time: the connection's limiter and the simulator's rate limits
// run on one VirtualClock; real time only carries the loopback HTTP.
import { strict as assert } from 'assert';
import { IbkrConnection } from '../../../lib/ibkr';
import { IbkrOrderDesk } from '../../../lib/ibkr/order-desk';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { startIbkrSimulator, type IbkrSimulator } from '../../../lib/sim/ibkr';
import { VirtualClock } from './limiter-rig';

const OPEN = ['PendingSubmit', 'PreSubmitted', 'Submitted'];
const STEP_MS = 20;

/** Real time for the loopback HTTP to move (virtual time stands still meanwhile). */
const realSettle = async (): Promise<void> => {
  for (let i = 0; i < 3; i += 1) await new Promise<void>((resolve) => setTimeout(resolve, 1));
};

describe('IBKR kill switch: no wait for the live-orders slot (virtual time, simulator)', function () {
  this.timeout(120_000);
  let sim: IbkrSimulator;
  let connection: IbkrConnection;
  const clock = new VirtualClock();
  clock.now = Date.UTC(2026, 11, 7, 15);
  clock.settle = realSettle;

  /** Advances virtual time in small steps until `work` settles; returns its value. */
  async function drive<T>(work: Promise<T>, maxMs = 30_000): Promise<T> {
    let done = false;
    const watched = work.finally(() => {
      done = true;
    });
    for (let t = 0; !done && t < maxMs; t += STEP_MS) await clock.advance(STEP_MS);
    assert.ok(done, `not settled after ${maxMs} ms of virtual time`);
    return watched;
  }

  before(async () => {
    sim = await startIbkrSimulator({ seed: 5, clock: () => clock.now, cancelDelayMs: 1 });
    connection = new IbkrConnection({ mode: 'simulator', baseUrl: sim.baseUrl, simulatorCertificatePem: sim.certificatePem, tradingEnabled: true, clock: () => clock.now, scheduler: clock });
    await drive(connection.start());
  });
  after(async () => {
    await connection?.close();
    await sim?.close();
  });

  it('cancels the known orders and closes the position before the 5-s slot frees; the sweep then cancels an order placed by hand', async () => {
    const engine = new RiskEngine({ broker: 'ibkr', account: 'DU1234567', instrumentOf, journal: new MemoryJournal() });
    engine.contributeLimits('n', { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 5 });
    const desk = new IbkrOrderDesk({ client: connection.client, engine, questions: { accepted: [], acceptAll: true }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => clock.now });
    await drive(desk.reconcileEngine());
    const mid = (): number => {
      const q = sim.market.esQuote();
      return Math.round((q.bid + q.ask) / 2);
    };
    // Long 1 with its OCO exits working, and a resting buy far below the market.
    const entry = await drive(desk.execute({ kind: 'entry', side: 'buy', quantity: 1, type: 'market', bracket: { stop: mid() - 40, target: mid() + 40 }, tif: 'day', whatIf: false, origin: 'test' }));
    assert.equal(entry.error, undefined, String(entry.error));
    const resting = await drive(desk.execute({ kind: 'entry', side: 'buy', quantity: 1, type: 'limit', price: mid() - 60, tif: 'day', whatIf: false, origin: 'test' }));
    assert.equal(resting.error, undefined, String(resting.error));
    const ours = sim.control.book().orders.filter((o) => OPEN.includes(o.status));
    assert.equal(ours.length, 3, JSON.stringify(sim.control.book()));
    const conid = sim.control.book().positions[0]?.conid ?? 0;
    assert.deepEqual(sim.control.book().positions, [{ conid, position: 1 }]);

    // A live-orders read (an account poll, a stream-gap reconcile) just before the kill: the 5-s slot is taken.
    await drive(connection.client.liveOrders());
    const readAt = clock.now;
    // Placed by hand in TWS after that read: nothing in the process knows it.
    const byHand = sim.control.placeByHand({ conid, side: 'BUY', orderType: 'LMT', price: mid() - 80, quantity: 1 });

    if (process.env.KILLFAST_DEBUG) console.log(JSON.stringify({ engine: engine.openOrders(), recent: connection.client.recentLiveOrders(), book: sim.control.book() }, null, 1));
    const steps: { line: string; at: number; book: ReturnType<IbkrSimulator['control']['book']> }[] = [];
    const outcome = await drive(desk.kill((line) => steps.push({ line, at: clock.now, book: sim.control.book() })));

    assert.equal(outcome.error, undefined, String(outcome.error));
    assert.deepEqual(steps.map((s) => s.line.slice(0, 1)), ['1', '2', '3']);
    const flat = steps[1];
    // Step 2 ends before IBKR's live-orders slot frees: every order the process knew is cancelled, the position closed.
    assert.ok(flat.at - readAt < 5_000, `flat at +${flat.at - readAt} ms after the live-orders read`);
    for (const o of ours) assert.ok(!OPEN.includes(flat.book.orders.find((b) => b.orderId === o.orderId)?.status ?? ''), `order ${o.orderId} still open at +${flat.at - readAt} ms`);
    assert.deepEqual(flat.book.positions, []);
    // The order placed by hand is still working then: only the sweep can know it.
    assert.ok(OPEN.includes(flat.book.orders.find((o) => o.orderId === byHand)?.status ?? ''));
    // The sweep: one read as soon as the slot frees, and the hand-placed order cancelled.
    const swept = steps[2];
    assert.ok(swept.at - readAt >= 5_000, `the sweep read at +${swept.at - readAt} ms, inside IBKR's 5-s window`);
    assert.match(swept.line, new RegExp(`cancelled .*ibkr-${byHand}`));
    assert.ok(!OPEN.includes(sim.control.book().orders.find((o) => o.orderId === byHand)?.status ?? ''));
    assert.deepEqual(sim.control.book().orders.filter((o) => OPEN.includes(o.status)), []);
    assert.deepEqual(sim.control.book().positions, []);
    assert.equal(sim.control.stats().rejected429, 0);
    console.log(`      flat at +${flat.at - readAt} ms (virtual) after the live-orders read; sweep at +${swept.at - readAt} ms; ${outcome.status}`);
  });
});
