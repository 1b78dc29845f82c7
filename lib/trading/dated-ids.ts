// Order ids with the time each was first recorded, forgotten after a time to live: the client order ids an account
// has used and the broker order ids it has seen (lib/trading/journal.ts keeps both three days).
//
// The journal takes a snapshot after every piece of broker news (a dozen per bracket order), and these sets are its
// biggest part, yet they change only when an order is new. So the plain-object record handed to the journal is built
// once per change and frozen: the journal serializes it once too (journalText caches by identity), and the expiry
// walk runs only when the oldest id may have expired.

export class DatedIds {
  private readonly ids = new Map<string, number>();
  private record: Readonly<Record<string, number>> | undefined;
  /** No id is older than this (a lower bound: deletions may leave it lower than the true oldest). */
  private oldest = Infinity;

  constructor(private readonly ttlMs: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  get size(): number {
    return this.ids.size;
  }

  set(id: string, at: number): void {
    this.ids.set(id, at);
    this.record = undefined;
    if (at < this.oldest) this.oldest = at;
  }

  delete(id: string): void {
    if (this.ids.delete(id)) this.record = undefined;
  }

  clear(): void {
    this.ids.clear();
    this.record = undefined;
    this.oldest = Infinity;
  }

  /** Forgets every id recorded more than the time to live before `now`, except those `keep` names. */
  expire(now: number, keep: (id: string) => boolean = () => false): void {
    if (now - this.oldest <= this.ttlMs) return;
    let oldest = Infinity;
    for (const [id, at] of this.ids) {
      if (now - at > this.ttlMs && !keep(id)) {
        this.ids.delete(id);
        this.record = undefined;
      } else if (at < oldest) oldest = at;
    }
    this.oldest = oldest;
  }

  /** The ids → when, as a frozen plain object: the same object until the ids change. */
  toRecord(): Readonly<Record<string, number>> {
    return (this.record ??= Object.freeze(Object.fromEntries(this.ids)));
  }
}
