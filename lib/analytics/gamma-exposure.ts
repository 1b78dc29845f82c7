// Dealer gamma exposure (GEX) of an SPX option chain and its levels (analytics.md §1): GEX per strike and total, call
// wall, put wall, absolute gamma strike, the zero-gamma flip found by re-pricing the whole chain, the profile over
// ±range for plotting, the levels mapped to ES, and the coverage of the chain they stand on. Outputs exactly the
// `gamma` contract.
//
// Speed: every contract's gamma at a hypothetical spot x is c·φ(a·ln x + b)/x with constants a, b, c fixed by its
// strike, IV, T and forward, so they are computed once into Float64Arrays and each re-pricing of the chain is one
// tight loop of multiply-adds and one exp per contract.
import type { Chain, ChainScope, GammaByStrike, GammaLevelsEs, GammaPayload, OptionQuote, Settlement } from '../contracts';
import { InvalidInputError, describeValue } from '../errors';
import { NEW_YORK, zonedParts } from '../clock';
import { esFrontExpiry, medianParityForward } from './es-price';
import { gammaCoverage } from './gamma-coverage';
import { isExpired, yearsToExpiry } from './expiry';
import { brentRoot } from './root';

export type GexUnit = GammaPayload['unit'];
export type GexConvention = GammaPayload['convention'];

export interface GammaSettings {
  unit: GexUnit; // 'per-1pct': $ per 1 % move (Γ·OI·100·S²·0.01); 'per-point': $ per index point (Γ·OI·100·S)
  convention: GexConvention; // 'dealer-long-calls': calls +, puts − (SqueezeMetrics/SpotGamma); the other flips it
  zeroDteFloorMinutes: number; // T never below this (gamma grows like 1/√T)
  includeZeroDte: boolean; // false drops the series expiring today
  rate: number; // risk-free, continuous, fraction
  dividendYield: number; // continuous, fraction; only used when a forward cannot be read from put-call parity
  profileRangePct: number; // profile and flip search over spot ± this %
  profilePoints: number; // profile levels (also the grid that brackets the flip)
  maxExpiries: number; // nearest N expiries; 0 = all
  multiplier: number; // SPX 100
}

export const DEFAULT_GAMMA: GammaSettings = {
  unit: 'per-1pct',
  convention: 'dealer-long-calls',
  zeroDteFloorMinutes: 15,
  includeZeroDte: true,
  rate: 0.045,
  dividendYield: 0.013,
  profileRangePct: 20,
  profilePoints: 60,
  maxExpiries: 0,
  multiplier: 100,
};

export interface ExpiryExposure {
  expiry: string;
  settlement: Settlement;
  years: number;
  forward: number;
  forwardMethod: 'put-call-parity' | 'carry';
  totalGex: number;
  contracts: number;
}

export interface GammaDiagnostics {
  contractsUsed: number;
  expiredDropped: number;
  noDataDropped: number; // open interest but neither a gamma nor an IV
  vendorGamma: number; // contracts whose gamma came from the chain
  notRepriced: number; // vendor gamma without IV: in totals and walls, not in the profile or flip
  chainEvaluations: number;
  byExpiry: ExpiryExposure[];
}

export interface GammaAnalysis {
  payload: GammaPayload;
  diagnostics: GammaDiagnostics;
}

export interface GammaOptions {
  /** Evaluation time (epoch ms); the chain's own `t` when omitted. */
  now?: number;
  /** Observed ES price: maps levels by the live basis (ES − SPX) instead of the parity forward. */
  esPrice?: number | null;
}

const INV_SQRT_2PI = 0.3989422804014327;

/** Re-pricing constants of the chain: total(x) = x^power · Σ w[i]·exp(−½(a[i]·ln x + b[i])²). */
interface Repricer {
  n: number;
  a: Float64Array;
  b: Float64Array;
  w: Float64Array;
  power: number; // 1 for per-1pct, 0 for per-point
}

