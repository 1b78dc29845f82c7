// The soak itself, run in its own process by pipeline-soak.test.ts (`node --expose-gc --import tsx <this file>`): the
// shipped pipeline (dashboard stripped, simulators' speed overridden) in the Node-RED runtime for a simulated day, with
// full redeploys spread over it; prints one line `SOAK_REPORT <json>` (SoakReport) for the test to assert on.
//
// Each deployment trades a different weekday: the wall clock is shifted to 10:00:01 New York of that day before the
// deploy (the simulators start at the latest weekday 10:00 before "now", lib/sim/market.ts), so the day is 51
// different half-hours of market rather than one half-hour replayed. Shifts go back in time only: the IBKR
// simulator's certificate, dated by the shifted clock, stays valid against the real one.
import { EventEmitter } from 'node:events';
import helper from 'node-red-node-test-helper';
import { lastWeekday10Et } from '../../lib/sim/calendar';
import { mathjs } from '../../lib/mathjs';
import { deployFull } from '../support/deploy';
import { portAccepts } from '../support/ports';
import { withoutTestSpies } from '../support/test-spies';
import { ListeningServers, ResourceTracker, heapAfterGc, trackBottleneckLimiters, type ResourceCounts } from './leak-probes';

// Before any module that requires Bottleneck is loaded: the flow support (and the nodes) come in by require below.
const limiters = trackBottleneckLimiters();

const { fixWallClockAt } = require('../flow/support/fixed-market-day') as typeof import('../flow/support/fixed-market-day');
const { PIPELINE_MODULES, nodeOfType, pipelineForTest, readPipeline } = require('../flow/support/pipeline-flow') as typeof import('../flow/support/pipeline-flow');

export interface SoakReport {
  speed: number;
  redeploys: number;
  deployments: number;
  simulatedHours: number;
  realSeconds: number;
  heap: { startBytes: number; endBytes: number; growthBytes: number; runningFirstBytes: number; runningLastBytes: number };
  resources: { baseline: ResourceCounts; afterClose: ResourceCounts; leaked: Record<string, number> };
  /** process.getActiveResourcesInfo() by type: what keeps the event loop alive. */
  activeHandles: { baseline: Record<string, number>; afterClose: Record<string, number> };
  limiters: { created: number; runningAfterClose: number; reachableAfterClose: number };
  /**
   * Ports the simulators listened on: one IBKR and one DTC per deployment (an ephemeral port may come round again);
   * those a server of this process still listens on after the close, those none of its servers listened on, and
   * those that still accept a connection (from any process: suites beside the soak may be given a released port).
   */
  simulatorPorts: { recorded: number; distinct: number; stillListening: number[]; neverOurs: number[]; stillAccepting: number[] };
  counts: { ticks: number; bars: number; liveBars: number; historyBars: number; gammaUpdates: number; signals: number; orderUpdates: number; fills: number; riskRefusals: number; nodeErrors: number };
  errors: string[];
}

const SPEED = Number(process.env.MIA_SOAK_SPEED ?? 1000);
const SIMULATED_HOURS = Number(process.env.MIA_SOAK_HOURS ?? 24);
const REDEPLOYS = Number(process.env.MIA_SOAK_REDEPLOYS ?? 50);
/** The first deployment warms the runtime up (modules compiled, caches filled); the heap baseline is taken after it. */
const DEPLOYMENTS = REDEPLOYS + 1;
const SIMULATED_MS_PER_DEPLOYMENT = (SIMULATED_HOURS * 3_600_000) / DEPLOYMENTS;
/** After a close, what the runtime still has in flight (sockets half-closed, a last timer) gets this long to settle. */
const SETTLE_MS = 1000;

/** Node-RED's log level numbers: FATAL 10, ERROR 20, WARN 30. */
const ERROR_LEVEL = 20;
const WARN_LEVEL = 30;
/** How the order nodes say that a risk rule refused an order (an error or, on later versions, a warning). */
const RISK_REFUSAL = /Order refused by the risk rule/;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const tally = (types: string[]): Record<string, number> => types.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t]: (acc[t] ?? 0) + 1 }), {});

type Msg = { topic?: string; payload: unknown };
type Probe = { on(event: 'input', cb: (msg: Msg) => void): void };
interface IbkrConfigProbe {
  simulator(): { baseUrl: string; market: { now(): number; startTime?: number } } | undefined;
}
interface SierraConfigProbe {
  connection(): Promise<{ simulator?: { port: number } }>;
}

