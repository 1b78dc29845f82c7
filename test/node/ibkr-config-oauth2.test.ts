// ibkr-config's OAuth 2.0 private-key path in the Node-RED runtime, against a loopback "IBKR" (token endpoint,
// sso-sessions, /v1/api): the "Public IP" setting reaches the sso-session JWT as its `ip` claim, from a deployed node
// and from the editor's "Test connection"; a missing, malformed or local address is refused with what to do,
// before anything is sent. Plus the settings rule on its own (planConnection) and the editor's label catalogs.
import { strict as assert } from 'assert';
import { generateKeyPairSync, verify } from 'crypto';
import fs from 'fs';
import path from 'path';
import vm from 'vm';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import { decodeJwt } from '../../lib/ibkr/auth/jwt';
import { planConnection, planPublicIp } from '../../nodes/ibkr-config/settings';
import type { IbkrConfigNode } from '../../nodes/shared/ibkr-connection-registry';
import { startLoopback, type Loopback, type Recorded } from '../unit/ibkr/loopback';
import configModule = require('../../nodes/ibkr-config/ibkr-config');
import authModule = require('../../nodes/ibkr-auth/ibkr-auth');

const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_KEY_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const KEYED = { clientId: 'mia-client', keyId: 'key-1', privateKeyPem: PRIVATE_KEY_PEM, username: 'trader1' };
const PUBLIC_IP = '203.0.113.7';

type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: { error?: { message: string } }) => void): void };
const at = { x: 0, y: 0 };

/** The token endpoint, sso-sessions and a logged-in brokerage session, as IBKR answers them (fact sheet 1(c)). */
function fakeIbkr(req: Recorded): { body: unknown } {
  if (req.path === '/oauth2/api/v1/token') return { body: { access_token: 'ACCESS-1', expires_in: 3600 } };
  if (req.path === '/gw/api/v1/sso-sessions') return { body: { access_token: 'BEARER-1', expires_in: 3600 } };
  if (req.path === '/iserver/accounts') return { body: { accounts: ['DU1234567'], selectedAccount: 'DU1234567', isPaper: true } };
  if (req.path === '/tickle') return { body: { session: 'abc', iserver: { authStatus: { authenticated: true, connected: true, competing: false } } } };
  return { body: { authenticated: true, connected: true, competing: false } };
}

function until<T>(what: string, probe: () => T | undefined, timeoutMs = 8000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      const found = probe();
      if (found !== undefined) {
        clearInterval(poll);
        resolve(found);
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }
    }, 10);
  });
}

/** The sso-sessions request's JWT, checked to be signed with the trader's key. */
function ssoClaims(server: Loopback): Record<string, unknown> | undefined {
  const sso = server.requests.find((r) => r.path === '/gw/api/v1/sso-sessions');
  if (!sso) return undefined;
  assert.equal(sso.headers.authorization, 'Bearer ACCESS-1');
  const jwt = decodeJwt(sso.rawBody);
  assert.ok(verify('sha256', Buffer.from(jwt.signingInput), publicKey, jwt.signature), 'the sso-session JWT verifies with the public key');
  return jwt.claims;
}

