// Waiting items by priority (0 first), then arrival. Small on purpose: the gate in front of IBKR holds at most a
// few hundred requests (an options-chain refresh), so a sorted array is enough.

export class PriorityQueue<T> {
  private readonly items: Array<{ rank: number; item: T }> = [];

  get length(): number {
    return this.items.length;
  }

  /** Adds `item` behind every item of the same or a lower rank number. */
  push(item: T, rank: number): void {
    let i = this.items.length;
    while (i > 0 && (this.items[i - 1] as { rank: number }).rank > rank) i -= 1;
    this.items.splice(i, 0, { rank, item });
  }

  /** Removes `item`; false if it was not queued. */
  remove(item: T): boolean {
    const i = this.items.findIndex((e) => e.item === item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** The items in the order they go, as a copy (safe to remove while iterating). */
  inOrder(): T[] {
    return this.items.map((e) => e.item);
  }

  /** Removes and returns every item. */
  drain(): T[] {
    return this.items.splice(0).map((e) => e.item);
  }
}
