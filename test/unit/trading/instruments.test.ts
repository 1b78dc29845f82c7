import { strict as assert } from 'assert';
import { zonedTime, CHICAGO } from '../../../lib/clock';
import {
  contractDates,
  contractOfExpiry,
  describeFront,
  parseContractCode,
  findInstrument,
  frontMonth,
  instrument,
  INSTRUMENTS,
  nextContract,
  pickListedContract,
  type MonthCode,
} from '../../../lib/trading/instruments';

const chicago = (y: number, m: number, d: number, h = 12): number => zonedTime(CHICAGO, y, m, d, h, 0);
const es = (monthCode: MonthCode, year: number) => contractDates({ root: 'ES', monthCode, year });

describe('instrument registry', () => {
  it('knows tick size, point value and tick value of ES, MES, NQ and MNQ (CME contract specs)', () => {
    const table = Object.fromEntries(INSTRUMENTS.map((i) => [i.root, [i.tickSize, i.pointValue, i.tickValue, i.currency, i.exchange]]));
    assert.deepEqual(table, {
      ES: [0.25, 50, 12.5, 'USD', 'CME'],
      MES: [0.25, 5, 1.25, 'USD', 'CME'],
      NQ: [0.25, 20, 5, 'USD', 'CME'],
      MNQ: [0.25, 2, 0.5, 'USD', 'CME'],
    });
    assert.equal(instrument('mes').pointValue, 5);
    assert.equal(findInstrument('CL'), undefined);
    assert.throws(() => instrument('CL'), /not in the instrument registry/);
  });

  it('gives the published expiries of the 2024 ES contracts', () => {
    // CME: ESH24 expired 2024-03-15, ESM24 2024-06-21, ESU24 2024-09-20, ESZ24 2024-12-20.
    assert.deepEqual(['H', 'M', 'U', 'Z'].map((m) => es(m as MonthCode, 2024).expiry), ['20240315', '20240621', '20240920', '20241220']);
  });

  it('moves an expiry off a holiday third Friday to the business day before', () => {
    // Good Friday 2008-03-21: CME expired the March 2008 equity index futures on Thursday 2008-03-20.
    assert.equal(es('H', 2008).expiry, '20080320');
    // NYSE closed for Juneteenth on Friday 2026-06-19 (and on Friday 2027-06-18, Juneteenth falling on a Saturday).
    assert.equal(es('M', 2026).expiry, '20260618');
    assert.equal(es('M', 2027).expiry, '20270617');
    assert.equal(contractDates({ root: 'MES', monthCode: 'M', year: 2026 }).expiry, '20260618');
    // Good Friday 2025-04-18 is the third Friday of April, not a quarterly month: ES is not concerned.
    assert.equal(es('M', 2025).expiry, '20250620');
  });

  it('rolls 8 calendar days before the real expiry, several years running', () => {
    const rolls = (year: number): string[] => ['H', 'M', 'U', 'Z'].map((m) => es(m as MonthCode, year).rollDate);
    assert.deepEqual(rolls(2024), ['20240307', '20240613', '20240912', '20241212']);
    assert.deepEqual(rolls(2025), ['20250313', '20250612', '20250911', '20251211']);
    assert.deepEqual(rolls(2026), ['20260312', '20260610', '20260910', '20261210']); // June: 8 days before Thursday 06-18
    assert.deepEqual(rolls(2027), ['20270311', '20270609', '20270909', '20271209']);
    assert.equal(es('H', 2008).rollDate, '20080312');
  });

  it('names the front month by the Chicago date, switching on the roll date', () => {
    assert.equal(frontMonth('ES', chicago(2026, 6, 9)).code, 'ESM26');
    assert.equal(frontMonth('ES', chicago(2026, 6, 10, 0)).code, 'ESU26'); // the Juneteenth-adjusted roll date
    assert.equal(frontMonth('ES', chicago(2026, 6, 9, 23)).code, 'ESM26');
    assert.equal(frontMonth('ES', chicago(2026, 12, 9)).code, 'ESZ26');
    assert.equal(frontMonth('ES', chicago(2026, 12, 10)).code, 'ESH27');
    assert.equal(frontMonth('ES', chicago(2026, 12, 31)).code, 'ESH27');
    assert.equal(frontMonth('ES', chicago(2027, 1, 15)).code, 'ESH27');
    assert.equal(frontMonth('MNQ', chicago(2026, 4, 1)).code, 'MNQM26');
    // 2025-12-11 03:00 UTC is still 2025-12-10 in Chicago: before the roll.
    assert.equal(frontMonth('ES', Date.UTC(2025, 11, 11, 3)).code, 'ESZ25');
    assert.equal(frontMonth('ES', Date.UTC(2025, 11, 11, 7)).code, 'ESH26');
  });

  it('never names an expired contract or skips the next one (every day 2024-2030)', () => {
    for (let t = chicago(2024, 1, 1); t < chicago(2030, 12, 31); t += 86_400_000) {
      const front = frontMonth('ES', t);
      const today = new Date(t).toISOString().slice(0, 10).replace(/-/g, '');
      assert.ok(front.rollDate > today, `${front.code} on ${today}`);
      const before = nextContract(front); // the contract after the front must roll later
      assert.ok(contractDates(before).rollDate > front.rollDate);
    }
  });

  it('describes the front month for the editor', () => {
    assert.equal(describeFront(frontMonth('ES', chicago(2026, 12, 6))), 'ESZ26 (E-mini S&P 500), expires 2026-12-18, rolls to ESH27 on 2026-12-10');
  });

  it('picks the IBKR conid by the contract month, whatever day IBKR gives as the expiry', () => {
    const listed = [
      { conid: 3, expirationDate: '20260918' },
      { conid: 1, expirationDate: '20260320' },
      { conid: 2, expirationDate: '20260619' }, // a list that ignores Juneteenth still names June
    ];
    assert.equal(pickListedContract({ root: 'ES', monthCode: 'M', year: 2026 }, listed).conid, 2);
    assert.throws(() => pickListedContract({ root: 'ES', monthCode: 'Z', year: 2026 }, listed), /lists no ESZ26/);
    assert.throws(() => pickListedContract({ root: 'ES', monthCode: 'M', year: 2026 }, [...listed, { conid: 9, expirationDate: '20260601' }]), /2 contracts/);
  });

  it('names the contract of an IBKR expiry date', () => {
    assert.equal(contractOfExpiry('ES', '20260618')?.code, 'ESM26');
    assert.equal(contractOfExpiry('MNQ', '20261218')?.code, 'MNQZ26');
    assert.equal(contractOfExpiry('ES', '20260417'), null, 'April is not an ES month');
    assert.equal(contractOfExpiry('CL', '20261120'), null);
  });

  it('reads a contract code back', () => {
    assert.deepEqual(parseContractCode('MESU26'), contractDates({ root: 'MES', monthCode: 'U', year: 2026 }));
    assert.equal(parseContractCode('ESM26')?.expiry, '20260618');
    assert.equal(parseContractCode('ESF26'), null, 'January is not an ES month');
    assert.equal(parseContractCode('CLZ26'), null);
    assert.equal(parseContractCode('ESZ26_FUT_CME'), null, 'a Sierra spelling is lib/sierra/symbols.ts business');
  });

  it('refuses a month the instrument is not listed in', () => {
    assert.throws(() => contractDates({ root: 'ES', monthCode: 'F', year: 2026 }), /listed in H M U Z/);
  });
});
