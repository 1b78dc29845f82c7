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

  /** Stands for IBKR's 1-per-5-s on /portfolio/accounts, shortened so the tests stay fast. */
  const PORTFOLIO_ACCOUNTS_MS = 150;

  async function connect(handler: Handler, tradingEnabled = true, liveOrdersIntervalMs = 200): Promise<IbkrConnection> {
    server = await startLoopback((req) => (req.path === '/iserver/accounts' ? { body: { accounts: ['U1'], selectedAccount: 'U1', isPaper: true } } : handler(req)));
    connection = new IbkrConnection({
      mode: 'gateway',
      baseUrl: server.baseUrl,
      tradingEnabled,
      familyLimits: { 'live-orders': { kind: 'interval', intervalMs: liveOrdersIntervalMs }, 'portfolio-accounts': { kind: 'interval', intervalMs: PORTFOLIO_ACCOUNTS_MS } },
    });
    return connection;
  }

  /** IBKR's live orders: the first call of a brokerage session opens the feed and answers an empty list (fact sheet §2). */
  function liveOrdersFeed(orders: Array<Record<string, unknown>>): Handler {
    let open = false;
    return (req) => {
      if (req.path !== '/iserver/account/orders') return { body: {} };
      if (req.query.get('force') === 'true') open = false;
      if (!open || req.query.get('force') === 'true') {
        open = true;
        return { body: { orders: [], snapshot: false } };
      }
      return { body: { orders, snapshot: true } };
    };
  }

  const WORKING = { orderId: 55, order_ref: 'mia-1', status: 'PreSubmitted', totalSize: '1', filledQuantity: '0', acct: 'U1', conid: 495512563 };
  const FILLED = { orderId: 56, order_ref: 'mia-2', status: 'Filled', totalSize: '1', filledQuantity: '1', acct: 'U1', conid: 495512563 };
  const liveOrderCalls = () => server!.requests.filter((r) => r.path === '/iserver/account/orders');

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

  it('asks the rule about every message id of one reply and confirms only when all are accepted', async () => {
    const multi = { id: 'q1', message: ['Price exceeds the percentage constraint', 'This order will fill immediately'], messageIds: ['o163', 'o403'] };
    const c = await connect((req) => {
      if (req.path === '/iserver/account/U1/orders') return { body: [multi] };
      if (req.path === '/iserver/reply/q1') return { body: [{ order_id: '77', order_status: 'Submitted' }] };
      return { body: {} };
    });
    const asked: Array<[string, string]> = [];
    const placed = await c.client.placeOrder(ES_ORDER, (id, text) => {
      asked.push([id, text]);
      return true;
    });
    assert.equal(placed.orderId, 77);
    assert.deepEqual(asked, [
      ['o163', 'Price exceeds the percentage constraint'],
      ['o403', 'This order will fill immediately'],
    ]);
  });

  it('refuses a reply whose second message id the rule does not allow, even though the first is allowed', async () => {
    const c = await connect((req) => {
      if (req.path === '/iserver/account/U1/orders') return { body: [{ id: 'q1', message: ['Price exceeds the percentage constraint'], messageIds: ['o163'] }] };
      if (req.path === '/iserver/reply/q1') return { body: [{ id: 'q2', message: ['No market data', 'This order will fill immediately'], messageIds: ['o354', 'o403'] }] };
      if (req.path === '/iserver/reply/q2') return { body: [{ order_id: '78', order_status: 'Submitted' }] };
      return { body: {} };
    });
    const asked: string[] = [];
    const allowed = new Set(['o163', 'o354']);
    await assert.rejects(
      c.client.placeOrder(ES_ORDER, (id) => {
        asked.push(id);
        return allowed.has(id);
      }),
      (err: unknown) => {
        assert.ok(err instanceof RejectedError);
        assert.equal(err.reason, 'question-refused');
        assert.match(err.message, /o403: "This order will fill immediately"/);
        assert.doesNotMatch(err.message, /o354/, 'only the refused question is named');
        return true;
      },
    );
    assert.deepEqual(asked, ['o163', 'o354', 'o403'], 'every id of the chained reply was asked');
    assert.deepEqual(server!.requests.find((r) => r.path === '/iserver/reply/q1')!.body, { confirmed: true });
    assert.deepEqual(server!.requests.find((r) => r.path === '/iserver/reply/q2')!.body, { confirmed: false }, 'IBKR told no');
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

  it('reads the what-if money figures with their currency (fact sheet shape: "2.25 USD")', async () => {
    const c = await connect((req) => {
      if (req.path === '/iserver/marketdata/snapshot') return { body: [{ conid: 495512563, '31': '5000.25', '6509': 'RpB' }] };
      if (req.path !== '/iserver/account/U1/orders/whatif') return { body: {} };
      return {
        body: {
          amount: { amount: '250,012.5 USD', commission: '2.25 USD', total: '250,014.75 USD' },
          equity: { current: '1,000,000', change: '-2.25', after: '999,997.75' },
          initial: { current: '0', change: '15,000', after: '15,000' },
          maintenance: { current: '0', change: '13,500', after: '13,500' },
          position: { current: '0', change: '1', after: '1' },
          warn: null,
          error: null,
        },
      };
    });
    const what = await c.client.whatIf(ES_ORDER);
    assert.equal(what.commission, 2.25);
    assert.equal(what.amount, 250_012.5);
    assert.equal(what.total, 250_014.75);
    assert.equal(what.currency, 'USD');
    assert.deepEqual(what.initialMargin, { current: 0, change: 15_000, after: 15_000 });
    assert.deepEqual(what.equity, { current: 1_000_000, change: -2.25, after: 999_997.75 });
    assert.equal(what.error, null);
  });

  it('makes the /portfolio/accounts priming itself, once per session, before summary, ledger and positions', async () => {
    const c = await connect((req) => {
      if (req.path === '/portfolio/accounts') return { body: [{ id: 'U1', accountId: 'U1', currency: 'USD', type: 'INDIVIDUAL' }] };
      if (req.path === '/portfolio/U1/summary') return { body: { netliquidation: { amount: 1_000_000, currency: 'USD', isNull: false } } };
      if (req.path === '/portfolio/U1/ledger') return { body: { USD: { cashbalance: 5, netliquidationvalue: 10 } } };
      return { body: [] };
    });
    const [summary, ledger, positions] = await Promise.all([c.client.accountSummary(), c.client.ledger(), c.client.positions()]);
    assert.equal(summary.netliquidation?.amount, 1_000_000);
    assert.equal(ledger[0]?.netLiquidationValue, 10);
    assert.deepEqual(positions, []);
    const portfolio = paths().filter((p) => p.startsWith('GET /portfolio/'));
    assert.equal(portfolio[0], 'GET /portfolio/accounts', 'primed before any other /portfolio call');
    assert.equal(portfolio.filter((p) => p === 'GET /portfolio/accounts').length, 1, 'one priming shared by concurrent reads');
    await c.client.positions();
    assert.equal(paths().filter((p) => p === 'GET /portfolio/accounts').length, 1, 'not primed again in the same session');
  });

  it('primes the portfolio again after IBKR lost it, within its 1-per-5-s limit, and retries the read', async () => {
    let lost = false;
    const c = await connect((req) => {
      if (req.path === '/portfolio/accounts') return { body: [{ id: 'U1' }] };
      if (req.path === '/portfolio/U1/summary' && lost) {
        lost = false;
        return { status: 500, body: { error: 'Please query /accounts first' } };
      }
      return { body: { netliquidation: { amount: 42, currency: 'USD' } } };
    });
    await c.client.accountSummary();
    lost = true;
    const summary = await c.client.accountSummary();
    assert.equal(summary.netliquidation?.amount, 42);
    const primings = server!.requests.filter((r) => r.path === '/portfolio/accounts');
    assert.equal(primings.length, 2);
    assert.ok(primings[1]!.t - primings[0]!.t >= PORTFOLIO_ACCOUNTS_MS - 5, 'the limiter spaced the two primings');
    assert.equal(paths().filter((p) => p === 'GET /iserver/accounts').length, 2, 'the accounts priming was redone too');
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

  it('makes IBKR\'s live-orders pre-flight itself, once per session, so the first read already lists the orders', async () => {
    const c = await connect(liveOrdersFeed([WORKING]));
    const first = await c.client.liveOrders();
    assert.deepEqual(first.map((o) => o.clientOrderId), ['mia-1'], 'not the empty pre-flight answer');
    assert.equal(liveOrderCalls().length, 2, 'pre-flight, then the call that returns data');
    assert.equal((await c.client.findOrderByClientId('mia-1'))?.orderId, 55);
    assert.equal(liveOrderCalls().length, 3, 'no second pre-flight in the same session');
  });

  it('shares one pre-flight between concurrent readers', async () => {
    const c = await connect(liveOrdersFeed([WORKING]));
    const [a, b] = await Promise.all([c.client.liveOrders(), c.client.findOrderByClientId('mia-1')]);
    assert.equal(a.length, 1);
    assert.equal(b?.orderId, 55);
    assert.equal(liveOrderCalls().length, 3, 'one pre-flight and one data call each');
  });

  it('reads the orders again through a new pre-flight after the session was reset (priming lost)', async () => {
    const feed = liveOrdersFeed([WORKING]);
    let reset = false;
    const c = await connect((req) => {
      if (req.path === '/iserver/account/orders' && reset) {
        reset = false;
        return { status: 500, body: { error: 'Please query /accounts first' } };
      }
      return feed(req);
    });
    assert.equal((await c.client.liveOrders()).length, 1);
    reset = true;
    const found = await c.client.lookupOrderByClientId('mia-1');
    assert.equal(found.state, 'found');
  });

  it('says "unknown", never "not found", when the session resets under every read, and the lost order is not resent', async () => {
    // Every data call finds the session reset: each answer may be a new session's empty pre-flight list.
    let open = false;
    const c = await connect((req) => {
      if (req.path === '/iserver/account/U1/orders') return { delayMs: 400, body: [{ order_id: '55' }] };
      if (req.path !== '/iserver/account/orders') return { body: {} };
      if (!open) {
        open = true;
        return { body: { orders: [] } };
      }
      open = false;
      return { status: 500, body: { error: 'Please query /accounts first' } };
    }, true, 10);
    await assert.rejects(c.client.findOrderByClientId('mia-1'), /Cannot tell whether order mia-1 exists at IBKR.*do not send it again/);
    await assert.rejects(c.client.liveOrders(), /live orders are not available yet/);
    (c.transport as unknown as { options: { timeoutMs: number } }).options.timeoutMs = 150;
    await assert.rejects(c.client.placeOrder(ES_ORDER, () => true), /did not answer the order mia-1 in time, and whether IBKR holds it is unknown.*NOT resent/);
    assert.equal(paths().filter((p) => p === 'POST /iserver/account/U1/orders').length, 1);
  });

  it('says "not found" only after a complete read', async () => {
    const c = await connect(liveOrdersFeed([WORKING]));
    assert.deepEqual(await c.client.lookupOrderByClientId('mia-9'), { state: 'not-found' });
    assert.equal(await c.client.findOrderByClientId('mia-9'), undefined);
  });

  it('keeps only the asked statuses without sending IBKR\'s filters (which would stop the order stream)', async () => {
    const c = await connect(liveOrdersFeed([WORKING, FILLED]));
    const filled = await c.client.liveOrders({ statuses: ['filled'] });
    assert.deepEqual(filled.map((o) => o.orderId), [56]);
    const working = await c.client.liveOrders({ statuses: ['pre_submitted', 'Submitted'] });
    assert.deepEqual(working.map((o) => o.orderId), [55]);
    assert.ok(liveOrderCalls().every((r) => !r.query.has('filters')), 'no filters parameter reaches IBKR');
  });

  it('on force, clears IBKR\'s cache and then returns the orders, not the empty force answer', async () => {
    const c = await connect(liveOrdersFeed([WORKING]));
    await c.client.liveOrders();
    const forced = await c.client.liveOrders({ force: true });
    assert.deepEqual(forced.map((o) => o.orderId), [55]);
    const calls = liveOrderCalls().slice(2).map((r) => r.query.get('force'));
    assert.deepEqual(calls, ['true', null, null], 'force, a new pre-flight, then the data call');
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
