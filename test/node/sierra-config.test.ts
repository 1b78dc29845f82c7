import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import { createMarket } from '../../lib/sim/market';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import type { SierraConfigNode } from '../../nodes/sierra-config/api';
import { frontMonthSymbol } from '../../lib/sierra/symbols';
import { planConnection, previewSymbol, type SymbolPreview } from '../../nodes/sierra-config/settings';
import configModule = require('../../nodes/sierra-config/sierra-config');
import { freeLoopbackPort } from '../support/free-port';
import { portAccepts } from '../support/ports';

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
    const plan = planConnection({});
    assert.equal(plan.client.port, 11099);
    assert.equal(plan.client.host, '127.0.0.1');
    assert.equal(plan.client.tradeAccount, 'Sim1');
    assert.equal(plan.client.encoding, 'automatic');
    assert.deepEqual(plan.symbol, { root: 'ES', format: 'sierra-cme' }, 'empty symbol: the ES front month, rolling');
    assert.equal(plan.risk.tickSize, 0.25);
    assert.equal(plan.risk.limits.pointValue, 50);
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
    assert.equal(await portAccepts(port), false, 'the simulator stopped listening');
    assert.equal(connection.status().state, 'closed');
  });

  it('trades the registry front month of the chosen instrument, asked at each order, and keeps a typed symbol', async () => {
    await helper.load(configModule, configFlow({ mode: 'simulator', simSeed: 9, simSpeed: 0.001, root: 'MES', symbolFormat: 'exchange-suffix' }));
    const connection = await connectionOf();
    await connection.whenReady(10_000);
    assert.equal(connection.rolls, true);
    assert.equal(connection.symbol, frontMonthSymbol('MES', connection.now(), 'exchange-suffix'));
    assert.equal(connection.symbolAt(Date.UTC(2026, 5, 10, 17)), 'MESU26-CME', 'on the roll date the next contract');
    assert.equal(connection.riskState().limits.pointValue, 5);
    await helper.unload();
    await helper.load(configModule, configFlow({ mode: 'simulator', simSeed: 9, simSpeed: 0.001, symbol: 'MESM26-CME' }));
    const fixed = await connectionOf();
    assert.equal(fixed.rolls, false);
    assert.equal(fixed.symbolAt(Date.UTC(2026, 5, 10, 17)), 'MESM26-CME');
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
      const free = await freeLoopbackPort();
      await helper.load(configModule, []);
      const res = await helper.request().post('/sierra-config/test').send({ mode: 'sierra', port: free }).expect(200);
      const body = res.body as TestResult;
      assert.equal(body.ok, false);
      assert.match(body.message, /Cannot connect to Sierra Chart .*ECONNREFUSED/);
    });
  });

  it('takes tick size and point value from the contract traded, and refuses a contradicting value', () => {
    const mes = planConnection({ root: 'MES' });
    assert.deepEqual(mes.symbol, { root: 'MES', format: 'sierra-cme' });
    assert.equal(mes.risk.limits.pointValue, 5, 'MES is $5 a point, not the ES default');
    assert.equal(planConnection({ symbol: 'F.US.MESZ26' }).risk.limits.pointValue, 5);
    assert.equal(planConnection({ symbol: 'NQZ26_FUT_CME', pointValue: '20' }).risk.limits.pointValue, 20);
    assert.throws(() => planConnection({ symbol: 'MESZ26_FUT_CME', pointValue: 50 }), /point value \(\$\) 50 contradicts the contract traded \(5\)/);
    assert.throws(() => planConnection({ root: 'ES', tickSize: '0.5' }), /tick size 0.5 contradicts/);
    assert.throws(() => planConnection({ symbol: 'CLZ26_FUT_NYMEX', tickSize: 0.01 }), /point value \(\$\) is empty/);
    assert.throws(() => planConnection({ symbol: 'CLZ26_FUT_NYMEX', pointValue: 1000 }), /tick size is empty/);
    const cl = planConnection({ symbol: 'CLZ26_FUT_NYMEX', pointValue: 1000, tickSize: 0.01 });
    assert.equal(cl.symbol, 'CLZ26_FUT_NYMEX');
    assert.equal(cl.risk.limits.pointValue, 1000);
    assert.throws(() => planConnection({ root: 'CL' }), /"CL" is not an instrument the front-month rule knows/);
  });

  describe('GET /sierra-config/symbol', () => {
    it('shows the one contract traded now, its expiry and its roll date', async () => {
      await helper.load(configModule, []);
      const res = await helper.request().get('/sierra-config/symbol').query({ root: 'ES', format: 'exchange-suffix' }).expect(200);
      const body = res.body as SymbolPreview & { ok: boolean };
      const expected = previewSymbol({ root: 'ES', format: 'exchange-suffix' }, Date.now());
      assert.equal(body.mode, 'front-month');
      assert.match(body.symbol, /^ES[HMUZ]\d{2}-CME$/);
      assert.equal(body.symbol, expected.symbol);
      assert.equal(body.rollDate, expected.rollDate);
      const fixed = await helper.request().get('/sierra-config/symbol').query({ symbol: 'MESH27_FUT_CME' }).expect(200);
      assert.equal(fixed.body.mode, 'fixed');
      assert.equal(fixed.body.symbol, 'MESH27_FUT_CME');
      assert.equal(fixed.body.contract, 'MESH27');
      assert.equal(fixed.body.expiry, '2027-03-19');
      assert.equal(fixed.body.rollDate, null, 'a typed symbol never rolls');
      assert.equal(fixed.body.pointValue, 5);
    });

    it('answers 400 with the reason for a root the registry does not know', async () => {
      await helper.load(configModule, []);
      const res = await helper.request().get('/sierra-config/symbol').query({ root: 'XX' }).expect(400);
      assert.match(res.body.message, /"XX" is not an instrument/);
    });
  });

  it('previews the front month and the roll for any instant (the editor line)', () => {
    const before = previewSymbol({ root: 'ES' }, Date.UTC(2026, 5, 9, 17));
    assert.equal(before.symbol, 'ESM26_FUT_CME');
    assert.equal(before.expiry, '2026-06-18', 'Juneteenth 2026 moves the expiry to Thursday');
    assert.equal(before.rollDate, '2026-06-10');
    assert.equal(before.nextSymbol, 'ESU26_FUT_CME');
    assert.equal(previewSymbol({ root: 'ES' }, Date.UTC(2026, 5, 10, 17)).symbol, 'ESU26_FUT_CME');
    const typed = previewSymbol({ symbol: 'ESM26_FUT_CME' }, Date.UTC(2026, 5, 10, 17));
    assert.equal(typed.description, 'ESM26_FUT_CME (ESM26, expires 2026-06-18): fixed, never rolled; the front month now is ESU26');
  });
});
