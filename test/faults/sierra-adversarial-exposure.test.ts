// Adversarial (issue 11): max position judged by the BROKER, not by the risk engine. sierra-order runs in the Node-RED
// runtime against a loopback DTC broker (this file) that keeps its own book of every order that reached it: entries,
// bracket parents and their OCO exits (armed only as the parent fills), fills, modifies, cancels, flatten. Generated
// sequences of trader messages (orders, signals, modifies, cancels, flatten, kill, resume) interleaved with broker
// events (fills, duplicated and stale order updates) must never leave the broker's worst-case exposure beyond max
// position, never send a ClientOrderID twice, never send a new order or a larger quantity while HALTED.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import type { SierraConnection } from '../../lib/sierra/connection';
import { MessageType, OrderStatus, OrderUpdateReason } from '../../lib/sierra/protocol';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { useHostileDtcRuntime, type Raw } from '../security/support/hostile-dtc';
import { sleep, until } from './support';
import { testTimeLeft } from '../support/budget';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const completeNode = require('@node-red/nodes/core/common/24-complete.js');

helper.init(require.resolve('node-red'));

type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void };

const SEED = Number(process.env.ADV_SEED ?? 1109);
const RUNS = Number(process.env.ADV_RUNS ?? 25);
const MAX_POSITION = 2;

interface BrokerOrder {
  sid: string;
  cid: string;
  side: 1 | 2;
  qty: number;
  filled: number;
  parent: BrokerOrder | null;
  peer: BrokerOrder | null;
  done: boolean;
  type: number;
}

/** The broker: its book is the truth the assertions judge by. */
class Broker {
  readonly orders: BrokerOrder[] = [];
  position = 0;
  seq = 5000;
  exec = 0;
  readonly sent: Raw[] = [];
  /** Modifies that reached the broker asking for a larger quantity. */
  enlargements = 0;
  constructor(private readonly symbol: () => string) {}

  private update(o: BrokerOrder, status: number, reason: number, extra: Record<string, unknown> = {}): Raw {
    const u: Raw = { Type: MessageType.ORDER_UPDATE, RequestID: 0, TotalNumMessages: 1, MessageNumber: 1, TradeAccount: 'Sim1', Symbol: this.symbol(), ClientOrderID: o.cid, ServerOrderID: o.sid, OrderStatus: status, OrderUpdateReason: reason, BuySell: o.side, OrderType: o.type, OrderQuantity: o.qty, FilledQuantity: o.filled, ...(o.parent ? { ParentServerOrderID: o.parent.sid } : {}), ...extra };
    this.sent.push(u);
    return u;
  }

  private statusOf(o: BrokerOrder): number {
    if (o.done) return o.filled >= o.qty ? OrderStatus.FILLED : OrderStatus.CANCELED;
    if (o.parent && o.parent.filled === 0) return OrderStatus.PENDING_CHILD;
    return o.filled > 0 ? OrderStatus.PARTIALLY_FILLED : OrderStatus.OPEN;
  }

  private find(m: Raw): BrokerOrder | undefined {
    return this.orders.find((o) => o.sid === m.ServerOrderID) ?? this.orders.find((o) => o.cid === m.ClientOrderID);
  }

  private cancel(o: BrokerOrder, out: Raw[]): void {
    if (o.done) return;
    o.done = true;
    o.qty = Math.max(o.filled, 0) || o.qty;
    out.push(this.update(o, OrderStatus.CANCELED, OrderUpdateReason.ORDER_CANCELED, { OrderQuantity: o.qty }));
  }

