import { strict as assert } from 'assert';
import { buildSymbol, frontMonth, parseSymbol, quarterlyExpiry, symbolForms } from '../../../lib/sierra/symbols';

const chicagoNoon = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d, 18, 0, 0);

describe('sierra symbols', () => {
  it('builds the spellings Sierra Chart services use for ES December 2025', () => {
    const z25 = { root: 'ES', monthCode: 'Z' as const, year: 2025 };
    assert.deepEqual(symbolForms(z25), {
      'sierra-cme': 'ESZ25_FUT_CME',
      'exchange-suffix': 'ESZ25-CME',
      cqg: 'F.US.EPZ25',
      plain: 'ESZ25',
      'short-year': 'ESZ5',
    });
    assert.equal(buildSymbol({ root: 'MES', monthCode: 'M', year: 2025 }, 'cqg'), 'F.US.MESM25');
  });

  it('refuses a malformed root, month code or year instead of sending a wrong symbol', () => {
    assert.throws(() => buildSymbol({ root: 'es', monthCode: 'Z', year: 2025 }, 'plain'), /root/);
    assert.throws(() => buildSymbol({ root: 'ES', monthCode: 'A' as never, year: 2025 }, 'plain'), /Month code/);
    assert.throws(() => buildSymbol({ root: 'ES', monthCode: 'Z', year: 25 }, 'plain'), /year/);
  });

  it('parses every form back to the same contract', () => {
    for (const s of ['ESZ25', 'ESZ25_FUT_CME', 'ESZ25-CME', 'F.US.EPZ25']) {
      assert.deepEqual(parseSymbol(s), { root: 'ES', monthCode: 'Z', year: 2025 }, s);
    }
    assert.deepEqual(parseSymbol('ESH6', chicagoNoon(2025, 12, 1)), { root: 'ES', monthCode: 'H', year: 2026 });
    assert.throws(() => parseSymbol('SPX'), /Unrecognised/);
  });

  it('dates quarterly expiries on the third Friday', () => {
    assert.equal(quarterlyExpiry({ monthCode: 'Z', year: 2025 }), '20251219');
    assert.equal(quarterlyExpiry({ monthCode: 'H', year: 2026 }), '20260320');
    assert.equal(quarterlyExpiry({ monthCode: 'M', year: 2025 }), '20250620');
  });

  it('rolls the ES front month 8 calendar days before expiry', () => {
    // Z25 expires Fri 2025-12-19: roll date Thu 2025-12-11.
    assert.deepEqual(frontMonth(chicagoNoon(2025, 12, 10)), { root: 'ES', monthCode: 'Z', year: 2025 });
    assert.deepEqual(frontMonth(chicagoNoon(2025, 12, 11)), { root: 'ES', monthCode: 'H', year: 2026 });
    assert.deepEqual(frontMonth(chicagoNoon(2025, 12, 31)), { root: 'ES', monthCode: 'H', year: 2026 });
    assert.deepEqual(frontMonth(chicagoNoon(2025, 10, 1)), { root: 'ES', monthCode: 'Z', year: 2025 });
    assert.deepEqual(frontMonth(chicagoNoon(2026, 1, 15)), { root: 'ES', monthCode: 'H', year: 2026 });
    // H26 expires 2026-03-20 → roll 2026-03-12.
    assert.deepEqual(frontMonth(chicagoNoon(2026, 3, 11)), { root: 'ES', monthCode: 'H', year: 2026 });
    assert.deepEqual(frontMonth(chicagoNoon(2026, 3, 12)), { root: 'ES', monthCode: 'M', year: 2026 });
  });

  it('uses the Chicago calendar day, not UTC, around midnight', () => {
    // 2025-12-11 03:00 UTC is still 2025-12-10 in Chicago: Z25 remains the front month.
    assert.deepEqual(frontMonth(Date.UTC(2025, 11, 11, 3, 0, 0)).monthCode, 'Z');
  });
});
