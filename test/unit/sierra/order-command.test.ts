import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InvalidInputError } from '../../../lib/errors';
import { toSierraCommand } from '../../../lib/sierra/order-command';
import { parseOrderMessage, type ParseSettings, type ParsedMessage } from '../../../lib/trading/order-intent';

const SYMBOL = 'ESZ25_FUT_CME';
const SETTINGS: ParseSettings = { signal: { quantity: 2, entryType: 'limit', target: 1, tif: 'day' }, tickSize: 0.25, whatIf: false };
const LONG = { signal: 'LONG', entry: 6000, stop: 5998.25, targets: [6003.5, 6005.25], score: 0.4 };
const SHORT = { signal: 'SHORT', entry: 6000, stop: 6001.75, targets: [5996.5, 5994.75], score: -0.4 };

/** What sierra-order does with a message: the one parser, then the Sierra command. */
function command(msg: { topic?: string; payload?: unknown; whatIf?: unknown }, settings = SETTINGS) {
  const parsed: ParsedMessage = parseOrderMessage(msg, settings);
  if (parsed.kind !== 'order') return parsed;
  return toSierraCommand(parsed.intent, parsed.instrument, SYMBOL);
}

describe('signal and order messages → Sierra order commands', () => {
  describe('signals', () => {
    it('turns a LONG into a buy limit bracket at the entry with the stop and TP1, the node quantity and symbol', () => {
      assert.deepEqual(command({ topic: 'signal', payload: LONG }), {
        action: 'submit',
        intent: { symbol: SYMBOL, side: 'buy', quantity: 2, type: 'limit', tif: 'day', price: 6000, bracket: { stop: 5998.25, targets: [6003.5] } },
      });
    });

    it('turns a SHORT into a sell bracket and takes TP2 when set to, with a market entry when set to', () => {
      const settings: ParseSettings = { ...SETTINGS, signal: { ...SETTINGS.signal, entryType: 'market', target: 2 } };
      assert.deepEqual(command({ topic: 'signal', payload: SHORT }, settings), {
        action: 'submit',
        intent: { symbol: SYMBOL, side: 'sell', quantity: 2, type: 'market', tif: 'day', bracket: { stop: 6001.75, targets: [5994.75] } },
      });
    });

    it('ignores NO_SIGNAL', () => {
      assert.deepEqual(command({ topic: 'signal', payload: { signal: 'NO_SIGNAL', entry: null, stop: null, targets: [] } }), { kind: 'ignored', reason: 'NO_SIGNAL' });
    });

    it('refuses a signal whose stop is on the wrong side of the entry, in both directions', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 40 }), fc.boolean(), (ticks, long) => {
          const entry = 6000;
          const wrongStop = long ? entry + ticks * 0.25 : entry - ticks * 0.25;
          const target = long ? entry + 10 : entry - 10;
          assert.throws(() => command({ topic: 'signal', payload: { signal: long ? 'LONG' : 'SHORT', entry, stop: wrongStop, targets: [target] } }), /levels are inconsistent/);
        }),
      );
    });

    it('refuses missing levels, unknown signals and a missing TP2 with a message naming what is missing', () => {
      assert.throws(() => command({ topic: 'signal', payload: { ...LONG, entry: null } }), /signal entry null is not a price/);
      assert.throws(() => command({ topic: 'signal', payload: { ...LONG, stop: '5998' } }), /signal stop "5998" is not a price/);
      assert.throws(() => command({ topic: 'signal', payload: { ...LONG, targets: [6003.5] } }, { ...SETTINGS, signal: { ...SETTINGS.signal, target: 2 } }), /no TP2/);
      assert.throws(() => command({ topic: 'signal', payload: { ...LONG, signal: 'BUY' } }), /not LONG, SHORT or NO_SIGNAL/);
      assert.throws(() => command({ topic: 'signal', payload: 'LONG' }), InvalidInputError);
    });
  });

  describe('orders', () => {
    it('maps buy and sell to a submit; the quantity and the type are never assumed', () => {
      assert.deepEqual(command({ topic: 'order', payload: { action: 'buy', type: 'market', quantity: 1 } }), {
        action: 'submit',
        intent: { symbol: SYMBOL, side: 'buy', quantity: 1, type: 'market', tif: 'day' },
      });
      assert.deepEqual(command({ topic: 'order', payload: { action: 'sell', type: 'limit', quantity: 3, price: 6010.5, tif: 'gtc', symbol: 'MESZ25_FUT_CME' } }), {
        action: 'submit',
        intent: { symbol: 'MESZ25_FUT_CME', side: 'sell', quantity: 3, type: 'limit', price: 6010.5, tif: 'gtc' },
      });
      assert.throws(() => command({ topic: 'order', payload: { action: 'buy', quantity: 1 } }), /needs type market, limit, stop, stop-limit/);
      assert.throws(() => command({ topic: 'order', payload: { action: 'buy', type: 'market' } }), /needs quantity/);
    });

    it("claims a trader's own clientOrderId on a new order (the generator refuses it if used), and refuses a bad quantity", () => {
      const submit = command({ topic: 'order', payload: { action: 'buy', type: 'market', quantity: 1, clientOrderId: 'mine-1' } });
      assert.equal('action' in submit && submit.action === 'submit' && submit.intent.clientOrderId, 'mine-1');
      assert.throws(() => command({ topic: 'order', payload: { action: 'buy', type: 'market', quantity: 1.5 } }), /whole number of contracts/);
      assert.throws(() => command({ topic: 'order', payload: { action: 'buy', type: 'market', quantity: 0 } }), /whole number of contracts/);
    });

    it('maps cancel, modify, flatten and cancel-all', () => {
      assert.deepEqual(command({ topic: 'order', payload: { action: 'cancel', clientOrderId: 'a-1' } }), { action: 'cancel', clientOrderId: 'a-1' });
      assert.deepEqual(command({ topic: 'order', payload: { action: 'modify', clientOrderId: 'a-1', price: 6001, quantity: 2 } }), {
        action: 'modify',
        clientOrderId: 'a-1',
        change: { price: 6001, quantity: 2 },
      });
      assert.deepEqual(command({ topic: 'order', payload: { action: 'flatten' } }), { action: 'flatten', symbol: SYMBOL });
      assert.deepEqual(command({ topic: 'order', payload: { action: 'cancel-all' } }), { action: 'cancel-all' });
      assert.deepEqual(command({ topic: 'order', payload: { action: 'cancel-all', symbol: 'NQZ25_FUT_CME' } }), { action: 'cancel-all', symbol: 'NQZ25_FUT_CME' });
    });

    it('refuses what Sierra cannot do: a what-if, an IBKR conid, a tif change on modify', () => {
      assert.throws(() => command({ topic: 'order', whatIf: true, payload: { action: 'buy', type: 'market', quantity: 1 } }), /sierra-order has no what-if/);
      assert.throws(() => command({ topic: 'order', payload: { action: 'buy', type: 'market', quantity: 1, conid: 495512557 } }), /IBKR contract id/);
      assert.throws(() => command({ topic: 'order', payload: { action: 'modify', clientOrderId: 'a-1', tif: 'gtc' } }), /cannot change the time in force/);
    });

    it('refuses a cancel or modify without its clientOrderId, a modify that changes nothing, and unknown actions', () => {
      assert.throws(() => command({ topic: 'order', payload: { action: 'cancel' } }), /needs the clientOrderId/);
      assert.throws(() => command({ topic: 'order', payload: { action: 'modify', clientOrderId: 'a-1' } }), /changes nothing/);
      assert.throws(() => command({ topic: 'order', payload: { action: 'short' } }), /action "short" is not valid/);
      assert.throws(() => command({ topic: 'order', payload: null }), /object payload/);
    });
  });

  describe('the kill switch', () => {
    it('reads kill and resume from the topic or payload.action, and kill-switch with the state as payload', () => {
      assert.deepEqual(command({ topic: 'kill' }), { kind: 'kill-switch', state: 'HALTED' });
      assert.deepEqual(command({ topic: 'kill', payload: 1733462400000 }), { kind: 'kill-switch', state: 'HALTED' }, 'an inject timestamp never stops a kill');
      assert.deepEqual(command({ payload: { action: 'kill' } }), { kind: 'kill-switch', state: 'HALTED' });
      assert.deepEqual(command({ topic: 'order', payload: { action: 'resume' } }), { kind: 'kill-switch', state: 'ACTIVE' });
      assert.deepEqual(command({ topic: 'kill-switch', payload: 'HALTED' }), { kind: 'kill-switch', state: 'HALTED' });
      assert.deepEqual(command({ topic: 'kill-switch', payload: 'REDUCING' }), { kind: 'kill-switch', state: 'REDUCING' });
      assert.throws(() => command({ topic: 'kill-switch', payload: 'halted' }), /must be "HALTED", "REDUCING" or "ACTIVE"/);
    });

    it('refuses anything else with a message saying what it takes', () => {
      assert.throws(() => command({ topic: 'weather', payload: 'sunny' }), /is not handled/);
      assert.throws(() => command({ payload: 42 }), InvalidInputError);
    });
  });
});
