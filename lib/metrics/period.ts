import { InvalidInputError, describeValue } from '../errors';

/** A node's "Metrics every (s)" setting as ms; empty or 0 = metrics only on request. */
export function metricsPeriodMs(value: number | string | undefined, nodeType: string): number {
  if (value === undefined || value === '') return 0;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) {
    throw new InvalidInputError(`${nodeType}: "Metrics every (s)" ${describeValue(value)} is not valid: use seconds ≥ 0 (0 sends metrics only on request).`);
  }
  return Math.round(seconds * 1000);
}
