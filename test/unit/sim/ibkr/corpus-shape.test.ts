// The IBKR simulator held against the corpus of real IBKR answers (test/fixtures/ibkr): every field the simulator
// sends that the real sample also has carries the same JSON type (strings where IBKR sends strings), and the fields
// our client reads are there. The simulator is checked against IBKR, never against our client.
import assert from 'assert';
import { WebSocket } from 'ws';
import { IBKR_PENALTY_BOX_MS, RateLimiter } from '../../../../lib/sim/ibkr/rate-limiter';
import { body, shapeOf } from '../../ibkr/support/corpus';
import { startHarness, type Harness } from './support/harness';
import { testTimeLeft } from '../../../support/budget';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Differences in JSON type between the simulator's answer and IBKR's, for the fields both have. */
function typeDifferences(sim: unknown, real: unknown, at = '$'): string[] {
  const s = shapeOf(sim);
  const r = shapeOf(real);
  const walk = (a: unknown, b: unknown, where: string): string[] => {
    if (typeof a === 'string' || typeof b === 'string') {
      // null is what IBKR sends for an absent value of any type: not a type difference.
      if (a === 'null' || b === 'null' || a === b) return [];
      return [`${where}: simulator ${JSON.stringify(a)}, IBKR ${JSON.stringify(b)}`];
    }
    if (Array.isArray(a) && Array.isArray(b)) return a.length && b.length ? walk(a[0], b[0], `${where}[0]`) : [];
    if (Array.isArray(a) !== Array.isArray(b)) return [`${where}: simulator ${Array.isArray(a) ? 'array' : 'object'}, IBKR ${Array.isArray(b) ? 'array' : 'object'}`];
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    return Object.keys(ao).filter((k) => k in bo).flatMap((k) => walk(ao[k], bo[k], `${where}.${k}`));
  };
  return walk(s, r, at);
}

function assertLikeIbkr(sim: unknown, sample: string, required: string[] = []): void {
  const real = body(sample);
  assert.deepStrictEqual(typeDifferences(sim, real), [], `simulator vs ${sample}`);
  const first = (x: unknown): Record<string, unknown> => (Array.isArray(x) ? (x[0] as Record<string, unknown>) : (x as Record<string, unknown>)) ?? {};
  for (const k of required) assert.ok(k in first(sim), `simulator answer lacks ${k} (${sample} has it)`);
}

const until = async (check: () => boolean, ms = testTimeLeft()): Promise<void> => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
};

