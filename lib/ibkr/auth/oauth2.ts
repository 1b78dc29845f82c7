// OAuth 2.0 (beta, institutions; fact sheet 1(c), after datawookie/ibkr-oauth-flow):
// 1. POST /oauth2/api/v1/token, client_credentials, authenticated by an RS256 client assertion (private_key_jwt)
//    or by a plain client id and secret;
// 2. POST /gw/api/v1/sso-sessions with that access token and a signed JWT body {ip, credential, iss, iat, exp};
//    its access_token is the bearer for /v1/api. Without a private key (plain secret) the grant's token is used.
// Tokens are renewed a margin before they expire.

import { randomUUID } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { InvalidInputError, describeValue } from '../../errors';
import { NotAuthenticatedError, mapHttpError } from '../errors';
import { signJwtRs256 } from './jwt';
import { OAUTH_BASE_URL } from './oauth1a';
import type { AuthHttp, AuthMode, AuthProvider, OutgoingRequest, TlsTrust, WebSocketTarget } from './types';
import { wsUrlFor } from './types';

export interface OAuth2Credentials {
  clientId: string;
  /** private_key_jwt: the key registered with IBKR, and its key id (the JWT `kid`). */
  privateKeyPem?: string;
  keyId?: string;
  /** Plain client_credentials grant instead of the client assertion. */
  clientSecret?: string;
  /** The IBKR username the sso-session is opened for. */
  credential?: string;
  /** The public IP address the session is bound to (the sso-sessions `ip` claim); see publicIpProblem. */
  ip?: string;
  scope?: string;
}

export interface OAuth2Options extends OAuth2Credentials {
  baseUrl?: string;
  tokenUrl?: string;
  ssoSessionsUrl?: string;
  now?: () => number;
  renewBeforeMs?: number;
}

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Used when IBKR's answer states no lifetime (the fact sheet gives none). */
const DEFAULT_TOKEN_LIFETIME_MS = 60 * 60_000;

export function clientAssertion(options: { clientId: string; privateKeyPem: string; keyId?: string; nowMs: number }): string {
  const iat = Math.floor(options.nowMs / 1000);
  return signJwtRs256(
    { iss: options.clientId, sub: options.clientId, aud: '/token', iat, exp: iat + 60, jti: randomUUID() },
    options.privateKeyPem,
    options.keyId,
  );
}

// Addresses IBKR can never see a session come from: the machine's own, a local network's, a carrier NAT's inside.
// RFC 1122 (0/8, loopback), RFC 1918 (private), RFC 6598 (carrier-grade NAT), RFC 3927 / RFC 4291 (link-local),
// RFC 4193 (IPv6 unique local). IPv4-mapped IPv6 forms (::ffff:10.0.0.1) are covered by BlockList.
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16]] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

/**
 * Why `ip` cannot be the public IP address of an sso-session (fact sheet 1(c)), or undefined when it can: it must be
 * a bare IPv4 or IPv6 literal (no port, brackets, scheme or zone) that is not a loopback, private or link-local one.
 */
