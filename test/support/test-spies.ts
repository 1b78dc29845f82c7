// node-red-node-test-helper wraps the runtime log and every Node's send, status, log, warn, error, debug and trace in
// sinon spies for the whole load: each call is recorded with its arguments and a captured call stack (kept until
// unload) and re-emitted on a nextTick. Node.metric logs on every receive, send and done, so over a benchmark or a
// soak the spies cost more CPU per message than the pipeline and hold every message ever sent. No Node-RED runs with
// them: a bench or soak takes them off once its flow is loaded, through sinon's own `restore()` on the spies the
// helper hands out (the helper's unload restores them again, harmlessly).
import helper from 'node-red-node-test-helper';

interface Restorable {
  restore?: () => void;
}

const SPIED_NODE_METHODS = ['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'] as const;

/**
 * Takes the helper's spies off the Node prototype and the runtime log, for the nodes of `flowIds` (loaded by
 * helper.load). A wired node keeps the send it was built with as its own property (Node-RED's Node#updateWires):
 * that one is put back too. Nodes deployed afterwards take the plain methods from the prototype.
 */
export function withoutTestSpies(flowIds: readonly string[]): void {
  const nodes = flowIds.map((id) => helper.getNode(id) as unknown as Record<string, unknown> | null).filter((n) => n !== null);
  let proto: Record<string, unknown> | null = nodes.length > 0 ? (Object.getPrototypeOf(nodes[0]) as Record<string, unknown>) : null;
  while (proto && !Object.prototype.hasOwnProperty.call(proto, 'send')) proto = Object.getPrototypeOf(proto) as Record<string, unknown> | null;
  if (!proto) return;
  const spiedSend = proto.send;
  for (const name of SPIED_NODE_METHODS) (proto[name] as Restorable | undefined)?.restore?.();
  for (const node of nodes) if (Object.prototype.hasOwnProperty.call(node, 'send') && node.send === spiedSend) node.send = proto.send;
  (helper.log() as unknown as Restorable).restore?.();
}
