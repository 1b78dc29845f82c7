import { strict as assert } from 'assert';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { acquireEngine, resetAccountsForTest } from '../../../lib/trading/accounts';
import { FileJournal, journalFileName } from '../../../lib/trading/journal';
import { guardInFlight, kill, type ExecutionAdapter, type PositionRef, type WorkingOrderRef } from '../../../lib/trading/kill-switch';
import { RiskEngine, type Discrepancy, type Verdict } from '../../../lib/trading/risk-engine';
import { MemoryJournal } from '../../../lib/trading/journal';
import { instrumentOf } from '../../../lib/trading/instrument-of';

const T0 = Date.UTC(2026, 2, 10, 15, 0); // Tuesday 11:00 New York
const OPEN = { tradingHoursEnabled: false, cooldownMin: 0, maxPosition: 2, maxOrderSize: 3 };
const ruleOf = (v: Verdict): string | null => (v.allowed ? null : v.rule);

function fresh(limits = OPEN): RiskEngine {
  const engine = new RiskEngine({ broker: 'sierra', account: 'T', instrumentOf, journal: new MemoryJournal() });
  engine.contributeLimits('node', limits);
  engine.reconcile({ now: T0, positions: [], working: [] });
  return engine;
}

let seq = 0;
const id = (): string => `o-${++seq}`;

