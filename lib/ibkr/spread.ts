// Thousands of requests handed to the limiter in one event-loop turn (an options-chain discovery: ~3,000
// secdef/info calls) held the loop for 90-120 ms of CPU: each request builds its URL, finds its family and joins the
// limiter's queue at once, though the limiter lets only 10 a second leave. Handed over a few at a time instead,
// the queue still never runs dry and nothing else in the process (a bar close, an order) waits behind the hand-over.

/** One turn of the event loop (timers, I/O and everything else waiting get their turn first). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface SpreadOptions {
  /** At most this many items started and not finished at once. */
  width: number;
  /** At most this many items started in one turn of the event loop. */
  perTurn: number;
  /** Default: setImmediate. */
  turn?: () => Promise<void>;
}

/**
 * Runs `work` on every item, in order of start, with at most `width` unfinished and at most `perTurn` started per
 * turn; resolves when all have finished. The first failure stops any further start and rejects with it (work already
 * started runs to its end).
 */
export async function eachSpread<T>(items: readonly T[], work: (item: T) => Promise<void>, options: SpreadOptions): Promise<void> {
  const { width, perTurn } = options;
  const turn = options.turn ?? nextTurn;
  if (!(Number.isInteger(width) && width >= 1 && Number.isInteger(perTurn) && perTurn >= 1)) {
    throw new RangeError(`eachSpread: width and perTurn must be whole numbers ≥ 1 (got ${width}, ${perTurn}).`);
  }
  let next = 0;
  let failed = false;
  let startedThisTurn = 0;
  let turnEnd: Promise<void> | undefined;
  const endOfTurn = (): Promise<void> =>
    (turnEnd ??= turn().then(() => {
      startedThisTurn = 0;
      turnEnd = undefined;
    }));
  const lane = async (): Promise<void> => {
    for (;;) {
      while (startedThisTurn >= perTurn) await endOfTurn();
      if (failed || next >= items.length) return;
      const item = items[next] as T;
      next += 1;
      startedThisTurn += 1;
      // The count is per turn: it starts again after the next one.
      void endOfTurn();
      try {
        await work(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}
