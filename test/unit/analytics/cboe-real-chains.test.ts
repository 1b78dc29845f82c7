// Two real CBOE SPX chains (../shared/data/cboe, see its README) against the figures their publishers printed.
// Total GEX and walls come from the vendor's own gammas, as the publishers' do, and must match. The flip differs by
// method, and the last test shows by how much each shortcut of the publishers' scripts moves it.
import assert from 'node:assert/strict';
import { analyzeGamma } from '../../../lib/analytics/gamma-exposure';
import { settlementTime, yearsToExpiry } from '../../../lib/analytics/expiry';
import type { Chain } from '../../../lib/contracts';
import { newYorkDate } from '../../../lib/ibkr/options-chain';
import { CBOE_DIR, cboeAvailable, loadCboeChain } from '../../support/cboe';

interface Published {
  file: string;
  totalBn: number; // "Total Gamma: $… Bn per 1%", printed to 2 decimals
  flip: number; // "Gamma Flip: …", printed to the point
  callWall?: number;
  putWall?: number;
  esExpiry: string; // the ES front month's third Friday at the snapshot (ESH24, ESU22)
}

const CHAINS: Published[] = [
  { file: 'spx-2024-01-07.csv', totalBn: -11.0, flip: 4734, callWall: 4800, putWall: 4600, esExpiry: '20240315' },
  { file: 'spx-2022-07-12.csv', totalBn: -17.49, flip: 3984, esExpiry: '20220916' },
];

const phi = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** numpy.busday_count(a, b): weekdays in [a, b), negative when b < a. */
function businessDays(a: string, b: string): number {
  const day = (s: string): number => Date.UTC(Number(s.slice(0, 4)), Number(s.slice(4, 6)) - 1, Number(s.slice(6)));
  let [x, y, sign] = [day(a), day(b), 1];
  if (y < x) [x, y, sign] = [y, x, -1];
  let n = 0;
  for (let t = x; t < y; t += 86_400_000) if (![0, 6].includes(new Date(t).getUTCDay())) n++;
  return sign * n;
}

/**
 * The flip of a 60-level grid over 0.8–1.2 × spot (first sign change, linear interpolation), with the two choices the
 * publishers' scripts make and ours does not as switches: time in business days (a same-day or next-day expiry
 * counting 1/252 year) or in minutes to the settlement instant; gamma on spot with r = q = 0 or on each expiry's
 * put-call-parity forward (Black-76, the forwards our analysis reads from the chain). Gives the publishers' linear
 * interpolation in the bracketing grid step and the root itself (bisection), as ours finds it.
 */
function gridFlip(chain: Chain, time: 'business-days' | 'minutes', underlying: 'spot' | 'forward'): { interpolated: number; root: number } | null {
  const today = newYorkDate(chain.t);
  const byExpiry = analyzeGamma(chain).diagnostics.byExpiry;
  const forwardRatio = new Map(byExpiry.map((e) => [`${e.expiry}${e.settlement}`, e.forward / chain.spot]));
  const rows = chain.contracts.flatMap((q) => {
    const iv = q.iv ?? 0;
    const oi = q.openInterest ?? 0;
    const days = businessDays(today, q.expiry);
    const years = time === 'business-days' ? (days === 0 ? 1 : days) / 252 : (settlementTime(q.expiry, q.settlement) - chain.t) / 60_000 / (365 * 24 * 60);
    const k = underlying === 'forward' ? forwardRatio.get(`${q.expiry}${q.settlement}`) : 1;
    if (!(years > 0) || iv <= 0 || oi <= 0 || k === undefined) return [];
    return [{ strike: q.strike, sign: q.right === 'C' ? 1 : -1, iv, oi, years, k }];
  });
  const total = (x: number): number => {
    let s = 0;
    for (const r of rows) {
      const v = r.iv * Math.sqrt(r.years);
      s += (r.sign * r.oi * 100 * x * x * 0.01 * r.k * phi(Math.log((r.k * x) / r.strike) / v + v / 2)) / (x * v);
    }
    return s;
  };
  const levels = Array.from({ length: 60 }, (_, i) => chain.spot * (0.8 + (0.4 * i) / 59));
  const gex = levels.map(total);
  for (let i = 0; i + 1 < levels.length; i++) {
    if (Math.sign(gex[i]) === Math.sign(gex[i + 1])) continue;
    const interpolated = levels[i + 1] - ((levels[i + 1] - levels[i]) * gex[i + 1]) / (gex[i + 1] - gex[i]);
    let [lo, hi] = [levels[i], levels[i + 1]];
    while (hi - lo > 0.01) {
      const mid = (lo + hi) / 2;
      if (Math.sign(total(mid)) === Math.sign(gex[i])) lo = mid;
      else hi = mid;
    }
    return { interpolated, root: (lo + hi) / 2 };
  }
  return null;
}