describe('RiskEngine: one account, every path', () => {
  beforeEach(() => resetAccountsForTest());

  it('a duplicated signal / one signal into two nodes: the second reservation meets the first (max position 1)', () => {
    const e = fresh({ ...OPEN, maxPosition: 1 });
    // Both reservations happen before either order is acknowledged (slow ack): the second is refused.
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'buy', quantity: 1, exits: [id(), id()], now: T0 })), null);
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'buy', quantity: 1, exits: [id(), id()], now: T0 })), 'max-position');
  });

  it('bracket exits are not opposite-side entries: long 1 with its stop working may still sell 1 more short only within the limit', () => {
    const e = fresh({ ...OPEN, maxPosition: 1 });
    const parent = id();
    const [t, s] = [id(), id()];
    assert.ok(e.reserve({ clientOrderId: parent, instrument: 'ESZ6', side: 'buy', quantity: 1, exits: [t, s], now: T0 }).allowed);
    assert.ok(e.authorizeSend(parent).allowed);
    e.onFill({ clientOrderId: parent, instrument: 'ESZ6', side: 'buy', quantity: 1, price: 6000, now: T0 });
    assert.deepEqual(e.exposure('ES'), { position: 1, buys: 0, sells: 1, long: 1, short: 0 });
    // A sell of 1 beside the armed stop could make the account short 1 (stop fills, then the sell): allowed at max 1.
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'sell', quantity: 1, now: T0 }).allowed);
    // A further sell would make it short 2.
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'sell', quantity: 1, now: T0 })), 'max-position');
  });

  it('exposure is per root: ESZ6 and ESH7 (an override to another month) count together, MES is its own root', () => {
    const e = fresh();
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'buy', quantity: 2, now: T0 }).allowed);
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESH7', side: 'buy', quantity: 1, now: T0 })), 'max-position');
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, now: T0 })), 'max-position');
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'MESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'CLZ6', side: 'buy', quantity: 1, now: T0 })), 'invalid-order');
  });

  it('a bracket on an order that only reduces is refused (it would re-open the position); without a bracket it passes', () => {
    const e = fresh();
    e.syncPosition({ instrument: 'ESZ6', quantity: 2 }, T0);
    const v = e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'sell', quantity: 1, exits: [id(), id()], now: T0 });
    assert.equal(ruleOf(v), 'invalid-order');
    assert.match((v as { reason: string }).reason, /re-open/);
    e.setKillSwitch('REDUCING');
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'sell', quantity: 1, now: T0 }).allowed);
  });

  it('kill between check and send: an order reserved before HALTED is refused at authorizeSend', () => {
    const e = fresh();
    const o = id();
    assert.ok(e.reserve({ clientOrderId: o, instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
    e.setKillSwitch('HALTED');
    assert.equal(ruleOf(e.authorizeSend(o)), 'kill-switch');
    e.release(o);
    assert.equal(e.exposure('ES').buys, 0);
  });

  it('trading switch off at the instant of sending refuses the order', () => {
    const e = fresh();
    const o = id();
    assert.ok(e.reserve({ clientOrderId: o, instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.equal(ruleOf(e.authorizeSend(o, false)), 'trading-disabled');
  });

  it('modify while HALTED: only a smaller quantity; REDUCING refuses a larger one; a larger quantity is new exposure', () => {
    const e = fresh();
    const o = id();
    assert.ok(e.reserve({ clientOrderId: o, instrument: 'ESZ6', side: 'buy', quantity: 2, type: 'limit', price: 6000, now: T0 }).allowed);
    assert.ok(e.authorizeSend(o).allowed);
    e.acknowledged(o, 'b1');
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: o, quantity: 3, now: T0 })), 'max-position');
    e.setKillSwitch('HALTED');
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: o, price: 6001, now: T0 })), 'kill-switch');
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: o, quantity: 1, now: T0 })), null);
    e.setKillSwitch('REDUCING');
    assert.equal(ruleOf(e.reserveModify({ clientOrderId: o, price: 6001, now: T0 })), 'kill-switch');
  });

  it('a modify that grows the order is counted from the moment it is reserved, and given back when refused', () => {
    const e = fresh();
    const o = id();
    assert.ok(e.reserve({ clientOrderId: o, instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.reserveModify({ clientOrderId: o, quantity: 2, now: T0 }).allowed);
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 })), 'max-position');
    e.releaseModify(o);
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
  });

  it('MES P&L uses its own point value (5), not ES\'s 50', () => {
    const e = fresh({ ...OPEN, dailyLossLimit: 100 } as typeof OPEN);
    e.onFill({ instrument: 'MESZ6', side: 'buy', quantity: 1, price: 6000, now: T0 });
    e.onFill({ instrument: 'MESZ6', side: 'sell', quantity: 1, price: 5990, now: T0 });
    assert.equal(e.riskState(T0).realizedPnl, -50);
    // −$50 is inside a $100 limit: a new entry still passes (at 50 $/pt it would be −$500 and refused).
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'MESZ6', side: 'buy', quantity: 1, now: T0 }).allowed);
  });

  it('until reconciled, new entries are refused and reducing orders pass', () => {
    const e = new RiskEngine({ broker: 'ibkr', account: 'U1', instrumentOf, journal: new MemoryJournal() });
    e.contributeLimits('n', OPEN);
    e.syncPosition({ instrument: 'ESZ6', quantity: 1 }, T0);
    assert.equal(ruleOf(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'buy', quantity: 1, now: T0 })), 'not-reconciled');
    assert.ok(e.reserve({ clientOrderId: id(), instrument: 'ESZ6', side: 'sell', quantity: 1, now: T0 }).allowed);
  });

  it('reconcile reports each disagreement and takes the broker\'s figures (worse realized P&L, other position, unknown order)', () => {
    const e = fresh();
    e.onFill({ instrument: 'ESZ6', side: 'buy', quantity: 1, price: 6000, now: T0 });
    const seen: Discrepancy[] = [];
    e.on('discrepancy', (d: Discrepancy) => seen.push(d));
    e.reconcile({ now: T0, positions: [{ instrument: 'ESZ6', quantity: 2 }], working: [{ clientOrderId: 'manual-1', instrument: 'ESZ6', side: 'buy', quantity: 1, filled: 0 }], realizedPnl: -450 });
    assert.deepEqual(seen.map((d) => d.what).sort(), ['position', 'realized-pnl', 'unknown-order']);
    assert.equal(e.riskState(T0).realizedPnl, -450);
    assert.deepEqual(e.exposure('ES'), { position: 2, buys: 1, sells: 0, long: 3, short: -2 });
    assert.match(seen.find((d) => d.what === 'position')?.message ?? '', /long 1.*long 2/);
  });

  it('two nodes on one account: the strictest limits apply, and the looser node cannot double the budget', () => {
    const a = acquireEngine({ broker: 'ibkr', account: 'U9', holder: 'node-a', limits: { ...OPEN, maxPosition: 2 } });
    const b = acquireEngine({ broker: 'ibkr', account: 'U9', holder: 'node-b', limits: { ...OPEN, maxPosition: 4 } });
    assert.equal(a.engine, b.engine);
    a.engine.reconcile({ now: T0, positions: [], working: [] });
    assert.equal(a.engine.limits.maxPosition, 2);
    assert.ok(a.engine.reserve({ clientOrderId: id(), instrument: 'ES', side: 'buy', quantity: 2, now: T0 }).allowed);
    assert.equal(ruleOf(b.engine.reserve({ clientOrderId: id(), instrument: 'ES', side: 'buy', quantity: 1, now: T0 })), 'max-position');
    a.release();
    assert.equal(b.engine.limits.maxPosition, 4);
  });
});

