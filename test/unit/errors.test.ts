// describeValue: what an error message says about a refused input. It must never throw (a hostile value would turn
// a clear refusal into "Cannot convert object to primitive value") and must stay short and readable.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { describeValue } from '../../lib/errors';

const hostile = (): object => {
  const o = Object.create(null) as Record<string | symbol, unknown>;
  o.price = 1;
  return o;
};

describe('describeValue', () => {
  it('shows numbers, booleans, null and undefined as a trader would write them', () => {
    assert.equal(describeValue(4321.25), '4321.25');
    assert.equal(describeValue(Number.NaN), 'NaN');
    assert.equal(describeValue(-Infinity), '-Infinity');
    assert.equal(describeValue(-0), '-0');
    assert.equal(describeValue(true), 'true');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue(undefined), 'nothing (undefined)');
  });

  it('quotes a string and escapes what could break the sentence (quotes, new lines)', () => {
    assert.equal(describeValue('ES'), '"ES"');
    assert.equal(describeValue(''), '""');
    assert.equal(describeValue('a"b\nc'), '"a\\"b\\nc"');
  });

  it('clips a huge string to about 40 characters and says how long it was', () => {
    const text = describeValue('x'.repeat(1_000_000));
    assert.ok(text.length < 80, text);
    assert.match(text, /^"x{39}…" \(1000000 characters\)$/);
  });

  it('names arrays by length and objects by their first keys, never their content', () => {
    assert.equal(describeValue([]), 'an empty array');
    assert.equal(describeValue(new Array(50_000).fill(0)), 'an array of 50000');
    assert.equal(describeValue({}), 'an empty object');
    assert.equal(describeValue({ t: 1, price: 'secret-ish' }), 'an object with keys t, price');
    assert.equal(describeValue({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }), 'an object with keys a, b, c, d, … (6 keys)');
    assert.equal(describeValue({ ['k'.repeat(100)]: 1 }), `an object with keys ${'k'.repeat(19)}…`);
  });

  it('describes a null-prototype object instead of throwing', () => {
    assert.throws(() => String(hostile()), /Cannot convert object to primitive value/);
    assert.equal(describeValue(hostile()), 'an object with keys price');
  });

  it('never runs the value’s own conversions: throwing toString, valueOf, Symbol.toPrimitive, getters', () => {
    let ran = 0;
    const boom = (): never => {
      ran++;
      throw new Error('hostile code ran');
    };
    const o = { toString: boom, valueOf: boom, [Symbol.toPrimitive]: boom };
    Object.defineProperty(o, 'price', { enumerable: true, get: boom });
    assert.equal(describeValue(o), 'an object with keys toString, valueOf, price');
    const map = new Map([[1, 2]]);
    Object.defineProperty(map, 'size', { get: boom });
    assert.equal(describeValue(map), 'a Map of 1');
    const date = new Date(0);
    date.toISOString = boom;
    assert.equal(describeValue(date), 'the date 1970-01-01T00:00:00.000Z');
    assert.equal(ran, 0, 'no hostile code ran');
  });

  it('describes symbols, bigints, functions, dates, sets and binary data', () => {
    assert.equal(describeValue(Symbol('tick')), 'the symbol "tick"');
    assert.equal(describeValue(Symbol()), 'a symbol');
    assert.equal(describeValue(12345678901234567890n), '12345678901234567890n');
    assert.ok(describeValue(10n ** 200n).length <= 40);
    assert.equal(describeValue(() => 1), 'a function');
    assert.equal(describeValue(new Date(Number.NaN)), 'an invalid date');
    assert.equal(describeValue(new Set([1, 2])), 'a Set of 2');
    assert.equal(describeValue(new Uint8Array(16)), 'binary data (16 bytes)');
  });

  it('describes a circular object', () => {
    const a: Record<string, unknown> = { t: 1 };
    a.self = a;
    assert.equal(describeValue(a), 'an object with keys t, self');
  });

  it('falls back to "an unreadable value" for a revoked Proxy or a throwing ownKeys trap', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    assert.equal(describeValue(proxy), 'an unreadable value');
    const trap = new Proxy({}, { ownKeys: () => { throw new Error('trap'); } });
    assert.equal(describeValue(trap), 'an unreadable value');
  });

  it('never throws and stays short for any value (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withBigInt: true }), (x) => {
        const text = describeValue(x);
        assert.ok(text.length > 0 && text.length <= 160, text);
      }),
      { seed: 20250321, numRuns: 2_000 },
    );
  });
});
