// The IbkrClient, through a real IbkrConnection (limiter, transport, session keeper), against the real IBKR
// simulator over loopback HTTPS: every client method, the session keeper's keep-alive, expiry, priming and nightly
// reset, and the limiter keeping our own burst free of 429 under IBKR's documented limits.
import { strict as assert } from 'assert';
import { IbkrConnection, RejectedError, type IbkrConnectionOptions, type OrderRequest } from '../../../lib/ibkr';
import { SPX_CONID, startIbkrSimulator, type IbkrSimulator, type IbkrSimulatorOptions } from '../../../lib/sim/ibkr';
import { testTimeLeft } from '../../support/budget';
import { FakeScheduler } from './loopback';

interface Rig {
  sim: IbkrSimulator;
  connection: IbkrConnection;
  close(): Promise<void>;
}

/** The documented 1-per-5-s families, shortened so the method tests run in seconds (the simulator's limits are off there). */
const QUICK_FAMILIES: IbkrConnectionOptions['familyLimits'] = {
  'live-orders': { kind: 'interval', intervalMs: 20 },
  pnl: { kind: 'interval', intervalMs: 20 },
  'portfolio-accounts': { kind: 'interval', intervalMs: 20 },
  tickle: { kind: 'interval', intervalMs: 20 },
};

async function rig(simOptions: IbkrSimulatorOptions, options: Partial<IbkrConnectionOptions> = {}): Promise<Rig> {
  const sim = await startIbkrSimulator({ seed: 11, ...simOptions });
  const connection = new IbkrConnection({
    mode: 'simulator',
    baseUrl: sim.baseUrl,
    simulatorCertificatePem: sim.certificatePem,
    ...options,
  });
  await connection.start();
  return {
    sim,
    connection,
    close: async () => {
      await connection.close();
      await sim.close();
    },
  };
}

