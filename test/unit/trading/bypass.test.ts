// One test per bypass of issue 11, through the real order paths (IBKR order desk on a recording client, Sierra
// connection on the DTC simulator). Each passed an order the trader's limits forbid on the code before the account
// risk engine; each now refuses it.
import { strict as assert } from 'assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';
import type { ContractSpec } from '../../../lib/ibkr/contract-resolver';
import { parseOrder, type ModifyIntent, type OrderIntent } from '../../../lib/trading/order-intent';
import type { OrderRequest as IbkrOrderRequest, PlacedOrder } from '../../../lib/ibkr/types';
import { SierraConnection, type SierraConnectionOptions } from '../../../lib/sierra/connection';
import { OrderStatus } from '../../../lib/sierra/protocol';
import { acquireEngine, resetAccountsForTest } from '../../../lib/trading/accounts';
import type { EngineLimits } from '../../../lib/trading/risk-engine';
import { testTimeLeft } from '../../support/budget';

const T0 = Date.UTC(2026, 2, 10, 15);
const OPEN: EngineLimits = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 2, collarTicks: 0, maxOrdersPerMinute: 0 };
const ES_FRONT = 495512557;
const ES_NEXT = 495512999;
const MES = 730283085;

/** IBKR as the desk sees it: orders accepted (after `delayMs` when slow), contracts by conid. */
function ibkr(options: { delayMs?: number } = {}) {
  let nextId = 1000;
  const placed: IbkrOrderRequest[][] = [];
  const modified: number[] = [];
  const client = {
    tradingEnabled: true,
    async placeOrders(orders: IbkrOrderRequest[]): Promise<PlacedOrder[]> {
      placed.push(orders);
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      return orders.map((o) => ({ orderId: nextId++, status: 'Submitted', clientOrderId: o.clientOrderId ?? null }) as PlacedOrder);
    },
    async modifyOrder(orderId: number) {
      modified.push(orderId);
      return { orderId, status: 'Submitted', clientOrderId: null };
    },
    async cancelOrder(orderId: number) {
      return { orderId, conid: null, accountId: null, message: 'Request was submitted' };
    },
    async whatIf() {
      throw new Error('not used');
    },
    async liveOrders() {
      return [];
    },
    async positions() {
      return [];
    },
    async futures() {
      return { ES: [{ symbol: 'ES', conid: ES_FRONT, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null }] }; // ESH26, the registry's front month at T0
    },
    async secdefSearch() {
      return [];
    },
    async contractInfo(conid: number) {
      const symbol = conid === MES ? 'MES' : 'ES';
      return { conid, symbol, secType: 'FUT', tradingClass: symbol, localSymbol: `${symbol}Z9`, underlyingConid: null, multiplier: symbol === 'MES' ? 5 : 50, maturityDate: null, exchange: 'CME', currency: 'USD' };
    },
  };
  return { client: client as unknown as DeskClient, placed, modified, contracts: () => placed.reduce((n, legs) => n + (legs[0]?.quantity ?? 0), 0) };
}

/** An ibkr-order node's desk on account DU1, holding the account's engine as the node does. */
function ibkrNode(client: DeskClient, holder: string, limits: EngineLimits = OPEN, contract: ContractSpec = { symbol: 'ES', secType: 'FUT' }) {
  const { engine } = acquireEngine({ broker: 'ibkr', account: 'DU1', holder, limits });
  return new IbkrOrderDesk({ client, engine, questions: { accepted: [], acceptAll: true }, contract, now: () => T0 });
}

/** The one parser (lib/trading/order-intent.ts), as ibkr-order calls it, for an order payload. */
function parseOrderRequest(payload: unknown): OrderIntent {
  const parsed = parseOrder(payload, { signal: { quantity: 1, entryType: 'market', target: 1, tif: 'day' }, tickSize: null, whatIf: false }, false);
  assert.equal(parsed.kind, 'order', JSON.stringify(parsed));
  return (parsed as { intent: OrderIntent }).intent;
}
const buy = (quantity: number, extra: Record<string, unknown> = {}) => parseOrderRequest({ action: 'buy', quantity, type: 'limit', price: 4990, ...extra });
const bracketBuy = (quantity: number) => parseOrderRequest({ action: 'buy', quantity, type: 'limit', price: 4990, bracket: { stop: 4980, targets: [5000] } });

