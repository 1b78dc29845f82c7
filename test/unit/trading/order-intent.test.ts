import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InvalidInputError } from '../../../lib/errors';
import { parseOrderMessage, type ParseSettings } from '../../../lib/trading/order-intent';

// Both order nodes call parseOrderMessage with their own settings; the refusal must not depend on which node it is.
const SIERRA: ParseSettings = { signal: { quantity: 1, entryType: 'limit', target: 1, tif: 'day' }, tickSize: 0.25, whatIf: false };
const IBKR: ParseSettings = { signal: { quantity: 2, entryType: 'market', target: 1, tif: 'gtc' }, tickSize: 0.25, whatIf: false };

type Msg = { topic?: unknown; payload?: unknown; whatIf?: unknown };
const order = (payload: unknown, extra: Partial<Msg> = {}): Msg => ({ topic: 'order', payload, ...extra });
const BUY = { action: 'buy', quantity: 1, type: 'market' };

/** Hostile inputs and the words their refusal must contain. */
const HOSTILE: [string, Msg, RegExp][] = [
  ['whatIf as text "true"', order(BUY, { whatIf: 'true' }), /msg\.whatIf must be the boolean true or false, not "true"/],
  ['whatIf as 1', order(BUY, { whatIf: 1 }), /msg\.whatIf must be the boolean/],
  ['whatIf inside the payload', order({ ...BUY, whatIf: true }), /whatIf belongs on the message/],
  ['price on a market order', order({ ...BUY, price: 6000 }), /a market order takes no price/],
  ['stopPrice on a market order', order({ ...BUY, stopPrice: 6000 }), /a market order takes no stopPrice/],
  ['stopPrice on a limit order', order({ action: 'buy', quantity: 1, type: 'limit', price: 6000, stopPrice: 5999 }), /a limit order takes no stopPrice/],
  ['price on a stop order', order({ action: 'sell', quantity: 1, type: 'stop', stopPrice: 5990, price: 5989 }), /a stop order takes no price/],
  ['limit without price', order({ action: 'buy', quantity: 1, type: 'limit' }), /a limit order needs price/],
  ['stop-limit without stopPrice', order({ action: 'buy', quantity: 1, type: 'stop-limit', price: 6000 }), /a stop-limit order needs stopPrice/],
  ['bracket on a cancel', order({ action: 'cancel', clientOrderId: 'a-1', bracket: { stop: 1, targets: [2] } }), /a cancel takes no bracket/],
  ['quantity on a cancel', order({ action: 'cancel', clientOrderId: 'a-1', quantity: 1 }), /a cancel takes no quantity/],
  ['type on a modify', order({ action: 'modify', clientOrderId: 'a-1', type: 'limit', price: 6000 }), /a modify takes no type/],
  ['price on a flatten', order({ action: 'flatten', price: 6000 }), /a flatten takes no price/],
  ['unknown field', order({ ...BUY, leverage: 10 }), /field "leverage" is not part of an order message/],
  ['misspelt field', order({ action: 'buy', quantity: 1, type: 'limit', price: 6000, stopprice: 5999 }), /field "stopprice" is not part of an order message/],
  ['unknown side', order({ action: 'long', quantity: 1, type: 'market' }), /action "long" is not valid/],
  ['side in capitals', order({ action: 'BUY', quantity: 1, type: 'market' }), /action "BUY" is not valid/],
  ['no action', order({ quantity: 1, type: 'market' }), /action .* is not valid/],
  ['fractional quantity', order({ ...BUY, quantity: 1.5 }), /quantity 1\.5 is not valid: use a whole number/],
  ['zero quantity', order({ ...BUY, quantity: 0 }), /quantity 0 is not valid/],
  ['negative quantity', order({ ...BUY, quantity: -1 }), /quantity -1 is not valid/],
  ['quantity as text', order({ ...BUY, quantity: '1' }), /quantity "1" is not valid/],
  ['quantity absent', order({ action: 'buy', type: 'market' }), /a buy needs quantity/],
  ['huge quantity', order({ ...BUY, quantity: 1e9 }), /quantity 1000000000 is not valid/],
  ['NaN price', order({ action: 'buy', quantity: 1, type: 'limit', price: Number.NaN }), /price NaN is not a price/],
  ['Infinity price', order({ action: 'buy', quantity: 1, type: 'limit', price: Infinity }), /price Infinity is not a price/],
  ['negative price', order({ action: 'buy', quantity: 1, type: 'limit', price: -6000 }), /price -6000 is not a price/],
  ['price as text', order({ action: 'buy', quantity: 1, type: 'limit', price: '6000' }), /price "6000" is not a price/],
  ['price off the tick', order({ action: 'buy', quantity: 1, type: 'limit', price: 6000.1 }), /not on the instrument's 0\.25 tick/],
  ['price null on a market order', order({ ...BUY, price: null }), /a market order takes no price \(null was given\)/],
  ['bracket stop above target for a buy', order({ ...BUY, bracket: { stop: 6010, targets: [6000] } }), /wrong way round for a buy/],
  ['bracket stop below target for a sell', order({ action: 'sell', quantity: 1, type: 'market', bracket: { stop: 5990, targets: [6000] } }), /wrong way round for a sell/],
  ['bracket stop above a buy limit entry', order({ action: 'buy', quantity: 1, type: 'limit', price: 6000, bracket: { stop: 6001, targets: [6010] } }), /either side of the entry 6000/],
  ['bracket with two targets', order({ ...BUY, bracket: { stop: 5990, targets: [6010, 6020] } }), /exactly one take-profit/],
  ['bracket with an unknown field', order({ ...BUY, bracket: { stop: 5990, targets: [6010], trail: 2 } }), /bracket field "trail"/],
  ['bracket off the tick', order({ ...BUY, bracket: { stop: 5990.1, targets: [6010] } }), /bracket stop 5990\.1 is not on the instrument's 0\.25 tick/],
  // Found by the property below (seed -392795892): a positive price under half a tick rounded to 0 ticks and passed.
  ['stopPrice far below one tick', order({ action: 'buy', quantity: 1, type: 'stop-limit', price: 6000, stopPrice: 5e-324 }), /stopPrice 5e-324 is below the instrument's 0\.25 tick/],
  ['limit price of a tenth of a tick', order({ action: 'buy', quantity: 1, type: 'limit', price: 0.025 }), /price 0\.025 is below the instrument's 0\.25 tick/],
  ['symbol and conid together', order({ ...BUY, symbol: 'ES', conid: 495512557 }), /symbol or as conid, not both/],
  ['conid as text', order({ ...BUY, conid: '495512557' }), /conid "495512557" is not an IBKR contract id/],
  ['empty symbol', order({ ...BUY, symbol: '' }), /symbol "" is not an instrument symbol/],
  ['symbol on a cancel', order({ action: 'cancel', clientOrderId: 'a-1', symbol: 'ES' }), /a cancel takes no symbol/],
  ['cancel without id', order({ action: 'cancel' }), /a cancel needs the clientOrderId/],
  ['modify changing nothing', order({ action: 'modify', clientOrderId: 'a-1' }), /changes nothing/],
  ['own clientOrderId too long', order({ ...BUY, clientOrderId: 'x'.repeat(33) }), /clientOrderId .* is not valid for a new order/],
  ['own clientOrderId with a colon', order({ ...BUY, clientOrderId: 'a:stop' }), /clientOrderId "a:stop" is not valid for a new order/],
  ['bad tif', order({ ...BUY, tif: 'GTC' }), /tif "GTC" is not valid/],
  ['what-if of a cancel', order({ action: 'cancel', clientOrderId: 'a-1' }, { whatIf: true }), /a what-if prices a new order only/],
  ['payload not an object', order('buy 1'), /needs an object payload/],
  ['array payload', order([BUY]), /needs an object payload/],
  ['signal with unknown kind', { topic: 'signal', payload: { signal: 'BUY', entry: 6000, stop: 5990, targets: [6010, 6020] } }, /signal "BUY" is not LONG, SHORT or NO_SIGNAL/],
  ['signal stop above a LONG entry', { topic: 'signal', payload: { signal: 'LONG', entry: 6000, stop: 6005, targets: [6010, 6020] } }, /levels are inconsistent/],
  ['signal entry off the tick', { topic: 'signal', payload: { signal: 'LONG', entry: 6000.3, stop: 5990, targets: [6010, 6020] } }, /signal entry 6000\.3 is not on the instrument's 0\.25 tick/],
  ['signal with text prices', { topic: 'signal', payload: { signal: 'SHORT', entry: '6000', stop: 6010, targets: [5990, 5980] } }, /signal entry "6000" is not a price/],
  ['unknown topic', { topic: 'quotes', payload: BUY }, /msg\.topic "quotes" is not handled/],
  ['kill-switch with a lower-case state', { topic: 'kill-switch', payload: 'halted' }, /must be "HALTED", "REDUCING" or "ACTIVE"/],
  ['resume with extra fields', order({ action: 'resume', quantity: 1 }), /resume .* takes nothing but action/],
];

describe('the one order parser (both order nodes)', () => {
  for (const [name, msg, words] of HOSTILE) {
    it(`refuses ${name}, with the same words for sierra-order and ibkr-order`, () => {
      let sierra: unknown;
      let ibkr: unknown;
      assert.throws(() => parseOrderMessage(msg, SIERRA), (err: unknown) => ((sierra = err), true));
      assert.throws(() => parseOrderMessage(msg, IBKR), (err: unknown) => ((ibkr = err), true));
      assert.ok(sierra instanceof InvalidInputError, String(sierra));
      assert.match(sierra.message, words);
      assert.equal((ibkr as Error).message, sierra.message, 'the same refusal from both nodes');
      assert.match(sierra.message, /Nothing was sent|nothing changed/);
    });
  }

  it('reads a what-if only from a boolean: msg.whatIf true, or the node setting when absent', () => {
    const read = (m: Msg, s = IBKR) => {
      const p = parseOrderMessage(m, s);
      return p.kind === 'order' && p.intent.kind === 'entry' ? p.intent.whatIf : null;
    };
    assert.equal(read(order(BUY, { whatIf: true })), true);
    assert.equal(read(order(BUY, { whatIf: false }), { ...IBKR, whatIf: true }), false);
    assert.equal(read(order(BUY), { ...IBKR, whatIf: true }), true);
    assert.equal(read(order(BUY)), false);
  });

  it('returns the instrument override explicitly, parsed once', () => {
    assert.deepEqual(parseOrderMessage(order({ ...BUY, symbol: 'MESZ25_FUT_CME' }), SIERRA), {
      kind: 'order',
      intent: { kind: 'entry', side: 'buy', quantity: 1, type: 'market', tif: 'day', whatIf: false, origin: 'order' },
      instrument: { symbol: 'MESZ25_FUT_CME' },
    });
    assert.deepEqual(parseOrderMessage(order({ action: 'flatten', conid: 495512557 }), IBKR), { kind: 'order', intent: { kind: 'flatten' }, instrument: { conid: 495512557 } });
    assert.deepEqual(parseOrderMessage(order({ action: 'cancel-all' }), IBKR), { kind: 'order', intent: { kind: 'cancel-all' } });
  });

  it('passes a price on the tick as the tick itself, never with the binary noise of its decimal', () => {
    const parsed = parseOrderMessage(order({ action: 'buy', quantity: 1, type: 'limit', price: 6000 + 1e-9 }), SIERRA);
    assert.ok(parsed.kind === 'order' && parsed.intent.kind === 'entry');
    assert.equal(parsed.intent.price, 6000);
    const tenth = parseOrderMessage(order({ action: 'buy', quantity: 1, type: 'limit', price: 0.1 + 0.2 }), { ...SIERRA, tickSize: 0.1 });
    assert.ok(tenth.kind === 'order' && tenth.intent.kind === 'entry');
    assert.equal(tenth.intent.price, 0.3);
  });

  it('turns signals into an entry + bracket by the node settings and ignores NO_SIGNAL', () => {
    const long = { signal: 'LONG', entry: 6000, stop: 5998.25, targets: [6003.5, 6005.25], bar: { t: Date.UTC(2026, 2, 10, 14, 41) } };
    assert.deepEqual(parseOrderMessage({ topic: 'signal', payload: long }, IBKR), {
      kind: 'order',
      intent: { kind: 'entry', side: 'buy', quantity: 2, type: 'market', bracket: { stop: 5998.25, target: 6003.5 }, tif: 'gtc', whatIf: false, origin: 'signal LONG 14:41Z' },
    });
    assert.deepEqual(parseOrderMessage({ topic: 'battle-navale', payload: { signal: 'NO_SIGNAL', entry: null, stop: null, targets: [] } }, SIERRA), { kind: 'ignored', reason: 'NO_SIGNAL' });
  });

  it('gives kill and resume one meaning in both spellings; a kill is never refused', () => {
    const halted = { kind: 'kill-switch', state: 'HALTED' };
    for (const m of [{ topic: 'kill' }, { topic: 'kill', payload: 1_765_000_000_000, whatIf: 'yes' }, { topic: 'kill-switch', payload: 'HALTED' }, order({ action: 'kill', junk: 1 }, { whatIf: 'true' })]) {
      assert.deepEqual(parseOrderMessage(m, SIERRA), halted);
      assert.deepEqual(parseOrderMessage(m, IBKR), halted);
    }
    assert.deepEqual(parseOrderMessage({ topic: 'resume' }, IBKR), { kind: 'kill-switch', state: 'ACTIVE' });
    assert.deepEqual(parseOrderMessage({ topic: 'kill-switch', payload: 'ACTIVE' }, SIERRA), { kind: 'kill-switch', state: 'ACTIVE' });
  });

  it('never turns an unknown side or a non-boolean whatIf into an order (property)', () => {
    const side = fc.string().filter((s) => !['buy', 'sell', 'modify', 'cancel', 'cancel-all', 'flatten', 'kill', 'resume'].includes(s));
    fc.assert(
      fc.property(side, fc.anything(), (action, whatIf) => {
        assert.throws(() => parseOrderMessage(order({ ...BUY, action }), SIERRA), InvalidInputError);
        if (whatIf !== undefined && typeof whatIf !== 'boolean') assert.throws(() => parseOrderMessage(order(BUY, { whatIf }), IBKR), /msg\.whatIf must be the boolean/);
      }),
    );
  });

  it('either refuses a random payload or returns an intent whose every field was checked (property)', () => {
    const payload = fc.record(
      {
        action: fc.constantFrom('buy', 'sell', 'modify', 'cancel', 'cancel-all', 'flatten'),
        quantity: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), fc.constant('1')),
        type: fc.constantFrom('market', 'limit', 'stop', 'stop-limit', 'MKT'),
        price: fc.oneof(fc.constant(6000), fc.constant(6000.1), fc.double()),
        stopPrice: fc.oneof(fc.constant(5990), fc.double()),
        clientOrderId: fc.oneof(fc.constant('a-1'), fc.string()),
        extra: fc.anything(),
      },
      { requiredKeys: ['action'] },
    );
    fc.assert(
      fc.property(payload, (p) => {
        let parsed;
        try {
          parsed = parseOrderMessage(order(p), SIERRA);
        } catch (err) {
          assert.ok(err instanceof InvalidInputError, String(err));
          return;
        }
        assert.ok(!('extra' in p && p.extra !== undefined), 'an unknown field never passes');
        if (parsed.kind === 'order' && parsed.intent.kind === 'entry') {
          const e = parsed.intent;
          assert.ok(Number.isInteger(e.quantity) && e.quantity > 0);
          assert.equal(e.price !== undefined, e.type === 'limit' || e.type === 'stop-limit');
          assert.equal(e.stopPrice !== undefined, e.type === 'stop' || e.type === 'stop-limit');
          for (const x of [e.price, e.stopPrice]) if (x !== undefined) assert.ok(Number.isFinite(x) && x > 0 && Number.isInteger(x / 0.25));
        }
      }),
      { numRuns: 500 },
    );
  });
});
