// Three instances (three risk engines, each with its own Redis connection, as three Node-RED processes would have)
// trading ONE account whose budget is shared over a real redis-server. Bursts of orders from all three race for the
// budget; a model of the broker (the one account they all trade) is the truth the properties are judged against:
// the worst-case exposure at the broker never exceeds max position, no entry leaves once the day's loss stop is
// reached, and a kill switch set by one instance stops the others' next send.
import { strict as assert } from 'assert';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';
import { MemoryJournal } from '../../../lib/trading/journal';
import { parseOrder, type OrderIntent } from '../../../lib/trading/order-intent';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { instrumentOf } from '../../../lib/trading/instrument-of';
import { RedisSharedBudget } from '../../../lib/trading/shared-budget';
import { useTestRedis } from '../../support/redis';
import { testTimeLeft } from '../../support/budget';

const T0 = Date.UTC(2026, 2, 10, 15, 0); // a Tuesday, 11:00 New York
const MAX_POSITION = 2;
const LOSS_LIMIT = 400; // ES: 8 points on one contract
const LIMITS = { maxPosition: MAX_POSITION, maxOrderSize: 2, dailyLossLimit: LOSS_LIMIT, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxConsecutiveLosses: 1000 };
const CONTRACTS = ['ESZ6', 'ESH7']; // one root: the budget counts them together
const INSTANCES = 3;
const RUNS = Number(process.env.SHARED_BUDGET_RUNS ?? 25);
const SEED = Number(process.env.SHARED_BUDGET_SEED ?? 11);

interface BrokerOrder {
  id: string;
  owner: number;
  instrument: string;
  side: 'buy' | 'sell';
  quantity: number;
  filled: number;
  parent?: string;
  live: boolean;
}

