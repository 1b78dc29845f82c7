// IBKR as IBKR answers (issue 12): each behaviour below was held against a real sample (test/fixtures/ibkr) or
// IBKR's reference, and each test fails on the client as it was before.
import assert from 'node:assert/strict';
import { IbkrClient, type Primer, type Requester } from '../../../lib/ibkr/client';
import { mapHttpError, RejectedError } from '../../../lib/ibkr/errors';
import { OptionsChainFetcher, type ChainApi } from '../../../lib/ibkr/options-chain';
import { IbkrOrderDesk, RiskDeniedError, type DeskClient } from '../../../lib/ibkr/order-desk';
import type { EntryIntent } from '../../../lib/trading/order-intent';
import { OrderTracker } from '../../../lib/ibkr/order-updates';
import type { IbkrRequest } from '../../../lib/ibkr/transport';
import type { SnapshotRow } from '../../../lib/ibkr/types';
import { parseAvailability } from '../../../lib/ibkr/wire';
import type { Priority } from '../../../lib/ibkr/limits';
import { body } from './support/corpus';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { MemoryJournal } from '../../../lib/trading/journal';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import type { RiskLimits } from '../../../lib/trading/risk-rules';

/** An IBKR account's risk engine with these limits (what ibkr-order gets from lib/trading/accounts.ts). */
function ibkrEngine(limits: Partial<RiskLimits>): RiskEngine {
  const e = new RiskEngine({ broker: 'ibkr', account: 'DU1', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('node', limits);
  return e;
}


const buy = (quantity: number, clientOrderId: string): EntryIntent => ({ kind: 'entry', side: 'buy', quantity, type: 'market', tif: 'day', clientOrderId, whatIf: false, origin: 'order' });

type Answer = (req: IbkrRequest, n: number) => unknown;

/** A requester that answers by path; an Error answer is thrown as the transport would map it. */
function fakeIbkr(answers: Record<string, Answer>): Requester & { asked: string[] } {
  const asked: string[] = [];
  const counts = new Map<string, number>();
  return {
    asked,
    async request<T>(req: IbkrRequest): Promise<T> {
      asked.push(req.path);
      const n = (counts.get(req.path) ?? 0) + 1;
      counts.set(req.path, n);
      const answer = answers[req.path];
      if (!answer) throw mapHttpError(404, 'not found', req.path);
      const value = answer(req, n);
      if (value instanceof Error) throw value;
      return value as T;
    },
  };
}

/** A session keeper whose priming count moves on every re-priming (a new brokerage session). */
function fakePrimer(): Primer & { primes: number; invalidations: number; primings: number } {
  const p = {
    primes: 0,
    invalidations: 0,
    primings: 1,
    primed: true,
    async ensurePrimed() {
      if (!p.primed) {
        p.primes += 1;
        p.primings += 1;
        p.primed = true;
      }
    },
    invalidatePriming() {
      p.invalidations += 1;
      p.primed = false;
    },
  };
  return p;
}

const SNAPSHOT = '/iserver/marketdata/snapshot';

describe('IBKR client against real IBKR behaviour', () => {
  it('primes the accounts again and retries once when a snapshot gets 400 before priming (not "check the inputs")', async () => {
    const primer = fakePrimer();
    const http = fakeIbkr({ [SNAPSHOT]: (_r, n) => (n === 1 ? mapHttpError(400, 'Bad Request', SNAPSHOT) : body('marketdata-snapshot.data.webapi')) });
    const c = new IbkrClient(http, primer, { snapshotRetries: 0 });
    const rows = await c.snapshot([265598, 8314], ['last', 'bid']);
    assert.equal(rows[0]?.values.last, 168.42);
    assert.equal(primer.invalidations, 1);
    assert.equal(primer.primes, 1);
    assert.equal(http.asked.filter((p) => p === SNAPSHOT).length, 2);
  });

  it('says what to check when the snapshot is still refused after priming again', async () => {
    const http = fakeIbkr({ [SNAPSHOT]: () => mapHttpError(400, 'Bad Request', SNAPSHOT) });
    await assert.rejects(new IbkrClient(http, fakePrimer(), { snapshotRetries: 0 }).snapshot([1], ['last']), /after the accounts were queried/);
  });

  it('searches a futures symbol (secdef/search) before its first snapshot, once per brokerage session', async () => {
    const primer = fakePrimer();
    const http = fakeIbkr({
      '/trsrv/futures': () => body('trsrv-futures.cpapi'),
      '/iserver/secdef/search': () => [{ conid: '11004968', symbol: 'ES', sections: [{ secType: 'FUT', months: 'MAR25', exchange: 'CME' }] }],
      [SNAPSHOT]: () => [{ conid: 495512563, '31': 'C5000.25', '6509': 'RpB' }],
    });
    const c = new IbkrClient(http, primer, { snapshotRetries: 0 });
    await c.futures(['ES']);
    await c.snapshot([495512563], ['last']);
    await c.snapshot([495512563], ['last']);
    assert.deepEqual(http.asked, ['/trsrv/futures', '/iserver/secdef/search', SNAPSHOT, SNAPSHOT]);
    primer.invalidatePriming(); // IBKR's nightly reset: a new brokerage session
    const [row] = await c.snapshot([495512563], ['last']);
    assert.deepEqual(http.asked.slice(4), ['/iserver/secdef/search', SNAPSHOT]);
    assert.deepEqual([row?.values.last, row?.lastFlag], [5000.25, 'prior-close']);
  });

  it('still takes the futures snapshot when that search fails, and searches again on the next one', async () => {
    const http = fakeIbkr({
      '/trsrv/futures': () => body('trsrv-futures.cpapi'),
      '/iserver/secdef/search': (_r, n) => (n === 1 ? mapHttpError(503, 'Service Unavailable', '/iserver/secdef/search') : []),
      [SNAPSHOT]: () => [{ conid: 495512563, '31': '5000.25', '6509': 'RpB' }],
    });
    const c = new IbkrClient(http, fakePrimer(), { snapshotRetries: 0 });
    await c.futures(['ES']);
    assert.equal((await c.snapshot([495512563], ['last']))[0]?.values.last, 5000.25);
    await c.snapshot([495512563], ['last']);
    assert.deepEqual(http.asked, ['/trsrv/futures', '/iserver/secdef/search', SNAPSHOT, '/iserver/secdef/search', SNAPSHOT]);
  });

  it('matches bracket acknowledgements by local_order_id (the cOID), not by their place in the array', async () => {
    const http = fakeIbkr({
      '/iserver/account/U1/orders': () => [
        { order_id: '302', order_status: 'PreSubmitted', local_order_id: 'tp-1' },
        { order_id: '301', order_status: 'Submitted', local_order_id: 'parent-1' },
        { order_id: '303', order_status: 'PreSubmitted', local_order_id: 'sl-1' },
      ],
    });
    const c = new IbkrClient(http, fakePrimer(), { accountId: 'U1', tradingEnabled: true });
    const placed = await c.placeOrders([
      { conid: 1, side: 'BUY', orderType: 'LMT', price: 10, quantity: 1, clientOrderId: 'parent-1' },
      { conid: 1, side: 'SELL', orderType: 'STP', price: 9, quantity: 1, clientOrderId: 'sl-1', parentId: 'parent-1' },
      { conid: 1, side: 'SELL', orderType: 'LMT', price: 11, quantity: 1, clientOrderId: 'tp-1', parentId: 'parent-1' },
    ]);
    assert.deepEqual(placed.map((p) => [p.orderId, p.clientOrderId, p.requestIndex]), [[302, 'tp-1', 2], [301, 'parent-1', 0], [303, 'sl-1', 1]]);
  });

  it('reports the order warning IBKR puts on an acknowledgement (text + warning_message), never drops it', async () => {
    const http = fakeIbkr({
      '/iserver/account/U1/orders': () => [{ order_id: '9', order_status: 'PreSubmitted', local_order_id: 'c9', text: 'Order held while securities are located.', warning_message: '118' }],
    });
    const [placed] = await new IbkrClient(http, fakePrimer(), { accountId: 'U1', tradingEnabled: true }).placeOrders([{ conid: 1, side: 'BUY', orderType: 'MKT', quantity: 1, clientOrderId: 'c9' }]);
    assert.equal(placed?.warning, 'Order held while securities are located. (IBKR warning 118)');
    const tracker = new OrderTracker();
    tracker.register(9, { clientOrderId: 'c9', side: 'buy', quantity: 1 }, 0);
    const [update] = tracker.acknowledge(9, 'PreSubmitted', 0, placed?.warning).updates;
    assert.equal(update?.warning, 'Order held while securities are located. (IBKR warning 118)');
    const later = tracker.applyStream([{ orderId: 9, text: 'Order held', warning_message: '118', status: 'PreSubmitted' }], 1).updates;
    assert.equal(later[0]?.warning, 'Order held (IBKR warning 118)');
  });

  it('refuses a question in the older shape (no messageIds) with a message that says why and what to do', async () => {
    const question = [{ id: 'q-old', message: ['Are you sure you want to submit this order?'] }];
    const http = fakeIbkr({ '/iserver/account/U1/orders': () => question, '/iserver/reply/q-old': (req) => ((req.body as { confirmed: boolean }).confirmed ? [{ order_id: '77', order_status: 'Submitted' }] : { error: 'declined' }) });
    const c = new IbkrClient(http, fakePrimer(), { accountId: 'U1', tradingEnabled: true });
    const order = { conid: 1, side: 'BUY' as const, orderType: 'MKT' as const, quantity: 1 };
    await assert.rejects(c.placeOrder(order, (id) => id === 'o163'), (err: unknown) => {
      assert.ok(err instanceof RejectedError);
      assert.equal(err.reason, 'question-without-id');
      assert.match(err.message, /without a message id/);
      assert.match(err.message, /accept all/);
      return true;
    });
    assert.equal((await c.placeOrder(order, () => true)).orderId, 77);
  });

  it('accepts the camelCase conid names IBKR\'s reference lists (conId, underlyingConid), as well as con_id', async () => {
    const http = fakeIbkr({
      '/iserver/secdef/info': () => [{ conId: 667629330, symbol: 'AAPL', secType: 'OPT', right: 'P', strike: 195, maturityDate: '20240105', multiplier: '100', tradingClass: 'AAPL' }],
      '/iserver/contract/495512563/info': () => ({ conid: 495512563, symbol: 'ES', underlyingConid: 11004968, maturityDate: '20251219', tradingClass: 'ES' }),
      '/iserver/contract/1/info': () => ({ con_id: 1, underlying_con_id: 2, maturity_date: '20251219' }),
    });
    const c = new IbkrClient(http, fakePrimer());
    assert.equal((await c.secdefInfo({ conid: 265598, month: 'JAN24' }))[0]?.conid, 667629330);
    const es = await c.contractInfo(495512563);
    assert.deepEqual([es.conid, es.underlyingConid, es.maturityDate, es.tradingClass], [495512563, 11004968, '20251219', 'ES']);
    const snake = await c.contractInfo(1);
    assert.deepEqual([snake.underlyingConid, snake.maturityDate], [2, '20251219']);
  });
});

describe('IBKR partial fills as IBKR streams them (sor sample: avgPrice on the first fill only)', () => {
  const partial = () => body<{ args: unknown[] }>('ws-sor.partial-fills.oldws').args;

  it('reports the first fill at IBKR\'s average and holds the later ones instead of pricing them at a stale average', () => {
    const tracker = new OrderTracker();
    tracker.register(352055828, { clientOrderId: 'sell-722', side: 'sell', quantity: 722 }, 0);
    const [first, second, third] = partial();
    const a = tracker.applyStream([{ ...(first as object), status: 'Submitted' }], 1);
    assert.deepEqual(a.fills.map((f) => [f.quantity, f.price]), [[100, 382.45]]);
    const b = tracker.applyStream([second], 2);
    assert.deepEqual(b.fills, []);
    assert.deepEqual(b.updates.map((u) => [u.filledQuantity, u.averageFillPrice]), [[700, 382.45]]);
    assert.match(b.updates[0]?.reason ?? '', /not sent the price of the last 600 filled/);
    const c = tracker.applyStream([third], 3);
    assert.deepEqual(c.fills, []);
    assert.deepEqual(c.updates.map((u) => [u.status, u.filledQuantity]), [['filled', 722]]);
  });

  it('says fills await their price, and prices them from live orders (avgPrice covers every fill)', () => {
    const tracker = new OrderTracker();
    tracker.register(352055828, { clientOrderId: 'sell-722', side: 'sell', quantity: 722 }, 0);
    tracker.applyStream(partial(), 1);
    assert.equal(tracker.awaitingFillPrices(), true);
    assert.equal(tracker.unpricedPosition(), -622, 'a sell: 622 filled but not yet priced, for the position checks');
    // What OrderDesk.reconcile() feeds from GET /iserver/account/orders (avgPrice as IBKR sends it: a string).
    const out = tracker.applyStream([{ orderId: 352055828, status: 'Filled', filledQuantity: 722, avgPrice: '382.4169' }], 2);
    assert.equal(tracker.awaitingFillPrices(), false);
    assert.equal(tracker.unpricedPosition(), 0);
    assert.deepEqual(out.fills.map((f) => f.quantity), [622]);
    assert.ok(Math.abs((out.fills[0]?.price ?? 0) * 622 + 100 * 382.45 - 382.4169 * 722) < 1e-4);
  });

  it('counts fills awaiting their price in the position limit, so a new entry cannot pass it meanwhile', async () => {
    const ES = 495512557;
    let nextId = 5000;
    const client = {
      tradingEnabled: true,
      placeOrders: async (orders: Array<{ clientOrderId?: string }>) => orders.map((o) => ({ orderId: nextId++, status: 'Submitted', clientOrderId: o.clientOrderId ?? null })),
      positions: async () => [],
      liveOrders: async () => [],
      futures: async () => ({ ES: [{ symbol: 'ES', conid: ES, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null }] }), // ESH26, the front month on the test's day
      secdefSearch: async () => [],
      contractInfo: async () => ({}),
    } as unknown as DeskClient;
    const engine = ibkrEngine({ tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 3, maxOrderSize: 3 });
    const desk = new IbkrOrderDesk({ client, engine, questions: { accepted: [], acceptAll: false }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => Date.UTC(2026, 2, 10, 15) });
    const first = await desk.execute(buy(3, 'e1'));
    assert.equal(first.error, undefined);
    // IBKR fills 1 with its average, then 2 more without one (as its sor does): 3 long, only 1 priced.
    desk.onStream([{ orderId: 5000, status: 'Submitted', filledQuantity: 1, avgPrice: '5000.25' }]);
    desk.onStream([{ orderId: 5000, status: 'Filled', filledQuantity: 3 }]);
    assert.equal(desk.awaitingFillPrices, true);
    const second = await desk.execute(buy(1, 'e2'));
    assert.ok(second.error instanceof RiskDeniedError, String(second.error));
  });

  it('prices the held fills from IBKR\'s executions (str) once they arrive, each counted once', () => {
    const tracker = new OrderTracker();
    tracker.register(352055828, { clientOrderId: 'sell-722', side: 'sell', quantity: 722 }, 0);
    tracker.applyStream(partial(), 1);
    const exec = (id: string, size: number, price: string) => ({ execution_id: id, order_ref: 'sell-722', size, price, trade_time_r: 5 });
    const out = tracker.applyTrades([exec('e1', 100, '382.45'), exec('e2', 600, '382.40'), exec('e3', 22, '382.35')], 9);
    const total = out.fills.reduce((s, f) => s + f.quantity, 0);
    assert.equal(total, 622);
    const notional = out.fills.reduce((s, f) => s + f.quantity * f.price, 0) + 100 * 382.45;
    assert.ok(Math.abs(notional - (100 * 382.45 + 600 * 382.4 + 22 * 382.35)) < 1e-4);
    assert.deepEqual(tracker.applyTrades([exec('e2', 600, '382.40')], 10).fills, []);
  });
});

describe('Options chain discovery across IBKR brokerage sessions', () => {
  function row(conid: number, values: SnapshotRow['values']): SnapshotRow {
    return { conid, updated: 0, availability: parseAvailability('RpB'), lastFlag: 'live', values, other: {} };
  }

  /** IBKR as documented: strikes and info answer empty lists unless secdef/search was called in this session. */
  function sessionIbkr(): ChainApi & { session: number; searchedIn: Set<number>; calls: string[]; brokerageSession: number } {
    const api = {
      session: 1,
      searchedIn: new Set<number>(),
      calls: [] as string[],
      get brokerageSession() {
        return api.session;
      },
      secdefSearch: async () => {
        api.calls.push('search');
        api.searchedIn.add(api.session);
        return [{ conid: 416904, symbol: 'SPX', companyName: '', description: '', sections: [{ secType: 'OPT', months: ['JAN27'], exchange: 'SMART' }] }];
      },
      secdefStrikes: async () => {
        api.calls.push('strikes');
        return api.searchedIn.has(api.session) ? { call: [4950, 5000, 5050], put: [4950, 5000, 5050] } : { call: [], put: [] };
      },
      secdefInfo: async (r: { strike?: number; right?: 'C' | 'P' }) => {
        api.calls.push('info');
        if (!api.searchedIn.has(api.session)) return [];
        return [{ conid: (r.strike ?? 0) * 10 + (r.right === 'C' ? 1 : 2), symbol: 'SPX', secType: 'OPT', right: r.right ?? null, strike: r.strike ?? null, maturityDate: '20270105', multiplier: 100, tradingClass: 'SPXW', validExchanges: [] }];
      },
      snapshot: async (conids: number[]) => conids.map((c) => (c === 416904 ? row(c, { last: 5000 }) : row(c, { bid: 1, ask: 1.2, impliedVol: 15, delta: 0.5, gamma: 0.01 }))),
    };
    return api;
  }
  const request = { expiries: { kind: 'next' as const, count: 1 }, window: { kind: 'strikes' as const, count: 1 }, classes: ['SPXW' as const] };
  const NOW = Date.UTC(2027, 0, 4, 15);

  it('searches again after a re-login or the nightly reset instead of reading empty strikes for the rest of the day', async () => {
    const api = sessionIbkr();
    const fetcher = new OptionsChainFetcher(api, { greekRetries: 0 });
    const before = await fetcher.fetch(request, NOW);
    api.session = 2; // re-login: IBKR forgot the search
    api.calls.length = 0;
    const after = await fetcher.fetch(request, NOW + 60_000);
    assert.equal(api.calls[0], 'search');
    assert.deepEqual(after.chain.contracts.map((q) => q.conid), before.chain.contracts.map((q) => q.conid));
    assert.ok(after.chain.contracts.length >= 2);
  });

  it('never caches an empty strikes answer: it searches again and asks once more', async () => {
    const api = sessionIbkr();
    // Someone else's search "expired" between ours and the strikes call: IBKR answers empty lists once.
    const strikes = api.secdefStrikes;
    let emptyOnce = true;
    api.secdefStrikes = async (r: { conid: number; month: string; priority: Priority }) => {
      if (emptyOnce) {
        emptyOnce = false;
        api.calls.push('strikes');
        return { call: [], put: [] };
      }
      return strikes(r);
    };
    const { chain } = await new OptionsChainFetcher(api, { greekRetries: 0 }).fetch(request, NOW);
    assert.deepEqual(api.calls.slice(0, 4), ['search', 'strikes', 'search', 'strikes']);
    assert.ok(chain.contracts.length >= 2);
  });

  it('remembers for the session a candidate strike IBKR answers with an error (no contract), unlike an empty list', async () => {
    const api = sessionIbkr();
    const info = api.secdefInfo;
    const asked: number[] = [];
    api.secdefInfo = async (r: { conid: number; month: string; strike?: number; right?: 'C' | 'P'; priority: Priority }) => {
      asked.push(r.strike ?? 0);
      if (r.strike === 5050) throw mapHttpError(500, { error: 'No contracts' }, '/iserver/secdef/info');
      return info(r);
    };
    const fetcher = new OptionsChainFetcher(api, { greekRetries: 0 });
    await fetcher.fetch(request, NOW);
    const first = asked.filter((k) => k === 5050).length;
    await fetcher.fetch(request, NOW + 60_000);
    assert.strictEqual(asked.filter((k) => k === 5050).length, first, 'not asked again in the same session');
  });
});
