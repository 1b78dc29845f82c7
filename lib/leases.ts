// One shared value per key in the process, reference-counted: the first user creates it, every user gets a lease,
// the last release disposes of it. The replayed markets (lib/replay/registry.ts) and the seeded markets
// (lib/sim/shared-market.ts) are shared this way between ibkr-config and sierra-config.

export interface Lease<T> {
  value: T;
  /** Idempotent: a lease releases once. */
  release(): void;
}

export class LeaseRegistry<T> {
  private readonly entries = new Map<string, { value: T; users: number }>();

  constructor(private readonly dispose: (value: T) => void) {}

  /** The value of `key`: the running one if any, or a new one from `create`. */
  acquire(key: string, create: () => T): Lease<T> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: create(), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    const e = entry;
    let released = false;
    return {
      value: e.value,
      release: () => {
        if (released) return;
        released = true;
        e.users--;
        if (e.users > 0) return;
        if (this.entries.get(key) === e) this.entries.delete(key);
        this.dispose(e.value);
      },
    };
  }

  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
}
