import { strict as assert } from 'assert';
import { DatedIds } from '../../../lib/trading/dated-ids';
import { JOURNAL_VERSION, MemoryJournal, journalText, type JournalState } from '../../../lib/trading/journal';
import { rng as seeded } from '../../../lib/sim/prng';

const DAY = 86_400_000;

function state(usedIds: Readonly<Record<string, number>>, brokerOrderIds?: Readonly<Record<string, number>>): JournalState {
  return {
    version: JOURNAL_VERSION,
    broker: 'sierra',
    account: 'Sim1',
    savedAt: 5,
    ledger: { killSwitch: 'ACTIVE', sessionStart: null, nextReset: null, tradesToday: 2, realizedPnl: -12.5, consecutiveLosses: 1, lastTradeAt: 4, openTradePnl: 0, books: { ESZ6: { position: 1, averagePrice: 6000.25 } } },
    idSequence: 7,
    usedIds,
    ...(brokerOrderIds ? { brokerOrderIds } : {}),
    intents: [{ clientOrderId: 'a"b\\c', instrument: 'ESZ6', root: 'ES', side: 'buy', quantity: 1, filled: 0, role: 'entry', reducing: false, phase: 'working' }],
  };
}

describe('DatedIds: the used and seen order ids a journal keeps', () => {
  it('forgets ids after their time to live, keeps those still needed, and remembers the rest', () => {
    const ids = new DatedIds(3 * DAY);
    ids.set('old', 0);
    ids.set('working', 0);
    ids.set('new', 2 * DAY);
    ids.expire(3 * DAY); // exactly the time to live: kept
    assert.deepEqual(Object.keys(ids.toRecord()).sort(), ['new', 'old', 'working']);
    ids.expire(3 * DAY + 1, (id) => id === 'working');
    assert.deepEqual(ids.toRecord(), { new: 2 * DAY, working: 0 });
    ids.expire(5 * DAY + 1, (id) => id === 'working');
    assert.deepEqual(ids.toRecord(), { working: 0 });
    assert.equal(ids.has('new'), false);
  });

  it('hands out the same frozen record until an id is added, renewed, deleted, expired or cleared', () => {
    const ids = new DatedIds(DAY);
    ids.set('a', 10);
    const first = ids.toRecord();
    assert.ok(Object.isFrozen(first));
    assert.equal(ids.toRecord(), first);
    ids.expire(20);
    assert.equal(ids.toRecord(), first, 'nothing expired: the same record');
    const changes: Array<[string, () => void, Record<string, number>]> = [
      ['added', () => ids.set('b', 11), { a: 10, b: 11 }],
      ['renewed', () => ids.set('a', 12), { a: 12, b: 11 }],
      ['deleted', () => ids.delete('b'), { a: 12 }],
      ['expired', () => ids.expire(12 + DAY + 1), {}],
      ['added again', () => ids.set('c', 13), { c: 13 }],
      ['cleared', () => ids.clear(), {}],
    ];
    let before = ids.toRecord();
    for (const [what, change, expected] of changes) {
      change();
      const now = ids.toRecord();
      assert.notEqual(now, before, `${what}: a new record`);
      assert.deepEqual(now, expected, what);
      before = now;
    }
  });

  it('journalText is byte for byte JSON.stringify of the state, whatever the ids, across changes (random sequences)', () => {
    const rng = seeded(20261206);
    const used = new DatedIds(DAY);
    const seen = new DatedIds(DAY);
    let now = 0;
    for (let step = 0; step < 2000; step++) {
      now += rng.int(0, DAY / 10);
      const which = rng.next() < 0.5 ? used : seen;
      const roll = rng.next();
      if (roll < 0.5) which.set(`id-${rng.int(0, 300)}${rng.next() < 0.1 ? '"\\\u2028' : ''}`, now);
      else if (roll < 0.6) which.delete(`id-${rng.int(0, 300)}`);
      else if (roll < 0.7) which.expire(now);
      const s = state(used.toRecord(), rng.next() < 0.8 ? seen.toRecord() : undefined);
      assert.equal(journalText(s), JSON.stringify(s), `step ${step}`);
    }
  });

  it('a journal reads back what it saved, with no ids, empty ids and unfrozen ids too', () => {
    for (const s of [state({}), state({ a: 1 }, {}), state(Object.freeze({ a: 1 }), Object.freeze({ x: 2 }))]) {
      const journal = new MemoryJournal();
      journal.save(s);
      assert.deepEqual(journal.loadSync(), JSON.parse(JSON.stringify(s)));
    }
  });
});
