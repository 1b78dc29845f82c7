// The ibkr-config dialog's settings and credentials → the options of one IbkrConnection (and of the in-process
// simulator in simulator mode). Pure: no Node-RED, no sockets, so every rule (defaults per mode, URL checks, the
// credentials each mode needs) is tested on its own and shared by the node and its "Test connection" endpoint.
import { InvalidInputError, describeValue } from '../../lib/errors';
import type { ConnectionMode, IbkrConnectionOptions } from '../../lib/ibkr';
import { publicIpProblem } from '../../lib/ibkr/auth/oauth2';
import type { ClusterSettings, RatePreset } from '../../lib/ibkr';
import path from 'path';
import type { ConnectionPlan } from '../../lib/ibkr/link';
import { checkSpeed, type ReplaySpeed } from '../../lib/replay/recorded-market';

export const CONNECTION_MODES: readonly ConnectionMode[] = ['simulator', 'gateway', 'oauth1a', 'oauth2'];
/** The dialog's modes: the connection modes plus replay (the simulator serving a recording). */
export const DIALOG_MODES: readonly string[] = [...CONNECTION_MODES, 'replay'];
/** Recordings live here under the Node-RED user dir; a relative replay file is resolved against it. */
export const RECORDINGS_FOLDER = 'mia-recordings';
export const DEFAULT_RECORD_MAX_MB = 200;
export const RATE_PRESET_NAMES: readonly RatePreset[] = ['ibkr-10rps', 'conservative-50rpm'];

/** IBKR fact sheet §1: the Gateway's and the OAuth host's /v1/api bases. */
export const DEFAULT_BASE_URLS: Record<Exclude<ConnectionMode, 'simulator'>, string> = {
  gateway: 'https://localhost:5000/v1/api',
  oauth1a: 'https://api.ibkr.com/v1/api',
  oauth2: 'https://api.ibkr.com/v1/api',
};

/** The dialog's fields as Node-RED stores them (checkboxes are booleans, numbers may arrive as strings). */
export interface IbkrConfigSettings {
  mode?: string;
  baseUrl?: string;
  allowSelfSigned?: boolean | string;
  accountId?: string;
  /** 'paper' or 'live'. */
  accountType?: string;
  marketData?: boolean | string;
  trading?: boolean | string;
  ratePreset?: string;
  simSeed?: number | string;
  simSpeed?: number | string;
  simTls?: boolean | string;
  /** "Trace requests": every request and answer at debug level, secrets redacted. */
  traceRequests?: boolean | string;
  /** "Share rate limits over Redis": several Node-RED instances trading under one IBKR username. */
  clusterEnabled?: boolean | string;
  redisHost?: string;
  redisPort?: number | string;
  /** Optional: instances with the same id share limits; empty = derived from the account id (or username). */
  clusterId?: string;
  /**
   * OAuth 2.0 "Public IP": the address IBKR sees this machine's requests come from, which the sso-session is bound
   * to (fact sheet 1(c)). A plain setting, not a credential: it is not a secret.
   */
  publicIp?: string;
  /** "Record market data": what the IBKR nodes receive, to <userDir>/mia-recordings, one file per trading day. */
  record?: boolean | string;
  /** Per-day cap of a recording file, MB. */
  recordMaxMb?: number | string;
  /** Replay mode: the recording (a path, relative to <userDir>/mia-recordings unless absolute). */
  replayFile?: string;
  /** Replay mode: a multiple of real time (1 to 100000) or "max". */
  replaySpeed?: number | string;
}

/** The credential store's fields (Node-RED keeps them encrypted in flows_cred.json, never in the flow export). */
export interface IbkrConfigCredentials {
  consumerKey?: string;
  accessToken?: string;
  accessTokenSecret?: string;
  signatureKeyPem?: string;
  encryptionKeyPem?: string;
  dhPrime?: string;
  realm?: string;
  clientId?: string;
  keyId?: string;
  privateKeyPem?: string;
  clientSecret?: string;
  username?: string;
  /** The shared rate limiter's Redis password (optional). */
  redisPassword?: string;
}

export const CREDENTIAL_FIELDS: readonly (keyof IbkrConfigCredentials)[] = [
  'consumerKey',
  'accessToken',
  'accessTokenSecret',
  'signatureKeyPem',
  'encryptionKeyPem',
  'dhPrime',
  'realm',
  'clientId',
  'keyId',
  'privateKeyPem',
  'clientSecret',
  'username',
  'redisPassword',
];

/** Everything the config node needs to open its connection; `simulator` is set in simulator mode only. */
export type { ConnectionPlan } from '../../lib/ibkr/link';

function flag(value: boolean | string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return value === true || value === 'true';
}

