// e2e.tick_to_order: the shipped pipeline (flows/mia-ia-pipeline.json, dashboard stripped) in one Node-RED, under a
// load of 1,000 ticks/s. Measured: ms from a tick entering mia-vwap-delta (= the tick message leaving ibkr-quote:
// ibkr-quote takes no ticks in, it makes them from the IBKR stream, so the load is injected where its tick output
// lands) to the DTC parent order's bytes being written to the socket by sierra-order's connection (a hook on
// net.Socket#write). Only ticks that close a bar can produce an order: each such tick is timed to the order whose
// entry price is that bar's close. Baseline: the same path's p50 in the same run; a bare Node-RED hop (receive →
// change → helper) is reported alongside for scale.
//   node --expose-gc --import tsx test/bench/e2e.bench.ts
import net from 'net';
import helper from 'node-red-node-test-helper';
import { percentile, report } from './harness';
import { PIPELINE_MODULES, nodeOfType, pipelineForTest, type FlowNode } from '../flow/support/pipeline-flow';

helper.init(require.resolve('node-red'));

const TICKS_PER_SEC = 1000;
const RUN_MS = 30_000;
const TICKS_PER_BAR = 250; // a bar every 250 ms of real time: each bar close is one candidate order, 4 a second
const BATCH_MS = 10;
const SIM_MINUTE = 60_000;

type Receiver = { receive(msg: object): void; context(): { flow: { set(key: string, value: unknown): void } }; on(e: 'input', cb: () => void): void };

/** Risk limits out of the way: the bench times the path, not the rules (each bar close may become an order). */
function forBench(flow: FlowNode[]): FlowNode[] {
  return flow.map((n) => {
    if (n.type === 'mia-battle-navale') return { ...n, cooldownMin: 0, tradingHoursEnabled: false };
    if (n.type === 'sierra-config') {
      return { ...n, collarTicks: 0, maxOrdersPerMinute: 0, maxPosition: 1e6, maxTradesPerDay: 1e6, maxConsecutiveLosses: 1e6, dailyLossLimit: 1e9, cooldownMin: 0, tradingHoursEnabled: false };
    }
    // The injected load replaces the live ES stream and the preload (their ticks would interleave with ours).
    if (n.type === 'ibkr-quote' || n.type === 'ibkr-history') return { ...n, wires: (n.wires ?? []).map(() => []) };
    return n;
  });
}

async function main(): Promise<void> {
  await helper.startServer();
  const base = pipelineForTest({ probes: { hop_out: [] } });
  const vwapId = nodeOfType(base, 'mia-vwap-delta').id;
  const flow = forBench(base);
  const tab = flow.find((n) => n.type === 'tab')!;
  flow.push({ id: 'hop_in', type: 'change', z: tab.id, rules: [], wires: [['hop_out']] });
  await helper.load(PIPELINE_MODULES, flow);
  const vwap = helper.getNode(vwapId) as unknown as Receiver;
  vwap.context().flow.set('historyEnd', 0); // no preload in the bench: every bar is live
  await new Promise((r) => setTimeout(r, 1500)); // both simulators up, DTC logged on

  // Bar closes by entry price (unique: prices climb a tick per tick) → when the closing tick entered.
  const closeAt = new Map<number, number>();
  const latencies: number[] = [];
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    const at = performance.now();
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
      const text = chunk.toString();
      if (text.includes('"Type":208') && text.includes('"IsParentOrder":1')) {
        const price = Number(/"Price1":([\d.]+)/.exec(text)?.[1]);
        const entered = closeAt.get(price);
        if (entered !== undefined) {
          latencies.push(at - entered);
          closeAt.delete(price);
        }
      }
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof net.Socket.prototype.write;

  const hop = helper.getNode('hop_in') as unknown as Receiver;
  const hopOut = helper.getNode('hop_out') as unknown as Receiver;
  const hops: number[] = [];
  let hopSent = 0;
  hopOut.on('input', () => hops.push(performance.now() - hopSent));

  const t0 = Date.parse('2026-11-24T15:00:00Z');
  let i = 0;
  let price = 5000;
  let lastBarClose = price;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(Math.floor(((performance.now() - start) * TICKS_PER_SEC) / 1000), (RUN_MS * TICKS_PER_SEC) / 1000);
      while (i < due) {
        const t = t0 + Math.floor((i * SIM_MINUTE) / TICKS_PER_BAR);
        const opensBar = i > 0 && i % TICKS_PER_BAR === 0;
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
      if (i >= (RUN_MS * TICKS_PER_SEC) / 1000) {
        clearInterval(timer);
        resolve();
      }
    }, BATCH_MS);
  });
  await new Promise((r) => setTimeout(r, 500));
  net.Socket.prototype.write = write;
  await helper.unload();
  await helper.stopServer();

  const sorted = [...latencies].sort((a, b) => a - b);
  const hopSorted = [...hops].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const note = `${sorted.length} orders from ${i} ticks in ${RUN_MS / 1000} s; p50 ${p50.toFixed(2)} ms, p90 ${percentile(sorted, 90).toFixed(2)} ms, p95 ${percentile(sorted, 95).toFixed(2)} ms, max ${sorted[sorted.length - 1]?.toFixed(2)} ms; bare hop p50 ${percentile(hopSorted, 50).toFixed(3)} ms, p99 ${percentile(hopSorted, 99).toFixed(3)} ms`;
  report({ id: 'e2e.tick_to_order.p99', value: p99, unit: 'ms', baseline: p50, goal: '≤ 5 ms', note });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
