import assert from 'node:assert/strict';
import {
  AccountsNotPrimedError,
  BadRequestError,
  NoBridgeError,
  NotAuthenticatedError,
  NotFoundError,
  RateLimitedError,
  RejectedError,
  ServerError,
  SessionExpiredError,
  mapHttpError,
  rejectionFromBody,
} from '../../../lib/ibkr/errors';
import { MiaError } from '../../../lib/errors';
import { redact, redactText } from '../../../lib/ibkr/redact';

describe('IBKR error mapping (fact sheet, section 6)', () => {
  const cases: Array<[string, number, unknown, string, new (...a: never[]) => Error, RegExp]> = [
    ['401 unauthenticated', 401, '', '/iserver/accounts', NotAuthenticatedError, /not authenticated.*log in/i],
    ['401 on the LST call', 401, { error: 'invalid consumer' }, '/oauth/live_session_token', NotAuthenticatedError, /consumer key.*midnight/i],
    ['400 no bridge', 400, { error: 'Bad Request: no bridge' }, '/iserver/marketdata/snapshot', NoBridgeError, /ssodh\/init/],
    ['400 reply id not found', 400, { error: 'reply id not found' }, '/iserver/reply/abc', RejectedError, /check live orders/i],
    ['410 OAuth', 410, '', '/iserver/accounts', SessionExpiredError, /new session token/i],
    ['429', 429, '', '/iserver/marketdata/snapshot', RateLimitedError, /pause/i],
    ['404', 404, '', '/iserver/contract/1/info', NotFoundError, /contract id/i],
    ['500 query /accounts first', 500, { error: 'Please query /accounts first' }, '/iserver/account/orders', AccountsNotPrimedError, /nightly reset/i],
    ['500 publish:false', 500, { error: 'unknown' }, '/iserver/auth/ssodh/init', ServerError, /server error 500/i],
    ['503 late reply', 503, '', '/iserver/reply/xyz', RejectedError, /too late/i],
    ['503 DYNACCT', 503, { error: 'Details currently unavailable. Please try again later', statusCode: 503 }, '/iserver/account/orders', ServerError, /Details currently unavailable/],
    ['other 400', 400, { error: 'bad conid' }, '/iserver/secdef/info', BadRequestError, /bad conid/],
  ];
  for (const [name, status, body, path, type, text] of cases) {
    it(`maps ${name} to ${type.name} with a trader-readable message`, () => {
      const err = mapHttpError(status, body, path, { cause: new Error('wire') });
      assert.ok(err instanceof type, `${err.constructor.name} is not ${type.name}`);
      assert.ok(err instanceof MiaError);
      assert.match(err.message, text);
      assert.equal(err.status, status);
      assert.ok((err.cause as Error).message === 'wire', 'the wire cause rides along');
    });
  }

  it('carries the pause of a 429', () => {
    const err = mapHttpError(429, '', '/tickle', { retryAfterMs: 4000 }) as RateLimitedError;
    assert.equal(err.retryAfterMs, 4000);
    assert.match(err.message, /4 s/);
  });

  it('treats a 200 with {"error": ...} as a rejected order', () => {
    const err = rejectionFromBody({ error: 'Order size exceeds limit' }, 'order', '/iserver/account/U1/orders');
    assert.ok(err instanceof RejectedError);
    assert.match(err.message, /Order size exceeds limit.*Nothing was placed/);
    assert.equal(rejectionFromBody([{ order_id: '1' }], 'order', '/x'), undefined);
  });

  it('never lets a token, signature or cookie from the wire into a message', () => {
    const body = { error: 'bad oauth_token=SECRETTOKEN123 oauth_signature="SIGSECRET" Cookie: api=SESSIONSECRET; Bearer BEARERSECRET' };
    const err = mapHttpError(400, body, '/iserver/accounts?oauth_token=URLSECRET');
    for (const secret of ['SECRETTOKEN123', 'SIGSECRET', 'SESSIONSECRET', 'BEARERSECRET', 'URLSECRET']) {
      assert.ok(!err.message.includes(secret), `${secret} leaked: ${err.message}`);
    }
  });
});

describe('IBKR redaction', () => {
  it('redacts secret headers and keeps the rest readable', () => {
    const out = redact({ Authorization: 'OAuth realm="limited_poa", oauth_signature="abc"', Cookie: 'api=x', 'User-Agent': 'mia', body: { client_secret: 's3', conid: 1 } });
    assert.deepEqual(out, { Authorization: '[redacted]', Cookie: '[redacted]', 'User-Agent': 'mia', body: { client_secret: '[redacted]', conid: 1 } });
  });

  it('redacts query strings, form bodies, bearer tokens and PEM keys in free text', () => {
    const text = redactText('wss://h/v1/api/ws?oauth_token=TKN&x=1 grant_type=client_credentials&client_assertion=JWTVALUE Bearer abc.def -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----');
    for (const secret of ['TKN', 'JWTVALUE', 'abc.def', 'MIIE']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.match(text, /x=1/);
  });
});
