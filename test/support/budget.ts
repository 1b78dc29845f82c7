// The running test's time budget, for waits on real work (a simulator's answer, a redeploy, a reconnect): what is
// left of the test's own mocha timeout, less a margin so that the wait's own message (what it waited for) is the one
// reported. A fixed shorter guess (5 s, 6 s, 10 s) fails on a busy machine while the test still has room; this never
// lets a wait outlast the test. Set by the root beforeEach (test/support/hooks.ts), so hooks before the test body
// count against it: the budget errs short, never long.
let deadline = 0;

/** Called by the root beforeEach hook with the test about to run. */
export function startTestBudget(test: Mocha.Runnable | undefined): void {
  if (!test) deadline = 0;
  // Timeouts off (mocha --no-timeouts, a debugger): waits get NO_TIMEOUT_BUDGET_MS rather than none.
  else deadline = Date.now() + (test.timeout() > 0 ? test.timeout() : NO_TIMEOUT_BUDGET_MS);
}

const NO_TIMEOUT_BUDGET_MS = 10 * 60_000;

/** Milliseconds left for a wait in the running test (outside a test: `fallbackMs`). */
export function testTimeLeft(marginMs = 1000, fallbackMs = 5000): number {
  if (deadline === 0) return fallbackMs;
  return Math.max(1, deadline - marginMs - Date.now());
}
