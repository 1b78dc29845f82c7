import { strict as assert } from 'assert';
import { CHICAGO, NEW_YORK, lastDailyAnchor, nextDailyAnchor, parseHhMm, zonedParts, zonedTime } from '../../lib/clock';

describe('clock (exchange time zones)', () => {
  it('anchors the Globex session at 17:00 Chicago across the spring daylight-saving change', () => {
    const sundayNoon = Date.UTC(2026, 2, 8, 12, 0); // DST starts 2026-03-08 in the US
    assert.equal(new Date(lastDailyAnchor(sundayNoon, CHICAGO, 17 * 60)).toISOString(), '2026-03-07T23:00:00.000Z');
    assert.equal(new Date(nextDailyAnchor(sundayNoon, CHICAGO, 17 * 60)).toISOString(), '2026-03-08T22:00:00.000Z');
  });

  it('returns the anchor itself when asked exactly at the anchor', () => {
    const rthOpen = zonedTime(CHICAGO, 2026, 11, 24, 8, 30);
    assert.equal(lastDailyAnchor(rthOpen, CHICAGO, 8 * 60 + 30), rthOpen);
    assert.equal(nextDailyAnchor(rthOpen, CHICAGO, 8 * 60 + 30), rthOpen + 24 * 3600_000);
  });

  it('reads New York wall-clock time for the trading-hours window', () => {
    const p = zonedParts(Date.UTC(2026, 10, 24, 14, 35), NEW_YORK);
    assert.deepEqual([p.hour, p.minute, p.weekday], [9, 35, 2]);
  });

  it('refuses a malformed time of day', () => {
    assert.equal(parseHhMm('09:35'), 575);
    assert.throws(() => parseHhMm('9h35'), /not a time of day/);
    assert.throws(() => parseHhMm('24:00'), /not a time of day/);
  });
});

describe('clock: zonedParts (offset cached per quarter hour) against Intl', () => {
  it('gives the fields Intl gives, every 37 min 13 s over two years, across each daylight-saving change', () => {
    const W: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };
    for (const zone of ['America/Chicago', 'America/New_York', 'Europe/Paris', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
      const intl = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
      for (let t = Date.UTC(2025, 0, 1); t < Date.UTC(2027, 0, 1); t += 37 * 60_000 + 13_457) {
        const o: Record<string, string> = {};
        for (const p of intl.formatToParts(new Date(t))) o[p.type] = p.value;
        const expected = { year: +o.year, month: +o.month, day: +o.day, hour: +o.hour, minute: +o.minute, second: +o.second, weekday: W[o.weekday] };
        assert.deepStrictEqual(zonedParts(t, zone), expected, `${zone} at ${new Date(t).toISOString()}`);
      }
    }
  });
});
