// e2e.tick_to_order: the shipped pipeline (flows/mia-ia-pipeline.json, dashboard stripped) in one Node-RED, under a
// load of 1,000 ticks/s. e2e.max_ticks_per_s: the highest load of a rising ladder (1,000 to 20,000 ticks/s, 30 s
// each, 4 bars a second, a fresh pipeline per step, one retry of a step that misses) at which the same p99 stays
// ≤ 5 ms; its baseline is the same ladder with the
// pipeline reduced to mia-vwap-delta and a helper (the first stage alone, bar close to bar out), so the ratio is the
// share of the analytics' capacity the whole flow keeps. The wall clock is pinned (Date.now() starts at
// BENCH_EPOCH, 10:00 New York on a Tuesday) so the simulators trade the same day whenever the bench runs. Measured: ms from a tick entering mia-vwap-delta (= the tick message leaving ibkr-quote:
// ibkr-quote takes no ticks in, it makes them from the IBKR stream, so the load is injected where its tick output
// lands) to the DTC parent order's bytes being written to the socket by sierra-order's connection (a hook on
// net.Socket#write). Only ticks that close a bar can produce an order: each such tick is timed to the order whose
// entry price is that bar's close. Baseline: the same path's p50 in the same run; a bare Node-RED hop (receive →
// change → helper) is reported alongside for scale.
//   node --expose-gc --import tsx test/bench/e2e.bench.ts
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { PerformanceObserver } from 'perf_hooks';
import helper from 'node-red-node-test-helper';
import { percentile, report } from './harness';
import { PIPELINE_MODULES, builtPipelineModules, nodeOfType, pipelineForTest, type FlowNode } from '../flow/support/pipeline-flow';
import { withoutTestSpies } from '../support/test-spies';
import { buildIfStale } from '../tools/local-node-red';

helper.init(require.resolve('node-red'));
// The package as a Node-RED runs it (dist/, built now if the sources changed); MIA_BENCH_SOURCES=ts times the
// TypeScript sources through tsx instead.
const FROM_SOURCES = process.env.MIA_BENCH_SOURCES === 'ts';
if (!FROM_SOURCES) buildIfStale({ quiet: true });
const MODULES = FROM_SOURCES ? PIPELINE_MODULES : builtPipelineModules();
// MIA_BENCH_JOURNAL=file: a Node-RED user directory (a temporary one), so the risk journal is the file a real
// Node-RED writes before each order (lib/trading/journal.ts). Without it the test runtime has no user directory and
// the journal lives in memory: the figure then leaves out the journal's disk writes on each order's way out.
const FILE_JOURNAL = process.env.MIA_BENCH_JOURNAL === 'file';
const userDir = FILE_JOURNAL ? fs.mkdtempSync(path.join(os.tmpdir(), 'mia-e2e-bench-')) : undefined;
if (userDir) {
  helper.settings({ userDir });
  process.on('exit', () => fs.rmSync(userDir, { recursive: true, force: true }));
}

const TICKS_PER_SEC = 1000;
const RUN_MS = Number(process.env.RUN_MS ?? 30_000);
const BARS_PER_SEC = 4; // a bar every 250 ms of real time, whatever the load: each bar close is one candidate order
const BATCH_MS = 10;
const SIM_MINUTE = 60_000;
const LADDER = [1000, 2000, 3000, 5000, 7000, 10_000, 14_000, 20_000];
// 30 s: 120 bar closes a step, so its p99 is the second worst close, not the single worst one (at 15 s, 60 closes,
// one scheduler hiccup decided the step).
const LADDER_RUN_MS = 30_000;
// Orders at the rate of the 1,000 ticks/s figure (each bar close may become a bracket order; at 10 a second the
// simulated account's growing position and working brackets, not the tick rate, become the limit).
const LADDER_BARS_PER_SEC = BARS_PER_SEC;
const GOAL_P99_MS = 5;
const BENCH_EPOCH = Date.parse('2026-11-24T15:00:00Z');
/** Runs so far in this process: each gets its own simulated account. */
let runs = 0;

