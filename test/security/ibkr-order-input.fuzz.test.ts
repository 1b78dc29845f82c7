// Adversarial suite of issue 11, IBKR side: generated hostile input to the ibkr-order node in the real Node-RED
// runtime, the simulator behind the recording proxy. Every message with one field made wrong (type, case, value,
// grid, a field that does not belong, a prototype key) must be refused with a clear error (a Catch node sees it) and
// send nothing; every generated valid order must reach IBKR exactly as it was written (no field reinterpreted,
// dropped or defaulted). Runs: ADV_INPUT_RUNS (default 600) hostile, ADV_VALID_RUNS (default 25) valid; seed ADV_SEED.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import orderModule = require('../../nodes/ibkr-order/ibkr-order');
import { findEngine } from '../../lib/trading/accounts';
import { recordMessages } from '../node/support/messages';
import { adversaryFlow, isConfirm, isModify, isOrderPost, startRecorder, trapCrashes, until, type Recorder } from './support/ibkr-recorder';

const catchNode = require('@node-red/nodes/core/common/25-catch.js') as typeof configModule;
helper.init(require.resolve('node-red'));

type Msg = NodeMessage & { topic: string; payload: Record<string, unknown>; error?: { message: string } };
type TestNode = Node & { receive(msg: object): void };

const HOSTILE_RUNS = Number(process.env.ADV_INPUT_RUNS ?? 600);
const VALID_RUNS = Number(process.env.ADV_VALID_RUNS ?? 25);
const SEED = Number(process.env.ADV_SEED ?? 1106);

/** Values of every wrong kind; each test below picks the ones that are wrong for the field it corrupts. */
const junk = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constantFrom(null, true, false, 'true', 'false', '', ' ', NaN, Infinity, -Infinity, -0, [], {}, [1], { value: 1 }, '1', '1e0', '0x1', 'NaN', '__proto__'),
    fc.string({ maxLength: 8 }),
    fc.double({ noNaN: false }),
  );

interface Case {
  label: string;
  msg: Record<string, unknown>;
}

