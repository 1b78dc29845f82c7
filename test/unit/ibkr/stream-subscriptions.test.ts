import { strict as assert } from 'assert';
import fc from 'fast-check';
import { StreamSubscriptions } from '../../../lib/ibkr/stream-subscriptions';
import { readServerFrame, sessionFromCookie, subscribeMarketDataCommand } from '../../../lib/ibkr/stream-protocol';

const noop = (): void => undefined;

describe('IBKR stream subscriptions (reference counting)', () => {
  it('sends one smd per contract however many nodes watch it, and umd only when the last one leaves', () => {
    const subs = new StreamSubscriptions();
    const a = subs.addMarketData('495512557', ['31', '84', '86'], noop);
    assert.equal(a.change?.command, 'smd+495512557+{"fields":["31","84","86"]}');
    const b = subs.addMarketData('495512557', ['84', '31'], noop);
    assert.equal(b.change, null, 'no new fields: nothing to send');
    assert.equal(subs.removeMarketData('495512557', a.id), null, 'another node still watches');
    assert.equal(subs.removeMarketData('495512557', b.id)?.command, 'umd+495512557+{}');
    assert.deepEqual(subs.keys(), []);
  });

  it('asks again with the union of fields when a new listener needs more', () => {
    const subs = new StreamSubscriptions();
    subs.addMarketData('265598', ['31'], noop);
    const more = subs.addMarketData('265598', ['84', '31', '86'], noop);
    assert.equal(more.change?.command, 'smd+265598+{"fields":["31","84","86"]}');
  });

  it('renews with only the fields still wanted once a listener has left', () => {
    const subs = new StreamSubscriptions();
    subs.addMarketData('265598', ['31'], noop);
    const wide = subs.addMarketData('265598', ['31', '7762'], noop);
    subs.removeMarketData('265598', wide.id);
    assert.equal(subs.marketDataCommand('265598'), 'smd+265598+{"fields":["31"]}');
  });

  it('ignores a second removal of the same listener (an unsubscribe called twice cannot drop another node)', () => {
    const subs = new StreamSubscriptions();
    const a = subs.addMarketData('1', ['31'], noop);
    subs.addMarketData('1', ['31'], noop);
    assert.equal(subs.removeMarketData('1', a.id), null);
    assert.equal(subs.removeMarketData('1', a.id), null);
    assert.deepEqual(subs.keys(), ['smd+1']);
  });

  it('counts order and P&L listeners the same way (sor/uor, spl/upl)', () => {
    const subs = new StreamSubscriptions();
    const o1 = subs.addOrders(noop);
    const o2 = subs.addOrders(noop);
    assert.equal(o1.change?.command, 'sor+{}');
    assert.equal(o2.change, null);
    const p = subs.addPnl(noop);
    assert.equal(p.change?.command, 'spl+{}');
    assert.deepEqual(subs.keys(), ['sor', 'spl']);
    assert.equal(subs.removeOrders(o1.id), null);
    assert.equal(subs.removeOrders(o2.id)?.command, 'uor+{}');
    assert.equal(subs.removePnl(p.id)?.command, 'upl+{}');
  });

  it('lists every subscription to resend on a fresh socket', () => {
    const subs = new StreamSubscriptions();
    subs.addMarketData('1', ['31'], noop);
    subs.addMarketData('2@CME', ['84'], noop);
    subs.addOrders(noop);
    subs.addPnl(noop);
    assert.deepEqual(
      subs.allCommands().map((c) => c.command),
      ['smd+1+{"fields":["31"]}', 'smd+2@CME+{"fields":["84"]}', 'sor+{}', 'spl+{}'],
    );
  });

  it('subscribes exactly while at least one listener remains, for any add/remove order (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 2 })), { maxLength: 60 }), (ops) => {
        const subs = new StreamSubscriptions();
        const live: number[][] = [[], [], []];
        const subscribed = [false, false, false];
        for (const [add, c] of ops) {
          const target = String(c + 1);
          if (add || live[c]!.length === 0) {
            const { id, change } = subs.addMarketData(target, ['31'], noop);
            if (change) {
              assert.equal(subscribed[c], false, 'subscribed twice');
              subscribed[c] = true;
            }
            live[c]!.push(id);
          } else {
            const change = subs.removeMarketData(target, live[c]!.shift()!);
            if (change) {
              assert.equal(live[c]!.length, 0, 'unsubscribed while a listener remains');
              subscribed[c] = false;
            }
          }
          assert.equal(subscribed[c], live[c]!.length > 0);
        }
      }),
    );
  });
});

describe('IBKR stream protocol', () => {
  it('reads the session id from either cookie form IBKR documents', () => {
    assert.equal(sessionFromCookie('api={"session":"abc123"}'), 'abc123');
    assert.equal(sessionFromCookie('x=1; api=abc123'), 'abc123');
    assert.equal(sessionFromCookie(`api=${encodeURIComponent('{"session":"s1"}')}`), 's1');
    assert.equal(sessionFromCookie('other=1'), undefined);
    assert.equal(sessionFromCookie(undefined), undefined);
  });

  it('writes smd with the JSON field list', () => {
    assert.equal(subscribeMarketDataCommand('265598', ['31', '84']), 'smd+265598+{"fields":["31","84"]}');
  });

  it('recognises heartbeats, the connect greeting, session waits and status', () => {
    assert.deepEqual(readServerFrame('{"topic":"system","hb":1732460000000}'), { kind: 'heartbeat', serverTime: 1732460000000 });
    assert.deepEqual(readServerFrame('{"topic":"system","success":"trader1"}'), { kind: 'connected', user: 'trader1' });
    assert.deepEqual(readServerFrame('{"message":"waiting for session"}'), { kind: 'waiting-session' });
    assert.deepEqual(readServerFrame('{"topic":"sts","args":{"authenticated":false,"competing":true}}'), {
      kind: 'status',
      authenticated: false,
      competing: true,
      message: '',
    });
  });

  it('routes smd, sor and spl frames by topic', () => {
    const md = readServerFrame('{"topic":"smd+265598","31":"168.42","conid":265598}');
    assert.equal(md.kind, 'market-data');
    assert.equal(md.kind === 'market-data' && md.target, '265598');
    const orders = readServerFrame('{"topic":"sor","args":[{"orderId":1,"status":"Filled"}]}');
    assert.equal(orders.kind === 'orders' && orders.orders.length, 1);
    const pnl = readServerFrame('{"topic":"spl","args":{"U1.Core":{"dpl":12.5}}}');
    assert.deepEqual(pnl.kind === 'pnl' && pnl.pnl, { 'U1.Core': { dpl: 12.5 } });
  });

  it('reports server errors and never throws on garbage', () => {
    const err = readServerFrame('{"topic":"error","error":"invalid conid"}');
    assert.equal(err.kind === 'error' && err.text, 'invalid conid');
    assert.equal(readServerFrame('not json \uFFFD').kind, 'unreadable');
    assert.equal(readServerFrame('[1,2]').kind, 'unreadable');
    assert.equal(readServerFrame('{"topic":"blt","args":{}}').kind, 'other');
  });
});
