// The simulators' market starts at "the latest weekday 10:00 New York" before the wall clock (lib/sim/market.ts), so
// the session a flow test trades changes every day. A test that asserts what the session produced (a LONG and a
// SHORT) needs the same session on every run: this shifts the wall clock (Date.now) by a constant so "now" reads as a
// chosen instant while the test runs. A constant shift keeps every interval, timer and rate limit intact; only
// performance.now (the markets' own pace) and timers are untouched, as they should be.

/** Shifts Date.now so that it reads `instant` now and advances in real time; returns the function that restores it. */
export function fixWallClockAt(instant: number): () => void {
  const realNow = Date.now;
  const offset = instant - realNow();
  Date.now = () => realNow() + offset;
  return () => {
    Date.now = realNow;
  };
}
