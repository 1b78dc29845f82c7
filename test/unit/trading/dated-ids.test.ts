import { strict as assert } from 'assert';
import { DatedIds } from '../../../lib/trading/dated-ids';
import { JOURNAL_VERSION, MemoryJournal, journalState, journalText, type JournalState } from '../../../lib/trading/journal';
import { rng as seeded } from '../../../lib/sim/prng';

const DAY = 86_400_000;

const HEAD = {
  version: JOURNAL_VERSION,
  broker: 'sierra',
  account: 'Sim1',
  savedAt: 5,
  ledger: { killSwitch: 'ACTIVE', sessionStart: null, nextReset: null, tradesToday: 2, realizedPnl: -12.5, consecutiveLosses: 1, lastTradeAt: 4, openTradePnl: 0, books: { ESZ6: { position: 1, averagePrice: 6000.25 } } },
  idSequence: 7,
} as const;
const INTENTS: JournalState['intents'] = [{ clientOrderId: 'a"b\\c', instrument: 'ESZ6', root: 'ES', side: 'buy', quantity: 1, filled: 0, role: 'entry', reducing: false, phase: 'working' }];

/** A state as the risk engine's snapshot was written before the ids kept their text: plain records. */
function state(usedIds: Readonly<Record<string, number>>, brokerOrderIds?: Readonly<Record<string, number>>): JournalState {
  return { ...HEAD, usedIds, ...(brokerOrderIds ? { brokerOrderIds } : {}), intents: INTENTS };
}

/** The ids as a plain object, in a Map's order: what the journal wrote for them before (Object.fromEntries). */
function recordOf(ids: Map<string, number>): Record<string, number> {
  return Object.fromEntries(ids);
}

describe('DatedIds: the used and seen order ids a journal keeps', () => {
  it('forgets ids after their time to live, keeps those still needed, and remembers the rest', () => {
    const ids = new DatedIds(3 * DAY);
    ids.set('old', 0);
    ids.set('working', 0);
    ids.set('new', 2 * DAY);
    ids.expire(3 * DAY); // exactly the time to live: kept
    assert.deepEqual(Object.keys(JSON.parse(ids.toJson()) as object).sort(), ['new', 'old', 'working']);
    ids.expire(3 * DAY + 1, (id) => id === 'working');
    assert.deepEqual(JSON.parse(ids.toJson()), { new: 2 * DAY, working: 0 });
    ids.expire(5 * DAY + 1, (id) => id === 'working');
    assert.deepEqual(JSON.parse(ids.toJson()), { working: 0 });
    assert.equal(ids.has('new'), false);
  });

  it('its JSON is byte for byte JSON.stringify of the ids as a plain object, across adds, renewals, deletions, expiries and clears (random sequences, numeric ids too)', () => {
    const rng = seeded(20261207);
    for (let round = 0; round < 20; round++) {
      const ids = new DatedIds(DAY);
      const mirror = new Map<string, number>(); // what the ids must be, kept the plain way
      let now = 0;
      for (let step = 0; step < 400; step++) {
        now += rng.int(0, DAY / 10);
        const roll = rng.next();
        // Broker order ids are often numbers: rising (the usual), or not; with names mixed in, or not (round parity).
        const numeric = round % 2 === 0 || rng.next() < 0.3;
        const id = numeric ? String(rng.next() < 0.7 ? 1000 + step : rng.int(0, 1200)) : `id-${rng.int(0, 300)}${rng.next() < 0.1 ? '"\\\u2028' : ''}`;
        if (roll < 0.6) {
          ids.set(id, now);
          mirror.set(id, now);
        } else if (roll < 0.65) {
          const again = [...mirror.keys()][rng.int(0, Math.max(mirror.size - 1, 0))];
          if (again !== undefined) {
            ids.set(again, now);
            mirror.set(again, now);
          }
        } else if (roll < 0.75) {
          ids.delete(id);
          mirror.delete(id);
        } else if (roll < 0.85) {
          const keep = (k: string): boolean => k.endsWith('7');
          ids.expire(now, keep);
          for (const [k, at] of mirror) if (now - at > DAY && !keep(k)) mirror.delete(k);
        } else if (roll < 0.86) {
          ids.clear();
          mirror.clear();
        }
        if (rng.next() < 0.5) assert.equal(ids.toJson(), JSON.stringify(recordOf(mirror)), `round ${round} step ${step}`);
        assert.equal(ids.size, mirror.size);
      }
      assert.equal(ids.toJson(), JSON.stringify(recordOf(mirror)), `round ${round} end`);
    }
  });

  it('numbers that are not array indexes keep their place among the names (leading zero, negative, 2^32 - 1 and above)', () => {
    const ids = new DatedIds(DAY);
    const mirror = new Map<string, number>();
    for (const id of ['b', '007', '5', '-1', '4294967295', '4294967294', '3', '1e3', '0', 'a']) {
      ids.set(id, 1);
      mirror.set(id, 1);
      assert.equal(ids.toJson(), JSON.stringify(recordOf(mirror)), id);
    }
  });

  it('a state made with the ids\' text is written byte for byte as JSON.stringify writes the same state, and reads as it', () => {
    const rng = seeded(20261206);
    const used = new DatedIds(DAY);
    const seen = new DatedIds(DAY);
    let now = 0;
    for (let step = 0; step < 1000; step++) {
      now += rng.int(0, DAY / 10);
      const which = rng.next() < 0.5 ? used : seen;
      const roll = rng.next();
      const id = which === seen && rng.next() < 0.5 ? String(step) : `id-${rng.int(0, 300)}${rng.next() < 0.1 ? '"\\\u2028' : ''}`;
      if (roll < 0.5) which.set(id, now);
      else if (roll < 0.6) which.delete(id);
      else if (roll < 0.7) which.expire(now);
      const withSeen = rng.next() < 0.8;
      const s = journalState(HEAD, { usedIds: used.toJson(), ...(withSeen ? { brokerOrderIds: seen.toJson() } : {}) }, INTENTS);
      const plain = state(JSON.parse(used.toJson()) as Record<string, number>, withSeen ? (JSON.parse(seen.toJson()) as Record<string, number>) : undefined);
      assert.equal(journalText(s), JSON.stringify(plain), `step ${step}`);
      assert.equal(JSON.stringify(s), JSON.stringify(plain), `step ${step}: the state read as a plain object`);
    }
  });

  it('a state keeps the ids as they were when it was made, whatever changes after', () => {
    const ids = new DatedIds(DAY);
    ids.set('a', 1);
    const s = journalState(HEAD, { usedIds: ids.toJson() }, INTENTS);
    ids.set('b', 2);
    ids.delete('a');
    assert.deepEqual(s.usedIds, { a: 1 });
    assert.equal(journalText(s), JSON.stringify({ ...HEAD, usedIds: { a: 1 }, intents: INTENTS }));
    assert.ok(Object.isFrozen(s.usedIds));
    assert.throws(() => {
      (s as { usedIds: unknown }).usedIds = {};
    }, TypeError);
  });

  it('a journal reads back what it saved, with no ids, empty ids, unfrozen ids and ids as text', () => {
    const ids = new DatedIds(DAY);
    ids.set('x', 3);
    ids.set('12', 4);
    for (const s of [state({}), state({ a: 1 }, {}), state(Object.freeze({ a: 1 }), Object.freeze({ x: 2 })), journalState(HEAD, { usedIds: ids.toJson(), brokerOrderIds: '{}' }, INTENTS)]) {
      const journal = new MemoryJournal();
      journal.save(s);
      assert.deepEqual(journal.loadSync(), JSON.parse(JSON.stringify(s)));
    }
  });
});
