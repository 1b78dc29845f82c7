import { strict as assert } from 'assert';
import { buildSymbol, frontMonthSymbol, parseSymbol, symbolForms } from '../../../lib/sierra/symbols';

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

  it('spells the registry front month in the chosen format, rolling with it', () => {
    // Z25 expires Fri 2025-12-19: roll date Thu 2025-12-11 (lib/trading/instruments.ts decides, this only spells).
    assert.equal(frontMonthSymbol('ES', chicagoNoon(2025, 12, 10), 'sierra-cme'), 'ESZ25_FUT_CME');
    assert.equal(frontMonthSymbol('ES', chicagoNoon(2025, 12, 11), 'sierra-cme'), 'ESH26_FUT_CME');
    assert.equal(frontMonthSymbol('MES', chicagoNoon(2026, 6, 10), 'cqg'), 'F.US.MESU26');
    assert.equal(frontMonthSymbol('ES', chicagoNoon(2026, 6, 9), 'exchange-suffix'), 'ESM26-CME');
    assert.throws(() => frontMonthSymbol('CL', chicagoNoon(2026, 6, 9), 'plain'), /not in the instrument registry/);
  });
});