/** `expected` completes "use …" in the refusal. The value may be anything a hand-edited flow holds. */
function numberSetting(value: number | string | undefined, fallback: number, what: string, expected: string, check: (n: number) => boolean): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isFinite(n) || !check(n)) {
    throw new InvalidInputError(`IBKR connection settings: ${what} ${describeValue(value)} is not valid: use ${expected}.`);
  }
  return n;
}

function text(value: string | undefined): string {
  return typeof value === 'string' ? value.trim() : '';
}

/** A /v1/api base URL the connection can use, or a clear error saying what is wrong with it. */
export function checkBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidInputError(`IBKR connection settings: the base URL "${raw}" is not a URL: use e.g. https://localhost:5000/v1/api.`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InvalidInputError(`IBKR connection settings: the base URL "${raw}" must start with https:// (e.g. https://localhost:5000/v1/api).`);
  }
  if (url.username || url.password) {
    throw new InvalidInputError('IBKR connection settings: the base URL must not contain a user name or password: put credentials in the credential fields.');
  }
  return url.toString().replace(/\/+$/, '');
}

/**
 * A PEM pasted into a one-line password field loses its line breaks (ibind #97: PEM line endings break OAuth):
 * put the header, the base64 body in 64-character lines and the footer back on their own lines.
 */
export function normalizePem(raw: string): string {
  const pem = raw.trim().replace(/\r\n/g, '\n');
  const m = /^(-----BEGIN [A-Z0-9 ]+-----)\s*([\s\S]*?)\s*(-----END [A-Z0-9 ]+-----)$/.exec(pem);
  if (!m) return pem;
  const body = m[2].replace(/\s+/g, '');
  return `${m[1]}\n${(body.match(/.{1,64}/g) ?? []).join('\n')}\n${m[3]}\n`;
}

function missing(credentials: IbkrConfigCredentials, fields: (keyof IbkrConfigCredentials)[]): (keyof IbkrConfigCredentials)[] {
  return fields.filter((f) => text(credentials[f]) === '');
}

const LABELS: Record<keyof IbkrConfigCredentials, string> = {
  consumerKey: 'consumer key',
  accessToken: 'access token',
  accessTokenSecret: 'access-token secret',
  signatureKeyPem: 'signature key (PEM)',
  encryptionKeyPem: 'encryption key (PEM)',
  dhPrime: 'DH prime',
  realm: 'realm',
  clientId: 'client id',
  keyId: 'key id',
  privateKeyPem: 'private key (PEM)',
  clientSecret: 'client secret',
  username: 'username',
  redisPassword: 'Redis password',
};

function requireCredentials(modeLabel: string, credentials: IbkrConfigCredentials, fields: (keyof IbkrConfigCredentials)[]): void {
  const absent = missing(credentials, fields);
  if (absent.length > 0) {
    throw new InvalidInputError(
      `IBKR ${modeLabel} needs its credentials: ${absent.map((f) => LABELS[f]).join(', ')} missing. Fill them in the IBKR connection (config node) and deploy.`,
    );
  }
}

/**
 * The OAuth 2.0 "Public IP" setting: required with the private key, whose sso-session JWT carries it as the `ip`
 * claim (fact sheet 1(c)); unused by the client-secret grant, but still checked there when filled in, since the
 * dialog shows it. Refused before anything is sent to IBKR.
 */
export function planPublicIp(raw: unknown, privateKey: boolean): string | undefined {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    if (!privateKey) return undefined;
    throw new InvalidInputError(
      'IBKR OAuth 2.0 with a private key needs the "Public IP" setting: IBKR binds the session to the public address your requests come from. Fill in the public IPv4 or IPv6 address of this machine\'s internet connection (e.g. 203.0.113.7; a site such as https://ifconfig.me shows it) in the IBKR connection and deploy.',
    );
  }
  if (typeof raw !== 'string') {
    throw new InvalidInputError(`IBKR connection settings: the "Public IP" ${describeValue(raw)} is not an IP address written as text, e.g. 203.0.113.7.`);
  }
  const ip = raw.trim();
  const problem = publicIpProblem(ip);
  if (problem) throw new InvalidInputError(`IBKR connection settings: the "Public IP" ${describeValue(ip)} ${problem}.`);
  return ip;
}

/** Redis's default port. */
export const DEFAULT_REDIS_PORT = 6379;

/**
 * The "Share rate limits over Redis" section → the connection's `cluster` option, or undefined when it is off.
 * Without a cluster id, the instances of one IBKR username find each other by the account id (OAuth 2.0: the
 * username): IBKR counts requests per username, so that is what the limits must be shared by.
 */
