import { strict as assert } from 'assert';
import fc from 'fast-check';
import { PriceScale, isSetPrice } from '../../../lib/sierra/price-scale';

describe('sierra price scaling', () => {
  it('sends ES 4000.50 as 400050 when the display multiplier is 0.01, and reads it back', () => {
    const scale = new PriceScale(0.01);
    assert.equal(scale.toWire(4000.5), 400050);
    assert.equal(scale.fromWire(400050), 4000.5);
  });

  it('leaves prices alone when the multiplier is 1, 0 or missing', () => {
    for (const m of [1, 0, undefined, NaN, -1]) {
      const scale = new PriceScale(m);
      assert.equal(scale.toWire(6012.25), 6012.25);
      assert.equal(scale.fromWire(6012.25), 6012.25);
    }
  });

  it('reads DTC DBL_MAX sentinels and absent prices as no price', () => {
    const scale = new PriceScale(0.01);
    assert.equal(scale.fromWire(1.7976931348623157e308), null);
    assert.equal(scale.fromWire(undefined), null);
    assert.equal(isSetPrice(1.7976931348623157e308), false);
    assert.equal(isSetPrice(0), true);
  });

  it('round-trips every ES tick price exactly for common multipliers', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4_000_000 }), fc.constantFrom(1, 0.01, 0.25, 100), (ticks, m) => {
        const price = ticks * 0.25;
        const scale = new PriceScale(m);
        return scale.fromWire(scale.toWire(price)) === price;
      }),
    );
  });
});