type Step =
  | { k: 'burst'; orders: { who: number; side: 'buy' | 'sell'; qty: number; bracket: boolean; inst: number }[]; fillDuring: number | null }
  | { k: 'fill'; pick: number; qty: number; price: number }
  | { k: 'exitFill'; pick: number; price: number }
  | { k: 'cancel'; pick: number }
  | { k: 'kill' | 'resume'; who: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('burst' as const),
      orders: fc.array(
        fc.record({ who: fc.integer({ min: 0, max: INSTANCES - 1 }), side: fc.constantFrom('buy' as const, 'sell' as const), qty: fc.integer({ min: 1, max: 2 }), bracket: fc.boolean(), inst: fc.integer({ min: 0, max: 1 }) }),
        { minLength: 2, maxLength: 8 },
      ),
      // A fill of a working entry that lands while the burst's claims are on their way to Redis.
      fillDuring: fc.option(fc.nat(), { nil: null }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('fill' as const), pick: fc.nat(), qty: fc.integer({ min: 1, max: 2 }), price: fc.integer({ min: 4990, max: 5010 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('exitFill' as const), pick: fc.nat(), price: fc.integer({ min: 4990, max: 5010 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('kill' as const, 'resume' as const), who: fc.integer({ min: 0, max: INSTANCES - 1 }) }) },
);

describe('shared risk budget: several instances on one account over Redis', function () {
  this.timeout(300_000);
  const redis = useTestRedis('the shared budget tests');

  interface Desk {
    engines: RiskEngine[];
    budgets: RedisSharedBudget[];
    prefix: string;
    close(): Promise<void>;
  }

  async function desk(): Promise<Desk> {
    const prefix = `test-${randomUUID()}`;
    const budgets: RedisSharedBudget[] = [];
    const engines: RiskEngine[] = [];
    for (let i = 0; i < INSTANCES; i++) {
      const shared = new RedisSharedBudget({ redis: { host: redis.host, port: redis.port }, broker: 'ibkr', account: 'U1', prefix });
      const engine = new RiskEngine({ broker: 'ibkr', account: 'U1', instrumentOf, journal: new MemoryJournal(), shared });
      engine.contributeLimits('node', LIMITS);
      engine.reconcile({ now: T0, positions: [], working: [] });
      engine.on('journal-error', (err: Error) => assert.fail(`shared budget write failed: ${err.message}`));
      await shared.ready();
      budgets.push(shared);
      engines.push(engine);
    }
    return {
      engines,
      budgets,
      prefix,
      close: async () => {
        await Promise.all(engines.map((e) => e.flushShared()));
        await Promise.all(budgets.map((b) => b.close()));
      },
    };
  }

  let seq = 0;
  const refusedBy = new Map<string, number>();
  const tally = (where: string, v: { allowed: boolean; rule?: string }): boolean => {
    if (!v.allowed) refusedBy.set(`${where} ${v.rule}`, (refusedBy.get(`${where} ${v.rule}`) ?? 0) + 1);
    return v.allowed;
  };
  /** One instance's order path, as the IBKR desk runs it: reserve, claim in the shared budget, authorize, send. */
  async function place(e: RiskEngine, side: 'buy' | 'sell', quantity: number, instrument: string, bracket: boolean): Promise<string[] | null> {
    const id = `o${++seq}`;
    const exits = bracket ? [`${id}-tp`, `${id}-sl`] : [];
    if (!tally('local', e.reserve({ clientOrderId: id, instrument, side, quantity, exits, now: T0 }))) return null;
    if (!tally('shared', await e.claimShared(id, T0)) || !tally('send', e.authorizeSend(id))) {
      e.release(id);
      return null;
    }
    for (const leg of [id, ...exits]) e.acknowledged(leg, `b-${leg}`);
    return [id, ...exits];
  }

  it('three instances racing bursts: worst-case exposure never beyond max position, no entry after the loss stop, a kill stops every instance', async () => {
    let runs = 0;
    let sent = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 40 }), async (steps) => {
        runs++;
        const d = await desk();
        try {
          const orders: BrokerOrder[] = [];
          const book = new Map<string, { pos: number; avg: number }>();
          let realized = 0;
          let halted = false;
          const position = (): number => [...book.values()].reduce((s, b) => s + b.pos, 0);
          const fillAtBroker = (o: BrokerOrder, q: number, price: number): void => {
            o.filled += q;
            const b = book.get(o.instrument) ?? { pos: 0, avg: 0 };
            const signed = o.side === 'buy' ? q : -q;
            if (b.pos !== 0 && Math.sign(b.pos) !== Math.sign(signed)) realized += (price - b.avg) * Math.min(q, Math.abs(b.pos)) * Math.sign(b.pos) * 50;
            if (b.pos === 0 || Math.sign(b.pos) === Math.sign(signed)) b.avg = (b.avg * Math.abs(b.pos) + price * q) / (Math.abs(b.pos) + q);
            else if (Math.abs(q) > Math.abs(b.pos)) b.avg = price;
            b.pos += signed;
            book.set(o.instrument, b);
            const e = d.engines[o.owner];
            e.onFill({ clientOrderId: o.id, instrument: o.instrument, side: o.side, quantity: q, price, now: T0 });
            if (o.filled >= o.quantity) {
              o.live = false;
              e.onOrderUpdate(o.id, { status: 'filled', filled: o.filled, quantity: o.quantity });
            } else e.onOrderUpdate(o.id, { status: 'partially-filled', filled: o.filled, quantity: o.quantity });
          };
          /** The broker's own worst case: position + every live entry, + what each OCO exit pair may still fill. */
          const worst = (): { long: number; short: number } => {
            let buys = 0;
            let sells = 0;
            const pairs = new Set<string>();
            for (const o of orders) {
              if (!o.live) continue;
              let open = o.quantity - o.filled;
              if (o.parent) {
                if (pairs.has(o.parent)) continue;
                pairs.add(o.parent);
                const parent = orders.find((p) => p.id === o.parent)!;
                open = Math.max(0, parent.filled - o.filled);
              }
              if (o.side === 'buy') buys += open;
              else sells += open;
            }
            return { long: position() + buys, short: -position() + sells };
          };
          for (const step of steps) {
            const live = orders.filter((o) => o.live);
            if (step.k === 'burst') {
              // The stop and the position before the burst and after a fill landing in it: an entry is judged by both.
              let lossStopped = realized <= -LOSS_LIMIT;
              const before = position();
              let during = before;
              const racing = Promise.all(step.orders.map((o) => place(d.engines[o.who], o.side, o.qty, CONTRACTS[o.inst], o.bracket).then((legs) => ({ o, legs }))));
              const entries = live.filter((o) => !o.parent);
              if (step.fillDuring !== null && entries.length) {
                const o = entries[step.fillDuring % entries.length];
                fillAtBroker(o, o.quantity - o.filled, 5000);
                lossStopped &&= realized <= -LOSS_LIMIT;
                during = position();
              }
              const results = await racing;
              for (const { o, legs } of results) {
                if (!legs) {
                  refused++;
                  continue;
                }
                sent++;
                assert.ok(!halted, `instance ${o.who} sent ${o.side} ${o.qty} while another instance had set the kill switch HALTED`);
                const [id, ...exits] = legs;
                const addsTo = (p: number): boolean => p === 0 || (o.side === 'buy') === p > 0 || o.qty > Math.abs(p);
                const adds = addsTo(before) && addsTo(during);
                assert.ok(!(lossStopped && adds), `instance ${o.who} sent the entry ${o.side} ${o.qty} (position ${before}) after the daily loss stop (realized ${realized})`);
                orders.push({ id, owner: o.who, instrument: CONTRACTS[o.inst], side: o.side, quantity: o.qty, filled: 0, live: true });
                for (const x of exits) orders.push({ id: x, owner: o.who, instrument: CONTRACTS[o.inst], side: o.side === 'buy' ? 'sell' : 'buy', quantity: o.qty, filled: 0, parent: id, live: true });
              }
            } else if (step.k === 'fill') {
              const entries = live.filter((o) => !o.parent);
              if (entries.length) {
                const o = entries[step.pick % entries.length];
                fillAtBroker(o, Math.min(step.qty, o.quantity - o.filled), step.price);
              }
            } else if (step.k === 'exitFill') {
              const exits = live.filter((o) => o.parent && orders.find((p) => p.id === o.parent)!.filled > o.filled);
              if (exits.length) {
                const x = exits[step.pick % exits.length];
                const parent = orders.find((p) => p.id === x.parent)!;
                const q = parent.filled - x.filled;
                for (const s of orders) if (s.parent === x.parent && s !== x && s.live) s.filled += q; // OCO: the pair fills once
                fillAtBroker(x, q, step.price);
                if (!parent.live) {
                  for (const s of orders) {
                    if (s.parent === x.parent && s.live && s.filled >= parent.filled) {
                      s.live = false;
                      d.engines[s.owner].onOrderUpdate(s.id, { status: 'cancelled' });
                    }
                  }
                }
              }
            } else if (step.k === 'cancel') {
              const entries = live.filter((o) => !o.parent);
              if (entries.length) {
                const o = entries[step.pick % entries.length];
                o.live = false;
                d.engines[o.owner].onOrderUpdate(o.id, { status: 'cancelled' });
                // The exits stay for what the parent filled; with nothing filled they go too.
                for (const c of orders) {
                  if (c.parent !== o.id || !c.live) continue;
                  if (o.filled <= c.filled) {
                    c.live = false;
                    d.engines[c.owner].onOrderUpdate(c.id, { status: 'cancelled' });
                  } else c.quantity = o.filled;
                }
              }
            } else {
              d.engines[step.who].setKillSwitch(step.k === 'kill' ? 'HALTED' : 'ACTIVE');
              halted = step.k === 'kill';
            }
            await Promise.all(d.engines.map((e) => e.flushShared()));
            const w = worst();
            assert.ok(w.long <= MAX_POSITION && w.short <= MAX_POSITION, `worst case at the broker long ${w.long} / short ${w.short}, beyond max position ${MAX_POSITION} (position ${position()})`);
          }
        } finally {
          await d.close();
        }
      }),
      { numRuns: RUNS, seed: SEED },
    );
    const by = [...refusedBy].map(([k, n]) => `${k} ${n}`).join(', ');
    console.log(`      shared budget: ${runs} sequences, ${sent} orders sent, ${refused} refused (${by}), ${INSTANCES} instances, seed ${SEED}`);
  });

  it('a kill switch set by one instance reaches the others before their next send, and a resume too', async () => {
    const d = await desk();
    try {
      const [a, b, c] = d.engines;
      assert.ok(await place(b, 'buy', 1, 'ESZ6', false));
      a.setKillSwitch('HALTED');
      await a.flushShared(); // the switch is in Redis
      // c may not have heard yet: its claim in Redis is where the switch is decided.
      assert.equal(await place(c, 'buy', 1, 'ESZ6', false), null);
      const deadline = Date.now() + testTimeLeft();
      while ((b.killSwitch !== 'HALTED' || c.killSwitch !== 'HALTED') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual([a.killSwitch, b.killSwitch, c.killSwitch], ['HALTED', 'HALTED', 'HALTED']);
      assert.equal(await place(b, 'sell', 1, 'ESZ6', false), null, 'HALTED: not even a reducing order');
      c.setKillSwitch('ACTIVE');
      await c.flushShared();
      while ((a.killSwitch !== 'ACTIVE' || b.killSwitch !== 'ACTIVE') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual([a.killSwitch, b.killSwitch, c.killSwitch], ['ACTIVE', 'ACTIVE', 'ACTIVE']);
      assert.ok(await place(a, 'buy', 1, 'ESZ6', false));
    } finally {
      await d.close();
    }
  });

  it('an instance whose kill-switch message is late still refuses its next send: the claim reads the switch', async () => {
    const d = await desk();
    const deaf = new RedisSharedBudget({ redis: { host: redis.host, port: redis.port }, broker: 'ibkr', account: 'U1', prefix: d.prefix });
    deaf.onKillSwitch = () => () => undefined; // its message never arrives
    const late = new RiskEngine({ broker: 'ibkr', account: 'U1', instrumentOf, journal: new MemoryJournal(), shared: deaf });
    try {
      late.contributeLimits('node', LIMITS);
      late.reconcile({ now: T0, positions: [], working: [] });
      await deaf.ready();
      d.engines[0].setKillSwitch('HALTED');
      await d.engines[0].flushShared();
      assert.equal(late.killSwitch, 'ACTIVE');
      assert.ok(late.reserve({ clientOrderId: 'late-1', instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
      const v = await late.claimShared('late-1', T0);
      assert.equal(v.allowed ? null : v.rule, 'kill-switch');
      assert.equal(late.killSwitch, 'HALTED', 'taken from the claim');
      late.release('late-1');
    } finally {
      await late.flushShared();
      await deaf.close();
      await d.close();
    }
  });

  it('through the IBKR order desk: two instances each sending buy 2 at once with max position 2 place 2 contracts in all', async () => {
    const d = await desk();
    try {
      let nextId = 1;
      const placed: number[] = [];
      const client = {
        tradingEnabled: true,
        async placeOrders(orders: { quantity: number; clientOrderId?: string }[]) {
          placed.push(orders[0].quantity);
          return orders.map((o) => ({ orderId: nextId++, status: 'Submitted', clientOrderId: o.clientOrderId ?? null }));
        },
        liveOrders: async () => [],
        positions: async () => [],
        futures: async () => ({ ES: [{ symbol: 'ES', conid: 495512557, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null }] }),
        secdefSearch: async () => [],
        contractInfo: async (conid: number) => ({ conid, symbol: 'ES', secType: 'FUT', tradingClass: 'ES', localSymbol: 'ESH6', underlyingConid: null, multiplier: 50, maturityDate: null, exchange: 'CME', currency: 'USD' }),
      } as unknown as DeskClient;
      const desks = d.engines.slice(0, 2).map((engine) => new IbkrOrderDesk({ client, engine, questions: { accepted: [], acceptAll: true }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => T0 }));
      const intent = (id: string): OrderIntent =>
        (parseOrder({ action: 'buy', quantity: 2, type: 'limit', price: 4990, clientOrderId: id }, { signal: { quantity: 1, entryType: 'market', target: 1, tif: 'day' }, tickSize: null, whatIf: false }, false) as { intent: OrderIntent }).intent;
      const outcomes = await Promise.all(desks.map((k, i) => k.execute(intent(`desk-${i}`))));
      assert.deepEqual(placed, [2]);
      assert.deepEqual(outcomes.map((o) => (o.error as { rule?: string } | undefined)?.rule ?? 'placed').sort(), ['max-position', 'placed']);
    } finally {
      await d.close();
    }
  });

  it('two instances can never both use one client order id', async () => {
    const d = await desk();
    try {
      const [a, b] = d.engines;
      assert.ok(a.reserve({ clientOrderId: 'same-id', instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
      assert.ok(b.reserve({ clientOrderId: 'same-id', instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed, 'each engine alone does not know the other');
      const verdicts = await Promise.all([a.claimShared('same-id', T0), b.claimShared('same-id', T0)]);
      assert.deepEqual(verdicts.map((v) => (v.allowed ? 'claimed' : v.rule)).sort(), ['claimed', 'invalid-order']);
    } finally {
      await d.close();
    }
  });

  it('Redis unreachable: new entries are refused, an order that reduces the position still passes', async () => {
    const server = await import('node:net').then((net) => net.createServer());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r())); // nothing listens there now
    const shared = new RedisSharedBudget({ redis: { host: '127.0.0.1', port }, broker: 'ibkr', account: 'U1', prefix: `test-${randomUUID()}` });
    const e = new RiskEngine({ broker: 'ibkr', account: 'U1', instrumentOf, journal: new MemoryJournal(), shared });
    const errors: Error[] = [];
    e.on('journal-error', (err: Error) => errors.push(err));
    try {
      e.contributeLimits('node', LIMITS);
      e.reconcile({ now: T0, positions: [{ instrument: 'ESZ6', quantity: 1 }], working: [] });
      assert.ok(e.reserve({ clientOrderId: 'x-buy', instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
      const entry = await e.claimShared('x-buy', T0);
      assert.equal(entry.allowed ? null : entry.rule, 'not-reconciled');
      assert.match(entry.allowed ? '' : entry.reason, /could not be checked/);
      e.release('x-buy');
      assert.ok(e.reserve({ clientOrderId: 'x-sell', instrument: 'ESZ6', side: 'sell', quantity: 1, now: T0 }).allowed);
      assert.ok((await e.claimShared('x-sell', T0)).allowed);
      assert.ok(e.authorizeSend('x-sell').allowed);
    } finally {
      await shared.close();
    }
  });

  it('a position record before its fill moves the shared position once', async () => {
    const d = await desk();
    try {
      const [a, b] = d.engines;
      const [id] = (await place(a, 'buy', 1, 'ESZ6', false))!;
      a.syncPosition({ instrument: 'ESZ6', quantity: 1, averagePrice: 5000 }, T0);
      a.onFill({ clientOrderId: id, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 5000, now: T0 });
      a.onOrderUpdate(id, { status: 'filled', filled: 1, quantity: 1 });
      await a.flushShared();
      assert.ok(await place(b, 'buy', 1, 'ESH7', false), 'long 1 of max 2: one more fits');
      assert.equal(await place(b, 'buy', 1, 'ESH7', false), null);
    } finally {
      await d.close();
    }
  });

  it("the day's loss of one instance stops the others' entries; their reducing orders still pass", async () => {
    const d = await desk();
    try {
      const [a, b, c] = d.engines;
      const [id] = (await place(a, 'buy', 1, 'ESZ6', false))!;
      a.onFill({ clientOrderId: id, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 5000, now: T0 });
      a.onOrderUpdate(id, { status: 'filled', filled: 1, quantity: 1 });
      const [out] = (await place(a, 'sell', 1, 'ESZ6', false))!;
      a.onFill({ clientOrderId: out, instrument: 'ESZ6', side: 'sell', quantity: 1, price: 4990, now: T0 }); // −500 $
      a.onOrderUpdate(out, { status: 'filled', filled: 1, quantity: 1 });
      await a.flushShared();
      // b's own engine saw no loss: the shared budget refuses its entry.
      assert.equal(b.riskState(T0).realizedPnl, 0);
      assert.ok(b.reserve({ clientOrderId: 'b1', instrument: 'ESH7', side: 'sell', quantity: 1, now: T0 }).allowed);
      const v = await b.claimShared('b1', T0);
      assert.equal(v.allowed ? null : v.rule, 'daily-loss');
      b.release('b1');
      // A position another instance holds may still be closed.
      d.engines[2].syncPosition({ instrument: 'ESZ6', quantity: 1, averagePrice: 4990 }, T0);
      await c.flushShared();
      assert.ok(await place(c, 'sell', 1, 'ESZ6', false));
    } finally {
      await d.close();
    }
  });
});