  onOrder(m: Raw): Raw[] {
    const out: Raw[] = [];
    switch (m.Type) {
      case MessageType.SUBMIT_NEW_SINGLE_ORDER: {
        const o: BrokerOrder = { sid: `S${++this.seq}`, cid: String(m.ClientOrderID), side: m.BuySell as 1 | 2, qty: Number(m.Quantity), filled: 0, parent: null, peer: null, done: false, type: Number(m.OrderType) };
        this.orders.push(o);
        out.push(this.update(o, OrderStatus.OPEN, OrderUpdateReason.NEW_ORDER_ACCEPTED));
        break;
      }
      case MessageType.SUBMIT_NEW_OCO_ORDER: {
        const parent = this.orders.find((o) => o.cid === m.ParentTriggerClientOrderID) ?? null;
        const legs = [1, 2].map((l): BrokerOrder => ({ sid: `S${++this.seq}`, cid: String(m[`ClientOrderID_${l}`]), side: m[`BuySell_${l}`] as 1 | 2, qty: Number(m[`Quantity_${l}`]), filled: 0, parent, peer: null, done: false, type: Number(m[`OrderType_${l}`]) }));
        legs[0].peer = legs[1];
        legs[1].peer = legs[0];
        this.orders.push(...legs);
        for (const l of legs) out.push(this.update(l, this.statusOf(l), OrderUpdateReason.NEW_ORDER_ACCEPTED));
        break;
      }
      case MessageType.CANCEL_ORDER: {
        const o = this.find(m);
        if (!o || o.done) {
          out.push({ Type: MessageType.ORDER_UPDATE, RequestID: 0, TradeAccount: 'Sim1', ClientOrderID: m.ClientOrderID, ServerOrderID: m.ServerOrderID, OrderStatus: o ? this.statusOf(o) : OrderStatus.REJECTED, OrderUpdateReason: OrderUpdateReason.ORDER_CANCEL_REJECTED, InfoText: 'not working' });
          break;
        }
        this.cancel(o, out);
        for (const c of this.orders) if (c.parent === o) this.cancel(c, out);
        if (o.peer) this.cancel(o.peer, out);
        break;
      }
      case MessageType.CANCEL_REPLACE_ORDER: {
        const o = this.find(m);
        const q = Number(m.Quantity ?? 0);
        if (!o || o.done || (q > 0 && q <= o.filled)) {
          out.push({ Type: MessageType.ORDER_UPDATE, RequestID: 0, TradeAccount: 'Sim1', ClientOrderID: m.ClientOrderID, ServerOrderID: m.ServerOrderID, OrderStatus: o ? this.statusOf(o) : OrderStatus.REJECTED, OrderUpdateReason: OrderUpdateReason.ORDER_CANCEL_REPLACE_REJECTED, InfoText: 'cannot modify' });
          break;
        }
        if (q > o.qty) this.enlargements++;
        if (q > 0) o.qty = q;
        out.push(this.update(o, this.statusOf(o), OrderUpdateReason.ORDER_CANCEL_REPLACE_COMPLETE));
        break;
      }
      case MessageType.SUBMIT_FLATTEN_POSITION_ORDER: {
        const qty = Math.abs(this.position);
        const o: BrokerOrder = { sid: `S${++this.seq}`, cid: String(m.ClientOrderID), side: this.position > 0 ? 2 : 1, qty: Math.max(qty, 1), filled: 0, parent: null, peer: null, done: false, type: 1 };
        this.orders.push(o);
        out.push(this.update(o, OrderStatus.OPEN, OrderUpdateReason.NEW_ORDER_ACCEPTED));
        if (qty > 0) out.push(...this.fill(o, qty));
        else this.cancel(o, out);
        break;
      }
      default:
        break;
    }
    return out;
  }

  /** How much of `o` can fill now (an exit: only what its parent filled, less what its OCO pair filled). */
  fillable(o: BrokerOrder): number {
    if (o.done) return 0;
    if (!o.parent) return o.qty - o.filled;
    const pairFilled = o.filled + (o.peer?.filled ?? 0);
    return Math.max(0, Math.min(o.qty - o.filled, o.parent.filled - pairFilled));
  }

  fill(o: BrokerOrder, q: number): Raw[] {
    const out: Raw[] = [];
    o.filled += q;
    this.position += o.side === 1 ? q : -q;
    if (o.filled >= o.qty) o.done = true;
    const execId = `X${++this.exec}`;
    out.push(this.update(o, o.done ? OrderStatus.FILLED : OrderStatus.PARTIALLY_FILLED, o.done ? OrderUpdateReason.ORDER_FILLED : OrderUpdateReason.ORDER_FILLED_PARTIALLY, { LastFillQuantity: q, LastFillPrice: 5000, AverageFillPrice: 5000, LastFillExecutionID: execId }));
    // Children of a parent that filled are armed (working); the OCO peer of a filled exit shrinks.
    for (const c of this.orders) if (c.parent === o && !c.done) out.push(this.update(c, OrderStatus.OPEN, OrderUpdateReason.GENERAL_ORDER_UPDATE));
    if (o.parent && o.peer && !o.peer.done && this.fillable(o.peer) === 0 && o.peer.filled + o.filled >= o.parent.filled && o.parent.done) this.cancel(o.peer, out);
    out.push({ Type: MessageType.POSITION_UPDATE, RequestID: 0, TotalNumberMessages: 1, MessageNumber: 1, TradeAccount: 'Sim1', Symbol: this.symbol(), Quantity: this.position, AveragePrice: 5000, Unsolicited: 1 });
    return out;
  }

