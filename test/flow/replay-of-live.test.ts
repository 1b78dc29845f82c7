// A replay of a LIVE recording through the SHIPPED flow (flows/mia-ia-pipeline.json, dashboard stripped, in Node-RED)
// gives the signals and orders of the live run that recorded it. The live run: the shipped flow on the simulators
// with "Record market data" on (ibkr-config), a seeded morning at high speed; its recording (the preload of history
// ibkr-history received, then the ticks and quotes ibkr-quote received) is then replayed at 'max' through the same
// flow, sierra-config's simulator filling on the replay. Both runs must give the same signals (bar time, side, score,
// entry, stop, targets, reasons) and the same orders (time, side, quantity, status sequence, fill price), with at
// least one filled order.
//
// What holds: the replay asks for the flow's preload at the market time the live run asked (recorded with the bars)
// and answers it with the very bars the live run received, so the gate "after the preload only" opens (first test),
// and its signals are the live run's (second test). Its orders are the live run's (third test): live, both simulators
// run on one market (lib/sim/shared-market.ts), an order takes no market time on its way (lib/sim/order-path-gate.ts),
// and the recording holds the simulated Sierra side (each order as it reached the DTC simulator, each fill it gave:
// lib/replay/order-path.ts); the replay stands at each recorded order's arrival until the flow sends it, sends it at
// its recorded time and gives it its recorded fills. The replay runs in a fresh Node-RED user dir: the live run's risk
// day (trades, cooldown, P&L in <userDir>/mia-trading) would otherwise refuse the replay's orders.
import assert from 'node:assert/strict';
import fs from 'fs';
import os from 'os';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { OrderUpdate, SignalPayload } from '../../lib/contracts';
import { readRecording, type Recording } from '../../lib/replay/recording';
import { resetAccountsForTest } from '../../lib/trading/accounts';
import { PIPELINE_MODULES, pipelineForTest } from './support/pipeline-flow';
import { REPLAY_MODULES, REPLAY_PROBES, replayPipeline, untilReplayDone } from './support/replay-flow';

helper.init(require.resolve('node-red'));

type Probe = { on(event: 'input', cb: (msg: { payload: unknown }) => void): void };

/** Market ms per real ms of the live run: a market minute in 0.2 s, still a few stream updates a minute. */
const SPEED = 300;
/** The live run goes on this long (real ms) after its first filled order, so the bracket's exit can come too. */
const AFTER_FILL_MS = 4_000;
/** Real ms the live run may take at most to see a filled order. */
const LIVE_BUDGET_MS = 30_000;
/** Live runs made at most to get a reference: preload before the first live bar, an order filled (see before()). */
const LIVE_ATTEMPTS = 5;
/** A quiet flow for this long after the replay's end: everything it had to do is done. */
const QUIET_MS = 1500;

interface Outcome {
  signals: SignalPayload[];
  updates: OrderUpdate[];
  /** The closed bars the preload gave the flow (the "closed bars only" node's output). */
  preload: unknown[];
  /** Whether a live bar reached Battle Navale before the preload's bars did (see before()). */
  liveBarFirst: boolean;
}

function signalFields(s: SignalPayload): unknown {
  return { t: s.bar.t, signal: s.signal, score: s.score, entry: s.entry, stop: s.stop, targets: s.targets, reasons: s.reasons };
}

function orderFields(u: OrderUpdate): unknown {
  return { t: u.t, status: u.status, side: u.side, quantity: u.quantity, filledQuantity: u.filledQuantity, averageFillPrice: u.averageFillPrice, reason: u.reason };
}

const PRELOAD_PROBE = 'p_preload';
/** On VWAP-delta's bar output, into Battle Navale: the preload leaves it as one 'bars' message, live bars as 'bar'. */
const BN_BARS_PROBE = 'p_bn_bars';
const PROBES = { [PRELOAD_PROBE]: ['mia_closed_bars:0'], [BN_BARS_PROBE]: ['mia_vwap:1'] };

