// Typed IBKR errors. Each message tells a trader what failed, why, and what to do; the wire error rides along as
// `cause`; every piece of server text passes through redactText() first, so no secret can reach a message.
// mapHttpError() is the one translation from an HTTP answer to these types (ibkr-web-api.md, section 6).

import { MiaError } from '../errors';
import { redactText } from './redact';

export interface IbkrErrorDetails {
  status?: number;
  path?: string;
  cause?: unknown;
}

export class IbkrError extends MiaError {
  readonly status?: number;
  readonly path?: string;

  constructor(code: string, message: string, details: IbkrErrorDetails = {}) {
    super(code, message, { cause: details.cause });
    this.status = details.status;
    this.path = details.path;
  }
}

/** 401: no valid session (Gateway not logged in; OAuth keys, signature or consumer key not accepted). */
export class NotAuthenticatedError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_NOT_AUTHENTICATED', message, details);
  }
}

/** 410 under OAuth: the live session token or bearer token is no longer valid. */
export class SessionExpiredError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_SESSION_EXPIRED', message, details);
  }
}

/** 429: IBKR's rate limit was hit; the whole connection pauses for `retryAfterMs`. */
export class RateLimitedError extends IbkrError {
  readonly retryAfterMs: number;

  constructor(message: string, retryAfterMs: number, details?: IbkrErrorDetails) {
    super('IBKR_RATE_LIMITED', message, details);
    this.retryAfterMs = retryAfterMs;
  }
}

/** 400 "no bridge": the brokerage (/iserver) session is not open; ssodh/init opens it. */
export class NoBridgeError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_NO_BRIDGE', message, details);
  }
}

export class NotFoundError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_NOT_FOUND', message, details);
  }
}

/** IBKR (or our answer rule) refused an order, a modification or a confirmation question. Nothing was placed. */
export class RejectedError extends IbkrError {
  readonly reason: string;

  constructor(message: string, reason: string, details?: IbkrErrorDetails) {
    super('IBKR_REJECTED', message, details);
    this.reason = reason;
  }
}

/** 500 "Please query /accounts first": the account priming was lost (often the nightly reset). */
export class AccountsNotPrimedError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_ACCOUNTS_NOT_PRIMED', message, details);
  }
}

/** Any other 4xx the API answers for a malformed request. */
export class BadRequestError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_BAD_REQUEST', message, details);
  }
}

/** 5xx: IBKR's side failed; idempotent reads are retried before this reaches a caller. */
export class ServerError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_SERVER_ERROR', message, details);
  }
}

export class NetworkError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_NETWORK', message, details);
  }
}

/** No answer in time. For an order the outcome is unknown: look it up by client order id, never resend blind. */
export class TimeoutError extends IbkrError {
  constructor(message: string, details?: IbkrErrorDetails) {
    super('IBKR_TIMEOUT', message, details);
  }
}

/** Orders were asked for while the connection's "Trading enabled" switch is off; nothing was sent. */
export class TradingDisabledError extends IbkrError {
  /** `blockedBecause`: trading is switched on but was turned off by a check (paper/live mismatch, unknown account). */
  constructor(action: string, blockedBecause?: string) {
    super(
      'IBKR_TRADING_DISABLED',
      blockedBecause
        ? `IBKR ${action} not sent: trading is off on this IBKR connection until this is fixed: ${blockedBecause}`
        : `IBKR ${action} not sent: trading is disabled on this IBKR connection. Tick "Trading enabled" in the ibkr-config node to allow orders.`,
    );
  }
}

/** The connection was closed while the request waited or ran. */
export class ConnectionClosedError extends IbkrError {
  constructor(path: string) {
    super('IBKR_CLOSED', `IBKR request ${path} dropped: the IBKR connection is closing (flow redeployed or stopped).`, { path });
  }
}

