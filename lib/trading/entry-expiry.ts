// Signal entries expire: an entry sent from a Battle Navale signal that is still not (wholly) filled after "Cancel
// an unfilled signal entry after (min)" of MARKET time is cancelled — a limit resting an hour would open a position
// on a signal long gone. The clock is the order node's market clock (the simulated market's in simulator mode, which
// runs faster than real time), read at each sweep; sweeps come from a poll and from every message the node handles.
// Both order nodes use this one class; the node gives it the broker's cancel.
import { InvalidInputError, errorMessage } from '../errors';
import type { EntryIntent } from './order-intent';

/** "Cancel an unfilled signal entry after (min)" when a node was saved before the setting existed. */
export const DEFAULT_SIGNAL_ENTRY_EXPIRY_MIN = 15;

/** Reads the setting: minutes ≥ 0 (0 = never); empty = the default. Anything else is refused with `what` named. */
export function checkSignalEntryExpiryMin(value: unknown, what: string): number {
  if (value === undefined || value === null || value === '') return DEFAULT_SIGNAL_ENTRY_EXPIRY_MIN;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
  if (!Number.isFinite(n) || n < 0) {
    throw new InvalidInputError(`${what}: "Cancel an unfilled signal entry after (min)" ${JSON.stringify(value)} is not valid: use minutes ≥ 0 (0 = never).`);
  }
  return n;
}

/** Whether an entry came from a Battle Navale signal (the parser names its origin "signal LONG …"). */
export function isSignalEntry(intent: { kind: string; origin?: string }): intent is EntryIntent {
  return intent.kind === 'entry' && typeof intent.origin === 'string' && intent.origin.startsWith('signal ');
}

/** Where the tracked entries are kept beyond the node (the account's risk engine, journaled): Deploy and restart keep them. */
export interface SignalEntryMemory {
  markSignalEntry(clientOrderId: string, sentAt: number, origin: string): void;
  signalEntries(): { clientOrderId: string; sentAt: number; origin: string }[];
}

export interface EntryExpiryOptions {
  /** Minutes of market time; 0 = never. */
  afterMin: number;
  /** The market clock (ms). */
  now: () => number;
  /** Whether the entry still has an unfilled part working (the account's risk engine counts it). */
  isWorking: (clientOrderId: string) => boolean;
  /** The broker's cancel. */
  cancel: (clientOrderId: string) => Promise<unknown>;
  /** Told once per entry cancelled (info), or when its cancel failed (warn). */
  onExpired: (clientOrderId: string, text: string) => void;
  onError: (clientOrderId: string, text: string) => void;
  /** The entries a node sent before this one was created (a Deploy, a restart) are taken from here, and new ones kept there. */
  memory?: SignalEntryMemory;
}

export class EntryExpiry {
  private readonly options: EntryExpiryOptions;
  private readonly afterMs: number;
  private readonly entries = new Map<string, { sentAt: number; origin: string }>();

  constructor(options: EntryExpiryOptions) {
    this.options = options;
    this.afterMs = options.afterMin * 60_000;
    if (this.enabled) for (const e of options.memory?.signalEntries() ?? []) this.entries.set(e.clientOrderId, { sentAt: e.sentAt, origin: e.origin });
  }

  get enabled(): boolean {
    return this.afterMs > 0;
  }

  /** A signal entry was sent at `sentAt` (market time). */
  track(clientOrderId: string, sentAt: number, origin = 'signal'): void {
    if (!this.enabled) return;
    this.entries.set(clientOrderId, { sentAt, origin });
    this.options.memory?.markSignalEntry(clientOrderId, sentAt, origin);
  }

  /** Entries tracked (still waiting for a fill or their expiry). */
  get size(): number {
    return this.entries.size;
  }

  /** Cancels every tracked entry older than the setting that still works; forgets the ones that ended. Never throws. */
  sweep(): void {
    if (this.entries.size === 0) return;
    let now: number;
    try {
      now = this.options.now();
    } catch {
      return;
    }
    for (const [id, e] of this.entries) {
      let working: boolean;
      try {
        working = this.options.isWorking(id);
      } catch {
        working = true;
      }
      if (!working) {
        this.entries.delete(id);
        continue;
      }
      if (now - e.sentAt < this.afterMs) continue;
      this.entries.delete(id);
      const age = Math.round((now - e.sentAt) / 6_000) / 10;
      this.options
        .cancel(id)
        .then(
          () => this.options.onExpired(id, `Signal entry ${id} (${e.origin}) not filled after ${age} min of market time (limit ${this.options.afterMin} min): cancelled.`),
          (err: unknown) => {
            // Filled or ended meanwhile: nothing to say.
            if (!this.options.isWorking(id)) return;
            this.options.onError(id, `Signal entry ${id} (${e.origin}) expired after ${age} min but could not be cancelled: ${errorMessage(err)}. Cancel it at the broker.`);
          },
        )
        .catch(() => undefined);
    }
  }

  /** Sweeps every `pollMs` of wall time until the returned function is called. */
  start(pollMs = 1_000): () => void {
    if (!this.enabled) return () => undefined;
    const timer = setInterval(() => this.sweep(), pollMs);
    timer.unref?.();
    return () => clearInterval(timer);
  }
}
