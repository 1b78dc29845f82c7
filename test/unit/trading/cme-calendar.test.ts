import { strict as assert } from 'assert';
import {
  businessDayOnOrBefore,
  businessDaysBetween,
  chicagoDay,
  cmeHolidays,
  dayNumber,
  dayOfYyyymmdd,
  easterSunday,
  holidayName,
  isBusinessDay,
  isoDate,
  nextBusinessDay,
  previousBusinessDay,
  thirdFriday,
  yyyymmdd,
} from '../../../lib/trading/cme-calendar';

const day = (iso: string): number => dayOfYyyymmdd(iso.replace(/-/g, ''));
const dates = (year: number): string[] => cmeHolidays(year).map((h) => isoDate(h.day));

describe('CME calendar', () => {
  it('computes Easter Sunday for years with published dates', () => {
    // Easter dates as published (e.g. the US Naval Observatory table).
    const easter: Record<number, string> = { 2008: '2008-03-23', 2019: '2019-04-21', 2024: '2024-03-31', 2025: '2025-04-20', 2026: '2026-04-05', 2038: '2038-04-25' };
    for (const [year, iso] of Object.entries(easter)) assert.equal(isoDate(easterSunday(Number(year))), iso, year);
  });

  it('lists the NYSE/CME equity holidays of 2024 and 2025 as published', () => {
    // nyse.com/markets/hours-calendars (2024, 2025); Carter's day of mourning 2025-01-09 was unscheduled, not a rule.
    assert.deepEqual(dates(2024), ['2024-01-01', '2024-01-15', '2024-02-19', '2024-03-29', '2024-05-27', '2024-06-19', '2024-07-04', '2024-09-02', '2024-11-28', '2024-12-25']);
    assert.deepEqual(dates(2025), ['2025-01-01', '2025-01-20', '2025-02-17', '2025-04-18', '2025-05-26', '2025-06-19', '2025-07-04', '2025-09-01', '2025-11-27', '2025-12-25']);
    assert.deepEqual(dates(2026), ['2026-01-01', '2026-01-19', '2026-02-16', '2026-04-03', '2026-05-25', '2026-06-19', '2026-07-03', '2026-09-07', '2026-11-26', '2026-12-25']);
  });

  it('moves a Sunday holiday to Monday and a Saturday one to Friday, but never New Year to the Friday before', () => {
    // 2022: Juneteenth on Sunday → Monday 06-20 (its first year); Christmas on Sunday → Monday 12-26;
    // New Year 2022 fell on a Saturday: NYSE stayed open on Friday 2021-12-31.
    assert.deepEqual(dates(2022), ['2022-01-17', '2022-02-21', '2022-04-15', '2022-05-30', '2022-06-20', '2022-07-04', '2022-09-05', '2022-11-24', '2022-12-26']);
    assert.equal(holidayName(day('2021-12-31')), null);
    assert.equal(holidayName(day('2021-12-24')), 'Christmas Day'); // Christmas 2021 on a Saturday
    assert.equal(holidayName(day('2023-01-02')), "New Year's Day"); // New Year 2023 on a Sunday
    assert.equal(holidayName(day('2026-07-03')), 'Independence Day'); // July 4th 2026 on a Saturday
    assert.equal(holidayName(day('2027-06-18')), 'Juneteenth'); // June 19th 2027 on a Saturday
  });

  it('has no Juneteenth before 2022', () => {
    assert.ok(!cmeHolidays(2021).some((h) => h.name === 'Juneteenth'));
    assert.ok(isBusinessDay(day('2021-06-18')));
  });

  it('steps over weekends and holidays', () => {
    assert.equal(isoDate(previousBusinessDay(day('2024-04-01'))), '2024-03-28'); // Monday after Good Friday
    assert.equal(isoDate(nextBusinessDay(day('2024-03-28'))), '2024-04-01');
    assert.equal(isoDate(businessDayOnOrBefore(day('2026-06-19'))), '2026-06-18');
    assert.equal(isoDate(businessDayOnOrBefore(day('2026-06-17'))), '2026-06-17');
    assert.equal(businessDaysBetween(day('2024-12-20'), day('2024-12-27')), 4); // 23, 24, 26, 27 (25th a holiday)
    assert.equal(businessDaysBetween(day('2024-12-27'), day('2024-12-20')), -4);
    assert.ok(!isBusinessDay(day('2024-12-21')));
  });

  it('finds third Fridays', () => {
    assert.equal(isoDate(thirdFriday(2024, 3)), '2024-03-15');
    assert.equal(isoDate(thirdFriday(2008, 3)), '2008-03-21');
    assert.equal(isoDate(thirdFriday(2026, 6)), '2026-06-19');
  });

  it('dates an instant by its Chicago calendar date', () => {
    // 2026-03-09 04:30 UTC is 2026-03-08 23:30 CDT (daylight time started that morning).
    assert.equal(yyyymmdd(chicagoDay(Date.UTC(2026, 2, 9, 4, 30))), '20260308');
    assert.equal(yyyymmdd(chicagoDay(Date.UTC(2026, 2, 9, 5, 30))), '20260309');
    assert.equal(chicagoDay(Date.UTC(2026, 0, 1, 12)), dayNumber(2026, 1, 1));
  });

  it('refuses a malformed date and a year outside the calendar', () => {
    assert.throws(() => dayOfYyyymmdd('20260230'), /not a calendar date/);
    assert.throws(() => dayOfYyyymmdd('2026-01-01'), /YYYYMMDD/);
    assert.throws(() => cmeHolidays(1800), /outside/);
  });
});