export function planCluster(settings: IbkrConfigSettings, credentials: IbkrConfigCredentials, accountId: string | undefined): ClusterSettings | undefined {
  if (!flag(settings.clusterEnabled, false)) return undefined;
  const host = text(settings.redisHost);
  if (!host) {
    throw new InvalidInputError('IBKR connection settings: "Share rate limits over Redis" is on but the Redis host is empty: give the host of the Redis every instance uses (e.g. 127.0.0.1), or turn sharing off.');
  }
  if (!/^[A-Za-z0-9.\-:[\]]+$/.test(host)) {
    throw new InvalidInputError(`IBKR connection settings: the Redis host "${host}" is not a host name or IP address (e.g. 127.0.0.1 or redis.local).`);
  }
  const port = numberSetting(settings.redisPort, DEFAULT_REDIS_PORT, 'Redis port', `a whole number from 1 to 65535 (empty = ${DEFAULT_REDIS_PORT})`, (n) => Number.isInteger(n) && n >= 1 && n <= 65535);
  const id = text(settings.clusterId);
  if (id && !/^[A-Za-z0-9._:-]{1,64}$/.test(id)) {
    throw new InvalidInputError(`IBKR connection settings: the cluster id "${id}" may only use letters, digits, ".", "_", ":" and "-" (at most 64): give every instance of one IBKR username the same id.`);
  }
  const username = accountId ?? (text(credentials.username) || undefined);
  if (!id && username === undefined) {
    throw new InvalidInputError(
      'IBKR connection settings: sharing rate limits over Redis needs to know whose limits to share: fill in the account (or a cluster id, the same on every instance of this IBKR username).',
    );
  }
  const password = text(credentials.redisPassword);
  return {
    redis: { host, port, ...(password ? { password } : {}) },
    ...(id ? { id } : {}),
    ...(username !== undefined ? { username } : {}),
  };
}

/** Turns the dialog's settings into a connection plan, or throws an InvalidInputError a trader can act on. */
export function planConnection(settings: IbkrConfigSettings, credentials: IbkrConfigCredentials = {}, userDir?: string): ConnectionPlan {
  const dialogMode = text(settings.mode) || 'simulator';
  if (!DIALOG_MODES.includes(dialogMode)) {
    throw new InvalidInputError(`IBKR connection settings: unknown mode "${dialogMode}": choose simulator, replay, gateway, OAuth 1.0a or OAuth 2.0.`);
  }
  const replay = dialogMode === 'replay';
  const mode = (replay ? 'simulator' : dialogMode) as ConnectionMode;
  const record = planRecord(settings, userDir, replay);
  const plan = planMode(mode, settings, credentials);
  if (record) plan.record = record;
  if (replay) {
    plan.replay = planReplay(settings, userDir);
    delete plan.simulator?.seed;
    delete plan.simulator?.speed;
  }
  return plan;
}

function recordingsDir(userDir: string | undefined, what: string): string {
  if (!userDir) throw new InvalidInputError(`IBKR connection settings: ${what} needs the Node-RED user directory, which is unknown here.`);
  return path.join(userDir, RECORDINGS_FOLDER);
}

function planRecord(settings: IbkrConfigSettings, userDir: string | undefined, replay: boolean): ConnectionPlan['record'] {
  if (!flag(settings.record, false)) return undefined;
  if (replay) {
    throw new InvalidInputError('IBKR connection settings: "Record market data" is on in replay mode: a replay is already a recording. Untick it or choose another mode.');
  }
  const mb = numberSetting(settings.recordMaxMb, DEFAULT_RECORD_MAX_MB, 'recording cap', 'a number of MB above 0 and at most 10000', (n) => n > 0 && n <= 10_000);
  return { dir: recordingsDir(userDir, 'recording'), maxBytes: Math.round(mb * 1024 * 1024) };
}

function planReplay(settings: IbkrConfigSettings, userDir: string | undefined): NonNullable<ConnectionPlan['replay']> {
  const file = text(settings.replayFile);
  if (file === '') throw new InvalidInputError('IBKR connection settings: replay mode needs the recording to replay (e.g. ES-2026-03-03.jsonl.gz).');
  const raw = text(typeof settings.replaySpeed === 'number' ? String(settings.replaySpeed) : settings.replaySpeed) || '1';
  let speed: ReplaySpeed;
  try {
    speed = checkSpeed(raw === 'max' ? 'max' : Number(raw));
  } catch {
    throw new InvalidInputError(`IBKR connection settings: replay speed ${describeValue(settings.replaySpeed)} is not valid: use a number from 1 to 100000 (1 = real time) or "max".`);
  }
  if (speed !== 'max' && (speed < 1 || speed > 100_000)) {
    throw new InvalidInputError(`IBKR connection settings: replay speed ${describeValue(settings.replaySpeed)} is not valid: use a number from 1 to 100000 (1 = real time) or "max".`);
  }
  return { file: path.isAbsolute(file) ? file : path.join(recordingsDir(userDir, 'a relative replay file'), file), speed };
}

