// A full deploy into the test helper's runtime, as the editor's Deploy button does it: every node of the running
// flow closed, the new one started.
import helper from 'node-red-node-test-helper';

type HelperFlow = Parameters<typeof helper.setFlows>[0];

/**
 * Deploys `flow` (type "full") and resolves once every node of it runs as a new instance. helper.setFlows waits
 * 300 ms for 'flows:started' and rejects after that, though the deploy goes on (the runtime starts the new flows
 * after its own setFlows has resolved, and on a busy machine later than 300 ms): that rejection is no verdict, so the
 * new nodes themselves are awaited. Nodes whose type is "tab" or that are disabled have no instance.
 */
export async function deployFull(flow: ReadonlyArray<{ id: string; type: string; d?: boolean }>, pollMs = 10): Promise<void> {
  const running = flow.filter((n) => n.type !== 'tab' && n.d !== true).map((n) => n.id);
  const before = new Map(running.map((id) => [id, helper.getNode(id)]));
  await helper.setFlows(flow as unknown as HelperFlow, 'full').catch((err: Error) => {
    if (!/timeout waiting event/.test(err.message)) throw err;
  });
  const started = (): boolean => running.every((id) => ![null, undefined, before.get(id)].includes(helper.getNode(id)));
  while (!started()) await new Promise((r) => setTimeout(r, pollMs));
}
