// Timers behind an interface, so the session keeper's 60 s cadence and retry backoffs run instantly in tests.

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** A cancellable wait on a scheduler. */
export function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => scheduler.setTimeout(resolve, ms));
}
