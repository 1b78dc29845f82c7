import assert from 'node:assert/strict';
import { IbkrClient, parseWhatIf, type Primer, type Requester } from '../../../lib/ibkr/client';
import { OrderTracker } from '../../../lib/ibkr/order-updates';
import { readServerFrame } from '../../../lib/ibkr/stream-protocol';
import { MarketDataBook } from '../../../lib/ibkr/market-data';
import type { IbkrRequest } from '../../../lib/ibkr/transport';
import { body, loadCorpus } from './support/corpus';

/** A requester answering each path from the corpus; records what was asked. */
function corpusRequester(answers: Record<string, unknown | (() => unknown)>): Requester & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async request<T>(req: IbkrRequest): Promise<T> {
      asked.push(`${req.method} ${req.path}`);
      const a = answers[req.path];
      if (a === undefined) throw new Error(`no corpus answer for ${req.path}`);
      return (typeof a === 'function' ? (a as () => unknown)() : a) as T;
    },
  };
}

const primer: Primer = { ensurePrimed: async () => undefined, invalidatePriming: () => undefined, primings: 1 };
const client = (answers: Record<string, unknown>) => new IbkrClient(corpusRequester(answers), primer, { accountId: 'U1234567', tradingEnabled: true, snapshotRetries: 0 });

