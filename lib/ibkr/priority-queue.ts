// Which waiting request goes next, in front of the global limiter. Bottleneck reserves a start time for every job it
// queues (the global limit is a spacing, not a concurrency), so once a job is in, nothing can overtake it: an options
// chain refresh that queues 400 requests would hold a trader's order for 40 s at 10 req/s. Requests therefore wait
// here, by priority then arrival, and only `lookahead` of them are handed to the limiter ahead of their departure:
// enough to keep its spacing busy (no rate is lost), few enough that an order waits at most that many slots.

export interface Admission {
  /** Call when the request departs (or gives up): the next waiting request is let in. Idempotent. */
  leave(): void;
}

interface Waiting {
  priority: number;
  seq: number;
  admit: (admission: Admission) => void;
  refuse: (err: Error) => void;
}

export class PriorityQueue {
  private inside = 0;
  private seq = 0;
  /** Sorted by priority (0 first), then arrival. */
  private readonly waiting: Waiting[] = [];
  private closedWith: Error | undefined;

  constructor(private readonly lookahead: number) {}

  /** How many requests wait for their turn to be handed to the limiter. */
  get length(): number {
    return this.waiting.length;
  }

  /** Lets a request in at once when nobody waits and there is room, without a promise; else undefined. */
  tryEnter(): Admission | undefined {
    if (this.closedWith || this.waiting.length > 0 || this.inside >= this.lookahead) return undefined;
    return this.admission();
  }

  /** Resolves when the request's turn comes: lower `priority` first, then first come. */
  enter(priority: number): Promise<Admission> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const now = this.tryEnter();
    if (now) return Promise.resolve(now);
    return new Promise<Admission>((admit, refuse) => {
      const entry: Waiting = { priority, seq: this.seq++, admit, refuse };
      let i = this.waiting.length;
      while (i > 0 && this.waiting[i - 1]!.priority > priority) i -= 1;
      this.waiting.splice(i, 0, entry);
    });
  }

  /** Refuses every waiting request with `err`, and any later one. */
  close(err: Error): void {
    this.closedWith = err;
    for (const w of this.waiting.splice(0)) w.refuse(err);
  }

  private admission(): Admission {
    this.inside += 1;
    let left = false;
    return {
      leave: () => {
        if (left) return;
        left = true;
        this.inside -= 1;
        this.letNextIn();
      },
    };
  }

  private letNextIn(): void {
    while (!this.closedWith && this.inside < this.lookahead && this.waiting.length > 0) {
      this.waiting.shift()!.admit(this.admission());
    }
  }
}
