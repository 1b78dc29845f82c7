// The Client Portal Gateway on the trader's machine (https://localhost:5000/v1/api). The Gateway holds the session
// itself after the browser login, so requests carry no credential; its certificate is self-signed, accepted only
// when the trader ticked it and only for the Gateway's own host (see Transport.agentFor).

import type { AuthMode, AuthProvider, OutgoingRequest, TlsTrust, WebSocketTarget } from './types';
import { wsUrlFor } from './types';

export interface GatewayAuthOptions {
  baseUrl?: string;
  allowSelfSigned?: boolean;
}

export const DEFAULT_GATEWAY_URL = 'https://localhost:5000/v1/api';

export class GatewayAuth implements AuthProvider {
  readonly mode: AuthMode = 'gateway';
  readonly baseUrl: string;
  readonly tls: TlsTrust;

  constructor(options: GatewayAuthOptions = {}) {
    this.baseUrl = (options.baseUrl ?? DEFAULT_GATEWAY_URL).replace(/\/+$/, '');
    this.tls = { allowSelfSigned: options.allowSelfSigned === true };
  }

  async prepare(): Promise<void> {}

  needsRenewal(): boolean {
    return false;
  }

  /** The Gateway holds the session itself: nothing to add. */
  decorate(_request: OutgoingRequest): void {}

  websocketTarget(session: string): WebSocketTarget {
    // [CP] and [IB]: the session value of /tickle as the `api` cookie, JSON form, for the Gateway.
    return { url: wsUrlFor(this.baseUrl), headers: { Cookie: `api=${JSON.stringify({ session })}` } };
  }

  invalidate(): void {}

  close(): void {}
}
