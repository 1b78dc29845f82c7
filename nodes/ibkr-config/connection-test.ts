// The editor's "Test connection": open a throw-away link with the dialog's settings, wait for the first session
// check, and answer with the authenticated account id or the reason a trader can act on. Always closes what it
// opened (in simulator mode: its own simulator on another ephemeral port).
import { errorMessage } from '../../lib/errors';
import type { IbkrLogger } from '../../lib/ibkr';
import { IbkrLink } from '../../lib/ibkr/link';
import { planConnection, type IbkrConfigCredentials, type IbkrConfigSettings } from './settings';

export interface ConnectionTestResult {
  ok: boolean;
  mode: string;
  accountId?: string;
  state: string;
  /** Trader-readable: what happened and, when it failed, what to do. */
  message: string;
}

const quietLogger: IbkrLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export async function testConnection(
  settings: IbkrConfigSettings,
  credentials: IbkrConfigCredentials,
  options: { timeoutMs?: number; logger?: IbkrLogger } = {},
): Promise<ConnectionTestResult> {
  const mode = typeof settings.mode === 'string' && settings.mode ? settings.mode : 'simulator';
  let link: IbkrLink;
  try {
    link = new IbkrLink(planConnection(settings, credentials), { logger: options.logger ?? quietLogger });
  } catch (err) {
    return { ok: false, mode, state: 'error', message: errorMessage(err) };
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([link.open().then(() => 'opened' as const), timedOut]);
    if (outcome === 'timeout') {
      return { ok: false, mode, state: link.state, message: `IBKR did not answer within ${Math.round(timeoutMs / 1000)} s: check the base URL and that the Gateway is running.` };
    }
    const connection = link.connection();
    if (connection.state !== 'authenticated') {
      const last = await link.settled();
      return { ok: false, mode, state: connection.state, message: last.reason };
    }
    const accountId = await connection.client.accountId();
    return { ok: true, mode, state: 'authenticated', accountId, message: `Connected: IBKR session authenticated, account ${accountId}.` };
  } catch (err) {
    return { ok: false, mode, state: link.state, message: errorMessage(err) };
  } finally {
    clearTimeout(timer);
    await link.close();
  }
}
