// Seeded, counter-based randomness for the simulators. Every random quantity is drawn from a generator seeded by a
// hash of (seed, what, where), so a value never depends on the order in which the simulation is read.

/** A 32-bit hash of a list of integers (murmur3-style finaliser over each part). */
export function hash32(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const part of parts) {
    // Split doubles into two 32-bit halves so large ids (epoch minutes, day numbers) hash fully.
    const lo = part | 0;
    const hi = Math.floor(part / 4294967296) | 0;
    for (const word of [lo, hi]) {
      let k = Math.imul(word, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal. */
  normal(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
}

/** mulberry32: small, fast and good enough for a market simulation (not for cryptography). */
export function rng(seed: number): Rng {
  let state = seed >>> 0;
  let spare: number | undefined;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal(): number {
      if (spare !== undefined) {
        const s = spare;
        spare = undefined;
        return s;
      }
      // Box-Muller; 1 - u keeps the logarithm finite.
      const u = 1 - next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    int(lo: number, hi: number): number {
      return lo + Math.floor(next() * (hi - lo + 1));
    },
  };
}

/** A generator for one place in the simulation: rngAt(seed, 7, day, minute). */
export function rngAt(...parts: number[]): Rng {
  return rng(hash32(...parts));
}
