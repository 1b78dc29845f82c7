import { strict as assert } from 'assert';
import * as FakeTimers from '@sinonjs/fake-timers';
import { startDtcSimulator, type DtcSimulator, type DtcSimulatorOptions } from '../../../../lib/sim/dtc';
import { encodeEncodingRequest, encodeMessage } from '../../../../lib/sierra/framing';
import {
  BuySell,
  DBL_MAX,
  MessageType,
  OrderStatus,
  OrderType,
  OrderUpdateReason,
  readPrice,
  toEpochMs,
  type SubmitNewSingleOrder,
} from '../../../../lib/sierra/protocol';
import type { Market } from '../../../../lib/sim/market-types';
import type { SimMarket } from '../../../../lib/sim/dtc';
import { RawClient, ScriptedMarket } from './harness';

// The seeded market of lib/sim/market.ts plugs in as is (a compile-time check).
export const seededMarketFits: (market: Market) => SimMarket = (market) => market;

const SYMBOL = 'ESZ25_FUT_CME';
const ORDER_UPDATE = MessageType.ORDER_UPDATE;

describe('sim/dtc: Sierra Chart DTC simulator', function () {
  let market: ScriptedMarket;
  let sim: DtcSimulator;
  const clients: RawClient[] = [];
  let seq = 0;

  async function start(options: Partial<DtcSimulatorOptions> = {}): Promise<void> {
    sim = await startDtcSimulator({ market, symbol: SYMBOL, ...options });
  }
  async function client(logon = true, extra: Record<string, unknown> = {}): Promise<RawClient> {
    const c = await RawClient.tcp(sim.port);
    clients.push(c);
    await c.next(MessageType.ENCODING_RESPONSE);
    if (logon) assert.equal((await c.logon(extra)).Result, 1);
    return c;
  }
  function order(fields: Partial<SubmitNewSingleOrder> = {}): SubmitNewSingleOrder {
    return {
      Type: MessageType.SUBMIT_NEW_SINGLE_ORDER,
      Symbol: SYMBOL,
      TradeAccount: 'Sim1',
      ClientOrderID: `C${++seq}`,
      OrderType: OrderType.MARKET,
      BuySell: BuySell.BUY,
      Quantity: 1,
      TimeInForce: 1,
      ...fields,
    };
  }
  const byClient = (id: string | undefined) => (m: { ClientOrderID?: string }) => m.ClientOrderID === id;

  beforeEach(() => {
    market = new ScriptedMarket();
  });
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await sim?.close();
  });

  describe('framing and logon', () => {
    it('answers the exact binary ENCODING_REQUEST in binary, then speaks NUL-terminated JSON', async () => {
      await start();
      const c = await client(false);
      assert.deepEqual(c.all(MessageType.ENCODING_RESPONSE)[0], { Type: 7, ProtocolVersion: 8, Encoding: 2, ProtocolType: 'DTC' });
      const logon = await c.logon();
      assert.equal(logon.Result, 1);
      assert.equal(logon.TradingIsSupported, 1);
      assert.equal(logon.OCOOrdersSupported, 1);
    });

    it('reads a handshake and logon split into single bytes, or coalesced in one write', async () => {
      await start();
      const bytes = Buffer.concat([encodeEncodingRequest(), encodeMessage({ Type: 1, ProtocolVersion: 8, HeartbeatIntervalInSeconds: 5 })]);
      const split = await RawClient.tcp(sim.port, { handshake: false });
      const coalesced = await RawClient.tcp(sim.port, { handshake: false });
      clients.push(split, coalesced);
      for (const byte of bytes) split.sendRaw(Buffer.from([byte]));
      coalesced.sendRaw(bytes);
      // the harness decoder is not expecting binary: the 16 bytes of ENCODING_RESPONSE are skipped as garbage
      assert.equal((await split.next(MessageType.LOGON_RESPONSE)).Result, 1);
      assert.equal((await coalesced.next(MessageType.LOGON_RESPONSE)).Result, 1);
    });

    it('refuses bad credentials with Result 3 and a reason, then closes', async () => {
      await start({ requireAuthentication: { username: 'trader', password: 'secret' } });
      const c = await client(false);
      const response = await c.logon({ Username: 'trader', Password: 'wrong' });
      assert.equal(response.Result, 3);
      assert.match(response.ResultText ?? '', /username or password/);
      assert.ok(!(response.ResultText ?? '').includes('wrong'), 'the password is never echoed');
      await c.waitClosed();
      const ok = await client(false);
      assert.equal((await ok.logon({ Username: 'trader', Password: 'secret' })).Result, 1);
    });

    it('refuses a logon without HeartbeatIntervalInSeconds', async () => {
      await start();
      const c = await client(false);
      const response = await c.logon({ HeartbeatIntervalInSeconds: undefined });
      assert.equal(response.Result, 2);
      assert.match(response.ResultText ?? '', /HeartbeatIntervalInSeconds/);
      await c.waitClosed();
    });

    it('expects the handshake in automatic mode and skips it in fixed JSON mode', async () => {
      await start();
      const raw = await RawClient.tcp(sim.port, { handshake: false });
      clients.push(raw);
      raw.send({ Type: 1, ProtocolVersion: 8, HeartbeatIntervalInSeconds: 5 });
      await raw.waitClosed();
      await sim.close();
      await start({ encoding: 'json' });
      const json = await RawClient.tcp(sim.port, { handshake: false });
      clients.push(json);
      assert.equal((await json.logon()).Result, 1);
    });

    it('serves WebSocket on the same port with compact heartbeats and NUL-ended frames', async () => {
      await start({ heartbeatSec: 0.1 });
      const ws = await RawClient.ws(sim.port);
      clients.push(ws);
      assert.equal((await ws.logon()).Result, 1);
      const heartbeat = await ws.next(MessageType.HEARTBEAT);
      assert.equal(toEpochMs(heartbeat.CurrentDateTime), Math.floor(market.now() / 1000) * 1000);
      ws.send(order({ ClientOrderID: 'WS1' }));
      const fill = await ws.next(ORDER_UPDATE, (m) => m.OrderStatus === OrderStatus.FILLED);
      assert.equal(fill.ClientOrderID, 'WS1');
    });

    it('ignores garbage and unknown message types and keeps answering', async () => {
      await start();
      const c = await client();
      c.sendRaw('this is not json\0');
      c.send({ Type: 9999, Anything: 1 });
      c.send({ Type: MessageType.TRADE_ACCOUNTS_REQUEST, RequestID: 5 });
      const account = await c.next(MessageType.TRADE_ACCOUNT_RESPONSE);
      assert.deepEqual([account.RequestID, account.TradeAccount, account.TradingIsDisabled, account.TotalNumberMessages, account.MessageNumber], [5, 'Sim1', 0, 1, 1]);
    });
  });

  describe('heartbeats', () => {
    it('sends heartbeats and drops a client silent for about two of its intervals', async () => {
      await start();
      // Measured from before the logon left (the last thing the client says): whatever the machine's load delays,
      // the server cannot have heard from the client earlier, so a drop sooner than two intervals after it is a bug.
      const lastSpoke = Date.now();
      const c = await client(true, { HeartbeatIntervalInSeconds: 0.15 });
      await c.next(MessageType.HEARTBEAT);
      await c.waitClosed(10_000);
      assert.ok(Date.now() - lastSpoke >= 300, `dropped ${Date.now() - lastSpoke} ms after the client last spoke, before two 150 ms intervals`);
    });

    it('keeps a client that sends heartbeats, and stops its own on the fault', async () => {
      // The simulator's heartbeat and silence timers (and Date) are virtual, the socket real: the client's heartbeat
      // is known to be read once the answer to a request sent after it is back (one socket, answered in order).
      const clock = FakeTimers.install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: Date.UTC(2026, 2, 3, 15) });
      let rid = 100;
      const roundTrip = async (): Promise<void> => {
        const id = ++rid;
        c.send({ Type: MessageType.TRADE_ACCOUNTS_REQUEST, RequestID: id });
        const dropped = c.waitClosed(2 ** 31 - 1).then(() => {
          throw new Error('the simulator dropped the client');
        });
        await Promise.race([c.next(MessageType.TRADE_ACCOUNT_RESPONSE, (m) => m.RequestID === id), dropped]);
      };
      let c: RawClient;
      try {
        await start();
        c = await client(true, { HeartbeatIntervalInSeconds: 0.1 });
        // 6 × 150 ms (virtual): silent at most 150 ms at a time, under the two intervals (200 ms) it allows.
        for (let i = 0; i < 6; i++) {
          c.send({ Type: MessageType.HEARTBEAT });
          await roundTrip();
          await clock.tickAsync(150);
        }
        await roundTrip();
        assert.equal(c.closed, false);
        assert.ok(c.all(MessageType.HEARTBEAT).length >= 8, 'the simulator beat every 100 ms');
        sim.stopHeartbeats();
        await roundTrip(); // any heartbeat it sent before the fault has arrived
        const before = c.all(MessageType.HEARTBEAT).length;
        for (let i = 0; i < 4; i++) {
          c.send({ Type: MessageType.HEARTBEAT });
          await roundTrip();
          await clock.tickAsync(150);
        }
        await roundTrip();
        assert.equal(c.all(MessageType.HEARTBEAT).length, before, 'no heartbeat in 600 ms after the fault');
      } finally {
        clock.uninstall();
      }
    });

    it('sends LOGOFF with DoNotReconnect, then closes', async () => {
      await start();
      const c = await client();
      sim.logoffAll('Sierra Chart is shutting down', true);
      const logoff = await c.next(MessageType.LOGOFF);
      assert.equal(logoff.DoNotReconnect, 1);
      await c.waitClosed();
    });
  });

  describe('account data', () => {
    it('answers empty batches with the No* flags and echoes RequestID', async () => {
      await start();
      const c = await client();
      c.send({ Type: MessageType.OPEN_ORDERS_REQUEST, RequestID: 11, RequestAllOrders: 1, TradeAccount: 'Sim1' });
      c.send({ Type: MessageType.CURRENT_POSITIONS_REQUEST, RequestID: 12, TradeAccount: 'Sim1' });
      c.send({ Type: MessageType.HISTORICAL_ORDER_FILLS_REQUEST, RequestID: 13, TradeAccount: 'Sim1', NumberOfDays: 1 });
      c.send({ Type: MessageType.ACCOUNT_BALANCE_REQUEST, RequestID: 14, TradeAccount: 'Sim1' });
      const orders = await c.next(ORDER_UPDATE);
      assert.deepEqual([orders.RequestID, orders.NoOrders, orders.TotalNumMessages, orders.MessageNumber], [11, 1, 1, 1]);
      const positions = await c.next(MessageType.POSITION_UPDATE);
      assert.deepEqual([positions.RequestID, positions.NoPositions], [12, 1]);
      const fills = await c.next(MessageType.HISTORICAL_ORDER_FILL_RESPONSE);
      assert.deepEqual([fills.RequestID, fills.NoOrderFills], [13, 1]);
      const balance = await c.next(MessageType.ACCOUNT_BALANCE_UPDATE);
      assert.deepEqual([balance.RequestID, balance.CashBalance, balance.Unsolicited, balance.TotalNumberMessages], [14, 50_000, 0, 1]);
    });

    it('rejects historical fills without an account or without a period', async () => {
      await start();
      const c = await client();
      c.send({ Type: MessageType.HISTORICAL_ORDER_FILLS_REQUEST, RequestID: 1, NumberOfDays: 1 });
      c.send({ Type: MessageType.HISTORICAL_ORDER_FILLS_REQUEST, RequestID: 2, TradeAccount: 'Sim1', NumberOfDays: 0, StartDateTime: 0 });
      assert.equal((await c.next(MessageType.HISTORICAL_ORDER_FILLS_REJECT, (m) => m.RequestID === 1)).RequestID, 1);
      assert.match((await c.next(MessageType.HISTORICAL_ORDER_FILLS_REJECT, (m) => m.RequestID === 2)).RejectText ?? '', /NumberOfDays/);
    });

    it('never rejects a security definition; an unknown symbol has no description and no tick', async () => {
      await start({ displayPriceMultiplier: 0.01 });
      const c = await client();
      c.send({ Type: MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST, RequestID: 1, Symbol: SYMBOL });
      c.send({ Type: MessageType.SECURITY_DEFINITION_FOR_SYMBOL_REQUEST, RequestID: 2, Symbol: 'NOPE' });
      const es = await c.next(MessageType.SECURITY_DEFINITION_RESPONSE, (m) => m.RequestID === 1);
      assert.deepEqual([es.MinPriceIncrement, es.DisplayPriceMultiplier, es.CurrencyValuePerIncrement], [25, 0.01, 12.5]);
      const unknown = await c.next(MessageType.SECURITY_DEFINITION_RESPONSE, (m) => m.RequestID === 2);
      assert.deepEqual([unknown.Description, unknown.MinPriceIncrement], ['', 0]);
    });

    it('rejects market data for CME symbols', async () => {
      await start();
      const c = await client();
      c.send({ Type: MessageType.MARKET_DATA_REQUEST, RequestAction: 1, SymbolID: 7, Symbol: SYMBOL });
      const reject = await c.next(MessageType.MARKET_DATA_REJECT);
      assert.equal(reject.SymbolID, 7);
    });
  });

  describe('orders', () => {
    it('accepts then fills a market order at the touch, with position and balance updates after the fill', async () => {
      await start();
      const c = await client();
      market.quote(4000, 4000.25);
      c.send(order({ ClientOrderID: 'M1', Quantity: 2 }));
      const accepted = await c.next(ORDER_UPDATE, byClient('M1'));
      assert.deepEqual([accepted.OrderUpdateReason, accepted.OrderStatus, accepted.RequestID, accepted.TotalNumMessages], [2, 4, 0, 1]);
      assert.equal(accepted.Price1, DBL_MAX, 'a market order has no price: DBL_MAX sentinel');
      assert.equal(readPrice(accepted.AverageFillPrice), null);
      const filled = await c.next(ORDER_UPDATE, byClient('M1'));
      assert.deepEqual([filled.OrderUpdateReason, filled.OrderStatus, filled.FilledQuantity, filled.RemainingQuantity], [4, 7, 2, 0]);
      assert.equal(filled.AverageFillPrice, 4000.25);
      assert.equal(toEpochMs(filled.LastFillDateTime), market.now());
      const kinds = c.history.slice(-3).map((m) => m.Type);
      assert.deepEqual(kinds, [ORDER_UPDATE, MessageType.POSITION_UPDATE, MessageType.ACCOUNT_BALANCE_UPDATE]);
      const position = c.all(MessageType.POSITION_UPDATE)[0];
      assert.deepEqual([position.Quantity, position.AveragePrice, position.Unsolicited, position.RequestID], [2, 4000.25, 1, 0]);
    });

    it('fills a limit in parts as trades go through it, and books $50 a point', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'L1', OrderType: OrderType.LIMIT, Price1: 3999, Quantity: 3 }));
      await c.next(ORDER_UPDATE, byClient('L1'));
      market.trade(3999, 50); // at the limit: not through, no fill
      market.trade(3998.75, 2, 'sell');
      const partial = await c.next(ORDER_UPDATE, byClient('L1'));
      assert.deepEqual([partial.OrderUpdateReason, partial.OrderStatus, partial.LastFillQuantity, partial.LastFillPrice, partial.RemainingQuantity], [5, 10, 2, 3999, 1]);
      market.trade(3998.5, 5, 'sell');
      const full = await c.next(ORDER_UPDATE, byClient('L1'));
      assert.deepEqual([full.OrderUpdateReason, full.OrderStatus, full.FilledQuantity], [4, 7, 3]);
      market.quote(4001, 4001.25);
      c.send(order({ ClientOrderID: 'L2', BuySell: BuySell.SELL, Quantity: 3 }));
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'L2' && m.OrderStatus === OrderStatus.FILLED);
      const balance = await c.next(MessageType.ACCOUNT_BALANCE_UPDATE, (m) => m.CashBalance !== 50_000);
      assert.equal(balance.CashBalance, 50_000 + 3 * 2 * 50);
      assert.equal(balance.DailyProfitLoss, 300);
      assert.equal(sim.positions()[0].quantity, 0);
    });

    it('triggers a stop when the trade reaches it', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'S1', OrderType: OrderType.STOP, BuySell: BuySell.SELL, Price1: 3995 }));
      await c.next(ORDER_UPDATE, byClient('S1'));
      market.trade(3996, 1, 'sell');
      market.trade(3995, 1, 'sell');
      const filled = await c.next(ORDER_UPDATE, byClient('S1'));
      assert.deepEqual([filled.OrderStatus, filled.AverageFillPrice], [7, 3995]);
    });

    it('cancels through PENDING_CANCEL, and refuses to cancel twice or an unknown id', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'X1', OrderType: OrderType.LIMIT, Price1: 3990 }));
      const accepted = await c.next(ORDER_UPDATE, byClient('X1'));
      c.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: accepted.ServerOrderID, ClientOrderID: 'X1', TradeAccount: 'Sim1' });
      const pending = await c.next(ORDER_UPDATE, byClient('X1'));
      assert.deepEqual([pending.OrderUpdateReason, pending.OrderStatus], [3, 6]);
      const canceled = await c.next(ORDER_UPDATE, byClient('X1'));
      assert.deepEqual([canceled.OrderUpdateReason, canceled.OrderStatus], [6, 8]);
      c.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: accepted.ServerOrderID, ClientOrderID: 'X1', TradeAccount: 'Sim1' });
      const again = await c.next(ORDER_UPDATE, byClient('X1'));
      assert.deepEqual([again.OrderUpdateReason, again.OrderStatus, again.ServerOrderID], [9, 8, accepted.ServerOrderID]);
      c.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: '424242', ClientOrderID: 'nope', TradeAccount: 'Sim1' });
      const unknown = await c.next(ORDER_UPDATE, byClient('nope'));
      assert.deepEqual([unknown.OrderUpdateReason, unknown.OrderStatus, unknown.ServerOrderID], [9, 9, '']);
    });

    it('modifies with a new ServerOrderID and reports the old one', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'R1', OrderType: OrderType.LIMIT, Price1: 3990, Quantity: 2 }));
      const accepted = await c.next(ORDER_UPDATE, byClient('R1'));
      c.send({ Type: MessageType.CANCEL_REPLACE_ORDER, ServerOrderID: accepted.ServerOrderID, ClientOrderID: 'R1', Price1: 3991, Price1IsSet: 1, Price2IsSet: 0, Quantity: 0, TradeAccount: 'Sim1' });
      const pending = await c.next(ORDER_UPDATE, byClient('R1'));
      assert.equal(pending.OrderStatus, OrderStatus.PENDING_CANCEL_REPLACE);
      const replaced = await c.next(ORDER_UPDATE, byClient('R1'));
      assert.equal(replaced.OrderUpdateReason, OrderUpdateReason.ORDER_CANCEL_REPLACE_COMPLETE);
      assert.notEqual(replaced.ServerOrderID, accepted.ServerOrderID);
      assert.equal(replaced.PreviousServerOrderID, accepted.ServerOrderID);
      assert.deepEqual([replaced.Price1, replaced.OrderQuantity, replaced.OrderStatus], [3991, 2, 4]);
      c.send({ Type: MessageType.CANCEL_REPLACE_ORDER, ServerOrderID: accepted.ServerOrderID, ClientOrderID: 'R1', Price1: 3992, TradeAccount: 'Sim1' });
      const stale = await c.next(ORDER_UPDATE, byClient('R1'));
      assert.deepEqual([stale.OrderUpdateReason, stale.OrderStatus, stale.ServerOrderID], [10, 9, '']);
    });

    for (const [what, fields, text] of [
      ['a duplicate ClientOrderID', { ClientOrderID: 'DUP' }, /Duplicate/],
      ['an unknown symbol', { Symbol: 'NQZ25_FUT_CME' }, /Unknown symbol/],
      ['a zero quantity', { Quantity: 0 }, /quantity/],
      ['a negative quantity', { Quantity: -1 }, /quantity/],
      ['another account', { TradeAccount: 'Sim2' }, /account/],
    ] as const) {
      it(`rejects ${what} with reason 8, status 9 and the reason in InfoText`, async () => {
        await start();
        const c = await client();
        if (what === 'a duplicate ClientOrderID') {
          c.send(order({ ClientOrderID: 'DUP', OrderType: OrderType.LIMIT, Price1: 3900 }));
          await c.next(ORDER_UPDATE, (m) => m.OrderStatus === OrderStatus.OPEN);
        }
        c.send(order({ ClientOrderID: 'REJ', ...fields }));
        const reject = await c.next(ORDER_UPDATE, (m) => m.OrderStatus === OrderStatus.REJECTED);
        assert.deepEqual([reject.OrderUpdateReason, reject.OrderStatus], [8, 9]);
        assert.match(reject.InfoText ?? '', text);
        assert.equal(sim.orders().filter((o) => o.status === OrderStatus.OPEN).length, what === 'a duplicate ClientOrderID' ? 1 : 0);
      });
    }

    it('rejects orders when Allow Trading is off, or ignores them if so configured', async () => {
      await start({ allowTrading: false });
      const c = await client(false);
      assert.equal((await c.logon()).TradingIsSupported, 0);
      c.send(order({ ClientOrderID: 'OFF' }));
      const reject = await c.next(ORDER_UPDATE, byClient('OFF'));
      assert.deepEqual([reject.OrderUpdateReason, reject.OrderStatus], [8, 9]);
      assert.match(reject.InfoText ?? '', /Allow Trading/);
      await sim.close();
      await start({ allowTrading: false, tradingDisabledBehaviour: 'ignore' });
      const quiet = await client();
      quiet.send(order({ ClientOrderID: 'OFF2' }));
      await assert.rejects(quiet.next(ORDER_UPDATE, byClient('OFF2'), 300));
      sim.setTradingAllowed(true);
      quiet.send(order({ ClientOrderID: 'ON' }));
      assert.equal((await quiet.next(ORDER_UPDATE, byClient('ON'))).OrderStatus, OrderStatus.OPEN);
    });

    it('flattens the position with a market order, and rejects a flatten when flat', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'F0', BuySell: BuySell.SELL, Quantity: 2 }));
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'F0' && m.OrderStatus === OrderStatus.FILLED);
      c.send({ Type: MessageType.SUBMIT_FLATTEN_POSITION_ORDER, Symbol: SYMBOL, TradeAccount: 'Sim1', ClientOrderID: 'F1' });
      const flat = await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'F1' && m.OrderStatus === OrderStatus.FILLED);
      assert.deepEqual([flat.BuySell, flat.FilledQuantity], [BuySell.BUY, 2]);
      assert.equal((await c.next(MessageType.POSITION_UPDATE, (m) => m.Quantity === 0)).Quantity, 0);
      c.send({ Type: MessageType.SUBMIT_FLATTEN_POSITION_ORDER, Symbol: SYMBOL, TradeAccount: 'Sim1', ClientOrderID: 'F2' });
      assert.equal((await c.next(ORDER_UPDATE, byClient('F2'))).OrderStatus, OrderStatus.REJECTED);
    });

    it('scales prices both ways with DisplayPriceMultiplier 0.01', async () => {
      await start({ displayPriceMultiplier: 0.01 });
      const c = await client();
      c.send(order({ ClientOrderID: 'P1', OrderType: OrderType.LIMIT, Price1: 399900 }));
      await c.next(ORDER_UPDATE, byClient('P1'));
      assert.equal(sim.orders()[0].price1, 3999);
      market.trade(3998.5, 5, 'sell');
      const filled = await c.next(ORDER_UPDATE, byClient('P1'));
      assert.equal(filled.AverageFillPrice, 399900);
      c.send(order({ ClientOrderID: 'P2' }));
      const market2 = await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'P2' && m.OrderStatus === OrderStatus.FILLED);
      assert.equal(market2.AverageFillPrice, 399875);
    });
  });

  describe('brackets and OCO', () => {
    function bracket(c: RawClient, parentId: string, parent: Partial<SubmitNewSingleOrder> = {}): void {
      c.send(order({ ClientOrderID: parentId, OrderType: OrderType.LIMIT, Price1: 3999, Quantity: 3, IsParentOrder: 1, ...parent }));
      c.send({
        Type: MessageType.SUBMIT_NEW_OCO_ORDER,
        Symbol: SYMBOL,
        TradeAccount: 'Sim1',
        ClientOrderID_1: `${parentId}-T`,
        OrderType_1: OrderType.LIMIT,
        BuySell_1: BuySell.SELL,
        Price1_1: 4005,
        Quantity_1: 3,
        ClientOrderID_2: `${parentId}-S`,
        OrderType_2: OrderType.STOP,
        BuySell_2: BuySell.SELL,
        Price1_2: 3995,
        Quantity_2: 3,
        ParentTriggerClientOrderID: parentId,
        PartialFillHandling: 1,
      });
    }

    it('accepts parent and children together; children wait in PENDING_CHILD until the parent fills', async () => {
      await start();
      const c = await client();
      bracket(c, 'B1');
      const parent = await c.next(ORDER_UPDATE, byClient('B1'));
      const target = await c.next(ORDER_UPDATE, byClient('B1-T'));
      const stop = await c.next(ORDER_UPDATE, byClient('B1-S'));
      assert.deepEqual([parent.OrderStatus, target.OrderStatus, stop.OrderStatus], [4, 3, 3]);
      assert.equal(target.ParentServerOrderID, parent.ServerOrderID);
      assert.equal(target.OCOLinkedOrderServerOrderID, stop.ServerOrderID);
      market.trade(3998.75, 1, 'sell'); // parent fills 1 of 3: children sized to 1
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B1' && m.OrderStatus === OrderStatus.PARTIALLY_FILLED);
      const sized = await c.next(ORDER_UPDATE, byClient('B1-T'));
      assert.deepEqual([sized.OrderStatus, sized.OrderQuantity], [4, 1]);
      market.trade(3998.75, 10, 'sell');
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B1' && m.OrderStatus === OrderStatus.FILLED);
      assert.equal((await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B1-S' && m.OrderQuantity === 3)).OrderStatus, 4);
      market.trade(4005.25, 10);
      assert.equal((await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B1-T' && m.OrderStatus === OrderStatus.FILLED)).FilledQuantity, 3);
      const stopCanceled = await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B1-S' && m.OrderStatus === OrderStatus.CANCELED);
      assert.equal(stopCanceled.OrderUpdateReason, 6);
      assert.equal(sim.positions()[0].quantity, 0);
      assert.equal(sim.balance().cashBalance, 50_000 + 3 * 6 * 50);
    });

    it('rejects all three when one leg is invalid', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'USED', OrderType: OrderType.LIMIT, Price1: 3900 }));
      await c.next(ORDER_UPDATE, byClient('USED'));
      c.send(order({ ClientOrderID: 'B2', OrderType: OrderType.LIMIT, Price1: 3999, IsParentOrder: 1 }));
      c.send({ Type: MessageType.SUBMIT_NEW_OCO_ORDER, Symbol: SYMBOL, TradeAccount: 'Sim1', ClientOrderID_1: 'USED', OrderType_1: 2, BuySell_1: 2, Price1_1: 4005, Quantity_1: 1, ClientOrderID_2: 'B2-S', OrderType_2: 3, BuySell_2: 2, Price1_2: 3995, Quantity_2: 1, ParentTriggerClientOrderID: 'B2' });
      const rejects = [await c.next(ORDER_UPDATE, byClient('B2')), await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'USED' && m.OrderStatus === 9), await c.next(ORDER_UPDATE, byClient('B2-S'))];
      assert.deepEqual(rejects.map((m) => [m.OrderUpdateReason, m.OrderStatus]), [[8, 9], [8, 9], [8, 9]]);
      assert.equal(sim.orders().length, 1);
    });

    it('rejects a parent order not immediately followed by its OCO', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'B3', OrderType: OrderType.LIMIT, Price1: 3999, IsParentOrder: 1 }));
      c.send({ Type: MessageType.ACCOUNT_BALANCE_REQUEST, RequestID: 1, TradeAccount: 'Sim1' });
      const reject = await c.next(ORDER_UPDATE, byClient('B3'));
      assert.deepEqual([reject.OrderUpdateReason, reject.OrderStatus], [8, 9]);
      await c.next(MessageType.ACCOUNT_BALANCE_UPDATE, (m) => m.RequestID === 1);
    });

    it('cancels the pending children with the parent', async () => {
      await start();
      const c = await client();
      bracket(c, 'B4');
      const parent = await c.next(ORDER_UPDATE, byClient('B4'));
      c.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: parent.ServerOrderID, TradeAccount: 'Sim1' });
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B4-T' && m.OrderStatus === OrderStatus.CANCELED);
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'B4-S' && m.OrderStatus === OrderStatus.CANCELED);
      assert.equal(sim.orders().filter((o) => o.status !== OrderStatus.CANCELED).length, 0);
    });

    it('in a plain OCO, a partial fill reduces the other leg and cancelling one cancels the other', async () => {
      await start();
      const c = await client();
      c.send({ Type: MessageType.SUBMIT_NEW_OCO_ORDER, Symbol: SYMBOL, TradeAccount: 'Sim1', ClientOrderID_1: 'O-A', OrderType_1: 2, BuySell_1: 1, Price1_1: 3990, Quantity_1: 4, ClientOrderID_2: 'O-B', OrderType_2: 3, BuySell_2: 1, Price1_2: 4010, Quantity_2: 4, PartialFillHandling: 1 });
      const a = await c.next(ORDER_UPDATE, byClient('O-A'));
      await c.next(ORDER_UPDATE, byClient('O-B'));
      market.trade(3989.75, 1, 'sell');
      const reduced = await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'O-B' && m.OrderQuantity === 3);
      assert.equal(reduced.OrderStatus, OrderStatus.OPEN);
      c.send({ Type: MessageType.CANCEL_ORDER, ServerOrderID: a.ServerOrderID, TradeAccount: 'Sim1' });
      await c.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'O-B' && m.OrderStatus === OrderStatus.CANCELED);
    });
  });

  describe('reconnect and faults', () => {
    it('keeps orders and positions across a dropped connection and reports fills made while away', async () => {
      await start();
      const c = await client();
      c.send(order({ ClientOrderID: 'A1', OrderType: OrderType.LIMIT, Price1: 3990 }));
      c.send(order({ ClientOrderID: 'A2', OrderType: OrderType.LIMIT, Price1: 3980 }));
      await c.next(ORDER_UPDATE, byClient('A2'));
      sim.dropConnections();
      await c.waitClosed();
      market.trade(3989, 5, 'sell'); // A1 fills while nobody listens
      const back = await client();
      back.send({ Type: MessageType.OPEN_ORDERS_REQUEST, RequestID: 1, RequestAllOrders: 1, TradeAccount: 'Sim1' });
      const open = await back.next(ORDER_UPDATE, (m) => m.RequestID === 1);
      assert.deepEqual([open.ClientOrderID, open.OrderUpdateReason, open.TotalNumMessages, open.MessageNumber], ['A2', 1, 1, 1]);
      back.send({ Type: MessageType.HISTORICAL_ORDER_FILLS_REQUEST, RequestID: 2, TradeAccount: 'Sim1', NumberOfDays: 1 });
      const fill = await back.next(MessageType.HISTORICAL_ORDER_FILL_RESPONSE, (m) => m.RequestID === 2);
      assert.deepEqual([fill.Price, fill.Quantity, fill.BuySell, fill.TotalNumberMessages], [3990, 1, 1, 1]);
      back.send({ Type: MessageType.CURRENT_POSITIONS_REQUEST, RequestID: 3, TradeAccount: 'Sim1' });
      assert.equal((await back.next(MessageType.POSITION_UPDATE, (m) => m.RequestID === 3)).Quantity, 1);
      back.send(order({ ClientOrderID: 'A1' }));
      assert.match((await back.next(ORDER_UPDATE, (m) => m.ClientOrderID === 'A1' && m.OrderStatus === 9)).InfoText ?? '', /Duplicate/);
    });

    it('processes a message whose answer is lost, so a retry finds the order already there', async () => {
      await start();
      const c = await client();
      sim.loseNextAnswer((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER);
      c.send(order({ ClientOrderID: 'LOST', OrderType: OrderType.LIMIT, Price1: 3990 }));
      await assert.rejects(c.next(ORDER_UPDATE, byClient('LOST'), 200));
      c.send({ Type: MessageType.OPEN_ORDERS_REQUEST, RequestID: 9, RequestAllOrders: 1, TradeAccount: 'Sim1' });
      assert.equal((await c.next(ORDER_UPDATE, (m) => m.RequestID === 9)).ClientOrderID, 'LOST');
    });

    it('delays answers in order', async () => {
      await start();
      const c = await client();
      sim.delayAnswers(150);
      const sent = Date.now();
      c.send({ Type: MessageType.TRADE_ACCOUNTS_REQUEST, RequestID: 1 });
      c.send({ Type: MessageType.ACCOUNT_BALANCE_REQUEST, RequestID: 2, TradeAccount: 'Sim1' });
      await c.next(MessageType.ACCOUNT_BALANCE_UPDATE);
      assert.ok(Date.now() - sent >= 140);
      const order2 = c.history.slice(-2).map((m) => m.Type);
      assert.deepEqual(order2, [MessageType.TRADE_ACCOUNT_RESPONSE, MessageType.ACCOUNT_BALANCE_UPDATE]);
    });
  });
});
