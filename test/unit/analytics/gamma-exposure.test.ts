import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NEW_YORK, zonedTime } from '../../../lib/clock';
import type { Chain, OptionQuote } from '../../../lib/contracts';
import { blackScholes } from '../../../lib/analytics/black-scholes';
import { isExpired, yearsToExpiry } from '../../../lib/analytics/expiry';
import { analyzeGamma, parityForward } from '../../../lib/analytics/gamma-exposure';

const NOW = zonedTime(NEW_YORK, 2025, 3, 11, 10, 0); // Tuesday 10:00 ET
const SPOT = 5000;
const FLAT = { rate: 0, dividendYield: 0 };

function option(strike: number, right: 'C' | 'P', oi: number, iv: number | null, extra: Partial<OptionQuote> = {}): OptionQuote {
  return {
    conid: Math.round(strike * 10) + (right === 'C' ? 1 : 2),
    expiry: '20250411',
    settlement: 'PM',
    tradingClass: 'SPXW',
    strike,
    right,
    bid: null,
    ask: null,
    last: null,
    iv,
    delta: null,
    gamma: null,
    openInterest: oi,
    volume: 0,
    ...extra,
  };
}

const chainOf = (contracts: OptionQuote[], spot = SPOT): Chain => ({ underlying: 'SPX', spot, t: NOW, contracts });

