import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InvalidInputError } from '../../../lib/errors';
import { classifyInput, orderRequestToCommand, signalToIntent, type SignalOrderSettings } from '../../../lib/sierra/signal-to-order';

const SETTINGS: SignalOrderSettings = { symbol: 'ESZ25_FUT_CME', quantity: 2, entry: 'limit', target: 1 };
const LONG = { signal: 'LONG', entry: 6000, stop: 5998.25, targets: [6003.5, 6005.25], score: 0.4 };
const SHORT = { signal: 'SHORT', entry: 6000, stop: 6001.75, targets: [5996.5, 5994.75], score: -0.4 };
const DEFAULTS = { symbol: 'ESZ25_FUT_CME', quantity: 1 };

describe('signal and order messages → Sierra order commands', () => {
  describe('signalToIntent', () => {
    it('turns a LONG into a buy limit bracket at the entry with the stop and TP1, the node quantity and symbol', () => {
      assert.deepEqual(signalToIntent(LONG, SETTINGS), {
        symbol: 'ESZ25_FUT_CME',
        side: 'buy',
        quantity: 2,
        type: 'limit',
        price: 6000,
        bracket: { stop: 5998.25, targets: [6003.5] },
      });
    });

    it('turns a SHORT into a sell bracket and takes TP2 when set to, with a market entry when set to', () => {
      assert.deepEqual(signalToIntent(SHORT, { ...SETTINGS, entry: 'market', target: 2 }), {
        symbol: 'ESZ25_FUT_CME',
        side: 'sell',
        quantity: 2,
        type: 'market',
        bracket: { stop: 6001.75, targets: [5994.75] },
      });
    });

    it('ignores NO_SIGNAL', () => {
      assert.equal(signalToIntent({ signal: 'NO_SIGNAL', entry: null, stop: null, targets: [] }, SETTINGS), null);
    });

    it('refuses a signal whose stop is on the wrong side of the entry, in both directions', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 40 }), fc.boolean(), (ticks, long) => {
          const entry = 6000;
          const wrongStop = long ? entry + ticks * 0.25 : entry - ticks * 0.25;
          const target = long ? entry + 10 : entry - 10;
          assert.throws(() => signalToIntent({ signal: long ? 'LONG' : 'SHORT', entry, stop: wrongStop, targets: [target] }, SETTINGS), /levels are inconsistent/);
        }),
      );
    });

    it('refuses missing levels, unknown signals and a missing TP2 with a message naming what is missing', () => {
      assert.throws(() => signalToIntent({ ...LONG, entry: null }, SETTINGS), /no valid entry price/);
      assert.throws(() => signalToIntent({ ...LONG, stop: '5998' }, SETTINGS), /no valid stop price/);
      assert.throws(() => signalToIntent({ ...LONG, targets: [6003.5] }, { ...SETTINGS, target: 2 }), /no valid TP2/);
      assert.throws(() => signalToIntent({ ...LONG, signal: 'BUY' }, SETTINGS), /not LONG, SHORT or NO_SIGNAL/);
      assert.throws(() => signalToIntent('LONG', SETTINGS), InvalidInputError);
    });
  });

  describe('orderRequestToCommand', () => {
    it('maps buy and sell to a submit with the node defaults filled in', () => {
      assert.deepEqual(orderRequestToCommand({ action: 'buy', type: 'market' }, DEFAULTS), {
        action: 'submit',
        intent: { symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' },
      });
      assert.deepEqual(orderRequestToCommand({ action: 'sell', type: 'limit', quantity: 3, price: 6010.5, tif: 'gtc', symbol: 'MESZ25_FUT_CME' }, DEFAULTS), {
        action: 'submit',
        intent: { symbol: 'MESZ25_FUT_CME', side: 'sell', quantity: 3, type: 'limit', price: 6010.5, tif: 'gtc' },
      });
    });

    it('never assumes an order type', () => {
      assert.throws(() => orderRequestToCommand({ action: 'buy', quantity: 1 }, DEFAULTS), /needs type market, limit, stop or stop-limit/);
    });

    it('refuses a caller-chosen clientOrderId on a new order, and a bad quantity', () => {
      assert.throws(() => orderRequestToCommand({ action: 'buy', type: 'market', clientOrderId: 'x' }, DEFAULTS), /must not carry a clientOrderId/);
      assert.throws(() => orderRequestToCommand({ action: 'buy', type: 'market', quantity: 1.5 }, DEFAULTS), /whole number of contracts/);
      assert.throws(() => orderRequestToCommand({ action: 'buy', type: 'market', quantity: 0 }, DEFAULTS), /whole number of contracts/);
    });

    it('maps cancel, modify, flatten and cancel-all', () => {
      assert.deepEqual(orderRequestToCommand({ action: 'cancel', clientOrderId: 'a-1' }, DEFAULTS), { action: 'cancel', clientOrderId: 'a-1' });
      assert.deepEqual(orderRequestToCommand({ action: 'modify', clientOrderId: 'a-1', price: 6001, quantity: 2 }, DEFAULTS), {
        action: 'modify',
        clientOrderId: 'a-1',
        change: { price: 6001, quantity: 2 },
      });
      assert.deepEqual(orderRequestToCommand({ action: 'flatten' }, DEFAULTS), { action: 'flatten', symbol: 'ESZ25_FUT_CME' });
      assert.deepEqual(orderRequestToCommand({ action: 'cancel-all' }, DEFAULTS), { action: 'cancel-all' });
      assert.deepEqual(orderRequestToCommand({ action: 'cancel-all', symbol: 'NQZ25_FUT_CME' }, DEFAULTS), { action: 'cancel-all', symbol: 'NQZ25_FUT_CME' });
    });

    it('refuses a cancel or modify without its clientOrderId, a modify that changes nothing, and unknown actions', () => {
      assert.throws(() => orderRequestToCommand({ action: 'cancel' }, DEFAULTS), /needs the clientOrderId/);
      assert.throws(() => orderRequestToCommand({ action: 'modify', clientOrderId: 'a-1' }, DEFAULTS), /changes nothing/);
      assert.throws(() => orderRequestToCommand({ action: 'short' }, DEFAULTS), /action "short" is not valid/);
      assert.throws(() => orderRequestToCommand(null, DEFAULTS), /object payload/);
    });
  });

  describe('classifyInput', () => {
    it('reads kill and resume from the topic or payload.action', () => {
      assert.deepEqual(classifyInput({ topic: 'kill' }), { kind: 'kill' });
      assert.deepEqual(classifyInput({ payload: { action: 'kill' } }), { kind: 'kill' });
      assert.deepEqual(classifyInput({ topic: 'order', payload: { action: 'resume' } }), { kind: 'resume' });
    });

    it('reads signals and orders by topic, or by payload shape without one', () => {
      assert.equal(classifyInput({ topic: 'signal', payload: LONG }).kind, 'signal');
      assert.equal(classifyInput({ topic: 'battle-navale', payload: LONG }).kind, 'signal');
      assert.equal(classifyInput({ payload: LONG }).kind, 'signal');
      assert.equal(classifyInput({ topic: 'order', payload: {} }).kind, 'order');
      assert.equal(classifyInput({ payload: { action: 'buy' } }).kind, 'order');
    });

    it('takes quotes and ticks as the price collar reference', () => {
      assert.deepEqual(classifyInput({ topic: 'quote', payload: { last: 6001.25 } }), { kind: 'price', price: 6001.25 });
      assert.deepEqual(classifyInput({ topic: 'tick', payload: { price: 6001.5, size: 1 } }), { kind: 'price', price: 6001.5 });
      assert.throws(() => classifyInput({ topic: 'quote', payload: { last: null } }), /positive last/);
    });

    it('refuses anything else with a message saying what it takes', () => {
      assert.throws(() => classifyInput({ topic: 'weather', payload: 'sunny' }), /cannot read this message/);
      assert.throws(() => classifyInput({ payload: 42 }), InvalidInputError);
    });
  });
});
