import { strict as assert } from 'assert';
import { CHICAGO, NEW_YORK, hhmm, lastDailyAnchor, nextDailyAnchor, parseHhMm, zonedParts, zonedTime } from '../../lib/clock';

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

  it('reads the same wall-clock fields as Intl at every instant, across daylight-saving changes and odd offsets', () => {
    const zones = [CHICAGO, NEW_YORK, 'Europe/London', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/St_Johns', 'UTC'];
    const formats = new Map<string, Intl.DateTimeFormat>();
    const reference = (t: number, timeZone: string): number[] => {
      const f = formats.get(timeZone) ?? new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
      formats.set(timeZone, f);
      const out: Record<string, string> = {};
      for (const p of f.formatToParts(new Date(t))) out[p.type] = p.value;
      const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(out.weekday);
      return [Number(out.year), Number(out.month), Number(out.day), Number(out.hour), Number(out.minute), Number(out.second), weekday];
    };
    // Every 17 min 13.5 s through March-April and October-November 2026 (the northern and southern switches), plus
    // each second around the US spring-forward instant (2026-03-08 08:00 UTC).
    const instants: number[] = [];
    for (const [from, to] of [[Date.UTC(2026, 2, 1), Date.UTC(2026, 3, 10)], [Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 10)]]) {
      for (let t = from; t < to; t += 1_033_500) instants.push(t);
    }
    for (let t = Date.UTC(2026, 2, 8, 7, 59, 0); t < Date.UTC(2026, 2, 8, 8, 1, 0); t += 1000) instants.push(t, t + 999);
    for (const zone of zones) {
      for (const t of instants) {
        const p = zonedParts(t, zone);
        assert.deepEqual([p.year, p.month, p.day, p.hour, p.minute, p.second, p.weekday], reference(t, zone), `${zone} at ${new Date(t).toISOString()}`);
      }
    }
  });

  it('refuses an instant that is not a number, and an unknown time zone', () => {
    assert.throws(() => zonedParts(NaN, NEW_YORK), RangeError);
    assert.throws(() => zonedParts(Date.UTC(2026, 0, 1), 'Mars/Olympus'), RangeError);
  });

  it('writes the time of day as HH:MM on a 24-hour clock, daylight saving included', () => {
    assert.equal(hhmm(Date.UTC(2026, 10, 24, 14, 5), NEW_YORK), '09:05');
    assert.equal(hhmm(Date.UTC(2026, 6, 1, 19, 45), NEW_YORK), '15:45');
    assert.equal(hhmm(Date.UTC(2026, 6, 1, 4, 0), NEW_YORK), '00:00');
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
