// RS256 JSON Web Tokens with node's crypto (no new dependency): OAuth 2.0 client assertions and sso-session bodies.

import { sign } from 'node:crypto';

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export function signJwtRs256(claims: Record<string, unknown>, privateKeyPem: string, keyId?: string): string {
  const header: Record<string, string> = { alg: 'RS256', typ: 'JWT' };
  if (keyId) header.kid = keyId;
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput), privateKeyPem);
  return `${signingInput}.${base64url(signature)}`;
}

/** Header and claims of a JWT, unverified (tests and diagnostics). */
export function decodeJwt(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signingInput: string; signature: Buffer } {
  const [h = '', c = '', s = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>,
    signingInput: `${h}.${c}`,
    signature: Buffer.from(s, 'base64url'),
  };
}