describe('issue 11 bypasses: IBKR', () => {
  beforeEach(() => resetAccountsForTest());

  it('one signal into two order nodes (fan-out): max position 1 → one bracket works, the other is refused', async () => {
    const broker = ibkr();
    const limits = { ...OPEN, maxPosition: 1, maxOrderSize: 1 };
    const [a, b] = [ibkrNode(broker.client, 'a', limits), ibkrNode(broker.client, 'b', limits)];
    const outcomes = await Promise.all([a.execute(bracketBuy(1)), b.execute(bracketBuy(1))]);
    assert.equal(broker.contracts(), 1);
    assert.deepEqual(outcomes.map((o) => (o.error as { rule?: string } | undefined)?.rule ?? 'placed').sort(), ['max-position', 'placed']);
  });

  it('a duplicated signal and a slow ack: the second order meets the first one still unanswered', async () => {
    const broker = ibkr({ delayMs: 50 });
    const d = ibkrNode(broker.client, 'a', { ...OPEN, maxPosition: 1, maxOrderSize: 1 });
    const first = d.execute(bracketBuy(1));
    const second = d.execute(bracketBuy(1));
    const [o1, o2] = await Promise.all([first, second]);
    assert.equal(o1.error, undefined);
    assert.equal((o2.error as { rule?: string }).rule, 'max-position');
    assert.equal(broker.placed.length, 1);
  });

  it('two ibkr-order nodes on one account with their own limits cannot double the budget (long 4 with max 2 before)', async () => {
    const broker = ibkr();
    const a = ibkrNode(broker.client, 'a', { ...OPEN, maxPosition: 2 });
    const b = ibkrNode(broker.client, 'b', { ...OPEN, maxPosition: 2 });
    assert.equal((await a.execute(buy(2))).error, undefined);
    assert.equal(((await b.execute(buy(2))).error as { rule?: string }).rule, 'max-position');
    assert.equal(broker.contracts(), 2);
  });

  it('a conid override is counted against the contract it really trades, across months of one root (12 working with max 2 before)', async () => {
    const broker = ibkr();
    const d = ibkrNode(broker.client, 'a');
    assert.equal((await d.execute(buy(2))).error, undefined);
    const override = await d.execute(buy(1), { conid: ES_NEXT });
    assert.equal((override.error as { rule?: string }).rule, 'max-position');
    // MES is another root: its own exposure.
    assert.equal((await d.execute(buy(1), { conid: MES })).error, undefined);
    assert.equal(broker.contracts(), 3);
  });

  it('modify while HALTED is refused (price and larger quantity); a larger quantity is checked against max position', async () => {
    const broker = ibkr();
    const d = ibkrNode(broker.client, 'a');
    assert.equal((await d.execute(buy(1, { clientOrderId: 'm1' }))).error, undefined);
    const modify = (change: Partial<ModifyIntent>) => d.execute({ kind: 'modify', clientOrderId: 'm1', origin: 'test', ...change } as ModifyIntent);
    assert.equal(((await modify({ quantity: 3 })).error as { rule?: string }).rule, 'max-order-size');
    d.setKillSwitch('HALTED');
    assert.equal(((await modify({ price: 4991 })).error as { rule?: string }).rule, 'kill-switch');
    assert.equal(((await modify({ quantity: 2 })).error as { rule?: string }).rule, 'kill-switch');
    assert.deepEqual(broker.modified, []);
  });

  it('a kill between the check and the send: the order is refused at the instant of sending', async () => {
    const broker = ibkr();
    const d = ibkrNode(broker.client, 'a');
    const { engine } = acquireEngine({ broker: 'ibkr', account: 'DU1', holder: 'probe', limits: OPEN });
    // The reservation passes, then the kill switch turns before the desk writes to IBKR.
    const original = engine.reserve.bind(engine);
    engine.reserve = (req) => {
      const v = original(req);
      engine.setKillSwitch('HALTED');
      return v;
    };
    const outcome = await d.execute(buy(1));
    assert.equal((outcome.error as { rule?: string }).rule, 'kill-switch');
    assert.equal(broker.placed.length, 0);
    assert.equal(engine.exposure('ES').buys, 0, 'the reservation was released');
  });

  it('MES P&L counts 5 $ per point (was fixed at 50: 10× too large)', async () => {
    const broker = ibkr();
    const d = ibkrNode(broker.client, 'a', { ...OPEN, dailyLossLimit: 100 }, { conid: MES });
    const { engine } = acquireEngine({ broker: 'ibkr', account: 'DU1', holder: 'probe', limits: OPEN });
    assert.equal((await d.execute(buy(1))).error, undefined);
    engine.onFill({ instrument: `MES@${MES}`, side: 'buy', quantity: 1, price: 5000, now: T0 });
    engine.onFill({ instrument: `MES@${MES}`, side: 'sell', quantity: 1, price: 4990, now: T0 });
    assert.equal(engine.riskState(T0).realizedPnl, -50);
  });
});

