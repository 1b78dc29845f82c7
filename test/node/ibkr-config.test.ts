// ibkr-config in the Node-RED runtime: simulator mode starts a real simulator on loopback and authenticates over
// HTTPS; settings errors become clear errors instead of crashes; the editor's "Test connection" endpoint answers
// with the account or the reason; redeploy closes the simulator's port. Plus the settings rules on their own.
import { strict as assert } from 'assert';
import helper from 'node-red-node-test-helper';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import Redis from 'ioredis';
import { clusterId } from '../../lib/ibkr/cluster';
import { CREDENTIAL_FIELDS, DEFAULT_REDIS_PORT, normalizePem, planConnection, type IbkrConfigCredentials } from '../../nodes/ibkr-config/settings';
import { assertPortClosed } from '../support/ports';
import { testTimeLeft } from '../support/budget';
import { useTestRedis } from '../support/redis';
import { mergeCredentials } from '../../nodes/shared/credentials';
import type { IbkrConfigNode, IbkrStateEvent } from '../../nodes/shared/ibkr-connection-registry';
import configModule = require('../../nodes/ibkr-config/ibkr-config');

helper.init(require.resolve('node-red'));

function configFlow(config: Record<string, unknown>) {
  return [
    { id: 'tab', type: 'tab', label: 'config' },
    { id: 'cfg', type: 'ibkr-config', name: 'ibkr', ...config },
  ];
}