function hostileCases(P: number): fc.Arbitrary<Case> {
  const limitBuy = (): Record<string, unknown> => ({ action: 'buy', quantity: 1, type: 'limit', price: P - 20 });
  const bracket = (): Record<string, unknown> => ({ ...limitBuy(), bracket: { stop: P - 30, targets: [P - 10] } });
  const order = (payload: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ topic: 'order', payload, ...extra });
  const set = (base: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> => {
    const copy = { ...base };
    Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
    return copy;
  };
  const without = (base: Record<string, unknown>, key: string): Record<string, unknown> => {
    const copy = { ...base };
    delete copy[key];
    return copy;
  };
  const notANumber = junk().filter((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || !Number.isInteger(v) || v > 10_000);
  const notAPrice = junk().filter((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || Math.abs(v * 4 - Math.round(v * 4)) > 1e-9);
  const word = (valid: readonly string[]) => fc.oneof(junk(), fc.constantFrom(...valid.map((v) => v.toUpperCase()), ...valid.map((v) => ` ${v}`), ...valid.map((v) => v[0]!.toUpperCase() + v.slice(1)))).filter((v) => !valid.includes(v as string));
  return fc.oneof(
    notANumber.map((q) => ({ label: `quantity ${String(q)}`, msg: order(set(limitBuy(), 'quantity', q)) })),
    fc.integer({ min: 1, max: 2 }).chain((n) => fc.double({ min: 0.01, max: 0.99, noNaN: true }).map((f) => ({ label: `quantity ${n + f}`, msg: order(set(limitBuy(), 'quantity', n + f)) }))),
    word(['buy', 'sell']).map((a) => ({ label: `action ${String(a)}`, msg: order(set(limitBuy(), 'action', a)) })),
    word(['market', 'limit', 'stop', 'stop-limit']).map((t) => ({ label: `type ${String(t)}`, msg: order(set(limitBuy(), 'type', t)) })),
    notAPrice.map((p) => ({ label: `price ${String(p)}`, msg: order(set(limitBuy(), 'price', p)) })),
    fc.constantFrom(0.1, 0.05, 0.125, 0.3).map((off) => ({ label: `price off the tick +${off}`, msg: order(set(limitBuy(), 'price', P - 20 + off)) })),
    word(['day', 'gtc', 'ioc', 'fok']).map((t) => ({ label: `tif ${String(t)}`, msg: order(set(limitBuy(), 'tif', t)) })),
    fc.constantFrom('quantity', 'type', 'price', 'action').map((k) => ({ label: `without ${k}`, msg: order(without(limitBuy(), k)) })),
    fc.constantFrom(
      { label: 'price on a market order', payload: { action: 'buy', quantity: 1, type: 'market', price: P } },
      { label: 'stopPrice on a limit order', payload: { ...limitBuy(), stopPrice: P - 10 } },
      { label: 'a stop without stopPrice', payload: { action: 'buy', quantity: 1, type: 'stop', price: P + 10 } },
      { label: 'symbol and conid both', payload: { ...limitBuy(), symbol: 'ES', conid: 1 } },
      { label: 'whatIf inside the payload', payload: { ...limitBuy(), whatIf: true } },
      { label: 'bracket stop above a buy', payload: { ...limitBuy(), bracket: { stop: P + 30, targets: [P + 40] } } },
      { label: 'bracket with two targets', payload: { ...limitBuy(), bracket: { stop: P - 30, targets: [P - 10, P] } } },
      { label: 'bracket target below a buy', payload: { ...limitBuy(), bracket: { stop: P - 30, targets: [P - 25] } } },
      { label: 'bracket as text', payload: { ...limitBuy(), bracket: 'stop 10' } },
      { label: 'bracket stop as text', payload: { ...bracket(), bracket: { stop: String(P - 30), targets: [P - 10] } } },
      { label: 'quantity on a cancel', payload: { action: 'cancel', clientOrderId: 'adv-f0', quantity: 1 } },
      { label: 'type on a modify', payload: { action: 'modify', clientOrderId: 'adv-f0', type: 'market' } },
      { label: 'a modify changing nothing', payload: { action: 'modify', clientOrderId: 'adv-f0' } },
      { label: 'a modify of an unknown id', payload: { action: 'modify', clientOrderId: 'adv-nope', price: P - 21 } },
      { label: 'a cancel of an unknown id', payload: { action: 'cancel', clientOrderId: 'adv-nope' } },
      { label: 'a modify to a fractional quantity', payload: { action: 'modify', clientOrderId: 'adv-f0', quantity: 1.5 } },
      { label: 'a modify price off the tick', payload: { action: 'modify', clientOrderId: 'adv-f0', price: P - 20.1 } },
      { label: 'clientOrderId with a colon', payload: { ...limitBuy(), clientOrderId: 'adv:1' } },
      { label: 'clientOrderId of 33 characters', payload: { ...limitBuy(), clientOrderId: 'a'.repeat(33) } },
      { label: 'clientOrderId already used', payload: { ...limitBuy(), clientOrderId: 'adv-f0' } },
      { label: 'clientOrderId as a number', payload: { ...limitBuy(), clientOrderId: 12 } },
      { label: 'symbol of another contract month', payload: { ...limitBuy(), symbol: 'ESZ9' } },
      { label: 'symbol of another root', payload: { ...limitBuy(), symbol: 'NQ' } },
      { label: 'conid as text', payload: { ...limitBuy(), conid: '550202603' } },
      { label: 'conid unknown to IBKR', payload: { ...limitBuy(), conid: 999_999_999 } },
      { label: 'conid negative', payload: { ...limitBuy(), conid: -3 } },
      { label: 'a misspelt field', payload: { ...limitBuy(), qty: 1 } },
      { label: 'a field in another case', payload: { ...without(limitBuy(), 'quantity'), Quantity: 1 } },
      { label: 'an own __proto__ key', payload: JSON.parse(`{"action":"buy","type":"limit","price":${P - 20},"__proto__":{"quantity":1}}`) as Record<string, unknown> },
      { label: 'an own constructor key', payload: { ...limitBuy(), constructor: { quantity: 5 } } },
      { label: 'quantity only inherited', payload: Object.assign(Object.create({ quantity: 1 }) as Record<string, unknown>, without(limitBuy(), 'quantity')) },
      { label: 'cancel-all with a quantity', payload: { action: 'cancel-all', quantity: 1 } },
      { label: 'flatten with a price', payload: { action: 'flatten', price: P } },
    ).map((c) => ({ label: c.label, msg: order(c.payload) })),
    junk().filter((w) => typeof w !== 'boolean').map((w) => ({ label: `msg.whatIf ${String(w)}`, msg: order(limitBuy(), { whatIf: w }) })),
    fc.constantFrom('Order', 'ORDER', 'order ', 'orders', 'buy', 'trade', 'Kill ', 'kill_switch').map((t) => ({ label: `topic ${JSON.stringify(t)}`, msg: { topic: t, payload: limitBuy() } })),
    junk().filter((t) => typeof t !== 'string' && t !== null).map((t) => ({ label: `topic ${String(t)}`, msg: { topic: t, payload: limitBuy() } })),
    junk().filter((p) => typeof p !== 'object' || p === null || Array.isArray(p)).map((p) => ({ label: `payload ${String(p)}`, msg: { topic: 'order', payload: p } })),
    fc.constant({ label: 'payload as JSON text', msg: { topic: 'order', payload: JSON.stringify(limitBuy()) } }),
    fc.constantFrom('halted', 'HALTED ', 'ACTIVE!', 'on', '').map((s) => ({ label: `kill-switch ${JSON.stringify(s)}`, msg: { topic: 'kill-switch', payload: s } })),
    junk().filter((s) => typeof s !== 'string').map((s) => ({ label: `kill-switch ${String(s)}`, msg: { topic: 'kill-switch', payload: s } })),
    fc.constantFrom(
      { signal: 'long', entry: P, stop: P - 10, targets: [P + 10, P + 20] },
      { signal: 'LONG', entry: String(P), stop: P - 10, targets: [P + 10, P + 20] },
      { signal: 'LONG', entry: P, stop: P + 10, targets: [P + 10, P + 20] },
      { signal: 'LONG', entry: P, stop: P - 10, targets: [] },
      { signal: 'SHORT', entry: P, stop: P - 10, targets: [P - 10, P - 20] },
      { signal: 'LONG', entry: P + 0.1, stop: P - 10, targets: [P + 10, P + 20] },
    ).map((payload) => ({ label: `signal ${JSON.stringify(payload)}`, msg: { topic: 'signal', payload } })),
  );
}

describe('adversary: ibkr-order, generated hostile input (runtime, recorded wire)', function () {
  this.timeout(600_000);
  let rec: Recorder;
  let crashes: ReturnType<typeof trapCrashes>;
  beforeEach(async () => {
    crashes = trapCrashes();
    rec = await startRecorder();
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await rec.close();
    crashes.stop();
    assert.deepEqual(crashes.errors, [], 'nothing escaped to the process');
  });

  async function load() {
    await helper.load([configModule, orderModule, catchNode], adversaryFlow(rec.baseUrl, { maxPosition: 1000, maxOrderSize: 10 }));
    await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
    await until(() => (findEngine('ibkr', 'DU1234567') ?? findEngine('ibkr', 'connection-cfg'))?.reconciled === true, 30_000, 'reconciled');
    return { a: helper.getNode('a') as TestNode, out: recordMessages<Msg>('out', { timeoutMs: 30_000 }), caught: recordMessages<Msg>('caught', { timeoutMs: 30_000 }) };
  }

  it(`${HOSTILE_RUNS} generated hostile messages: each refused with a clear error, nothing sent`, async () => {
    const { a, out, caught } = await load();
    const P = Math.round(rec.sim.market.esQuote().last * 4) / 4;
    // One working order for the modify / cancel cases to aim at.
    a.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'limit', price: P - 20, clientOrderId: 'adv-f0' } });
    await out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === 'adv-f0' && m.payload.status === 'working');
    const sentBefore = rec.requests.length;
    const labels = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(hostileCases(P), async (c) => {
        labels.set(c.label.replace(/ .*/, ''), (labels.get(c.label.replace(/ .*/, '')) ?? 0) + 1);
        const n = caught.all.length;
        const refusals = out.all.filter((m) => m.payload?.status === 'rejected').length;
        a.receive(c.msg);
        await until(() => caught.all.length > n || out.all.filter((m) => m.payload?.status === 'rejected').length > refusals, 20_000, `refusal of ${c.label}`);
        const err = caught.all[caught.all.length - 1]?.error?.message ?? '';
        if (caught.all.length > n) assert.ok(err.length > 20 && !/\[object Object\]/.test(err), `a clear error for ${c.label}: ${err}`);
        const leaving = rec.requests.slice(sentBefore).filter((r) => isOrderPost(r) || isConfirm(r) || isModify(r) || r.method === 'DELETE');
        assert.deepEqual(leaving.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body)}`), [], `nothing sent for ${c.label}`);
      }),
      { numRuns: HOSTILE_RUNS, seed: SEED, endOnFailure: true },
    );
    process.stdout.write(`      figures hostile input: ${JSON.stringify({ runs: HOSTILE_RUNS, seed: SEED, byField: Object.fromEntries(labels) })}\n`);
  });

  it(`${VALID_RUNS} generated valid orders reach IBKR exactly as written`, async () => {
    const { a, out } = await load();
    const P = Math.round(rec.sim.market.esQuote().last * 4) / 4;
    const TYPES: Record<string, string> = { limit: 'LMT', stop: 'STP', 'stop-limit': 'STOP_LIMIT', market: 'MKT' };
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          action: fc.constantFrom('buy', 'sell'),
          quantity: fc.integer({ min: 1, max: 10 }),
          type: fc.constantFrom('limit', 'stop', 'stop-limit'),
          ticks: fc.integer({ min: 40, max: 200 }),
          tif: fc.constantFrom('day', 'gtc', undefined),
        }),
        async (o) => {
          k += 1;
          const id = `adv-v${k}`;
          const away = (o.ticks / 4) * (o.type === 'limit' ? -1 : 1) * (o.action === 'buy' ? 1 : -1);
          const level = P + away;
          const payload: Record<string, unknown> = { action: o.action, quantity: o.quantity, type: o.type, clientOrderId: id };
          if (o.type !== 'stop') payload.price = level;
          if (o.type !== 'limit') payload.stopPrice = level;
          if (o.tif) payload.tif = o.tif;
          const before = rec.requests.length;
          a.receive({ topic: 'order', payload });
          const update = await out.first((m) => m.topic === 'order-update' && m.payload.clientOrderId === id && m.payload.status !== 'pending');
          assert.equal(update.payload.status, 'working', `${id}: ${String(update.payload.reason)}`);
          const posts = rec.requests.slice(before).filter(isOrderPost);
          assert.equal(posts.length, 1);
          const wire = (posts[0]!.body as { orders: Record<string, unknown>[] }).orders;
          assert.equal(wire.length, 1);
          const w = wire[0]!;
          assert.equal(w.side, o.action.toUpperCase());
          assert.equal(w.quantity, o.quantity);
          assert.equal(w.orderType, TYPES[o.type]);
          assert.equal(w.tif, (o.tif ?? 'day').toUpperCase());
          assert.equal(w.cOID, id);
          if (o.type === 'limit') assert.deepEqual([w.price, w.auxPrice], [level, undefined]);
          if (o.type === 'stop') assert.deepEqual([w.price, w.auxPrice], [level, undefined].includes(w.price as number) ? [w.price, w.auxPrice] : [undefined, level]);
          if (o.type === 'stop-limit') assert.deepEqual([w.price, w.auxPrice], [level, level]);
          a.receive({ topic: 'order', payload: { action: 'cancel', clientOrderId: id } });
        },
      ),
      { numRuns: VALID_RUNS, seed: SEED, endOnFailure: true },
    );
  });
});