describe('IBKR simulator against real IBKR answers (corpus)', function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.sim.close();
    h = undefined;
  });

  it('answers session, accounts, contracts and market data with IBKR\'s field types', async () => {
    h = await startHarness();
    assertLikeIbkr((await h.http.post('/iserver/auth/status', {})).data, 'auth-status.ibind', ['authenticated', 'competing', 'connected']);
    assertLikeIbkr((await h.http.post('/tickle', {})).data, 'tickle.ibind', ['session', 'iserver']);
    assertLikeIbkr((await h.http.get('/iserver/accounts')).data, 'iserver-accounts.cpapi', ['accounts', 'selectedAccount', 'isPaper', 'acctProps']);
    const futures = (await h.http.get('/trsrv/futures?symbols=ES')).data as { ES: unknown[] };
    assertLikeIbkr(futures, 'trsrv-futures.cpapi');
    const realEs = (body('trsrv-futures.cpapi') as { ES: unknown[] }).ES;
    assert.deepStrictEqual(typeDifferences(futures.ES, realEs), []);
    assert.deepStrictEqual(Object.keys(futures.ES[0] as object).sort(), Object.keys(realEs[0] as object).sort());

    const search = (await h.http.get('/iserver/secdef/search?symbol=SPX')).data;
    assertLikeIbkr(search, 'secdef-search.cpapi', ['conid', 'companyHeader', 'companyName', 'symbol', 'sections']);
    const spx = Number((search as Array<{ conid: string; sections: Array<{ secType: string; months?: string }> }>)[0].conid);
    const month = (search as Array<{ sections: Array<{ secType: string; months?: string }> }>)[0].sections.find((s) => s.secType === 'OPT')!.months!.split(';')[0];
    const strikes = (await h.http.get(`/iserver/secdef/strikes?conid=${spx}&sectype=OPT&month=${month}`)).data as { call: number[] };
    assertLikeIbkr(strikes, 'secdef-strikes.cpapi', ['call', 'put']);
    const strike = strikes.call[Math.floor(strikes.call.length / 2)];
    const info = (await h.http.get(`/iserver/secdef/info?conid=${spx}&sectype=OPT&month=${month}&strike=${strike}&right=C`)).data;
    assertLikeIbkr(info, 'secdef-info.cpapi', ['conid', 'maturityDate', 'multiplier', 'tradingClass', 'right', 'strike']);

    const url = `/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31,84,86,88,85,7059`;
    assertLikeIbkr((await h.http.get(url)).data, 'marketdata-snapshot.preflight.webapi', ['conid', 'conidEx']);
    await sleep(50);
    const data = (await h.http.get(url)).data;
    assertLikeIbkr(data, 'marketdata-snapshot.data.webapi', ['31', '84', '86', '88', '85', '6509', '_updated', 'conid', 'conidEx']);
    const history = (await h.http.get(`/iserver/marketdata/history?conid=${h.esConid}&bar=5min&period=1d`)).data;
    assertLikeIbkr(history, 'marketdata-history.ibind', ['data', 'symbol', 'barLength', 'priceFactor', 'points']);
  });

  it('answers orders, questions, live orders, trades and cancels with IBKR\'s field types; a declined question is 400 {error, statusCode}', async () => {
    h = await startHarness();
    await h.http.get('/iserver/accounts');
    const acct = 'DU1234567';
    const es = { conid: h.esConid, side: 'BUY', quantity: 1, tif: 'DAY', manualIndicator: true, extOperator: 'test' };
    const ack = (await h.http.post(`/iserver/account/${acct}/orders`, { orders: [{ ...es, orderType: 'MKT', cOID: 'shape-1' }] })).data;
    assertLikeIbkr(ack, 'place-order.ack.cpapi', ['order_id', 'order_status']);
    const far = (await h.http.post(`/iserver/account/${acct}/orders`, { orders: [{ ...es, orderType: 'LMT', price: 1, cOID: 'shape-2' }] })).data as Array<{ id: string }>;
    assertLikeIbkr(far, 'place-order.question.cpapi', ['id', 'message', 'isSuppressed', 'messageIds']);
    const declined = await h.http.post(`/iserver/reply/${far[0].id}`, { confirmed: false });
    assert.strictEqual(declined.status, 400);
    assert.deepStrictEqual(Object.keys(declined.data as object).sort(), ['error', 'statusCode']);
    assert.strictEqual((declined.data as { statusCode: number }).statusCode, 400);
    await h.http.get('/iserver/account/orders'); // the pre-flight: the first call answers empty
    const live = (await h.http.get('/iserver/account/orders')).data as { orders: unknown[] };
    assertLikeIbkr(live, 'live-orders.cpapi');
    assert.deepStrictEqual(typeDifferences(live.orders, (body('live-orders.cpapi') as { orders: unknown[] }).orders), []);
    assert.deepStrictEqual(typeDifferences(live.orders, (body('live-orders.ibind') as { orders: unknown[] }).orders), []);
    assertLikeIbkr((await h.http.get('/iserver/account/trades')).data, 'trades.cpapi', ['execution_id', 'price', 'size', 'order_ref', 'trade_time_r']);
    const resting = (await h.http.post(`/iserver/account/${acct}/orders`, { orders: [{ ...es, side: 'SELL', orderType: 'LMT', price: 99999, cOID: 'shape-3' }] })).data as Array<{ id?: string; order_id?: string }>;
    const placed = resting[0].id ? ((await h.http.post(`/iserver/reply/${resting[0].id}`, { confirmed: true })).data as Array<{ order_id: string }>) : resting;
    const cancel = (await h.http.delete(`/iserver/account/${acct}/order/${placed[0].order_id}?manualIndicator=false&extOperator=test`)).data;
    assertLikeIbkr(cancel, 'cancel-order.cpapi', ['msg', 'order_id', 'conid', 'account']);
  });

  it('streams smd, sor and str as IBKR does: sor only after subscribe, avgPrice (a string) on the first fill only', async () => {
    const hh = (h = await startHarness({ streamIntervalMs: 20 }));
    await hh.http.get('/iserver/accounts');
    const ws = new WebSocket(hh.sim.wsUrl, { ca: hh.sim.certificatePem, headers: { Cookie: `api=${hh.sim.control.sessionId}` } });
    const messages: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => messages.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    await until(() => messages.some((m) => m.topic === 'sts'));
    const topic = (t: string) => messages.filter((m) => m.topic === t);

    // An order placed and filled before `sor+{}` is not streamed.
    const es = { conid: hh.esConid, side: 'BUY', tif: 'DAY', manualIndicator: true, extOperator: 'test' };
    const before = (await hh.http.post('/iserver/account/DU1234567/orders', { orders: [{ ...es, orderType: 'MKT', quantity: 1, cOID: 'before' }] })).data as Array<{ order_id?: string }>;
    assert.ok(before[0].order_id, 'placed without a question');
    await sleep(100);
    assert.deepStrictEqual(topic('sor'), []);

    ws.send(`smd+${hh.esConid}+{"fields":["31","84","86","88","85","7059"]}`);
    await until(() => topic(`smd+${hh.esConid}`).length > 0);
    assertLikeIbkr(topic(`smd+${hh.esConid}`)[0], 'ws-smd.webapi', ['conid', '_updated', 'topic']);

    ws.send('sor+{}');
    ws.send('str+{"realtimeUpdatesOnly":true}');
    // Answered on the same socket after both subscriptions were taken (and after the order list sor sends back).
    ws.send('ech+hb');
    await until(() => topic('ech').length > 0);
    const sorBefore = topic('sor').length;
    // A market order larger than the size shown at the touch fills in several executions.
    let ack = (await hh.http.post('/iserver/account/DU1234567/orders', { orders: [{ ...es, orderType: 'MKT', quantity: 150, cOID: 'big-1' }] })).data as Array<{ id?: string; order_id?: string }>;
    while (ack[0].id) ack = (await hh.http.post(`/iserver/reply/${ack[0].id}`, { confirmed: true })).data as Array<{ id?: string; order_id?: string }>;
    const orderId = Number(ack[0].order_id);
    const fills = () => topic('sor').slice(sorBefore).flatMap((m) => m.args as Array<Record<string, unknown>>).filter((a) => a.orderId === orderId && a.filledQuantity !== undefined && (a.filledQuantity as number) > 0);
    await until(() => fills().some((f) => f.status === 'Filled'));
    const updates = fills();
    assert.ok(updates.length >= 2, `a 150-lot (more than the 120 at most shown in RTH) fills in several executions (got ${updates.length})`);
    assert.strictEqual(typeof updates[0].avgPrice, 'string', 'avgPrice comes with the first fill, as a string');
    assert.ok(updates.slice(1).every((u) => !('avgPrice' in u)), 'later fill updates omit avgPrice');
    assertLikeIbkr({ topic: 'sor', args: updates }, 'ws-sor.partial-fills.oldws');
    await until(() => topic('str').length >= updates.length);
    const trades = topic('str').flatMap((m) => m.args as Array<Record<string, unknown>>).filter((t) => t.order_ref === 'big-1');
    assert.strictEqual(trades.reduce((s, t) => s + (t.size as number), 0), 150);
    assertLikeIbkr({ topic: 'str', args: trades }, 'ws-str.oldws');
    ws.close();
  });
});