function untilState(cfg: IbkrConfigNode, state: string, timeoutMs = 8000): Promise<IbkrStateEvent> {
  if (cfg.sessionState().state === state) return Promise.resolve(cfg.sessionState());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no "${state}" state within ${timeoutMs} ms (now ${cfg.sessionState().state})`));
    }, timeoutMs);
    const off = cfg.onState((event) => {
      if (event.state !== state) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

interface TestResult {
  ok: boolean;
  mode: string;
  accountId?: string;
  state: string;
  message: string;
}

async function postTest(body: object): Promise<TestResult> {
  const res = await helper.request().post('/ibkr-config/test').send(body).expect(200);
  return res.body as TestResult;
}

describe('ibkr-config node', function () {
  this.timeout(20_000);
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  it('starts the simulator on a loopback HTTPS port and authenticates, trading off', async () => {
    await helper.load(configModule, configFlow({ mode: 'simulator', simSeed: 5, simSpeed: 2, simTls: true }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    const event = await untilState(cfg, 'authenticated');
    assert.equal(event.accountId, 'DU1234567');
    const sim = cfg.simulator() as IbkrSimulator;
    assert.match(sim.baseUrl, /^https:\/\/127\.0\.0\.1:\d+\/v1\/api$/);
    assert.equal(sim.market.seed, 5);
    const connection = await cfg.connection();
    assert.equal(connection.tradingEnabled, false);
    assert.equal(connection.auth.baseUrl, sim.baseUrl);
    const accounts = await connection.client.accounts();
    assert.deepEqual(accounts.accounts, ['DU1234567']);
  });

  it('unsubscribes a state listener', async () => {
    await helper.load(configModule, configFlow({ mode: 'simulator', simTls: false }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    const seen: string[] = [];
    const off = cfg.onState((e) => seen.push(e.state));
    off();
    await untilState(cfg, 'authenticated');
    assert.deepEqual(seen, []);
  });

  it('shares one stream created lazily from the connection', async () => {
    await helper.load(configModule, configFlow({ mode: 'simulator', simTls: false }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await untilState(cfg, 'authenticated');
    const stream = await cfg.stream();
    assert.equal(stream, await cfg.stream(), 'one WebSocket per connection');
    assert.equal(stream.state, 'idle', 'nothing opened until a node subscribes');
  });

  it('turns missing credentials into a clear error for the using nodes, without crashing', async () => {
    await helper.load(configModule, configFlow({ mode: 'oauth2' }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    const state = cfg.sessionState();
    assert.equal(state.state, 'error');
    assert.match(state.reason, /OAuth 2.0 needs its credentials: client id, username missing/);
    await assert.rejects(cfg.connection(), /OAuth 2.0 needs its credentials/);
  });

  it('turns a bad base URL into a clear error', async () => {
    await helper.load(configModule, configFlow({ mode: 'gateway', baseUrl: 'https://local host:5000/v1/api' }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    assert.match(cfg.sessionState().reason, /base URL "https:\/\/local host:5000\/v1\/api" is not a URL/);
  });

  it('reports an unreachable Gateway as reconnecting, with the reason', async () => {
    await helper.load(configModule, configFlow({ mode: 'gateway', baseUrl: 'https://127.0.0.1:9/v1/api' }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    const event = await untilState(cfg, 'reconnecting');
    assert.ok(event.reason.length > 10, event.reason);
  });

  it('closes the simulator port, its sockets and its timers on redeploy', async () => {
    const openHandles = (): number => process.getActiveResourcesInfo().filter((r) => r !== 'FSReqCallback').length;
    // Node-RED's own timers of a deploy cycle, measured on an empty flow first.
    await helper.load(configModule, [{ id: 'tab', type: 'tab' }]);
    await helper.unload();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = openHandles();
    await helper.load(configModule, configFlow({ mode: 'simulator' }));
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await untilState(cfg, 'authenticated');
    const port = Number(new URL((cfg.simulator() as IbkrSimulator).baseUrl).port);
    assert.ok(openHandles() > before);
    await helper.unload();
    await assertPortClosed(port);
    // Sockets and timers go as their close callbacks run (later on a busy machine): wait for it, within the budget.
    const deadline = Date.now() + testTimeLeft();
    while (openHandles() > before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(openHandles() <= before, `handles before ${before}, after ${openHandles()}: ${process.getActiveResourcesInfo().join(', ')}`);
  });

  describe('Test connection (POST /ibkr-config/test)', () => {
    it('answers with the authenticated account for the simulator', async () => {
      await helper.load(configModule, configFlow({ mode: 'simulator' }));
      const result = await postTest({ mode: 'simulator', simSeed: 2, accountId: 'DU7654321' });
      assert.deepEqual(
        { ok: result.ok, accountId: result.accountId, state: result.state },
        { ok: true, accountId: 'DU7654321', state: 'authenticated' },
      );
      assert.match(result.message, /account DU7654321/);
    });

    it('answers with the reason when credentials are missing, naming them', async () => {
      await helper.load(configModule, configFlow({ mode: 'simulator' }));
      const result = await postTest({ mode: 'oauth1a', credentials: { consumerKey: 'ABCDEFGHI', accessToken: '__PWRD__' } });
      assert.equal(result.ok, false);
      assert.match(result.message, /access token, access-token secret, signature key \(PEM\), encryption key \(PEM\), DH prime missing/);
    });

    it('uses the stored credentials of an existing node when the dialog sends the placeholder', async () => {
      await helper.load(configModule, configFlow({ mode: 'oauth2' }), { cfg: { clientId: 'stored-client', username: 'trader1', clientSecret: 'stored-secret' } });
      // Only the client secret is stored as a password; with it merged in, the settings are complete and the
      // test goes on to reach IBKR (here an unreachable address, so the reason is a network one, not "missing").
      const result = await postTest({ id: 'cfg', mode: 'oauth2', baseUrl: 'https://127.0.0.1:9/v1/api', credentials: { clientId: 'stored-client', username: 'trader1', clientSecret: '__PWRD__' } });
      assert.equal(result.ok, false);
      assert.doesNotMatch(result.message, /missing/);
      assert.doesNotMatch(result.message, /stored-secret/, 'a secret never appears in a message');
    });

    it('answers with the reason when the Gateway is not reachable', async () => {
      await helper.load(configModule, configFlow({ mode: 'simulator' }));
      const result = await postTest({ mode: 'gateway', baseUrl: 'https://127.0.0.1:9/v1/api' });
      assert.equal(result.ok, false);
      assert.equal(result.state, 'reconnecting');
      assert.ok(result.message.length > 10);
    });
  });
});

describe('ibkr-config sharing rate limits over a real Redis', function () {
  this.timeout(20_000);
  const PASSWORD = 'redis-test-pw';
  const redis = useTestRedis('the Redis sharing test');

  before(async () => {
    const admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await admin.connect();
    await admin.call('CONFIG', 'SET', 'requirepass', PASSWORD);
    admin.disconnect();
  });
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
  });

  /** Client names and keys as Redis sees them, read with the password. */
  async function inRedis(): Promise<{ clients: string[]; keys: string[] }> {
    const admin = new Redis({ host: redis.host, port: redis.port, password: PASSWORD, lazyConnect: true });
    try {
      await admin.connect();
      const list = (await admin.call('CLIENT', 'LIST')) as string;
      const clients = list.split('\n').map((line) => /name=(\S*)/.exec(line)?.[1] ?? '').filter(Boolean);
      return { clients, keys: await admin.keys('*') };
    } finally {
      admin.disconnect();
    }
  }

  it('shares its limiter state in Redis under the hashed account, with the password from its credentials, and lets go on redeploy', async () => {
    const settings = { mode: 'simulator', simTls: false, accountId: 'DU1234567', clusterEnabled: true, redisHost: redis.host, redisPort: String(redis.port) };
    await helper.load(configModule, configFlow(settings), { cfg: { redisPassword: PASSWORD } });
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await untilState(cfg, 'authenticated');
    const shared = await inRedis();
    assert.ok(shared.clients.includes('mia-ibkr-limiter'), `the connection's limiter is a Redis client: ${shared.clients.join(', ')}`);
    const id = clusterId('DU1234567');
    assert.ok(shared.keys.some((k) => k.includes(id)), `limiter keys under ${id}: ${shared.keys.slice(0, 5).join(', ')}`);
    assert.ok(!shared.keys.some((k) => k.includes('DU1234567')), 'no account id is written to Redis');
    await helper.unload();
    const deadline = Date.now() + testTimeLeft();
    while ((await inRedis()).clients.includes('mia-ibkr-limiter') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!(await inRedis()).clients.includes('mia-ibkr-limiter'), 'redeploy closes the Redis connection');
  });
});

