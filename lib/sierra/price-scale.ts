// Price scaling between the prices a trader reads and the prices on the wire.
// dtc-protocol.md §3: some services use native exchange prices (DisplayPriceMultiplier 0.01 → ES 4000.50 travels as
// 400050). The security definition is requested once per connection and every price is scaled both ways here.
// §3 (observed): DBL_MAX sentinels (≈ 1.797e308) stand for "unset" prices; protocol.ts readPrice() recognises them.

import { readPrice } from './protocol';

export class PriceScale {
  /** Display price = wire price × multiplier. A multiplier of 0 or missing means 1 (no scaling). */
  readonly multiplier: number;

  constructor(displayPriceMultiplier = 1) {
    this.multiplier = Number.isFinite(displayPriceMultiplier) && displayPriceMultiplier > 0 ? displayPriceMultiplier : 1;
  }

  /** The price to send for a display price (trader's price). */
  toWire(price: number): number {
    return roundSignificant(price / this.multiplier);
  }

  /** The display price of a wire price; null for absent, non-finite or DBL_MAX "unset" values. */
  fromWire(wire: number | undefined | null): number | null {
    const price = readPrice(wire);
    return price === null ? null : roundSignificant(price * this.multiplier);
  }
}

export const UNSCALED = new PriceScale(1);

/** Removes binary floating-point noise (4000.5 / 0.01 = 400050.00000000006) without touching real digits. */
function roundSignificant(x: number): number {
  return Number(x.toPrecision(12));
}

/** True when `wire` is a real price, not absent and not DTC's DBL_MAX sentinel. */
export function isSetPrice(wire: number | undefined | null): wire is number {
  return readPrice(wire) !== null;
}
