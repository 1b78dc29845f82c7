// replay.speed: a recorded full ES session (23 h of the seeded market: every trade and 1-minute bar, with the 4 h of
// bars before it that the flow's preload asks for; gzip JSON lines) replayed at speed 'max' through the SHIPPED flow
// (flows/mia-ia-pipeline.json, dashboard stripped, in a real Node-RED runtime): ibkr-config in replay mode serving
// the recording over the IBKR simulator's REST and WebSocket, ibkr-quote, VWAP and delta, Battle Navale, the preload
// gate, sierra-order and sierra-config's DTC simulator filling on the replayed market. Figure: market time ÷ real
// time from the first replayed trade until the replay has ended and the flow is quiet (goal ≥ 500×).
// Baseline, same run: the in-process pipeline over the same recording (file read, RecordedMarket at 'max' on the
// event loop, minute bars, Battle Navale, risk rules, simulated fills; no Node-RED, no sockets).
import fs from 'fs';
import os from 'os';
import path from 'path';
import helper from 'node-red-node-test-helper';
import { report } from './harness';
import { seededRecordLines } from '../../lib/replay/from-seeded';
import { TradePipeline } from '../../lib/replay/pipeline';
import { RecordedMarket } from '../../lib/replay/recorded-market';
import { encodeRecording, readRecording } from '../../lib/replay/recording';
import { runningReplay } from '../../lib/replay/registry';
import { resetAccountsForTest } from '../../lib/trading/accounts';
import { PIPELINE_MODULES } from '../flow/support/pipeline-flow';
import { REPLAY_PROBES, replayPipeline } from '../flow/support/replay-flow';

helper.init(require.resolve('node-red'));

// The session of trade date Tuesday 3 March 2026: 17:00 CT Monday to 16:00 CT Tuesday (fixed: not today's date).
const OPEN = Date.UTC(2026, 2, 2, 23, 0);
const CLOSE = Date.UTC(2026, 2, 3, 22, 0);
const PRELOAD_MS = 4 * 3_600_000; // the shipped ibkr-history asks for the last 4 h
const OPTIONS = { commissionPerContract: 2.25, slippageTicks: 1 };
const QUIET_MS = 1000;

type Probe = { on(event: 'input', cb: (msg: { payload: unknown }) => void): void };

async function inProcess(file: string): Promise<{ ms: number; signals: number }> {
  const start = performance.now();
  const market = new RecordedMarket(readRecording(file), { speed: 'max', maxBatch: 5000, maxBatchMs: Infinity });
  const pipeline = new TradePipeline(OPTIONS);
  market.on('trade', pipeline.onTrade);
  const ended = new Promise<void>((resolve) => market.once('end', resolve));
  market.start();
  await ended;
  market.stop();
  return { ms: performance.now() - start, signals: pipeline.finish().signals.length };
}

interface FlowRun {
  ms: number;
  trades: number;
  signals: number;
  updates: number;
  fills: number;
  cpuMs: number;
}

type Spy = { resetHistory(): void };

/** The sinon spies the test helper put on the node prototype (public methods with sinon's public API). */
function spiedMethods(node: unknown): Spy[] {
  const spies: Spy[] = [];
  for (let proto = Object.getPrototypeOf(node) as Record<string, unknown> | null; proto; proto = Object.getPrototypeOf(proto) as Record<string, unknown> | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value: unknown = Object.getOwnPropertyDescriptor(proto, name)?.value;
      if (typeof value === 'function' && typeof (value as Partial<Spy>).resetHistory === 'function') spies.push(value as unknown as Spy);
    }
  }
  return spies;
}

async function throughFlow(file: string): Promise<FlowRun> {
  resetAccountsForTest(); // a fresh risk day for the simulated account, as in a new Node-RED process
  await helper.startServer();
  try {
    await helper.load(PIPELINE_MODULES, replayPipeline(file, 'max') as never);
    const counts = { signals: 0, updates: 0, fills: 0 };
    let lastMessage = 0;
    for (const [key, id] of Object.entries(REPLAY_PROBES) as [keyof typeof counts, string][]) {
      (helper.getNode(id) as unknown as Probe).on('input', () => {
        counts[key]++;
        lastMessage = performance.now();
      });
    }
    let market: RecordedMarket | undefined;
    for (let i = 0; i < 300 && !(market = runningReplay(file)); i++) await new Promise((r) => setTimeout(r, 50));
    if (!market) throw new Error('the replay did not start');
    const m = market;
    // The test helper spies on every node's send, receive, log… and keeps each call: forgotten every second, or a
    // 23 h replay measures sinon's memory rather than the flow (a runtime without the helper has no spies).
    const spied = spiedMethods(helper.getNode(REPLAY_PROBES.signals));
    const forget = setInterval(() => {
      for (const spy of spied) spy.resetHistory();
      helper.log().resetHistory();
    }, 1000);
    // The replay waits, paused, for ibkr-quote's subscription; the clock starts with its first trade.
    let t0 = NaN;
    let cpu0 = process.cpuUsage();
    if (m.status().emitted > 0) throw new Error('the replay started before the bench listened');
    m.once('trade', () => {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    });
    await new Promise<void>((resolve) => m.once('end', resolve));
    const ended = performance.now();
    lastMessage = Math.max(lastMessage, ended);
    while (performance.now() - lastMessage < QUIET_MS) await new Promise((r) => setTimeout(r, 100));
    const cpu = process.cpuUsage(cpu0);
    clearInterval(forget);
    return { ms: lastMessage - t0, trades: m.status().total, ...counts, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    await helper.unload();
    await helper.stopServer();
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-bench-replay-'));
  const file = path.join(dir, 'ES-2026-03-03.jsonl.gz');
  fs.writeFileSync(file, encodeRecording(seededRecordLines(1, OPEN, CLOSE, PRELOAD_MS)));
  const size = fs.statSync(file).size;
  try {
    await inProcess(file); // warm-up
    const base = await inProcess(file);
    const run = await throughFlow(file);
    const sessionMs = CLOSE - OPEN;
    report({
      id: 'replay.speed',
      value: Math.round(sessionMs / run.ms),
      unit: '× real time',
      baseline: Math.round(sessionMs / base.ms),
      goal: '≥ 500× real time',
      note:
        `shipped flow in Node-RED, 23 h session, ${run.trades} trades, file ${(size / 1048576).toFixed(1)} MB: ` +
        `${(run.ms / 1000).toFixed(1)} s, CPU ${(run.cpuMs / 1000).toFixed(1)} s (${Math.round(sessionMs / run.cpuMs)}× real time per CPU second), ${run.signals} signals to sierra-order, ` +
        `${run.updates} order updates, ${run.fills} fills; baseline in-process pipeline ${(base.ms / 1000).toFixed(2)} s ` +
        `(${base.signals} signals); load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
