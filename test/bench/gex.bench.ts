// gex.full.20k: ms for the full gamma analysis of a 20,000-option SPX chain (GEX per strike, walls, zero-gamma flip
// by grid + Brent, 60-point profile). Baseline, measured in the same run: a naive 200-level profile that calls
// blackScholes() for every contract at every level (analytics.md §5: "gamma profile, 20,000 options × 200 levels").
// Run: node --expose-gc --import tsx test/bench/gex.bench.ts
import { NEW_YORK, zonedTime } from '../../lib/clock';
import type { Chain, OptionQuote } from '../../lib/contracts';
import { blackScholes } from '../../lib/analytics/black-scholes';
import { yearsToExpiry } from '../../lib/analytics/expiry';
import { analyzeGamma } from '../../lib/analytics/gamma-exposure';
import { report } from './harness';

const NOW = zonedTime(NEW_YORK, 2025, 3, 11, 10, 0);
const SPOT = 5000;
const EXPIRIES = ['20250311', '20250312', '20250313', '20250314', '20250317', '20250318', '20250321', '20250331', '20250430', '20250620'];
const STRIKES_PER_EXPIRY = 1000;

function buildChain(): Chain {
  const contracts: OptionQuote[] = [];
  let seed = 9;
  const rnd = (): number => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  for (const expiry of EXPIRIES) {
    for (let j = 0; j < STRIKES_PER_EXPIRY; j++) {
      const strike = 2500 + j * 5;
      const iv = Math.max(0.08, 0.16 + (SPOT - strike) / 8000);
      for (const right of ['C', 'P'] as const) {
        const T = yearsToExpiry(expiry, 'PM', NOW, 15);
        const price = blackScholes({ S: SPOT, K: strike, T, r: 0.045, q: 0.013, sigma: iv, right }).price;
        contracts.push({
          conid: contracts.length, expiry, settlement: 'PM', tradingClass: 'SPXW', strike, right,
          bid: Math.max(price - 0.1, 0), ask: price + 0.1, last: null, iv, delta: null, gamma: null,
          openInterest: Math.floor(rnd() * 5000 * Math.exp(-Math.abs(strike - SPOT) / 400)), volume: 0,
        });
      }
    }
  }
  return { underlying: 'SPX', spot: SPOT, t: NOW, contracts };
}

/** The naive way: re-run Black-Scholes for every contract at each of 200 spot levels. */
function naiveProfile(chain: Chain, levels: number): number {
  let checksum = 0;
  for (let k = 0; k < levels; k++) {
    const x = SPOT * (0.8 + (0.4 * k) / (levels - 1));
    let total = 0;
    for (const q of chain.contracts) {
      if (!q.openInterest || !q.iv) continue;
      const T = yearsToExpiry(q.expiry, q.settlement, NOW, 15);
      const g = blackScholes({ S: x, K: q.strike, T, r: 0.045, q: 0.013, sigma: q.iv, right: q.right }).gamma;
      total += (q.right === 'C' ? 1 : -1) * g * q.openInterest * 100 * x * x * 0.01;
    }
    checksum += total;
  }
  return checksum;
}

function medianMs(runs: number, fn: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const chain = buildChain();
for (let i = 0; i < 5; i++) analyzeGamma(chain); // warm up the JIT
const ours = medianMs(21, () => analyzeGamma(chain));
const naive = medianMs(3, () => naiveProfile(chain, 200));
const { payload, diagnostics } = analyzeGamma(chain);
report({
  id: 'gex.full.20k',
  value: ours,
  unit: 'ms',
  baseline: naive,
  goal: '≤ 20 ms and ratio ≤ 0.15',
  note:
    `${chain.contracts.length} options, ${diagnostics.chainEvaluations} chain evaluations, flip ${payload.flip?.toFixed(2)}; ` +
    `naive 200-level profile ${naive.toFixed(0)} ms`,
});
