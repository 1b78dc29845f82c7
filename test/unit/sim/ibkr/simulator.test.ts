// The IBKR simulator against ibkr-web-api.md, with plain axios and ws (no project client).
import assert from 'assert';
import net from 'net';
import { WebSocket } from 'ws';
import { optionConid, SPX_CONID } from '../../../../lib/sim/ibkr';
import { startHarness, type Harness } from './support/harness';
import { trapCrashes } from '../../../support/crash-trap';
import { testTimeLeft } from '../../../support/budget';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The simulator's clock of session idleness and rate limits, moved by the test (virtual time). */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = Date.UTC(2025, 5, 11, 14, 0);
  return { now: () => t, advance: (ms) => (t += ms) };
}

const esOrder = (conid: number, extra: Record<string, unknown>): Record<string, unknown> => ({
  conid,
  side: 'BUY',
  orderType: 'LMT',
  quantity: 1,
  tif: 'DAY',
  manualIndicator: true,
  extOperator: 'test',
  ...extra,
});

describe('IBKR Web API simulator', function () {
  this.timeout(15_000);
  let h: Harness;
  afterEach(async () => h?.sim.close());

  describe('session', () => {
    it('serves HTTPS on 127.0.0.1 with its own certificate and a logged-in session', async () => {
      h = await startHarness();
      assert.match(h.sim.baseUrl, /^https:\/\/127\.0\.0\.1:\d+\/v1\/api$/);
      const tickle = await h.http.post('/tickle', {});
      assert.strictEqual(tickle.status, 200);
      assert.strictEqual(tickle.data.session, h.sim.control.sessionId);
      assert.strictEqual(tickle.data.iserver.authStatus.authenticated, true);
      assert.ok('collission' in tickle.data && 'ssoExpires' in tickle.data && 'userId' in tickle.data);
    });

    it('expires after the idle time: connected but not authenticated, /iserver 401 until ssodh/init', async () => {
      const clock = manualClock();
      h = await startHarness({ sessionIdleMs: 300, clock: clock.now });
      assert.strictEqual((await h.http.get('/iserver/accounts')).status, 200);
      clock.advance(299);
      assert.strictEqual((await h.http.post('/iserver/auth/status', {})).data.authenticated, true, 'not idle yet at 299 ms');
      clock.advance(301);
      const status = await h.http.post('/iserver/auth/status', {});
      assert.deepStrictEqual([status.data.connected, status.data.authenticated], [true, false]);
      assert.strictEqual((await h.http.get('/iserver/accounts')).status, 401);
      assert.strictEqual((await h.http.post('/iserver/auth/ssodh/init', { publish: true, compete: true })).data.authenticated, true);
      assert.strictEqual((await h.http.get('/iserver/accounts')).status, 200);
    });

    it('keeps the session alive while tickled', async () => {
      const clock = manualClock();
      h = await startHarness({ sessionIdleMs: 300, clock: clock.now });
      for (let i = 0; i < 4; i++) {
        clock.advance(250);
        await h.http.post('/tickle', {});
      }
      assert.strictEqual((await h.http.post('/iserver/auth/status', {})).data.authenticated, true, 'alive 1 s later, tickled every 250 ms');
      clock.advance(301);
      assert.strictEqual((await h.http.post('/iserver/auth/status', {})).data.authenticated, false, 'idle once the tickles stop');
    });

    it('answers 411 to a POST without a body, as the Gateway does', async () => {
      h = await startHarness({ tls: false });
      const { port } = new URL(h.sim.baseUrl);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('POST /v1/api/tickle HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\nConnection: close\r\n\r\n'));
        let text = '';
        socket.on('data', (d) => (text += d.toString()));
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      assert.match(reply, /^HTTP\/1\.1 411/);
    });

    it('survives clients that reset the connection once their WebSocket upgrade is refused (a stale session)', async () => {
      h = await startHarness({ tls: false });
      const { port } = new URL(h.sim.baseUrl);
      const trap = trapCrashes();
      try {
        for (let i = 0; i < 20; i++) {
          await new Promise<void>((resolve, reject) => {
            const socket = net.connect(Number(port), '127.0.0.1', () =>
              socket.write(
                'GET /v1/api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: api={"session":"stale"}\r\n\r\n',
              ),
            );
            socket.on('error', reject);
            socket.once('data', (d) => {
              assert.match(d.toString(), /^HTTP\/1\.1 401/);
              socket.resetAndDestroy(); // RST while the simulator's side still reads
              resolve();
            });
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.deepEqual(trap.errors.map(String), [], 'nothing escaped to the process');
      } finally {
        trap.stop();
      }
    });

    it('reports a competing session until ssodh/init competes for it', async () => {
      h = await startHarness();
      h.sim.control.setCompeting(true);
      const status = (await h.http.post('/iserver/auth/status', {})).data;
      assert.deepStrictEqual([status.competing, status.authenticated], [true, false]);
      const refused = (await h.http.post('/iserver/auth/ssodh/init', { publish: true })).data;
      assert.strictEqual(refused.authenticated, false);
      assert.strictEqual((await h.http.post('/iserver/auth/ssodh/init', { publish: true, compete: true })).data.authenticated, true);
    });

    it('needs /iserver/accounts before snapshot, live orders and cancel, and again after the nightly reset', async () => {
      h = await startHarness();
      const primed = (): Promise<number[]> =>
        Promise.all([
          h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31`).then((r) => r.status),
          h.http.get('/iserver/account/orders').then((r) => r.status),
          h.http.delete('/iserver/account/DU1234567/order/1').then((r) => r.status),
        ]);
      // IBKR answers the snapshot 400 (issue 12), the other calls 500 "Please query /accounts first".
      assert.deepStrictEqual(await primed(), [400, 500, 500]);
      const refused = await h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31`);
      assert.deepStrictEqual(refused.data, { error: 'Bad Request', statusCode: 400 });
      assert.deepStrictEqual((await h.http.get('/iserver/account/orders')).data, { error: 'Please query /accounts first' });
      await h.http.get('/iserver/accounts');
      assert.strictEqual((await h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31`)).status, 200);
      h.sim.control.nightlyReset();
      assert.strictEqual((await h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31`)).status, 401);
      await h.http.post('/iserver/auth/ssodh/init', { publish: true, compete: true });
      assert.strictEqual((await h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31`)).status, 400);
    });
  });

  describe('market data', () => {
    it('answers the first snapshot of a conid with no fields, then strings in IBKR formats', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const url = `/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31,84,86,88,85,87,6509`;
      const first = (await h.http.get(url)).data[0];
      assert.deepStrictEqual(Object.keys(first).sort(), ['conid', 'conidEx']);
      const second = (await h.http.get(url)).data[0];
      assert.match(second['31'], /^C?\d+\.\d{2}$/);
      assert.ok(Number(second['84']) < Number(second['86']));
      assert.match(second['88'], /^\d{1,3}(,\d{3})*$/);
      assert.match(second['87'], /^[\d.]+[KM]?$/);
      assert.strictEqual(second['6509'], 'RpB');
      h.sim.control.setMarketDataAvailability('D');
      assert.strictEqual((await h.http.get(url)).data[0]['6509'], 'DpB');
    });

    it('delivers option greeks one call later than prices', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const expiry = h.sim.market.spxExpiries()[1].expiry;
      const strike = Math.round(h.sim.market.spxSpot() / 5) * 5;
      const conid = optionConid(expiry, 'SPXW', strike, 'C');
      const url = `/iserver/marketdata/snapshot?conids=${conid}&fields=31,84,86,7308,7309,7633,7638`;
      await h.http.get(url);
      const prices = (await h.http.get(url)).data[0];
      assert.ok(prices['84'] !== undefined && prices['7308'] === undefined);
      const greeks = (await h.http.get(url)).data[0];
      assert.ok(Number(greeks['7308']) > 0.3 && Number(greeks['7308']) < 0.7, `ATM call delta ${greeks['7308']}`);
      assert.match(greeks['7633'], /^\d+\.\d%$/);
    });

    it('refuses more than 100 conids or 50 fields', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const conids = Array.from({ length: 101 }, (_, i) => 1000 + i).join(',');
      assert.strictEqual((await h.http.get(`/iserver/marketdata/snapshot?conids=${conids}&fields=31`)).status, 400);
      const fields = Array.from({ length: 51 }, (_, i) => 7000 + i).join(',');
      assert.strictEqual((await h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=${fields}`)).status, 400);
    });

    it('unsubscribes an open feed, and answers 500 {"error":"unknown"} when there is none', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      assert.deepStrictEqual((await h.http.post('/iserver/marketdata/unsubscribe', { conid: h.esConid })).data, { error: 'unknown' });
      await h.http.get(`/iserver/marketdata/snapshot?conids=${h.esConid}&fields=31`);
      assert.deepStrictEqual((await h.http.post('/iserver/marketdata/unsubscribe', { conid: h.esConid })).data, { success: true });
    });

    it('validates history bar and period, caps at 1000 points, and matches the market bars', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const bad = await h.http.get(`/iserver/marketdata/history?conid=${h.esConid}&bar=7min&period=1d`);
      assert.strictEqual(bad.status, 400);
      assert.strictEqual((await h.http.get(`/iserver/marketdata/history?conid=${h.esConid}&bar=1min&period=1y`)).status, 400);
      const capped = (await h.http.get(`/iserver/marketdata/history?conid=${h.esConid}&bar=2min&period=2d&outsideRth=true`)).data;
      assert.strictEqual(capped.points, 1000);
      assert.strictEqual(capped.data.length, 1000);
      const hour = (await h.http.get(`/iserver/marketdata/history?conid=${h.esConid}&bar=1min&period=1h&outsideRth=true`)).data;
      const bars = h.sim.market.esBars(hour.data[0].t, hour.data[hour.data.length - 1].t, 60_000);
      assert.deepStrictEqual(hour.data.slice(0, bars.length), bars);
      const old = await h.http.get(`/iserver/marketdata/history?conid=${h.esConid}&bar=1min&period=1h&startTime=20200101-15:00:00`);
      assert.deepStrictEqual([old.status, old.data.error], [500, 'No data.']);
    });
  });

  describe('contracts', () => {
    it('lists unexpired ES quarterlies unsorted, and SPX option conids by month, strike and right', async () => {
      h = await startHarness();
      const es = (await h.http.get('/trsrv/futures?symbols=ES')).data.ES as { expirationDate: number; conid: number }[];
      const dates = es.map((c) => c.expirationDate);
      assert.notDeepStrictEqual(dates, [...dates].sort((a, b) => a - b), 'IBKR does not sort this list');
      assert.strictEqual(Math.min(...dates), 20250620);
      const search = (await h.http.get('/iserver/secdef/search?symbol=SPX')).data[0];
      assert.strictEqual(search.conid, String(SPX_CONID));
      const months = (search.sections as { secType: string; months?: string }[]).find((s) => s.secType === 'OPT')?.months?.split(';') ?? [];
      assert.strictEqual(months[0], 'JUN25');
      const strikes = (await h.http.get(`/iserver/secdef/strikes?conid=${SPX_CONID}&sectype=OPT&month=JUN25`)).data;
      assert.ok(strikes.call.includes(6000));
      const info = (await h.http.get(`/iserver/secdef/info?conid=${SPX_CONID}&sectype=OPT&month=JUN25&strike=6000&right=C`)).data as {
        maturityDate: string;
        tradingClass: string;
        conid: number;
      }[];
      assert.ok(info.some((c) => c.maturityDate === '20250620' && c.tradingClass === 'SPX'), 'the AM monthly');
      assert.ok(info.some((c) => c.maturityDate === '20250620' && c.tradingClass === 'SPXW'), 'the PM weekly on the same day');
      assert.ok(info.filter((c) => c.tradingClass === 'SPXW').length >= 10, 'every daily of the month');
      const contract = (await h.http.get(`/iserver/contract/${info[0].conid}/info`)).data;
      assert.strictEqual(contract.con_id, info[0].conid);
      assert.strictEqual(contract.underlying_con_id, SPX_CONID);
    });

    it('answers secdef/info for each strike with exactly the listed contracts at that strike, in listing order', async () => {
      h = await startHarness();
      await h.http.get('/iserver/secdef/search?symbol=SPX');
      const month = 'JUN25';
      const expiries = h.sim.market.spxExpiries().filter((e) => e.expiry.startsWith('202506')).map((e) => e.expiry);
      const listing = h.sim.market.spxListing(expiries);
      const strikes = [...new Set(listing.map((o) => o.strike))];
      assert.ok(strikes.length > 50 && listing.length > strikes.length, 'several expiries share each strike');
      // Every tenth strike, the lowest and the highest: each against a scan of the listing.
      const asked = [...strikes.filter((_, i) => i % 10 === 0), Math.min(...strikes), Math.max(...strikes)];
      for (const strike of asked) {
        for (const right of ['C', 'P'] as const) {
          const info = (await h.http.get(`/iserver/secdef/info?conid=${SPX_CONID}&sectype=OPT&month=${month}&strike=${strike}&right=${right}`)).data as {
            maturityDate: string;
            tradingClass: string;
            strike: number;
            right: string;
            conid: number;
          }[];
          const expected = listing.filter((o) => o.strike === strike);
          assert.deepStrictEqual(
            info.map((c) => [c.maturityDate, c.tradingClass, c.strike, c.right, c.conid]),
            expected.map((o) => [o.expiry, o.tradingClass, o.strike, right, optionConid(o.expiry, o.tradingClass, o.strike, right)]),
            `strike ${strike} ${right}`,
          );
        }
      }
      const unlisted = Math.max(...strikes) + 12_345;
      const none = await h.http.get(`/iserver/secdef/info?conid=${SPX_CONID}&sectype=OPT&month=${month}&strike=${unlisted}&right=C`);
      assert.strictEqual(none.status, 500);
    });

    it('answers secdef/info with the expiries listed at the moment asked: one that passed is gone, one newly listed is there', async () => {
      h = await startHarness();
      const market = h.sim.market;
      let t = Date.UTC(2025, 5, 11, 19, 59, 59); // 15:59:59 New York, Wednesday: today's SPXW is still listed
      Object.assign(market, { now: () => t });
      await h.http.get('/iserver/secdef/search?symbol=SPX');
      const ask = async (month: string): Promise<string[]> => {
        const info = (await h.http.get(`/iserver/secdef/info?conid=${SPX_CONID}&sectype=OPT&month=${month}&strike=6000&right=C`)).data as { maturityDate: string; tradingClass: string }[];
        return info.map((c) => `${c.maturityDate}:${c.tradingClass}`);
      };
      /** What the market lists at this moment for the month (yyyymm) at strike 6000. */
      const listed = (yyyymm: string): string[] => {
        const expiries = market.spxExpiries().filter((e) => e.expiry.startsWith(yyyymm)).map((e) => e.expiry);
        return market
          .spxListing(expiries)
          .filter((o) => o.strike === 6000)
          .map((o) => `${o.expiry}:${o.tradingClass}`);
      };
      const before = await ask('JUN25');
      assert.ok(before.includes('20250611:SPXW'));
      assert.deepStrictEqual(before, listed('202506'));
      t += 1000; // 16:00:00 New York: expired
      assert.deepStrictEqual(await ask('JUN25'), before.filter((e) => e !== '20250611:SPXW'));
      const july = await ask('JUL25');
      assert.deepStrictEqual(july, listed('202507'));
      assert.ok(!july.includes('20250716:SPXW'), 'beyond the 35 days listed');
      t = Date.UTC(2025, 5, 12, 14, 0); // Thursday 10:00: one more daily listed, 35 days ahead
      const nextDay = await ask('JUL25');
      assert.ok(nextDay.includes('20250716:SPXW'), nextDay.join(' '));
      assert.deepStrictEqual(nextDay, listed('202507'));
      t = Date.UTC(2025, 5, 20, 14, 0); // Friday 20 June, 10:00: the June monthly (AM) expired this morning
      const friday = await ask('JUN25');
      assert.ok(!friday.includes('20250620:SPX') && friday.includes('20250620:SPXW'), friday.join(' '));
      assert.deepStrictEqual(friday, listed('202506'));
    });
  });

  describe('orders', () => {
    it('asks its questions one by one and places the order when all are confirmed', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const last = h.sim.market.esQuote().last;
      let res = await h.http.post('/iserver/account/DU1234567/orders', { orders: [esOrder(h.esConid, { price: last - 500, quantity: 20, cOID: 'q-1' })] });
      const asked: string[] = [];
      while (res.data[0]?.id) {
        asked.push(...res.data[0].messageIds);
        res = await h.http.post(`/iserver/reply/${res.data[0].id}`, { confirmed: true });
      }
      assert.deepStrictEqual(asked, ['o163', 'o383']);
      assert.match(res.data[0].order_id, /^\d+$/);
    });

    it('invalidates a pending question when another request comes in between', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const last = h.sim.market.esQuote().last;
      const res = await h.http.post('/iserver/account/DU1234567/orders', { orders: [esOrder(h.esConid, { price: last - 500, cOID: 'q-2' })] });
      await h.http.post('/tickle', {});
      const late = await h.http.post(`/iserver/reply/${res.data[0].id}`, { confirmed: true });
      assert.deepStrictEqual([late.status, late.data.error], [400, 'reply id not found']);
    });

    it('fills a market order at the touch, shows it in live orders with order_ref = cOID, and refuses the cOID again', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const placed = await h.http.post('/iserver/account/DU1234567/orders', { orders: [esOrder(h.esConid, { orderType: 'MKT', cOID: 'mkt-1' })] });
      assert.ok(placed.data[0].order_id);
      assert.deepStrictEqual((await h.http.get('/iserver/account/orders')).data, { orders: [], snapshot: false });
      const orders = (await h.http.get('/iserver/account/orders')).data.orders;
      assert.strictEqual(orders[0].order_ref, 'mkt-1');
      assert.strictEqual(orders[0].status, 'Filled');
      assert.strictEqual(Number(orders[0].avgPrice) % 0.25, 0);
      const again = await h.http.post('/iserver/account/DU1234567/orders', { orders: [esOrder(h.esConid, { orderType: 'MKT', cOID: 'mkt-1' })] });
      assert.match(again.data.error, /mkt-1/);
      assert.deepStrictEqual((await h.http.get('/iserver/account/orders?force=true')).data.orders, []);
    });

    it('rests a limit below the market and cancels it (acknowledged first, cancelled after)', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const price = h.sim.market.esQuote().bid - 10;
      const placed = await h.http.post('/iserver/account/DU1234567/orders', { orders: [esOrder(h.esConid, { price, cOID: 'lmt-1' })] });
      const orderId = placed.data[0].order_id;
      const noIndicator = await h.http.delete(`/iserver/account/DU1234567/order/${orderId}`);
      assert.strictEqual(noIndicator.status, 400);
      const cancel = await h.http.delete(`/iserver/account/DU1234567/order/${orderId}?manualIndicator=true&extOperator=test`);
      assert.strictEqual(cancel.data.msg, 'Request was submitted');
      await h.http.get('/iserver/account/orders');
      // Cancelled a moment (cancelDelayMs) after the acknowledgement: read until it is.
      const end = Date.now() + testTimeLeft();
      const status = async (): Promise<string> => (await h.http.get('/iserver/account/orders')).data.orders[0].status as string;
      let last = await status();
      while (last !== 'Cancelled' && Date.now() < end) {
        await sleep(20);
        last = await status();
      }
      assert.strictEqual(last, 'Cancelled');
    });

    it('pages positions 100 at a time', async () => {
      h = await startHarness();
      await h.http.get('/portfolio/accounts');
      const expiry = h.sim.market.spxExpiries()[2].expiry;
      for (let i = 0; i < 150; i++) h.sim.control.setPosition(optionConid(expiry, 'SPXW', 5500 + i * 5, 'P'), 1, 1);
      const page0 = (await h.http.get('/portfolio/DU1234567/positions/0')).data;
      const page1 = (await h.http.get('/portfolio/DU1234567/positions/1')).data;
      assert.deepStrictEqual([page0.length, page1.length], [100, 50]);
      assert.strictEqual(new Set([...page0, ...page1].map((p: { conid: number }) => p.conid)).size, 150);
    });
  });

  describe('rate limits', () => {
    it('answers 429 above 10 requests per second and keeps answering 429 in the penalty box', async () => {
      const clock = manualClock();
      h = await startHarness({ rateLimits: {}, penaltyBoxMs: 1000, clock: clock.now });
      const statuses = await Promise.all(Array.from({ length: 15 }, () => h.http.get('/iserver/auth/status').then((r) => r.status)));
      assert.strictEqual(statuses.filter((s) => s === 200).length, 10);
      assert.strictEqual(statuses.filter((s) => s === 429).length, 5);
      clock.advance(150);
      assert.strictEqual((await h.http.get('/iserver/auth/status')).status, 429, 'still in the penalty box');
      clock.advance(1250);
      assert.strictEqual((await h.http.get('/iserver/auth/status')).status, 200);
      const stats = h.sim.control.stats();
      assert.ok(stats.rejected429 >= 6 && stats.maxRatePerSec >= 15);
      assert.strictEqual(stats.requests['/iserver/auth/status'], 17);
    });

    it('limits live orders to 1 per 5 s and history to 5 concurrent', async () => {
      const clock = manualClock();
      h = await startHarness({ rateLimits: {}, penaltyBoxMs: 100, historyLatencyMs: 200, clock: clock.now });
      await h.http.get('/iserver/accounts');
      assert.strictEqual((await h.http.get('/iserver/account/orders')).status, 200);
      assert.strictEqual((await h.http.get('/iserver/account/orders')).status, 429);
      clock.advance(4999);
      assert.strictEqual((await h.http.get('/iserver/account/orders')).status, 429, 'live orders: 1 per 5 s');
      clock.advance(1001); // out of the global window and the 5 s
      const url = `/iserver/marketdata/history?conid=${h.esConid}&bar=5min&period=1h`;
      const statuses = await Promise.all(Array.from({ length: 6 }, () => h.http.get(url).then((r) => r.status)));
      assert.deepStrictEqual(statuses.filter((s) => s === 429).length, 1);
      assert.strictEqual(h.sim.control.stats().maxHistoryConcurrent, 5);
    });

    it('answers 429 to injected failures', async () => {
      h = await startHarness();
      h.sim.control.inject429(2);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await h.http.post('/iserver/auth/status', {})).status);
      assert.deepStrictEqual(statuses, [429, 429, 200]);
    });
  });

  describe('WebSocket', () => {
    function connect(url: string, ca: string | undefined, cookie?: string): Promise<{ ws: WebSocket; messages: Record<string, unknown>[] }> {
      const ws = new WebSocket(url, { ca, headers: cookie ? { Cookie: cookie } : {} });
      const messages: Record<string, unknown>[] = [];
      ws.on('message', (data) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
      return new Promise((resolve, reject) => {
        ws.once('open', () => resolve({ ws, messages }));
        ws.once('error', reject);
      });
    }
    const until = async (check: () => boolean, ms = testTimeLeft()): Promise<void> => {
      const end = Date.now() + ms;
      while (!check()) {
        if (Date.now() > end) throw new Error('timed out waiting');
        await sleep(20);
      }
    };

    it('greets with system and sts, streams changed fields only, and beats every heartbeat', async () => {
      h = await startHarness({ heartbeatMs: 150, streamIntervalMs: 50 });
      const session = (await h.http.post('/tickle', {})).data.session as string;
      const { ws, messages } = await connect(h.sim.wsUrl, h.sim.certificatePem, `api=${JSON.stringify({ session })}`);
      await until(() => messages.length >= 2);
      assert.deepStrictEqual([messages[0].topic, messages[0].success], ['system', 'simpaper1']);
      assert.deepStrictEqual(messages[1], { topic: 'sts', args: { authenticated: true, competing: false, message: '', fail: '', serverName: 'JifN19053', username: 'simpaper1' } });
      ws.send(`smd+${h.esConid}+${JSON.stringify({ fields: ['31', '84', '86', '7762'] })}`);
      const md = (): Record<string, unknown>[] => messages.filter((m) => m.topic === `smd+${h.esConid}`);
      await until(() => md().length >= 4);
      assert.ok(['31', '84', '86', '7762'].every((f) => typeof md()[0][f] === 'string'), 'the first message carries every field');
      const latest: Record<string, unknown> = {};
      for (const m of md()) {
        assert.strictEqual(m.conid, h.esConid);
        assert.ok(typeof m._updated === 'number');
        for (const f of ['31', '84', '86', '7762']) {
          if (f in m) assert.notStrictEqual(m[f], latest[f], `field ${f} repeated unchanged`);
          if (f in m) latest[f] = m[f];
        }
      }
      await until(() => messages.some((m) => m.topic === 'system' && typeof m.hb === 'number'));
      ws.close();
    });

    it('accepts the session as a first message and the plain cookie form', async () => {
      h = await startHarness();
      const session = h.sim.control.sessionId;
      const a = await connect(h.sim.wsUrl, h.sim.certificatePem);
      a.ws.send(JSON.stringify({ session }));
      await until(() => a.messages.some((m) => m.topic === 'sts'));
      const b = await connect(h.sim.wsUrl, h.sim.certificatePem, `api=${session}`);
      await until(() => b.messages.some((m) => m.topic === 'sts'));
      a.ws.close();
      b.ws.close();
      await assert.rejects(connect(h.sim.wsUrl, h.sim.certificatePem, 'api=wrong'));
    });

    it('ends a market-data stream that is not renewed', async () => {
      // The expiry runs on the simulator's clock, moved by the test; 'ech+hb' is answered on the same socket, so
      // every frame sent before the answer has arrived when it does.
      const clock = manualClock();
      h = await startHarness({ mdStreamTtlMs: 200, streamIntervalMs: 20, heartbeatMs: 20, clock: clock.now });
      const { ws, messages } = await connect(h.sim.wsUrl, h.sim.certificatePem, `api=${h.sim.control.sessionId}`);
      const md = (): number => messages.filter((m) => m.topic === `smd+${h.esConid}`).length;
      const echoes = (): number => messages.filter((m) => m.topic === 'ech').length;
      const barrier = async (): Promise<number> => {
        const n = echoes();
        ws.send('ech+hb');
        await until(() => echoes() > n);
        return messages.length;
      };
      ws.send(`smd+${h.esConid}+{"fields":["31","7762"]}`);
      await until(() => md() > 0);
      clock.advance(200);
      const at = await barrier();
      await until(() => messages.slice(at).some((m) => m.topic === `smd+${h.esConid}`));
      assert.strictEqual(h.sim.control.stats().marketDataStreams, 1, 'still served 200 ms after the subscription');
      clock.advance(1);
      await until(() => h.sim.control.stats().marketDataStreams === 0);
      await barrier();
      const count = md();
      // Several heartbeats (and stream intervals) later, still nothing more.
      const beats = messages.filter((m) => m.topic === 'system').length;
      await until(() => messages.filter((m) => m.topic === 'system').length >= beats + 5);
      assert.strictEqual(md(), count, 'nothing more after the expiry');
      ws.close();
    });

    it('pushes order updates on sor and drops every socket when the session dies', async () => {
      h = await startHarness();
      await h.http.get('/iserver/accounts');
      const { ws, messages } = await connect(h.sim.wsUrl, h.sim.certificatePem, `api=${h.sim.control.sessionId}`);
      ws.send('sor+{}');
      await until(() => messages.some((m) => m.topic === 'sor')); // the order list: subscribed
      await h.http.post('/iserver/account/DU1234567/orders', { orders: [esOrder(h.esConid, { orderType: 'MKT', cOID: 'ws-1' })] });
      await until(() => messages.some((m) => m.topic === 'sor' && (m.args as { status?: string }[]).some((a) => a.status === 'Filled')));
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      h.sim.control.expireSession();
      await closed;
      assert.strictEqual(h.sim.control.stats().webSockets, 0);
    });
  });
});
