// ibkr-auth in the Node-RED runtime, against the IBKR simulator that its ibkr-config starts in-process: state
// changes as messages and status rings when the simulator's control makes the session competing, logs it out,
// expires it, resets it nightly or answers 429; the four commands; malformed input reaching a Catch node.
import { strict as assert } from 'assert';
import { readFileSync } from 'fs';
import { join } from 'path';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import type { IbkrConfigNode, IbkrStateEvent } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import authModule = require('../../nodes/ibkr-auth/ibkr-auth');
import { assertPortClosed } from '../support/ports';
import { recordMessages, recordStatuses } from './support/messages';

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const injectNode = require('@node-red/nodes/core/common/20-inject.js');
const debugNode = require('@node-red/nodes/core/common/21-debug.js');

helper.init(require.resolve('node-red'));

type Msg = NodeMessage & { payload: IbkrStateEvent & { command?: string }; error?: { message: string } };
type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Msg) => void): void };

// Flow nodes need x and y, or Node-RED's flow parser takes them for config nodes.
const at = { x: 0, y: 0 };
/** How long a reply from the simulated gateway may take before a test fails. */
const WAITS = { timeoutMs: 8000 };

function flow(configOverrides: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'auth' },
    { id: 'cfg', type: 'ibkr-config', name: 'sim', mode: 'simulator', simSeed: 3, simSpeed: 1, simTls: true, ...configOverrides },
    { id: 'auth', type: 'ibkr-auth', z: 'tab', connection: 'cfg', wires: [['out']], ...at },
    { id: 'out', type: 'helper', z: 'tab', ...at },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']], ...at },
    { id: 'caught', type: 'helper', z: 'tab', ...at },
  ];
}

const isState = (state: string) => (m: Msg) => m.payload?.state === state && m.payload.command === undefined;
const answersTo = (command: string) => (m: Msg) => m.payload?.command === command;

