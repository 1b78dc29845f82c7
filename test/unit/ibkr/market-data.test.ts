import { strict as assert } from 'assert';
import fc from 'fast-check';
import { MarketDataBook, QUOTE_FIELDS } from '../../../lib/ibkr/market-data';

const ES = 495512557;
const T0 = Date.UTC(2026, 10, 24, 14, 30);

function book(): MarketDataBook {
  return new MarketDataBook(ES, 'ES');
}

describe('market data (smd fields → quote and ticks)', () => {
  it('builds a numeric quote from the first full smd message, strings and thousands separators included', () => {
    const { quote, tick } = book().apply(
      { '31': '5012.25', '84': '5012.00', '86': '5012.25', '88': '1,300', '85': '42', '7762': '1,234,567', '87': '1.23M', '6509': 'RpB', conid: ES, _updated: T0, topic: `smd+${ES}` },
      T0 + 5,
    );
    assert.deepEqual(
      { t: quote.t, last: quote.last, bid: quote.bid, ask: quote.ask, bidSize: quote.bidSize, askSize: quote.askSize, volume: quote.volume, delayed: quote.delayed },
      { t: T0, last: 5012.25, bid: 5012, ask: 5012.25, bidSize: 1300, askSize: 42, volume: 1234567, delayed: false },
    );
    assert.equal(quote.symbol, 'ES');
    assert.equal(quote.conid, ES);
    assert.equal(tick, null, 'the first volume is a baseline, not a trade');
  });

  it('keeps the fields a message does not repeat (IBKR sends only what changed)', () => {
    const b = book();
    b.apply({ '31': '5012.25', '84': '5012.00', '86': '5012.25', '7762': '1000' }, T0);
    const { quote } = b.apply({ '84': '5012.25' }, T0 + 250);
    assert.equal(quote.bid, 5012.25);
    assert.equal(quote.ask, 5012.25);
    assert.equal(quote.last, 5012.25);
    assert.equal(quote.volume, 1000);
    assert.equal(quote.t, T0 + 250, 'without _updated the receive time stamps the quote');
  });

  it('flags a prior-close last ("C") and a halted last ("H") instead of passing them off as trades', () => {
    const b = book();
    let { quote } = b.apply({ '31': 'C5001.50', '7762': '0' }, T0);
    assert.equal(quote.last, 5001.5);
    assert.equal(quote.lastFlag, 'prior-close');
    ({ quote } = b.apply({ '31': 'H5003.00' }, T0 + 1));
    assert.equal(quote.lastFlag, 'halted');
    ({ quote } = b.apply({ '31': '5003.25' }, T0 + 2));
    assert.equal(quote.lastFlag, 'live');
  });

  it('marks delayed and frozen data from field 6509', () => {
    const b = book();
    assert.equal(b.apply({ '6509': 'DpB' }, T0).quote.delayed, true);
    const frozen = b.apply({ '6509': 'ZpB' }, T0).quote;
    assert.deepEqual([frozen.delayed, frozen.frozen, frozen.source], [true, true, 'frozen']);
    const live = b.apply({ '6509': 'RpB' }, T0).quote;
    assert.deepEqual([live.delayed, live.frozen, live.source], [false, false, 'real-time']);
  });

  it('emits a tick sized by the high-precision volume increase, priced at the last, with the touch it hit', () => {
    const b = book();
    b.apply({ '31': '5012.25', '84': '5012.00', '86': '5012.25', '7762': '1000' }, T0);
    // A buyer lifts the offer for 7; the offer then moves up in the same message.
    const { tick, quote } = b.apply({ '31': '5012.25', '7059': '7', '7762': '1007', '86': '5012.50', _updated: T0 + 100 }, T0 + 101);
    assert.deepEqual(tick, { symbol: 'ES', t: T0 + 100, price: 5012.25, size: 7, bid: 5012, ask: 5012.25 });
    assert.equal(quote.ask, 5012.5);
    assert.equal(quote.lastSize, 7);
  });

  it('counts every contract when IBKR folds several trades into one update (size from volume, not 7059)', () => {
    const b = book();
    b.apply({ '31': '5012.25', '84': '5012.00', '86': '5012.25', '7762': '1000' }, T0);
    const { tick } = b.apply({ '31': '5012.50', '7059': '2', '7762': '1015' }, T0 + 250);
    assert.equal(tick?.size, 15);
    assert.equal(tick?.price, 5012.5);
  });

  it('makes no tick when only the quote moves or the volume repeats', () => {
    const b = book();
    b.apply({ '31': '5012.25', '7762': '1000' }, T0);
    assert.equal(b.apply({ '84': '5012.00', '86': '5012.25' }, T0 + 1).tick, null);
    assert.equal(b.apply({ '7762': '1000' }, T0 + 2).tick, null);
    assert.equal(b.apply({ '31': '5012.50' }, T0 + 3).tick, null, 'a last without volume is not counted twice');
  });

  it('restarts the count without a tick when the session volume goes down (new trading day)', () => {
    const b = book();
    b.apply({ '31': '5012.25', '7762': '1000000' }, T0);
    const restart = b.apply({ '7762': '12' }, T0 + 1);
    assert.equal(restart.tick, null);
    assert.equal(restart.quote.volume, 12);
    assert.equal(b.apply({ '7762': '15' }, T0 + 2).tick?.size, 3);
  });

  it('never invents a trade price: volume with only a prior-close last is reported as unobserved', () => {
    const b = book();
    b.apply({ '31': 'C5001.50', '7762': '0' }, T0);
    const update = b.apply({ '7762': '4' }, T0 + 1);
    assert.equal(update.tick, null);
    assert.equal(update.unobservedVolume, 4);
  });

  it('after a stream gap reports the volume traded while down instead of one giant tick', () => {
    const b = book();
    b.apply({ '31': '5012.25', '7762': '1000' }, T0);
    b.markGap();
    const first = b.apply({ '31': '5020.00', '7762': '1500' }, T0 + 60_000);
    assert.equal(first.tick, null);
    assert.equal(first.unobservedVolume, 500);
    assert.equal(b.apply({ '7762': '1503' }, T0 + 60_250).tick?.size, 3);
  });

  it('shows the rounded volume (87) only until the high-precision one (7762) arrives', () => {
    const b = book();
    assert.equal(b.apply({ '87': '1.2M' }, T0).quote.volume, 1_200_000);
    assert.equal(b.apply({ '7762': '1234567' }, T0).quote.volume, 1_234_567);
    assert.equal(b.apply({ '87': '1.3M' }, T0).quote.volume, 1_234_567);
  });

  it('turns unreadable values into null, never NaN', () => {
    const { quote } = book().apply({ '31': '', '84': '-', '86': 'N/A', '88': 'abc' }, T0);
    assert.deepEqual([quote.last, quote.bid, quote.ask, quote.bidSize], [null, null, null, null]);
  });

  it('returns copies: a consumer mutating a quote does not corrupt the running state', () => {
    const b = book();
    const { quote } = b.apply({ '31': '5012.25' }, T0);
    quote.last = 0;
    assert.equal(b.current().last, 5012.25);
  });

  it('subscribes to every field it reads', () => {
    for (const id of ['31', '84', '86', '88', '85', '87', '7762', '7059', '6509']) assert.ok(QUOTE_FIELDS.includes(id), id);
  });

  it('ticks add up to the volume traded, for any sequence of volume updates (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 200 }), (increments) => {
        const b = book();
        let volume = 10_000;
        b.apply({ '31': '5000.00', '7762': String(volume) }, T0);
        let ticked = 0;
        let lastT = 0;
        increments.forEach((inc, i) => {
          volume += inc;
          const { tick } = b.apply({ '31': (5000 + (i % 8) * 0.25).toFixed(2), '7762': volume.toLocaleString('en-US') }, T0 + i);
          if (inc === 0) assert.equal(tick, null);
          if (tick) {
            assert.ok(tick.size > 0);
            assert.ok(tick.t >= lastT);
            lastT = tick.t;
            ticked += tick.size;
          }
        });
        assert.equal(ticked, volume - 10_000);
      }),
    );
  });
});