{
  const realNow = Date.now.bind(Date);
  const offset = BENCH_EPOCH - realNow();
  Date.now = () => realNow() + offset;
}

type Receiver = { receive(msg: object): void; context(): { flow: { set(key: string, value: unknown): void } }; on(e: 'input', cb: () => void): void };

/** Risk limits out of the way: the bench times the path, not the rules (each bar close may become an order). */
function forBench(flow: FlowNode[]): FlowNode[] {
  return flow.map((n) => {
    if (n.type === 'mia-battle-navale') return { ...n, cooldownMin: 0, tradingHoursEnabled: false };
    // Its own account per run: the account's risk engine lives as long as the process (one per account), and a run's
    // ticks start at the same instant as the last run's, so its trades' cooldown ("-0.6 min since the last trade")
    // refused every order of every ladder step after the first.
    if (n.type === 'sierra-config') {
      return { ...n, tradeAccount: `Bench${runs}`, collarTicks: 0, maxOrdersPerMinute: 0, maxPosition: 1e6, maxTradesPerDay: 1e6, maxConsecutiveLosses: 1e6, dailyLossLimit: 1e9, cooldownMin: 0, tradingHoursEnabled: false };
    }
    // The injected load replaces the live ES stream and the preload (their ticks would interleave with ours).
    if (n.type === 'ibkr-quote' || n.type === 'ibkr-history') return { ...n, wires: (n.wires ?? []).map(() => []) };
    return n;
  });
}

interface Run {
  latencies: number[];
  hops: number[];
  ticks: number;
  /** Bar close → signal out of Battle Navale (whole flow only). */
  signals: number[];
  /** Of the orders slower than the goal, how many had a garbage-collection pause inside their way, and its ms. */
  slowWithGc: { slow: number; withGc: number; gcMs: number };
  /** CPU time of this process over the load, as a share of one core (what the flow costs, preemption aside). */
  cpuShare: number;
}

/**
 * Loads a fresh pipeline (or only its mia-vwap-delta when `stageOnly`), injects `ticksPerSec` ticks for `runMs` and
 * returns, per bar close, the ms from the closing tick entering mia-vwap-delta to the order's bytes on the DTC socket
 * (stageOnly: to the bar leaving mia-vwap-delta).
 */
