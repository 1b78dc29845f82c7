import assert from 'node:assert/strict';
import { PriorityQueue } from '../../../lib/ibkr/priority-queue';

describe('IBKR request priority queue', () => {
  it('orders by rank, then by arrival within a rank', () => {
    const queue = new PriorityQueue<string>();
    for (const [name, rank] of [['chain1', 5], ['history', 4], ['chain2', 5], ['order', 0], ['quote', 3], ['order2', 0]] as const) queue.push(name, rank);
    assert.deepEqual(queue.inOrder(), ['order', 'order2', 'quote', 'history', 'chain1', 'chain2']);
    assert.equal(queue.length, 6);
  });

  it('removes one item, and drains the rest', () => {
    const queue = new PriorityQueue<string>();
    queue.push('a', 1);
    queue.push('b', 1);
    assert.equal(queue.remove('a'), true);
    assert.equal(queue.remove('a'), false);
    assert.deepEqual(queue.drain(), ['b']);
    assert.equal(queue.length, 0);
  });
});
