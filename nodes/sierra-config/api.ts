// How a sierra-* node reaches its sierra-config node: one typed lookup and the API the config node offers.
import type { Node, NodeAPI } from 'node-red';
import { InvalidInputError } from '../../lib/errors';
import type { SierraConnection } from '../../lib/sierra/connection';

export interface SierraConfigApi {
  /** The connection once started (the simulator listening, the first logon attempted); rejects with the settings error. */
  connection(): Promise<SierraConnection>;
  /** Set when the settings cannot open a connection (bad port, bad risk limit). */
  readonly settingsError: Error | undefined;
}

export type SierraConfigNode = Node & SierraConfigApi;

/** The sierra-config node with this id, or a clear error when none is selected or it was deleted. */
export function sierraConfigNode(RED: NodeAPI, configId: string | undefined, user: string): SierraConfigNode {
  const node = configId ? (RED.nodes.getNode(configId) as Partial<SierraConfigNode> | null) : null;
  if (!node || typeof node.connection !== 'function') {
    throw new InvalidInputError(`${user}: no Sierra Chart connection selected: open the node, pick or create a Sierra Chart connection, and deploy.`);
  }
  return node as SierraConfigNode;
}
