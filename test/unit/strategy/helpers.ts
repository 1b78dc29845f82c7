// Small builders for the strategy tests: bars in ticks, a window from bars, a weekday inside trading hours.
import { NEW_YORK, zonedTime } from '../../../lib/clock';
import { BarWindow, type BarInput } from '../../../lib/strategy/bar-window';
import { DEFAULT_SETTINGS } from '../../../lib/strategy/settings';

/** Tuesday 10 March 2026, 10:00 New York: inside the default trading hours. */
export const SESSION_OPEN = zonedTime(NEW_YORK, 2026, 3, 10, 10, 0);
export const MINUTE = 60_000;

export function bar(o: number, h: number, l: number, c: number, v = 100, extra: Partial<BarInput> = {}, t = 0): BarInput {
  return { t, o, h, l, c, v, ...extra };
}

/** Gives the bars consecutive minute times from `start`. */
export function timed(bars: BarInput[], start = SESSION_OPEN): BarInput[] {
  return bars.map((b, k) => ({ ...b, t: start + k * MINUTE }));
}

export function windowOf(bars: BarInput[], capacity = DEFAULT_SETTINGS.windowBars): BarWindow {
  const w = new BarWindow(capacity);
  for (const b of timed(bars)) w.push(b);
  return w;
}

/** A flat bar (o = h = l = c). */
export function flat(price: number, v = 100): BarInput {
  return bar(price, price, price, price, v);
}
