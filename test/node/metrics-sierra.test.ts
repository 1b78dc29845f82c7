// sierra-order's DTC metrics against the in-process DTC simulator: one round trip per order sent, with a known
// artificial answer delay; missed heartbeats, reconnects and uptime after the simulator stops its heartbeats; the
// periodic message; a bad "Metrics every (s)" setting.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { NodeStatus } from 'node-red';
import type { DtcMetricsPayload } from '../../lib/metrics';
import type { SierraConnection } from '../../lib/sierra/connection';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import configModule = require('../../nodes/sierra-config/sierra-config');
import orderModule = require('../../nodes/sierra-order/sierra-order');
import { nextMessage } from './support/messages';

helper.init(require.resolve('node-red'));

interface Msg {
  topic?: string;
  payload: unknown;
}
type TestNode = ReturnType<typeof helper.getNode> & { receive(msg: object): void; on(event: string, fn: (msg: Msg) => void): void };

const LIMITS = { tradingEnabled: true, tradingHoursEnabled: false, cooldownMin: 0, maxTradesPerDay: 100, maxOrderSize: 5, maxPosition: 50, maxOrdersPerMinute: 0, collarTicks: 40, simSpeed: 0.001 };
const ANSWER_DELAY_MS = 40;

function flow(order: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'cfg', type: 'sierra-config', mode: 'simulator', heartbeatSec: 1, simSeed: 7, ...LIMITS },
    { id: 'order', type: 'sierra-order', z: 'tab', connection: 'cfg', quantity: 1, entry: 'limit', target: '1', ...order, wires: [['updates'], [], [], ['accounts']] },
    { id: 'updates', type: 'helper', z: 'tab' },
    { id: 'accounts', type: 'helper', z: 'tab' },
  ];
}

async function load(order: Record<string, unknown> = {}): Promise<{ order: TestNode; updates: TestNode; accounts: TestNode; connection: SierraConnection }> {
  await helper.load([configModule, orderModule], flow(order));
  const connection = await (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
  await connection.whenReady(10_000);
  return { order: helper.getNode('order') as TestNode, updates: helper.getNode('updates') as TestNode, accounts: helper.getNode('accounts') as TestNode, connection };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const isMetrics = (m: Msg) => m.topic === 'metrics';
const filled = (m: Msg) => (m.payload as { status?: string }).status === 'filled';

describe('sierra-order metrics (DTC simulator)', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('records one round trip per order, at least the simulator\'s answer delay, and answers "metrics" on the 4th output', async () => {
    const l = await load();
    l.connection.simulator!.delayAnswers(ANSWER_DELAY_MS);
    for (let i = 0; i < 3; i++) {
      const done = nextMessage(l.updates, filled);
      l.order.receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
      await done;
    }
    const reply = nextMessage(l.accounts, isMetrics);
    l.order.receive({ payload: 'metrics' });
    const m = (await reply).payload as DtcMetricsPayload;
    assert.deepEqual(m.orders, { sent: 3, acknowledged: 3, pending: 0 });
    assert.equal(m.roundTripMs.samples, 3);
    assert.ok(m.roundTripMs.p50! >= ANSWER_DELAY_MS - 1, `p50 ${m.roundTripMs.p50} ms ≥ the ${ANSWER_DELAY_MS} ms delay`);
    assert.equal(m.state, 'ready');
    assert.ok(m.uptimeMs > 0);
    assert.equal(m.reconnects, 0);
  });

  it('counts missed heartbeats and the reconnect, and restarts the logon uptime', async () => {
    const l = await load();
    const sim = l.connection.simulator!;
    await new Promise((r) => setTimeout(r, 300));
    const before = l.connection.metrics();
    // The simulator in this process drops a client whose own heartbeats stop for two intervals: on a busy machine an
    // event-loop stall can make it drop the client first, before the client's watchdog gives up on the silent
    // server (then no heartbeat of Sierra's was missed, and 0 is right). Such a round is done again, three at most.
    const reasons: string[] = [];
    for (let round = 1; round <= 3; round++) {
      const missedBefore = l.connection.metrics().heartbeatsMissed;
      sim.stopHeartbeats();
      await until(() => l.connection.status().state !== 'ready');
      const reason = l.connection.status().reason;
      reasons.push(reason);
      sim.resumeHeartbeats();
      await l.connection.whenReady(10_000);
      await until(() => l.connection.metrics().reconnects === round);
      const after = l.connection.metrics();
      assert.ok(after.uptimeMs < before.uptimeMs + 1000, `uptime restarted (${before.uptimeMs} → ${after.uptimeMs} ms)`);
      if (!/Nothing heard from Sierra Chart/.test(reason)) continue;
      assert.ok(after.heartbeatsMissed >= missedBefore + 1, `${after.heartbeatsMissed - missedBefore} missed when the client gave up on the silent server`);
      return;
    }
    assert.fail(`the client's heartbeat watchdog never declared the silent server lost: ${reasons.join(' | ')}`);
  });

  it('sends the metrics every "Metrics every (s)"', async () => {
    const l = await load({ metricsEverySec: 0.1 });
    const first = await nextMessage(l.accounts, isMetrics);
    const second = await nextMessage(l.accounts, isMetrics);
    assert.ok((second.payload as DtcMetricsPayload).t > (first.payload as DtcMetricsPayload).t);
  });

  it('refuses a negative "Metrics every (s)" with a red ring that says why', async () => {
    await helper.load([configModule, orderModule], flow({ metricsEverySec: '-5' }));
    const node = helper.getNode('order') as TestNode & { status(s: NodeStatus): void; on(event: 'call:error', fn: (call: { args: unknown[] }) => void): void };
    const seen: NodeStatus[] = [];
    const original = node.status.bind(node);
    node.status = (s: NodeStatus) => {
      seen.push(s);
      original(s);
    };
    const rejected = new Promise<string>((resolve) => node.on('call:error', (call: { args: unknown[] }) => resolve(String(call.args[0]))));
    node.receive({ payload: 'metrics' });
    assert.match(await rejected, /sierra-order: "Metrics every \(s\)" "-5" is not valid: use seconds ≥ 0/);
    assert.ok(seen.some((s) => s.fill === 'red' && /Metrics every/.test(String(s.text))), JSON.stringify(seen));
  });
});