function sumExposure(r: Repricer, x: number): number {
  const lnx = Math.log(x);
  const { a, b, w, n } = r;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = a[i] * lnx + b[i];
    s += w[i] * Math.exp(-0.5 * d * d);
  }
  return s;
}

function totalAt(r: Repricer, x: number): number {
  const s = sumExposure(r, x);
  return r.power === 1 ? s * x : s;
}

function mid(q: OptionQuote): number | null {
  const { bid, ask } = q;
  if (bid === null || ask === null || !(bid >= 0) || !(ask > 0) || ask < bid) return null;
  return (bid + ask) / 2;
}

/**
 * The forward of one expiry from put-call parity, Cboe VIX style: at the strike where |C − P| (mids) is smallest,
 * F = K + e^(rT)·(C − P). Null when no strike quotes both sides.
 */
export function parityForward(contracts: readonly OptionQuote[], years: number, rate: number): number | null {
  const calls = new Map<number, number>();
  for (const q of contracts) {
    if (q.right !== 'C') continue;
    const m = mid(q);
    if (m !== null) calls.set(q.strike, m);
  }
  let best: { strike: number; diff: number } | null = null;
  for (const q of contracts) {
    if (q.right !== 'P') continue;
    const c = calls.get(q.strike);
    const p = mid(q);
    if (c === undefined || p === null) continue;
    const diff = c - p;
    if (best === null || Math.abs(diff) < Math.abs(best.diff)) best = { strike: q.strike, diff };
  }
  return best === null ? null : best.strike + Math.exp(rate * years) * best.diff;
}

function validateChain(chain: Chain): void {
  if (chain === null || typeof chain !== 'object') throw new InvalidInputError('chain is not an object {spot, contracts}');
  if (!(typeof chain.spot === 'number' && chain.spot > 0 && Number.isFinite(chain.spot))) {
    throw new InvalidInputError(`chain: spot must be a positive price, got ${describeValue(chain.spot)}`);
  }
  if (!Array.isArray(chain.contracts)) throw new InvalidInputError('chain: contracts must be an array of options');
  validateScope(chain.scope);
  const contracts = chain.contracts;
  for (let i = 0; i < contracts.length; i++) {
    const q = contracts[i] as Partial<OptionQuote> | null;
    if (q === null || typeof q !== 'object') throw new InvalidInputError(`chain: contract #${i} is not an object`);
    if (!(typeof q.strike === 'number' && q.strike > 0)) {
      throw new InvalidInputError(`chain: contract #${i} strike must be a positive number, got ${describeValue(q.strike)}`);
    }
    if (q.right !== 'C' && q.right !== 'P') {
      throw new InvalidInputError(`chain: contract #${i} right must be "C" or "P", got ${describeValue(q.right)}`);
    }
    if (typeof q.expiry !== 'string' || !/^\d{8}$/.test(q.expiry)) {
      throw new InvalidInputError(`chain: contract #${i} expiry must be "YYYYMMDD", got ${describeValue(q.expiry)}`);
    }
    if (q.settlement !== 'AM' && q.settlement !== 'PM') {
      throw new InvalidInputError(`chain: contract #${i} settlement must be "AM" or "PM", got ${describeValue(q.settlement)}`);
    }
  }
}

/** A chain's scope, when it has one, as lib/contracts ChainScope says: its coverage figures are reported as given. */
function validateScope(scope: unknown): void {
  if (scope === undefined) return;
  const bad = (what: string): never => {
    throw new InvalidInputError(`chain: scope ${what} (see the chain contract's scope: {rule, classes, expiries, leftOut, strikeBand, strikes, measured?})`);
  };
  if (scope === null || typeof scope !== 'object') bad(`must be an object, got ${describeValue(scope)}`);
  const s = scope as Partial<ChainScope>;
  for (const key of ['classes', 'expiries', 'leftOut'] as const) {
    if (!Array.isArray(s[key]) || !s[key].every((x) => typeof x === 'string')) bad(`${key} must be an array of strings`);
  }
  const band = s.strikeBand;
  if (!band || !(Number.isFinite(band.lo) && Number.isFinite(band.hi) && band.lo <= band.hi)) bad('strikeBand must be {lo, hi} with lo ≤ hi');
  const m = s.measured;
  const share = (x: unknown): boolean => typeof x === 'number' && x >= 0 && x <= 1;
  if (m !== undefined && !(m !== null && typeof m === 'object' && share(m.openInterest) && share(m.gamma))) bad('measured must be {openInterest, gamma}, shares from 0 to 1');
}

