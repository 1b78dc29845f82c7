import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate } from 'selfsigned';
import { GatewayAuth } from '../../../lib/ibkr/auth/gateway';
import { SimulatorAuth } from '../../../lib/ibkr/auth/simulator';
import { NetworkError, ServerError, TimeoutError } from '../../../lib/ibkr/errors';
import { IbkrLimiter } from '../../../lib/ibkr/limiter';
import { Transport, type TraceEntry } from '../../../lib/ibkr/transport';
import type { AuthProvider, OutgoingRequest } from '../../../lib/ibkr/auth/types';
import { startLoopback, type Handler, type Loopback } from './loopback';

describe('IBKR transport', () => {
  let server: Loopback | undefined;
  let limiter: IbkrLimiter | undefined;
  let transport: Transport | undefined;
  afterEach(async () => {
    transport?.close();
    await limiter?.stop();
    await server?.close();
    server = limiter = transport = undefined;
  });

  async function setup(handler: Handler, extra: { timeoutMs?: number; debug?: (e: TraceEntry) => void; auth?: (base: string) => AuthProvider } = {}) {
    server = await startLoopback(handler);
    limiter = new IbkrLimiter();
    transport = new Transport({
      auth: extra.auth ? extra.auth(server.baseUrl) : new GatewayAuth({ baseUrl: server.baseUrl }),
      limiter,
      retryBaseMs: 10,
      timeoutMs: extra.timeoutMs,
      debug: extra.debug,
    });
    return transport;
  }

  // Node's server closes an idle kept-alive socket after keepAliveTimeout (5 s by default) and says so in its
  // Keep-Alive header; a client that reuses the socket at that instant gets ECONNRESET (an "outcome unknown" POST at the
  // simulator's start-up). The agent must drop the idle socket first (1 s before the hint), never reuse it late.
  it("drops an idle kept-alive socket before the server's Keep-Alive timeout instead of reusing it", async function () {
    this.timeout(10_000);
    let connections = 0;
    const keepAlive = http.createServer((_req, res) => res.end('{"ok":1}'));
    keepAlive.keepAliveTimeout = 2000; // announced as "timeout=2": the client must let go after 1 s idle
    keepAlive.on('connection', () => connections++);
    await new Promise<void>((resolve) => keepAlive.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(keepAlive.address() as AddressInfo).port}/v1/api`;
    limiter = new IbkrLimiter();
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: base }), limiter, retryBaseMs: 10 });
    try {
      assert.deepEqual(await transport.request({ method: 'POST', path: '/iserver/auth/status' }), { ok: 1 });
      assert.deepEqual(await transport.request({ method: 'POST', path: '/iserver/auth/status' }), { ok: 1 });
      assert.equal(connections, 1, 'back-to-back requests share the kept-alive socket');
      await new Promise((resolve) => setTimeout(resolve, 1500)); // idle past the client's limit, short of the server's
      assert.deepEqual(await transport.request({ method: 'POST', path: '/iserver/auth/status' }), { ok: 1 });
      assert.equal(connections, 2, 'the socket idle for 1.5 s was reused: the server could have closed it under the request');
    } finally {
      keepAlive.closeAllConnections();
      await new Promise((resolve) => keepAlive.close(resolve));
    }
  });

  it('retries a read after 5xx and returns the data', async () => {
    let calls = 0;
    const t = await setup(() => (++calls < 3 ? { status: 503, body: { error: 'busy' } } : { body: { accounts: ['U1'] } }));
    assert.deepEqual(await t.request({ method: 'GET', path: '/iserver/accounts' }), { accounts: ['U1'] });
    assert.equal(calls, 3);
  });

  it('gives up on a read after 3 retries with a ServerError that says what to do', async () => {
    const t = await setup(() => ({ status: 500, body: { error: 'internal' } }));
    await assert.rejects(t.request({ method: 'GET', path: '/iserver/accounts' }), (err: unknown) => err instanceof ServerError && /internal/.test(err.message));
    assert.equal(server!.requests.length, 4);
  });

  it('never resends an order after a 5xx', async () => {
    const t = await setup(() => ({ status: 503 }));
    await assert.rejects(t.request({ method: 'POST', path: '/iserver/account/U1/orders', body: { orders: [] } }), ServerError);
    assert.equal(server!.requests.length, 1);
  });

  it('retries a read after a timeout, but reports an order timeout as an unknown outcome', async () => {
    let calls = 0;
    const t = await setup(() => (++calls === 1 ? { delayMs: 400, body: {} } : { body: { ok: 1 } }), { timeoutMs: 150 });
    assert.deepEqual(await t.request({ method: 'GET', path: '/iserver/accounts' }), { ok: 1 });
    calls = 0;
    const before = server!.requests.length;
    await assert.rejects(t.request({ method: 'POST', path: '/iserver/account/U1/orders', body: {} }), (err: unknown) => {
      assert.ok(err instanceof TimeoutError);
      assert.match(err.message, /outcome is unknown/);
      return true;
    });
    assert.equal(server!.requests.length - before, 1, 'the order was sent once');
  });

  it('sends {} with a body-less POST and a User-Agent', async () => {
    const t = await setup(() => ({ body: { session: 'abc' } }));
    await t.request({ method: 'POST', path: '/tickle' });
    const req = server!.requests[0]!;
    assert.equal(req.rawBody, '{}');
    assert.match(String(req.headers['user-agent']), /mia-ia/);
    assert.equal(req.headers['content-type'], 'application/json');
  });

  it('reports an unreachable Gateway as a NetworkError naming the fix', async () => {
    limiter = new IbkrLimiter();
    transport = new Transport({ auth: new GatewayAuth({ baseUrl: 'http://127.0.0.1:9/v1/api' }), limiter, maxRetries: 0 });
    await assert.rejects(transport.request({ method: 'GET', path: '/iserver/accounts' }), (err: unknown) => err instanceof NetworkError && /Gateway/.test(err.message));
  });

  it('traces requests and responses with every secret redacted', async () => {
    const traces: TraceEntry[] = [];
    const secretAuth = (base: string): AuthProvider => {
      const g = new GatewayAuth({ baseUrl: base });
      g.decorate = (req: OutgoingRequest) => {
        req.headers.Authorization = 'Bearer TOPSECRETBEARER';
        req.headers.Cookie = 'api=SESSIONSECRET';
      };
      return g;
    };
    const t = await setup(() => ({ body: { session: 'SESSIONSECRET2', access_token: 'TOKENSECRET', conid: 1 } }), { debug: (e) => traces.push(e), auth: secretAuth });
    await t.request({ method: 'GET', path: '/iserver/accounts', query: { oauth_token: 'QUERYSECRET', conid: 5 } });
    const text = JSON.stringify(traces);
    for (const secret of ['TOPSECRETBEARER', 'SESSIONSECRET', 'SESSIONSECRET2', 'TOKENSECRET', 'QUERYSECRET']) assert.ok(!text.includes(secret), `${secret} leaked in ${text}`);
    assert.ok(text.includes('conid'), 'the rest stays readable');
    assert.equal(traces.length, 2);
  });

  describe('TLS', () => {
    let pems: { private: string; cert: string };
    before(async () => {
      pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    });

    async function tlsSetup(auth: (base: string) => AuthProvider) {
      server = await startLoopback(() => ({ body: { ok: true } }), { key: pems.private, cert: pems.cert });
      limiter = new IbkrLimiter();
      transport = new Transport({ auth: auth(server.baseUrl), limiter, maxRetries: 0 });
      return transport;
    }

    it('trusts the simulator\'s own certificate, pinned, even on 127.0.0.1', async () => {
      const t = await tlsSetup((base) => new SimulatorAuth({ baseUrl: base, certificatePem: pems.cert }));
      assert.deepEqual(await t.request({ method: 'GET', path: '/iserver/accounts' }), { ok: true });
    });

    it('refuses a self-signed Gateway certificate unless the trader allowed it', async () => {
      const t = await tlsSetup((base) => new GatewayAuth({ baseUrl: base }));
      await assert.rejects(t.request({ method: 'GET', path: '/iserver/accounts' }), NetworkError);
    });

    it('accepts the self-signed Gateway certificate when allowed', async () => {
      const t = await tlsSetup((base) => new GatewayAuth({ baseUrl: base, allowSelfSigned: true }));
      assert.deepEqual(await t.request({ method: 'GET', path: '/iserver/accounts' }), { ok: true });
    });
  });
});
