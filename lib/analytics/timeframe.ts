// Bar timeframes as the suite names them ('1min', '5min', '1h', '1d', ...), parsed once into milliseconds.
import { InvalidInputError } from '../errors';

const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  secs: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  h: 3600_000,
  hour: 3600_000,
  hours: 3600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

export const DAY_MS = 86_400_000;

/** '5min' → 300000. Throws InvalidInputError on anything that is not a count and a unit (s, min, h, d). */
export function timeframeMs(tf: string): number {
  const m = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(String(tf));
  const unit = m ? UNIT_MS[m[2].toLowerCase()] : undefined;
  const count = m ? Number(m[1]) : 0;
  if (!m || unit === undefined || count <= 0) {
    throw new InvalidInputError(
      `Timeframe "${tf}" is not understood: use a count and a unit, e.g. "1min", "5min", "15min", "1h" or "1d"`,
    );
  }
  return count * unit;
}
