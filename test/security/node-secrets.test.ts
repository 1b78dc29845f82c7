// Secrets in the Node-RED runtime (node-red-node-test-helper): recognisable secrets in every credential field
// (ibkr-config OAuth 1.0a and 2.0, sierra-config DTC password) on configurations that fail in secret-bearing ways —
// OAuth against an unreachable loopback port and against a loopback server that refuses every request and echoes
// what it was sent (headers and body) into its error answer, a wrong DTC password against the DTC simulator with
// authentication on — then session commands, quotes and an order sent to the nodes. Every status text, every error
// reaching Catch, every message the nodes send and every log call is scanned with leaks() (clear, base64,
// base64url, URL-encoded): none may hold a secret.
import { strict as assert } from 'assert';
import { constants, generateKeyPairSync, getDiffieHellman, publicEncrypt } from 'crypto';
import http from 'http';
import type { AddressInfo } from 'net';
import helper from 'node-red-node-test-helper';
import type { Node } from 'node-red';
import { createMarket } from '../../lib/sim/market';
import { startDtcSimulator, type DtcSimulator } from '../../lib/sim/dtc';
import { SECRETS, leaks } from './support/secrets';
import ibkrConfig = require('../../nodes/ibkr-config/ibkr-config');
import ibkrAuth = require('../../nodes/ibkr-auth/ibkr-auth');
import ibkrQuote = require('../../nodes/ibkr-quote/ibkr-quote');
import ibkrAccount = require('../../nodes/ibkr-account/ibkr-account');
import sierraConfig = require('../../nodes/sierra-config/sierra-config');
import sierraOrder = require('../../nodes/sierra-order/sierra-order');

const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const statusNode = require('@node-red/nodes/core/common/25-status.js');

helper.init(require.resolve('node-red'));

type TestNode = Node & { receive(msg: object): void; on(event: 'input', listener: (msg: Record<string, unknown>) => void): void };

/** How long the failing connections get to retry, fail and report before the scan (bounded: the test is ≲ 15 s). */
const FAILING_FOR_MS = 6_000;
const at = { x: 0, y: 0 };

const OAUTH1 = { consumerKey: SECRETS.consumerKey, accessToken: SECRETS.accessToken, accessTokenSecret: SECRETS.accessTokenSecret, signatureKeyPem: SECRETS.signatureKeyPem, encryptionKeyPem: SECRETS.encryptionKeyPem, dhPrime: SECRETS.dhPrime, realm: 'limited_poa' };
const OAUTH2 = { clientId: SECRETS.clientId, keyId: SECRETS.keyId, clientSecret: SECRETS.clientSecret, privateKeyPem: SECRETS.privateKeyPem, username: SECRETS.username };
/** OAuth 2.0 with the client secret: no key to parse, so the first request carries the secrets to the server. */
const OAUTH2_SECRET = { clientId: SECRETS.clientId, clientSecret: SECRETS.clientSecret, username: SECRETS.username };

/**
 * OAuth 1.0a credentials that parse (real RSA keys, the access-token secret really encrypted, a real DH prime), so the
 * live-session-token request reaches the server with the consumer key and access token in its header. The real keys
 * and the encrypted secret cannot carry a marker: they are scanned as `extra` secrets (a distinctive slice of each).
 */
function parsableOAuth1(): { credentials: Record<string, string>; extra: Record<string, string> } {
  const rsa = () => generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const signature = rsa();
  const encryption = rsa();
  const encrypted = publicEncrypt({ key: encryption.publicKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(SECRETS.accessTokenSecret)).toString('base64');
  const slice = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '').slice(200, 240);
  return {
    credentials: { ...OAUTH1, signatureKeyPem: signature.privateKey, encryptionKeyPem: encryption.privateKey, accessTokenSecret: encrypted, dhPrime: getDiffieHellman('modp14').getPrime('hex') },
    extra: { realSignatureKey: slice(signature.privateKey), realEncryptionKey: slice(encryption.privateKey), encryptedAccessTokenSecret: encrypted.slice(0, 40) },
  };
}

/**
 * A loopback "IBKR" that refuses everything with 401: with IBKR's plain answer, or (`echo`), as the worst server
 * would, with the request's body and headers quoted back in its error text: whatever the library copies from an
 * answer into a message must be scrubbed.
 */
