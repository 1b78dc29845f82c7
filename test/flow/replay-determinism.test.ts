// Determinism of a replay through the SHIPPED flow (flows/mia-ia-pipeline.json, dashboard stripped, in Node-RED):
// ibkr-config in replay mode at 'max' serving a recording over the IBKR simulator's REST and WebSocket, the whole
// pipeline, and sierra-config's DTC simulator filling on the same replayed market. Two replays of one recording
// must give the same signals and the same orders (time, side, quantity, price, reasons).
import assert from 'node:assert/strict';
import fs from 'fs';
import os from 'os';
import path from 'path';
import helper from 'node-red-node-test-helper';
import type { OrderUpdate, SignalPayload } from '../../lib/contracts';
import { seededRecordLines } from '../../lib/replay/from-seeded';
import { encodeRecording } from '../../lib/replay/recording';
import { resetAccountsForTest } from '../../lib/trading/accounts';
import { REPLAY_MODULES, REPLAY_PROBES, replayPipeline, untilReplayDone } from './support/replay-flow';

helper.init(require.resolve('node-red'));

type Probe = { on(event: 'input', cb: (msg: { payload: unknown }) => void): void };

/** A quiet flow for this long after the replay's end: everything it had to do is done. */
const QUIET_MS = 1500;

interface ReplayOutcome {
  signals: unknown[];
  orders: unknown[];
}

/** The fields that say what was decided, without ids dated by the wall clock. */
function signalFields(s: SignalPayload): unknown {
  return { t: s.bar.t, signal: s.signal, score: s.score, entry: s.entry, stop: s.stop, targets: s.targets, reasons: s.reasons };
}

function orderFields(u: OrderUpdate): unknown {
  return { t: u.t, status: u.status, side: u.side, quantity: u.quantity, filledQuantity: u.filledQuantity, averageFillPrice: u.averageFillPrice, reason: u.reason };
}

/** Replays `file` at 'max' through the shipped flow and returns what reached and left the order node. */
async function replayThroughFlow(file: string): Promise<ReplayOutcome> {
  // A fresh runtime each time: the risk rules' day (trades, losses) of the simulated account lives in the process.
  resetAccountsForTest();
  await helper.startServer();
  try {
    await helper.load(REPLAY_MODULES, replayPipeline(file, 'max') as never);
    const signals: SignalPayload[] = [];
    const updates: OrderUpdate[] = [];
    let last = Date.now();
    (helper.getNode(REPLAY_PROBES.signals) as unknown as Probe).on('input', (m) => {
      signals.push(m.payload as SignalPayload);
      last = Date.now();
    });
    (helper.getNode(REPLAY_PROBES.updates) as unknown as Probe).on('input', (m) => {
      updates.push(m.payload as OrderUpdate);
      last = Date.now();
    });
    await untilReplayDone(file, () => last, QUIET_MS);
    return { signals: signals.map(signalFields), orders: updates.map(orderFields) };
  } finally {
    await helper.unload();
    await helper.stopServer();
  }
}

describe('flow: a replay through the shipped flow is deterministic', function () {
  this.timeout(180_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-replay-flow-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the same signals and orders on two replays of a recorded session (with its preload of history)', async () => {
    // Wednesday 18 November 2026, 09:40 to 10:20 New York, with the 4 h of bars before it that the preload asks for.
    const from = Date.UTC(2026, 10, 18, 14, 40);
    const file = path.join(dir, 'ES-2026-11-18.jsonl.gz');
    fs.writeFileSync(file, encodeRecording(seededRecordLines(7, from, from + 40 * 60_000, 4 * 3_600_000)));
    const first = await replayThroughFlow(file);
    const second = await replayThroughFlow(file);
    assert.ok(first.signals.length > 0, 'the session gives signals');
    assert.ok(first.orders.some((o) => (o as OrderUpdate).status === 'filled'), `orders placed and filled: ${JSON.stringify(first.orders)}`);
    assert.deepStrictEqual(second.signals, first.signals);
    assert.deepStrictEqual(second.orders, first.orders);
  });
});