function usable(x: number | null | undefined): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Full analysis of `chain` (see the module comment). Pure: time is the chain's `t` unless `options.now` is given. */
export function analyzeGamma(chain: Chain, settings: Partial<GammaSettings> = {}, options: GammaOptions = {}): GammaAnalysis {
  const s: GammaSettings = { ...DEFAULT_GAMMA, ...settings };
  validateChain(chain);
  const now = options.now ?? chain.t;
  if (!usable(now)) throw new InvalidInputError(`chain: t must be the snapshot time in epoch ms, got ${describeValue(now)}`);
  const spot = chain.spot;
  const unitScale = s.unit === 'per-1pct' ? spot * spot * 0.01 : spot;
  const callSign = s.convention === 'dealer-long-calls' ? 1 : -1;
  const nowNy = zonedParts(now, NEW_YORK);
  const todayNy = String(nowNy.year * 10000 + nowNy.month * 100 + nowNy.day);

  // Live series by expiry, nearest first.
  const diagnostics: GammaDiagnostics = {
    contractsUsed: 0,
    expiredDropped: 0,
    noDataDropped: 0,
    vendorGamma: 0,
    notRepriced: 0,
    chainEvaluations: 0,
    byExpiry: [],
  };
  const byExpiry = new Map<string, OptionQuote[]>();
  for (const q of chain.contracts) {
    if (isExpired(q.expiry, q.settlement, now) || (!s.includeZeroDte && q.expiry === todayNy)) {
      diagnostics.expiredDropped++;
      continue;
    }
    const key = `${q.expiry}${q.settlement}`;
    let list = byExpiry.get(key);
    if (!list) byExpiry.set(key, (list = []));
    list.push(q);
  }
  let expiryKeys = [...byExpiry.keys()].sort();
  if (s.maxExpiries > 0) expiryKeys = expiryKeys.slice(0, s.maxExpiries);

  const n = chain.contracts.length;
  const rep: Repricer = {
    n: 0,
    a: new Float64Array(n),
    b: new Float64Array(n),
    w: new Float64Array(n),
    power: s.unit === 'per-1pct' ? 1 : 0,
  };
  const perStrike = new Map<number, GammaByStrike>();
  let totalGex = 0;

  for (const key of expiryKeys) {
    const list = byExpiry.get(key) as OptionQuote[];
    const { expiry, settlement } = list[0];
    const years = yearsToExpiry(expiry, settlement, now, s.zeroDteFloorMinutes);
    const parity = parityForward(list, years, s.rate);
    const forward = parity ?? spot * Math.exp((s.rate - s.dividendYield) * years);
    const k = forward / spot; // forward per unit of spot: F moves with S
    const discount = Math.exp(-s.rate * years);
    const sqrtT = Math.sqrt(years);
    const lnK = Math.log(k);
    const exposure: ExpiryExposure = {
      expiry,
      settlement,
      years,
      forward,
      forwardMethod: parity === null ? 'carry' : 'put-call-parity',
      totalGex: 0,
      contracts: 0,
    };
    for (const q of list) {
      const oi = q.openInterest;
      if (!usable(oi) || oi <= 0) continue;
      const sign = q.right === 'C' ? callSign : -callSign;
      const iv = q.iv;
      const hasIv = usable(iv) && iv > 0;
      let gamma: number;
      if (hasIv) {
        // Γ_S(x) = e^(−rT)·k·φ(d1)/(x·σ√T), d1 = (ln(kx/K))/(σ√T) + σ√T/2 (Black-76 on F = k·x)
        const volSqrtT = iv * sqrtT;
        const a = 1 / volSqrtT;
        const b = (lnK - Math.log(q.strike)) * a + 0.5 * volSqrtT;
        const c = (discount * k) / volSqrtT;
        const i = rep.n++;
        rep.a[i] = a;
        rep.b[i] = b;
        rep.w[i] = sign * oi * s.multiplier * c * INV_SQRT_2PI * (s.unit === 'per-1pct' ? 0.01 : 1);
        const d1 = a * Math.log(spot) + b;
        gamma = (c * INV_SQRT_2PI * Math.exp(-0.5 * d1 * d1)) / spot;
      } else gamma = NaN;
      if (usable(q.gamma) && q.gamma >= 0) {
        gamma = q.gamma;
        diagnostics.vendorGamma++;
        if (!hasIv) diagnostics.notRepriced++;
      }
      if (!usable(gamma)) {
        diagnostics.noDataDropped++;
        continue;
      }
      const gex = sign * gamma * oi * s.multiplier * unitScale;
      let row = perStrike.get(q.strike);
      if (!row) perStrike.set(q.strike, (row = { strike: q.strike, callGex: 0, putGex: 0, netGex: 0 }));
      if (q.right === 'C') row.callGex += gex;
      else row.putGex += gex;
      row.netGex += gex;
      totalGex += gex;
      exposure.totalGex += gex;
      exposure.contracts++;
      diagnostics.contractsUsed++;
    }
    diagnostics.byExpiry.push(exposure);
  }

  const byStrike = [...perStrike.values()].sort((x, y) => x.strike - y.strike);
  const levels = wallsOf(byStrike);

  // Profile over spot ± range; its grid also brackets the flip.
  const points = Math.max(2, Math.floor(s.profilePoints));
  const lo = spot * (1 - s.profileRangePct / 100);
  const hi = spot * (1 + s.profileRangePct / 100);
  const profile: { spot: number; gex: number }[] = new Array(points);
  for (let i = 0; i < points; i++) {
    const x = lo + ((hi - lo) * i) / (points - 1);
    profile[i] = { spot: x, gex: rep.n > 0 ? totalAt(rep, x) : 0 };
  }
  diagnostics.chainEvaluations = rep.n > 0 ? points : 0;
  let flip: number | null = null;
  if (rep.n > 0) {
    const bracket = nearestSignChange(profile, spot);
    if (bracket) {
      const f = (x: number): number => {
        diagnostics.chainEvaluations++;
        return sumExposure(rep, x);
      };
      flip = brentRoot(f, bracket[0], bracket[1], 1e-4 * 0.01 * spot);
    }
  }

  const payload: GammaPayload = {
    underlying: chain.underlying,
    t: now,
    spot,
    unit: s.unit,
    convention: s.convention,
    totalGex,
    callWall: levels.callWall,
    putWall: levels.putWall,
    absGammaStrike: levels.absGammaStrike,
    flip,
    byStrike,
    profile,
    es: esLevels(chain, now, s, { ...levels, flip }, options.esPrice),
    coverage: gammaCoverage(chain, now, new Set(diagnostics.byExpiry.map((e) => `${e.expiry}${e.settlement}`)), levels),
  };
  return { payload, diagnostics };
}

