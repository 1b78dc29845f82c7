import assert from 'node:assert/strict';
import { IbkrConnection } from '../../../lib/ibkr/index';
import { RejectedError, TradingDisabledError } from '../../../lib/ibkr/errors';
import { frontMonth } from '../../../lib/ibkr/futures';
import type { FutureContract } from '../../../lib/ibkr/types';
import { startLoopback, type Handler, type Loopback } from './loopback';

const ES_ORDER = { conid: 495512563, side: 'BUY' as const, orderType: 'LMT' as const, quantity: 1, price: 5000.25, clientOrderId: 'mia-1', secType: 'FUT' };

describe('IBKR client', () => {
  let server: Loopback | undefined;
  let connection: IbkrConnection | undefined;
  afterEach(async () => {
    await connection?.close();
    await server?.close();
    server = connection = undefined;
  });

  async function connect(handler: Handler, tradingEnabled = true): Promise<IbkrConnection> {
    server = await startLoopback((req) => (req.path === '/iserver/accounts' ? { body: { accounts: ['U1'], selectedAccount: 'U1', isPaper: true } } : handler(req)));
    connection = new IbkrConnection({ mode: 'gateway', baseUrl: server.baseUrl, tradingEnabled, familyLimits: { 'live-orders': { kind: 'interval', intervalMs: 200 } } });
    return connection;
  }

  const paths = () => server!.requests.map((r) => `${r.method} ${r.path}`);

  it('answers chained confirmation questions by rule until IBKR gives the order id', async () => {
    const c = await connect((req) => {
      if (req.path === '/iserver/account/U1/orders') return { body: [{ id: 'q1', message: ['Price exceeds the percentage constraint'], messageIds: ['o163'] }] };
      if (req.path === '/iserver/reply/q1') return { body: [{ id: 'q2', message: ['No market data'], messageIds: ['o354'] }] };
      if (req.path === '/iserver/reply/q2') return { body: [{ order_id: '1234', order_status: 'Submitted' }] };
      return { status: 404 };
    });
    const asked: string[] = [];
    const placed = await c.client.placeOrder(ES_ORDER, (id) => {
      asked.push(id);
      return id === 'o163' || id === 'o354';
    });
    assert.deepEqual(placed, { orderId: 1234, status: 'Submitted', clientOrderId: 'mia-1' });
    assert.deepEqual(asked, ['o163', 'o354']);
    const order = (server!.requests.find((r) => r.path === '/iserver/account/U1/orders')!.body as { orders: Array<Record<string, unknown>> }).orders[0]!;
    assert.equal(order.cOID, 'mia-1');
    assert.equal(order.manualIndicator, false, 'CME Rule 536-B tag on futures');
    assert.equal(typeof order.extOperator, 'string');
    assert.deepEqual(server!.requests.find((r) => r.path === '/iserver/reply/q1')!.body, { confirmed: true });
  });

  it('refuses a question the rule does not allow: Rejected, IBKR told no, nothing else sent', async () => {
    const c = await connect((req) => {
      if (req.path === '/iserver/account/U1/orders') return { body: [{ id: 'q9', message: ['This order will fill immediately'], messageIds: ['o403'] }] };
      return { body: {} };
    });
    await assert.rejects(c.client.placeOrder(ES_ORDER, () => false), (err: unknown) => {
      assert.ok(err instanceof RejectedError);
      assert.equal(err.reason, 'question-refused');
      assert.match(err.message, /o403.*fill immediately.*not placed/);
      return true;
    });
    assert.deepEqual(server!.requests.find((r) => r.path === '/iserver/reply/q9')!.body, { confirmed: false });
  });

  it('reports an order IBKR rejects with {"error"} as Rejected', async () => {
    const c = await connect((req) => (req.path === '/iserver/account/U1/orders' ? { body: { error: 'Insufficient margin' } } : { body: {} }));
    await assert.rejects(c.client.placeOrder(ES_ORDER), /Insufficient margin/);
  });

  it('sends nothing when trading is disabled', async () => {
    const c = await connect(() => ({ body: {} }), false);
    await assert.rejects(c.client.placeOrder(ES_ORDER, () => true), TradingDisabledError);
    await assert.rejects(c.client.modifyOrder(1, ES_ORDER), TradingDisabledError);
    await assert.rejects(c.client.cancelOrder(-1), /cancel-all not sent: trading is disabled/);
    assert.equal(server!.requests.length, 0);
  });

  it('cancels every order with -1 and tags futures cancels', async () => {
    const c = await connect(() => ({ body: { msg: 'Request was submitted', order_id: -1, conid: -1, account: 'U1' } }));
    const ack = await c.client.cancelOrder(-1, { futures: true });
    assert.equal(ack.message, 'Request was submitted');
    const req = server!.requests.find((r) => r.method === 'DELETE')!;
    assert.equal(req.path, '/iserver/account/U1/order/-1');
    assert.equal(req.query.get('manualIndicator'), 'false');
    assert.ok(req.query.get('extOperator'));
  });

  it('asks the snapshot again after the pre-flight, so callers get prices', async () => {
    let calls = 0;
    const c = await connect((req) => {
      if (req.path !== '/iserver/marketdata/snapshot') return { body: {} };
      calls += 1;
      return calls === 1
        ? { body: [{ conid: 495512563, conidEx: '495512563' }] }
        : { body: [{ conid: 495512563, _updated: 1718000000000, '31': 'C5,012.25', '84': '5012.00', '86': '5012.50', '88': '1.2K', '6509': 'DPB' }] };
    });
    const [row] = await c.client.snapshot([495512563], ['last', 'bid', 'ask', 'bidSize']);
    assert.equal(calls, 2);
    assert.equal(row?.values.last, 5012.25);
    assert.equal(row?.lastFlag, 'prior-close');
    assert.equal(row?.values.bid, 5012);
    assert.equal(row?.values.bidSize, 1200);
    assert.equal(row?.availability.source, 'delayed');
    assert.ok(paths().indexOf('GET /iserver/accounts') < paths().indexOf('GET /iserver/marketdata/snapshot'), 'accounts primed first');
    assert.equal(server!.requests[1]?.query.get('fields'), '31,84,86,88,6509');
  });

  it('re-primes accounts on "Please query /accounts first" and retries the read', async () => {
    let calls = 0;
    const c = await connect((req) => {
      if (req.path !== '/iserver/account/orders') return { body: {} };
      calls += 1;
      return calls === 1 ? { status: 500, body: { error: 'Please query /accounts first' } } : { body: { orders: [{ orderId: 7, order_ref: 'mia-1', status: 'Submitted', totalSize: '1', filledQuantity: '0', acct: 'U1', conid: 1 }] } };
    });
    const orders = await c.client.liveOrders();
    assert.equal(orders[0]?.clientOrderId, 'mia-1');
    assert.equal(orders[0]?.quantity, 1);
    assert.equal(paths().filter((p) => p === 'GET /iserver/accounts').length, 2);
  });

  it('reads every page of positions until a page holds fewer than 100', async () => {
    const c = await connect((req) => {
      const page = Number(req.path.split('/').pop());
      const n = page < 2 ? 100 : 3;
      return { body: Array.from({ length: n }, (_, i) => ({ acctId: 'U1', conid: page * 1000 + i, position: '2', mktPrice: '5000.25', avgCost: '250012.5' })) };
    });
    const positions = await c.client.positions();
    assert.equal(positions.length, 203);
    assert.equal(positions[0]?.quantity, 2);
  });

  it('refuses an invalid history request before asking IBKR', async () => {
    const c = await connect(() => ({ body: {} }));
    await assert.rejects(c.client.history({ conid: 1, bar: '7min', period: '1d' }), /bar size "7min"/);
    await assert.rejects(c.client.history({ conid: 1, bar: '1min', period: '31min' }), /period "31min"/);
    await assert.rejects(c.client.history({ conid: 1, bar: '1d', period: '2h' }), /longer than the period/);
    assert.equal(server!.requests.length, 0);
  });

  it('returns history bars as numbers, oldest first', async () => {
    const c = await connect(() => ({ body: { symbol: 'ES', text: 'E-mini', data: [{ t: 2, o: 2, h: 3, l: 1, c: 2.5, v: 10 }, { t: 1, o: 1, h: 2, l: 0.5, c: 2, v: 5 }], points: 2 } }));
    const result = await c.client.history({ conid: 495512563, bar: '1min', period: '1d' });
    assert.deepEqual(result.bars.map((b) => b.t), [1, 2]);
  });

  it('picks the ES front month and rolls 8 days before expiry', () => {
    const list: FutureContract[] = [
      { symbol: 'ES', conid: 3, underlyingConid: 11004968, expirationDate: '20260618', lastTradingDate: null },
      { symbol: 'ES', conid: 2, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null },
    ];
    assert.equal(frontMonth(list, Date.UTC(2026, 2, 1, 15), 8).conid, 2);
    assert.equal(frontMonth(list, Date.UTC(2026, 2, 13, 15), 8).conid, 3, 'rolled 7 days before the March expiry');
  });

  it('resolves an order whose answer was lost by its client order id, without resending', async () => {
    const c = await connect((req) => {
      if (req.path === '/iserver/account/U1/orders') return { delayMs: 400, body: [{ order_id: '55' }] };
      if (req.path === '/iserver/account/orders') return { body: { orders: [{ orderId: 55, order_ref: 'mia-1', status: 'Submitted' }] } };
      return { body: {} };
    });
    (c.transport as unknown as { options: { timeoutMs: number } }).options.timeoutMs = 150;
    const placed = await c.client.placeOrder(ES_ORDER, () => true);
    assert.equal(placed.orderId, 55);
    assert.equal(paths().filter((p) => p === 'POST /iserver/account/U1/orders').length, 1);
  });
});