describe('gamma exposure per contract and per strike', () => {
  it('matches Black-Scholes gamma × OI × 100 × S² × 1 % for each strike, calls + and puts −', () => {
    const chain = chainOf([option(5000, 'C', 1000, 0.15), option(4900, 'P', 2000, 0.2)]);
    const { payload } = analyzeGamma(chain, { rate: 0.04, dividendYield: 0.01 });
    const T = yearsToExpiry('20250411', 'PM', NOW, 15);
    const g = (K: number, sigma: number): number => blackScholes({ S: SPOT, K, T, r: 0.04, q: 0.01, sigma, right: 'C' }).gamma;
    const call = payload.byStrike.find((r) => r.strike === 5000);
    const put = payload.byStrike.find((r) => r.strike === 4900);
    assert.ok(Math.abs((call?.callGex ?? 0) / (g(5000, 0.15) * 1000 * 100 * SPOT * SPOT * 0.01) - 1) < 1e-12);
    assert.ok(Math.abs((put?.putGex ?? 0) / (-g(4900, 0.2) * 2000 * 100 * SPOT * SPOT * 0.01) - 1) < 1e-12);
    assert.equal(payload.totalGex, (call?.netGex ?? 0) + (put?.netGex ?? 0));
  });

  it('reports $ per point as Γ·OI·100·S, i.e. the per-1 % figure ÷ (S·1 %)', () => {
    const chain = chainOf([option(5000, 'C', 1000, 0.15), option(4950, 'P', 700, 0.18)]);
    const pct = analyzeGamma(chain, FLAT).payload;
    const pt = analyzeGamma(chain, { ...FLAT, unit: 'per-point' }).payload;
    assert.equal(pt.unit, 'per-point');
    assert.ok(Math.abs(pt.totalGex * SPOT * 0.01 - pct.totalGex) < 1e-6 * Math.abs(pct.totalGex));
  });

  it('finds the call wall, put wall and absolute gamma strike of a hand-built chain', () => {
    const chain = chainOf([
      option(4900, 'P', 9000, 0.2), // the largest put exposure
      option(4950, 'P', 3000, 0.18),
      option(5000, 'C', 6000, 0.15),
      option(5000, 'P', 6000, 0.15), // ATM: most total gamma, calls and puts together
      option(5100, 'C', 8000, 0.13), // the largest call exposure
    ]);
    const { payload } = analyzeGamma(chain, FLAT);
    assert.equal(payload.callWall, 5100);
    assert.equal(payload.putWall, 4900);
    assert.equal(payload.absGammaStrike, 5000);
    assert.deepEqual(payload.byStrike.map((r) => r.strike), [4900, 4950, 5000, 5100]);
  });

  it('negates every exposure, and keeps the walls and flip, when the sign convention flips', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            strike: fc.integer({ min: 90, max: 110 }).map((k) => k * 50),
            right: fc.constantFrom<'C' | 'P'>('C', 'P'),
            oi: fc.integer({ min: 1, max: 20000 }),
            iv: fc.double({ min: 0.08, max: 0.6, noNaN: true }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (rows) => {
          const chain = chainOf(rows.map((r) => option(r.strike, r.right, r.oi, r.iv)));
          const a = analyzeGamma(chain, FLAT).payload;
          const b = analyzeGamma(chain, { ...FLAT, convention: 'dealer-short-calls' }).payload;
          assert.ok(Math.abs(a.totalGex + b.totalGex) <= 1e-9 * Math.abs(a.totalGex));
          a.byStrike.forEach((row, i) => {
            assert.ok(Math.abs(row.netGex + b.byStrike[i].netGex) <= 1e-9 * Math.abs(row.netGex) + 1e-9);
          });
          a.profile.forEach((p, i) => assert.ok(Math.abs(p.gex + b.profile[i].gex) <= 1e-9 * Math.abs(p.gex) + 1e-9));
          assert.deepEqual([a.callWall, a.putWall, a.absGammaStrike], [b.callWall, b.putWall, b.absGammaStrike]);
          assert.equal(a.flip === null, b.flip === null);
          if (a.flip !== null && b.flip !== null) assert.ok(Math.abs(a.flip - b.flip) < 0.05);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('uses the chain’s own gamma when it carries one', () => {
    const chain = chainOf([option(5000, 'C', 100, null, { gamma: 0.002 })]);
    const { payload, diagnostics } = analyzeGamma(chain, FLAT);
    assert.equal(payload.totalGex, 0.002 * 100 * 100 * SPOT * SPOT * 0.01);
    assert.deepEqual([diagnostics.vendorGamma, diagnostics.notRepriced], [1, 1]);
  });
});

describe('zero-gamma flip', () => {
  it('puts the flip at spot for a chain symmetric around spot (puts below mirror calls above in d1)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ delta: fc.double({ min: 0.05, max: 2.5, noNaN: true }), oi: fc.integer({ min: 1, max: 50000 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.double({ min: 0.08, max: 0.5, noNaN: true }),
        (pairs, sigma) => {
          const T = yearsToExpiry('20250411', 'PM', NOW, 15);
          const v = sigma * Math.sqrt(T);
          const contracts = pairs.flatMap(({ delta, oi }) => [
            // d1(call at spot) = −δ, d1(put at spot) = +δ: equal gamma at spot, calls win above, puts below
            option(SPOT * Math.exp((delta + v / 2) * v), 'C', oi, sigma),
            option(SPOT * Math.exp((v / 2 - delta) * v), 'P', oi, sigma),
          ]);
          const { payload } = analyzeGamma(chainOf(contracts), FLAT);
          assert.ok(payload.flip !== null && Math.abs(payload.flip - SPOT) < 0.01, `flip ${payload.flip}`);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('re-prices the chain to a true zero of total GEX, closer to spot than any other crossing', () => {
    const contracts: OptionQuote[] = [];
    for (let k = 4500; k <= 5500; k += 25) {
      const skew = 0.15 + (5000 - k) / 4000; // puts richer, as in SPX
      contracts.push(
        option(k, 'C', 4000 + ((k * 7) % 3000), skew),
        option(k, 'P', (k < 5000 ? 6000 : 1500) + ((k * 13) % 2000), skew),
      );
    }
    const { payload, diagnostics } = analyzeGamma(chainOf(contracts), FLAT);
    assert.ok(payload.flip !== null);
    const flip = payload.flip;
    const at = (x: number): number => analyzeGamma(chainOf(contracts, x), FLAT).payload.totalGex;
    assert.ok(Math.sign(at(flip - 0.5)) !== Math.sign(at(flip + 0.5)), 'total GEX changes sign across the flip');
    assert.ok(diagnostics.chainEvaluations < 60 + 40, `evaluations ${diagnostics.chainEvaluations}`);
    assert.equal(payload.profile.length, 60);
    assert.equal(payload.profile[0].spot, SPOT * 0.8);
    assert.ok(Math.abs(payload.profile[59].spot - SPOT * 1.2) < 1e-9);
  });

  it('reports no flip when the chain holds only calls (no crossing)', () => {
    const { payload } = analyzeGamma(chainOf([option(5000, 'C', 100, 0.2)]), FLAT);
    assert.equal(payload.flip, null);
    assert.equal(payload.es.flip, null);
  });
});

describe('expiries, forwards and ES levels', () => {
  it('drops AM series on expiry morning and PM series after 16:00 ET; floors 0DTE time', () => {
    const third = '20250321'; // SPX monthly, AM-settled on Friday 21 March 2025
    assert.equal(isExpired(third, 'AM', zonedTime(NEW_YORK, 2025, 3, 20, 15, 59)), false);
    assert.equal(isExpired(third, 'AM', zonedTime(NEW_YORK, 2025, 3, 21, 8, 0)), true);
    assert.equal(isExpired(third, 'PM', zonedTime(NEW_YORK, 2025, 3, 21, 15, 59)), false);
    assert.equal(isExpired(third, 'PM', zonedTime(NEW_YORK, 2025, 3, 21, 16, 0)), true);
    assert.equal(yearsToExpiry('20250311', 'PM', NOW, 0), 360 / 525600); // 10:00 → 16:00 ET, in minutes
    assert.equal(yearsToExpiry('20250311', 'PM', zonedTime(NEW_YORK, 2025, 3, 11, 15, 55), 15), 15 / 525600);
    const chain = chainOf([
      option(5000, 'C', 10, 0.2, { expiry: '20250311', settlement: 'AM' }), // dead this morning
      option(5000, 'C', 10, 0.2, { expiry: '20250311', settlement: 'PM' }),
    ]);
    const { diagnostics } = analyzeGamma(chain, FLAT);
    assert.deepEqual([diagnostics.expiredDropped, diagnostics.contractsUsed], [1, 1]);
    assert.equal(analyzeGamma(chain, { ...FLAT, includeZeroDte: false }).diagnostics.contractsUsed, 0);
  });

  it('reads each expiry’s forward from put-call parity where both sides quote', () => {
    const T = yearsToExpiry('20250411', 'PM', NOW, 15);
    const F = 5012.5;
    const r = 0.04;
    const df = Math.exp(-r * T);
    const quotes = [4950, 5000, 5050].flatMap((K) => {
      const c = Math.max(F - K, 0) * df + 40;
      const p = c - (F - K) * df;
      return [option(K, 'C', 10, 0.15, { bid: c - 0.5, ask: c + 0.5 }), option(K, 'P', 10, 0.15, { bid: p - 0.5, ask: p + 0.5 })];
    });
    assert.ok(Math.abs((parityForward(quotes, T, r) ?? 0) - F) < 1e-9);
    const { diagnostics } = analyzeGamma(chainOf(quotes), { rate: r });
    assert.equal(diagnostics.byExpiry[0].forwardMethod, 'put-call-parity');
    assert.ok(Math.abs(diagnostics.byExpiry[0].forward - F) < 1e-9);
  });

  it('maps levels to ES by the observed basis when an ES price is given, else (no SPX AM series of the ES expiry) by a fixed rate, and says which', () => {
    const chain = chainOf([option(5100, 'C', 1000, 0.15), option(4900, 'P', 1000, 0.2)]);
    const observed = analyzeGamma(chain, FLAT, { esPrice: 5031.25 }).payload.es;
    assert.deepEqual([observed.method, observed.basis, observed.callWall, observed.putWall], ['observed-basis', 31.25, 5131.25, 4931.25]);
    const fair = analyzeGamma(chain, { rate: 0.045, dividendYield: 0.013 }).payload.es;
    assert.equal(fair.method, 'fixed-rate');
    // front ES on 11 March 2025 is June (March rolled on the 13th? no: roll is 8 days before 21 March = 13 March)
    const years = Math.floor((zonedTime(NEW_YORK, 2025, 3, 21, 9, 30) - NOW) / 60000) / 525600;
    assert.ok(Math.abs(fair.basis - SPOT * (Math.exp(0.032 * years) - 1)) < 1e-9);
    assert.ok(Math.abs((fair.callWall ?? 0) - 5100 * Math.exp(0.032 * years)) < 1e-9);
  });

  it('maps levels to ES by the parity forward of the SPX AM series that settles with the ES front month', () => {
    // 11 March 2025: the front ES is March (rolls on the 13th), settling at the 21 March SOQ like SPX 20250321 AM.
    const T = yearsToExpiry('20250321', 'AM', NOW, 0);
    const F = 5017.25;
    const r = 0.043;
    const df = Math.exp(-r * T);
    const am = [4980, 4990, 5000, 5010, 5020, 5030, 5040, 5050].flatMap((K) => {
      const c = Math.max(F - K, 0) * df + 30;
      const p = c - (F - K) * df;
      const skew = K === 5010 ? 15 : 0; // one stale put: the median ignores it
      return [
        option(K, 'C', 0, 0.15, { expiry: '20250321', settlement: 'AM', tradingClass: 'SPX', bid: c - 0.25, ask: c + 0.25 }),
        option(K, 'P', 0, 0.15, { expiry: '20250321', settlement: 'AM', tradingClass: 'SPX', bid: p - 0.25 + skew, ask: p + 0.25 + skew }),
      ];
    });
    const chain = chainOf([option(5100, 'C', 1000, 0.15), option(4900, 'P', 1000, 0.2), ...am]);
    const es = analyzeGamma(chain, { rate: r, dividendYield: 0.013 }).payload.es;
    assert.equal(es.method, 'parity-forward');
    assert.equal(es.expiry, '20250321');
    assert.ok(Math.abs((es.reference ?? 0) - F) < 1e-6, `forward ${String(es.reference)}`);
    assert.ok(Math.abs((es.callWall ?? 0) - (5100 * F) / SPOT) < 1e-6);
    assert.ok(Math.abs(es.basis - (F - SPOT)) < 1e-6);
    // A holiday on the third Friday moves the AM settlement a day earlier: that series is the one.
    const moved = chainOf([option(5100, 'C', 1000, 0.15), option(4900, 'P', 1000, 0.2), ...am.map((q) => ({ ...q, expiry: '20250320' }))]);
    const esMoved = analyzeGamma(moved, { rate: r, dividendYield: 0.013 }).payload.es;
    assert.deepEqual([esMoved.method, esMoved.expiry], ['parity-forward', '20250320']);
    // Without that series (here: only the PM series of the same date), the fixed rate, labelled as such.
    const pmOnly = chainOf([option(5100, 'C', 1000, 0.15), option(4900, 'P', 1000, 0.2), ...am.map((q) => ({ ...q, settlement: 'PM' as const, tradingClass: 'SPXW' }))]);
    assert.equal(analyzeGamma(pmOnly, { rate: r, dividendYield: 0.013 }).payload.es.method, 'fixed-rate');
  });

  it('rejects a malformed chain with a message naming the contract and field', () => {
    assert.throws(() => analyzeGamma({ underlying: 'SPX', spot: -1, t: NOW, contracts: [] }), /spot must be a positive price/);
    const bad = chainOf([option(5000, 'C', 1, 0.2), { ...option(5000, 'P', 1, 0.2), right: 'X' as 'P' }]);
    assert.throws(() => analyzeGamma(bad), /contract #1 right must be "C" or "P"/);
    const scope = { rule: 'r', classes: ['SPXW'], expiries: ['20250411 SPXW'], leftOut: [], strikeBand: { lo: 4900, hi: 5100 }, strikes: { taken: 3, listed: 9 } };
    assert.doesNotThrow(() => analyzeGamma({ ...chainOf([option(5000, 'C', 1, 0.2)]), scope }));
    assert.throws(() => analyzeGamma({ ...chainOf([option(5000, 'C', 1, 0.2)]), scope: { ...scope, strikeBand: { lo: 5100, hi: 4900 } } }), /scope strikeBand/);
    assert.throws(() => analyzeGamma({ ...chainOf([option(5000, 'C', 1, 0.2)]), scope: { ...scope, measured: { openInterest: 2, gamma: 0.5 } } }), /scope measured/);
  });
});
