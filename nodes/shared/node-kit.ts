// The one place where a node's input handling meets Node-RED: every node registers its input handler through
// `handleInput`, so a thrown error or a rejected promise always reaches `done(err)` (and a Catch node) and the
// status ring, never the process. Status text stays short (Node-RED shows ~20 characters).
import type { Node, NodeMessage, NodeMessageInFlow, NodeStatus } from 'node-red';
import { errorMessage, isDroppedByClose, isRefusal } from '../../lib/errors';

export type NodeMsg = NodeMessageInFlow & { [key: string]: unknown };
export type Send = (msg: NodeMessage | (NodeMessage | NodeMessage[] | null)[]) => void;
export type InputHandler = (msg: NodeMsg, send: Send) => void | Promise<void>;

const STATUS_MAX = 32;

export function shortStatus(text: string): string {
  return text.length > STATUS_MAX ? `${text.slice(0, STATUS_MAX - 1)}…` : text;
}

export function setStatus(node: Node, fill: NodeStatus['fill'], shape: NodeStatus['shape'], text: string): void {
  node.status({ fill, shape, text: shortStatus(text) });
}

export function statusError(node: Node, err: unknown): void {
  setStatus(node, 'red', 'ring', errorMessage(err));
}

/**
 * Registers `handler` for 'input'. The handler may be async; whatever it throws or rejects with is reported through
 * `done(err)` and a red status ring, and the message is not passed on.
 *
 * Logging policy: `done(err)` reaches a Catch node, and Node-RED logs it at error level only when no Catch node
 * handled it, so an `[error]` line means something the trader must act on. An expected refusal (a risk rule said no:
 * `isRefusal`) is the rules working, not a failure: it is one `warn` line (node.warn, which also shows in the Debug
 * sidebar) and a yellow status ring (a Status node sees it), and `done()` completes the message without an error.
 * A message whose work was cut short by a redeploy or a stop (the node is closing, or its connection dropped the
 * request for that reason) is logged at debug level only: every redeploy drops what was in flight.
 */
export function handleInput(node: Node, handler: InputHandler): void {
  let closing = false;
  node.on('close', () => {
    closing = true;
  });
  node.on('input', (msg, send, done) => {
    let settled = false;
    const finish = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      if (err === undefined) {
        done();
        return;
      }
      if (closing || isDroppedByClose(err)) {
        node.debug(`dropped by the redeploy or stop: ${errorMessage(err)}`);
        done();
        return;
      }
      if (isRefusal(err)) {
        setStatus(node, 'yellow', 'ring', `refused: ${err.rule}`);
        node.warn(err.message);
        done();
        return;
      }
      statusError(node, err);
      done(err instanceof Error ? err : new Error(errorMessage(err)));
    };
    try {
      const result = handler(msg as NodeMsg, send);
      if (result && typeof (result as Promise<void>).then === 'function') {
        (result as Promise<void>).then(() => finish(), finish);
      } else {
        finish();
      }
    } catch (err) {
      finish(err);
    }
  });
}

/** Registers a close handler that may be async; errors are logged, never thrown into the runtime. */
export function handleClose(node: Node, closer: (removed: boolean) => void | Promise<void>): void {
  node.on('close', (removed: boolean, done: () => void) => {
    Promise.resolve()
      .then(() => closer(removed))
      .catch((err) => node.warn(`close: ${errorMessage(err)}`))
      .finally(() => done());
  });
}

/**
 * A node whose settings the runtime refuses at deploy: a red status and one `[error]` line saying what to fix, and
 * every message it then receives fails with the same error (nothing runs on settings that were refused).
 */
export function refuseAtDeploy(node: Node, err: unknown): void {
  setStatus(node, 'red', 'ring', errorMessage(err));
  node.error(errorMessage(err));
  handleInput(node, () => {
    throw err;
  });
}
