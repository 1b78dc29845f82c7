import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { decodeJwt } from '../../../lib/ibkr/auth/jwt';
import { CLIENT_ASSERTION_TYPE, OAuth2Auth, clientAssertion, publicIpProblem } from '../../../lib/ibkr/auth/oauth2';
import { IbkrLimiter } from '../../../lib/ibkr/limiter';
import { Transport } from '../../../lib/ibkr/transport';
import { startLoopback, type Loopback } from './loopback';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('IBKR OAuth 2.0', () => {
  it('makes an RS256 client assertion that verifies with the public key and carries the right claims', () => {
    const now = 1_718_000_000_000;
    const jwt = clientAssertion({ clientId: 'mia-client', privateKeyPem, keyId: 'key-1', nowMs: now });
    const { header, claims, signingInput, signature } = decodeJwt(jwt);
    assert.ok(verify('sha256', Buffer.from(signingInput), publicKey, signature), 'signature verifies');
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT', kid: 'key-1' });
    assert.equal(claims.iss, 'mia-client');
    assert.equal(claims.sub, 'mia-client');
    assert.equal(claims.aud, '/token');
    assert.equal(claims.iat, 1_718_000_000);
    assert.ok((claims.exp as number) > (claims.iat as number));
  });

  describe('the public IP of the sso-session', () => {
    const keyed = { baseUrl: 'http://127.0.0.1:9/v1/api', clientId: 'mia-client', keyId: 'key-1', privateKeyPem, credential: 'trader1' };

    it('accepts bare public IPv4 and IPv6 addresses', () => {
      for (const ip of ['203.0.113.7', '8.8.8.8', '2001:db8::7', '2a00:1450:4007:80e::200e']) assert.equal(publicIpProblem(ip), undefined, ip);
    });

    it('says what is wrong with anything else', () => {
      for (const ip of ['', '203.0.113', '203.0.113.7:443', '[2001:db8::7]', 'fe80::1%eth0', 'https://203.0.113.7', 'my-home']) {
        assert.match(publicIpProblem(ip) ?? '', /^is not an IPv4 or IPv6 address: write the bare address/, ip);
      }
      for (const ip of ['127.0.0.1', '192.168.0.10', '10.0.0.1', '172.31.255.255', '100.100.0.1', '169.254.0.1', '::1', 'fd12:3456::1', 'fe80::1', '::ffff:10.0.0.1']) {
        assert.match(publicIpProblem(ip) ?? '', /^is a local address/, ip);
      }
    });

    it('is required, with the username, for the private key, and refused when malformed, before any request', () => {
      assert.throws(() => new OAuth2Auth({ ...keyed, ip: undefined }), /with a private key needs the public IP address/);
      assert.throws(() => new OAuth2Auth({ ...keyed, credential: undefined, ip: '203.0.113.7' }), /with a private key needs the IBKR username/);
      assert.throws(() => new OAuth2Auth({ ...keyed, ip: '192.168.1.20' }), /the public IP "192\.168\.1\.20" is a local address/);
      assert.ok(new OAuth2Auth({ ...keyed, ip: '203.0.113.7' }));
    });

    it('is not needed by the client-secret grant, which opens no sso-session', () => {
      assert.ok(new OAuth2Auth({ clientId: 'mia-client', clientSecret: 's3cr3t' }));
    });
  });

  describe('against a loopback IBKR', () => {
    let server: Loopback;
    let limiter: IbkrLimiter;
    let transport: Transport;
    afterEach(async () => {
      transport?.close();
      await limiter?.stop();
      await server?.close();
    });

    it('gets an access token, opens an sso-session and sends the bearer on /v1/api', async () => {
      server = await startLoopback((req) => {
        if (req.path === '/oauth2/api/v1/token') return { body: { access_token: 'ACCESS-1', expires_in: 3600 } };
        if (req.path === '/gw/api/v1/sso-sessions') return { body: { access_token: 'BEARER-1', expires_in: 3600 } };
        return { body: { authenticated: true, connected: true } };
      });
      const auth = new OAuth2Auth({ baseUrl: server.baseUrl, clientId: 'mia-client', keyId: 'key-1', privateKeyPem, credential: 'trader1', ip: '203.0.113.7' });
      limiter = new IbkrLimiter();
      transport = new Transport({ auth, limiter });
      await transport.request({ method: 'POST', path: '/iserver/auth/status', idempotent: true });

      const [token, sso, api] = server.requests;
      assert.equal(token?.path, '/oauth2/api/v1/token');
      const grant = new URLSearchParams(token?.rawBody);
      assert.equal(grant.get('grant_type'), 'client_credentials');
      assert.equal(grant.get('client_assertion_type'), CLIENT_ASSERTION_TYPE);
      assert.equal(grant.get('scope'), 'sso-sessions.write');
      const assertion = decodeJwt(grant.get('client_assertion') ?? '');
      assert.ok(verify('sha256', Buffer.from(assertion.signingInput), publicKey, assertion.signature));

      assert.equal(sso?.path, '/gw/api/v1/sso-sessions');
      assert.equal(sso?.headers.authorization, 'Bearer ACCESS-1');
      assert.equal(sso?.headers['content-type'], 'application/jwt');
      const body = decodeJwt(sso?.rawBody ?? '');
      assert.equal(body.claims.credential, 'trader1');
      assert.equal(body.claims.ip, '203.0.113.7');
      assert.equal(body.claims.iss, 'mia-client');
      assert.ok(verify('sha256', Buffer.from(body.signingInput), publicKey, body.signature));

      assert.equal(api?.path, '/iserver/auth/status');
      assert.equal(api?.headers.authorization, 'Bearer BEARER-1');
    });

    it('supports the plain client id and secret grant', async () => {
      server = await startLoopback((req) => (req.path === '/oauth2/api/v1/token' ? { body: { access_token: 'PLAIN-1' } } : { body: {} }));
      const auth = new OAuth2Auth({ baseUrl: server.baseUrl, clientId: 'mia-client', clientSecret: 's3cr3t' });
      limiter = new IbkrLimiter();
      transport = new Transport({ auth, limiter });
      await transport.request({ method: 'GET', path: '/iserver/accounts' });
      const grant = new URLSearchParams(server.requests[0]?.rawBody);
      assert.equal(grant.get('client_id'), 'mia-client');
      assert.equal(grant.get('client_secret'), 's3cr3t');
      assert.equal(server.requests[1]?.headers.authorization, 'Bearer PLAIN-1');
    });

    it('renews the bearer before it expires', async () => {
      let now = 0;
      let issued = 0;
      server = await startLoopback((req) => {
        if (req.path === '/oauth2/api/v1/token') return { body: { access_token: `ACCESS-${++issued}`, expires_in: 600 } };
        return { body: {} };
      });
      const auth = new OAuth2Auth({ baseUrl: server.baseUrl, clientId: 'c', clientSecret: 's', now: () => now, renewBeforeMs: 60_000 });
      limiter = new IbkrLimiter(); // the limiter paces on its own clock; only the token's expiry is simulated
      transport = new Transport({ auth, limiter, now: () => now });
      await transport.request({ method: 'GET', path: '/iserver/accounts' });
      now = 541_000; // 9 min 1 s: inside the 1 min margin of the 10 min token
      await transport.request({ method: 'GET', path: '/iserver/accounts' });
      assert.equal(issued, 2);
      assert.equal(server.requests.at(-1)?.headers.authorization, 'Bearer ACCESS-2');
    });
  });
});
