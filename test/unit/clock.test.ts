import { strict as assert } from 'assert';
import fc from 'fast-check';
import { CHICAGO, NEW_YORK, hhmm, lastDailyAnchor, nextDailyAnchor, parseHhMm, zonedParts, zonedTime } from '../../lib/clock';

const ZONES = [CHICAGO, NEW_YORK, 'Europe/London', 'Europe/Paris', 'Australia/Lord_Howe', 'Asia/Kolkata', 'America/St_Johns', 'UTC'];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** 11 h 37 min 13.457 s: over two years every hour of the day, minute and second comes round. */
const GRID_MS = 11 * HOUR_MS + 37 * 60_000 + 13_457;

const intlFormats = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** The wall-clock fields straight from Intl (the reference; zonedParts must agree with it). */
function intlFields(t: number, timeZone: string): number[] {
  let f = intlFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    intlFormats.set(timeZone, f);
  }
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(t))) out[p.type] = p.value;
  return [Number(out.year), Number(out.month), Number(out.day), Number(out.hour), Number(out.minute), Number(out.second), WEEKDAY[out.weekday]];
}

function intlOffset(t: number, timeZone: string): number {
  const [y, mo, d, h, mi, s] = intlFields(t, timeZone);
  return Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(t / 1000) * 1000;
}

function assertLikeIntl(t: number, zone: string): void {
  const p = zonedParts(t, zone);
  assert.deepStrictEqual([p.year, p.month, p.day, p.hour, p.minute, p.second, p.weekday], intlFields(t, zone), `${zone} at ${new Date(t).toISOString()}`);
}

/** Each instant in [from, to) at which the zone's offset changes (the first millisecond of the new offset), per Intl. */
function switches(zone: string, from: number, to: number): number[] {
  // A switch is months from the next in these zones: a grid of under a day cannot step over two.
  const found: number[] = [];
  let before = intlOffset(from, zone);
  for (let t = from + 20 * HOUR_MS; t < to + 20 * HOUR_MS; t += 20 * HOUR_MS) {
    const offset = intlOffset(t, zone);
    if (offset === before) continue;
    let lo = t - 20 * HOUR_MS; // old offset
    let hi = t; // new offset
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (intlOffset(mid, zone) === before) lo = mid;
      else hi = mid;
    }
    if (hi < to) found.push(hi);
    before = offset;
  }
  return found;
}

/** The instants around a switch where a per-hour cache can be wrong: either side of it, and of each hour's ends near it. */
function edges(at: number): number[] {
  const out = [at - 1000, at - 999, at - 1, at, at + 1, at + 999, at + 1000, at - 30 * 60_000, at + 30 * 60_000];
  const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
  for (let h = hour - 2 * HOUR_MS; h <= hour + 3 * HOUR_MS; h += HOUR_MS) out.push(h - 1, h, h + 1, h + 15 * 60_000, h + 45 * 60_000);
  return out;
}

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
    // Every 17 min 13.5 s of the day either side of each 2026 switch of these zones (northern and southern, 30-min Lord Howe),
    // each millisecond edge of each switch and of the UTC hours around it, and each second of the two minutes around
    // the US spring-forward instant (2026-03-08 08:00 UTC).
    for (const zone of ZONES) {
      const instants: number[] = [];
      for (const at of switches(zone, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))) {
        for (let t = at - DAY_MS; t < at + DAY_MS; t += 1_033_500) instants.push(t);
        instants.push(...edges(at));
      }
      for (let t = Date.UTC(2026, 2, 8, 7, 59, 0); t < Date.UTC(2026, 2, 8, 8, 1, 0); t += 1000) instants.push(t, t + 999);
      for (const t of instants) assertLikeIntl(t, zone);
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

describe('clock: zonedParts (offset cached per UTC hour) against Intl', () => {
  // The offset is cached per UTC hour; an hour in which it changes must go through Intl. Where that can go wrong is at
  // a switch and at the edges of the hours around it: those are checked to the millisecond, each switch found by
  // bisection between two samples of a grid that visits every hour of the day and every minute over the years.
  it('gives the fields Intl gives on a grid over two years and at each millisecond edge of each daylight-saving change', () => {
    const from = Date.UTC(2025, 0, 1);
    const to = Date.UTC(2027, 0, 1);
    for (const zone of ['America/Chicago', 'America/New_York', 'Europe/Paris', 'Australia/Lord_Howe', 'Asia/Kolkata']) {
      const found = switches(zone, from, to);
      // Two switches a year where there is daylight saving, none in Kolkata.
      assert.equal(found.length, zone === 'Asia/Kolkata' ? 0 : 4, `${zone}: ${found.map((t) => new Date(t).toISOString()).join(', ')}`);
      for (const at of found) for (const t of edges(at)) assertLikeIntl(t, zone);
      for (let t = from; t < to; t += GRID_MS) assertLikeIntl(t, zone);
    }
  });

  it('gives the fields Intl gives at any instant of two years, in any of the zones (random instants, seeded)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ZONES), fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2027, 0, 1) }), (zone, t) => {
        assertLikeIntl(t, zone);
      }),
      { numRuns: 2000, seed: Number(process.env.CLOCK_PROPERTY_SEED ?? 37) },
    );
  });
});
