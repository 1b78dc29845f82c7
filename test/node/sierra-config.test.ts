import { strict as assert } from 'assert';
import net from 'net';
import helper from 'node-red-node-test-helper';
import { createMarket } from '../../lib/sim/market';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import { planConnection } from '../../nodes/sierra-config/settings';
import configModule = require('../../nodes/sierra-config/sierra-config');

helper.init(require.resolve('node-red'));

interface TestResult {
  ok: boolean;
  message: string;
  accounts?: string[];
}

function configFlow(config: Record<string, unknown>) {
  return [{ id: 'cfg', type: 'sierra-config', heartbeatSec: 1, ...config }];
}

function connectionOf(): Promise<import('../../lib/sierra/connection').SierraConnection> {
  return (helper.getNode('cfg') as unknown as SierraConfigNode).connection();
}

/** Resolves true when something accepts a TCP connection on `port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('sierra-config node', function () {
  this.timeout(20_000);
  const market = createMarket({ seed: 5, speed: 0.001 });
  let external: DtcSimulator | undefined;

  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await external?.close();
    external = undefined;
  });

  it('keeps trading off unless the trader ticks it', () => {
    assert.equal(planConnection({}).client.tradingEnabled, false);
    assert.equal(planConnection({ tradingEnabled: 'false' }).client.tradingEnabled, false);
    assert.equal(planConnection({ tradingEnabled: true }).client.tradingEnabled, true);
  });

  it('reads the dialog with the documented defaults and says which setting is wrong', () => {
    const plan = planConnection({}, {}, Date.UTC(2025, 9, 1));
    assert.equal(plan.client.port, 11099);
    assert.equal(plan.client.host, '127.0.0.1');
    assert.equal(plan.client.tradeAccount, 'Sim1');
    assert.equal(plan.client.encoding, 'automatic');
    assert.equal(plan.symbol, 'ESZ25_FUT_CME', 'empty symbol: the ES front month');
    assert.deepEqual(plan.simulator, { seed: 1, speed: 1 });
    assert.equal(plan.client.username, undefined);
    assert.equal(planConnection({ mode: 'sierra', symbol: ' ESH26-CME ' }).symbol, 'ESH26-CME');
    assert.equal(planConnection({ mode: 'sierra' }).simulator, undefined);
    assert.equal(planConnection({ handshake: false }).client.encoding, 'json');
    assert.throws(() => planConnection({ maxPosition: '1.5' }), /max position "1.5" is not valid/);
    assert.throws(() => planConnection({ tradingStart: '25:00' }), /trading start "25:00"/);
    assert.throws(() => planConnection({ mode: 'live' }), /unknown mode "live"/);
  });

  it('in simulator mode starts its own DTC simulator on loopback, logs on, and closes it all on redeploy', async () => {
    await helper.load(configModule, configFlow({ mode: 'simulator', simSeed: 9, simSpeed: 0.001 }));
    const connection = await connectionOf();
    await connection.whenReady(10_000);
    const sim = connection.simulator;
    assert.ok(sim);
    assert.equal(sim.host, '127.0.0.1');
    assert.equal(sim.sessionCount(), 1);
    const port = sim.port;
    await helper.unload();
    assert.equal(await listening(port), false, 'the simulator stopped listening');
    assert.equal(connection.status().state, 'closed');
  });

  it('in Sierra Chart mode connects over WebSocket with the username and password from the credential store', async () => {
    external = await startDtcSimulator({ market, requireAuthentication: { username: 'trader', password: 's3cret' } });
    await helper.load(configModule, configFlow({ mode: 'sierra', port: external.port, transport: 'websocket', tradeAccount: 'Sim1' }), {
      cfg: { username: 'trader', password: 's3cret' },
    });
    const connection = await connectionOf();
    await connection.whenReady(10_000);
    assert.equal(external.sessionCount(), 1);
    assert.equal(connection.simulator, undefined, 'no simulator of its own in Sierra Chart mode');
  });

  it('reports bad settings through connection() with what to fix', async () => {
    await helper.load(configModule, configFlow({ mode: 'sierra', port: 70000 }));
    await assert.rejects(connectionOf(), /port 70000 is not valid/);
  });

  describe('POST /sierra-config/test', () => {
    it('answers the trade accounts of a simulator logon', async () => {
      await helper.load(configModule, []);
      const res = await helper.request().post('/sierra-config/test').send({ mode: 'simulator', tradeAccount: 'Sim1' }).expect(200);
      const body = res.body as TestResult;
      assert.equal(body.ok, true, body.message);
      assert.deepEqual(body.accounts, ['Sim1']);
      assert.match(body.message, /accounts Sim1/);
    });

    it('says why a logon was refused, without ever echoing the password', async () => {
      external = await startDtcSimulator({ market, requireAuthentication: { username: 'trader', password: 's3cret' } });
      await helper.load(configModule, []);
      const res = await helper
        .request()
        .post('/sierra-config/test')
        .send({ mode: 'sierra', port: external.port, credentials: { username: 'trader', password: 'wrong-pass' } })
        .expect(200);
      const body = res.body as TestResult;
      assert.equal(body.ok, false);
      assert.match(body.message, /refused the logon/);
      assert.doesNotMatch(JSON.stringify(body), /wrong-pass|s3cret/);
    });

    it('uses the stored password when the dialog sends the placeholder', async () => {
      external = await startDtcSimulator({ market, requireAuthentication: { username: 'trader', password: 's3cret' } });
      await helper.load(configModule, configFlow({ mode: 'sierra', port: external.port }), { cfg: { username: 'trader', password: 's3cret' } });
      const res = await helper
        .request()
        .post('/sierra-config/test')
        .send({ id: 'cfg', mode: 'sierra', port: external.port, credentials: { username: 'trader', password: '__PWRD__' } })
        .expect(200);
      assert.equal((res.body as TestResult).ok, true, (res.body as TestResult).message);
    });

    it('says what to check when nothing listens on the port', async () => {
      const free = await new Promise<number>((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as net.AddressInfo).port;
          s.close(() => resolve(port));
        });
      });
      await helper.load(configModule, []);
      const res = await helper.request().post('/sierra-config/test').send({ mode: 'sierra', port: free }).expect(200);
      const body = res.body as TestResult;
      assert.equal(body.ok, false);
      assert.match(body.message, /Cannot connect to Sierra Chart .*ECONNREFUSED/);
    });
  });

  describe('GET /sierra-config/symbol', () => {
    it('previews the symbol that will be sent, in every common format', async () => {
      await helper.load(configModule, []);
      const res = await helper.request().get('/sierra-config/symbol').query({ root: 'ES', month: 'Z', year: '25' }).expect(200);
      assert.equal(res.body.symbol, 'ESZ25_FUT_CME');
      assert.equal(res.body.forms['exchange-suffix'], 'ESZ25-CME');
      assert.equal(res.body.forms.cqg, 'F.US.EPZ25');
      const mes = await helper.request().get('/sierra-config/symbol').query({ root: 'mes', month: 'H', year: '2026', format: 'exchange-suffix' }).expect(200);
      assert.equal(mes.body.symbol, 'MESH26-CME');
      assert.match(mes.body.frontMonth, /^MES[HMUZ]\d{2}-CME$/);
    });

    it('answers 400 with the reason for a month code that does not exist', async () => {
      await helper.load(configModule, []);
      const res = await helper.request().get('/sierra-config/symbol').query({ root: 'ES', month: 'A', year: '25' }).expect(400);
      assert.match(res.body.message, /Month code "A" is not valid/);
    });
  });
});
