// Checks our OAuth 1.0a against a worked example computed with the real openssl CLI and Python's urllib
// (fixtures/oauth1a/make-fixture.sh says how): base strings, RSA-SHA256 and HMAC-SHA256 signatures, the
// access-token secret decryption, the DH challenge and the live session token derivation and validation.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  OAuth1aAuth,
  bigIntBytes,
  decryptAccessTokenSecret,
  deriveLiveSessionToken,
  dhChallenge,
  dhPrimeFromPem,
  hmacSha256Signature,
  rsaSha256Signature,
  signatureBaseString,
  validateLiveSessionToken,
} from '../../../lib/ibkr/auth/oauth1a';
import type { OutgoingRequest, RawResponse } from '../../../lib/ibkr/auth/types';
import { NotAuthenticatedError } from '../../../lib/ibkr/errors';

const dir = path.join(__dirname, 'fixtures', 'oauth1a');
const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
const fx = JSON.parse(read('worked-example.json')) as Record<string, string>;
const signatureKeyPem = read('private_signature.pem');
const encryptionKeyPem = read('private_encryption.pem');
const at = (name: string): string => {
  const v = fx[name];
  if (v === undefined) throw new Error(`fixture lacks ${name}`);
  return v;
};

describe('IBKR OAuth 1.0a (worked example from openssl)', () => {
  it('decrypts the access-token secret with RSA PKCS#1 v1.5 (node-forge, which Node 20.11+ refuses)', () => {
    assert.equal(decryptAccessTokenSecret(at('accessTokenSecret'), encryptionKeyPem), at('prependHex'));
  });

  it('reads the prime of the dhparam.pem uploaded to IBKR', () => {
    assert.equal(dhPrimeFromPem(read('dhparam.pem')), at('dhPrimeHex'));
  });

  it('computes the Diffie-Hellman challenge 2^a mod p', () => {
    assert.equal(dhChallenge(at('dhPrimeHex'), at('dhRandomHex')), at('dhChallengeHex'));
  });

  it('builds the live-session-token base string with the secret prepended, and signs it RSA-SHA256', () => {
    const params = {
      oauth_consumer_key: at('consumerKey'),
      oauth_nonce: at('nonce'),
      oauth_signature_method: 'RSA-SHA256',
      oauth_timestamp: at('timestamp'),
      oauth_token: at('accessToken'),
      diffie_hellman_challenge: at('dhChallengeHex'),
    };
    const base = signatureBaseString('POST', at('lstUrl'), params, at('prependHex'));
    assert.equal(base, read('lst-base-string.txt'));
    assert.equal(rsaSha256Signature(base, signatureKeyPem), at('lstSignature'));
  });

  it('derives the live session token from the DH response and validates it against IBKR\'s signature', () => {
    const lst = deriveLiveSessionToken(at('dhPrimeHex'), at('dhRandomHex'), at('dhResponseHex'), at('prependHex'));
    assert.equal(lst, at('liveSessionToken'));
    assert.ok(validateLiveSessionToken(lst, at('liveSessionTokenSignature'), at('consumerKey')));
    assert.ok(!validateLiveSessionToken(lst, at('liveSessionTokenSignature'), 'OTHERCONS'));
  });

  it('adds the sign byte Java\'s BigInteger puts in front when the bit length is a multiple of 8', () => {
    assert.deepEqual([...bigIntBytes(0xffn)], [0, 0xff]);
    assert.deepEqual([...bigIntBytes(0x7fn)], [0x7f]);
    assert.deepEqual([...bigIntBytes(0x1ffn)], [0x01, 0xff]);
  });

  it('signs a later request HMAC-SHA256 with the query parameters in the base string', () => {
    const auth = new OAuth1aAuth({
      consumerKey: at('consumerKey'),
      accessToken: at('accessToken'),
      accessTokenSecret: at('accessTokenSecret'),
      signatureKeyPem,
      encryptionKeyPem,
      dhPrimeHex: at('dhPrimeHex'),
      now: () => Number(at('timestamp')) * 1000,
      randomHex: (n) => (n === 32 ? at('dhRandomHex') : at('nonce')),
    });
    // Through the provider: the LST exchange against a canned IBKR answer, then a signed request.
    const sent: OutgoingRequest[] = [];
    const http = {
      send: async (req: OutgoingRequest): Promise<RawResponse> => {
        sent.push(req);
        return {
          status: 200,
          headers: {},
          data: {
            diffie_hellman_response: at('dhResponseHex'),
            live_session_token_signature: at('liveSessionTokenSignature'),
            live_session_token_expiration: Number(at('timestamp')) * 1000 + 86_400_000,
          },
        };
      },
    };
    return auth.prepare(http).then(() => {
      const lstHeader = sent[0]?.headers.Authorization ?? '';
      assert.ok(lstHeader.startsWith('OAuth realm="limited_poa", diffie_hellman_challenge="'), lstHeader);
      assert.ok(lstHeader.includes(`oauth_signature="${at('lstSignature')}"`), 'the LST call carries the RSA signature');
      assert.ok(lstHeader.includes('oauth_signature_method="RSA-SHA256"'));

      const req: OutgoingRequest = { method: 'GET', url: at('requestUrl'), headers: {} };
      auth.decorate(req);
      assert.ok(req.headers.Authorization?.includes(`oauth_signature="${at('requestSignature')}"`), req.headers.Authorization);
      assert.equal(hmacSha256Signature(read('request-base-string.txt'), at('liveSessionToken')), at('requestSignature'));
      assert.equal(req.headers.Host, 'api.ibkr.com');
      assert.equal(auth.needsRenewal(Number(at('timestamp')) * 1000), false);
      assert.equal(auth.needsRenewal(Number(at('timestamp')) * 1000 + 86_000_000), true, 'renews before the 24 h expiry');
    });
  });

  it('refuses a live session token that does not validate', async () => {
    const auth = new OAuth1aAuth({
      consumerKey: at('consumerKey'),
      accessToken: at('accessToken'),
      accessTokenSecret: at('accessTokenSecret'),
      signatureKeyPem,
      encryptionKeyPem,
      dhParamPem: read('dhparam.pem'),
      randomHex: (n) => (n === 32 ? at('dhRandomHex') : at('nonce')),
    });
    const http = {
      send: async (): Promise<RawResponse> => ({
        status: 200,
        headers: {},
        data: { diffie_hellman_response: at('dhResponseHex'), live_session_token_signature: '00'.repeat(20), live_session_token_expiration: 1 },
      }),
    };
    await assert.rejects(auth.prepare(http), (err: unknown) => {
      assert.ok(err instanceof NotAuthenticatedError);
      assert.ok(!err.message.includes(at('liveSessionToken')));
      return true;
    });
  });
});