export function publicIpProblem(ip: string): string | undefined {
  const family = ip.includes('%') ? 0 : isIP(ip);
  if (family === 0) {
    return 'is not an IPv4 or IPv6 address: write the bare address, e.g. 203.0.113.7 or 2001:db8::7 (no port, no brackets, no http://)';
  }
  if (NOT_PUBLIC.check(ip, family === 4 ? 'ipv4' : 'ipv6')) {
    return 'is a local address (loopback, private network or link-local), not the public one IBKR sees: give the public IP address of your internet connection';
  }
  return undefined;
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

interface Bearer {
  token: string;
  expiresAt: number;
}

export class OAuth2Auth implements AuthProvider {
  readonly mode: AuthMode = 'oauth2';
  readonly baseUrl: string;
  readonly tls: TlsTrust = {};
  private readonly options: OAuth2Options;
  private readonly now: () => number;
  private bearer: Bearer | undefined;

  constructor(options: OAuth2Options) {
    if (!options.clientId) throw new InvalidInputError('IBKR OAuth 2.0 needs the client id: paste it in the ibkr-config credentials.');
    if (!options.privateKeyPem && !options.clientSecret) {
      throw new InvalidInputError('IBKR OAuth 2.0 needs either the private key (private_key_jwt) or the client secret.');
    }
    if (options.privateKeyPem) {
      // private_key_jwt opens an sso-session, whose JWT names the username and the public IP (fact sheet 1(c)).
      if (!options.credential) throw new InvalidInputError('IBKR OAuth 2.0 with a private key needs the IBKR username the session is opened for.');
      if (!options.ip) throw new InvalidInputError('IBKR OAuth 2.0 with a private key needs the public IP address the session is bound to.');
      const problem = publicIpProblem(options.ip);
      if (problem) throw new InvalidInputError(`IBKR OAuth 2.0: the public IP ${describeValue(options.ip)} ${problem}.`);
    }
    this.options = options;
    this.baseUrl = (options.baseUrl ?? OAUTH_BASE_URL).replace(/\/+$/, '');
    this.now = options.now ?? Date.now;
  }

  private get origin(): string {
    return new URL(this.baseUrl).origin;
  }

  private lifetime(body: Record<string, unknown>): number {
    const seconds = Number(body.expires_in);
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
  }

  async prepare(http: AuthHttp): Promise<void> {
    const o = this.options;
    const tokenUrl = o.tokenUrl ?? `${this.origin}/oauth2/api/v1/token`;
    const grant: Record<string, string> = { grant_type: 'client_credentials', scope: o.scope ?? 'sso-sessions.write' };
    if (o.privateKeyPem) {
      grant.client_assertion = clientAssertion({ clientId: o.clientId, privateKeyPem: o.privateKeyPem, keyId: o.keyId, nowMs: this.now() });
      grant.client_assertion_type = CLIENT_ASSERTION_TYPE;
    } else {
      grant.client_id = o.clientId;
      grant.client_secret = o.clientSecret ?? '';
    }
    const tokenRes = await http.send({
      method: 'POST',
      url: tokenUrl,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form(grant),
    });
    if (tokenRes.status !== 200) throw mapHttpError(tokenRes.status, tokenRes.data, '/oauth2/api/v1/token');
    const tokenBody = (tokenRes.data ?? {}) as Record<string, unknown>;
    const accessToken = tokenBody.access_token;
    if (typeof accessToken !== 'string' || !accessToken) {
      throw new NotAuthenticatedError('IBKR OAuth 2.0 token endpoint answered without an access token: check the client id and key.', {
        path: '/oauth2/api/v1/token',
      });
    }
    if (!o.privateKeyPem) {
      this.bearer = { token: accessToken, expiresAt: this.now() + this.lifetime(tokenBody) };
      return;
    }
    const iat = Math.floor(this.now() / 1000);
    const sessionJwt = signJwtRs256({ ip: o.ip, credential: o.credential, iss: o.clientId, iat, exp: iat + 86_400 }, o.privateKeyPem, o.keyId);
    const ssoRes = await http.send({
      method: 'POST',
      url: o.ssoSessionsUrl ?? `${this.origin}/gw/api/v1/sso-sessions`,
      headers: { Authorization: `Bearer ${accessToken}`, 'Content-Type': 'application/jwt', Accept: 'application/json' },
      body: sessionJwt,
    });
    if (ssoRes.status !== 200 && ssoRes.status !== 201) throw mapHttpError(ssoRes.status, ssoRes.data, '/gw/api/v1/sso-sessions');
    const ssoBody = (ssoRes.data ?? {}) as Record<string, unknown>;
    if (typeof ssoBody.access_token !== 'string' || !ssoBody.access_token) {
      throw new NotAuthenticatedError('IBKR OAuth 2.0 sso-sessions answered without a bearer token: check the username and public IP.', {
        path: '/gw/api/v1/sso-sessions',
      });
    }
    this.bearer = { token: ssoBody.access_token, expiresAt: this.now() + this.lifetime(ssoBody) };
  }

  needsRenewal(now: number): boolean {
    return !this.bearer || now >= this.bearer.expiresAt - (this.options.renewBeforeMs ?? 5 * 60_000);
  }

  decorate(request: OutgoingRequest): void {
    if (!this.bearer) throw new NotAuthenticatedError('IBKR OAuth 2.0 request attempted before a bearer token was obtained.', {});
    request.headers.Authorization = `Bearer ${this.bearer.token}`;
  }

  websocketTarget(session: string): WebSocketTarget {
    return {
      url: `${wsUrlFor(this.baseUrl)}?oauth_token=${encodeURIComponent(this.bearer?.token ?? '')}`,
      headers: { Cookie: `api=${session}`, 'User-Agent': 'ClientPortalGW/1' },
    };
  }

  invalidate(): void {
    this.bearer = undefined;
  }

  close(): void {
    this.bearer = undefined;
  }
}
