import { strict as assert } from 'assert';
import { mkdtempSync, rmSync } from 'fs';
import os from 'os';
import path from 'path';
import { EntryExpiry, checkSignalEntryExpiryMin, isSignalEntry } from '../../../lib/trading/entry-expiry';
import { FileJournal } from '../../../lib/trading/journal';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { parseOrderMessage } from '../../../lib/trading/order-intent';

// Signal entries expire in MARKET time: the clock here is a variable the test moves (a simulated market runs faster
// than the wall clock; the expiry never looks at the wall clock).

const T0 = Date.UTC(2026, 2, 10, 15, 0);
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(afterMin: number, cancel: (id: string) => Promise<unknown> = async () => undefined) {
  let now = T0;
  const working = new Set<string>();
  const cancelled: string[] = [];
  const infos: string[] = [];
  const warns: string[] = [];
  const expiry = new EntryExpiry({
    afterMin,
    now: () => now,
    isWorking: (id) => working.has(id),
    cancel: async (id) => {
      cancelled.push(id);
      await cancel(id);
      working.delete(id);
    },
    onExpired: (_id, t) => infos.push(t),
    onError: (_id, t) => warns.push(t),
  });
  return { expiry, working, cancelled, infos, warns, at: (ms: number) => (now = T0 + ms) };
}

describe('Signal entries expire after "Cancel an unfilled signal entry after (min)" of market time', () => {
  it('an unfilled entry is cancelled once 15 market minutes passed, not before, with one info line', async () => {
    const s = setup(15);
    s.working.add('e1');
    s.expiry.track('e1', T0, 'signal LONG 14:41Z');
    s.at(14 * 60_000 + 59_000);
    s.expiry.sweep();
    await flush();
    assert.deepEqual(s.cancelled, []);
    s.at(15 * 60_000);
    s.expiry.sweep();
    s.expiry.sweep(); // a second sweep does not cancel twice
    await flush();
    assert.deepEqual(s.cancelled, ['e1']);
    assert.equal(s.infos.length, 1);
    assert.match(s.infos[0], /e1 \(signal LONG 14:41Z\) not filled after 15 min of market time/);
  });

  it('a filled entry (no longer working) is forgotten, never cancelled', async () => {
    const s = setup(15);
    s.working.add('e1');
    s.expiry.track('e1', T0);
    s.working.delete('e1'); // filled
    s.at(60 * 60_000);
    s.expiry.sweep();
    await flush();
    assert.deepEqual(s.cancelled, []);
    assert.equal(s.expiry.size, 0);
  });

  it('0 = never: nothing tracked, nothing cancelled however long it rests', async () => {
    const s = setup(0);
    s.working.add('e1');
    s.expiry.track('e1', T0);
    s.at(24 * 3_600_000);
    s.expiry.sweep();
    await flush();
    assert.deepEqual(s.cancelled, []);
  });

  it('a cancel that fails is a warning (never thrown); one refused because the entry filled meanwhile says nothing', async () => {
    const s = setup(1, async (id) => {
      if (id === 'filled') s.working.delete('filled');
      throw new Error('refused');
    });
    for (const id of ['stuck', 'filled']) {
      s.working.add(id);
      s.expiry.track(id, T0);
    }
    s.at(61_000);
    s.expiry.sweep();
    await flush();
    assert.equal(s.warns.length, 1);
    assert.match(s.warns[0], /stuck .*could not be cancelled: refused/);
  });

  it('the setting: empty = 15, minutes ≥ 0 accepted, anything else refused naming the field', () => {
    assert.equal(checkSignalEntryExpiryMin(undefined, 'x'), 15);
    assert.equal(checkSignalEntryExpiryMin('', 'x'), 15);
    assert.equal(checkSignalEntryExpiryMin('0', 'x'), 0);
    assert.equal(checkSignalEntryExpiryMin(2.5, 'x'), 2.5);
    for (const bad of ['-1', 'abc', ' ', Number.NaN, true, '1e999']) assert.throws(() => checkSignalEntryExpiryMin(bad, 'sierra-order'), /sierra-order: "Cancel an unfilled signal entry after \(min\)"/);
  });

  it('only entries from a Battle Navale signal expire, not an order message', () => {
    const settings = { signal: { quantity: 1, entryType: 'limit' as const, target: 1 as const, tif: 'day' as const }, tickSize: 0.25, whatIf: false };
    const signal = parseOrderMessage({ topic: 'signal', payload: { signal: 'LONG', entry: 6000, stop: 5990, targets: [6020, 6030] } }, settings);
    const order = parseOrderMessage({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: 6000 } }, settings);
    assert.ok(signal.kind === 'order' && isSignalEntry(signal.intent));
    assert.ok(order.kind === 'order' && !isSignalEntry(order.intent));
  });
});

