// TLS: certificate verification is ON by default. An ibkr-config in gateway mode pointed at an HTTPS loopback server
// with a self-signed certificate (the IBKR simulator with TLS) fails with a clear certificate error unless "allow
// self-signed" is ticked, and the tick trusts the Gateway's own origin only. Both simulators listen on 127.0.0.1 only.
import { strict as assert } from 'assert';
import net from 'net';
import { createMarket } from '../../lib/sim/market';
import { startDtcSimulator } from '../../lib/sim/dtc';
import { startIbkrSimulator, type IbkrSimulator } from '../../lib/sim/ibkr';
import { testConnection } from '../../nodes/ibkr-config/connection-test';
import { IbkrLink } from '../../lib/ibkr/link';
import { planConnection } from '../../nodes/ibkr-config/settings';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('TLS: the IBKR Gateway certificate is verified unless the trader allows self-signed', function () {
  this.timeout(30_000);
  let gateway: IbkrSimulator;
  let otherHost: IbkrSimulator;

  before(async () => {
    gateway = await startIbkrSimulator({ tls: true, seed: 3 });
    otherHost = await startIbkrSimulator({ tls: true, seed: 4 });
  });
  after(async () => {
    await gateway.close();
    await otherHost.close();
  });

  it('refuses a self-signed Gateway by default, with an error that names the certificate', async () => {
    const result = await testConnection({ mode: 'gateway', baseUrl: gateway.baseUrl }, {}, { timeoutMs: 10_000 });
    assert.equal(result.ok, false, JSON.stringify(result));
    assert.match(result.message, /certificate/i, `the reason names the certificate: ${result.message}`);
    assert.match(result.message, /Allow self-signed/, 'and says which box to tick');
    assert.doesNotMatch(result.message, /outcome is unknown/, 'a refused handshake sent nothing');
  });

  it('connects when "allow self-signed" is ticked', async () => {
    const result = await testConnection({ mode: 'gateway', baseUrl: gateway.baseUrl, allowSelfSigned: true }, {}, { timeoutMs: 10_000 });
    assert.equal(result.ok, true, result.message);
  });

  it('trusts only the Gateway origin: another self-signed host is still refused', async () => {
    const link = new IbkrLink(planConnection({ mode: 'gateway', baseUrl: gateway.baseUrl, allowSelfSigned: true }), { logger: quiet });
    try {
      await link.open();
      const { transport } = link.connection();
      await transport.request({ method: 'GET', path: '/tickle' }); // the Gateway itself: trusted
      await assert.rejects(
        transport.request({ method: 'POST', path: `${otherHost.baseUrl}/tickle`, idempotent: false }),
        (err: Error) => /certificat|self.signed/i.test(err.message),
        'a self-signed certificate on another origin is not trusted',
      );
    } finally {
      await link.close();
    }
  });
});

/** Connects to host:port: 'open' or the refusal code. A server bound to 127.0.0.1 refuses 127.0.0.2 (also on lo). */
function probe(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe('the simulators listen on loopback only', function () {
  this.timeout(20_000);

  it('the IBKR simulator (HTTP and HTTPS) answers on 127.0.0.1 and nowhere else', async () => {
    for (const tls of [false, true]) {
      const sim = await startIbkrSimulator({ tls, seed: 5 });
      try {
        const { hostname, port } = new URL(sim.baseUrl);
        assert.equal(hostname, '127.0.0.1');
        assert.equal(await probe('127.0.0.1', Number(port)), 'open');
        assert.notEqual(await probe('127.0.0.2', Number(port)), 'open', 'not bound to 0.0.0.0');
        assert.notEqual(await probe('::1', Number(port)), 'open', 'not bound to ::');
      } finally {
        await sim.close();
      }
    }
  });

  it('the DTC simulator answers on 127.0.0.1 and nowhere else, even when asked for no host', async () => {
    const market = createMarket({ seed: 6, speed: 0.001 });
    const sim = await startDtcSimulator({ market, port: 0 });
    try {
      assert.equal(await probe('127.0.0.1', sim.port), 'open');
      assert.notEqual(await probe('127.0.0.2', sim.port), 'open', 'not bound to 0.0.0.0');
      assert.notEqual(await probe('::1', sim.port), 'open', 'not bound to ::');
    } finally {
      await sim.close();
    }
  });
});