describe('IbkrClient against the IBKR simulator', function () {
  this.timeout(20_000);

  describe('every method (simulator limits relaxed, our family limits shortened)', () => {
    let r: Rig;
    before(async () => {
      r = await rig({ rateLimits: false, cancelDelayMs: 10, positionsCacheMs: 0 }, { tradingEnabled: true, familyLimits: QUICK_FAMILIES });
    });
    after(() => r.close());

    const esConid = (): number => r.sim.market.esContracts()[0].conid;
    const asked: string[] = [];
    /** The rule a trader would set: accept the price-deviation and stop-order notices, refuse anything else. */
    const rule = (id: string): boolean => {
      asked.push(id);
      return id === 'o163' || id === 'o10331';
    };

    it('authenticates over HTTPS with the pinned certificate', () => {
      assert.equal(r.connection.state, 'authenticated');
      assert.match(r.sim.baseUrl, /^https:/);
    });

    it('reads the accounts, summary, ledger, positions and P&L as numbers', async () => {
      const client = r.connection.client;
      const accounts = await client.accounts();
      assert.deepEqual(accounts.accounts, ['DU1234567']);
      assert.equal(accounts.isPaper, true);
      assert.equal(await client.accountId(), 'DU1234567');
      const portfolio = await client.portfolioAccounts();
      assert.equal(portfolio[0].accountId, 'DU1234567');
      const summary = await client.accountSummary();
      assert.ok(Object.keys(summary).length > 0);
      const netLiq = summary.netliquidation ?? summary.netliquidationvalue;
      assert.ok(netLiq && typeof netLiq.amount === 'number' && netLiq.amount > 0, JSON.stringify(netLiq));
      const ledger = await client.ledger();
      assert.ok(ledger.length > 0 && ledger.every((e) => typeof e.currency === 'string'));
      assert.ok(Array.isArray(await client.positions()));
      assert.ok(Array.isArray(await client.pnl()));
    });

    it('takes a snapshot through the pre-flight call and returns prices', async () => {
      const [row] = await r.connection.client.snapshot([esConid()], ['last', 'bid', 'ask', 'bidSize', 'askSize']);
      assert.equal(row.conid, esConid());
      const { last, bid, ask } = row.values;
      assert.ok(typeof bid === 'number' && typeof ask === 'number' && typeof last === 'number', JSON.stringify(row));
      assert.ok(bid <= ask, `bid ${bid} ≤ ask ${ask}`);
      assert.equal(row.availability.delayed, false, 'real-time prices');
    });

    it('reads history bars in time order with sane OHLC', async () => {
      const history = await r.connection.client.history({ conid: esConid(), bar: '5min', period: '1d' });
      assert.ok(history.bars.length >= 5, `${history.bars.length} bars`);
      for (let i = 1; i < history.bars.length; i += 1) assert.ok(history.bars[i].t > history.bars[i - 1].t);
      for (const b of history.bars) assert.ok(b.l <= Math.min(b.o, b.c) && b.h >= Math.max(b.o, b.c));
    });

    it('finds the ES front month: the nearest contract not about to roll', async () => {
      const all = await r.connection.client.futures(['ES']);
      assert.ok(all.ES.length >= 2);
      const now = r.sim.market.now();
      const front = await r.connection.client.esFrontMonth(now);
      assert.ok(all.ES.some((c) => c.conid === front.conid));
      const rollDate = new Date(now + 8 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
      const nearer = all.ES.filter((c) => c.expirationDate < front.expirationDate && c.expirationDate > rollDate);
      assert.deepEqual(nearer, [], 'no nearer contract outside the 8-day roll window');
    });

    it('walks SPX secdef search → strikes → info and tells SPX (AM) from SPXW (PM) by trading class', async () => {
      const client = r.connection.client;
      const [spx] = await client.secdefSearch('SPX');
      assert.equal(spx.conid, SPX_CONID);
      const options = spx.sections.find((s) => s.secType === 'OPT');
      assert.ok(options && options.months.length > 0);
      const month = options.months[0];
      const strikes = await client.secdefStrikes({ conid: SPX_CONID, month });
      assert.ok(strikes.call.length > 0 && strikes.put.length > 0);
      const strike = strikes.call[Math.floor(strikes.call.length / 2)];
      const info = await client.secdefInfo({ conid: SPX_CONID, month, strike, right: 'C' });
      assert.ok(info.length > 0);
      assert.ok(info.every((c) => c.strike === strike && c.right === 'C' && (c.tradingClass === 'SPX' || c.tradingClass === 'SPXW')));
      assert.ok(info.some((c) => c.tradingClass === 'SPXW'), 'weeklies listed');
    });

    it('places an order answering the questions by rule, then modifies, finds and cancels it', async () => {
      const client = r.connection.client;
      const [quote] = await client.snapshot([esConid()], ['last', 'bid']);
      const far = Math.round(((quote.values.bid as number) * 0.9) / 0.25) * 0.25; // 10 % below: IBKR asks o163
      const order: OrderRequest = { conid: esConid(), side: 'BUY', orderType: 'LMT', quantity: 1, price: far, tif: 'DAY', clientOrderId: `t-${Date.now()}`, secType: 'FUT' };
      const what = await client.whatIf(order);
      assert.ok(what.initialMargin.change !== null || what.commission !== null, JSON.stringify(what));
      const placed = await client.placeOrder(order, rule);
      assert.ok(asked.includes('o163'));
      assert.ok(placed.orderId > 0);
      const found = await client.findOrderByClientId(order.clientOrderId as string);
      assert.equal(found?.orderId, placed.orderId);
      const lower = far - 1;
      await client.modifyOrder(placed.orderId, { ...order, price: lower }, rule);
      const modified = (await client.liveOrders()).find((o) => o.orderId === placed.orderId);
      assert.equal(modified?.price, lower);
      const ack = await client.cancelOrder(placed.orderId, { futures: true });
      assert.equal(ack.orderId, placed.orderId);
    });

    // IBKR's first live-orders call of a session answers an empty list: if the client did not make that pre-flight
    // itself, a caller resolving a lost answer would read "not found" for an order that exists and could send it twice.
    it('finds an order by client order id on the first live-orders call of a session (pre-flight handled)', async () => {
      const fresh = await rig({ tls: false, rateLimits: false }, { tradingEnabled: true, familyLimits: QUICK_FAMILIES });
      try {
        const conid = fresh.sim.market.esContracts()[0].conid;
        const [quote] = await fresh.connection.client.snapshot([conid], ['bid']);
        const price = Math.round(((quote.values.bid as number) * 0.99) / 0.25) * 0.25;
        const order: OrderRequest = { conid, side: 'BUY', orderType: 'LMT', quantity: 1, price, clientOrderId: `f-${Date.now()}`, secType: 'FUT' };
        const placed = await fresh.connection.client.placeOrder(order, () => true);
        const found = await fresh.connection.client.findOrderByClientId(order.clientOrderId as string);
        assert.equal(found?.orderId, placed.orderId, 'the order exists at IBKR; "not found" would invite a duplicate');
      } finally {
        await fresh.close();
      }
    });

    it('drops an order whose question the rule refuses, and sends nothing else', async () => {
      const client = r.connection.client;
      const [quote] = await client.snapshot([esConid()], ['ask']);
      const marketable = (quote.values.ask as number) + 10; // above the ask: IBKR asks o403 "will fill immediately"
      const order: OrderRequest = { conid: esConid(), side: 'BUY', orderType: 'LMT', quantity: 1, price: marketable, clientOrderId: `r-${Date.now()}`, secType: 'FUT' };
      await assert.rejects(client.placeOrder(order, rule), RejectedError);
      assert.equal(await client.findOrderByClientId(order.clientOrderId as string), undefined);
    });
  });

  describe('session keeper', () => {
    it('keeps an idle session alive with /tickle past the idle timeout', async () => {
      // The keeper's timers and the simulator's idle clock in virtual time: 8 tickle intervals (1.6 s, past the 600 ms
      // idle timeout) pass however slow the machine is; each tickle reaches the simulator before the next interval.
      const clock = new FakeScheduler();
      const now = (): number => Date.UTC(2026, 2, 3, 15) + clock.now;
      const r = await rig({ tls: false, rateLimits: false, sessionIdleMs: 600, clock: now }, { tickleIntervalMs: 200, familyLimits: QUICK_FAMILIES, clock: now, scheduler: clock });
      const tickles = (): number => r.sim.control.stats().requests['/tickle'] ?? 0;
      const until = async (check: () => boolean, what: string): Promise<void> => {
        const end = Date.now() + testTimeLeft();
        while (!check()) {
          if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      };
      try {
        const first = tickles();
        for (let n = 1; n <= 8; n++) {
          await clock.advance(199);
          assert.equal(tickles(), first + n - 1, 'no tickle before the interval');
          await clock.advance(1);
          await until(() => tickles() === first + n, `tickle ${n} at the simulator`);
        }
        assert.equal(r.connection.state, 'authenticated');
      } finally {
        await r.close();
      }
    });

    it('reopens an expired session and primes the accounts again after the nightly reset', async () => {
      const r = await rig({ tls: false, rateLimits: false }, { familyLimits: QUICK_FAMILIES });
      try {
        const conid = r.sim.market.esContracts()[0].conid;
        await r.connection.client.snapshot([conid], ['last']);
        r.sim.control.expireSession();
        await r.connection.session.check();
        assert.equal(r.connection.state, 'authenticated');
        const primedBefore = r.sim.control.stats().requests['/iserver/accounts'] ?? 0;
        r.sim.control.nightlyReset();
        await r.connection.session.check();
        const [row] = await r.connection.client.snapshot([conid], ['last']);
        assert.equal(typeof row.values.last, 'number', 'market data again after the reset');
        assert.ok((r.sim.control.stats().requests['/iserver/accounts'] ?? 0) > primedBefore, '/iserver/accounts queried again');
      } finally {
        await r.close();
      }
    });

    it('still finds a working order after the nightly reset, through the new session\'s pre-flight, and reports the expiry', async () => {
      const r = await rig({ tls: false, rateLimits: false }, { tradingEnabled: true, familyLimits: QUICK_FAMILIES });
      try {
        const client = r.connection.client;
        const conid = r.sim.market.esContracts()[0].conid;
        const [quote] = await client.snapshot([conid], ['bid']);
        const price = Math.round(((quote.values.bid as number) * 0.99) / 0.25) * 0.25;
        const order: OrderRequest = { conid, side: 'BUY', orderType: 'LMT', quantity: 1, price, clientOrderId: `n-${Date.now()}`, secType: 'FUT' };
        const placed = await client.placeOrder(order, () => true);
        assert.equal((await client.findOrderByClientId(order.clientOrderId as string))?.orderId, placed.orderId);
        const states: string[] = [];
        r.connection.on('state', (e: { state: string }) => states.push(e.state));
        r.sim.control.nightlyReset();
        await r.connection.session.check();
        assert.deepEqual(states, ['expired', 'authenticated'], 'the trader is told the session went and came back');
        const after = await client.lookupOrderByClientId(order.clientOrderId as string);
        assert.equal(after.state === 'found' && after.order.orderId, placed.orderId);
      } finally {
        await r.close();
      }
    });

    it('reports competing and recovers when the other login leaves', async () => {
      const r = await rig({ tls: false, rateLimits: false }, { familyLimits: QUICK_FAMILIES });
      try {
        r.sim.control.setCompeting(true);
        await r.connection.session.check();
        assert.equal(r.connection.state, 'competing');
        r.sim.control.setCompeting(false);
        await r.connection.session.check();
        assert.equal(r.connection.state, 'authenticated');
      } finally {
        await r.close();
      }
    });
  });

  describe('limiter', () => {
    it('sends a burst of 10× the allowed rate with zero 429 under IBKR documented limits', async () => {
      const r = await rig({ tls: false }); // the simulator's documented limits on, our documented limits
      try {
        const client = r.connection.client;
        const conid = r.sim.market.esContracts()[0].conid;
        await client.accounts();
        const before = r.sim.control.stats();
        // 40 requests at once is 10× the 10 req/s limit over 0.4 s: the limiter must spread them out.
        const burst = [
          ...Array.from({ length: 24 }, () => client.secdefSearch('SPX')),
          ...Array.from({ length: 12 }, () => client.snapshot([conid], ['last'])),
          client.liveOrders(),
          ...Array.from({ length: 2 }, () => client.futures(['ES'])),
        ];
        await Promise.all(burst);
        const after = r.sim.control.stats();
        assert.equal(after.rejected429 - before.rejected429, 0, 'no 429 from our own traffic');
        assert.ok(after.maxRatePerSec <= 10, `peak ${after.maxRatePerSec} req/s`);
        assert.equal(r.connection.counts().rateLimited, 0);
      } finally {
        await r.close();
      }
    });
  });
});