async function run(ticksPerSec: number, runMs: number, stageOnly = false, barsPerSec = BARS_PER_SEC): Promise<Run> {
  await helper.startServer();
  const bnId = nodeOfType(pipelineForTest(), 'mia-battle-navale').id;
  runs += 1;
  const base = pipelineForTest({ probes: { hop_out: [], signal_out: stageOnly ? [] : [`${bnId}:0`] } });
  const vwapNode = nodeOfType(base, 'mia-vwap-delta');
  const tab = base.find((n) => n.type === 'tab')!;
  const flow = stageOnly
    ? [tab, { ...vwapNode, wires: [[], ['bar_out']] }, { id: 'bar_out', type: 'helper', z: tab.id }, { id: 'hop_out', type: 'helper', z: tab.id }]
    : forBench(base);
  flow.push({ id: 'hop_in', type: 'change', z: tab.id, rules: [], wires: [['hop_out']] });
  await helper.load(MODULES, flow);
  const vwap = helper.getNode(vwapNode.id) as unknown as Receiver;
  if (!process.env.MIA_BENCH_TEST_SPIES) withoutTestSpies(flow.map((n) => n.id));
  vwap.context().flow.set('historyEnd', 0); // no preload in the bench: every bar is live
  // As the shipped flow's preload does at deploy (here empty): mia-vwap-delta stops keeping its live inputs for a
  // recount once history has arrived. Without it the bench held every tick of the run (100,000 at most) in memory.
  vwap.receive({ topic: 'bars', payload: [] });
  if (!stageOnly) await new Promise((r) => setTimeout(r, 1500)); // both simulators up, DTC logged on

  // Bar closes by entry price (unique: prices climb a tick per tick) → when the closing tick entered.
  const closeAt = new Map<number, number>();
  const latencies: number[] = [];
  const slow: Array<[number, number]> = [];
  const arrived = (price: number, at: number): void => {
    const entered = closeAt.get(price);
    if (entered !== undefined) {
      latencies.push(at - entered);
      if (at - entered > GOAL_P99_MS) slow.push([entered, at]);
      closeAt.delete(price);
    }
  };
  const write = net.Socket.prototype.write;
  if (!stageOnly) {
    net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
      const at = performance.now();
      // A DTC message is a small NUL-terminated JSON write: only those are read, so the probe does not add a copy and
      // two scans of every HTTPS write of the IBKR side (the options chain's answers) to the process it measures.
      const text = Buffer.isBuffer(chunk) && chunk.length < 8192 && chunk[chunk.length - 1] === 0 ? chunk.toString() : typeof chunk === 'string' && chunk.length < 8192 && chunk.endsWith('\0') ? chunk : undefined;
      if (text !== undefined) {
        if (text.includes('"Type":208') && text.includes('"IsParentOrder":1')) arrived(Number(/"Price1":([\d.]+)/.exec(text)?.[1]), at);
      }
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof net.Socket.prototype.write;
  } else {
    const barOut = helper.getNode('bar_out') as unknown as { on(e: 'input', cb: (msg: { payload: { c: number } }) => void): void };
    barOut.on('input', (msg: { payload: { c: number } }) => arrived(msg.payload.c, performance.now()));
  }

  // Where the time goes: bar close → the signal leaving Battle Navale (same key: the entry price is the close).
  const signalLatencies: number[] = [];
  if (!stageOnly) {
    const signalOut = helper.getNode('signal_out') as unknown as { on(e: 'input', cb: (msg: { payload: { entry: number } }) => void): void };
    signalOut.on('input', (msg: { payload: { entry: number } }) => {
      const entered = closeAt.get(msg.payload.entry);
      if (entered !== undefined) signalLatencies.push(performance.now() - entered);
    });
  }
  const hop = helper.getNode('hop_in') as unknown as Receiver;
  const hopOut = helper.getNode('hop_out') as unknown as Receiver;
  const hops: number[] = [];
  let hopSent = 0;
  hopOut.on('input', () => hops.push(performance.now() - hopSent));

  const ticksPerBar = Math.round(ticksPerSec / barsPerSec);
  const total = (runMs * ticksPerSec) / 1000;
  const t0 = BENCH_EPOCH;
  let i = 0;
  let price = 5000;
  let lastBarClose = price;
  // Where the slow orders' time went: V8's garbage-collection pauses, on the same clock as the latencies.
  const pauses: Array<[number, number]> = [];
  const gcWatch = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push([e.startTime, e.startTime + e.duration]);
  });
  gcWatch.observe({ entryTypes: ['gc'] });
  const start = performance.now();
  const cpuBefore = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(Math.floor(((performance.now() - start) * ticksPerSec) / 1000), total);
      while (i < due) {
        const t = t0 + Math.floor((i * SIM_MINUTE) / ticksPerBar);
        const opensBar = i > 0 && i % ticksPerBar === 0;
        if (opensBar) closeAt.set(lastBarClose, performance.now());
        price += 0.25;
        vwap.receive({ topic: 'tick', payload: { symbol: 'ES', t, price, size: 5, bid: price - 0.25, ask: price, side: 'buy' } });
        lastBarClose = price;
        i += 1;
      }
      if (i % 100 === 0) {
        hopSent = performance.now();
        hop.receive({ payload: i });
      }
      if (i >= total) {
        clearInterval(timer);
        resolve();
      }
    }, BATCH_MS);
  });
  const cpu = process.cpuUsage(cpuBefore);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - start);
  await new Promise((r) => setTimeout(r, 500));
  net.Socket.prototype.write = write;
  await helper.unload();
  await helper.stopServer();
  gcWatch.disconnect();
  const slowWithGc = { slow: slow.length, withGc: 0, gcMs: 0 };
  for (const [from, to] of slow) {
    const inside = pauses.filter(([start, end]) => start < to && end > from);
    if (inside.length === 0) continue;
    slowWithGc.withGc += 1;
    slowWithGc.gcMs += inside.reduce((ms, [start, end]) => ms + Math.min(end, to) - Math.max(start, from), 0);
  }
  return { latencies: latencies.sort((a, b) => a - b), hops: hops.sort((a, b) => a - b), ticks: i, cpuShare, signals: signalLatencies.sort((a, b) => a - b), slowWithGc };
}