describe('ibkr-config settings', () => {
  it('maps "Share rate limits over Redis" to the connection cluster option, the password from the credentials', () => {
    assert.equal(planConnection({ mode: 'simulator', accountId: 'DU1234567' }).connection.cluster, undefined, 'off by default');
    assert.equal(planConnection({ mode: 'simulator', clusterEnabled: false, redisHost: 'redis.local' }).connection.cluster, undefined);
    const plan = planConnection(
      { mode: 'gateway', accountId: 'U1234567', clusterEnabled: 'true', redisHost: ' redis.local ', redisPort: '6380' },
      { redisPassword: 's3cret' },
    );
    assert.deepEqual(plan.connection.cluster, { redis: { host: 'redis.local', port: 6380, password: 's3cret' }, username: 'U1234567' });
    const withId = planConnection({ mode: 'simulator', clusterEnabled: true, redisHost: '127.0.0.1', clusterId: 'desk-a' });
    assert.deepEqual(withId.connection.cluster, { redis: { host: '127.0.0.1', port: DEFAULT_REDIS_PORT }, id: 'desk-a' });
    // OAuth 2.0 without an account: the IBKR username is whose limits are shared.
    const oauth2 = planConnection({ mode: 'oauth2', clusterEnabled: true, redisHost: '127.0.0.1' }, { clientId: 'c', username: 'trader1', clientSecret: 's' });
    assert.equal(oauth2.connection.cluster?.username, 'trader1');
  });

  it('refuses incomplete or malformed Redis sharing settings with what to do', () => {
    const on = { mode: 'simulator', accountId: 'DU1234567', clusterEnabled: true, redisHost: '127.0.0.1' };
    assert.throws(() => planConnection({ ...on, redisHost: '' }), /Redis host is empty/);
    assert.throws(() => planConnection({ ...on, redisHost: 'redis://x y' }), /not a host name or IP address/);
    assert.throws(() => planConnection({ ...on, redisPort: '70000' }), /Redis port "70000" is not valid/);
    assert.throws(() => planConnection({ ...on, redisPort: 'abc' }), /Redis port "abc" is not valid/);
    assert.throws(() => planConnection({ ...on, clusterId: 'desk a' }), /cluster id "desk a" may only use/);
    assert.throws(() => planConnection({ ...on, accountId: '' }), /fill in the account \(or a cluster id/);
  });


  it('defaults each mode to its documented base URL', () => {
    assert.equal(planConnection({ mode: 'gateway' }).connection.baseUrl, 'https://localhost:5000/v1/api');
    const oauth = planConnection({ mode: 'oauth2' }, { clientId: 'c', username: 'u', clientSecret: 's' });
    assert.equal(oauth.connection.baseUrl, 'https://api.ibkr.com/v1/api');
  });

  it('keeps trading off and self-signed certificates refused unless ticked, and self-signed for the Gateway only', () => {
    const gateway = planConnection({ mode: 'gateway' });
    assert.equal(gateway.connection.tradingEnabled, false);
    assert.equal(gateway.connection.allowSelfSigned, false);
    assert.equal(planConnection({ mode: 'gateway', allowSelfSigned: true, trading: 'true' }).connection.allowSelfSigned, true);
    const oauth = planConnection({ mode: 'oauth2', allowSelfSigned: true }, { clientId: 'c', username: 'u', clientSecret: 's' });
    assert.equal(oauth.connection.allowSelfSigned, undefined);
  });

  it('refuses an unknown mode, rate preset, account id or simulator speed with what to do', () => {
    assert.throws(() => planConnection({ mode: 'fix' }), /unknown mode "fix"/);
    assert.throws(() => planConnection({ ratePreset: 'fast' }), /unknown rate-limit preset "fast"/);
    assert.throws(() => planConnection({ accountId: 'DU 12' }), /not an IBKR account id/);
    assert.throws(() => planConnection({ simSpeed: '-1' }), /simulator speed "-1" is not valid/);
    // A hand-edited flow can hold anything: the refusal describes it instead of printing "[object Object]".
    assert.throws(() => planConnection({ simSpeed: { x: 2 } as unknown as string }), /simulator speed an object with keys x is not valid: use a number above 0 and at most 1000/);
    assert.throws(() => planConnection({ simSeed: '1.5' }), /simulator seed "1\.5" is not valid: use a whole number/);
    assert.throws(() => planConnection({ mode: 'gateway', baseUrl: 'ftp://x/v1/api' }), /must start with https/);
  });

  it('reflows a PEM pasted into a one-line field', () => {
    const body = 'A'.repeat(100);
    const pem = normalizePem(`-----BEGIN PRIVATE KEY----- ${body} -----END PRIVATE KEY-----`);
    assert.equal(pem, `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(64)}\n${'A'.repeat(36)}\n-----END PRIVATE KEY-----\n`);
  });

  it('takes the dialog credentials over the stored ones, except placeholders and blanks', () => {
    assert.deepEqual(mergeCredentials<IbkrConfigCredentials>(CREDENTIAL_FIELDS, { clientId: 'new', clientSecret: '__PWRD__', username: '' }, { clientId: 'old', clientSecret: 's', username: 'u' }), {
      clientId: 'new',
      clientSecret: 's',
      username: 'u',
    });
  });
});
