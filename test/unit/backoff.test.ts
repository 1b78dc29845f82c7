import assert from 'node:assert/strict';
import { Backoff, fullJitterMs } from '../../lib/backoff';
import { FakeScheduler } from './ibkr/loopback';

describe('Backoff (full jitter)', () => {
  it('draws each wait uniformly between 0 and min(cap, base × 2^n)', () => {
    const options = { baseMs: 1_000, capMs: 30_000 };
    assert.deepEqual([0, 1, 2, 3, 4, 5, 9, 2_000].map((n) => fullJitterMs(n, options, () => 0.999_999)), [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    assert.deepEqual([0, 3, 9].map((n) => fullJitterMs(n, options, () => 0)), [0, 0, 0], 'full jitter reaches 0: not "equal jitter"');
    assert.equal(fullJitterMs(2, options, () => 0.25), 1_000);
    for (let i = 0; i < 200; i += 1) {
      const ms = fullJitterMs(3, options);
      assert.ok(ms >= 0 && ms <= 8_000, String(ms));
    }
  });

  it('keeps a floor under the jitter when asked, and never exceeds the cap', () => {
    const options = { baseMs: 2_000, capMs: 60_000, floorMs: 1_000 };
    assert.equal(fullJitterMs(0, options, () => 0), 1_000);
    assert.equal(fullJitterMs(0, options, () => 0.5), 1_500);
    assert.equal(fullJitterMs(10, options, () => 0.999_999), 60_000);
  });

  it('counts failures until reset()', () => {
    const backoff = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0.5 });
    assert.deepEqual([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()], [50, 100, 200, 400, 500]);
    assert.equal(backoff.attempts, 5);
    backoff.reset();
    assert.equal(backoff.next(), 50);
  });

  it('sleeps on the injected scheduler', async () => {
    const scheduler = new FakeScheduler();
    const backoff = new Backoff({ baseMs: 100, capMs: 1_000, random: () => 0.5, scheduler });
    let waited: number | undefined;
    void backoff.sleep().then((ms) => (waited = ms));
    await scheduler.advance(49);
    assert.equal(waited, undefined);
    await scheduler.advance(1);
    assert.equal(waited, 50);
  });

  it('refuses settings that make no sense', () => {
    assert.throws(() => new Backoff({ baseMs: -1, capMs: 10 }), /baseMs must be a finite number/);
    assert.throws(() => new Backoff({ baseMs: 100, capMs: 10 }), /capMs \(10\) is below baseMs \(100\)/);
  });
});