interface LogEntry {
  level?: number;
  msg?: unknown;
}

/**
 * Every entry of the runtime log goes to `onLog` too, through Node-RED's own log API (a handler is an emitter of
 * 'log' events, as its console logger is); the returned function removes the handler.
 */
function onRuntimeLog(onLog: (entry: LogEntry) => void): () => void {
  const log = (require('node-red') as { log: { addHandler(h: EventEmitter): void; removeHandler(h: EventEmitter): void } }).log;
  const handler = new EventEmitter();
  handler.on('log', onLog);
  log.addHandler(handler);
  return () => log.removeHandler(handler);
}

/**
 * Lets the deployed flow trade until its IBKR simulator's market has moved SIMULATED_MS_PER_DEPLOYMENT; records the
 * simulators' ports; returns the simulated ms. Its own function so that no reference to this deployment's nodes
 * outlives it (an async function's locals live as long as the function is suspended).
 */
async function runDeployment(id: (type: string) => string, ports: number[]): Promise<number> {
  const ibkr = helper.getNode(id('ibkr-config')) as unknown as IbkrConfigProbe;
  const sierra = helper.getNode(id('sierra-config')) as unknown as SierraConfigProbe;
  const sierraConnection = await sierra.connection();
  if (sierraConnection.simulator) ports.push(sierraConnection.simulator.port);
  let simulator = ibkr.simulator();
  while (!simulator) {
    await sleep(10);
    simulator = ibkr.simulator();
  }
  ports.push(Number(new URL(simulator.baseUrl).port));
  const market = simulator.market;
  const start = market.startTime ?? market.now();
  while (market.now() - start < SIMULATED_MS_PER_DEPLOYMENT) await sleep(20);
  return market.now() - start;
}

/** The 10:00 New York instants of the `n` weekdays ending with the latest one before now, oldest first. */
function tradingDays(n: number): number[] {
  const days = [lastWeekday10Et(Date.now())];
  while (days.length < n) days.unshift(lastWeekday10Et(days[0]! - 1));
  return days;
}

