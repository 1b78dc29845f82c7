// ibkr-config: one IBKR connection (simulator, Client Portal Gateway, OAuth 1.0a, OAuth 2.0) shared by every ibkr-*
// node that selects it. It owns the link (simulator, IbkrConnection, IbkrStream), relays session state changes to
// its nodes, logs through Node-RED (never a secret), closes everything on redeploy, and serves the editor's
// "Test connection" button (POST /ibkr-config/test).
import type { ClusterRedis } from '../../lib/ibkr/cluster';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { errorMessage } from '../../lib/errors';
import type { IbkrConnection } from '../../lib/ibkr';
import type { IbkrStream } from '../../lib/ibkr/stream';
import type { IbkrConfigApi, StateListener } from '../shared/ibkr-connection-registry';
import { DeliveryCounter } from '../shared/delivery-counter';
import { handleClose } from '../shared/node-kit';
import { mergeCredentials } from '../shared/credentials';
import { testConnection } from './connection-test';
import { IbkrLink, type IbkrStateEvent, type SessionCommand } from '../../lib/ibkr/link';
import type { LinkLogger } from '../../lib/ibkr/link-observer';
import type { IbkrMetricsSource } from './metrics-source';
import { CREDENTIAL_FIELDS, planConnection, type IbkrConfigCredentials, type IbkrConfigSettings } from './settings';

type IbkrConfigDef = NodeDef & IbkrConfigSettings;

const CREDENTIALS: Record<keyof IbkrConfigCredentials, { type: 'text' | 'password' }> = {
  // OAuth 1.0a
  consumerKey: { type: 'text' },
  accessToken: { type: 'password' },
  accessTokenSecret: { type: 'password' },
  signatureKeyPem: { type: 'password' },
  encryptionKeyPem: { type: 'password' },
  dhPrime: { type: 'password' },
  realm: { type: 'text' },
  // OAuth 2.0
  clientId: { type: 'text' },
  keyId: { type: 'text' },
  privateKeyPem: { type: 'password' },
  clientSecret: { type: 'password' },
  username: { type: 'text' },
  // Share rate limits over Redis
  redisPassword: { type: 'password' },
};

function nodeLogger(node: Node): LinkLogger {
  return {
    trace: (m) => node.trace(m),
    debug: (m) => node.debug(m),
    info: (m) => node.log(m),
    warn: (m) => node.warn(m),
    error: (m) => node.error(m),
  };
}

export = function register(RED: NodeAPI): void {
  function IbkrConfigNode(this: Node<IbkrConfigCredentials>, config: IbkrConfigDef): void {
    RED.nodes.createNode(this, config);
    const node = this as Node<IbkrConfigCredentials> & IbkrConfigApi & IbkrMetricsSource & { settingsError: Error | undefined };
    const listeners = new Set<StateListener>();
    const logger = nodeLogger(node);
    let link: IbkrLink | undefined;
    let opened: Promise<void> = Promise.resolve();
    let settingsError: Error | undefined;
    let errorState: IbkrStateEvent | undefined;

    const relay = (event: IbkrStateEvent): void => {
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (err) {
          node.warn(`IBKR state listener failed: ${errorMessage(err)}`);
        }
      }
    };

    let sharedRedis: ClusterRedis | undefined;
    try {
      const plan = planConnection(config, node.credentials ?? {}, RED.settings.userDir);
      sharedRedis = plan.connection.cluster?.redis;
      link = new IbkrLink(plan, { logger });
    } catch (err) {
      settingsError = err instanceof Error ? err : new Error(errorMessage(err));
      errorState = { state: 'error', previous: 'disconnected', reason: settingsError.message, accountId: undefined, t: Date.now() };
      node.error(settingsError.message);
    }
    node.settingsError = settingsError;

    if (link) {
      const opening = link;
      opening.on('state', relay);
      opened = opening.open().catch((err: unknown) => {
        const reason = `IBKR connection could not start: ${errorMessage(err)}`;
        node.error(reason);
        opening.fail(reason);
        throw err instanceof Error ? err : new Error(reason);
      });
      opened.catch(() => undefined); // reported above; connection() callers get the rejection
    }

    node.connection = async (): Promise<IbkrConnection> => {
      if (!link) throw settingsError ?? new Error('IBKR connection is not configured');
      await opened;
      return link.connection();
    };
    node.stream = async (): Promise<IbkrStream> => {
      if (!link) throw settingsError ?? new Error('IBKR connection is not configured');
      await opened;
      return link.stream();
    };
    node.sessionState = (): IbkrStateEvent => errorState ?? (link as IbkrLink).snapshot();
    node.simulator = () => link?.simulator;
    node.marketNow = () => link?.simulator?.market.now() ?? Date.now();
    node.sharedRedis = () => sharedRedis;
    node.metrics = () => link?.metrics();
    node.replay = () => link?.replay;
    node.record = (topic: string, payload: object, t: number) => link?.record(topic, payload, t);
    node.historyRequestTime = () => link?.historyRequestTime();
    node.historySent = () => {
      const waiting = link;
      if (!waiting?.replayAwaitsHistory) return;
      // The replay goes on once no message is on its way between nodes: the preload has gone through the flow
      // (history → closed bars → VWAP → Battle Navale) before the next replayed tick, as it did live.
      deliveries.whenIdle(() => {
        waiting.replayHistoryTaken();
        deliveries.stop();
      });
    };
    node.onState = (listener: StateListener): (() => void) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    };
    node.command = async (command: SessionCommand): Promise<IbkrStateEvent> => {
      if (!link) throw settingsError ?? new Error('IBKR connection is not configured');
      await opened;
      return link.command(command);
    };

    // Messages on their way between nodes, counted while a replay may wait for its preload (Node-RED's hooks).
    const deliveries = new DeliveryCounter(RED, node.id, link !== undefined && config.mode === 'replay');
    // Once open, the count is kept only while the replay stands at its preload (its release stops it too).
    opened.then(
      () => {
        if (!link?.replayAwaitsHistory) deliveries.stop();
      },
      () => deliveries.stop(),
    );
    handleClose(node, async () => {
      deliveries.stop();
      listeners.clear();
      await link?.close();
    });
  }

  RED.nodes.registerType<Node<IbkrConfigCredentials>, IbkrConfigDef, unknown, IbkrConfigCredentials>('ibkr-config', IbkrConfigNode, {
    credentials: CREDENTIALS,
  });

  // The editor's "Test connection": the dialog's settings, and its credentials (stored ones where the dialog sends
  // Node-RED's placeholder for a password it does not show).
  RED.httpAdmin.post('/ibkr-config/test', RED.auth.needsPermission('ibkr-config.write'), (req: Request, res: Response) => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as IbkrConfigSettings & { id?: string; credentials?: Record<string, unknown> };
    const stored = typeof body.id === 'string' && body.id ? (RED.nodes.getCredentials(body.id) as IbkrConfigCredentials | undefined) : undefined;
    void testConnection(body, mergeCredentials(CREDENTIAL_FIELDS, body.credentials, stored))
      .then((result) => res.json(result))
      .catch((err: unknown) => res.json({ ok: false, mode: body.mode ?? 'simulator', state: 'error', message: errorMessage(err) }));
  });
};
