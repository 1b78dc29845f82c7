// ibkr-account: the account summary, ledger, positions (every page), live orders or P&L of its IBKR connection, on
// input and optionally every N seconds. Out: `account`, `position` (each, or one `positions` array) and
// `order-update` (each, or one `order-updates` array). The reading is lib/ibkr/account-view.ts.
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { InvalidInputError, describeValue, errorMessage } from '../../lib/errors';
import { ACCOUNT_VIEWS, parseAccountView, readAccountView, type AccountMessage, type AccountView } from '../../lib/ibkr/account-view';
import type { IbkrClient } from '../../lib/ibkr/client';
import { ibkrConfigNode, showSessionStatus, type IbkrConfigNode } from '../shared/ibkr-connection-registry';
import { handleClose, handleInput, setStatus, statusError } from '../shared/node-kit';

interface IbkrAccountDef extends NodeDef {
  connection: string;
  view?: string;
  /** 0 = no polling. */
  pollSec?: string | number;
  /** 'each' (one message per item) or 'array'. */
  lists?: string;
}

/** IBKR: live orders, P&L and portfolio accounts allow 1 request per 5 s (fact sheet §5). */
const MIN_POLL_SEC = 5;

function pollSeconds(v: unknown): number {
  const n = v === undefined || v === '' ? 0 : Number(v);
  if (!Number.isFinite(n) || n < 0 || (n > 0 && n < MIN_POLL_SEC)) {
    throw new InvalidInputError(`ibkr-account: "Poll every (s)" must be 0 (off) or at least ${MIN_POLL_SEC} s (IBKR allows one request per 5 s on these endpoints); got ${describeValue(v)}.`);
  }
  return n;
}

/** The view a message asks for: msg.what, else a view name in msg.payload, else the node's setting. */
function viewOf(msg: { what?: unknown; payload?: unknown }, fallback: AccountView): AccountView {
  if (msg.what !== undefined) return parseAccountView(msg.what);
  if (typeof msg.payload === 'string' && msg.payload.trim() !== '') {
    const asked = msg.payload.trim().toLowerCase();
    if ((ACCOUNT_VIEWS as readonly string[]).includes(asked)) return asked as AccountView;
    throw new InvalidInputError(`ibkr-account: msg.payload "${msg.payload}" is not an account view: send one of ${ACCOUNT_VIEWS.join(', ')} (or any other payload for the node's setting).`);
  }
  return fallback;
}

function outgoing(view: AccountView, messages: AccountMessage[], asArray: boolean): NodeMessage[] {
  if (!asArray || (view !== 'positions' && view !== 'orders')) return messages.map((m) => ({ topic: m.topic, payload: m.payload, view }) as NodeMessage);
  return [{ topic: view === 'positions' ? 'positions' : 'order-updates', payload: messages.map((m) => m.payload), view } as NodeMessage];
}

function summary(view: AccountView, messages: AccountMessage[]): string {
  const time = new Date().toTimeString().slice(0, 8);
  if (view === 'positions') return `${messages.length} position${messages.length === 1 ? '' : 's'} · ${time}`;
  if (view === 'orders') return `${messages.length} live order${messages.length === 1 ? '' : 's'} · ${time}`;
  return `${view} · ${time}`;
}

export = function register(RED: NodeAPI): void {
  function IbkrAccountNode(this: Node, config: IbkrAccountDef): void {
    RED.nodes.createNode(this, config);
    const node: Node = this; // eslint-disable-line @typescript-eslint/no-this-alias -- used by the closures below
    let ibkr: IbkrConfigNode | undefined;
    let client: Promise<IbkrClient> | undefined;
    let unsubscribe: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let setupError: Error | undefined;
    let view: AccountView = 'summary';
    const asArray = config.lists === 'array';

    try {
      view = parseAccountView(config.view || 'summary');
      const pollSec = pollSeconds(config.pollSec);
      const configNode = ibkrConfigNode(RED, config.connection, 'ibkr-account');
      ibkr = configNode;
      showSessionStatus(node, configNode.sessionState());
      unsubscribe = configNode.onState((event) => showSessionStatus(node, event));
      client = configNode.connection().then((connection) => connection.client);
      client.catch((err: unknown) => statusError(node, err));
      if (pollSec > 0) {
        let busy = false;
        let lastError = '';
        timer = setInterval(() => {
          if (busy) return; // a slow answer (the limiter pacing) is never overtaken by the next poll
          busy = true;
          void read(view)
            .then((messages) => {
              lastError = '';
              for (const m of messages) node.send(m);
            })
            .catch((err: unknown) => {
              statusError(node, err);
              // Once per distinct failure, not every poll; a Catch node sees it.
              if (errorMessage(err) !== lastError) node.error(err instanceof Error ? err : new Error(errorMessage(err)), { topic: 'ibkr-account', payload: view } as NodeMessage);
              lastError = errorMessage(err);
            })
            .finally(() => {
              busy = false;
            });
        }, pollSec * 1000);
      }
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(errorMessage(err));
      statusError(node, setupError);
    }

    async function read(which: AccountView): Promise<NodeMessage[]> {
      if (ibkr?.settingsError) throw ibkr.settingsError;
      const messages = await readAccountView(await (client as Promise<IbkrClient>), which, Date.now);
      setStatus(node, 'green', 'dot', summary(which, messages));
      return outgoing(which, messages, asArray);
    }

    handleInput(node, async (msg, send) => {
      if (setupError) throw setupError;
      const which = viewOf(msg, view);
      setStatus(node, 'blue', 'ring', `reading ${which}…`);
      for (const m of await read(which)) send(m);
    });

    handleClose(node, () => {
      if (timer) clearInterval(timer);
      unsubscribe?.();
    });
  }

  RED.nodes.registerType('ibkr-account', IbkrAccountNode);
};