function planMode(mode: ConnectionMode, settings: IbkrConfigSettings, credentials: IbkrConfigCredentials): ConnectionPlan {
  const ratePreset = (text(settings.ratePreset) || 'ibkr-10rps') as RatePreset;
  if (!RATE_PRESET_NAMES.includes(ratePreset)) {
    throw new InvalidInputError(`IBKR connection settings: unknown rate-limit preset "${ratePreset}": choose ${RATE_PRESET_NAMES.join(' or ')}.`);
  }
  const accountId = text(settings.accountId) || undefined;
  if (accountId !== undefined && !/^[A-Za-z0-9]{2,20}$/.test(accountId)) {
    throw new InvalidInputError(`IBKR connection settings: account id "${accountId}" is not an IBKR account id (e.g. DU1234567 for paper, U1234567 for live).`);
  }
  const paper = text(settings.accountType) !== 'live';
  const traceRequests = flag(settings.traceRequests, false);
  const connection: IbkrConnectionOptions = {
    mode,
    accountId,
    paper,
    marketDataEnabled: flag(settings.marketData, true),
    // Trading is off unless the trader ticked it (ARCHITECTURE.md, "Orders").
    tradingEnabled: flag(settings.trading, false),
    ratePreset,
  };
  const cluster = planCluster(settings, credentials, accountId);
  if (cluster) connection.cluster = cluster;

  if (mode === 'simulator') {
    return {
      mode,
      paper,
      connection,
      traceRequests,
      simulator: {
        seed: numberSetting(settings.simSeed, 1, 'simulator seed', 'a whole number (the same seed gives the same market)', Number.isInteger),
        speed: numberSetting(settings.simSpeed, 1, 'simulator speed', 'a number above 0 and at most 1000 (1 = real time)', (n) => n > 0 && n <= 1000),
        tls: flag(settings.simTls, true),
        accountId,
      },
    };
  }

  connection.baseUrl = checkBaseUrl(text(settings.baseUrl) || DEFAULT_BASE_URLS[mode]);
  if (mode === 'gateway') {
    // The Gateway's certificate is self-signed; the trader's consent covers the Gateway's own host only.
    connection.allowSelfSigned = flag(settings.allowSelfSigned, false);
    return { mode, paper, connection, traceRequests };
  }
  if (mode === 'oauth1a') {
    requireCredentials('OAuth 1.0a', credentials, ['consumerKey', 'accessToken', 'accessTokenSecret', 'signatureKeyPem', 'encryptionKeyPem', 'dhPrime']);
    const dh = text(credentials.dhPrime);
    connection.credentials = {
      oauth1a: {
        consumerKey: text(credentials.consumerKey),
        accessToken: text(credentials.accessToken),
        accessTokenSecret: text(credentials.accessTokenSecret),
        signatureKeyPem: normalizePem(text(credentials.signatureKeyPem)),
        encryptionKeyPem: normalizePem(text(credentials.encryptionKeyPem)),
        ...(dh.includes('BEGIN') ? { dhParamPem: normalizePem(dh) } : { dhPrimeHex: dh.replace(/^0x/i, '').replace(/[\s:]/g, '') }),
        realm: text(credentials.realm) || 'limited_poa',
      },
    };
    return { mode, paper, connection, traceRequests };
  }
  requireCredentials('OAuth 2.0', credentials, ['clientId', 'username']);
  if (text(credentials.privateKeyPem) === '' && text(credentials.clientSecret) === '') {
    throw new InvalidInputError('IBKR OAuth 2.0 needs either the private key (PEM) with its key id, or the client secret. Fill one in the IBKR connection and deploy.');
  }
  const privateKey = text(credentials.privateKeyPem) !== '';
  if (privateKey) requireCredentials('OAuth 2.0', credentials, ['keyId']);
  const ip = planPublicIp(settings.publicIp, privateKey);
  connection.credentials = {
    oauth2: {
      clientId: text(credentials.clientId),
      keyId: text(credentials.keyId) || undefined,
      privateKeyPem: text(credentials.privateKeyPem) ? normalizePem(text(credentials.privateKeyPem)) : undefined,
      clientSecret: text(credentials.clientSecret) || undefined,
      credential: text(credentials.username),
      ...(ip !== undefined ? { ip } : {}),
    },
  };
  return { mode, paper, connection, traceRequests };
}
