// IBKR's live orders and positions name a contract by conid (a live order carries no symbol): a working order or a
// position in a contract this desk never traded must still count in its root's exposure. Its root is resolved from
// IBKR's contract info before any new entry; while it cannot be, new entries are refused with a clear error.
import { strict as assert } from 'assert';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';
import { parseOrder, type OrderIntent } from '../../../lib/trading/order-intent';
import type { OrderRequest as IbkrOrderRequest, PlacedOrder } from '../../../lib/ibkr/types';
import { acquireEngine, resetAccountsForTest } from '../../../lib/trading/accounts';
import type { EngineLimits } from '../../../lib/trading/risk-engine';

const T0 = Date.UTC(2026, 2, 10, 15);
const OPEN: EngineLimits = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 2, collarTicks: 0, maxOrdersPerMinute: 0 };
const ES_FRONT = 495512557;
const ES_OTHER = 495512999; // an ES month this desk never traded

interface Account {
  live?: { orderId: number; conid: number; side: string; quantity: number; filledQuantity: number; status: string }[];
  positions?: { conid: number; quantity: number; averagePrice: number; description: string }[];
  /** contractInfo fails this many times first. */
  infoFailures?: number;
}

function ibkr(account: Account) {
  let nextId = 1000;
  let failures = account.infoFailures ?? 0;
  const placed: IbkrOrderRequest[][] = [];
  const client = {
    tradingEnabled: true,
    async placeOrders(orders: IbkrOrderRequest[]): Promise<PlacedOrder[]> {
      placed.push(orders);
      return orders.map((o) => ({ orderId: nextId++, status: 'Submitted', clientOrderId: o.clientOrderId ?? null }) as PlacedOrder);
    },
    async cancelOrder(orderId: number) {
      return { orderId, conid: null, accountId: null, message: 'Request was submitted' };
    },
    async liveOrders() {
      return (account.live ?? []).map((o) => ({ ...o, clientOrderId: null }));
    },
    async positions() {
      return account.positions ?? [];
    },
    async futures() {
      return { ES: [{ symbol: 'ES', conid: ES_FRONT, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null }] };
    },
    async secdefSearch() {
      return [];
    },
    async contractInfo(conid: number) {
      if (failures > 0) {
        failures--;
        throw new Error('IBKR 503 Service Unavailable');
      }
      return { conid, symbol: 'ES', secType: 'FUT', tradingClass: 'ES', localSymbol: 'ESM6', underlyingConid: null, multiplier: 50, maturityDate: null, exchange: 'CME', currency: 'USD' };
    },
  };
  return { client: client as unknown as DeskClient, placed };
}

function desk(client: DeskClient): IbkrOrderDesk {
  const { engine } = acquireEngine({ broker: 'ibkr', account: 'DU9', holder: 'a', limits: OPEN });
  return new IbkrOrderDesk({ client, engine, questions: { accepted: [], acceptAll: true }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => T0 });
}

function buy(quantity: number): OrderIntent {
  const parsed = parseOrder({ action: 'buy', quantity, type: 'limit', price: 4990 }, { signal: { quantity: 1, entryType: 'market', target: 1, tif: 'day' }, tickSize: null, whatIf: false }, false);
  return (parsed as { intent: OrderIntent }).intent;
}

describe('IBKR: working orders and positions of contracts the desk never traded', () => {
  beforeEach(() => resetAccountsForTest());

  it("a working buy of another ES month (conid only) counts in ES's exposure", async () => {
    const broker = ibkr({ live: [{ orderId: 77, conid: ES_OTHER, side: 'BUY', quantity: 2, filledQuantity: 0, status: 'Submitted' }] });
    const d = desk(broker.client);
    const outcome = await d.execute(buy(1));
    assert.equal((outcome.error as { rule?: string } | undefined)?.rule, 'max-position', 'working buy 2 + buy 1 > max 2');
    assert.equal(broker.placed.length, 0);
  });

  it('a position whose description does not start with its root counts in that root', async () => {
    const broker = ibkr({ positions: [{ conid: ES_OTHER, quantity: 2, averagePrice: 5000, description: 'E-mini S&P 500 JUN26' }] });
    const d = desk(broker.client);
    assert.equal(((await d.execute(buy(1))).error as { rule?: string } | undefined)?.rule, 'max-position');
    assert.equal(broker.placed.length, 0);
  });

  it('while a conid cannot be resolved, new entries are refused with a clear error; once it is, they are checked', async () => {
    const broker = ibkr({ live: [{ orderId: 78, conid: ES_OTHER, side: 'BUY', quantity: 1, filledQuantity: 0, status: 'Submitted' }], infoFailures: 1 });
    const d = desk(broker.client);
    const first = await d.execute(buy(1));
    assert.ok(first.error, 'refused');
    assert.match(first.error.message, new RegExp(`${ES_OTHER}`));
    assert.match(first.error.message, /new entries/);
    assert.equal(broker.placed.length, 0);
    // Resolved on the next try: the working buy 1 is counted, buy 1 fits, buy 2 would not.
    assert.equal(((await d.execute(buy(2))).error as { rule?: string } | undefined)?.rule, 'max-position');
    assert.equal((await d.execute(buy(1))).error, undefined);
    assert.equal(broker.placed.length, 1);
  });
});