describe('ibkr-config OAuth 2.0 with a private key and its Public IP', function () {
  this.timeout(20_000);
  let server: Loopback;
  beforeEach(async () => {
    server = await startLoopback(fakeIbkr);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await server.close();
  });

  function flow(publicIp: unknown) {
    return [
      { id: 'tab', type: 'tab', label: 'oauth2' },
      { id: 'cfg', type: 'ibkr-config', name: 'ibkr', mode: 'oauth2', baseUrl: server.baseUrl, publicIp },
      { id: 'auth', type: 'ibkr-auth', z: 'tab', connection: 'cfg', wires: [[]], ...at },
      { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']], ...at },
      { id: 'caught', type: 'helper', z: 'tab', ...at },
    ];
  }

  it('opens the sso-session with the Public IP as the JWT ip claim and authenticates with its bearer', async () => {
    await helper.load([configModule, authModule, catchNode], flow(` ${PUBLIC_IP} `), { cfg: KEYED });
    const claims = await until('sso-sessions request', () => ssoClaims(server));
    assert.equal(claims.ip, PUBLIC_IP, 'trimmed, as typed');
    assert.equal(claims.credential, 'trader1');
    assert.equal(claims.iss, 'mia-client');
    const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
    await until('an authenticated session', () => (cfg.sessionState().state === 'authenticated' ? true : undefined));
    const api = server.requests.filter((r) => !r.path.startsWith('/oauth2') && !r.path.startsWith('/gw/'));
    assert.ok(api.length > 0 && api.every((r) => r.headers.authorization === 'Bearer BEARER-1'), 'every /v1/api call carries the sso-session bearer');
  });

  it('takes an IPv6 address as well', async () => {
    await helper.load([configModule, authModule, catchNode], flow('2001:db8::7'), { cfg: KEYED });
    const claims = await until('sso-sessions request', () => ssoClaims(server));
    assert.equal(claims.ip, '2001:db8::7');
  });

  for (const [what, publicIp, reason] of [
    ['is missing', undefined, /OAuth 2\.0 with a private key needs the "Public IP" setting: .*public IPv4 or IPv6 address .*deploy/],
    ['is blank', '   ', /needs the "Public IP" setting/],
    ['has a port', '203.0.113.7:443', /the "Public IP" "203\.0\.113\.7:443" is not an IPv4 or IPv6 address: write the bare address/],
    ['is a URL', 'https://203.0.113.7', /"Public IP" "https:\/\/203\.0\.113\.7" is not an IPv4 or IPv6 address/],
    ['is a LAN address', '192.168.1.20', /"Public IP" "192\.168\.1\.20" is a local address .*give the public IP address of your internet connection/],
    ['is not text (a hand-edited flow)', { ip: '203.0.113.7' }, /"Public IP" an object with keys ip is not an IP address written as text/],
  ] as const) {
    it(`refuses a Public IP that ${what} with what to do, in the log and at the using node's Catch, sending nothing to IBKR`, async () => {
      await helper.load([configModule, authModule, catchNode], flow(publicIp), { cfg: KEYED });
      const cfg = helper.getNode('cfg') as unknown as IbkrConfigNode;
      assert.equal(cfg.sessionState().state, 'error');
      assert.match(cfg.sessionState().reason, reason);
      await assert.rejects(cfg.connection(), reason);
      const caught: string[] = [];
      (helper.getNode('caught') as TestNode).on('input', (msg: { error?: { message: string } }) => caught.push(msg.error?.message ?? ''));
      (helper.getNode('auth') as TestNode).receive({ payload: 'status' });
      await until('the refusal at Catch', () => (caught.length > 0 ? true : undefined));
      assert.match(caught[0] ?? '', reason);
      const logged = helper.log().args.map((args) => args.map((a) => JSON.stringify(a)).join(' '));
      assert.ok(logged.some((l) => reason.test(l.replace(/\\"/g, '"'))), 'the reason is in the Node-RED log');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(server.requests, [], 'nothing was sent to IBKR');
    });
  }

  describe('Test connection (POST /ibkr-config/test)', () => {
    // Any deployed flow: the endpoint is registered with the node type.
    const SIMULATOR_ONLY = [{ id: 'cfg', type: 'ibkr-config', name: 'ibkr', mode: 'simulator' }];

    it('sends the dialog\'s Public IP in the sso-session and answers with the account', async () => {
      await helper.load(configModule, SIMULATOR_ONLY);
      const res = await helper
        .request()
        .post('/ibkr-config/test')
        .send({ mode: 'oauth2', baseUrl: server.baseUrl, publicIp: '198.51.100.20', credentials: KEYED })
        .expect(200);
      assert.equal((res.body as { ok: boolean; message: string }).ok, true, (res.body as { message: string }).message);
      assert.equal(ssoClaims(server)?.ip, '198.51.100.20');
    });

    it('answers why a malformed Public IP is refused, without asking IBKR', async () => {
      await helper.load(configModule, SIMULATOR_ONLY);
      const res = await helper.request().post('/ibkr-config/test').send({ mode: 'oauth2', baseUrl: server.baseUrl, publicIp: '203.0.113', credentials: KEYED }).expect(200);
      assert.equal((res.body as { ok: boolean }).ok, false);
      assert.match((res.body as { message: string }).message, /"Public IP" "203\.0\.113" is not an IPv4 or IPv6 address/);
      assert.deepEqual(server.requests, []);
    });
  });
});

describe('ibkr-config "Public IP" setting', () => {
  const secret = { clientId: 'c', username: 'trader1', clientSecret: 's' };

  it('passes the trimmed Public IP to the OAuth 2.0 credentials with the private key', () => {
    const plan = planConnection({ mode: 'oauth2', publicIp: ' 203.0.113.7 ' }, KEYED);
    assert.equal(plan.connection.credentials?.oauth2?.ip, '203.0.113.7');
    assert.equal(plan.connection.credentials?.oauth2?.credential, 'trader1');
  });

  it('does not require it with the client secret (no sso-session), but still refuses a malformed one there', () => {
    assert.equal(planConnection({ mode: 'oauth2' }, secret).connection.credentials?.oauth2?.ip, undefined);
    assert.equal(planConnection({ mode: 'oauth2', publicIp: '2001:db8::7' }, secret).connection.credentials?.oauth2?.ip, '2001:db8::7');
    assert.throws(() => planConnection({ mode: 'oauth2', publicIp: 'my-home' }, secret), /"Public IP" "my-home" is not an IPv4 or IPv6 address/);
  });

  it('ignores it outside OAuth 2.0, where the dialog hides it', () => {
    assert.equal(planConnection({ mode: 'gateway', publicIp: 'stale value' }).connection.credentials, undefined);
  });

  it('refuses loopback, private, carrier-NAT and link-local addresses, IPv4-mapped ones included', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.5', '192.168.1.20', '100.64.0.1', '169.254.1.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:192.168.1.20']) {
      assert.throws(() => planConnection({ mode: 'oauth2', publicIp: ip }, KEYED), /is a local address/, ip);
    }
    for (const ip of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2a00:1450:4007:80e::200e']) {
      assert.equal(planConnection({ mode: 'oauth2', publicIp: ip }, KEYED).connection.credentials?.oauth2?.ip, ip);
    }
  });

  it('refuses zone ids, leading zeros and bracketed forms', () => {
    for (const ip of ['fe80::1%eth0', '2001:db8::7%1', '01.2.3.4', '[2001:db8::7]', '203.0.113.256']) {
      assert.throws(() => planConnection({ mode: 'oauth2', publicIp: ip }, KEYED), /is not an IPv4 or IPv6 address/, ip);
    }
  });

  it('is judged the same by the editor (red field, with the reason) as by the runtime', () => {
    // The dialog's validator, run outside a browser: jQuery stands in for the dialog's fields.
    const html = fs.readFileSync(path.join(__dirname, '../../nodes/ibkr-config/ibkr-config.html'), 'utf8');
    const script = html.split('<script type="text/javascript">')[1]?.split('</script>')[0] ?? '';
    const dialog: Record<string, string> = { mode: 'oauth2', privateKeyPem: '' };
    const field = (selector: string) => {
      const id = selector.replace('#node-config-input-', '');
      return { length: id in dialog ? 1 : 0, val: () => dialog[id], is: () => false, on: () => undefined, trigger: () => undefined };
    };
    let defaults: Record<string, { validate: (this: object, v: unknown, opt: object) => unknown }> = {};
    const RED = { nodes: { registerType: (_t: string, def: { defaults: typeof defaults }) => (defaults = def.defaults) }, validators: { regex: () => () => true, number: () => () => true } };
    vm.runInNewContext(script, { $: field, RED, URL });
    const editor = (ip: string): string => {
      const verdict = defaults.publicIp?.validate.call({ _: (key: string) => key }, ip, {});
      return verdict === true ? 'ok' : String(verdict).replace('ibkr-config.errors.', '');
    };
    const runtime = (ip: string, privateKey: boolean): string => {
      try {
        planPublicIp(ip, privateKey);
        return 'ok';
      } catch (err) {
        const m = (err as Error).message;
        return /needs the "Public IP"/.test(m) ? 'publicIpMissing' : /local address/.test(m) ? 'publicIpLocal' : 'publicIpMalformed';
      }
    };
    const samples = ['203.0.113.7', ' 8.8.8.8 ', '2001:db8::7', '203.0.113.7:443', '[2001:db8::7]', 'fe80::1%eth0', '01.2.3.4', '1.2.3', 'abc', '192.168.1.2', '100.64.0.1', '172.32.0.1', '169.254.9.9', 'fd00::1', 'fe80::1', '::1', '::', '::ffff:192.168.1.20', '::ffff:203.0.113.7'];
    for (const privateKey of [false, true]) {
      dialog.privateKeyPem = privateKey ? '__PWRD__' : '';
      for (const ip of ['', ...samples]) assert.equal(editor(ip), runtime(ip, privateKey), `${JSON.stringify(ip)}, private key ${privateKey}`);
    }
    dialog.mode = 'gateway';
    assert.equal(editor('abc'), 'ok', 'not checked outside OAuth 2.0');
  });

  it('labels the field in English and French, with the editor\'s three reasons', () => {
    for (const locale of ['en-US', 'fr']) {
      const file = path.join(__dirname, '../../nodes/ibkr-config/locales', locale, 'ibkr-config.json');
      const catalog = (JSON.parse(fs.readFileSync(file, 'utf8')) as { 'ibkr-config': Record<string, Record<string, string>> })['ibkr-config'];
      for (const key of ['label.publicIp', 'placeholder.publicIp', 'tip.publicIp', 'errors.publicIpMissing', 'errors.publicIpMalformed', 'errors.publicIpLocal']) {
        const [group = '', name = ''] = key.split('.');
        assert.ok(catalog[group]?.[name], `${locale}: ${key}`);
      }
      const help = fs.readFileSync(path.join(path.dirname(file), 'ibkr-config.html'), 'utf8');
      assert.match(help, locale === 'fr' ? /<dt>IP publique/ : /<dt>Public IP/);
    }
  });
});
