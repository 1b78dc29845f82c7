// sierra-config: one DTC connection to Sierra Chart (or to the in-process DTC simulator) shared by every sierra-order
// node that selects it. It owns one SierraConnection (client, order manager, simulator) and holds its trade account's
// risk engine (kill switch, limits, journal in <userDir>/mia-trading: it outlives a redeploy and a restart),
// logs through Node-RED (never a secret), closes everything on redeploy, and serves the editor's "Test connection"
// (POST /sierra-config/test) and symbol preview (GET /sierra-config/symbol).
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { errorMessage } from '../../lib/errors';
import path from 'node:path';
import { SierraConnection, testLogon } from '../../lib/sierra/connection';
import type { DtcLogLevel } from '../../lib/sierra/client';
import { handleClose } from '../shared/node-kit';
import type { SierraConfigApi } from './api';
import { mergeCredentials } from '../shared/credentials';
import { CREDENTIAL_FIELDS, planConnection, previewSymbol, type SierraConfigCredentials, type SierraConfigSettings } from './settings';

type SierraConfigDef = NodeDef & SierraConfigSettings;

/** Where the risk journals live: the Node-RED user directory's mia-trading/ (absent in some test runtimes: memory). */
function journalDirOf(RED: NodeAPI): string | undefined {
  const userDir = (RED.settings as { userDir?: unknown }).userDir;
  return typeof userDir === 'string' && userDir ? path.join(userDir, 'mia-trading') : undefined;
}

export = function register(RED: NodeAPI): void {
  function SierraConfigNode(this: Node<SierraConfigCredentials>, config: SierraConfigDef): void {
    RED.nodes.createNode(this, config);
    const node = this as Node<SierraConfigCredentials> & SierraConfigApi & { settingsError: Error | undefined };
    const log = (level: DtcLogLevel, text: string): void => {
      if (level === 'debug') node.debug(text);
      else if (level === 'info') node.log(text);
      else if (level === 'error') node.error(text);
      else node.warn(text);
    };
    let connection: SierraConnection | undefined;
    let opened: Promise<void> = Promise.resolve();
    try {
      const plan = planConnection(config, node.credentials ?? {}, RED.settings.userDir);
      // A kill survives a redeploy and a restart (the account's journal); the dialog's state applies when stricter.
      connection = new SierraConnection({ ...plan, log, holder: node.id, journalDir: journalDirOf(RED) });
      node.settingsError = undefined;
    } catch (err) {
      node.settingsError = err instanceof Error ? err : new Error(errorMessage(err));
      node.error(node.settingsError.message);
    }
    if (connection) {
      opened = connection.open().catch((err: unknown) => {
        const reason = `Sierra Chart connection could not start: ${errorMessage(err)}`;
        node.error(reason);
        throw err instanceof Error ? err : new Error(reason);
      });
      opened.catch(() => undefined); // reported above; connection() callers get the rejection
    }

    node.connection = async (): Promise<SierraConnection> => {
      if (!connection) throw node.settingsError ?? new Error('Sierra Chart connection is not configured.');
      await opened;
      return connection;
    };

    handleClose(node, async () => {
      await connection?.close();
    });
  }

  RED.nodes.registerType<Node<SierraConfigCredentials>, SierraConfigDef, unknown, SierraConfigCredentials>('sierra-config', SierraConfigNode, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });

  // "Test connection": one logon with the dialog's settings (stored credentials where the dialog sends the password
  // placeholder); answers the trade accounts or the reason.
  RED.httpAdmin.post('/sierra-config/test', RED.auth.needsPermission('sierra-config.write'), (req: Request, res: Response) => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as SierraConfigSettings & { id?: string; credentials?: Record<string, unknown> };
    const stored = typeof body.id === 'string' && body.id ? (RED.nodes.getCredentials(body.id) as SierraConfigCredentials | undefined) : undefined;
    let plan;
    try {
      plan = planConnection(body, mergeCredentials(CREDENTIAL_FIELDS, body.credentials, stored));
    } catch (err) {
      res.json({ ok: false, message: errorMessage(err) });
      return;
    }
    void testLogon(plan).then((result) => res.json(result), (err: unknown) => res.json({ ok: false, message: errorMessage(err) }));
  });

  // The symbol section: symbol, or root + format → the one contract traded now, its expiry and roll date.
  RED.httpAdmin.get('/sierra-config/symbol', RED.auth.needsPermission('sierra-config.read'), (req: Request, res: Response) => {
    try {
      res.json({ ok: true, ...previewSymbol(req.query as Record<string, unknown>, Date.now()) });
    } catch (err) {
      res.status(400).json({ ok: false, message: errorMessage(err) });
    }
  });
};
