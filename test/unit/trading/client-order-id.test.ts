import { strict as assert } from 'assert';
import { ClientOrderIdGenerator } from '../../../lib/trading/client-order-id';

const NOW = Date.UTC(2025, 11, 3, 6, 0, 0); // 2025-12-03 00:00 Chicago: the clock floor is 0

describe('client order id generator (both brokers)', () => {
  it('issues YYYYMMDD-<prefix>-<n> ids dated by the Chicago day, never the same twice', () => {
    const ids = new ClientOrderIdGenerator('mia');
    const seen = new Set<string>();
    for (let i = 1; i <= 1000; i++) {
      const id = ids.next(NOW);
      assert.equal(id, `20251203-mia-${i}`);
      assert.ok(!seen.has(id));
      seen.add(id);
    }
    // 2025-12-04 02:00 UTC is still the 3rd in Chicago; by then the clock floor (tenths of a millisecond since
    // midnight) is above the count.
    assert.equal(ids.next(Date.UTC(2025, 11, 4, 2, 0, 0)), '20251203-mia-720000000');
    // The last tenth of a millisecond of the day still fits DTC's 32 characters with the longest prefix.
    assert.ok(new ClientOrderIdGenerator('abcdefghijkl').next(Date.UTC(2025, 11, 4, 5, 59, 59, 999) + 0.95).length <= 32);
  });

  it('gives two processes started within the same millisecond different ids', () => {
    const a = new ClientOrderIdGenerator('mia').next(NOW + 1000.1);
    const b = new ClientOrderIdGenerator('mia').next(NOW + 1000.25);
    assert.notEqual(a, b);
  });

  it('never repeats an id after a restart that persisted nothing, whatever was issued before', () => {
    const before = new ClientOrderIdGenerator('mia');
    const morning = NOW + 8.5 * 3600_000;
    const issued = Array.from({ length: 50 }, (_, i) => before.next(morning + i * 1000));
    const restarted = new ClientOrderIdGenerator('mia'); // a fresh process: no sequence, no working order seen
    const next = restarted.next(morning + 60_000);
    assert.ok(!issued.includes(next));
    const n = (id: string): number => Number(id.split('-')[2]);
    assert.ok(n(next) > Math.max(...issued.map(n)));
  });

  it('continues after the highest id the server reports, of any date, for its own prefix only', () => {
    const ids = new ClientOrderIdGenerator('mia');
    ids.observe('20251203-mia-17');
    ids.observe('20251202-mia-41');
    ids.observe('20251203-other-900');
    ids.observe('manual order');
    ids.observe(undefined);
    assert.equal(ids.next(NOW), '20251203-mia-42');
    ids.observe('20251203-mia-5');
    assert.equal(ids.next(NOW), '20251203-mia-43');
  });

  it('continues after a persisted sequence', () => {
    const ids = new ClientOrderIdGenerator('node7', 99);
    assert.equal(ids.next(NOW), '20251203-node7-100');
    assert.equal(ids.lastSequence, 100);
  });

  it('refuses a prefix that could break the format or the 32-character limit', () => {
    assert.throws(() => new ClientOrderIdGenerator('a-b'), /prefix/);
    assert.throws(() => new ClientOrderIdGenerator(''), /prefix/);
    assert.throws(() => new ClientOrderIdGenerator('abcdefghijklm'), /prefix/);
  });
});

describe('client order ids: a trader’s own id, and ids seen at the broker', () => {
  it('honours an own id once, and never one seen at the broker', () => {
    const ids = new ClientOrderIdGenerator('mia');
    assert.equal(ids.claim('mine-1'), 'mine-1');
    assert.throws(() => ids.claim('mine-1'), /already used: a client order id is never reused/);
    ids.observe('placed-in-tws');
    assert.throws(() => ids.claim('placed-in-tws'), /already used/);
    assert.throws(() => ids.claim('a:stop'), /not valid for a new order/);
    assert.throws(() => ids.claim('x'.repeat(33)), /not valid for a new order/);
    assert.throws(() => ids.claim(42), /not valid for a new order/);
  });

  it('never issues an id a trader claimed, and refuses a claim of one it may have issued', () => {
    const ids = new ClientOrderIdGenerator('mia');
    const first = ids.next(NOW);
    assert.throws(() => ids.claim(first), /already used/);
    assert.equal(ids.claim('20251203-mia-500'), '20251203-mia-500');
    assert.equal(ids.next(NOW), '20251203-mia-501');
    assert.equal(ids.lastSequence, 501, 'the high-water mark the journal persists');
  });

  it('continues above a persisted high-water mark and never repeats across 10 000 ids (property of next)', () => {
    const ids = new ClientOrderIdGenerator('mia', 123_456);
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = ids.next(NOW + i * 0.01);
      assert.ok(!seen.has(id));
      assert.ok(id.length <= 32 && /^[A-Za-z0-9-]+$/.test(id), id);
      seen.add(id);
    }
    assert.ok(Number(ids.next(NOW).split('-')[2]) > 123_456);
    assert.throws(() => new ClientOrderIdGenerator('mia', -1), /high-water mark/);
  });
});