  /** Worst case both ways, from the broker's book. */
  exposure(): { long: number; short: number } {
    let long = this.position;
    let short = -this.position;
    const pairs = new Set<BrokerOrder>();
    for (const o of this.orders) {
      if (o.done) continue;
      if (!o.parent) {
        if (o.side === 1) long += o.qty - o.filled;
        else short += o.qty - o.filled;
        continue;
      }
      if (o.peer && pairs.has(o.peer)) continue;
      pairs.add(o);
      // An exit can fill what its parent filled (now) plus what the parent may still fill (then it is armed).
      const armed = Math.max(this.fillable(o), o.peer ? this.fillable(o.peer) : 0);
      // A parent's future fill and its exit's fill cancel out; only the armed part is beyond the position now.
      if (o.side === 1) long += armed;
      else short += armed;
    }
    return { long, short };
  }
}

const side = fc.constantFrom('buy', 'sell');
const trader = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('order' as const), action: side, quantity: fc.integer({ min: 1, max: 2 }), type: fc.constantFrom('market', 'limit'), bracket: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('signal' as const), signal: fc.constantFrom('LONG', 'SHORT') }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('modify' as const), pick: fc.nat(), quantity: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }), move: fc.integer({ min: -4, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'cancel-all' as const }, { kind: 'flatten' as const }, { kind: 'kill' as const }, { kind: 'resume' as const }, { kind: 'reducing' as const }) },
);
const broker = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('fill' as const), pick: fc.nat(), all: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
  // A modify racing a fill: the trader enlarges an order in the same instant the broker fills it.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('modify-fill' as const), pick: fc.nat(), quantity: fc.integer({ min: 1, max: 4 }) }) },
);
const step = fc.oneof({ weight: 3, arbitrary: trader }, { weight: 2, arbitrary: broker });

