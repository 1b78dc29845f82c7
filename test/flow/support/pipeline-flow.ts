// The shipped pipeline (flows/mia-ia-pipeline.json) made loadable by node-red-node-test-helper: the same nodes,
// settings and wires, minus the Dashboard 2.0 widgets (the test helper has no dashboard) and the editor-only nodes,
// with the simulators' speed overridden so a session runs in seconds. Probes (helper nodes) are wired onto named
// outputs so a test can watch what each stage produced.
import fs from 'fs';
import path from 'path';
import type { NodeInitializer } from 'node-red';
import configModule = require('../../../nodes/ibkr-config/ibkr-config');
import authModule = require('../../../nodes/ibkr-auth/ibkr-auth');
import quoteModule = require('../../../nodes/ibkr-quote/ibkr-quote');
import historyModule = require('../../../nodes/ibkr-history/ibkr-history');
import chainModule = require('../../../nodes/ibkr-options-chain/ibkr-options-chain');
import accountModule = require('../../../nodes/ibkr-account/ibkr-account');
import orderIbkrModule = require('../../../nodes/ibkr-order/ibkr-order');
import vwapModule = require('../../../nodes/mia-vwap-delta/mia-vwap-delta');
import gammaModule = require('../../../nodes/mia-gamma-walls/mia-gamma-walls');
import battleModule = require('../../../nodes/mia-battle-navale/mia-battle-navale');
import sierraConfigModule = require('../../../nodes/sierra-config/sierra-config');
import sierraOrderModule = require('../../../nodes/sierra-order/sierra-order');
import tradeStatsModule = require('../../../nodes/mia-trade-stats/mia-trade-stats');

export const PIPELINE_FILE = path.join(__dirname, '..', '..', '..', 'flows', 'mia-ia-pipeline.json');

export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  wires?: string[][];
  [property: string]: unknown;
}

type NodeModule = NodeInitializer;
const core = (file: string): NodeModule => require(require.resolve(`@node-red/nodes/core/${file}`)) as NodeModule;

/** The core nodes the pipeline uses (the test helper registers status and catch itself). */
export const CORE_MODULES: NodeModule[] = [
  core('common/20-inject.js'),
  core('common/21-debug.js'),
  core('common/90-comment.js'),
  core('common/60-link.js'),
  core('function/10-function.js'),
  core('function/10-switch.js'),
  core('function/15-change.js'),
];

/** Every node module of this package (its TypeScript sources), then the core nodes the pipeline uses. */
export const PIPELINE_MODULES: NodeModule[] = [
  configModule,
  authModule,
  quoteModule,
  historyModule,
  chainModule,
  accountModule,
  orderIbkrModule,
  vwapModule,
  gammaModule,
  battleModule,
  sierraConfigModule,
  sierraOrderModule,
  tradeStatsModule,
  ...CORE_MODULES,
];

/**
 * The package's nodes as a Node-RED loads them: the built files that package.json's "node-red" section names (dist/,
 * `npm run build`), then the core nodes. Benchmarks time these: the sources run through tsx, whose transform adds a
 * defineProperty for every function created (esbuild's keepNames), and the closures made per message paid it.
 */
export function builtPipelineModules(): NodeModule[] {
  const repo = path.join(__dirname, '..', '..', '..');
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
  const ours = Object.values(pkg['node-red'].nodes).map((file) => require(path.join(repo, file)) as NodeModule);
  return [...ours, ...CORE_MODULES];
}

/**
 * What the test helper cannot or need not run: Dashboard 2.0 widgets and their config nodes, editor groups, and the
 * status nodes (they only feed dashboard texts; the helper registers the status module once per status node, so a
 * flow with two of them fails to load with "status already registered").
 */
const isDashboardOrEditorOnly = (n: FlowNode): boolean => n.type.startsWith('ui-') || n.type === 'group' || n.type === 'status';

export function readPipeline(): FlowNode[] {
  return JSON.parse(fs.readFileSync(PIPELINE_FILE, 'utf8')) as FlowNode[];
}

export interface PipelineOptions {
  /** Simulated ms per real ms for both simulators (the flow's own value when left out). */
  speed?: number;
  seed?: number;
  /**
   * Settings that replace the options-chain node's (the shipped market scope looks up several thousand contracts at
   * IBKR's 10 requests/s on its first refresh: minutes, on the simulator too).
   */
  chain?: Record<string, unknown>;
  /** The IBKR simulator over HTTPS (the flow's setting) or plain HTTP. */
  simTls?: boolean;
  /** Probe id → the outputs it listens to, as `nodeId:outputIndex`. */
  probes?: Record<string, string[]>;
}

/**
 * The shipped flow for the test helper: dashboard nodes removed (and wires to them), the simulators' speed, seed and
 * transport overridden on the config nodes, and one helper node per probe wired onto the outputs it watches.
 */
export function pipelineForTest(options: PipelineOptions = {}): FlowNode[] {
  const kept = readPipeline().filter((n) => !isDashboardOrEditorOnly(n));
  const ids = new Set(kept.map((n) => n.id));
  const tab = kept.find((n) => n.type === 'tab');
  if (!tab) throw new Error(`${PIPELINE_FILE} has no tab`);
  const flow = kept.map((n) => {
    const copy: FlowNode = { ...n };
    if (copy.wires) copy.wires = copy.wires.map((out) => out.filter((id) => ids.has(id)));
    // A node whose only consumers were dashboard widgets keeps running, wired to nothing: harmless.
    delete copy.g;
    if (copy.type === 'ibkr-config' || copy.type === 'sierra-config') {
      if (options.speed !== undefined) copy.simSpeed = options.speed;
      if (options.seed !== undefined) copy.simSeed = options.seed;
    }
    if (copy.type === 'ibkr-config' && options.simTls !== undefined) copy.simTls = options.simTls;
    if (copy.type === 'ibkr-options-chain' && options.chain !== undefined) Object.assign(copy, options.chain);
    return copy;
  });
  for (const [probe, outputs] of Object.entries(options.probes ?? {})) {
    flow.push({ id: probe, type: 'helper', z: tab.id });
    for (const output of outputs) {
      const [nodeId, index] = output.split(':');
      const node = flow.find((n) => n.id === nodeId);
      if (!node?.wires) throw new Error(`probe ${probe}: no node ${nodeId} with outputs in the pipeline`);
      const i = Number(index ?? 0);
      while (node.wires.length <= i) node.wires.push([]);
      node.wires[i]!.push(probe);
    }
  }
  return flow;
}

/** The one node of `type` in the shipped flow (the tests refer to nodes by role, not by id). */
export function nodeOfType(flow: readonly FlowNode[], type: string): FlowNode {
  const found = flow.filter((n) => n.type === type);
  if (found.length !== 1) throw new Error(`the pipeline has ${found.length} ${type} nodes, expected 1`);
  return found[0]!;
}
