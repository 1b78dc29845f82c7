// Order ids with the time each was first recorded, forgotten after a time to live: the client order ids an account
// has used and the broker order ids it has seen (lib/trading/journal.ts keeps both three days).
//
// The journal takes a snapshot after every piece of broker news (a dozen per bracket order), and these sets are its
// biggest part (hundreds of ids after a few days), yet they change only when an order is new. So each set keeps its
// ids as JSON entries and a new id appends its own: a change costs one entry and one join of the text (a copy), not
// an object of every id and its serialization, and a save with no change reuses the text. The entries are rebuilt
// from the ids only when one is removed or renewed (expiry, a refused reservation) or would not go at the end. The
// expiry walk runs only when the oldest id may have expired.

/**
 * A key that a plain object lists before all others, in ascending order (an array index: "0" … "4294967294" with no
 * leading zero), rather than in the order it was added. Broker order ids are often such numbers.
 */
function isArrayIndex(id: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(id) && Number(id) < 4294967295;
}

function entry(id: string, at: number): string {
  return `${JSON.stringify(id)}:${JSON.stringify(at)}`;
}

export class DatedIds {
  private readonly ids = new Map<string, number>();
  /**
   * The ids → when as JSON entries (`"id":when`), in the order JSON.stringify(Object.fromEntries(ids)) writes them
   * (array-index keys first, ascending, then the others in the order they came). undefined: to be rebuilt.
   */
  private entries: string[] | undefined = [];
  /** The JSON text, joined once after each change (a flat string: each save copies it, none walks the entries). */
  private text: string | undefined;
  /** The largest array-index key, -1 when none: a larger one goes at the end of the text while no other key is there. */
  private maxIndex = -1;
  /** How many keys are not array indexes. */
  private names = 0;
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
    const before = this.ids.get(id);
    if (before !== undefined || this.ids.has(id)) {
      if (Object.is(before, at)) return;
      this.ids.set(id, at); // keeps its place: the text is rebuilt
      this.entries = undefined;
    } else {
      this.ids.set(id, at);
      this.append(id, at);
    }
    if (at < this.oldest) this.oldest = at;
  }

  delete(id: string): void {
    if (this.ids.delete(id)) this.entries = undefined;
  }

  clear(): void {
    this.ids.clear();
    this.entries = [];
    this.text = undefined;
    this.maxIndex = -1;
    this.names = 0;
    this.oldest = Infinity;
  }

  /** Forgets every id recorded more than the time to live before `now`, except those `keep` names. */
  expire(now: number, keep: (id: string) => boolean = () => false): void {
    if (now - this.oldest <= this.ttlMs) return;
    let oldest = Infinity;
    for (const [id, at] of this.ids) {
      if (now - at > this.ttlMs && !keep(id)) {
        this.ids.delete(id);
        this.entries = undefined;
      } else if (at < oldest) oldest = at;
    }
    this.oldest = oldest;
  }

  /** The ids → when as JSON: byte for byte JSON.stringify of the ids as a plain object. */
  toJson(): string {
    if (this.entries === undefined) this.rebuild();
    return (this.text ??= `{${this.entries!.join(',')}}`);
  }

  /** A new id at the end of the text, where a plain object would list it; otherwise the text is rebuilt when asked. */
  private append(id: string, at: number): void {
    this.text = undefined;
    if (isArrayIndex(id)) {
      const n = Number(id);
      if (this.names > 0 || n < this.maxIndex) this.entries = undefined;
      if (n > this.maxIndex) this.maxIndex = n;
    } else this.names += 1;
    this.entries?.push(entry(id, at));
  }

  private rebuild(): void {
    this.text = undefined;
    const record = Object.fromEntries(this.ids); // a plain object lists its keys in the order JSON has them
    this.entries = Object.keys(record).map((id) => entry(id, record[id]!));
    this.maxIndex = -1;
    this.names = 0;
    for (const id of this.ids.keys()) {
      if (!isArrayIndex(id)) this.names += 1;
      else if (Number(id) > this.maxIndex) this.maxIndex = Number(id);
    }
  }
}
