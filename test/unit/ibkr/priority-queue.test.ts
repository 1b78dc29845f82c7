import assert from 'node:assert/strict';
import { PriorityQueue } from '../../../lib/ibkr/priority-queue';

describe('IBKR request priority queue', () => {
  it('lets `lookahead` requests in at once, then the waiting ones by priority and arrival as places free up', async () => {
    const queue = new PriorityQueue(2);
    const first = queue.tryEnter()!;
    const second = queue.tryEnter()!;
    assert.equal(queue.tryEnter(), undefined, 'no room: a third must wait');
    const order: string[] = [];
    // Each admitted request departs at once (leaves), letting the next one in.
    const wait = (name: string, priority: number) =>
      queue.enter(priority).then((a) => {
        order.push(name);
        a.leave();
      });
    const entered = [wait('chain1', 9), wait('history', 5), wait('chain2', 9), wait('order', 0), wait('account', 5)];
    assert.equal(queue.length, 5);
    first.leave();
    first.leave(); // leaving twice frees one place only
    assert.equal(queue.length, 4);
    second.leave();
    await Promise.all(entered);
    assert.deepEqual(order, ['order', 'history', 'account', 'chain1', 'chain2']);
  });

  it('refuses the waiting requests, and any later one, once closed', async () => {
    const queue = new PriorityQueue(1);
    queue.tryEnter();
    const waiting = queue.enter(5);
    queue.close(new Error('closed'));
    await assert.rejects(waiting, /closed/);
    await assert.rejects(queue.enter(0), /closed/);
    assert.equal(queue.tryEnter(), undefined);
  });
});