interface Levels {
  callWall: number | null;
  putWall: number | null;
  absGammaStrike: number | null;
}

/** Call wall: largest call GEX; put wall: largest |put GEX|; absolute gamma strike: largest |call| + |put|. */
export function wallsOf(byStrike: readonly GammaByStrike[]): Levels {
  let callWall: number | null = null;
  let putWall: number | null = null;
  let absGammaStrike: number | null = null;
  let bestCall = 0;
  let bestPut = 0;
  let bestAbs = 0;
  for (const row of byStrike) {
    const call = Math.abs(row.callGex);
    const put = Math.abs(row.putGex);
    if (call > bestCall) [bestCall, callWall] = [call, row.strike];
    if (put > bestPut) [bestPut, putWall] = [put, row.strike];
    if (call + put > bestAbs) [bestAbs, absGammaStrike] = [call + put, row.strike];
  }
  return { callWall, putWall, absGammaStrike };
}

/** The grid interval with a sign change of total GEX closest to spot (a level exactly at 0 is its own bracket). */
function nearestSignChange(profile: readonly { spot: number; gex: number }[], spot: number): [number, number] | null {
  let best: [number, number] | null = null;
  let bestDistance = Infinity;
  for (let i = 0; i + 1 < profile.length; i++) {
    const p = profile[i];
    const q = profile[i + 1];
    if (p.gex === 0 || p.gex * q.gex < 0) {
      const center = p.gex === 0 ? p.spot : (p.spot + q.spot) / 2;
      const distance = Math.abs(center - spot);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = p.gex === 0 ? [p.spot, p.spot] : [p.spot, q.spot];
      }
    }
  }
  return best;
}