describe('IBKR simulator behaviours held against IBKR (issue 12)', function () {
  this.timeout(20_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.sim.close();
    h = undefined;
  });

  it('answers empty strikes and info until secdef/search is called in the brokerage session, and again after a reset', async () => {
    const hh = (h = await startHarness());
    const search = async (): Promise<{ conid: number; month: string }> => {
      const found = (await hh.http.get('/iserver/secdef/search?symbol=SPX')).data as Array<{ conid: string; sections: Array<{ secType: string; months?: string }> }>;
      return { conid: Number(found[0].conid), month: found[0].sections.find((s) => s.secType === 'OPT')!.months!.split(';')[0] };
    };
    const { conid, month } = await search();
    hh.sim.control.nightlyReset();
    await hh.http.post('/iserver/auth/ssodh/init', { publish: true, compete: true });
    const strikesUrl = `/iserver/secdef/strikes?conid=${conid}&sectype=OPT&month=${month}`;
    const empty = await hh.http.get(strikesUrl);
    assert.deepStrictEqual([empty.status, empty.data], [200, { call: [], put: [] }]);
    const info = await hh.http.get(`/iserver/secdef/info?conid=${conid}&sectype=OPT&month=${month}&strike=5000&right=C`);
    assert.deepStrictEqual([info.status, info.data], [200, []]);
    await search();
    assert.ok(((await hh.http.get(strikesUrl)).data as { call: number[] }).call.length > 0);
  });

  it('puts a repeat violator in a 10-minute penalty box; a single excess request only gets 429', () => {
    assert.strictEqual(IBKR_PENALTY_BOX_MS, 10 * 60_000);
    const limiter = new RateLimiter(true, { globalPerSec: 2 }, IBKR_PENALTY_BOX_MS);
    const t0 = 1_000_000;
    const at = (t: number): boolean => limiter.admit('GET', '/iserver/accounts', t).ok;
    assert.deepStrictEqual([at(t0), at(t0), at(t0)], [true, true, false]);
    assert.strictEqual(at(t0 + 1001), true, 'one 429 is not a penalty box');
    assert.deepStrictEqual([at(t0 + 1001), at(t0 + 1001), at(t0 + 1001)], [true, false, false]); // 3 violations in a minute
    assert.strictEqual(at(t0 + 5000), false, 'boxed');
    assert.strictEqual(at(t0 + 1001 + IBKR_PENALTY_BOX_MS - 1), false, 'still boxed before 10 minutes');
    assert.strictEqual(at(t0 + 1001 + IBKR_PENALTY_BOX_MS + 1), true, 'free after 10 minutes');
  });
});
