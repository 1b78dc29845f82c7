// One interface for the four ways to reach IBKR (simulator, Client Portal Gateway, OAuth 1.0a, OAuth 2.0).
// A provider decorates each outgoing request (headers, signature) and knows how the WebSocket authenticates.

export type AuthMode = 'simulator' | 'gateway' | 'oauth1a' | 'oauth2';

export interface OutgoingRequest {
  method: string;
  /** Absolute URL with the query string already in it (OAuth 1.0a signs the query parameters). */
  url: string;
  headers: Record<string, string>;
  /** An object is sent as JSON; a string is sent as is (form bodies, JWT bodies). */
  body?: unknown;
}

export interface RawResponse {
  status: number;
  data: unknown;
  headers: Record<string, string>;
}

/** Undecorated HTTP through the connection's limiter and agents, for the provider's own token calls. */
export interface AuthHttp {
  send(request: OutgoingRequest): Promise<RawResponse>;
}

export interface WebSocketTarget {
  url: string;
  headers: Record<string, string>;
}

/** TLS trust for the connection's own host: a pinned certificate (simulator) or the user's self-signed consent. */
export interface TlsTrust {
  /** PEM certificate to trust, pinned by fingerprint (the in-process simulator). */
  certificatePem?: string;
  /** Accept a self-signed certificate, for this host only (the Client Portal Gateway on localhost). */
  allowSelfSigned?: boolean;
}

export interface AuthProvider {
  readonly mode: AuthMode;
  /** The /v1/api base, e.g. https://localhost:5000/v1/api. */
  readonly baseUrl: string;
  readonly tls: TlsTrust;
  /** Obtains whatever the mode needs before the first request (OAuth tokens). Called again to renew. */
  prepare(http: AuthHttp): Promise<void>;
  /** True when prepare() must run again before the next request (a token near its expiry). */
  needsRenewal(now: number): boolean;
  decorate(request: OutgoingRequest): void;
  /** How the streaming module connects, given the `session` value of /tickle. */
  websocketTarget(session: string): WebSocketTarget;
  /** Forgets every token; the next prepare() starts from scratch. */
  invalidate(): void;
  close(): void;
}

/** IBKR wants a JSON cookie `api={"session":"…"}` on the Gateway's socket (fact sheet, section 4). */
export function wsUrlFor(baseUrl: string): string {
  return `${baseUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/ws`;
}
