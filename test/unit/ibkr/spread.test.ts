import assert from 'node:assert/strict';
import { eachSpread } from '../../../lib/ibkr/spread';

/** Turns the test ends by hand: nothing starts in a turn but what eachSpread allows. */
function manualTurns(): { turn: () => Promise<void>; end: () => Promise<void> } {
  const waiting: Array<() => void> = [];
  return {
    turn: () => new Promise<void>((resolve) => waiting.push(resolve)),
    end: async () => {
      for (const resolve of waiting.splice(0)) resolve();
      for (let i = 0; i < 10; i += 1) await Promise.resolve();
    },
  };
}

/** Work whose answers the test gives: started items in order, each settled on demand. */
function manualWork(): { work: (n: number) => Promise<void>; started: number[]; open: Map<number, { resolve: () => void; reject: (e: Error) => void }> } {
  const started: number[] = [];
  const open = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  return {
    started,
    open,
    work: (n) =>
      new Promise<void>((resolve, reject) => {
        started.push(n);
        open.set(n, { resolve: () => (open.delete(n), resolve()), reject: (e) => (open.delete(n), reject(e)) });
      }),
  };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
};

describe('eachSpread (requests handed to the limiter a few per turn)', () => {
  it('starts at most perTurn per turn and keeps at most width unfinished, in order, until all are done', async () => {
    const turns = manualTurns();
    const w = manualWork();
    const items = Array.from({ length: 30 }, (_, i) => i);
    let done = false;
    void eachSpread(items, w.work, { width: 10, perTurn: 4, turn: turns.turn }).then(() => (done = true));
    await flush();
    assert.deepEqual(w.started, [0, 1, 2, 3], 'the first turn starts perTurn');
    await turns.end();
    assert.deepEqual(w.started, [0, 1, 2, 3, 4, 5, 6, 7]);
    await turns.end();
    assert.equal(w.started.length, 10, 'never more than width unfinished');
    await turns.end();
    assert.equal(w.started.length, 10);
    // Three answers free three places: they start in the same turn (within perTurn).
    for (const n of [0, 1, 2]) w.open.get(n)!.resolve();
    await flush();
    assert.deepEqual(w.started.slice(10), [10, 11, 12]);
    // Seven answers in one turn: only perTurn of the next items start before the turn ends.
    for (const n of [3, 4, 5, 6, 7, 8, 9]) w.open.get(n)!.resolve();
    await flush();
    assert.equal(w.started.length, 14, 'the turn had one start left after the three above');
    await turns.end();
    assert.equal(w.started.length, 18);
    while (!done) {
      for (const o of [...w.open.values()]) o.resolve();
      await turns.end();
    }
    assert.deepEqual(w.started, items, 'each item once, in order');
  });

  it('stops starting at the first failure and rejects with it; work already started runs to its end', async () => {
    const turns = manualTurns();
    const w = manualWork();
    const all = eachSpread(Array.from({ length: 20 }, (_, i) => i), w.work, { width: 3, perTurn: 3, turn: turns.turn });
    const outcome = all.then(() => 'resolved', (e: Error) => e.message);
    await flush();
    assert.deepEqual(w.started, [0, 1, 2]);
    w.open.get(1)!.reject(new Error('IBKR said no'));
    await flush();
    assert.equal(await outcome, 'IBKR said no');
    w.open.get(0)!.resolve();
    w.open.get(2)!.resolve();
    await turns.end();
    await turns.end();
    assert.deepEqual(w.started, [0, 1, 2], 'nothing started after the failure');
  });

  it('does nothing for no items and refuses a width or per-turn count below 1', async () => {
    await eachSpread([], () => Promise.reject(new Error('never')), { width: 4, perTurn: 4 });
    await assert.rejects(eachSpread([1], async () => undefined, { width: 0, perTurn: 4 }), RangeError);
    await assert.rejects(eachSpread([1], async () => undefined, { width: 2, perTurn: 0.5 }), RangeError);
  });

  it('by default yields to the event loop between turns: a timer due meanwhile runs before the last items start', async () => {
    const order: string[] = [];
    const timer = new Promise<void>((resolve) => setImmediate(() => (order.push('other work'), resolve())));
    await eachSpread([1, 2, 3, 4, 5, 6], async (n) => void order.push(String(n)), { width: 6, perTurn: 2 });
    await timer;
    assert.ok(order.indexOf('other work') > 0 && order.indexOf('other work') < order.length - 1, order.join(','));
  });
});