describe('issue 11 bypasses: Sierra Chart (DTC simulator)', function () {
  this.timeout(20_000);
  let connections: SierraConnection[] = [];
  let dir: string;
  beforeEach(() => {
    resetAccountsForTest();
    dir = mkdtempSync(path.join(tmpdir(), 'mia-bypass-'));
  });
  afterEach(async () => {
    for (const c of connections) await c.close();
    connections = [];
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(limits: EngineLimits, holder = 'cfg1'): Promise<SierraConnection> {
    const options: SierraConnectionOptions = {
      client: { tradeAccount: 'Sim1', heartbeatSec: 1, tradingEnabled: true },
      symbol: 'ESZ25_FUT_CME',
      risk: { limits, collarTicks: 0, maxOrdersPerMinute: 0 },
      simulator: { seed: 5, speed: 0.001 },
      holder,
      journalDir: dir,
    };
    const c = new SierraConnection(options);
    connections.push(c);
    await c.whenReady(10_000);
    return c;
  }
  const limitBuy = (c: SierraConnection, bracket = true) => {
    const last = c.lastTrade() ?? 6000;
    return c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: last - 10, ...(bracket ? { bracket: { stop: last - 20, targets: [last + 10] } } : {}) });
  };
  const entriesAtSierra = (c: SierraConnection) => (c.simulator?.orders() ?? []).filter((o) => o.parentServerOrderId === '' && (o.status === OrderStatus.OPEN || o.status === OrderStatus.PENDING_OPEN)).length;

  it('a sync-delivery burst / duplicated signal: two submits in the same tick, max position 1 → one bracket, one refusal', async () => {
    const c = await open({ ...OPEN, maxPosition: 1, maxOrderSize: 1 });
    const results = await Promise.allSettled([limitBuy(c), limitBuy(c)]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.match(String(refused?.reason?.message), /max-position/);
    assert.equal(refused?.reason?.code, 'RISK_DENIED');
    assert.equal(entriesAtSierra(c), 1);
  });

  it('a kill between the check and the send: a submit already checked does not leave', async () => {
    const c = await open(OPEN);
    const before = c.simulator?.orders().length;
    const pending = limitBuy(c, false); // reserved synchronously, then waits for the security definition
    c.setKillSwitch('HALTED');
    await assert.rejects(pending, /kill-switch/);
    assert.equal(c.simulator?.orders().length, before);
  });

  it('a bracket on an order that reduces the position is refused (it would re-open it)', async () => {
    const c = await open(OPEN);
    await c.submit({ symbol: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, type: 'market' });
    const deadline = Date.now() + testTimeLeft();
    while (c.status().position !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    c.setKillSwitch('REDUCING');
    const last = c.lastTrade() ?? 6000;
    await assert.rejects(c.submit({ symbol: 'ESZ25_FUT_CME', side: 'sell', quantity: 1, type: 'market', bracket: { stop: last + 20, targets: [last - 10] } }), /re-open/);
  });

  it('a redeploy with a working bracket keeps its exposure and the kill switch; a restart finds both in the journal', async () => {
    const c = await open({ ...OPEN, maxPosition: 1, maxOrderSize: 1 });
    await limitBuy(c);
    c.setKillSwitch('REDUCING');
    const engine = c.riskEngine;
    await c.close(); // redeploy: the config node closes its connection, the account's engine stays
    connections = [];
    const { engine: again } = acquireEngine({ broker: 'sierra', account: engine.account, holder: 'cfg1', limits: OPEN });
    assert.equal(again, engine);
    assert.equal(again.killSwitch, 'REDUCING');
    assert.equal(again.exposure('ES').buys, 1);
    resetAccountsForTest(); // restart: only the journal file remains
    const { engine: restarted } = acquireEngine({ broker: 'sierra', account: engine.account, holder: 'cfg1', limits: OPEN, journalDir: dir });
    assert.notEqual(restarted, engine);
    assert.equal(restarted.killSwitch, 'REDUCING');
    assert.equal(restarted.exposure('ES').buys, 1);
  });
});