async function main(): Promise<SoakReport> {
  const shipped = readPipeline();
  const id = (type: string): string => nodeOfType(shipped, type).id;
  const gate = shipped.find((n) => n.type === 'switch' && (n.wires ?? []).flat().includes(id('sierra-order')));
  if (!gate) throw new Error('the pipeline has no switch in front of sierra-order');
  const flow = pipelineForTest({
    speed: SPEED,
    probes: {
      p_tick: [`${id('ibkr-quote')}:1`],
      p_hist: [`${id('ibkr-history')}:0`],
      p_bar: [`${id('mia-vwap-delta')}:1`],
      p_gamma: [`${id('mia-gamma-walls')}:0`],
      p_signal: [`${gate.id}:0`],
      p_update: [`${id('sierra-order')}:0`],
      p_fill: [`${id('sierra-order')}:1`],
    },
  });
  const counts: SoakReport['counts'] = { ticks: 0, bars: 0, liveBars: 0, historyBars: 0, gammaUpdates: 0, signals: 0, orderUpdates: 0, fills: 0, riskRefusals: 0, nodeErrors: 0 };
  const errors: string[] = [];
  const watch = (): void => {
    const on = (probe: string, count: (m: Msg) => void): void => (helper.getNode(probe) as unknown as Probe).on('input', count);
    on('p_tick', () => counts.ticks++);
    // A live bar is one built from ticks: newer than every history bar this deployment has received so far.
    let newestHistoryBar = -Infinity;
    on('p_hist', (m) => {
      if (!Array.isArray(m.payload)) return;
      counts.historyBars += m.payload.length;
      for (const bar of m.payload as Array<{ t?: unknown }>) if (typeof bar.t === 'number') newestHistoryBar = Math.max(newestHistoryBar, bar.t);
    });
    on('p_bar', (m) => {
      counts.bars++;
      const bar = m.payload as { t?: unknown } | undefined;
      if (m.topic === 'bar' && typeof bar?.t === 'number' && bar.t > newestHistoryBar) counts.liveBars++;
    });
    on('p_gamma', () => counts.gammaUpdates++);
    on('p_signal', () => counts.signals++);
    on('p_update', () => counts.orderUpdates++);
    on('p_fill', () => counts.fills++);
  };

  helper.init(require.resolve('node-red'));
  await helper.startServer();
  const tracker = new ResourceTracker();
  const servers = new ListeningServers();
  servers.start();
  const days = tradingDays(DEPLOYMENTS);
  const ports: number[] = [];
  let restoreClock = fixWallClockAt(days[0]! + 1000);
  // Baseline: the runtime and its admin server up, no flow deployed; sampled after a settle like the final one.
  await sleep(SETTLE_MS);
  tracker.start();
  const baseline = tracker.counts();
  const baselineLive = tracker.describe();
  const activeBaseline = tally(process.getActiveResourcesInfo());

  const t0 = performance.now();
  let simulatedMs = 0;
  let stopLogCount = (): void => undefined;
  const heap = { startBytes: 0, endBytes: 0, growthBytes: 0, runningFirstBytes: 0, runningLastBytes: 0 };

  for (let d = 0; d < DEPLOYMENTS; d++) {
    if (d > 0) {
      restoreClock();
      restoreClock = fixWallClockAt(days[d]! + 1000);
    }
    // A full deploy, as the editor's Deploy button does it: every node of the old flow closed, the new one started.
    if (d === 0) {
      await helper.load(PIPELINE_MODULES, flow);
      withoutTestSpies(flow.map((n) => n.id));
      stopLogCount = onRuntimeLog((entry) => {
        if (entry.level !== undefined && entry.level <= WARN_LEVEL && RISK_REFUSAL.test(String(entry.msg))) counts.riskRefusals++;
        if (entry.level === undefined || entry.level > ERROR_LEVEL) return;
        counts.nodeErrors++;
        if (errors.length < 10) errors.push(String(entry.msg).slice(0, 300));
      });
    } else await deployFull(flow);
    watch();
    simulatedMs += await runDeployment(id, ports);
    if (d === 0) heap.runningFirstBytes = await heapAfterGc();
    if (d === DEPLOYMENTS - 1) heap.runningLastBytes = await heapAfterGc();
    if (d === 0) {
      // The heap baseline: the warm-up deployment replaced by an empty flow (a full deploy), nothing running.
      // mathjs loads on first use (lib/mathjs.ts: the first closed trade's statistics, a score expression): about
      // 30 MB once per process, whichever deployment trades first. Loaded here, so the growth measured is per redeploy.
      mathjs();
      await deployFull(flow.filter((n) => n.type === 'tab'));
      await sleep(SETTLE_MS);
      heap.startBytes = await heapAfterGc();
    }
  }
  await helper.unload();
  stopLogCount();
  const realSeconds = (performance.now() - t0) / 1000;
  restoreClock();
  await sleep(SETTLE_MS);
  heap.endBytes = await heapAfterGc();
  heap.growthBytes = heap.endBytes - heap.startBytes;

  const stillAccepting: number[] = [];
  for (const port of new Set(ports)) if (await portAccepts(port)) stillAccepting.push(port);
  const stillListening = servers.stillListening(ports);
  const neverOurs = servers.neverOurs(ports);
  servers.stop();
  // The probes' sockets and this sleep's own timer are destroyed by now (destroy hooks run after the callback).
  await sleep(100);
  await new Promise((r) => setImmediate(r));
  const afterClose = tracker.counts();
  const survivors = tracker.describe();
  const leaked = Object.fromEntries(Object.entries(survivors).filter(([what, n]) => n > (baselineLive[what] ?? 0)));
  const activeAfterClose = tally(process.getActiveResourcesInfo());
  const limiterFigures = { created: limiters.created(), runningAfterClose: await limiters.running(), reachableAfterClose: limiters.reachable() };
  tracker.stop();
  await helper.stopServer();
  return {
    speed: SPEED,
    redeploys: REDEPLOYS,
    deployments: DEPLOYMENTS,
    simulatedHours: simulatedMs / 3_600_000,
    realSeconds,
    heap,
    resources: { baseline, afterClose, leaked },
    activeHandles: { baseline: activeBaseline, afterClose: activeAfterClose },
    limiters: limiterFigures,
    simulatorPorts: { recorded: ports.length, distinct: new Set(ports).size, stillListening, neverOurs, stillAccepting },
    counts,
    errors,
  };
}

main().then(
  (report) => {
    process.stdout.write(`SOAK_REPORT ${JSON.stringify(report)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
