// European option price, delta and gamma: Black-Scholes on spot with a continuous dividend yield, and Black-76 on a
// forward (analytics.md §1). T in years, rates and volatility annualised as fractions (0.18 = 18 %).
import { InvalidInputError } from '../errors';
import { normCdf, normPdf } from './normal';

export { erf, erfc, normCdf, normPdf } from './normal';

export type OptionRight = 'C' | 'P';

export interface BlackScholesInput {
  S: number; // spot
  K: number; // strike
  T: number; // years to expiry
  r: number; // risk-free rate, continuous
  q: number; // dividend yield, continuous
  sigma: number; // implied volatility
  right: OptionRight;
}

export interface Black76Input {
  F: number; // forward to the option's expiry
  K: number;
  T: number;
  r: number; // discounts the payoff
  sigma: number;
  right: OptionRight;
}

export interface OptionGreeks {
  price: number;
  delta: number; // ∂price/∂S for Black-Scholes, ∂price/∂F for Black-76
  gamma: number; // ∂²price/∂S² (or ∂F²)
}

/**
 * The shared Black-76 core: the option on an underlying worth `x` at expiry-forward terms, with `carryDf` = the
 * factor that turns the underlying into its discounted forward (e^(−qT) for spot, e^(−rT) for a forward) and `df` =
 * e^(−rT) for the strike. Expired or zero-volatility options are worth their discounted intrinsic value, gamma 0.
 */
function priceGreeks(
  x: number,
  K: number,
  T: number,
  sigma: number,
  right: OptionRight,
  carryDf: number,
  df: number,
  lnMoneynessDrift: number,
): OptionGreeks {
  const isCall = right === 'C';
  const fwdValue = x * carryDf; // discounted forward
  const strikeValue = K * df;
  if (!(T > 0) || !(sigma > 0)) {
    const callItm = fwdValue > strikeValue;
    const intrinsic = isCall ? Math.max(fwdValue - strikeValue, 0) : Math.max(strikeValue - fwdValue, 0);
    const itm = isCall ? callItm : fwdValue < strikeValue;
    return { price: intrinsic, delta: itm ? (isCall ? carryDf : -carryDf) : 0, gamma: 0 };
  }
  const volSqrtT = sigma * Math.sqrt(T);
  const d1 = (Math.log(x / K) + lnMoneynessDrift * T) / volSqrtT + 0.5 * volSqrtT;
  const d2 = d1 - volSqrtT;
  const gamma = (carryDf * normPdf(d1)) / (x * volSqrtT);
  if (isCall) {
    const nd1 = normCdf(d1);
    return { price: fwdValue * nd1 - strikeValue * normCdf(d2), delta: carryDf * nd1, gamma };
  }
  const nMinusD1 = normCdf(-d1);
  return { price: strikeValue * normCdf(-d2) - fwdValue * nMinusD1, delta: -carryDf * nMinusD1, gamma };
}

function checkPositive(name: string, value: number, fn: string): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new InvalidInputError(`${fn}: ${name} must be a positive finite number, got ${value}`);
  }
}

/** Black-Scholes with continuous dividend yield q: price, delta and gamma with respect to spot. */
export function blackScholes(input: BlackScholesInput): OptionGreeks {
  const { S, K, T, r, q, sigma, right } = input;
  checkPositive('S', S, 'blackScholes');
  checkPositive('K', K, 'blackScholes');
  const t = T > 0 ? T : 0;
  return priceGreeks(S, K, t, sigma, right, Math.exp(-q * t), Math.exp(-r * t), r - q);
}

/** Black-76 on the forward F: price, delta and gamma with respect to F (r only discounts). */
export function black76(input: Black76Input): OptionGreeks {
  const { F, K, T, r, sigma, right } = input;
  checkPositive('F', F, 'black76');
  checkPositive('K', K, 'black76');
  const t = T > 0 ? T : 0;
  const df = Math.exp(-r * t);
  return priceGreeks(F, K, t, sigma, right, df, df, 0);
}

/**
 * Gamma alone, for hot loops (GEX re-pricing): e^(−carry·T)·φ(d1)/(x·σ·√T) with d1 over ln(x/K) + drift·T.
 * Returns 0 for T ≤ 0 or σ ≤ 0.
 */
export function gammaOnly(x: number, K: number, T: number, sigma: number, drift: number, carryDf: number): number {
  if (!(T > 0) || !(sigma > 0)) return 0;
  const volSqrtT = sigma * Math.sqrt(T);
  const d1 = (Math.log(x / K) + drift * T) / volSqrtT + 0.5 * volSqrtT;
  return (carryDf * normPdf(d1)) / (x * volSqrtT);
}
