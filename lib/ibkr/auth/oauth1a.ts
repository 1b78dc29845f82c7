// First-party OAuth 1.0a (fact sheet 1(b); IBKR's own python demo and ibind implement the same steps):
// a live session token (LST) is agreed by Diffie-Hellman on POST /oauth/live_session_token, signed RSA-SHA256 with
// the decrypted access-token secret prepended to the base string; every later request is signed HMAC-SHA256 with
// the LST, query parameters included in the base string (IBKR's demo does so; it is the safer choice).
// The access-token secret is RSA PKCS#1 v1.5 encrypted, which Node ≥ 20.11.1 refuses to decrypt (CVE-2023-46809):
// node-forge does it instead.

import { createHmac, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import { InvalidInputError } from '../../errors';
import { NotAuthenticatedError, mapHttpError } from '../errors';
import type { AuthHttp, AuthMode, AuthProvider, OutgoingRequest, TlsTrust, WebSocketTarget } from './types';
import { wsUrlFor } from './types';

export const OAUTH_BASE_URL = 'https://api.ibkr.com/v1/api';

export interface OAuth1aCredentials {
  consumerKey: string;
  accessToken: string;
  /** Base64, encrypted to the public encryption key, as the self-service portal gives it. */
  accessTokenSecret: string;
  signatureKeyPem: string;
  encryptionKeyPem: string;
  /** The dhparam.pem uploaded to IBKR (or the prime in hex as dhPrimeHex). */
  dhParamPem?: string;
  dhPrimeHex?: string;
  /** limited_poa for first-party keys; test_realm for the paper-only TESTCONS key. */
  realm?: string;
}

export interface OAuth1aOptions extends OAuth1aCredentials {
  baseUrl?: string;
  now?: () => number;
  /** Renew the LST this long before IBKR's stated expiry (about 24 h). */
  renewBeforeMs?: number;
  /** Test seam for the DH secret, nonces and timestamps. */
  randomHex?: (bytes: number) => string;
}

// ---- RFC 3986 escaping as Python's urllib.parse.quote / quote_plus do it (what IBKR's demo signs) ----

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** urllib.parse.quote(text): "/" stays. */
export function quote(text: string): string {
  return rfc3986(text).replace(/%2F/g, '/');
}

/** urllib.parse.quote_plus(text): "/" escaped, space as "+". */
export function quotePlus(text: string): string {
  return rfc3986(text).replace(/%20/g, '+');
}

/**
 * METHOD&quote_plus(url)&quote(k=v&… sorted), with `prepend` (the decrypted secret in hex) in front for the LST call.
 * `url` is without its query string; query parameters go into `params`.
 */
export function signatureBaseString(method: string, url: string, params: Record<string, string>, prepend = ''): string {
  const pairs = Object.entries(params)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `${prepend}${method.toUpperCase()}&${quotePlus(url)}&${quote(pairs)}`;
}

export function rsaSha256Signature(baseString: string, signatureKeyPem: string): string {
  return quotePlus(sign('sha256', Buffer.from(baseString, 'utf8'), signatureKeyPem).toString('base64'));
}

export function hmacSha256Signature(baseString: string, liveSessionToken: string): string {
  const key = Buffer.from(liveSessionToken, 'base64');
  return quotePlus(createHmac('sha256', key).update(baseString, 'utf8').digest('base64'));
}

export function authorizationHeader(params: Record<string, string>, realm: string): string {
  const pairs = Object.entries(params)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}="${v}"`);
  return `OAuth realm="${realm}", ${pairs.join(', ')}`;
}

/** hex(RSA PKCS#1 v1.5 decrypt(base64 secret)), the "prepend" of the LST base string. */
export function decryptAccessTokenSecret(accessTokenSecret: string, encryptionKeyPem: string): string {
  const key = forge.pki.privateKeyFromPem(encryptionKeyPem) as forge.pki.rsa.PrivateKey;
  const plain = key.decrypt(forge.util.decode64(accessTokenSecret.trim()), 'RSAES-PKCS1-V1_5');
  return forge.util.bytesToHex(plain);
}

/** The prime p of a PKCS#3 dhparam.pem (SEQUENCE { INTEGER p, INTEGER g }), in hex. */
export function dhPrimeFromPem(pem: string): string {
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const asn = forge.asn1.fromDer(forge.util.decode64(body));
  const fields = asn.value as forge.asn1.Asn1[];
  const prime = fields[0]?.value;
  if (typeof prime !== 'string') throw new InvalidInputError('The DH parameters are not a PEM "DH PARAMETERS" block from `openssl dhparam`.');
  return forge.util.bytesToHex(prime).replace(/^(00)+/, '');
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}

/** hex(2^a mod p), without "0x". */
export function dhChallenge(dhPrimeHex: string, aHex: string): string {
  return modPow(2n, BigInt(`0x${aHex}`), BigInt(`0x${dhPrimeHex}`)).toString(16);
}

/** K as Java's BigInteger.toByteArray gives it: even-length hex, a leading 0x00 when the bit length is a multiple of 8. */
export function bigIntBytes(k: bigint): Buffer {
  let hex = k.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const bytes = Buffer.from(hex, 'hex');
  return k.toString(2).length % 8 === 0 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

/** LST = base64(HMAC-SHA1(key = K bytes, message = prepend bytes)), K = B^a mod p. */
export function deriveLiveSessionToken(dhPrimeHex: string, aHex: string, dhResponseHex: string, prependHex: string): string {
  const k = modPow(BigInt(`0x${dhResponseHex}`), BigInt(`0x${aHex}`), BigInt(`0x${dhPrimeHex}`));
  return createHmac('sha1', bigIntBytes(k)).update(Buffer.from(prependHex, 'hex')).digest('base64');
}

/** hex(HMAC-SHA1(key = LST bytes, message = consumer key)) must equal IBKR's live_session_token_signature. */
export function validateLiveSessionToken(lst: string, signatureHex: string, consumerKey: string): boolean {
  const expected = createHmac('sha1', Buffer.from(lst, 'base64')).update(consumerKey, 'utf8').digest('hex');
  return expected === signatureHex.toLowerCase();
}

interface LiveSession {
  token: string;
  expiresAt: number;
}

export class OAuth1aAuth implements AuthProvider {
  readonly mode: AuthMode = 'oauth1a';
  readonly baseUrl: string;
  readonly tls: TlsTrust = {};
  private readonly options: OAuth1aOptions;
  private readonly now: () => number;
  private readonly randomHex: (bytes: number) => string;
  private readonly dhPrimeHex: string;
  private session: LiveSession | undefined;

  constructor(options: OAuth1aOptions) {
    for (const field of ['consumerKey', 'accessToken', 'accessTokenSecret', 'signatureKeyPem', 'encryptionKeyPem'] as const) {
      if (!options[field]) throw new InvalidInputError(`IBKR OAuth 1.0a needs the ${field}: paste it in the ibkr-config credentials.`);
    }
    if (!options.dhParamPem && !options.dhPrimeHex) {
      throw new InvalidInputError('IBKR OAuth 1.0a needs the DH parameters (dhparam.pem) uploaded to IBKR.');
    }
    this.options = options;
    this.baseUrl = (options.baseUrl ?? OAUTH_BASE_URL).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
    this.randomHex = options.randomHex ?? ((n) => randomBytes(n).toString('hex'));
    this.dhPrimeHex = options.dhPrimeHex ?? dhPrimeFromPem(options.dhParamPem ?? '');
  }

  private get realm(): string {
    return this.options.realm ?? 'limited_poa';
  }

  private oauthParams(signatureMethod: string): Record<string, string> {
    return {
      oauth_consumer_key: this.options.consumerKey,
      oauth_nonce: this.randomHex(16),
      oauth_signature_method: signatureMethod,
      oauth_timestamp: String(Math.floor(this.now() / 1000)),
      oauth_token: this.options.accessToken,
    };
  }

  async prepare(http: AuthHttp): Promise<void> {
    const url = `${this.baseUrl}/oauth/live_session_token`;
    const prepend = decryptAccessTokenSecret(this.options.accessTokenSecret, this.options.encryptionKeyPem);
    const a = this.randomHex(32); // 256-bit DH secret
    const params = { ...this.oauthParams('RSA-SHA256'), diffie_hellman_challenge: dhChallenge(this.dhPrimeHex, a) };
    const signature = rsaSha256Signature(signatureBaseString('POST', url, params, prepend), this.options.signatureKeyPem);
    const res = await http.send({
      method: 'POST',
      url,
      headers: { Authorization: authorizationHeader({ ...params, oauth_signature: signature }, this.realm), ...this.fixedHeaders(url) },
    });
    if (res.status !== 200) throw mapHttpError(res.status, res.data, '/oauth/live_session_token');
    const body = (res.data ?? {}) as Record<string, unknown>;
    const dhResponse = String(body.diffie_hellman_response ?? '');
    const lstSignature = String(body.live_session_token_signature ?? '');
    const expiresAt = Number(body.live_session_token_expiration);
    const token = deriveLiveSessionToken(this.dhPrimeHex, a, dhResponse, prepend);
    if (!dhResponse || !validateLiveSessionToken(token, lstSignature, this.options.consumerKey)) {
      throw new NotAuthenticatedError(
        'IBKR OAuth live session token did not validate: the encryption key, access-token secret or DH parameters do not match what was uploaded to IBKR. Re-check the OAuth credentials.',
        { path: '/oauth/live_session_token', status: res.status },
      );
    }
    this.session = { token, expiresAt: Number.isFinite(expiresAt) ? expiresAt : this.now() + 23 * 3600_000 };
  }

  needsRenewal(now: number): boolean {
    return !this.session || now >= this.session.expiresAt - (this.options.renewBeforeMs ?? 10 * 60_000);
  }

  private fixedHeaders(url: string): Record<string, string> {
    return { Host: new URL(url).host, Accept: '*/*', Connection: 'keep-alive' };
  }

  /** Signs one request: HMAC-SHA256 with the LST over the method, the bare URL and oauth + query parameters. */
  decorate(request: OutgoingRequest): void {
    if (!this.session) {
      throw new NotAuthenticatedError('IBKR OAuth request attempted before the live session token was obtained.', {});
    }
    const url = new URL(request.url);
    const params = this.oauthParams('HMAC-SHA256');
    const signed: Record<string, string> = { ...params };
    url.searchParams.forEach((value, key) => {
      signed[key] = value;
    });
    const bare = `${url.origin}${url.pathname}`;
    const signature = hmacSha256Signature(signatureBaseString(request.method, bare, signed), this.session.token);
    Object.assign(request.headers, this.fixedHeaders(request.url), {
      Authorization: authorizationHeader({ ...params, oauth_signature: signature }, this.realm),
    });
  }

  websocketTarget(session: string): WebSocketTarget {
    // [IB]: the access token in the URL, the plain cookie form and the Gateway's User-Agent under OAuth.
    return {
      url: `${wsUrlFor(this.baseUrl)}?oauth_token=${encodeURIComponent(this.options.accessToken)}`,
      headers: { Cookie: `api=${session}`, 'User-Agent': 'ClientPortalGW/1' },
    };
  }

  invalidate(): void {
    this.session = undefined;
  }

  close(): void {
    this.session = undefined;
  }
}
