// The in-process IBKR simulator: the Gateway provider pointed at its loopback URL, trusting exactly the
// certificate the simulator generated (pinned), so the client code path is the live one.

import { GatewayAuth } from './gateway';
import type { AuthMode, TlsTrust } from './types';

export interface SimulatorAuthOptions {
  baseUrl: string;
  certificatePem?: string;
}

export class SimulatorAuth extends GatewayAuth {
  override readonly mode: AuthMode = 'simulator';
  override readonly tls: TlsTrust;

  constructor(options: SimulatorAuthOptions) {
    super({ baseUrl: options.baseUrl, allowSelfSigned: false });
    this.tls = { certificatePem: options.certificatePem };
  }
}