function watch(outcome: Outcome, onUpdate: () => void = () => undefined): void {
  (helper.getNode(PRELOAD_PROBE) as unknown as Probe).on('input', (m) => outcome.preload.push(m.payload));
  let preloadSeen = false;
  (helper.getNode(BN_BARS_PROBE) as unknown as Probe).on('input', (m) => {
    const topic = (m as { topic?: unknown }).topic;
    if (topic === 'bars') preloadSeen = true;
    else if (topic === 'bar' && !preloadSeen) outcome.liveBarFirst = true;
  });
  (helper.getNode(REPLAY_PROBES.signals) as unknown as Probe).on('input', (m) => outcome.signals.push(m.payload as SignalPayload));
  (helper.getNode(REPLAY_PROBES.updates) as unknown as Probe).on('input', (m) => {
    outcome.updates.push(m.payload as OrderUpdate);
    onUpdate();
  });
}

/** The shipped flow live on the simulators, recording, with the probes of the replay flow. */
function liveFlow(): ReturnType<typeof pipelineForTest> {
  const probeSource = replayPipeline('unused.jsonl.gz', 'max', { probes: PROBES });
  const probes = probeSource.filter((n) => n.type === 'helper').map((n) => n.id);
  const flow = pipelineForTest({ speed: SPEED, simTls: false });
  // The same probe wiring as the replay flow: copy the wires of the nodes the probes listen to.
  const byId = new Map(probeSource.map((n) => [n.id, n]));
  return [
    ...flow.map((n) => {
      const wired = byId.get(n.id);
      const copy = wired?.wires ? { ...n, wires: wired.wires } : n;
      return copy.type === 'ibkr-config' ? { ...copy, record: true } : copy;
    }),
    ...probeSource.filter((n) => probes.includes(n.id)),
  ];
}

async function runLive(userDir: string): Promise<Outcome> {
  helper.settings({ userDir });
  resetAccountsForTest();
  const live: Outcome = { signals: [], updates: [], preload: [], liveBarFirst: false };
  await helper.startServer();
  try {
    await helper.load(PIPELINE_MODULES, liveFlow() as never);
    let filledAt = 0;
    watch(live, () => {
      if (!filledAt && live.updates.some((u) => u.status === 'filled')) filledAt = Date.now();
    });
    const deadline = Date.now() + LIVE_BUDGET_MS;
    while (Date.now() < deadline && !live.liveBarFirst && !(filledAt && Date.now() - filledAt > AFTER_FILL_MS)) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await helper.unload(); // closes the link: the recorder flushes
    await helper.stopServer();
  }
  return live;
}

async function runReplay(file: string, userDir: string): Promise<Outcome> {
  // A fresh Node-RED: the live run's risk day (its trades, cooldown, P&L in <userDir>/mia-trading) is not the replay's.
  helper.settings({ userDir });
  resetAccountsForTest();
  const replay: Outcome = { signals: [], updates: [], preload: [], liveBarFirst: false };
  await helper.startServer();
  try {
    await helper.load(REPLAY_MODULES, replayPipeline(file, 'max', { probes: PROBES }) as never);
    let last = Date.now();
    watch(replay, () => (last = Date.now()));
    await untilReplayDone(file, () => last, QUIET_MS);
  } finally {
    await helper.unload();
    await helper.stopServer();
  }
  return replay;
}

