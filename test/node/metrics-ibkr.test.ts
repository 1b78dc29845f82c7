// ibkr-auth's 'metrics' message in the Node-RED runtime, against the simulator its ibkr-config starts: the request
// count equals what the simulator received, the periodic message, malformed input and settings reaching Catch.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrConnectionMetrics } from '../../nodes/ibkr-config/metrics-source';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import authModule = require('../../nodes/ibkr-auth/ibkr-auth');
import { anyMessage, nextMessage } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

type Msg = NodeMessage & { payload: unknown; error?: { message: string } };
type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Msg) => void): void };
const at = { x: 0, y: 0 };
/** How long a reply from the simulated gateway may take before a test fails. */
const WAIT_MS = 8000;

function flow(auth: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'metrics' },
    { id: 'cfg', type: 'ibkr-config', name: 'sim', mode: 'simulator', simSeed: 3, simSpeed: 1, simTls: true },
    { id: 'auth', type: 'ibkr-auth', z: 'tab', connection: 'cfg', wires: [['out']], ...at, ...auth },
    { id: 'out', type: 'helper', z: 'tab', ...at },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', type: 'helper', z: 'tab', ...at },
  ];
}

const isMetrics = (m: Msg) => m.topic === 'metrics';

describe('ibkr-auth metrics (IBKR simulator)', function () {
  this.timeout(15_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('answers "metrics" with the connection\'s figures: as many requests as the simulator received', async () => {
    await helper.load([configModule, authModule, catchNode], flow());
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    const connection = await cfg.connection();
    await connection.client.accounts();
    const reply = nextMessage(helper.getNode('out') as TestNode, isMetrics, WAIT_MS);
    (helper.getNode('auth') as TestNode).receive({ payload: 'metrics' });
    const m = (await reply).payload as IbkrConnectionMetrics;
    assert.equal(m.requests, cfg.simulator()!.control.stats().total);
    assert.equal(m.session.state, 'authenticated');
    assert.equal(m.errors.rate, 0);
    assert.equal(m.http429, 0);
    assert.ok(m.accountId);
    assert.ok(m.utilisation.max < 0.8);
    assert.deepEqual(Object.keys(m).sort(), ['accountId', 'errors', 'http429', 'latencyMs', 'reconnects', 'requests', 'session', 'stream', 't', 'utilisation']);
  });

  it('sends the metrics every "Metrics every (s)"', async () => {
    await helper.load([configModule, authModule, catchNode], flow({ metricsEverySec: 0.1 }));
    await (helper.getNode('cfg') as unknown as IbkrConfigNode).connection();
    const out = helper.getNode('out') as TestNode;
    const first = (await nextMessage(out, isMetrics, WAIT_MS)).payload as IbkrConnectionMetrics;
    const second = (await nextMessage(out, isMetrics, WAIT_MS)).payload as IbkrConnectionMetrics;
    assert.ok(second.t > first.t);
  });

  it('sends an unknown command to Catch with the list of commands, metrics included', async () => {
    await helper.load([configModule, authModule, catchNode], flow());
    const caught = nextMessage(helper.getNode('caught') as TestNode, anyMessage, WAIT_MS);
    (helper.getNode('auth') as TestNode).receive({ payload: 'stats' });
    assert.match((await caught).error?.message ?? '', /send "status", "login", "reauth" or "logout" \(or "metrics" for the connection's figures\)/);
  });

  it('refuses a negative "Metrics every (s)" with a clear error on every input', async () => {
    await helper.load([configModule, authModule, catchNode], flow({ metricsEverySec: '-1' }));
    const caught = nextMessage(helper.getNode('caught') as TestNode, anyMessage, WAIT_MS);
    (helper.getNode('auth') as TestNode).receive({ payload: 'metrics' });
    assert.match((await caught).error?.message ?? '', /ibkr-auth: "Metrics every \(s\)" "-1" is not valid/);
  });
});