/** The highest rate of the ladder whose p99 holds the goal (stopping at the first that does not), and what each gave. */
async function ladder(stageOnly: boolean): Promise<{ best: number; steps: string[] }> {
  let best = 0;
  const steps: string[] = [];
  for (const rate of LADDER) {
    // One retry of a step that misses: another helper's burst on this shared machine should not end the ladder.
    let held = false;
    for (let attempt = 0; attempt < 2 && !held; attempt++) {
      const r = await run(rate, LADDER_RUN_MS, stageOnly, LADDER_BARS_PER_SEC);
      const p99 = percentile(r.latencies, 99);
      steps.push(`${rate}/s p99 ${p99.toFixed(1)} ms (${r.latencies.length} bars, CPU ${(100 * r.cpuShare).toFixed(0)} % of a core, ${((r.cpuShare * LADDER_RUN_MS * 1000) / Math.max(r.ticks, 1)).toFixed(0)} µs per tick)`);
      held = p99 <= GOAL_P99_MS;
    }
    if (!held) break;
    best = rate;
  }
  return { best, steps };
}

async function main(): Promise<void> {
  const r = await run(TICKS_PER_SEC, RUN_MS);
  const sorted = r.latencies;
  const hopSorted = r.hops;
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const note = `${FROM_SOURCES ? 'TypeScript sources through tsx' : 'the built package (dist/)'}; journal ${FILE_JOURNAL ? 'file' : 'in memory'}; ${sorted.length} orders from ${r.ticks} ticks in ${RUN_MS / 1000} s, CPU ${(100 * r.cpuShare).toFixed(0)} % of a core (${((r.cpuShare * RUN_MS * 1000) / Math.max(r.ticks, 1)).toFixed(0)} µs per tick, simulators included); p50 ${p50.toFixed(2)} ms, p90 ${percentile(sorted, 90).toFixed(2)} ms, p95 ${percentile(sorted, 95).toFixed(2)} ms, max ${sorted[sorted.length - 1]?.toFixed(2)} ms; close → signal p50 ${percentile(r.signals, 50).toFixed(2)} ms, p99 ${percentile(r.signals, 99).toFixed(2)} ms; bare hop p50 ${percentile(hopSorted, 50).toFixed(3)} ms, p99 ${percentile(hopSorted, 99).toFixed(3)} ms; orders over ${GOAL_P99_MS} ms: ${r.slowWithGc.slow}, ${r.slowWithGc.withGc} of them with a GC pause on their way (${r.slowWithGc.gcMs.toFixed(1)} ms in all)`;
  report({ id: 'e2e.tick_to_order.p99', value: p99, unit: 'ms', baseline: p50, goal: '≤ 5 ms', note });

  if (process.argv.includes('--no-ladder')) return;
  const whole = await ladder(false);
  const stage = await ladder(true);
  report({
    id: 'e2e.max_ticks_per_s',
    value: whole.best,
    unit: 'ticks/s',
    baseline: stage.best,
    goal: '≥ 5000',
    note: `ladder ${LADDER_RUN_MS / 1000} s per step, p99 ≤ ${GOAL_P99_MS} ms; whole flow: ${whole.steps.join(', ')}; mia-vwap-delta alone: ${stage.steps.join(', ')}`,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