/** The server's own words, shortened and scrubbed, for the "why" of a message. */
export function serverText(body: unknown): string {
  let text: string;
  if (body === undefined || body === null || body === '') return '';
  if (typeof body === 'string') text = body;
  else if (typeof body === 'object') {
    const o = body as Record<string, unknown>;
    const picked = o.error ?? o.message ?? o.msg ?? o.text;
    text = typeof picked === 'string' ? picked : JSON.stringify(body);
  } else text = String(body);
  text = redactText(text.replace(/\s+/g, ' ').trim());
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

function bare(path: string): string {
  return redactText(path.split('?')[0] ?? path);
}

/** Translates one failed HTTP answer into the typed error a trader can act on (section 6 of the IBKR fact sheet). */
export function mapHttpError(
  status: number,
  body: unknown,
  path: string,
  options: { retryAfterMs?: number; cause?: unknown } = {},
): IbkrError {
  const where = bare(path);
  const said = serverText(body);
  const details: IbkrErrorDetails = { status, path: where, cause: options.cause };
  const quoted = said ? ` ("${said}")` : '';
  const lower = said.toLowerCase();

  if (status === 401) {
    return new NotAuthenticatedError(
      where.includes('live_session_token') || where.includes('oauth')
        ? `IBKR refused the OAuth credentials on ${where}${quoted}: check the consumer key, access token and keys (a new consumer key works only after the next regional midnight; paper and live keys differ).`
        : `IBKR request ${where} refused: not authenticated${quoted}. Log in to the Client Portal Gateway in a browser (or check the OAuth credentials); the connection retries on its own.`,
      details,
    );
  }
  if (status === 410) {
    return new SessionExpiredError(
      `IBKR session expired on ${where}${quoted}: a new session token is being requested; if this repeats, re-check the OAuth credentials.`,
      details,
    );
  }
  if (status === 429) {
    const waitMs = options.retryAfterMs ?? 0;
    return new RateLimitedError(
      `IBKR rate limit hit on ${where}: every request on this connection pauses${waitMs ? ` for ${Math.ceil(waitMs / 1000)} s` : ''}. Lower the request rate (try the "conservative" rate preset) — repeated offences can put the IP in IBKR's penalty box for 10–15 min.`,
      waitMs,
      details,
    );
  }
  if (status === 400 && lower.includes('no bridge')) {
    return new NoBridgeError(
      `IBKR brokerage session not open (no bridge) on ${where}: the connection is opening it (ssodh/init); retry in a few seconds. If it persists, another IBKR login (TWS, mobile) may hold the session.`,
      details,
    );
  }
  if (status === 400 && lower.includes('reply id') && lower.includes('not found')) {
    return new RejectedError(
      `IBKR order confirmation lost${quoted}: another request reached IBKR between the order and its answer, so IBKR dropped the order. Check live orders before sending it again.`,
      'reply-id-not-found',
      details,
    );
  }
  if (status === 404) {
    return new NotFoundError(`IBKR has nothing at ${where}${quoted}: check the contract id, account or order id.`, details);
  }
  if (status === 500 && lower.includes('query /accounts first')) {
    return new AccountsNotPrimedError(
      `IBKR lost the account selection on ${where} (usually after its nightly reset): accounts are being queried again; a read is retried, an order is not — send it again.`,
      details,
    );
  }
  if (status === 503 && where.includes('/iserver/reply/')) {
    return new RejectedError(
      `IBKR order confirmation came too late${quoted}: IBKR dropped the order. Check live orders before sending it again.`,
      'late-reply',
      details,
    );
  }
  if (status >= 500) {
    return new ServerError(
      `IBKR server error ${status} on ${where}${quoted}: IBKR's side failed (it restarts briefly each night). Reads are retried; check live orders before re-sending any order.`,
      details,
    );
  }
  if (status === 403) {
    return new NotAuthenticatedError(`IBKR request ${where} forbidden (403)${quoted}: the user lacks permission for it.`, details);
  }
  return new BadRequestError(`IBKR refused the request ${where} (HTTP ${status})${quoted}: check the inputs.`, details);
}

/** A 200 answer whose body carries `{"error": ...}` (order rejections come back this way). */
export function rejectionFromBody(body: unknown, what: string, path: string): RejectedError | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const error = (body as Record<string, unknown>).error;
  if (typeof error !== 'string' || !error) return undefined;
  const said = serverText(error);
  return new RejectedError(`IBKR rejected the ${what}: ${said}. Nothing was placed; fix the order and send it again.`, said, {
    status: 200,
    path: bare(path),
  });
}
