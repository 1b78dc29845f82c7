import assert from 'node:assert/strict';
import fc from 'fast-check';
import { black76, blackScholes, erf, normCdf, normPdf } from '../../../lib/analytics/black-scholes';

function close(actual: number, expected: number, relTol: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
  assert.ok(err <= relTol, `${what}: got ${actual}, expected ${expected} (relative error ${err})`);
}

describe('normal distribution', () => {
  it('matches reference values of Φ and erf to ~1e-15 in the body of the distribution', () => {
    close(normCdf(0), 0.5, 1e-16, 'Φ(0)');
    close(normCdf(1), 0.8413447460685429, 1e-15, 'Φ(1)');
    close(normCdf(-1.96), 0.024997895148220435, 1e-14, 'Φ(−1.96)');
    close(erf(0.2), 0.2227025892104785, 1e-15, 'erf(0.2)');
    close(erf(-0.5), -0.5204998778130465, 1e-15, 'erf(−0.5)');
    close(erf(4), 0.9999999845827421, 1e-15, 'erf(4)');
    close(normPdf(0), 0.3989422804014327, 1e-16, 'φ(0)');
  });

  it('keeps relative accuracy far in the lower tail (far out-of-the-money options)', () => {
    close(normCdf(-5), 2.866515718791939e-7, 1e-13, 'Φ(−5)');
    close(normCdf(-10), 7.619853024160527e-24, 1e-12, 'Φ(−10)');
    close(normCdf(-30), 4.906713927148187e-198, 1e-10, 'Φ(−30)');
  });

  it('is symmetric: Φ(x) + Φ(−x) = 1', () => {
    fc.assert(
      fc.property(fc.double({ min: -40, max: 40, noNaN: true }), (x) => {
        assert.ok(Math.abs(normCdf(x) + normCdf(-x) - 1) < 2e-16 * 4);
      }),
    );
  });
});

describe('Black-76 and Black-Scholes', () => {
  it('reproduces the public Black-76 gamma vectors (analytics.md)', () => {
    const base = { F: 29267.25, sigma: 0.18, T: 0.019, r: 0, right: 'C' as const };
    close(black76({ ...base, K: 29000 }).gamma, 0.0005107053863433261, 1e-12, 'K = 29000');
    close(black76({ ...base, K: 28000 }).gamma, 0.0001094178164645857, 1e-12, 'K = 28000');
  });

  it('reproduces the public Black-Scholes gamma vector (analytics.md)', () => {
    const g = blackScholes({ S: 206.35, K: 206, T: 0.086, r: 0.0015, q: 0, sigma: 0.1, right: 'C' }).gamma;
    close(g, 0.06573105549942765, 1e-12, 'gamma');
  });

  it('prices an at-the-money call to the textbook value (Hull: S = K = 100, T = 1, r = 5 %, σ = 20 % → 10.4506)', () => {
    const c = blackScholes({ S: 100, K: 100, T: 1, r: 0.05, q: 0, sigma: 0.2, right: 'C' });
    close(c.price, 10.450583572185565, 1e-12, 'price');
    close(c.delta, 0.6368306511756191, 1e-12, 'delta');
  });

  it('satisfies put-call parity, equal gammas and delta parity for any inputs', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 50, max: 8000, noNaN: true }),
        fc.double({ min: 0.5, max: 1.5, noNaN: true }),
        fc.double({ min: 1e-4, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 0.08, noNaN: true }),
        fc.double({ min: 0, max: 0.05, noNaN: true }),
        fc.double({ min: 0.03, max: 1.5, noNaN: true }),
        (S, moneyness, T, r, q, sigma) => {
          const K = S * moneyness;
          const call = blackScholes({ S, K, T, r, q, sigma, right: 'C' });
          const put = blackScholes({ S, K, T, r, q, sigma, right: 'P' });
          const parity = S * Math.exp(-q * T) - K * Math.exp(-r * T);
          assert.ok(Math.abs(call.price - put.price - parity) <= 1e-9 * S, 'C − P = S·e^(−qT) − K·e^(−rT)');
          assert.ok(Math.abs(call.gamma - put.gamma) <= 1e-12 * Math.max(call.gamma, 1e-300));
          assert.ok(Math.abs(call.delta - put.delta - Math.exp(-q * T)) <= 1e-12);
          assert.ok(call.gamma >= 0 && call.price >= 0 && put.price >= 0);
        },
      ),
    );
  });

  it('Black-76 on F = S·e^((r−q)T) equals Black-Scholes on S (price; gamma scaled by dF/dS)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1000, max: 7000, noNaN: true }),
        fc.double({ min: 0.8, max: 1.2, noNaN: true }),
        fc.double({ min: 1e-3, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 0.06, noNaN: true }),
        fc.double({ min: 0, max: 0.03, noNaN: true }),
        fc.double({ min: 0.05, max: 0.8, noNaN: true }),
        (S, m, T, r, q, sigma) => {
          const K = S * m;
          const F = S * Math.exp((r - q) * T);
          for (const right of ['C', 'P'] as const) {
            const bs = blackScholes({ S, K, T, r, q, sigma, right });
            const b76 = black76({ F, K, T, r, sigma, right });
            const dFdS = Math.exp((r - q) * T);
            assert.ok(Math.abs(bs.price - b76.price) <= 1e-9 * S);
            assert.ok(Math.abs(bs.gamma - b76.gamma * dFdS * dFdS) <= 1e-9 * Math.max(bs.gamma, 1e-12));
          }
        },
      ),
    );
  });

  it('values an expired option at intrinsic with zero gamma', () => {
    const c = blackScholes({ S: 5010, K: 5000, T: 0, r: 0.05, q: 0, sigma: 0.2, right: 'C' });
    assert.deepEqual(c, { price: 10, delta: 1, gamma: 0 });
    const p = black76({ F: 5010, K: 5000, T: 0, r: 0.05, sigma: 0.2, right: 'P' });
    assert.deepEqual(p, { price: 0, delta: 0, gamma: 0 });
  });

  it('rejects a non-positive spot or strike with a message naming the field', () => {
    assert.throws(() => blackScholes({ S: 0, K: 100, T: 1, r: 0, q: 0, sigma: 0.2, right: 'C' }), /S must be a positive/);
    assert.throws(() => black76({ F: 100, K: Number.NaN, T: 1, r: 0, sigma: 0.2, right: 'P' }), /K must be a positive/);
  });
});