async function refusingServer(echo: boolean): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      requests++;
      res.writeHead(401, { 'Content-Type': 'application/json' });
      // Echoed: the secrets first (form body, then the Authorization header), so a clipped quote still holds them.
      const text = echo ? `not authorized: ${body} ${req.headers.authorization ?? ''} ${req.method} ${req.url} ${JSON.stringify(req.headers)}` : 'invalid consumer';
      res.end(JSON.stringify({ error: text, statusCode: 401 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/api`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('secrets in the Node-RED runtime: statuses, Catch errors, sent messages and logs', function () {
  this.timeout(30_000);
  const market = createMarket({ seed: 11, speed: 0.001 });
  let dtc: DtcSimulator;
  let refusing: Awaited<ReturnType<typeof refusingServer>> | undefined;

  before(async () => {
    dtc = await startDtcSimulator({ market, requireAuthentication: { username: 'trader', password: 'the-right-password' } });
  });
  after(async () => {
    await dtc?.close();
  });
  beforeEach(() => helper.startServer());
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await refusing?.close();
    refusing = undefined;
  });

  /** Deploys the failing configurations, drives every node, and returns the secrets found in what came out. */
  async function scan(echo: boolean): Promise<Record<'statuses' | 'caught' | 'sent' | 'log', string[]>> {
    refusing = await refusingServer(echo);
    const unreachable = 'https://127.0.0.1:1/v1/api';
    const ibkrConfigs = [
      { id: 'oauth1-down', mode: 'oauth1a', baseUrl: unreachable },
      { id: 'oauth2-down', mode: 'oauth2', baseUrl: unreachable, publicIp: '203.0.113.7' },
      { id: 'oauth1-refused', mode: 'oauth1a', baseUrl: refusing.url },
      { id: 'oauth2-refused', mode: 'oauth2', baseUrl: refusing.url },
      { id: 'oauth2-key-refused', mode: 'oauth2', baseUrl: refusing.url, publicIp: '203.0.113.7' },
    ];
    const flow = [
      { id: 'tab', type: 'tab', label: 'secrets' },
      // A config node's name must not equal a node id: Node-RED would take it for a reference.
      ...ibkrConfigs.map((c) => ({ ...c, type: 'ibkr-config', name: `IBKR ${c.mode}`, trading: true, marketData: true })),
      { id: 'dtc', type: 'sierra-config', name: 'Sierra DTC', mode: 'sierra', host: '127.0.0.1', port: dtc.port, heartbeatSec: 1, tradingEnabled: true, tradingHoursEnabled: false },
      ...ibkrConfigs.flatMap((c) => [
        { id: `auth-${c.id}`, type: 'ibkr-auth', z: 'tab', connection: c.id, wires: [['out']], ...at },
        { id: `quote-${c.id}`, type: 'ibkr-quote', z: 'tab', connection: c.id, symbol: 'ES', mode: 'snapshot', wires: [['out']], ...at },
        { id: `account-${c.id}`, type: 'ibkr-account', z: 'tab', connection: c.id, view: 'summary', pollSec: 0, wires: [['out']], ...at },
      ]),
      { id: 'order', type: 'sierra-order', z: 'tab', connection: 'dtc', quantity: 1, entry: 'market', staleAfterSec: 0, wires: [['out'], ['out'], ['out'], ['out']], ...at },
      { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']], ...at },
      { id: 'watcher', type: 'status', z: 'tab', scope: null, wires: [['statuses']], ...at },
      { id: 'out', type: 'helper', z: 'tab', ...at },
      { id: 'caught', type: 'helper', z: 'tab', ...at },
      { id: 'statuses', type: 'helper', z: 'tab', ...at },
    ];
    const oauth1 = parsableOAuth1();
    const credentials: Record<string, Record<string, string>> = {
      dtc: { username: 'trader', password: SECRETS.dtcPassword },
      'oauth1-down': OAUTH1,
      'oauth2-down': OAUTH2,
      'oauth1-refused': oauth1.credentials,
      'oauth2-refused': OAUTH2_SECRET,
      'oauth2-key-refused': OAUTH2,
    };

    await helper.load([ibkrConfig, ibkrAuth, ibkrQuote, ibkrAccount, sierraConfig, sierraOrder, catchNode, statusNode], flow as unknown as Parameters<typeof helper.load>[1], credentials);
    const seen = { statuses: [] as string[], caught: [] as string[], sent: [] as string[] };
    (helper.getNode('statuses') as TestNode).on('input', (msg) => seen.statuses.push(JSON.stringify(msg.status)));
    (helper.getNode('caught') as TestNode).on('input', (msg) => seen.caught.push(JSON.stringify({ error: msg.error, stack: (msg.error as { stack?: unknown } | undefined)?.stack })));
    (helper.getNode('out') as TestNode).on('input', (msg) => seen.sent.push(JSON.stringify(msg)));

    // Every way in that talks to the failing servers: session commands, a quote snapshot, an account read, an order.
    for (const c of ibkrConfigs) {
      for (const command of ['status', 'login', 'reauth', 'logout']) (helper.getNode(`auth-${c.id}`) as TestNode).receive({ payload: command });
      (helper.getNode(`quote-${c.id}`) as TestNode).receive({ payload: 'snapshot' });
      (helper.getNode(`account-${c.id}`) as TestNode).receive({ payload: 'summary' });
    }
    (helper.getNode('order') as TestNode).receive({ topic: 'order', payload: { action: 'buy', quantity: 1, type: 'market' } });
    await new Promise((resolve) => setTimeout(resolve, FAILING_FOR_MS));

    const logged = helper.log().args.map((args) => JSON.stringify(args, (_k, v: unknown) => (v instanceof Error ? { message: v.message, stack: v.stack } : v)));
    // The scan saw the failures it is about: the refusing server was asked, the failures were reported and logged.
    assert.ok(refusing.requests() > 0, 'the refusing server was asked (with credentials)');
    assert.ok(seen.caught.some((c) => /refused the OAuth credentials/.test(c)), 'the refusal reached Catch');
    assert.ok(seen.statuses.some((st) => /logon refused/.test(st)), 'the wrong DTC password shows in a status');
    assert.ok(logged.some((l) => /ibkr-config/.test(l)), 'the log was written');
    assert.deepEqual(dtc.orders(), [], 'a wrong DTC password places no order');
    return {
      statuses: leaks(seen.statuses.join('\n'), oauth1.extra),
      caught: leaks(seen.caught.join('\n'), oauth1.extra),
      sent: leaks(seen.sent.join('\n'), oauth1.extra),
      log: leaks(logged.join('\n'), oauth1.extra),
    };
  }

  const none = { statuses: [], caught: [], sent: [], log: [] };

  it('lets no secret into a status, a Catch error, a sent message or a log line when IBKR is down or refuses', async () => {
    assert.deepEqual(await scan(false), none);
  });

  it('lets no secret out when a refusing server quotes the request (body and headers) back in its error', async () => {
    assert.deepEqual(await scan(true), none);
  });
});