describe('Journal: limits survive a redeploy, a restart and kill -9', () => {
  let dir: string;
  beforeEach(() => {
    resetAccountsForTest();
    dir = mkdtempSync(path.join(tmpdir(), 'mia-journal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('counters, kill switch, ids and working orders come back after a restart; the session roll resets counters but not the kill switch', () => {
    const first = acquireEngine({ broker: 'sierra', account: 'Sim1', holder: 'cfg', limits: { ...OPEN, maxTradesPerDay: 1, dailyLossLimit: 1000 }, journalDir: dir });
    const e = first.engine;
    e.reconcile({ now: T0, positions: [], working: [] });
    const o = 'p-1';
    assert.ok(e.reserve({ clientOrderId: o, instrument: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend(o).allowed);
    // Written before the order leaves: the file already holds it as sent.
    const saved = new FileJournal(dir, 'sierra', 'Sim1').loadSync()!;
    assert.deepEqual(saved.intents.map((i: { clientOrderId: string; phase: string }) => [i.clientOrderId, i.phase]), [[o, 'sent']]);
    e.onFill({ clientOrderId: o, instrument: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, price: 6000, now: T0 });
    e.onFill({ instrument: 'ESZ25_FUT_CME', side: 'sell', quantity: 1, price: 5990, now: T0 + 1000 });
    e.setKillSwitch('REDUCING');

    resetAccountsForTest(); // the process dies; only the file remains
    const again = acquireEngine({ broker: 'sierra', account: 'Sim1', holder: 'cfg', limits: { ...OPEN, maxTradesPerDay: 1, dailyLossLimit: 1000 }, journalDir: dir }).engine;
    assert.notEqual(again, e);
    const s = again.riskState(T0 + 2000);
    assert.equal(s.killSwitch, 'REDUCING');
    assert.equal(s.tradesToday, 1);
    assert.equal(s.realizedPnl, -500);
    assert.equal(s.consecutiveLosses, 1);
    assert.ok(again.isUsedId(o));
    again.reconcile({ now: T0 + 2000, positions: [], working: [] });
    again.setKillSwitch('ACTIVE');
    assert.equal(ruleOf(again.reserve({ clientOrderId: 'p-2', instrument: 'ESZ25_FUT_CME', side: 'buy', quantity: 1, now: T0 + 2000 })), 'max-trades');
    assert.equal(ruleOf(again.reserve({ clientOrderId: o, instrument: 'ESZ25_FUT_CME', side: 'sell', quantity: 1, now: T0 + 2000 })), 'invalid-order');
    // Next session (after 17:00 Chicago): counters reset, the kill switch does not.
    again.setKillSwitch('HALTED');
    const tomorrow = T0 + 24 * 3_600_000;
    assert.equal(again.riskState(tomorrow).tradesToday, 0);
    assert.equal(again.riskState(tomorrow).killSwitch, 'HALTED');
  });

  it('a redeploy keeps the same engine (HALTED stays HALTED)', () => {
    const h = acquireEngine({ broker: 'ibkr', account: 'U1', holder: 'n1', limits: OPEN, journalDir: dir });
    h.engine.setKillSwitch('HALTED');
    h.release();
    const h2 = acquireEngine({ broker: 'ibkr', account: 'U1', holder: 'n1', limits: OPEN, journalDir: dir });
    assert.equal(h2.engine.killSwitch, 'HALTED');
  });

  it('a damaged journal leaves the account HALTED with the reason, never trading on defaults', () => {
    writeFileSync(path.join(dir, journalFileName('ibkr', 'U2')), '{"version":1, "ledg');
    const e = acquireEngine({ broker: 'ibkr', account: 'U2', holder: 'n', limits: OPEN, journalDir: dir }).engine;
    e.reconcile({ now: T0, positions: [], working: [] });
    assert.equal(e.killSwitch, 'HALTED');
    const v = e.reserve({ clientOrderId: 'x', instrument: 'ES', side: 'buy', quantity: 1, now: T0 });
    assert.equal(ruleOf(v), 'kill-switch');
    assert.match((v as { reason: string }).reason, /damaged/);
  });

  it('writes atomically: no temporary file is left, and an account id cannot escape the directory', () => {
    const j = new FileJournal(dir, 'ibkr', '../../etc/x');
    assert.equal(path.dirname(j.file), dir);
    const e = new RiskEngine({ broker: 'ibkr', account: 'x', instrumentOf, journal: j });
    e.setKillSwitch('HALTED');
    assert.ok(existsSync(j.file));
    assert.ok(!existsSync(`${j.file}.tmp`));
    assert.equal(j.loadSync()?.ledger.killSwitch, 'HALTED');
  });

  it('a journal that cannot be written stops the order before it leaves', () => {
    const e = new RiskEngine({ broker: 'ibkr', account: 'x', instrumentOf, journal: new FileJournal(path.join(dir, 'file-not-dir'), 'ibkr', 'x') });
    writeFileSync(path.join(dir, 'file-not-dir'), 'a file where the directory should be');
    e.contributeLimits('n', OPEN);
    e.reconcile({ now: T0, positions: [], working: [] });
    const v = e.reserve({ clientOrderId: 'y', instrument: 'ES', side: 'buy', quantity: 1, now: T0 });
    assert.equal(ruleOf(v), 'kill-switch');
    assert.match((v as { reason: string }).reason, /journal/);
    assert.equal(e.exposure('ES').buys, 0);
  });
});

describe('kill(): halts, cancels every working order and flattens every position of the account, never rejects', () => {
  function adapter(overrides: Partial<ExecutionAdapter> = {}): ExecutionAdapter & { calls: string[] } {
    const calls: string[] = [];
    const orders: WorkingOrderRef[] = [
      { clientOrderId: 'a', instrument: 'ESZ6', side: 'buy', quantity: 1 },
      { clientOrderId: 'a:stop', instrument: 'ESZ6', side: 'sell', quantity: 1, parent: 'a' },
      { clientOrderId: 'b', instrument: 'MESZ6', side: 'sell', quantity: 2 },
    ];
    const positions: PositionRef[] = [{ instrument: 'ESZ6', quantity: 1 }, { instrument: 'ESH7', quantity: -1 }, { instrument: 'MESZ6', quantity: 0 }];
    return {
      calls,
      workingOrders: async () => orders,
      positions: async () => positions,
      cancel: async (o) => void calls.push(`cancel ${o.clientOrderId}`),
      flatten: async (p) => void calls.push(`flatten ${p.instrument}`),
      ...overrides,
    };
  }

  it('cancels each root order once (children go with their parent) and flattens every contract', async () => {
    const e = fresh();
    const a = adapter();
    const report = await kill(e, a);
    assert.equal(e.killSwitch, 'HALTED');
    assert.deepEqual(a.calls.sort(), ['cancel a', 'cancel b', 'flatten ESH7', 'flatten ESZ6']);
    assert.deepEqual(report.failures, []);
  });

  it('a refused cancel and a failed flatten are reported, the rest is still done, and nothing rejects', async () => {
    const e = fresh();
    const a = adapter({ cancel: async (o) => Promise.reject(new Error(`refused ${o.clientOrderId}`)), flatten: async (p) => (p.instrument === 'ESH7' ? Promise.reject(new Error('no route')) : undefined) });
    const report = await kill(e, a);
    assert.equal(report.killSwitch, 'HALTED');
    assert.deepEqual(report.failures.map((f) => `${f.action} ${f.target}`).sort(), ['cancel a', 'cancel b', 'flatten ESH7']);
    assert.equal(report.flattened.length, 1);
    assert.match(report.summary, /refused a/);
  });

  it('an order in flight at the kill is cancelled as soon as the broker acknowledges it', async () => {
    const e = fresh();
    const cancelled: string[] = [];
    const stop = guardInFlight(e, async (o) => void cancelled.push(`${o.clientOrderId}/${o.brokerOrderId}`));
    assert.ok(e.reserve({ clientOrderId: 'late', instrument: 'ES', side: 'buy', quantity: 1, now: T0 }).allowed);
    assert.ok(e.authorizeSend('late').allowed); // on the wire
    await kill(e, adapter({ workingOrders: async () => [] }));
    e.acknowledged('late', 'srv-1');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(cancelled, ['late/srv-1']);
    stop();
  });
});