describe('A signal entry\'s expiry outlives the node that sent it (kept by the account\'s risk engine, journaled)', () => {
  const instrumentOf = () => ({ root: 'ES', tickSize: 0.25, pointValue: 50, minQuantity: 1 }) as never;
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'mia-expiry-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function engine(): RiskEngine {
    const journal = new FileJournal(dir, 'sierra', 'A1');
    const e = new RiskEngine({ broker: 'sierra', account: 'A1', instrumentOf, journal, restored: journal.loadSync() });
    e.contributeLimits('n', { maxPosition: 5, maxOrderSize: 5, maxTradesPerDay: 100, dailyLossLimit: 1e6, maxConsecutiveLosses: 100, cooldownMin: 0, tradingHoursEnabled: false } as never);
    return e;
  }

  function expiryOn(e: RiskEngine, clock: { now: number }, cancelled: string[]): EntryExpiry {
    return new EntryExpiry({
      afterMin: 15,
      now: () => clock.now,
      isWorking: (id) => e.orderOf(id) !== null,
      cancel: async (id) => {
        cancelled.push(id);
      },
      onExpired: () => undefined,
      onError: () => undefined,
      memory: e,
    });
  }

  function sendEntry(e: RiskEngine, id: string): void {
    assert.ok(e.reserve({ clientOrderId: id, instrument: 'ES', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend(id).allowed);
    e.acknowledged(id, `B-${id}`);
  }

  it('a Deploy (a new node on the same account) still cancels the entry the old node sent, on time', async () => {
    const e = engine();
    e.reconcile({ now: T0, positions: [], working: [] });
    const clock = { now: T0 };
    const cancelled: string[] = [];
    sendEntry(e, 'e1');
    expiryOn(e, clock, cancelled).track('e1', T0, 'signal LONG 14:41Z');
    const afterDeploy = expiryOn(e, clock, cancelled);
    clock.now = T0 + 14 * 60_000;
    afterDeploy.sweep();
    await flush();
    assert.deepEqual(cancelled, []);
    clock.now = T0 + 15 * 60_000;
    afterDeploy.sweep();
    await flush();
    assert.deepEqual(cancelled, ['e1']);
  });

  it('a restart reads it from the journal; an entry the broker no longer lists is not tracked', async () => {
    const before = engine();
    before.reconcile({ now: T0, positions: [], working: [] });
    const clock = { now: T0 };
    const cancelled: string[] = [];
    const old = expiryOn(before, clock, cancelled);
    for (const id of ['e1', 'gone']) {
      sendEntry(before, id);
      old.track(id, T0, 'signal LONG 14:41Z');
    }
    const restarted = engine();
    restarted.reconcile({ now: T0 + 60_000, positions: [], working: [{ clientOrderId: 'e1', instrument: 'ES', side: 'buy', quantity: 1, filled: 0, brokerOrderId: 'B-e1' }] });
    assert.deepEqual(restarted.signalEntries(), [{ clientOrderId: 'e1', sentAt: T0, origin: 'signal LONG 14:41Z' }]);
    const after = expiryOn(restarted, clock, cancelled);
    clock.now = T0 + 15 * 60_000;
    after.sweep();
    await flush();
    assert.deepEqual(cancelled, ['e1']);
  });
});
