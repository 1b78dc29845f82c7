// How an IBKR node reaches its ibkr-config node: one typed lookup (RED.nodes.getNode(configId)), the API the config
// node offers (its one connection, its one stream, session state events, session commands), and the one mapping
// from a session state to a status ring, so every ibkr-* node shows the session the same way.
import type { RecordedMarket } from '../../lib/replay/recorded-market';
import type { Node, NodeAPI, NodeStatus } from 'node-red';
import { InvalidInputError } from '../../lib/errors';
import type { IbkrConnection } from '../../lib/ibkr';
import type { ClusterRedis } from '../../lib/ibkr/cluster';
import type { IbkrStream } from '../../lib/ibkr/stream';
import type { IbkrSimulator } from '../../lib/sim/ibkr';
import type { IbkrLinkState, IbkrStateEvent, SessionCommand } from '../../lib/ibkr/link';
import { setStatus } from './node-kit';

export type { IbkrLinkState, IbkrStateEvent, SessionCommand } from '../../lib/ibkr/link';

export type StateListener = (event: IbkrStateEvent) => void;

/** What an ibkr-config node offers the nodes that use it. */
export interface IbkrConfigApi {
  /** The connection, once its first session check is done; rejects with the settings error (what to fix). */
  connection(): Promise<IbkrConnection>;
  /** The connection's one WebSocket (created on first call), shared by every streaming node. */
  stream(): Promise<IbkrStream>;
  /** The latest session state. */
  sessionState(): IbkrStateEvent;
  /** Calls `listener` on every session state change; returns the unsubscribe function. */
  onState(listener: StateListener): () => void;
  /** status | login | reauth | logout; resolves with the state after the command. */
  command(command: SessionCommand): Promise<IbkrStateEvent>;
  /** Simulator mode: the in-process simulator (its control drives sessions and the market in demos and tests). */
  simulator(): IbkrSimulator | undefined;
  /**
   * The market's clock, in epoch ms: the simulated market's in simulator mode (it runs at its own speed from its own
   * start, and stamps every quote and bar), the wall clock live. History periods, the front month, option expiries
   * and the risk rules are reckoned on it, so they match the data.
   */
  marketNow(): number;
  /**
   * The Redis this connection shares its rate limits over ("Share rate limits over Redis"), or undefined: the order
   * nodes keep the account's risk journal there too, so every instance trading the account shares one budget.
   */
  sharedRedis(): ClusterRedis | undefined;
  /** Replay mode: the replayed market (pause, resume, step, setSpeed, status); undefined in other modes. */
  replay(): RecordedMarket | undefined;
  /**
   * "Record market data": the IBKR data nodes hand what they receive here (topic trade | quote | bar | chain, the
   * payload as lib/replay/recording.ts documents, t = market time). A no-op when recording is off.
   */
  record(topic: string, payload: object, t: number): void;
  /**
   * The market time a history request is reckoned from instead of marketNow(), or undefined (always, except on a
   * replay at 'max' of a recording that tells when the live flow asked for its preload: that moment, until the
   * preload is taken in).
   */
  historyRequestTime(): number | undefined;
  /**
   * ibkr-history has sent an answer to the flow. A replay at 'max' standing at its recorded preload of history goes
   * on once the messages this caused have been delivered (lib/ibkr/link.ts); otherwise a no-op.
   */
  historySent(): void;
  /** Set when the settings cannot open a connection (missing credentials, bad URL). */
  readonly settingsError: Error | undefined;
}

export type IbkrConfigNode = Node & IbkrConfigApi;

/** The ibkr-config node with this id, or a clear error when the node has none selected or it was deleted. */
export function ibkrConfigNode(RED: NodeAPI, configId: string | undefined, user: string): IbkrConfigNode {
  const node = configId ? (RED.nodes.getNode(configId) as Partial<IbkrConfigNode> | null) : null;
  if (!node || typeof node.onState !== 'function' || typeof node.connection !== 'function') {
    throw new InvalidInputError(`${user}: no IBKR connection selected: open the node, pick or create an IBKR connection, and deploy.`);
  }
  return node as IbkrConfigNode;
}

const RINGS: Record<IbkrLinkState, { fill: NodeStatus['fill']; shape: NodeStatus['shape'] }> = {
  authenticated: { fill: 'green', shape: 'dot' },
  connecting: { fill: 'grey', shape: 'ring' },
  reconnecting: { fill: 'yellow', shape: 'ring' },
  'rate-limited': { fill: 'yellow', shape: 'ring' },
  expired: { fill: 'red', shape: 'ring' },
  competing: { fill: 'red', shape: 'ring' },
  error: { fill: 'red', shape: 'ring' },
  disconnected: { fill: 'grey', shape: 'ring' },
};

/** The status ring for a session state: green dot authenticated, yellow ring waiting, red ring needs the trader. */
export function sessionRing(event: Pick<IbkrStateEvent, 'state' | 'accountId' | 'reason'>): { fill: NodeStatus['fill']; shape: NodeStatus['shape']; text: string } {
  const ring = RINGS[event.state];
  let text: string = event.state;
  if (event.state === 'authenticated' && event.accountId) text = `authenticated ${event.accountId}`;
  if (event.state === 'error') text = event.reason;
  return { ...ring, text };
}

export function showSessionStatus(node: Node, event: IbkrStateEvent): void {
  const ring = sessionRing(event);
  setStatus(node, ring.fill, ring.shape, ring.text);
}