describe('real CBOE SPX chains against their published figures', function () {
  for (const published of CHAINS) {
    describe(published.file, function () {
      let chain: Chain;
      before(function () {
        if (!cboeAvailable(published.file)) {
          console.log(`      skipped: ${published.file} not found in ${CBOE_DIR}`);
          this.skip();
        }
        chain = loadCboeChain(published.file);
      });

      it('gives the published total GEX on the whole chain (vendor gammas, $ per 1 % move)', () => {
        const { payload } = analyzeGamma(chain);
        assert.equal(Number((payload.totalGex / 1e9).toFixed(2)), published.totalBn);
      });

      if (published.callWall !== undefined) {
        it('puts the call wall and the put wall at the published strikes', () => {
          const { payload } = analyzeGamma(chain);
          assert.deepEqual([payload.callWall, payload.putWall], [published.callWall, published.putWall]);
        });
      }

      it('maps the levels to ES within 1 point of the parity forward of the SPX AM series ES settles on', () => {
        const { payload } = analyzeGamma(chain);
        // Independently: F = K + e^(rT)(C − P) at every strike within 1 % of spot where both sides quote, median.
        const years = yearsToExpiry(published.esExpiry, 'AM', chain.t, 0);
        const am = chain.contracts.filter((q) => q.expiry === published.esExpiry && q.settlement === 'AM');
        const mid = (right: 'C' | 'P', strike: number): number | null => {
          const q = am.find((x) => x.right === right && x.strike === strike);
          return q && q.bid !== null && q.ask !== null && q.bid > 0 && q.ask >= q.bid ? (q.bid + q.ask) / 2 : null;
        };
        const forwards = [...new Set(am.map((q) => q.strike))]
          .filter((k) => Math.abs(k / chain.spot - 1) <= 0.01)
          .flatMap((k) => {
            const [c, p] = [mid('C', k), mid('P', k)];
            return c === null || p === null ? [] : [k + Math.exp(0.045 * years) * (c - p)];
          })
          .sort((a, b) => a - b);
        assert.ok(forwards.length >= 5, `${forwards.length} strikes near the money`);
        const forward = forwards[forwards.length >> 1];
        const es = payload.es;
        assert.deepEqual([es.method, es.expiry], ['parity-forward', published.esExpiry]);
        for (const [spx, mapped] of [
          [payload.callWall, es.callWall],
          [payload.putWall, es.putWall],
          [payload.absGammaStrike, es.absGammaStrike],
          [payload.flip, es.flip],
        ] as const) {
          assert.ok(spx !== null && mapped !== null && Math.abs(mapped - (spx * forward) / chain.spot) <= 1, `${String(spx)} → ${String(mapped)}, forward ${forward}`);
        }
        // The fixed 4.5 % / 1.3 % guess it replaces is far off on both days (11.7 and 19.0 points here, measured).
        const guess = chain.spot * (Math.exp((0.045 - 0.013) * years) - 1);
        assert.ok(Math.abs(guess - (forward - chain.spot)) > 10, `guess ${guess} vs parity ${forward - chain.spot}`);
      });

      it('reproduces the published flip with the publishers’ shortcuts, and explains ours by method', function () {
        this.timeout(60_000);
        const ours = analyzeGamma(chain).payload.flip;
        assert.ok(ours !== null);
        // Their method (business days, spot, r = q = 0, linear interpolation) gives their figure to the printed point.
        const theirs = gridFlip(chain, 'business-days', 'spot');
        assert.ok(theirs !== null && Math.abs(theirs.interpolated - published.flip) <= 1.5, `publishers' method: ${String(theirs?.interpolated)} vs ${published.flip}`);
        // Ours is the same re-pricing with the shortcuts removed: minutes to each series' settlement instant, gamma
        // on each expiry's parity forward, the root itself rather than a chord across a 0.7 %-wide grid step (what
        // is left, about a point, is Black-76's discount factor e^(−rT) on the long-dated series).
        const both = gridFlip(chain, 'minutes', 'forward');
        assert.ok(both !== null && Math.abs(both.root - ours) <= 1.5, `minutes + forward ${String(both?.root)} vs ours ${ours}`);
        // So the whole gap is method, and it is not small: ours is 10–40 points lower on both chains. Measured:
        //   2024-01-07 (Sunday): published 4,734; forward alone 4,718; minutes alone 4,734; ours 4,717. The forward
        //     (above spot by the carry to each expiry) does it all; a weekend changes little in business days.
        //   2022-07-12 (11:55, 0DTE live): published 3,984; minutes alone 3,965; forward alone 3,979; both 3,960
        //     interpolated; ours (root) 3,957. 1/252 year for a series with 4 hours left flattens its gamma.
        assert.ok(published.flip - ours > 10 && published.flip - ours < 40, `ours ${ours} vs published ${published.flip}`);
        for (const partial of [gridFlip(chain, 'minutes', 'spot'), gridFlip(chain, 'business-days', 'forward')]) {
          assert.ok(partial !== null && partial.root < published.flip + 1 && partial.root > ours - 1, `one shortcut removed: ${String(partial?.root)}`);
        }
      });
    });
  }
});