/**
 * The live SPX AM series that settles with ES expiring on `esExpiry`: that date's, or, when an exchange holiday moved
 * it (Good Friday), the AM series at most 3 days earlier. `esExpiry` itself when the chain has neither.
 */
function settlingSeries(chain: Chain, esExpiry: string, now: number): string {
  const day = (x: string): number => Date.UTC(Number(x.slice(0, 4)), Number(x.slice(4, 6)) - 1, Number(x.slice(6, 8))) / 86_400_000;
  let best: string | null = null;
  for (const q of chain.contracts) {
    if (q.settlement !== 'AM' || q.expiry > esExpiry || day(esExpiry) - day(q.expiry) > 3 || isExpired(q.expiry, 'AM', now)) continue;
    if (best === null || q.expiry > best) best = q.expiry;
  }
  return best ?? esExpiry;
}

/**
 * SPX levels on ES, best first (analytics.md §1): by the observed basis (ES − SPX) when a live ES price is given; else
 * by the chain's own put-call-parity forward for the SPX AM series that settles with the ES front month (ES = F/S × SPX,
 * the carry to that date read from the market); else, only when the chain lacks that series, by a fixed-rate fair
 * value SPX·e^((r − q)·T), labelled 'fixed-rate'. A chain on ES itself needs no mapping.
 */
function esLevels(
  chain: Chain,
  now: number,
  s: GammaSettings,
  levels: Levels & { flip: number | null },
  esPrice: number | null | undefined,
): GammaLevelsEs {
  const spot = chain.spot;
  let map: (x: number) => number;
  let basis: number;
  let method: GammaLevelsEs['method'];
  let expiry: string | undefined;
  let reference: number | undefined;
  if (/^M?ES/i.test(chain.underlying ?? '')) {
    map = (x) => x;
    basis = 0;
    method = 'none';
  } else if (usable(esPrice) && esPrice > 0) {
    basis = esPrice - spot;
    map = (x) => x + basis;
    method = 'observed-basis';
    reference = esPrice;
  } else {
    expiry = settlingSeries(chain, esFrontExpiry(now), now);
    const years = yearsToExpiry(expiry, 'AM', now, 0);
    const settling = chain.contracts.filter((q) => q.expiry === expiry && q.settlement === 'AM');
    const forward = medianParityForward(settling, years, s.rate);
    const factor = forward !== null && forward > 0 ? forward / spot : Math.exp((s.rate - s.dividendYield) * years);
    basis = spot * (factor - 1);
    map = (x) => x * factor;
    method = forward !== null && forward > 0 ? 'parity-forward' : 'fixed-rate';
    if (method === 'parity-forward') reference = forward as number;
  }
  const m = (x: number | null): number | null => (x === null ? null : map(x));
  return {
    callWall: m(levels.callWall),
    putWall: m(levels.putWall),
    absGammaStrike: m(levels.absGammaStrike),
    flip: m(levels.flip),
    basis,
    method,
    ...(expiry !== undefined ? { expiry } : {}),
    ...(reference !== undefined ? { reference } : {}),
  };
}
