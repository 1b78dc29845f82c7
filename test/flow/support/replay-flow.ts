// The shipped pipeline on a replay: ibkr-config in replay mode serving `file`, sierra-config's simulator filling on
// the same replay (one market, lib/replay/registry.ts), everything else as shipped (dashboard stripped, as in
// pipeline-flow.ts). Probes on the signals that reach the order node and on the order node's order updates and fills.
import type { NodeAPI, NodeInitializer } from 'node-red';
import configModule = require('../../../nodes/ibkr-config/ibkr-config');
import { PIPELINE_MODULES, nodeOfType, pipelineForTest, type FlowNode, type PipelineOptions } from './pipeline-flow';
import { runningReplay } from '../../../lib/replay/registry';

/**
 * The pipeline's modules given Node-RED's message hooks, as the real runtime gives them to every node (RED.hooks): the
 * test helper's node API leaves them out, and a replay at 'max' waits on them for its preload (nodes/ibkr-config).
 */
export const REPLAY_MODULES: NodeInitializer[] = PIPELINE_MODULES.map((init) =>
  init === configModule
    ? (((RED: NodeAPI) => {
        if (!RED.hooks) (RED as { hooks: NodeAPI['hooks'] }).hooks = (require('@node-red/util') as { hooks: NodeAPI['hooks'] }).hooks;
        return init(RED);
      }) as NodeInitializer)
    : init,
);

export const REPLAY_PROBES = { signals: 'p_signal', updates: 'p_update', fills: 'p_fill' } as const;

export function replayPipeline(file: string, speed: number | 'max', options: PipelineOptions = {}): FlowNode[] {
  const shipped = pipelineForTest();
  const orderId = nodeOfType(shipped, 'sierra-order').id;
  const gate = shipped.find((n) => n.type === 'switch' && (n.wires ?? []).flat().includes(orderId));
  if (!gate) throw new Error('the shipped flow has no switch in front of sierra-order');
  const flow = pipelineForTest({
    simTls: false,
    ...options,
    probes: {
      [REPLAY_PROBES.signals]: [`${gate.id}:0`],
      [REPLAY_PROBES.updates]: [`${orderId}:0`],
      [REPLAY_PROBES.fills]: [`${orderId}:1`],
      ...options.probes,
    },
  });
  return flow.map((n) => {
    if (n.type === 'ibkr-config') return { ...n, mode: 'replay', replayFile: file, replaySpeed: String(speed), record: false };
    if (n.type === 'sierra-config') return { ...n, simReplayFile: file };
    return n;
  });
}

/**
 * Waits for the replay of `file` to start (up to 10 s), then for its end, then until the flow has been quiet for
 * `quietMs` (`lastActivity`: when the test last saw a message it counts).
 */
export async function untilReplayDone(file: string, lastActivity: () => number, quietMs: number): Promise<void> {
  let market = runningReplay(file);
  for (let i = 0; i < 200 && !market; i++) {
    await new Promise((r) => setTimeout(r, 50));
    market = runningReplay(file);
  }
  if (!market) throw new Error(`the replay of ${file} never started`);
  const m = market;
  if (!m.status().ended) await new Promise<void>((resolve) => m.once('end', resolve));
  const ended = Date.now();
  while (Date.now() - Math.max(ended, lastActivity()) < quietMs) await new Promise((r) => setTimeout(r, 100));
}
