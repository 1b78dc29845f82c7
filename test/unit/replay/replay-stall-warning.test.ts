// A replay at 'max' of a recording that holds a preload of history stands at the moment the live run received it
// until the flow has asked for history and taken the answer in (lib/ibkr/link.ts). A flow without ibkr-history never
// asks: after 30 s standing there the link says so, once, in the log; an answer taken in before then, or a close,
// means no warning. Virtual time: the link's timers are the test's.
import assert from 'assert';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { IbkrLink, type LinkTimers } from '../../../lib/ibkr/link';
import { encodeRecording, type RecordLine } from '../../../lib/replay/recording';
import { planConnection } from '../../../nodes/ibkr-config/settings';

const M = 60_000;
// Wednesday 11 June 2025, 10:00 New York.
const T0 = Date.UTC(2025, 5, 11, 14, 0);
const bar = (t: number, c: number) => ({ t, o: c, h: c + 1, l: c - 1, c, v: 10, symbol: 'ES' });
const tick = (t: number, price: number) => ({ symbol: 'ES', t, price, size: 1, bid: price - 0.25, ask: price });

/** A tick, the preload received at T0 + 20 s (asked at T0 + 12 s), more ticks. */
function lines(): RecordLine[] {
  const at = T0 + 20_000;
  return [
    { t: T0 + 5_000, topic: 'meta', payload: { version: 2 } },
    { t: T0 + 5_000, topic: 'tick', payload: tick(T0 + 5_000, 100) },
    { t: at, topic: 'bar', payload: { ...bar(T0 - 2 * M, 99), asOf: T0 + 12_000 } },
    { t: at, topic: 'bar', payload: { ...bar(T0 - M, 100), asOf: T0 + 12_000 } },
    { t: T0 + 30_000, topic: 'tick', payload: tick(T0 + 30_000, 101) },
    { t: T0 + 70_000, topic: 'tick', payload: tick(T0 + 70_000, 102) },
  ];
}

/** Virtual timers: advance(ms) runs what falls due, in time order. */
function virtualTimers(): LinkTimers & { advance(ms: number): void; pending(): number[] } {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; cb: () => void }>();
  return {
    setTimeout(cb, ms) {
      const id = next++;
      due.set(id, { at: now + ms, cb });
      return id;
    },
    clearTimeout(handle) {
      due.delete(handle as number);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const first = [...due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!first) break;
        due.delete(first[0]);
        now = first[1].at;
        first[1].cb();
      }
      now = end;
    },
    pending: () => [...due.values()].map((d) => d.at - now),
  };
}

describe('replay at max: the warning after 30 s standing at the recorded preload', function () {
  this.timeout(20_000);
  let dir: string;
  let link: IbkrLink | undefined;
  let warnings: string[];
  let timers: ReturnType<typeof virtualTimers>;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mia-stall-'));
    fs.writeFileSync(path.join(dir, 'ES-2025-06-11.jsonl.gz'), encodeRecording(lines()));
    warnings = [];
    timers = virtualTimers();
  });
  afterEach(async () => {
    await link?.close();
    link = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Opens the link on the recording and plays it (as the flow's first subscription does) to its preload. */
  async function standingAtPreload(): Promise<IbkrLink> {
    const plan = planConnection({ mode: 'replay', replayFile: path.join(dir, 'ES-2025-06-11.jsonl.gz'), replaySpeed: 'max' });
    const logger = { trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m: string) => warnings.push(m), error: (m: string) => warnings.push(m) };
    const l = new IbkrLink(plan, { logger, timers });
    link = l;
    await l.open();
    const market = l.replay;
    assert.ok(market && l.replayAwaitsHistory, 'the replay awaits the flow’s history request');
    const stopped = new Promise<void>((resolve) => market.once('stopped', () => resolve()));
    market.resume();
    await stopped;
    // Standing after the ticks the flow had when the answer came (here the one of 10:00:05), at the request's time.
    assert.strictEqual(market.now(), T0 + 12_000, 'standing where the live run got the preload');
    assert.strictEqual(market.status().emitted, 1);
    // The flow's request is reckoned from the moment the live flow asked.
    assert.strictEqual(l.historyRequestTime(), T0 + 12_000);
    return l;
  }

  it('warns once, after 30 s (not before), when no history request comes', async () => {
    await standingAtPreload();
    assert.deepStrictEqual(timers.pending(), [30_000]);
    timers.advance(29_999);
    assert.deepStrictEqual(warnings, []);
    timers.advance(1);
    assert.strictEqual(warnings.length, 1);
    assert.match(warnings[0], /standing at its recorded preload for 30 s, waiting for the flow to ask for history \(ibkr-history\)/);
    assert.match(warnings[0], /replay at a paced speed/);
    timers.advance(120_000);
    assert.strictEqual(warnings.length, 1, 'said once');
  });

  it('does not warn when the flow takes its history in before 30 s, and the replay goes on', async () => {
    const l = await standingAtPreload();
    timers.advance(10_000);
    l.replayHistoryTaken();
    assert.strictEqual(l.historyRequestTime(), undefined, 'later requests are reckoned from the clock');
    assert.deepStrictEqual(timers.pending(), []);
    timers.advance(60_000);
    assert.deepStrictEqual(warnings, []);
    const market = l.replay;
    assert.ok(market);
    if (!market.status().ended) await new Promise<void>((resolve) => market.once('end', () => resolve()));
    assert.strictEqual(market.now(), T0 + 70_000);
  });

  it('does not warn after the link is closed (a redeploy)', async () => {
    const l = await standingAtPreload();
    await l.close();
    assert.deepStrictEqual(timers.pending(), [], 'the timer is cancelled');
    timers.advance(60_000);
    assert.deepStrictEqual(warnings.filter((w) => /standing at/.test(w)), []);
  });
});