describe('ibkr-auth node (simulator mode)', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  async function deploy(configOverrides: Record<string, unknown> = {}) {
    await helper.load([configModule, authModule, catchNode], flow(configOverrides));
    const auth = helper.getNode('auth') as TestNode;
    const out = recordMessages(helper.getNode('out') as TestNode, WAITS);
    const caught = recordMessages(helper.getNode('caught') as TestNode, WAITS);
    const rings = recordStatuses(auth);
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    return { auth, out, caught, rings, cfg };
  }

  it('connects to the simulator and reports the authenticated session with its account id', async () => {
    const { out, rings, cfg } = await deploy();
    const msg = await out.next(isState('authenticated'));
    assert.equal(msg.topic, 'ibkr-auth');
    assert.equal(msg.payload.accountId, 'DU1234567');
    assert.equal(typeof msg.payload.t, 'number');
    assert.ok(msg.payload.reason.length > 0);
    assert.deepEqual(rings.at(-1), { fill: 'green', shape: 'dot', text: 'authenticated DU1234567' });
    assert.equal(cfg.sessionState().state, 'authenticated');
    const connection = await cfg.connection();
    assert.equal(connection.options.tradingEnabled, false, 'trading is off unless the trader turns it on');
  });

  it('answers "status" with the current state', async () => {
    const { auth, out } = await deploy();
    await out.next(isState('authenticated'));
    auth.receive({ payload: 'status' });
    const answer = await out.next(answersTo('status'));
    assert.equal(answer.payload.state, 'authenticated');
    assert.equal(answer.payload.accountId, 'DU1234567');
  });

  it('turns red when another login competes for the session, and green again when it is released', async () => {
    const { auth, out, rings, cfg } = await deploy();
    await out.next(isState('authenticated'));
    const sim = cfg.simulator() as IbkrSimulator;
    sim.control.setCompeting(true);
    auth.receive({ payload: 'status' });
    const competing = await out.next(isState('competing'));
    assert.equal(competing.payload.previous, 'authenticated');
    assert.match(competing.payload.reason, /another IBKR login/i);
    assert.deepEqual(rings.at(-1), { fill: 'red', shape: 'ring', text: 'competing' });
    sim.control.setCompeting(false);
    auth.receive({ payload: 'status' });
    const back = await out.next(isState('authenticated'));
    assert.equal(back.payload.previous, 'competing');
    assert.equal(rings.at(-1)?.fill, 'green');
  });

  it('tells the trader the session expired after an idle expiry and after the nightly reset, then that it is back', async () => {
    const { auth, out, rings, cfg } = await deploy();
    await out.next(isState('authenticated'));
    const sim = cfg.simulator() as IbkrSimulator;
    const reopened = () => sim.control.stats().requests['/iserver/auth/ssodh/init'] ?? 0;
    for (const lose of [() => sim.control.expireSession(), () => sim.control.nightlyReset()]) {
      const before = reopened();
      const expired = out.next(isState('expired'));
      const back = out.next(isState('authenticated'));
      lose();
      auth.receive({ payload: 'status' });
      const gone = await expired;
      assert.equal(gone.payload.previous, 'authenticated');
      assert.match(gone.payload.reason, /IBKR closed the brokerage session.*idle timeout or its nightly reset.*reopening it/);
      assert.ok(rings.some((r) => r.fill === 'red' && r.text === 'expired'), 'the status ring showed the expiry');
      const returned = await back;
      assert.equal(returned.payload.previous, 'expired');
      assert.equal(returned.payload.accountId, 'DU1234567');
      const answer = await out.next(answersTo('status'));
      assert.equal(answer.payload.state, 'authenticated');
      assert.equal(rings.at(-1)?.fill, 'green');
      assert.equal(reopened(), before + 1, 'reopened with one ssodh/init');
    }
    const connection = await cfg.connection();
    const [row] = await connection.client.snapshot([sim.market.esContracts()[0].conid], ['31']);
    assert.ok(row, 'market data works again after the reset (accounts primed again)');
  });

  it('reports rate-limited on a 429, then recovers on its own', async () => {
    const { auth, out, rings, cfg } = await deploy();
    await out.next(isState('authenticated'));
    (cfg.simulator() as IbkrSimulator).control.inject429(1);
    auth.receive({ payload: 'status' });
    const limited = await out.next(isState('rate-limited'));
    assert.match(limited.payload.reason, /rate limit/i);
    assert.ok(rings.some((r) => r.fill === 'yellow' && r.text === 'rate-limited'));
    const recovered = await out.next(isState('authenticated'));
    assert.equal(recovered.payload.previous, 'rate-limited');
    assert.equal(rings.at(-1)?.fill, 'green');
  });

  it('logs out, reports the session expired, and logs in again on "login"', async () => {
    const { auth, out, rings } = await deploy();
    await out.next(isState('authenticated'));
    auth.receive({ payload: 'logout' });
    const expired = await out.next(isState('expired'));
    assert.match(expired.payload.reason, /log in/i);
    assert.deepEqual(rings.at(-1), { fill: 'red', shape: 'ring', text: 'expired' });
    assert.equal((await out.next(answersTo('logout'))).payload.state, 'expired');
    auth.receive({ payload: 'login' });
    await out.next(isState('authenticated'));
    assert.equal((await out.next(answersTo('login'))).payload.state, 'authenticated');
    auth.receive({ payload: 'reauth' });
    assert.equal((await out.next(answersTo('reauth'))).payload.state, 'authenticated');
  });

  it('sends a clear error to Catch on a payload that is not a command, and keeps working', async () => {
    const { auth, out, caught, rings } = await deploy();
    await out.next(isState('authenticated'));
    auth.receive({ payload: 'sell everything' });
    const error = await caught.next(() => true);
    assert.match(error.error?.message ?? '', /"sell everything" is not a session command: send "status", "login", "reauth" or "logout"/);
    assert.equal(rings.at(-1)?.fill, 'red');
    auth.receive({ payload: { command: 'status' } });
    assert.match((await caught.next(() => true)).error?.message ?? '', /msg.payload object is not a session command/);
    auth.receive({ payload: 'status' });
    assert.equal((await out.next(answersTo('status'))).payload.state, 'authenticated');
  });

  it('shows missing OAuth credentials on its status and reports them to Catch, without crashing', async () => {
    const { auth, caught, rings, cfg } = await deploy({ mode: 'oauth1a' });
    assert.ok(cfg.settingsError);
    auth.receive({ payload: 'status' });
    const error = await caught.next(() => true);
    assert.match(error.error?.message ?? '', /OAuth 1.0a needs its credentials: consumer key, access token, access-token secret/);
    assert.equal(rings.at(-1)?.fill, 'red');
    assert.match(String(rings.at(-1)?.text), /OAuth 1.0a/);
  });

  it('runs its example flow (Import › Examples) on the simulator', async () => {
    const example = JSON.parse(readFileSync(join(__dirname, '../../flows/nodes/ibkr-auth.json'), 'utf8')) as { id: string; type: string }[];
    await helper.load([configModule, authModule, injectNode, debugNode], example);
    const shown = recordMessages(helper.getNode('ia-debug') as TestNode, WAITS);
    const msg = await shown.next(isState('authenticated'));
    assert.equal(msg.topic, 'ibkr-auth');
    assert.equal(msg.payload.accountId, 'DU1234567');
  });

  it('closes the simulator, the connection and its timers on redeploy', async () => {
    const { out, cfg } = await deploy();
    await out.next(isState('authenticated'));
    const sim = cfg.simulator() as IbkrSimulator;
    const port = Number(new URL(sim.baseUrl).port);
    await helper.unload();
    await assertPortClosed(port);
  });
});
