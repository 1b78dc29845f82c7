import assert from 'node:assert/strict';
import { FIELD_IDS, fieldId, parseAvailability, parseWireMoney, parseWireNumber, parseWirePrice } from '../../../lib/ibkr/wire';

describe('IBKR wire parsing', () => {
  it('reads thousands separators, K/M suffixes and percents as numbers', () => {
    assert.equal(parseWireNumber('1,300'), 1300);
    assert.equal(parseWireNumber('1.2K'), 1200);
    assert.equal(parseWireNumber('3.45M'), 3_450_000);
    assert.equal(parseWireNumber('18.5%'), 18.5);
    assert.equal(parseWireNumber('-0.25'), -0.25);
    assert.equal(parseWireNumber(5012.25), 5012.25);
  });

  it('turns empty, dashes and garbage into null, never NaN', () => {
    for (const raw of ['', '-', 'N/A', 'abc', undefined, null, {}, '1.2.3']) assert.equal(parseWireNumber(raw), null, String(raw));
  });

  it('reads what-if money with its currency, and refuses what it cannot read rather than guessing', () => {
    assert.deepEqual(parseWireMoney('2.25 USD'), { amount: 2.25, currency: 'USD' });
    assert.deepEqual(parseWireMoney('250,014.75 USD'), { amount: 250_014.75, currency: 'USD' });
    assert.deepEqual(parseWireMoney('-1,250.5 eur'), { amount: -1250.5, currency: 'EUR' });
    assert.deepEqual(parseWireMoney('23,000 USD (100 Shares)'), { amount: 23_000, currency: 'USD' });
    assert.deepEqual(parseWireMoney('15,000'), { amount: 15_000, currency: null });
    assert.deepEqual(parseWireMoney(2.25), { amount: 2.25, currency: null });
    for (const raw of ['', 'USD', '1.00 ... 1.17 USD', 'N/A', '2.25 US DOLLARS', 'C2.25 USD', null, undefined, {}]) assert.equal(parseWireMoney(raw), null, String(raw));
  });

  it('flags a prior-close last ("C") and a halted last ("H")', () => {
    assert.deepEqual(parseWirePrice('C168.42'), { value: 168.42, flag: 'prior-close' });
    assert.deepEqual(parseWirePrice('H5012.25'), { value: 5012.25, flag: 'halted' });
    assert.deepEqual(parseWirePrice('5,012.25'), { value: 5012.25, flag: 'live' });
    assert.equal(parseWirePrice(''), null);
  });

  it('decodes every 6509 availability code', () => {
    const cases: Array<[string, string, boolean]> = [
      ['RpB', 'real-time', false],
      ['DPB', 'delayed', true],
      ['Z', 'frozen', true],
      ['Y', 'frozen-delayed', true],
      ['N', 'not-subscribed', true],
      ['O', 'no-api-agreement', true],
    ];
    for (const [code, source, delayed] of cases) {
      const a = parseAvailability(code);
      assert.equal(a.source, source, code);
      assert.equal(a.delayed, delayed, code);
    }
    assert.deepEqual(parseAvailability('RpB'), { source: 'real-time', delayed: false, snapshot: false, consolidated: true, book: true });
    assert.equal(parseAvailability('DP').snapshot, true);
  });

  it('maps field names to the ids of the official table, not the wrong community map', () => {
    assert.equal(FIELD_IDS.last, '31');
    assert.equal(FIELD_IDS.bid, '84');
    assert.equal(FIELD_IDS.ask, '86');
    assert.equal(FIELD_IDS.bidSize, '88');
    assert.equal(FIELD_IDS.askSize, '85');
    assert.equal(FIELD_IDS.volume, '87');
    assert.equal(FIELD_IDS.volumeLong, '7762');
    assert.equal(FIELD_IDS.impliedVol, '7633'); // not vega
    assert.equal(FIELD_IDS.vega, '7311'); // not open interest
    assert.equal(FIELD_IDS.optionOpenInterest, '7638');
    assert.equal(FIELD_IDS.delta, '7308');
    assert.equal(FIELD_IDS.gamma, '7309');
    assert.equal(FIELD_IDS.availability, '6509');
    assert.equal(new Set(Object.values(FIELD_IDS)).size, Object.keys(FIELD_IDS).length, 'ids are unique');
    assert.equal(fieldId('bid'), '84');
    assert.equal(fieldId('7295'), '7295');
    assert.equal(fieldId('bogus'), undefined);
  });
});
