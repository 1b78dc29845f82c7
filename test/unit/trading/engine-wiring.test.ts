// The pieces the risk engine and main's trading core left for each other: the instrument registry behind the engine
// (root, point value, tick per contract), and the client-order-id generator continuing above the account's journaled
// id sequence for both brokers.
import { strict as assert } from 'assert';
import { ClientOrderIdGenerator } from '../../../lib/trading/client-order-id';
import { contractKey, instrumentOf, rootOfSymbol } from '../../../lib/trading/instrument-of';
import { INSTRUMENTS } from '../../../lib/trading/instruments';
import { MemoryJournal } from '../../../lib/trading/journal';
import { RiskEngine } from '../../../lib/trading/risk-engine';
import { IbkrOrderDesk, type DeskClient } from '../../../lib/ibkr/order-desk';

const T0 = Date.UTC(2026, 2, 10, 15);
const seq = (id: string): number => Number(id.split('-')[2]);

function engine(broker: 'ibkr' | 'sierra' = 'sierra'): RiskEngine {
  const e = new RiskEngine({ broker, account: 'A1', instrumentOf, journal: new MemoryJournal() });
  e.contributeLimits('n', { tradingHoursEnabled: false, cooldownMin: 0 });
  return e;
}

describe('risk engine wiring: instrument registry and id sequence', () => {
  it('resolves every broker spelling of a contract through the registry (root, point value, tick)', () => {
    for (const name of ['ESZ26_FUT_CME', 'ESZ6', 'ESZ26-CME', 'F.US.EPZ26', 'ES', 'ES@495512557']) {
      assert.equal(instrumentOf(name).root, 'ES', name);
      assert.equal(instrumentOf(name).pointValue, 50, name);
    }
    for (const i of INSTRUMENTS) {
      assert.equal(instrumentOf(`${i.root}H27_FUT_CME`).pointValue, i.pointValue);
      assert.equal(instrumentOf(`${i.root}@1`).tickSize, i.tickSize);
    }
    assert.equal(rootOfSymbol('F.US.MESM26'), 'MES');
    assert.throws(() => instrumentOf('CLZ26_FUT_NYMEX'), /not in the instrument registry/);
    assert.throws(() => instrumentOf('?@555'), /not in the instrument registry/);
  });

  it('keeps last trades per contract in the engine: another month or root never prices the collar', () => {
    const e = engine();
    e.contributeLimits('n', { tradingHoursEnabled: false, cooldownMin: 0, collarTicks: 8 });
    e.reconcile({ now: T0, positions: [], working: [] });
    e.setLastTrade('ES', 6000, T0); // IBKR's "ES": the registry's front month at T0 (ESH26)
    assert.equal(e.lastTradeOf('ESH26_FUT_CME', T0), 6000);
    assert.equal(e.lastTradeOf('ESM26_FUT_CME', T0), null);
    assert.equal(contractKey('ES', T0), 'ESH26');
    const next = e.reserve({ clientOrderId: 'x1', instrument: 'ESM26_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: 6000, now: T0 });
    assert.equal(next.allowed ? 'allowed' : next.rule, 'price-collar', 'no last trade of ESM26 is known');
    const front = e.reserve({ clientOrderId: 'x2', instrument: 'ESH26_FUT_CME', side: 'buy', quantity: 1, type: 'limit', price: 6001, now: T0 });
    assert.ok(front.allowed);
  });

  it('continues above the journaled id sequence and moves it, for every generator of the account', () => {
    const e = engine();
    e.noteIdSequence(9_000_000_000);
    const a = new ClientOrderIdGenerator('mia', 0, e);
    const b = new ClientOrderIdGenerator('mia', 0, e);
    const first = a.next(T0);
    assert.equal(seq(first), 9_000_000_001);
    assert.equal(e.lastIdSequence, 9_000_000_001);
    const second = b.next(T0); // another node (or broker) of the account: above the first, never equal
    assert.equal(seq(second), 9_000_000_002);
    assert.throws(() => b.claim(first), /already used/);
    a.observe('20260310-mia-9000000050'); // seen at the broker
    assert.equal(e.lastIdSequence, 9_000_000_050);
    assert.equal(seq(b.next(T0)), 9_000_000_051);
  });

  it('IBKR: the desk\'s ids continue above the account engine\'s sequence (a restart restores it from the journal)', async () => {
    const e = engine('ibkr');
    e.reconcile({ now: T0, positions: [], working: [] });
    e.noteIdSequence(9_100_000_000);
    const placed: string[] = [];
    const client = {
      tradingEnabled: true,
      placeOrders: async (orders: { clientOrderId?: string }[]) => {
        placed.push(...orders.map((o) => o.clientOrderId ?? ''));
        return orders.map((o, k) => ({ orderId: 7000 + k, status: 'Submitted', clientOrderId: o.clientOrderId ?? null }));
      },
      positions: async () => [],
      liveOrders: async () => [],
      futures: async () => ({ ES: [{ symbol: 'ES', conid: 495512557, underlyingConid: 11004968, expirationDate: '20260320', lastTradingDate: null }] }),
      secdefSearch: async () => [],
    } as unknown as DeskClient;
    const desk = new IbkrOrderDesk({ client, engine: e, questions: { accepted: [], acceptAll: true }, contract: { symbol: 'ES', secType: 'FUT' }, now: () => T0, idClock: () => T0 });
    const outcome = await desk.execute({ kind: 'entry', side: 'buy', quantity: 1, type: 'market', tif: 'day', whatIf: false, origin: 'order' });
    assert.equal(outcome.error, undefined, String(outcome.error));
    assert.equal(seq(placed[0] ?? ''), 9_100_000_001);
    assert.equal(e.lastIdSequence, 9_100_000_001);
  });
});
