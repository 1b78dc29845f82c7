// Recognisable secrets for every credential field, and the scan that finds any of them, in clear, base64 (standard
// and URL-safe) or URL-encoded, in a text produced by the runtime.
const PEM = (label: string, marker: string) => `-----BEGIN ${label}-----\nMIIB${marker}QUFBQUFBQUFBQUFBQUFBQUFBQUFB\n-----END ${label}-----`;

export const SECRETS = {
  consumerKey: 'CKEYSECRET9f3a',
  accessToken: 'ATOKSECRET71bd',
  accessTokenSecret: 'ATSSECRET+/=e2c',
  signatureKeyPem: PEM('PRIVATE KEY', 'SIGKEYSECRET4d1'),
  encryptionKeyPem: PEM('PRIVATE KEY', 'ENCKEYSECRET8a0'),
  dhPrime: 'DHPRIMESECRET00ff11',
  clientId: 'CLIENTIDSECRET5c',
  keyId: 'KEYIDSECRET3e',
  clientSecret: 'CLIENTSECRET&?=6b',
  privateKeyPem: PEM('PRIVATE KEY', 'PRIVKEYSECRET2f'),
  username: 'IBUSERSECRET7a',
  dtcPassword: 'DTCPASSWORD%&9z',
};

/** The distinctive part of each secret (a PEM's marker), in the forms it could leak in. */
function forms(secret: string): string[] {
  const core = /MIIB(\w+?SECRET\w{3})/.exec(secret)?.[1] ?? secret;
  return [core, Buffer.from(core).toString('base64'), Buffer.from(core).toString('base64url'), encodeURIComponent(core)];
}

/** Every secret (by field) found in `text`, in any of its forms; `extra` adds secrets made at run time (real keys). */
export function leaks(text: string, extra: Record<string, string> = {}): string[] {
  const found: string[] = [];
  for (const [field, secret] of Object.entries({ ...SECRETS, ...extra })) {
    for (const form of forms(secret)) if (text.includes(form)) found.push(`${field} as ${form}`);
  }
  return found;
}