describe('IBKR corpus: real answers parsed by our parsers', () => {
  it('every sample names its public source (an IBKR page or a public client repository)', () => {
    const corpus = loadCorpus();
    assert.ok(corpus.length >= 25, `corpus has ${corpus.length} samples`);
    for (const s of corpus) {
      assert.ok(s.endpoint, `${s.file}: endpoint`);
      assert.ok(s.source.kind === 'ibkr-doc' ? /^https:\/\//.test(s.source.url ?? '') : Boolean(s.source.repository), `${s.file}: source`);
      assert.notEqual(s.body, undefined, `${s.file}: body`);
    }
  });

  it('reads /iserver/accounts (selected account, paper flag, allowCustomerTime)', async () => {
    const accounts = await client({ '/iserver/accounts': body('iserver-accounts.cpapi') }).accounts();
    assert.deepEqual(accounts.accounts, ['U1234567']);
    assert.equal(accounts.selectedAccount, 'U1234567');
    assert.equal(accounts.isPaper, false);
    assert.deepEqual(accounts.allowCustomerTime, { U1234567: false });
  });

  it('reads snapshot values sent as strings ("1,300" → 1300) and the availability code', async () => {
    const rows = await client({ '/iserver/marketdata/snapshot': body('marketdata-snapshot.data.webapi') }).snapshot([265598, 8314], ['last', 'bid', 'ask', 'bidSize', 'askSize', 'lastSize']);
    assert.equal(rows[0]?.conid, 265598);
    assert.deepEqual(rows[0]?.values, { last: 168.42, bid: 168.41, ask: 168.42, bidSize: 1300, askSize: 600, lastSize: 100 });
    assert.equal(rows[0]?.lastFlag, 'live');
    assert.equal(rows[0]?.availability.source, 'real-time');
    assert.equal(rows[1]?.values.last, 189.6);
  });

  it('reads the snapshot pre-flight (conids only) as rows without values, never as zeros', async () => {
    const rows = await client({ '/iserver/marketdata/snapshot': body('marketdata-snapshot.preflight.webapi') }).snapshot([265598, 8314], ['last', 'bid']);
    assert.deepEqual(rows.map((r) => r.values), [{ last: null, bid: null }, { last: null, bid: null }]);
  });

  it('reads /trsrv/futures (expirationDate as a number) and /iserver/secdef/search (conid as a string)', async () => {
    const c = client({ '/trsrv/futures': body('trsrv-futures.cpapi'), '/iserver/secdef/search': body('secdef-search.cpapi') });
    const es = (await c.futures(['ES'])).ES ?? [];
    assert.deepEqual(es.map((f) => [f.conid, f.expirationDate, f.lastTradingDate, f.underlyingConid]), [
      [495512557, '20241220', '20241219', 11004968],
      [495512563, '20251219', '20251218', 11004968],
    ]);
    const found = await c.secdefSearch('Interactive Brokers');
    assert.equal(found[0]?.conid, 43645865);
    assert.deepEqual(found[0]?.sections, []);
  });

  it('reads secdef/strikes and secdef/info (multiplier "100" as a string)', async () => {
    const c = client({ '/iserver/secdef/strikes': body('secdef-strikes.cpapi'), '/iserver/secdef/info': body('secdef-info.cpapi') });
    assert.deepEqual(await c.secdefStrikes({ conid: 265598, month: 'JAN24' }), { call: [185, 190, 195, 200], put: [185, 190, 195, 200] });
    const [info] = await c.secdefInfo({ conid: 265598, month: 'JAN24', strike: 195, right: 'P' });
    assert.deepEqual(info && [info.conid, info.right, info.strike, info.maturityDate, info.multiplier, info.tradingClass], [667629330, 'P', 195, '20240105', 100, 'AAPL']);
  });

  it('reads a history answer (bars in epoch ms, factors)', async () => {
    const h = await client({ '/iserver/marketdata/history': body('marketdata-history.ibind') }).history({ conid: 265598, bar: '1m', period: '1y' });
    assert.deepEqual(h.bars, [{ t: 1698796800000, o: 171.05, h: 192.93, l: 170.12, c: 189.37, v: 6942998.04 }]);
    assert.equal(h.priceFactor, 100);
    assert.equal(h.barLengthSec, 2678400);
  });

  it('reads an order acknowledgement (order_id as a string) and an order rejected with HTTP 200 {error}', async () => {
    const placed = await client({ '/iserver/account/U1234567/orders': body('place-order.ack.cpapi') }).placeOrder({ conid: 265598, side: 'BUY', orderType: 'MKT', quantity: 5, clientOrderId: 'c1' });
    assert.deepEqual([placed.orderId, placed.status, placed.clientOrderId], [1234567890, 'Submitted', 'c1']);
    await assert.rejects(
      client({ '/iserver/account/U1234567/orders': body('place-order.rejected.cpapi') }).placeOrder({ conid: 265598, side: 'BUY', orderType: 'MKT', quantity: 5 }),
      /limit price you selected/,
    );
  });

  it('asks the answer rule IBKR\'s question (o163) and follows the reply to the acknowledgement', async () => {
    const asked: string[] = [];
    const c = client({ '/iserver/account/U1234567/orders': body('place-order.question.cpapi'), '/iserver/reply/07a13a5a-4a48-44a5-bb25-5ab37b79186c': body('reply.ack.webapi') });
    const placed = await c.placeOrder({ conid: 265598, side: 'BUY', orderType: 'LMT', price: 150, quantity: 5 }, (id) => (asked.push(id), true));
    assert.deepEqual(asked, ['o163']);
    assert.equal(placed.orderId, 1234567890);
  });

  it('reads the reply acknowledgement that carries local_order_id (the cOID)', async () => {
    const c = client({ '/iserver/account/U1234567/orders': body('reply.ack-local-order-id.goclient') });
    const placed = await c.placeOrder({ conid: 265598, side: 'BUY', orderType: 'MKT', quantity: 1, clientOrderId: 'xxx' });
    assert.deepEqual([placed.orderId, placed.clientOrderId, placed.status], [204858507, 'xxx', 'Submitted']);
  });

  it('reads cancel, what-if, live orders (avgPrice and price as strings), auth status and tickle', async () => {
    const c = client({
      '/iserver/account/U1234567/order/123456789': body('cancel-order.cpapi'),
      '/iserver/account/orders': body('live-orders.cpapi'),
      '/iserver/auth/status': body('auth-status.ibind'),
      '/tickle': body('tickle.ibind'),
    });
    assert.deepEqual(await c.cancelOrder(123456789), { orderId: 123456789, conid: 265598, accountId: 'U1234567', message: 'Request was submitted' });
    const w = parseWhatIf(body('whatif.cpapi'));
    assert.deepEqual([w.amount, w.commission, w.total, w.currency, w.initialMargin.change], [1977.6, 1, 1978.6, 'USD', 652]);
    const [filled] = await c.liveOrders();
    assert.deepEqual(filled && [filled.orderId, filled.clientOrderId, filled.status, filled.averagePrice, filled.filledQuantity], [1234568790, 'Order123', 'Filled', 192.26, 5]);
    const ibind = client({ '/iserver/account/orders': body('live-orders.ibind') });
    const [working] = await ibind.liveOrders();
    assert.deepEqual(working && [working.price, working.status, working.quantity], [457, 'PreSubmitted', 1]);
    assert.equal((await c.authStatus()).authenticated, true);
    const t = await c.tickle();
    assert.deepEqual([t.session, t.hmdsError, t.status?.authenticated], ['ce109cbeb462a76dc3f6f4182c830cc1', 'no bridge', true]);
  });

  it('reads the websocket samples: smd values, sor order updates, str trades, system and sts', () => {
    const smd = readServerFrame(JSON.stringify(body('ws-smd.webapi')));
    assert.equal(smd.kind, 'market-data');
    const book = new MarketDataBook(8314, 'IBM');
    if (smd.kind === 'market-data') {
      const u = book.apply(smd.raw, 1712596911593);
      assert.deepEqual([u.quote.bid, u.quote.ask, u.quote.last], [189.56, 189.61, 189.6]);
    }
    const sor = readServerFrame(JSON.stringify(body('ws-sor.first.oldws')));
    assert.equal(sor.kind, 'orders');
    assert.deepEqual(readServerFrame(JSON.stringify(body('ws-system.oldws'))), { kind: 'connected', user: 'user123' });
    assert.equal(readServerFrame(JSON.stringify(body('ws-sts.oldws'))).kind, 'status');
    const tracker = new OrderTracker();
    tracker.register(922048212, { clientOrderId: 'mine', side: 'buy', quantity: 100 }, 0);
    const out = tracker.applyStream((body<{ args: unknown[] }>('ws-sor.first.oldws')).args, 0);
    assert.deepEqual(out.updates.map((u) => [u.status, u.quantity, u.filledQuantity]), [['working', 100, 0]]);
    // str: the execution of the order whose cOID (order_ref) is "66807500": one fill of 1 @ 130.64.
    const trades = new OrderTracker();
    trades.register(7, { clientOrderId: '66807500', side: 'buy', quantity: 1 }, 0);
    const str = readServerFrame(JSON.stringify(body('ws-str.oldws')));
    assert.equal(str.kind, 'other');
    const fills = trades.applyTrades(body<{ args: unknown[] }>('ws-str.oldws').args, 0).fills;
    assert.deepEqual(fills.map((f) => [f.clientOrderId, f.quantity, f.price, f.t]), [['66807500', 1, 130.64, 1617919801000]]);
  });
});