describe('flow: a replay of a live recording through the shipped flow', function () {
  this.timeout(180_000);
  let userDir: string;
  let replayDir: string | undefined;
  let live: Outcome;
  let replay: Outcome;
  let rec: Recording;
  before(async () => {
    // The seeded morning from 10:00 New York of the test suite's market day (MIA_SIM_DATE, test/support/hooks.ts).
    // The live run is the reference, and at 300× it depends on the machine: when the preload's answer comes after the
    // first live bar (a loaded machine: seen 4 market minutes), Battle Navale skips the preload and has no signal in
    // the budget, or signals from other bars than the replay's (beside two CPU burners: 2 runs of 3 compared unequal
    // signals though each reference filled an order; with this check 10 of 10 passed, 2 of them on a second live run).
    // Such a run is no reference to compare with: it is stopped as soon as a live bar reaches Battle Navale before the
    // preload (the probe on VWAP-delta's bar output) and made again (the replay is not); a reference must also fill.
    for (let attempt = 1; ; attempt++) {
      userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-live-'));
      live = await runLive(userDir);
      if ((live.updates.some((u) => u.status === 'filled') && !live.liveBarFirst) || attempt === LIVE_ATTEMPTS) break;
      fs.rmSync(userDir, { recursive: true, force: true });
    }
    const folder = path.join(userDir, 'mia-recordings');
    const files = fs.readdirSync(folder);
    assert.equal(files.length, 1, `one day file: ${files.join(', ')}`);
    const file = path.join(folder, files[0]);
    rec = readRecording(file);
    replayDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-of-live-'));
    replay = await runReplay(file, replayDir);
  });
  after(() => {
    helper.settings({});
    fs.rmSync(userDir, { recursive: true, force: true });
    if (replayDir) fs.rmSync(replayDir, { recursive: true, force: true });
  });

  it('answers the preload with the bars the live run received, so its signals reach sierra-order', () => {
    assert.ok(!live.liveBarFirst, `the live reference had its preload before its first live bar (${LIVE_ATTEMPTS} live runs made)`);
    assert.ok(live.updates.some((u) => u.status === 'filled'), `the live run filled an order: ${JSON.stringify(live.updates.map(orderFields))}`);
    assert.ok(rec.bars.filter((b) => b.t < rec.from).length >= 200, `the preload (4 h of 1-minute bars) is recorded: ${rec.bars.length} bars`);
    assert.ok(rec.ticks.length > 0, 'the ticks are recorded');
    assert.equal(live.preload.length, 1);
    assert.equal(replay.preload.length, 1);
    // The replay asks for its preload at the market time the live run asked (the bars' recorded asOf), so its "last
    // 4 h" is the live window, and every bar is the very bar the live run received (the last one in progress as it was).
    assert.ok(rec.bars.every((b) => typeof (b as { asOf?: unknown }).asOf === 'number'), 'each recorded bar tells the market time of its request');
    assert.ok((live.preload[0] as unknown[]).length >= 200, 'a 4 h preload');
    assert.deepStrictEqual(replay.preload[0], live.preload[0], 'the same preload as live');
    assert.ok(replay.signals.length > 0, 'signals pass the gate "after the preload only" to the order node');
  });

  // Every run since the replay asks for its preload at the recorded request time (before: 7 of 11 runs; the window's
  // ends moved with the minute of the replay's request, and Battle Navale scored from other bars), answers it after
  // the ticks the live flow had then, and no longer loses the live run's first tick (its quote held it before it
  // played: Battle Navale's order flow then differed), and shows the stream's updates as the live flow received them:
  // before a trade plays, the touch recorded before it, and each update with its recorded stamp (before: under load,
  // the live run's first update came after its first record, the replay showed the touch after that trade and the
  // clock's time, mia-vwap-delta classified the tick the other way and one signal's order flow differed, e.g. +0.28
  // live, +0.59 replayed, in 2 of 10 runs beside three CPU burners).
  it('gives the same signals as the live run that recorded it (bar time, side, score, entry, stop, targets, reasons)', () => {
    // What the live run did after its recording's last record, the recording cannot hold.
    const liveSignals = live.signals.filter((s) => s.bar.t < rec.to).map(signalFields);
    assert.ok(liveSignals.length > 0, 'the recorded part has signals');
    assert.deepStrictEqual(replay.signals.map(signalFields), liveSignals);
  });

  // Before (/work/notes/old/live16.md, causes 7-10): the live run's two simulators were two markets with two clocks,
  // its order stamps carried the real latency x 300, its fills came from trades the recording did not hold, and the
  // replay at 'max' ran on while an order crossed the DTC socket (every order update stamped at the recording's end).
  // Without the replayed Sierra side (the recorded orders' times and fills), this test fails.
  it('gives the same orders as the live run that recorded it (time, side, quantity, status sequence, fill price)', () => {
    // Both before the recording's last record: the live run was stopped there, so what it did at that instant after the
    // record (the order of a signal on the last recorded tick) the recording cannot hold, where the replay does it.
    const recorded = (u: OrderUpdate): boolean => u.t < rec.to;
    const liveOrders = live.updates.filter(recorded).map(orderFields);
    assert.ok(liveOrders.some((o) => (o as OrderUpdate).status === 'filled'), 'the recorded part has a fill');
    assert.ok(rec.sierraOrders.length > 0 && rec.sierraFills.length > 0, "the recording holds the simulated Sierra side (sierra-order, sierra-fill)");
    assert.deepStrictEqual(replay.updates.filter(recorded).map(orderFields), liveOrders);
  });
});