describe('adversarial: max position judged by the broker\'s own book (sierra-order, Node-RED runtime)', function () {
  this.timeout(300_000);
  const runtime = useHostileDtcRuntime();

  it(`never beyond max position at the broker, no id twice, nothing new while HALTED (${RUNS} generated sessions)`, async () => {
    const tally = { sessions: 0, steps: 0, ordersAtBroker: 0, fills: 0, modifiesAtBroker: 0, maxLong: 0, maxShort: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 30 }), async (steps) => {
        tally.sessions++;
        await helper.unload();
        require('../../lib/trading/accounts').resetAccountsForTest();
        const ref: { connection?: SierraConnection } = {};
        const b = new Broker(() => ref.connection?.symbol ?? '');
        const s = await runtime.startDtc({ onOrder: (m) => b.onOrder(m) });
        await helper.load([configModule, orderModule, catchNode, completeNode], [
          { id: 'tab', type: 'tab', label: 'adv' },
          {
            id: 'cfg', type: 'sierra-config', mode: 'sierra', host: '127.0.0.1', port: s.port, handshake: false, root: 'ES', symbolFormat: 'sierra-cme', heartbeatSec: 2,
            tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 1000, maxConsecutiveLosses: 1000, dailyLossLimit: 1_000_000,
            maxOrderSize: 2, maxPosition: Number(process.env.ADV_MUTANT_MAXPOS ?? MAX_POSITION), maxOrdersPerMinute: 0, collarTicks: 0,
          },
          { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'market', target: '1', staleAfterSec: 0, wires: [[], [], [], []] },
          { id: 'catcher', type: 'catch', z: 'tab', scope: ['order'], uncaught: false, wires: [['handled']] },
          { id: 'done', type: 'complete', z: 'tab', scope: ['order'], uncaught: false, wires: [['handled']] },
          { id: 'handled', type: 'helper', z: 'tab' },
        ] as never);
        const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
        ref.connection = connection;
        await connection.whenReady(10_000);
        const node = helper.getNode('order') as TestNode;
        // Every input the node is done with (sent and answered, refused, or failed) is counted: a step's orders are
        // at the broker before the step is judged, not in a later step's window.
        let given = 0;
        let handled = 0;
        (helper.getNode('handled') as unknown as { on(e: string, f: () => void): void }).on('input', () => handled++);
        const order = {
          receive: (msg: object): void => {
            given++;
            node.receive(msg);
          },
        };
        let halted = false;
        for (const st of steps) {
          tally.steps++;
          const before = s.received.length;
          const enlargedBefore: number = b.enlargements;
          switch (st.kind) {
            case 'order': {
              const p: Record<string, unknown> = { action: st.action, quantity: st.quantity, type: st.type };
              const sign = st.action === 'buy' ? 1 : -1;
              if (st.type === 'limit') p.price = 5000 - sign;
              if (st.bracket) p.bracket = { stop: 5000 - sign * 10, targets: [5000 + sign * 10] };
              order.receive({ topic: 'order', payload: p });
              break;
            }
            case 'signal':
              order.receive({ topic: 'signal', payload: st.signal === 'LONG' ? { signal: 'LONG', entry: 5000, stop: 4990, targets: [5010, 5020] } : { signal: 'SHORT', entry: 5000, stop: 5010, targets: [4990, 4980] } });
              break;
            case 'modify': {
              const live = b.orders.filter((o) => !o.done);
              if (live.length === 0) break;
              const o = live[st.pick % live.length];
              const p: Record<string, unknown> = { action: 'modify', clientOrderId: o.cid };
              if (st.quantity !== undefined) p.quantity = st.quantity;
              else if (o.type === 2) p.price = 5000 + st.move;
              else p.quantity = o.qty + 1;
              order.receive({ topic: 'order', payload: p });
              break;
            }
            case 'cancel': {
              const live = b.orders.filter((o) => !o.done);
              if (live.length) order.receive({ topic: 'order', payload: { action: 'cancel', clientOrderId: live[st.pick % live.length].cid } });
              break;
            }
            case 'cancel-all':
            case 'flatten':
              order.receive({ topic: 'order', payload: { action: st.kind } });
              break;
            case 'kill':
              halted = true;
              order.receive({ topic: 'kill' });
              break;
            case 'resume':
              halted = false;
              order.receive({ topic: 'resume' });
              break;
            case 'reducing':
              order.receive({ topic: 'kill-switch', payload: 'REDUCING' });
              break;
            case 'fill': {
              const live = b.orders.filter((o) => b.fillable(o) > 0);
              if (live.length === 0) break;
              const o = live[st.pick % live.length];
              tally.fills++;
              s.push(...b.fill(o, st.all ? b.fillable(o) : 1));
              break;
            }
            case 'modify-fill': {
              const live = b.orders.filter((o) => b.fillable(o) > 0);
              if (live.length === 0) break;
              const o = live[st.pick % live.length];
              order.receive({ topic: 'order', payload: { action: 'modify', clientOrderId: o.cid, quantity: st.quantity } });
              tally.fills++;
              s.push(...b.fill(o, 1));
              break;
            }
            case 'replay':
              // A duplicated or stale ORDER_UPDATE from earlier in the session.
              if (b.sent.length) s.push(b.sent[st.pick % b.sent.length]);
              break;
          }
          await until(() => handled === given, testTimeLeft(), `the order node done with step ${JSON.stringify(st)}`);
          await sleep(15); // what the connection does on the server's own messages (fills, replays)
          const left = s.received.slice(before);
          for (const m of left) {
            if (m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER || m.Type === MessageType.SUBMIT_NEW_OCO_ORDER) tally.ordersAtBroker++;
            if (m.Type === MessageType.CANCEL_REPLACE_ORDER) tally.modifiesAtBroker++;
          }
          if (halted && st.kind !== 'kill') {
            const entries = left.filter((m) => m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER || m.Type === MessageType.SUBMIT_NEW_OCO_ORDER);
            assert.deepEqual(entries, [], `no new order while HALTED (step ${JSON.stringify(st)})`);
            assert.equal(b.enlargements, enlargedBefore, 'no larger quantity while HALTED');
          }
          const e = b.exposure();
          tally.maxLong = Math.max(tally.maxLong, e.long);
          tally.maxShort = Math.max(tally.maxShort, e.short);
          assert.ok(e.long <= MAX_POSITION && e.short <= MAX_POSITION, `broker exposure long ${e.long} short ${e.short} beyond max ${MAX_POSITION} after ${JSON.stringify(st)}; book ${JSON.stringify(b.orders.map((o) => ({ cid: o.cid.slice(-4), side: o.side, qty: o.qty, filled: o.filled, parent: o.parent?.cid.slice(-4), done: o.done })))} position ${b.position}`);
        }
        const ids = s.received.flatMap((m) => (m.Type === MessageType.SUBMIT_NEW_SINGLE_ORDER || m.Type === MessageType.SUBMIT_FLATTEN_POSITION_ORDER ? [m.ClientOrderID] : m.Type === MessageType.SUBMIT_NEW_OCO_ORDER ? [m.ClientOrderID_1, m.ClientOrderID_2] : []));
        assert.equal(new Set(ids).size, ids.length, 'no ClientOrderID sent twice');
        assert.deepEqual(runtime.trap.errors, []);
      }),
      { seed: SEED, numRuns: RUNS },
    );
    process.stdout.write(`      figures broker-exposure: ${JSON.stringify(tally)}\n`);
  });
});
